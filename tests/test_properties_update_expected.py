"""Property (issue 19 point 4): ``runbook run --update-expected`` then a run gives no failed check.

An example page is written from pieces: statements whose output psql prints in every shape runbook
reads (tables with wide and multi-line cells, NULLs, command tags, errors with DETAIL, notices,
expanded display), each shown with a stale expected output of any shape (a table, a tag, an error,
an expanded record, notices, psql's output pasted without ``-- ``) or none; in a block indented in a
list item or not; with LF or CRLF line ends.  A real run on the example server (real PostgreSQL)
rewrites the page; the run after it fails no check.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES
from e2e import needs_sandbox
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from runbook.parse import parse_text
from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SETUP = [
    "CREATE TABLE memos (id integer PRIMARY KEY, content text);",
    "INSERT INTO memos VALUES (1, 'PostgreSQL'), (2, 'Groonga'), (3, 'ぐるんが'), (4, NULL);",
]
FAILING = [  # shown with a stale error: an error where the page shows none, or a result, stops the page
    # (docs/site.md, "Only a statement that errors where the page expects no error stops the page"):
    # a failed action, not a stale check, which --update-expected leaves as it is
    "SELECT 1/0;",
    "INSERT INTO memos VALUES (1, 'again');",
]
STATEMENTS = [*FAILING,  # each prints the same output at every run
    "SELECT * FROM memos ORDER BY id;",
    "SELECT count(*) FROM memos;",
    "SELECT id, content IS NULL AS missing, '' AS empty, NULL AS nothing FROM memos WHERE id > 2 ORDER BY id;",
    "SELECT E'first line\\nsecond' AS lines, 'ぐ' AS wide;",
    "DROP TABLE IF EXISTS nothing;",
    "DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$;",
    "UPDATE memos SET content = content WHERE id > 2;",
    "\\x on",  # expanded display for what follows, until \x off
    "SELECT * FROM memos WHERE id = 3;",
    "\\x off",
    "SELECT content FROM memos WHERE false;",
]

WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789ぐるんが", min_size=1, max_size=10)
NAME = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@st.composite
def table(draw: st.DrawFn) -> list[str]:
    columns = draw(st.lists(NAME, min_size=1, max_size=3))
    rows = draw(st.lists(st.lists(WORD, min_size=len(columns), max_size=len(columns)), max_size=3))
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    lines = [" " + " | ".join(c.center(w) for c, w in zip(columns, widths, strict=True)) + " ",
             "-" + "-+-".join("-" * w for w in widths) + "-"]
    lines += [" " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    n = draw(st.sampled_from([len(rows), len(rows) + 1]))
    return [*lines, f"({n} row{'' if n == 1 else 's'})"]


@st.composite
def tag(draw: st.DrawFn) -> list[str]:
    n = draw(st.integers(0, 9))
    return [draw(st.sampled_from([f"SELECT {n}", f"UPDATE {n}", f"DELETE {n}", f"INSERT 0 {n}", "DROP TABLE", "DO",
                                  "SET", "CREATE TABLE"]))]


@st.composite
def error(draw: st.DrawFn) -> list[str]:
    lines = [f"ERROR:  {draw(WORD)} {draw(WORD)}"]
    if draw(st.booleans()):
        lines.append(f"DETAIL:  Key (id)=({draw(st.integers(0, 9))}) already exists.")
    return lines


@st.composite
def expanded(draw: st.DrawFn) -> list[str]:
    out = []
    for n in range(1, draw(st.integers(1, 2)) + 1):
        out.append(f"-[ RECORD {n} ]--")
        out += [f"{draw(NAME)} | {draw(WORD)}" for _ in range(draw(st.integers(1, 3)))]
    return out


@st.composite
def stale(draw: st.DrawFn, fails: bool = False) -> list[str] | None:
    """A stale expected output of any shape, or None (the page shows none); for a statement that
    ``fails``, a stale error."""
    shape = draw(st.sampled_from(["error"] if fails else ["none", "table", "tag", "error", "expanded", "notice"]))
    if shape == "none":
        return None
    if shape == "notice":
        return [f"NOTICE:  {draw(WORD)}", *draw(tag())]
    return draw({"table": table(), "tag": tag(), "error": error(), "expanded": expanded()}[shape])


GUIDE = FIXTURES / "guides" / "single-host.ja.md"
PSQL = "```bash\npsql shop\n```\n"


@dataclass
class Page:
    text: str
    shown: int
    """Statements the page shows an expected output for."""


@st.composite
def pages(draw: st.DrawFn) -> Page:
    """An example page, or a guide (``single-host.ja.md`` up to its ``psql``), whose SQL blocks show
    stale expected output."""
    guide = draw(st.booleans())
    chosen = draw(st.lists(st.sampled_from(STATEMENTS), min_size=1, max_size=5))
    blocks: list[list[str]] = [list(SETUP)]
    for statement in chosen:
        if draw(st.booleans()):
            blocks.append([])  # a new block; else the statement joins the last one
        blocks[-1].append(statement)
    if guide:
        text = GUIDE.read_text(encoding="utf-8")
        parts = [text[:text.index(PSQL) + len(PSQL)]]
    else:
        parts = ["---", "title: Examples", "---", "", "# Examples", "", "## Examples {#examples}", ""]
    intended = 0
    for block in blocks:
        lines = []
        for statement in block:
            lines.append(statement)
            output = None if statement.startswith("\\") else draw(stale(fails=statement in FAILING))
            if output is None:  # (a meta-command's message, "Expanded display is off.", reads as a comment)
                continue
            intended += 1
            pastable = statement.endswith(";") and output[0].startswith(" ") and output[-1].startswith("(")
            if pastable and draw(st.booleans()):
                lines += output  # a table pasted as psql prints it
            else:
                lines += [f"-- {ln}" for ln in output]
        indent = draw(st.sampled_from(["", "   "]))
        if indent:
            parts += ["1. 次を実行します。" if guide else "1. Run:", ""]
        parts += [indent + ln if ln else ln for ln in ["```sql", *lines, "```"]] + [""]
    text = "\n".join(parts)
    graph = parse_text(text, "guide.ja.md" if guide else "page.md", "ja" if guide else "en")
    shown = sum(1 for a in graph.actions() for s in a.statements if s.expected is not None)
    assume(shown == intended)  # the reader reads the page as written (psql's output, not more SQL)
    crlf = draw(st.booleans())
    if crlf:
        text = text.replace("\n", "\r\n")
    event(f"{'guide' if guide else 'example page'}{', CRLF' if crlf else ''}")
    return Page(text, shown)


def _run(page: Path, out: Path, *extra: str) -> tuple[int, list[dict]]:  # type: ignore[type-arg]
    """(exit status, the checks) of ``runbook run PAGE`` (a guide: on a fresh sandbox)."""
    report = out / f"r{len(list(out.glob('r*.json')))}.json"
    status = run(["run", str(page), "--json", str(report), "--transcripts", str(out / "t"), "--fresh", *extra])
    data = json.loads(report.read_text(encoding="utf-8"))
    reports = [p["report"] or {} for p in data["pages"]] if "pages" in data else [data]
    return status, [c for r in reports for s in r.get("steps", []) for a in s["actions"] for c in a["checks"]]


FOUND = [  # cases this property found, run first every time
    # psql's output pasted in a block of a list item: written back at column 0, it closed the block
    Page("# Examples\n\n## Examples {#examples}\n\n1. Run:\n\n   ```sql\n   SELECT 1 AS a;\n    a \n   ---\n"
         "    2\n   (1 row)\n   ```\n", 1),
    # psql's expanded display pasted where the page pasted a table: the reader took the next statement
    # for a row of it (the expanded display ends at a blank line)
    Page("# Examples\n\n## Examples {#examples}\n\n```sql\n\\x on\nSELECT 1 AS a, 2 AS b;\n a | b\n---+---\n"
         " 1 | 3\n(1 row)\nSELECT 2 AS c;\n--  c\n-- ---\n--  2\n-- (1 row)\n```\n", 2),
    # a meta-command after a statement that failed (as the page expects): psql's ERROR still said
    # true, so the runner took "\x off" for a failed statement
    Page("# Examples\n\n## Examples {#examples}\n\n```sql\nSELECT 1/0;\n-- ERROR:  x\n\\x off\nSELECT 1 AS a;\n"
         "--  a\n-- ---\n--  2\n-- (1 row)\n```\n", 2),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pages())
@example(FOUND[0])
@example(FOUND[1])
@example(FOUND[2])
def test_update_expected_then_a_run_fails_no_check(page: Page) -> None:
    with tempfile.TemporaryDirectory(prefix="runbook-ue-") as tmp:
        out = Path(tmp)
        path = out / "update-expected-property.md"
        path.write_bytes(page.text.encode("utf-8"))
        status, checks = _run(path, out, "--update-expected")
        event(f"{sum(c['status'] == 'updated' for c in checks)} expected outputs rewritten")
        assert status == 0, [c["problems"] for c in checks]
        assert len(checks) == page.shown  # every expected output shown was checked
        rewritten = path.read_bytes().decode("utf-8")
        if "\r\n" in page.text:  # line ends kept
            assert rewritten.count("\n") == rewritten.count("\r\n")
        else:
            assert "\r" not in rewritten
        status, checks = _run(path, out)
        failed = [(c["line"], c["problems"]) for c in checks if c["status"] == "failed"]
        assert failed == [] and status == 0, (rewritten, failed)
        assert len(checks) == page.shown
