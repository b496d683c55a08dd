"""`runbook run` end to end on the embedded sandbox: real servers, real psql, real files. Guides that
pass, a kept sandbox run again, the plan, --update-expected, --until/--from, live progress."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from conftest import GUIDES, SEED_JA
from e2e import down, needs_sandbox
from e2e import variant as _variant
from helpers import bound_pg_version
from run_support import PLAIN, SECRET, SINGLE, _all_text, _report

from runner.cli import main as run
from runner.planning.environment import pgroonga_installed

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_fixture_guide_runs_fully(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, junit, transcripts = tmp_path / "r.json", tmp_path / "r.xml", tmp_path / "t"
    status = run(["run", str(PLAIN), "--fresh", "--json", str(report), "--junit", str(junit),
                  "--transcripts", str(transcripts)])
    out = capsys.readouterr()
    assert status == 0, out.err[-3000:]
    data = json.loads(report.read_text())
    from runner.reports.schemas import load_report_schema

    jsonschema.validate(data, load_report_schema())
    assert data["status"] == "passed" and data["summary"] == {"passed": 7}
    kinds = {a["kind"] for s in data["steps"] for a in s["actions"]}
    assert kinds == {"shell", "console", "sql", "file_edit", "file_write"}
    hosts = {a["host"] for s in data["steps"] for a in s["actions"]}
    assert hosts == {"primary", "standby1", "standby2"}
    checks = [c for s in data["steps"] for a in s["actions"] for c in a["checks"]]
    # every SQL check ran, the standbys' after replication; the basebackup progress line is volatile
    sql_checks = [c for c in checks if c["statement"].startswith(("SELECT", "SHOW"))]
    assert len(sql_checks) >= 5 and all(c["status"] == "passed" for c in sql_checks)
    progress = [c for c in checks if "pg_basebackup" in c["statement"]]
    assert len(progress) == 2 and all(c["status"] == "volatile" for c in progress)
    standby_checks = [a for s in data["steps"] for a in s["actions"] if a["host"].startswith("standby")
                      and a["kind"] == "sql"]
    assert standby_checks and all(any("replayed" in n for n in a["notes"]) for a in standby_checks)
    # one block on three hosts, an action on each (that they run at the same time:
    # test_a_block_for_several_hosts_runs_on_them_at_once)
    install = next(s for s in data["steps"] if s["id"] == "install-postgresql")
    assert sorted(a["host"] for a in install["actions"]) == ["primary", "standby1", "standby2"]
    # substitutions are reported with their reason
    subs = [x for s in data["steps"] for a in s["actions"] for x in a["substitutions"]]
    assert any(x["kind"] == "replace" and "createcluster 15 main" in x["with"] for x in subs)
    assert "substituted" in out.err and "because" in out.err
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests", "0")) > 20
    assert sorted(p.name for p in (transcripts / PLAIN.name.removesuffix(".md")).iterdir()) == [
        "primary.log", "standby1.log", "standby2.log"]
    # the password was typed three times, and appears nowhere
    assert SECRET not in _all_text(report, junit, transcripts) + out.out + out.err
    assert "********" in _all_text(transcripts)


def test_seed_guide_blocks_or_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "seed.json"
    status = run(["run", str(SEED_JA), "--fresh", "--json", str(report), "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    data = json.loads(report.read_text())
    steps = {s["id"]: s["status"] for s in data["steps"]}
    version = bound_pg_version()
    if pgroonga_installed(version):
        assert status == 0, err[-3000:]
        assert set(steps.values()) == {"passed"} and len(steps) == 10
    else:
        assert status == 3
        assert steps["install-postgresql"] == "passed"
        assert steps["install-pgroonga"] == "blocked"
        assert all(v == "not-run" for k, v in steps.items() if k not in ("install-postgresql", "install-pgroonga"))
        assert f"PGroonga is not installed for PostgreSQL {version}" in err
        assert data["status"] == "blocked"
        assert f"PGroonga is not installed for PostgreSQL {version}" in data["blocked"]["install-pgroonga"]
    assert SECRET not in report.read_text()


@pytest.mark.parametrize("guide", ["logical-replication.ja.md", "logical-replication.en.md",
                                   "synchronous-replication.ja.md", "synchronous-replication.en.md"])
def test_documented_guides_pass(guide: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    status = run(["run", str(GUIDES / guide), "--fresh", "--json", str(report), "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert status == 0, err[-3000:]
    data = json.loads(report.read_text())
    assert data["status"] == "passed"
    checks = [c for s in data["steps"] for a in s["actions"] for c in a["checks"]]
    assert checks and all(c["status"] in ("passed", "volatile") for c in checks)
    assert SECRET not in _all_text(report, tmp_path / "t") + err


def test_rerun_of_completed_guide_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.sandbox import Sandbox

    guide = tmp_path / "rerun.md"
    guide.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")
    try:
        status, first, _ = _report(tmp_path, guide, "--keep")
        assert status == 0
        sb = Sandbox.load("rerun")
        state = f"md5sum /etc/postgresql/{bound_pg_version()}/main/*.conf; "
        before = sb.run("primary", ["bash", "-c", state +
                                    "sudo -u postgres psql -XAtc 'select count(*) from pg_roles' postgres"]).stdout
        capsys.readouterr()
        status, second, _ = _report(tmp_path, guide, "--keep", fresh=False)
        err = capsys.readouterr().err
        assert status == 0
        assert {s["status"] for s in second["steps"]} == {"done-earlier"}
        assert "nothing to do" in err and "nothing was changed" in err
        # an explicit re-run of the edit step: the edit is already in place, and says so
        status, third, _ = _report(tmp_path, guide, "--keep", "--only", "configure-primary", fresh=False)
        assert status == 0
        edit = next(a for s in third["steps"] for a in s["actions"] if a["kind"] == "file_edit")
        assert edit["status"] == "already-applied"
        after = sb.run("primary", ["bash", "-c", state +
                                   "sudo -u postgres psql -XAtc 'select count(*) from pg_roles' postgres"]).stdout
        assert before == after
    finally:
        down("rerun")


def test_plan_prints_bound_commands_without_running(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.sandbox import netns_unavailable

    if netns_unavailable() is None:  # a network namespace per host: the guide's own addresses stay
        assert run(["run", "--plan", str(PLAIN)]) == 0
        out = capsys.readouterr().out
        assert f"--host 192.168.0.30 --pgdata /var/lib/postgresql/{bound_pg_version()}/main" in out
        assert "host    replication     all             192.168.0.0/24" in out
        assert "127.0.0.30" not in out and SECRET not in out
    monkeypatch.setenv("RUNBOOK_SANDBOX_NETWORK", "loopback")  # the fallback binds them to loopback
    assert run(["run", "--plan", str(PLAIN)]) == 0
    out, err = capsys.readouterr()
    assert "sandbox network: loopback" in err
    assert f"--host 127.0.0.30 --pgdata /var/lib/postgresql/{bound_pg_version()}/main" in out
    assert "host    replication     all             127.0.0.0/24" in out
    assert "192.168." not in out and SECRET not in out


def test_no_traceback_for_unknown_step() -> None:
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(SINGLE), "--only", "nope"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no step 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_set_carries_over_within_a_psql_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # single-host.ja.md: "SET enable_seqscan TO off;" in one block, "SHOW enable_seqscan;" -> off in the next
    status, data, _ = _report(tmp_path, SINGLE)
    assert status == 0
    shows = [c for s in data["steps"] for a in s["actions"] for c in a["checks"] if c["statement"].startswith("SHOW")]
    assert len(shows) == 1 and shows[0]["status"] == "passed" and "off" in shows[0]["actual"][2]


def test_update_expected_then_rerun_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = SINGLE.read_text(encoding="utf-8")
    guide = _variant(tmp_path, "update", "--  pear  |   150\n-- (2 rows)", "--  pear  |   999\n-- (2 rows)")
    altered = guide.read_text(encoding="utf-8")
    status = run(["run", str(guide), "--fresh", "--update-expected", "--transcripts", str(tmp_path / "t")])
    out = capsys.readouterr()
    assert status == 0, out.err[-2000:]
    updated = guide.read_text(encoding="utf-8")
    # (not '"-150" in out': the diff's header names the tmp path, which may hold "pytest-150")
    assert updated != altered and not re.search(r"^-(?!--).*\|\s+150\b", out.out, re.M)
    assert "+--  pear  |   150" in out.out
    # every other byte is identical: only the altered line came back to what psql prints
    assert [a for a, b in zip(updated.split("\n"), altered.split("\n"), strict=True) if a != b] == [
        "--  pear  |   150"]
    assert updated.split("\n") == original.split("\n")
    status = run(["run", str(guide), "--fresh", "--update-expected", "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert status == 0 and "no expected output to rewrite" in err
    assert guide.read_text(encoding="utf-8") == updated


def test_update_expected_writes_nothing_for_checks_not_reached(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = SINGLE.read_text(encoding="utf-8").replace("--  pear  |   150", "--  pear  |   999")
    text = text.replace("sudo -H systemctl restart postgresql", "sudo -H systemctl restart postgresql\nfalse")
    guide = tmp_path / "unreached.md"
    guide.write_text(text, encoding="utf-8")
    status = run(["run", str(guide), "--fresh", "--update-expected", "--transcripts", str(tmp_path / "t")])
    assert status == 1
    assert guide.read_text(encoding="utf-8") == text


def test_until_then_from_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = tmp_path / "resume.md"
    guide.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")
    try:
        status, first, _ = _report(tmp_path, guide, "--keep", "--until", "configure-primary")
        assert status == 0
        assert [s["status"] for s in first["steps"]] == ["passed", "passed", "skipped"]
        status, second, _ = _report(tmp_path, guide, "--keep", "--from", "check-data", fresh=False)
        assert status == 0
        assert [s["status"] for s in second["steps"]] == ["skipped", "skipped", "passed"]
    finally:
        down("resume")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup installs it)")
def test_live_progress_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal (tmux), what runs now is shown per host with its elapsed time, then replaced by
    the result lines and the summary table."""
    session = f"rb-{os.getpid()}"
    runbook = Path(sys.executable).parent / "runbook"
    done = tmp_path / "done"
    guide = tmp_path / SINGLE.name  # one action that lasts a second: the display refreshes 4 times a second
    text = SINGLE.read_text(encoding="utf-8")
    assert "sudo -u postgres -H createuser ${USER}\n" in text
    guide.write_text(text.replace("sudo -u postgres -H createuser ${USER}\n",
                                  "sudo -u postgres -H createuser ${USER}\nsleep 1\n", 1), encoding="utf-8")
    cmd = f"{runbook} run {guide} --fresh --transcripts {tmp_path / 't'}; echo $? > {done}; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "50", cmd], check=True)
    try:
        seen_running = False
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout
            seen_running = seen_running or bool(re.search(r"> check-data#1\s+primary\s+running\s+\d", pane))
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        assert seen_running
        assert "running" not in pane  # transient: gone once the action ended
        assert re.search(r"install-postgresql#1\s+primary\s+passed", pane)
        assert "PASSED" in pane and "┃ step" in pane
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
