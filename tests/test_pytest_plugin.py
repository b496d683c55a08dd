"""The pytest plugin on the project's PostgreSQL guides, through pytest's own ``pytester`` (real sandbox runs)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import GUIDES
from e2e import needs_sandbox
from helpers import bound_pg_version

pytest_plugins = ["pytester"]

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SECRET = "passw0rd"

# Records, for each step's test, the inode of the guide's sandbox folder (the same inode for
# every step: one sandbox per guide), and whether the sandbox is gone once pytest is done.
RECORDER = '''
import json, os
from pathlib import Path
from runner.sandbox import DEFAULT_ROOT

seen = []

def pytest_runtest_call(item):
    d = DEFAULT_ROOT / item.path.name.removesuffix(".md")
    seen.append([item.name, os.stat(d).st_ino if d.exists() else None])

def pytest_unconfigure(config):
    Path("sandboxes.json").write_text(json.dumps({"seen": seen, "left": [
        p.name for p in DEFAULT_ROOT.glob("*") if p.name in ("logical-replication.ja", "synchronous-replication.en")]}))
'''


def _guide(pytester: pytest.Pytester, name: str, old: str = "", new: str = "") -> Path:
    text = (GUIDES / name).read_text(encoding="utf-8")
    if old:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = pytester.path / name
    path.write_text(text, encoding="utf-8")
    pytester.makeconftest(RECORDER)
    return path


def _sandboxes(pytester: pytest.Pytester) -> dict:  # type: ignore[type-arg]
    data: dict = json.loads((pytester.path / "sandboxes.json").read_text())  # type: ignore[type-arg]
    return data


def test_failing_check_fails_its_step_and_skips_the_rest(pytester: pytest.Pytester) -> None:
    """logical-replication.ja.md with one expected cell changed in step 7 (check-replication)."""
    _guide(pytester, "logical-replication.ja.md", "--  10 | jjj\n-- (3 rows)", "--  10 | kkk\n-- (3 rows)")
    result = pytester.runpytest_subprocess("--runbook", "-v", "-rs", "-p", "no:cacheprovider", "--runbook-settle", "2",
                                           "--junitxml=junit.xml", "logical-replication.ja.md")
    out = result.stdout.str()
    result.assert_outcomes(passed=6, failed=1, skipped=1)
    # every step is a test, in the guide's order
    order = [line.split("::")[1].split()[0] for line in result.outlines
             if line.startswith("logical-replication.ja.md::") and (" PASSED" in line or " FAILED" in line
                                                                    or " SKIPPED" in line)]
    assert order == ["install-postgresql", "configure-publisher", "create-table", "insert-publisher",
                     "create-publication", "create-subscription", "check-replication", "row-filter-replica-identity"]
    assert "logical-replication.ja.md::check-replication FAILED" in out
    # the failure: the guide's file:line, the diff of expected and actual, no Python traceback
    text = (pytester.path / "logical-replication.ja.md").read_text(encoding="utf-8").split("\n")
    expected_line = text.index("--  10 | kkk") + 1 - 4  # the expected output starts 4 lines above the row
    assert text[expected_line - 1].startswith("--  i  |")
    result.stdout.fnmatch_lines([
        f"logical-replication.ja.md:*: check-replication#* on subscriber: line *: result differs from the guide "
        f"(expected at line {expected_line}): row 3, t: expected 'kkk', got 'jjj'",
        f"  --- expected (logical-replication.ja.md:{expected_line})",
        "  +++ actual (subscriber)",
        "  - 10 | kkk",
        "  + 10 | jjj",
        "  differs: row 3, t: expected 'kkk', got 'jjj'",
        "in step check-replication (logical-replication.ja.md:*)*",
    ])
    assert "Traceback" not in out and "pytest_plugin.py" not in out and "raise " not in out
    # the step after the failure is skipped, with the reason
    result.stdout.fnmatch_lines(["SKIPPED [[]1[]] logical-replication.ja.md:*: not run: step check-replication failed"])
    # pytest's own JUnit XML
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == order
    failure = cases[6].find("failure")
    assert failure is not None and "expected 'kkk', got 'jjj'" in (failure.text or "")
    skipped = cases[7].find("skipped")
    assert skipped is not None and "not run: step check-replication failed" in (skipped.get("message") or "")
    # one sandbox for the whole guide, gone afterwards; no password in what pytest printed
    boxes = _sandboxes(pytester)
    inodes = {ino for _, ino in boxes["seen"]}
    assert len(boxes["seen"]) == 8 and len(inodes) == 1 and None not in inodes
    assert boxes["left"] == []
    assert SECRET not in out and SECRET not in (pytester.path / "junit.xml").read_text()


def test_k_selects_steps_as_only_does(pytester: pytest.Pytester) -> None:
    _guide(pytester, "synchronous-replication.en.md")
    result = pytester.runpytest_subprocess("--runbook", "-v", "-p", "no:cacheprovider", "-k",
                                           "install-postgresql or insert-primary", "--runbook-transcripts", "t")
    result.assert_outcomes(passed=2, deselected=6)
    primary = (pytester.path / "t" / "synchronous-replication.en" / "primary.log").read_text()
    assert "createdb" in primary            # insert-primary ran
    assert "--replication replicator" not in primary  # configure-replication-primary, deselected, did not
    assert not (pytester.path / "t" / "synchronous-replication.en" / "standby1.log").read_text().count("createdb")


def test_x_stops_at_the_first_failed_step(pytester: pytest.Pytester) -> None:
    _guide(pytester, "synchronous-replication.en.md", "```conf\n#listen_addresses = 'localhost'\n```",
           "```conf\n#listen_addresses = 'nowhere'\n```")
    result = pytester.runpytest_subprocess("--runbook", "-x", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "stopping after 1 failures" in out
    result.stdout.fnmatch_lines(["synchronous-replication.en.md:*: configure-replication-primary#1 on primary: "
                                 "line *: *: the before text is not in the file (file left untouched)",
                                 "  output:", "*#listen_addresses = 'nowhere'*"])
    assert "Traceback" not in out
    boxes = _sandboxes(pytester)
    assert [name for name, _ in boxes["seen"]] == ["install-postgresql", "configure-replication-primary"]
    assert boxes["left"] == []


def test_blocked_step_is_skipped_as_blocked(pytester: pytest.Pytester) -> None:
    """PGroonga's guide: without PGroonga, install-pgroonga is blocked (an environment limit, not a failure)."""
    from runner.planning.environment import pgroonga_installed

    _guide(pytester, "streaming-replication-wal-resource-manager.en.md")
    result = pytester.runpytest_subprocess("--runbook", "-rs", "-p", "no:cacheprovider")
    version = bound_pg_version()
    if pgroonga_installed(version):
        result.assert_outcomes(passed=10)
        return
    result.assert_outcomes(passed=1, skipped=9)
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] streaming-replication-wal-resource-manager.en.md:*: blocked by the environment: "
        f"PGroonga is not installed for PostgreSQL {version}*",
        "SKIPPED [[]1[]] streaming-replication-wal-resource-manager.en.md:*: not run: step install-pgroonga is blocked",
    ])
    assert result.ret == pytest.ExitCode.OK
