"""`runbook run docs/site -j 2` end to end: the project's example site on one shared PostgreSQL
server (real psql), run once for the module; every page classified and reported, each broken page
failing for its own reason only, the example shapes of issue 17, JSON and JUnit, two pages at a time."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from e2e import needs_sandbox
from helpers import bound_pg_version
from site_support import BROKEN, EXAMPLES, SITE, _actions, _checks, _line, _pg_major, _runbook

pytestmark = [needs_sandbox, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def site_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("site")
    status, err = _runbook("docs/site", "-j", "2", "--json", str(out / "site.json"), "--junit", str(out / "site.xml"),
                           "--transcripts", str(out / "t"))
    data = json.loads((out / "site.json").read_text())
    return {"status": status, "err": err, "data": data, "junit": ET.parse(out / "site.xml").getroot(),
            "pages": {p["rel"]: p for p in data["pages"]}, "transcripts": out / "t"}


def test_every_page_is_classified_and_reported(site_run: dict[str, Any]) -> None:
    pages = site_run["pages"]
    assert site_run["status"] == 1, site_run["err"][-3000:]  # the deliberately stale pages (docs/site/README.md)
    # drafts/ is excluded by _config.yml, README.md is not a page
    own = ["index.md", "install.md", *BROKEN, *EXAMPLES, "reference/version-notes.md", "how-to/createdb.md"]
    assert sorted(pages) == sorted([*own, *[f"ja/{p}" for p in own]])
    for lang in ("", "ja/"):
        assert pages[f"{lang}index.md"]["status"] == "not-executable"
        skipped = pages[f"{lang}install.md"]
        assert skipped["status"] == "skipped"
        assert skipped["reason"].startswith("installs PostgreSQL packages on the machine")
        assert "runbook.toml:" in skipped["reason"]
        for rel in EXAMPLES:
            page = pages[lang + rel]
            assert page["shape"] == "examples" and page["status"] == "passed", page["reason"]
            checks = [c for s in page["report"]["steps"] for a in s["actions"] for c in a["checks"]]
            assert checks and all(c["status"] in ("passed", "volatile") for c in checks)
        for rel in BROKEN:
            assert pages[lang + rel]["status"] == "failed"
    # a database of its own for every example page: tutorial.md and like.md both create a table memos
    databases = [p["database"] for p in pages.values() if p["shape"] == "examples"]
    assert len(databases) == 24 and len(set(databases)) == 24
    gated = 2 if _pg_major() < 16 else 0  # reference/version-notes.md needs PostgreSQL 16
    assert site_run["data"]["summary"]["pages"] == {"passed": 20 - gated, "failed": 6, "blocked": gated,
                                                    "invalid": 0, "not-executable": 2, "skipped": 2}
    err = site_run["err"]
    assert "checks: " in err and "slowest: " in err and "example server started in" in err


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_an_unterminated_statement_fails_at_once_with_its_line(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "unterminated.md"
    result = site_run["pages"][f"{lang}unterminated.md"]
    line = _line(page, "CREATE TABLE memos (")
    # known from psql's continuation prompt (an open parenthesis), not from a timeout
    assert result["reason"] == f"line {line}: statement not terminated: psql waits for more input (an open parenthesis)"
    assert f"docs/site/{lang}unterminated.md:{line}: statement not terminated" in site_run["err"]
    after = _actions(result)[_line(page, "SELECT 2 AS two;") - 1]
    assert after["status"] == "not-run"


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_a_crash_fails_its_own_page_only(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "crash.md"
    result = site_run["pages"][f"{lang}crash.md"]
    assert result["reason"] == f"line {_line(page, 'DO $$')}: server closed the connection unexpectedly"
    failed = {rel for rel, p in site_run["pages"].items() if p["status"] == "failed"}
    assert failed == {x + rel for x in ("", "ja/") for rel in BROKEN}  # -j 2: every other page passes


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_example_groups_start_over_in_a_fresh_database(site_run: dict[str, Any], lang: str) -> None:
    result = site_run["pages"][f"{lang}reference/example-groups.md"]
    assert result["status"] == "passed" and sum(result["checks"].values()) == 2
    # the second CREATE TABLE memos ran in another database: after the first, or at the same time in
    # another session where -j had room (runner/site/groups.py); in the page's last run (``run-2``
    # where crash.md's crash cut the first short, runner/site/examples.py)
    folder = site_run["transcripts"] / lang / "reference" / "example-groups"
    logs = {p.relative_to(folder).parts[:-1]: p.read_text() for p in folder.rglob("server.log")}
    last = max((k for k in logs if not k or k[0].startswith("run-")), key=lambda k: k[0] if k else "")
    assert ("example group 2: database p" in logs[last]
            or "CREATE TABLE memos (" in logs.get((*last, "groups-2"), "")), sorted(logs)


def test_example_groups_run_at_the_same_time_within_jobs(tmp_path: Path) -> None:
    """One page of two example groups: with -j 2 the second group runs beside the first, in a session
    and a database of its own; with -j 1 after it. The same checks pass either way."""
    page = SITE / "reference" / "example-groups.md"
    for jobs in ("2", "1"):
        out = tmp_path / jobs
        out.mkdir()
        status, text = _runbook(str(page), "-j", jobs, "--json", str(out / "r.json"), "--transcripts", str(out / "t"))
        assert status == 0, text[-3000:]
        (result,) = json.loads((out / "r.json").read_text())["pages"]
        lines = [_line(page, "SELECT count(*)"), _line(page, "SELECT * FROM memos;")]
        checks = [c for s in result["report"]["steps"] for a in s["actions"] for c in a["checks"]]
        assert [(c["line"], c["status"]) for c in checks] == [(n, "passed") for n in lines]
        main = (out / "t" / "reference" / "example-groups" / "server.log").read_text()
        other = out / "t" / "reference" / "example-groups" / "groups-2" / "server.log"
        if jobs == "2":
            assert "CREATE TABLE memos (" in other.read_text() and main.count("CREATE TABLE memos (") == 1
            databases = [re.findall(r"\$ psql (p\d+\w*)", log) for log in (main, other.read_text())]
            assert len(databases[0]) == len(databases[1]) == 1 and databases[0] != databases[1]
        else:
            assert not other.exists() and "example group 2: database p" in main


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_pasted_psql_output_is_checked(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "reference" / "psql-output.md"
    result = site_run["pages"][f"{lang}reference/psql-output.md"]
    assert result["status"] == "passed"
    checks = _checks(result)
    assert sorted(checks) == [_line(page, "SELECT id, content"), _line(page, "UPDATE memos"),
                              _line(page, "SELECT content FROM")]
    assert all(c["status"] == "passed" for c in checks.values())


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_row_order_without_order_by_or_among_ties_is_a_note(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "reference" / "row-order.md"
    checks = _checks(site_run["pages"][f"{lang}reference/row-order.md"])
    for text, why in (("SELECT name, color FROM fruits WHERE", "no ORDER BY: compared as a multiset"),
                      ("SELECT color, count(*)", "no ORDER BY: compared as a multiset"),
                      ("SELECT name, color FROM fruits ORDER BY color;", "rows that tie on the ORDER BY key")):
        check = checks[_line(page, text)]
        assert check["status"] == "volatile"
        assert check["volatile"] == [f"row order: only the order of the rows differs from the page ({why})"]
    assert checks[_line(page, "SELECT name, price")]["status"] == "passed"


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_values_found_volatile_by_the_second_run(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "reference" / "volatile-values.md"
    result = site_run["pages"][f"{lang}reference/volatile-values.md"]
    assert result["status"] == "passed"
    checks = _checks(result)
    for text, column, shown in (("SELECT 't'::regclass::oid", "oid", "16480"), ("SELECT txid_current()", "txid", "737"),
                                ("SELECT pg_backend_pid()", "pid", "24222")):
        (note,) = checks[_line(page, text)]["volatile"]
        assert note.startswith(f"row 1, {column}: differs between two runs (")
        assert note.endswith(f"; the page shows '{shown}'")
    assert (site_run["transcripts"] / lang / "reference" / "volatile-values" / "second-run" / "server.log").is_file()
    for text in ("SELECT now()", "SELECT random()"):  # runbook's own patterns: a timestamp, a measurement
        assert checks[_line(page, text)]["status"] == "volatile"


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_an_example_newer_than_the_installed_postgresql_is_blocked(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "reference" / "version-notes.md"
    result = site_run["pages"][f"{lang}reference/version-notes.md"]
    gated = _actions(result)[_line(page, "SELECT pg_input_is_valid") - 1]
    if _pg_major() >= 16:
        assert result["status"] == "passed" and gated["status"] == "passed"
        return
    note = "It's available since PostgreSQL 16." if not lang else "PostgreSQL 16で追加。"
    assert result["status"] == "blocked"
    installed = f"installed {bound_pg_version()}."  # the server's full version: 15.20 for 15
    assert gated["status"] == "blocked" and gated["message"].startswith(f"needs PostgreSQL ≥ 16, {installed}")
    assert gated["message"].endswith(f"(line {_line(page, note)}: “{note}”)")
    assert _checks(result)[_line(page, "SELECT '42'::integer")]["status"] == "passed"  # the rest ran


@pytest.mark.parametrize("lang", ["", "ja/"])
def test_a_single_host_howto_runs_on_a_running_postgresql(site_run: dict[str, Any], lang: str) -> None:
    page = SITE / lang / "how-to" / "createdb.md"
    result = site_run["pages"][f"{lang}how-to/createdb.md"]
    assert result["shape"] == "untagged-guide"
    assert result["status"] == "passed", result["reason"]
    assert _checks(result)[_line(page, "SELECT expires")]["status"] == "passed"


def test_stale_examples_fail_at_once_with_their_lines_and_hide_nothing(site_run: dict[str, Any]) -> None:
    for rel in ("stale.md", "ja/stale.md"):
        page = SITE / rel
        stale = {_line(page, "SELECT length('runbook');"), _line(page, "SELECT 'runbook' LIKE 'run%'")}
        report = site_run["pages"][rel]["report"]
        checks = {c["line"]: c for s in report["steps"] for a in s["actions"] for c in a["checks"]}
        assert {n for n, c in checks.items() if c["status"] == "failed"} == stale
        assert checks[_line(page, "SELECT length('runbook');")]["problems"] == ["row 1, length: expected '8', got '7'"]
        # the checks after the stale ones ran: the UUID is volatile (runbook.toml's pattern), 1 + 1 passed
        assert checks[_line(page, "SELECT gen_random_uuid()")]["status"] == "volatile"
        assert checks[_line(page, "SELECT 1 + 1 AS two;")]["status"] == "passed"
        # a single-host page is never retried (--settle is 20 s by default): each check tried once
        assert all(c["tries"] == 1 for c in checks.values())
        for n in stale:
            assert f"docs/site/{rel}:{n}: " in site_run["err"]


def test_json_and_junit_cover_the_site(site_run: dict[str, Any]) -> None:
    from runner.reports.schemas import load_report_schema, load_site_report_schema

    data = site_run["data"]
    jsonschema.validate(data, load_site_report_schema())
    for p in data["pages"]:
        if p["report"] is not None:
            jsonschema.validate(p["report"], load_report_schema())
    suites = {s.get("name"): s for s in site_run["junit"].iter("testsuite")}
    assert "docs/site/index.md" not in suites  # nothing to test there
    stale = suites["docs/site/stale.md"]
    names = [c.get("name") for c in stale.iter("testcase")]
    n = _line(SITE / "stale.md", "SELECT length('runbook');")
    assert names == [f"docs/site/stale.md:{_line(SITE / 'stale.md', x)}" for x in (
        "SELECT upper", "SELECT length", "SELECT 'runbook' LIKE", "SELECT gen_random_uuid", "SELECT 1 + 1")]
    failed = [c for c in stale.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed][0] == f"docs/site/stale.md:{n}" and len(failed) == 2
    assert stale.get("tests") == "5" and stale.get("failures") == "2"
    install = suites["docs/site/install.md"]
    (case,) = install.iter("testcase")
    skipped = case.find("skipped")
    assert skipped is not None and "installs PostgreSQL packages" in (skipped.get("message") or "")
    checks = sum(int(s.get("tests", "0")) for s in suites.values() if s.get("name", "").endswith(tuple(EXAMPLES)))
    assert checks == sum(sum(p["checks"].values()) for p in data["pages"] if p["rel"].endswith(tuple(EXAMPLES)))


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant. Each is shrunk by 2 ms at both ends: a start and a
    duration rounded to the millisecond (the report's) never make a page that began as another ended
    look as if both ran."""
    events = sorted([(a + 0.002, 1) for a, _ in intervals] + [(b - 0.002, -1) for _, b in intervals])
    most = now = 0
    for _, step in events:  # at one instant an end (-1) sorts before a start (+1)
        now += step
        most = max(most, now)
    return most


def test_pages_run_in_parallel_on_one_server(site_run: dict[str, Any]) -> None:
    """-j 2: two pages run at the same time, never three; shown by when each page began and ended
    (its ``started`` and ``duration``), not by how fast the machine is."""
    from datetime import datetime

    data = site_run["data"]
    ran = [p for p in data["pages"] if p["shape"] in ("examples", "untagged-guide")]
    assert len(ran) == 26 and all(p["started"] for p in ran)
    assert all(p["started"] is None for p in data["pages"] if p["status"] in ("skipped", "not-executable"))
    intervals = []
    for p in ran:
        start = datetime.fromisoformat(p["started"]).timestamp()
        intervals.append((start, start + p["duration"]))
    assert _most_at_once(intervals) == 2
    assert _most_at_once([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]) == 1  # one after the other: never two
    assert _most_at_once([(0.0, 2.0), (1.0, 3.0), (1.5, 4.0)]) == 3
    assert (site_run["transcripts"] / "reference" / "like" / "server.log").is_file()
