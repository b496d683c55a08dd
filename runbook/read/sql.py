"""SQL blocks as psql reads them: statements, meta-commands, expected output and prose in comments.

Statements end with ``;`` outside quotes; the ``-- `` comments between them are told apart as
expected output or as prose inside SQL.

A comment is a statement's expected output when it follows the statement (blank lines between
allowed, no other statement) and is shaped like psql's output (:func:`~runbook.expected.looks_like_output`):
each output belongs to the statement before it, so a block may interleave several statements and
their results.  Any other comment is prose: kept on the statement it is in, or on the one it comes
before (the last statement's, at the end of the block), never checked and never dropped.

A block none of whose lines ends a statement (``column LIKE pattern``), or that writes ``${NAME}``
placeholders outside quotes, shows a syntax: :func:`is_syntax`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..expected import looks_like_output, parse_expected
from ..model import Finding, Prose, Span, Statement

_DOLLAR_RE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_PLACEHOLDER_RE = re.compile(r"\$\{[A-Za-z_][^}]*\}")
_COMMENT_PREFIX_RE = re.compile(r"^\s*--\s?")
_DOUBLED_ROWS_RE = re.compile(r"^\s*--\s*\(\d+ rows?\)\s*$")


@dataclass(slots=True)
class ScannedLine:
    """One line of SQL: its code (comment removed) and its ``--`` comment, if any."""

    number: int
    text: str
    code: str
    comment: str | None
    quoted: bool
    """The line ends inside a string, a quoted identifier, a dollar-quoted body or a block comment."""
    bare: str = ""
    """The code outside strings, quoted identifiers, dollar-quoted bodies and block comments."""


def scan(code: str, first_line: int) -> list[ScannedLine]:
    """Each line of ``code`` split into code and ``--`` comment, quotes followed across lines
    (``'…'`` with ``''``, ``E'…'`` with backslashes, ``"…"``, ``$tag$…$tag$``, ``/* … */``)."""
    out: list[ScannedLine] = []
    quote: str | None = None  # "'", "E'", '"', "/*", or a dollar tag
    for n, line in enumerate(code.split("\n")):
        i = 0
        comment: str | None = None
        bare: list[str] = []
        while i < len(line):
            ch = line[i]
            if quote is None:
                bare.append(ch)
                if line.startswith("--", i):
                    bare.pop()
                    comment = line[i:]
                    break
                if ch == "'":
                    quote = "E'" if i > 0 and line[i - 1] in "eE" and (i < 2 or not line[i - 2].isalnum()) else "'"
                elif ch == '"':
                    quote = '"'
                elif line.startswith("/*", i):
                    quote, i = "/*", i + 1
                elif ch == "$":
                    m = _DOLLAR_RE.match(line, i)
                    if m and not (i > 0 and (line[i - 1].isalnum() or line[i - 1] == "_")):
                        quote, i = m.group(0), m.end() - 1
            elif quote == "'" or quote == "E'":
                if quote == "E'" and ch == "\\":
                    i += 1
                elif ch == "'":
                    if line.startswith("''", i):
                        i += 1
                    else:
                        quote = None
            elif quote == '"':
                if ch == '"':
                    quote = None
            elif quote == "/*":
                if line.startswith("*/", i):
                    quote, i = None, i + 1
            elif line.startswith(quote, i):
                i += len(quote) - 1
                quote = None
            i += 1
        body = line if comment is None else line[: len(line) - len(comment)]
        out.append(ScannedLine(first_line + n, line, body, comment, quote is not None, "".join(bare)))
    return out


def _ends_statement(line: ScannedLine) -> bool:
    return not line.quoted and line.code.rstrip().endswith(";")


def is_syntax(code: str) -> bool:
    """True for a ``sql`` block that shows a syntax rather than statements to run: no line ends a
    statement and no meta-command, or ``${NAME}`` placeholders outside quotes."""
    lines = scan(code, 1)
    if any(_PLACEHOLDER_RE.search(ln.bare) for ln in lines):
        return True
    if not any(ln.code.strip() for ln in lines):
        return True  # only comments: nothing to run
    return not any(_ends_statement(ln) or ln.code.strip().startswith("\\") for ln in lines)


@dataclass(slots=True)
class _Run:
    """Consecutive ``--`` lines between statements."""

    lines: list[ScannedLine] = field(default_factory=list)


def statements(code: str, first_line: int, file: str) -> tuple[list[Statement], list[Finding]]:
    """The block's statements, each with its expected output and its prose comments; and the defects
    found (a statement without ``;``, an output line written with one ``-``)."""
    found: list[Statement] = []
    findings: list[Finding] = []
    buf: list[ScannedLine] = []
    inner: list[ScannedLine] = []  # comment lines inside the statement being read
    pending: list[Prose] = []  # prose comments waiting for the next statement
    run: _Run | None = None

    def span(a: int, b: int) -> Span:
        return Span(file, a, b)

    def prose(lines: list[ScannedLine]) -> list[Prose]:
        text = " ".join(_COMMENT_PREFIX_RE.sub("", ln.comment or "").strip() for ln in lines).strip()
        return [Prose(text, span(lines[0].number, lines[-1].number), "comment")] if text else []

    def close_run() -> None:
        nonlocal run
        if run is None:
            return
        lines, run = run.lines, None
        body = [_COMMENT_PREFIX_RE.sub("", ln.comment or "", count=1) for ln in lines]
        for k, text in enumerate(body):
            if _DOUBLED_ROWS_RE.match(text):  # "-- -- (3 rows)": a second "-- " before the row count
                body[k] = _COMMENT_PREFIX_RE.sub("", text, count=1)
                findings.append(Finding("expected-output-malformed", "error",
                                        "the row count has a second '-- ' before it (read as the row count)",
                                        span(lines[k].number, lines[k].number)))
        last = found[-1] if found else None
        if last is not None and last.expected is None and not pending and looks_like_output(body):
            last.expected = parse_expected(body, span(lines[0].number, lines[-1].number))
        else:
            pending.extend(prose(lines))

    scanned = scan(code, first_line)
    for k, line in enumerate(scanned):
        stripped = line.text.strip()
        if not buf:
            if line.comment is not None and not line.code.strip():
                if run is None:
                    run = _Run()
                run.lines.append(line)
                continue
            nxt = scanned[k + 1].text.strip() if k + 1 < len(scanned) else ""
            if (stripped.startswith("-") and found and found[-1].expected is None and nxt.startswith("--")):
                findings.append(Finding("expected-output-malformed", "error",
                                        "expected-output line starts with '-' instead of '-- ' (read as expected "
                                        "output; typed as written it would be SQL)", span(line.number, line.number)))
                if run is None:
                    run = _Run()
                repaired = "-- " + re.sub(r"^\s*- ?", "", line.text)
                run.lines.append(ScannedLine(line.number, line.text, "", repaired, False))
                continue
            close_run()  # a blank line ends a run of comments (output may still come after blank lines)
            if not stripped:
                continue
            if stripped.startswith("\\"):
                found.append(Statement(stripped, span(line.number, line.number), comments=pending))
                pending = []
                continue
        if line.comment is not None:
            inner.append(line)
        buf.append(line)
        if _ends_statement(line):
            comments = pending + prose(inner)
            found.append(Statement("\n".join(ln.text for ln in buf), span(buf[0].number, line.number),
                                   comments=comments))
            buf, inner, pending = [], [], []
    close_run()
    if buf and any(ln.text.strip() for ln in buf):
        while buf and not buf[-1].text.strip():
            buf.pop()
        found.append(Statement("\n".join(ln.text for ln in buf).rstrip(), span(buf[0].number, buf[-1].number),
                               comments=pending + prose(inner)))
        pending = []
        findings.append(Finding("sql-no-semicolon", "warning", "SQL statement does not end with ';'",
                                span(buf[0].number, buf[0].number)))
    if pending and found:
        found[-1].comments.extend(pending)
    return found, findings
