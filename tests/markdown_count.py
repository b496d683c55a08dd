"""Counting a page's expected outputs straight from its Markdown, with a few lines of this helper's own
(not the parser's), so that tests can hold the parser's checks against them."""

from __future__ import annotations

import re

FENCE_RE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_OUTPUT_LINE_RE = re.compile(
    r"^--\s?(?:\s*-+(?:\+-+)*\s*|\s*\(\d+ rows?\)\s*|\s*-\[ RECORD \d+ \].*|\s*(?:ERROR|NOTICE|WARNING):.*)$")
_TAG_RUN_RE = re.compile(r"^--\s+(?:INSERT \d+ \d+|[A-Z]{2,}(?: [A-Z]{2,})*(?: \d+)?)\s*$")


def sql_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line of the first code line, code lines) of each ```sql fence."""
    out: list[tuple[int, list[str]]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group("fence"), m.group("info").strip().split(" ")[0].lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        if lang == "sql":
            out.append((i + 2, lines[i + 1 : j]))
        i = j + 1
    return out


def expected_output_lines(text: str) -> list[int]:
    """First lines of the runs of ``--`` lines that follow a statement (a line ending with ``;``, blank
    lines between allowed) and hold a psql rule line, ``(N rows)``, a record header or ERROR/NOTICE,
    or are one command tag (``-- INSERT 0 3``); and of psql output pasted without ``--`` after a
    statement (a header over a rule line, ``(N rows)``, ``ERROR:``)."""
    found: list[int] = []
    for first, code in sql_blocks(text):
        after_statement = False
        k = 0
        while k < len(code):
            line = code[k].strip()
            if line.startswith("--"):
                start = k
                while k < len(code) and code[k].strip().startswith("--"):
                    k += 1
                run = [c.strip() for c in code[start:k]]
                shaped = any(_OUTPUT_LINE_RE.match(r) for r in run) or (len(run) == 1 and _TAG_RUN_RE.match(run[0]))
                if after_statement and shaped:
                    found.append(first + start)
                    after_statement = False
                continue
            if after_statement and line and _pasted(code, k):
                found.append(first + k)  # psql's output pasted as psql prints it, no "-- "
                after_statement = False
                if _TAG_LINE_RE.match(line):
                    k += 1  # one line
                    continue
                while k < len(code) and code[k].strip() and not _ROWS_LINE_RE.match(code[k].strip()):
                    k += 1
                k += 1
                continue
            if line:
                after_statement = line.endswith(";")
            k += 1
    return found


_RULE_LINE_RE = re.compile(r"^-+(?:\+-+)*$")
_ROWS_LINE_RE = re.compile(r"^\(\d+ rows?\)$")


_TAG_LINE_RE = re.compile(r"^(?:INSERT \d+ \d+|[A-Z]{2,}(?: [A-Z]{2,})*(?: \d+)?)$")
_NEW_STATEMENT_RE = re.compile(r"^[A-Z]+ \S")


def _pasted(code: list[str], k: int) -> bool:
    """A header over a rule line, ``(N rows)``, ``ERROR:``, or a command tag followed by a blank line, the
    end or a new statement (``UPDATE 1``), right where a statement's output would be."""
    line = code[k].strip()
    following = code[k + 1].strip() if k + 1 < len(code) else ""
    tag = bool(_TAG_LINE_RE.match(line)) and (not following or bool(_NEW_STATEMENT_RE.match(following)))
    return tag or bool(_RULE_LINE_RE.match(following) or _ROWS_LINE_RE.match(line) or line.startswith("ERROR:"))


def checks(graph_data: dict[str, object]) -> list[int]:
    """First lines of the expected outputs of a graph (as JSON) that are checked."""
    steps = graph_data["steps"]
    assert isinstance(steps, list)
    return [st["expected"]["span"]["line"] for s in steps for a in s["actions"] for st in a.get("statements", [])
            if st.get("expected")]
