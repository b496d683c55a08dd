"""psql's meta-commands that send the query buffer (``\\gx``, ``\\g``, ``\\gset``, ``\\gexec``) end
a statement as ``;`` does, end to end on a real server: the runner sends them as written and checks
the output the page shows after them; ``\\watch`` is refused at its line instead of running forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e import needs_sandbox
from site_support import _line, _runbook, _site, example_page

pytestmark = [needs_sandbox, pytest.mark.sandbox]

META_PAGE = example_page(
    "Meta-commands",
    "SELECT 1 AS a \\gx\n-- -[ RECORD 1 ]\n-- a | 1",
    "SELECT 2 AS b \\g\n--  b\n-- ---\n--  2\n-- (1 row)",
    "SELECT 5 AS c, 'five' AS d\n\\gx\n-[ RECORD 1 ]\nc | 5\nd | five",
    "SELECT 3 AS v \\gset\n\\echo :v\nSELECT :v + 1 AS w;\n--  w\n-- ---\n--  4\n-- (1 row)",
    "SELECT format('SELECT %s AS e', 6)\n\\gexec\n--  e\n-- ---\n--  6\n-- (1 row)",
)
WATCH_PAGE = example_page("Watch", "SELECT 7 AS f \\watch 1\n--  f\n-- ---\n--  7\n-- (1 row)")


def test_meta_commands_end_statements_on_a_real_server(tmp_path: Path) -> None:
    site = _site(tmp_path / "a", "", {"meta.md": META_PAGE, "watch.md": WATCH_PAGE})
    status, out = _runbook(str(site), "--timeout", "60", "--json", str(tmp_path / "r.json"),
                           "--transcripts", str(tmp_path / "t"))
    assert status == 1, out[-3000:]  # (the \watch page)
    pages = {p["rel"]: p for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    meta = pages["meta.md"]
    assert meta["status"] == "passed", meta.get("reason")
    checks = {c["line"]: c for s in meta["report"]["steps"] for a in s["actions"] for c in a["checks"]}
    page = site / "meta.md"
    expected = {_line(page, "SELECT 1 AS a"): _line(page, "-- -[ RECORD 1 ]"),
                _line(page, "SELECT 2 AS b"): _line(page, "--  b"),
                _line(page, "SELECT 5 AS c"): _line(page, "-[ RECORD 1 ]"),
                _line(page, "SELECT :v + 1"): _line(page, "--  w"),
                _line(page, "SELECT format"): _line(page, "--  e")}
    assert {n: (c["status"], c["expected_span"][0]) for n, c in checks.items()} == {
        n: ("passed", e) for n, e in expected.items()}
    watch = pages["watch.md"]
    assert watch["status"] == "failed"
    assert watch["reason"] == (f"line {_line(site / 'watch.md', 'SELECT 7 AS f')}: psql's \\watch repeats the "
                               "query until it is interrupted: not run (end the query with ';' to run it once)")



def test_a_watch_in_the_site_prelude_is_refused_not_waited_for(tmp_path: Path) -> None:
    """The site's prelude runs in one psql in the template database: a ``\\watch`` there is refused with
    runbook.toml's line, as in a SQL action, and each page fails with it; not waited for (that psql
    has 300 s, after which the run ended as an internal error, exit status 5)."""
    refused = ("psql's \\watch repeats the query until it is interrupted: not run "
               "(end the query with ';' to run it once)")
    toml = 'prelude = """\nCREATE TABLE kept (id int);\nSELECT 1 AS x\n\\\\watch 1\n"""\n'
    site = _site(tmp_path / "b", toml, {"watch.md": example_page("One", "SELECT 1 AS one;")})
    status, out = _runbook(str(site), "--timeout", "60", "--json", str(tmp_path / "b.json"))
    assert status == 1, out[-3000:]
    (page,) = json.loads((tmp_path / "b.json").read_text())["pages"]
    line = _line(site / "runbook.toml", "\\\\watch 1")
    assert page["status"] == "failed" and page["reason"] == f"{site / 'runbook.toml'}:{line}: the prelude: {refused}"
