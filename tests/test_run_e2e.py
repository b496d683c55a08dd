"""`runbook run` end to end on the embedded sandbox: real servers, real psql, real files."""

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
from conftest import FIXTURES, GUIDES, SEED_JA
from e2e import down, needs_sandbox
from e2e import variant as _variant
from helpers import bound_pg_version

from runner.cli import main as run
from runner.planning.environment import pgroonga_installed

pytestmark = [needs_sandbox, pytest.mark.sandbox]

PLAIN = FIXTURES / "guides" / "streaming-replication-plain.ja.md"
SINGLE = FIXTURES / "guides" / "single-host.ja.md"
SECRET = "passw0rd"


def _all_text(*paths: Path) -> str:
    out = []
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        out += [f.read_text(encoding="utf-8", errors="replace") for f in files]
    return "\n".join(out)


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


def _report(tmp_path: Path, guide: Path, *extra: str, fresh: bool = True) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """Run ``guide`` (on a fresh sandbox unless ``fresh`` is False: a kept one is then reused)."""
    report = tmp_path / f"{guide.stem}.json"
    status = run(["run", str(guide), "--json", str(report), "--transcripts", str(tmp_path / "t"), *extra,
                  *(["--fresh"] if fresh else [])])
    return status, json.loads(report.read_text()), ""


def _failed(data: dict) -> dict:  # type: ignore[type-arg]
    return next(a for s in data["steps"] for a in s["actions"] if a["status"] == "failed")


def test_fault_failing_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-command", "sudo -H systemctl restart postgresql",
                     "sudo -H systemctl restart postgresql\nls /no/such/dir")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    assert failed["step"] == "configure-primary" and "status 2" in failed["message"]
    assert "ls /no/such/dir" in failed["message"] and "No such file" in failed["details"]
    steps = {s["id"]: s["status"] for s in data["steps"]}
    assert steps == {"install-postgresql": "passed", "configure-primary": "failed", "check-data": "not-run"}


def test_fault_check_does_not_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-check", "--  pear  |   150", "--  pear  |   170")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    (check,) = [c for c in failed["checks"] if c["status"] == "failed"]
    assert check["problems"] == ["row 2, price: expected '170', got '150'"]
    text = guide.read_text().split("\n")
    assert text[check["line"] - 1].startswith("SELECT name, price")
    assert "expected at line" in failed["message"]


def test_fault_before_text_missing_leaves_file_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.sandbox import Sandbox

    guide = _variant(tmp_path, "fault-before", "#listen_addresses = 'localhost'", "#listen_addresses = 'nowhere'")
    try:
        status, data, _ = _report(tmp_path, guide, "--keep")
        assert status == 1
        failed = _failed(data)
        assert "before text is not in the file" in failed["message"] and "file left untouched" in failed["message"]
        assert "#listen_addresses = 'nowhere'" in failed["details"]
        assert "#listen_addresses = 'localhost'" in failed["details"]  # the closest line is shown
        sb = Sandbox.load(guide.stem)
        v = bound_pg_version()
        conf = sb.run("primary", ["cat", f"/etc/postgresql/{v}/main/postgresql.conf"]).stdout
        sample = Path(f"/usr/share/postgresql/{v}/postgresql.conf.sample").read_text()
        assert "#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;" in conf
        assert sb.run("primary", ["ls", f"/etc/postgresql/{v}/main/"]).stdout.count("runbook") == 0
        assert len(conf.splitlines()) == len(sample.splitlines())
    finally:
        down(guide.stem)


def test_fault_hanging_command_times_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-hang", "sudo -H systemctl restart postgresql",
                     "echo waiting-for-godot; sleep 600")
    status, data, _ = _report(tmp_path, guide, "--timeout", "15")
    assert status == 1
    failed = _failed(data)
    assert "no prompt after 15s" in failed["message"]
    assert "waiting-for-godot" in failed["details"]


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


def test_sandbox_refuses_addresses_outside_loopback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.sandbox import DEFAULT_ROOT

    guide = _variant(tmp_path, "unsafe", "sudo -H systemctl restart postgresql",
                     "sudo -H systemctl restart postgresql\npsql --host 10.20.30.40 --command 'SELECT 1' blog")
    status = run(["run", str(guide)])
    err = capsys.readouterr().err
    assert status == 4
    assert re.search(r"unsafe\.md:\d+: unsafe-address: command would reach 10\.20\.30\.40", err)
    assert not (DEFAULT_ROOT / "unsafe").exists()


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


def test_fault_prompt_that_never_comes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-prompt", "```bash\nsudo -H systemctl restart postgresql\n```",
                     "```console\n$ echo no-prompt-here\nPassword: (secret)\n```")
    status, data, _ = _report(tmp_path, guide, "--timeout", "5")
    assert status == 1
    failed = _failed(data)
    assert "the prompt 'Password:' never came" in failed["message"]
    assert "no-prompt-here" in failed["details"]


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


def test_a_block_for_several_hosts_runs_on_them_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The install block of the plain guide is for the primary and both standbys: it runs on the
    three at the same time. The block prints when it begins and ends on each host (the hosts share
    the machine's clock): every host began before any ended."""
    text = PLAIN.read_text(encoding="utf-8")
    block = "```bash\nsudo apt install -y gpg lsb-release wget\n"
    assert text.count(block) == 1
    guide = tmp_path / "block-at-once.ja.md"
    guide.write_text(text.replace(block, "```bash\necho rbt-begin $(date +%s%N); sleep 1; echo rbt-end $(date +%s%N)\n"
                                  + block.removeprefix("```bash\n")), encoding="utf-8")
    transcripts = tmp_path / "t"
    status = run(["run", str(guide), "--fresh", "--until", "install-postgresql", "--transcripts", str(transcripts)])
    assert status == 0, capsys.readouterr().err[-3000:]
    seen = {}
    for host in ("primary", "standby1", "standby2"):
        log = (transcripts / "block-at-once.ja" / f"{host}.log").read_text(errors="replace")
        begin, end = (re.findall(rf"^(?:[\d:]+ )?rbt-{what} (\d+)\s*$", log, re.M) for what in ("begin", "end"))
        assert len(begin) == len(end) == 1, log[-2000:]
        seen[host] = (int(begin[0]), int(end[0]))
    assert max(b for b, _ in seen.values()) < min(e for _, e in seen.values()), seen


def test_per_host_variants_run_at_once_only_where_they_cannot_interfere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The `Standby1:` / `Standby2:` pg_basebackup blocks (the same block, each with its own slot
    name) both copy from the primary: they run one after the other, as a person runs them (at once,
    one's checkpoint can remove WAL the other still needs). Blocks that reach no other host run on
    their hosts at the same time. The report keeps the guide's order either way. Each block prints
    when it begins and ends (the hosts share the machine's clock), so the test compares the order of
    those events, not durations."""
    text = PLAIN.read_text(encoding="utf-8")
    block = "```console\n$ sudo -u postgres -H pg_basebackup"
    assert text.count(block) == 2
    ids = ("pg-basebackup-standbys#2", "pg-basebackup-standbys#3")
    mark = "$ echo rbt-begin $(date +%s%N); sleep {s}; echo rbt-end $(date +%s%N)\n"

    def events(name: str, guide_text: str) -> dict[str, tuple[int, int]]:
        guide = tmp_path / f"{name}.ja.md"
        guide.write_text(guide_text, encoding="utf-8")
        report = tmp_path / f"{name}.json"
        transcripts = tmp_path / f"t-{name}"
        status = run(["run", str(guide), "--fresh", "--json", str(report), "--transcripts", str(transcripts),
                      "--until", "pg-basebackup-standbys"])
        assert status == 0, capsys.readouterr().err[-3000:]
        (step,) = [s for s in json.loads(report.read_text())["steps"] if s["id"] == "pg-basebackup-standbys"]
        variants = [a for a in step["actions"] if a["action"] in ids]
        assert [(a["action"], a["host"], a["status"]) for a in variants] == [
            (ids[0], "standby1", "passed"), (ids[1], "standby2", "passed")]
        seen = {}
        for host in ("standby1", "standby2"):
            log = "\n".join(p.read_text(errors="replace") for p in transcripts.rglob(f"{host}*.log"))
            begin, end = (re.findall(rf"^(?:[\d:]+ )?rbt-{what} (\d+)\s*$", log, re.M) for what in ("begin", "end"))
            assert len(begin) == len(end) == 1, log[-2000:]
            seen[host] = (int(begin[0]), int(end[0]))
        return seen

    # copying from the primary: one after the other
    seen = events("variants-in-order", text.replace(block, "```console\n" + mark.format(s=1) +
                                                    "$ sudo -u postgres -H pg_basebackup"))
    assert seen["standby1"][1] <= seen["standby2"][0]  # standby2's block began after standby1's ended
    # blocks that reach only their own host: at once
    local = re.sub(r"```console\n\$ sudo -u postgres -H pg_basebackup --create-slot --slot (standby\d) .*?```",
                   "```console\n" + mark.format(s=2).replace("\\", "\\\\") + "```", text, flags=re.S)
    seen = events("variants-at-once", local)
    assert seen["standby2"][0] < seen["standby1"][1] and seen["standby1"][0] < seen["standby2"][1]  # overlapping


def test_output_over_the_cap_fails_its_check_and_passes_unchecked(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Output over runbook's cap (4 MB kept of one command's output, head and tail): a command nobody
    checks passes with a note; a check of such output fails with a clear message, never comparing
    what is left."""
    from runner.running.capture import OUTPUT_CAP

    guide = _variant(tmp_path, "over-cap", "```bash\nsudo -H systemctl restart postgresql\n```",
                     "```bash\nsudo -H systemctl restart postgresql\nseq 1 1000000\n```\n\n"
                     "```console\n$ seq 2 1000000\n2\n3\n```")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    unchecked = len("".join(f"{i}\n" for i in range(1, 1_000_001))) - OUTPUT_CAP
    checked = unchecked - len("1\n")
    failed = _failed(data)
    assert failed["message"].endswith(f"output over the 4 MB cap: {checked} bytes dropped: not compared with the "
                                      "guide's output"), failed["message"]
    notes = [n for s in data["steps"] for a in s["actions"] for n in a.get("notes", [])]
    assert any(n.endswith(f"output over the 4 MB cap: {unchecked} bytes dropped (not checked)") for n in notes), notes
    transcript = _all_text(*(tmp_path / "t").rglob("*.log"))
    assert f"[runbook: output over the 4 MB cap: {unchecked} bytes dropped here]" in transcript


def test_sql_output_over_the_cap_fails_its_check_and_passes_unchecked(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same cap for one SQL statement's output (real psql): a statement whose result nobody checks
    passes with a note, a checked one fails with the cap's message."""
    guide = _variant(tmp_path, "over-cap-sql", "SET enable_seqscan TO off;\nSELECT name, price FROM items",
                     "SELECT repeat('x', 3000000) AS big;\nSET enable_seqscan TO off;\n"
                     "SELECT name, price, repeat('y', 3000000) AS pad FROM items")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    # aligned output: the header centred over 3 MB, the dashes and the values (3 MB each): over 9 MB
    m = re.search(r"output over the 4 MB cap: (\d+) bytes dropped: not compared with the guide's output$",
                  failed["message"])
    assert m and int(m.group(1)) > 9_000_000 - 4 * 1024 * 1024, failed["message"]
    notes = [n for s in data["steps"] for a in s["actions"] for n in a.get("notes", [])]
    assert any(re.search(r"output over the 4 MB cap: \d+ bytes dropped \(not checked\)$", n) for n in notes), notes
    assert not any(c["status"] == "failed" and c["problems"] for c in failed["checks"]), failed["checks"]
