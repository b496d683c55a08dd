"""psql's meta-commands that send the query buffer (``\\gx``, ``\\g``, ``\\gset``, ``\\gexec``) end
a statement as ``;`` does, end to end on a real server: the runner sends them as written and checks
the output the page shows after them; ``\\watch`` is refused at its line instead of running forever."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from e2e import needs_sandbox
from site_support import _line, _runbook, _site, _watched, example_page

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


_SHORT_PSQL = ("import runpy, sys; import runner.site.server as server; server.PSQL_WAIT = float(sys.argv.pop(1)); "
               "runpy.run_module('runner.cli', run_name='__main__', alter_sys=True)")
"""``python -m runner.cli`` with the runner's own psql in the server's host given the first argument's seconds."""


def test_a_site_prelude_that_never_ends_fails_the_pages_with_its_place(tmp_path: Path) -> None:
    """A prelude statement that does not end (here a long sleep; the runner's own psql has
    ``PSQL_WAIT`` seconds, 3 in this run instead of 300): each page fails with runbook.toml's place and
    why, no internal error (it was exit 5 with subprocess's TimeoutExpired), nothing left."""
    toml = 'prelude = """\nSELECT pg_sleep(600);\n"""\n'
    site = _site(tmp_path / "c", toml, {"one.md": example_page("One", "SELECT 1 AS one;")})
    status, out, _ = _watched([sys.executable, "-c", _SHORT_PSQL, "3", "run", str(site), "--json",
                               str(tmp_path / "c.json")])
    assert status == 1 and "Traceback" not in out and "internal error" not in out, out[-3000:]
    (page,) = json.loads((tmp_path / "c.json").read_text())["pages"]
    line = _line(site / "runbook.toml", "SELECT pg_sleep(600);")
    assert page["status"] == "failed"
    why = f"{site / 'runbook.toml'}:{line}: the prelude failed: psql did not finish within 3s in the example server's"
    assert re.fullmatch(re.escape(why) + r" database runbook_t\w+", page["reason"]), page["reason"]
