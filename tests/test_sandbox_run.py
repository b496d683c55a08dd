"""`runbook run` on the embedded sandbox under stress: two runs at once, interruption (keys pressed
in tmux as a person would, and kill), and faults (postmaster killed, data directory full, a hanging
command, runbook itself killed).  After each, nothing of the sandbox is left: no state folder, no
mount, no process in its namespaces."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXTURES
from e2e import needs_sandbox
from e2e import pids_in as _pids_in
from e2e import variant as _variant
from helpers import bound_pg_version

from runner.reports.schemas import load_report_schema
from runner.sandbox import DEFAULT_ROOT

pytestmark = [needs_sandbox, pytest.mark.sandbox]

PLAIN = FIXTURES / "guides" / "streaming-replication-plain.ja.md"
SINGLE = FIXTURES / "guides" / "single-host.ja.md"
RUNBOOK = Path(sys.executable).parent / "runbook"
CREATEDB = "sudo -u postgres -H createdb --owner ${USER} shop\n"


def _after_createdb(tmp_path: Path, name: str, commands: str) -> Path:
    return _variant(tmp_path, name, CREATEDB, CREATEDB + commands.strip() + "\n")


def _wait_for(path: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} did not appear in {path} within {timeout:g}s")


def _inodes(name: str) -> set[int]:
    state = json.loads((DEFAULT_ROOT / name / "state.json").read_text())
    return {i for h in state["hosts"] for k in ("mnt_ino", "uts_ino", "net_ino") if (i := h.get(k))}


def _processes_naming(text: str) -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    found.append(int(d))
    return found


def _assert_nothing_left(name: str, inodes: set[int], guide: Path) -> None:
    assert inodes
    deadline = time.monotonic() + 5  # the observer's worker ends when its pipe closes
    while (_pids_in(inodes, name) or _processes_naming(str(guide))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pids_in(inodes, name), "processes left in the sandbox's namespaces"
    assert not _processes_naming(str(guide)), "runbook processes left"
    assert not (DEFAULT_ROOT / name).exists(), "state folder left"
    assert str(DEFAULT_ROOT / name) + "/" not in Path("/proc/self/mountinfo").read_text(), "mounts left"
    hosts = Path("/run/runbook-sandbox/hosts")  # the hosts' folders and mounts (docs/sandbox.md)
    assert f"{hosts}/{name}-" not in Path("/proc/self/mountinfo").read_text(), "mounts of its hosts left"
    assert not list(hosts.glob(f"{name}-*")), "folders of its hosts left"


def _start(guide: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(RUNBOOK), "run", str(guide), "--fresh", "--json", str(tmp_path / "r.json"),
                             "--transcripts", str(tmp_path / "t"), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _transcript(tmp_path: Path, guide: Path, host: str = "primary") -> Path:
    return tmp_path / "t" / guide.stem / f"{host}.log"


def _running(guide: Path, tmp_path: Path, seen: str, *extra: str) -> tuple[subprocess.Popen[str], set[int]]:
    """`runbook run GUIDE` started and gone as far as ``seen`` in the primary's transcript; the
    process and the namespaces of its sandbox (named after the guide)."""
    proc = _start(guide, tmp_path, *extra)
    _wait_for(_transcript(tmp_path, guide), seen)
    return proc, _inodes(guide.stem)


# ------------------------------------------------------------------------------------- concurrency


def test_the_same_guide_twice_at_once(tmp_path: Path) -> None:
    """Two runs of the three-host guide at the same time, with the same addresses (192.168.0.30 …):
    each gets a sandbox of its own (one network namespace per host), and both pass."""
    runs = []
    for i in (1, 2):
        d = tmp_path / f"run{i}"
        d.mkdir()
        runs.append((d, subprocess.Popen([str(RUNBOOK), "run", str(PLAIN), "--json", str(d / "r.json"),
                                          "--transcripts", str(d / "t")],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    results = [(d, p.communicate(timeout=300)) for d, p in runs]
    headers = []
    for (d, (_, err)), (_, p) in zip(results, runs, strict=True):
        assert p.returncode == 0, err[-3000:]
        assert json.loads((d / "r.json").read_text())["status"] == "passed"
        assert "Traceback" not in err
        headers.append(next(x for x in err.splitlines() if x.startswith("runbook: ") and " on sandbox" in x))
    if all("network loopback" in h for h in headers):
        pytest.fail("no network namespaces: the two runs could not have run at once")
    assert sum(f"network netns {PLAIN.stem}-2)" in h for h in headers) == 1, headers


# ------------------------------------------------------------------------------------ interruption


def _tmux(session: str, *args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup installs it)")
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_a_terminal(tmp_path: Path, presses: int) -> None:
    """Ctrl-C pressed in a terminal during a long command: the sandbox is torn down (a line says
    so), the report and transcripts are written, exit 130, no traceback from any process.  Pressed
    twice: runbook ends at once and says what may be left; `runbook sandbox down` then removes it."""
    name = f"int{presses}-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "echo sleeping-now; sleep 600")
    session = f"rb-{name}"
    done, log = tmp_path / "done", tmp_path / "err.log"
    cmd = (f"{RUNBOOK} run {guide} --fresh --json {tmp_path / 'r.json'} --transcripts {tmp_path / 't'} "
           f"2> >(tee -i {log} >&2); echo $? > {done}; sleep 120")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", "bash", "-c", cmd],
                   check=True)
    try:
        _wait_for(_transcript(tmp_path, guide), "$ echo sleeping-now; sleep 600")
        inodes = _inodes(name)
        time.sleep(0.3)
        _tmux(session, "send-keys", "-t", session, "C-c")
        if presses == 2:
            time.sleep(0.02)
            _tmux(session, "send-keys", "-t", session, "C-c")
        # the guide's step sleeps 600 s: a run that ignored the keys would still be sleeping here
        deadline = time.monotonic() + 30
        while not (done.exists() and done.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        status = done.read_text().strip() if done.exists() else "still running"
        time.sleep(0.3)
        err = log.read_text()
        pane = _tmux(session, "capture-pane", "-p", "-S", "-500", "-t", session)
    finally:
        _tmux(session, "kill-session", "-t", session)
    assert status == "130", err
    assert "Traceback" not in err and "Traceback" not in pane
    assert "runbook: interrupted by SIGINT" in err
    if presses == 1:
        assert f"runbook: servers stopped, sandbox {name} torn down" in err
        data = json.loads((tmp_path / "r.json").read_text())
        jsonschema.validate(data, load_report_schema())
        assert data["status"] == "interrupted"
        steps = {s["id"]: s["status"] for s in data["steps"]}
        assert steps == {"install-postgresql": "passed", "configure-primary": "passed", "check-data": "interrupted"}
        assert "interrupted (SIGINT): the session was ended" in _transcript(tmp_path, guide).read_text()
    else:
        assert f"interrupted again (SIGINT): stopping at once; sandbox {name} may be left up" in err
        cp = subprocess.run([str(RUNBOOK), "sandbox", "down", "--name", name], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stderr
    _assert_nothing_left(name, inodes, guide)


def test_sigterm_tears_down_and_reports(tmp_path: Path) -> None:
    name = f"term-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "echo sleeping-now; sleep 600")
    proc, inodes = _running(guide, tmp_path, "$ echo sleeping-now; sleep 600")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert "interrupted by SIGTERM" in err and f"servers stopped, sandbox {name} torn down" in err
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "interrupted"
    _assert_nothing_left(name, inodes, guide)


# ------------------------------------------------------------------------------------------ faults


def _failed(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    data = json.loads((tmp_path / "r.json").read_text())
    return next(a for s in data["steps"] for a in s["actions"] if a["status"] == "failed")


def _outside_pid(name: str, host: str, inner: int) -> int:
    """The machine's pid of the host's process ``inner`` (a pid of the host's own PID namespace)."""
    state = json.loads((DEFAULT_ROOT / name / "state.json").read_text())
    cgroup = next(h for h in state["hosts"] if h["name"] == host)["cgroups"]["pids"]
    for pid in Path(cgroup, "cgroup.procs").read_text().split():
        status = Path(f"/proc/{pid}/status").read_text()
        nspid = next(line for line in status.splitlines() if line.startswith("NSpid:")).split()
        if int(nspid[-1]) == inner:
            return int(pid)
    raise AssertionError(f"no process {inner} in {host}")


def test_postmaster_killed_mid_step(tmp_path: Path) -> None:
    name = f"pmkill-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "psql shop -c 'select pg_sleep(60)'")
    proc, inodes = _running(guide, tmp_path, "pg_sleep(60)")
    version = bound_pg_version()
    pidfile = DEFAULT_ROOT / name / "hosts" / "primary" / "lib-postgresql" / version / "main" / "postmaster.pid"
    time.sleep(0.3)
    os.kill(_outside_pid(name, "primary", int(pidfile.read_text().split()[0])), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)  # (pg_sleep(60) on a dead server: a hang would time out here)
    assert proc.returncode == 1, err
    failed = _failed(tmp_path)
    assert f"the PostgreSQL server {version}/main of primary died" in failed["message"]
    assert "server closed the connection unexpectedly" in failed["details"]
    assert "Traceback" not in err
    _assert_nothing_left(name, inodes, guide)


def test_data_directory_out_of_space(tmp_path: Path) -> None:
    name = f"full-{os.getpid()}"
    data = f"/var/lib/postgresql/{bound_pg_version()}/main"
    guide = _after_createdb(tmp_path, name, f"""
sudo -H systemctl stop postgresql
mkdir /tmp/small && sudo mount -t tmpfs -o size=56m tmpfs /tmp/small
sudo cp -a {data} /tmp/small/ && sudo mount --bind /tmp/small/main {data}
sudo -H systemctl start postgresql
psql shop -c "CREATE TABLE big AS SELECT repeat('x', 1000) AS x FROM generate_series(1, 100000)"
""")
    proc, inodes = _running(guide, tmp_path, "CREATE TABLE big", "--timeout", "60")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    failed = _failed(tmp_path)
    # PostgreSQL names it (data file or WAL): "could not extend file …: Check free disk space" or
    # "No space left on device"; the run names the command and its line
    assert re.search(r"could not extend file .*Check free disk space|No space left on device", failed["details"],
                     re.S), failed
    assert failed["message"].startswith("line ") and "CREATE TABLE big" in failed["message"]
    assert "Traceback" not in err
    _assert_nothing_left(name, inodes, guide)


def test_hanging_command_ends_at_its_timeout(tmp_path: Path) -> None:
    name = f"hang-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "echo hanging-now; sleep 600")
    proc, inodes = _running(guide, tmp_path, "$ echo hanging-now", "--timeout", "4")
    _, err = proc.communicate(timeout=60)  # (the command sleeps 600 s: a run that waited would time out here)
    assert proc.returncode == 1, err
    failed = _failed(tmp_path)
    assert "no prompt after 4s" in failed["message"] and "hanging-now" in failed["details"]
    _assert_nothing_left(name, inodes, guide)


def test_runbook_killed_then_down_or_next_run_cleans_up(tmp_path: Path) -> None:
    """kill -9 of runbook leaves its sandbox; `runbook sandbox down` removes it, and so does the next run."""
    name = f"k9-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "echo sleeping-now; sleep 600")
    for cleaner in ("sandbox down", "next run"):
        shutil.rmtree(tmp_path / "t", ignore_errors=True)
        proc, inodes = _running(guide, tmp_path, "$ echo sleeping-now")
        proc.kill()
        proc.communicate(timeout=30)
        assert (DEFAULT_ROOT / name).exists() and _pids_in(inodes)  # left behind, as expected of kill -9
        if cleaner == "sandbox down":
            cp = subprocess.run([str(RUNBOOK), "sandbox", "down", "--name", name], capture_output=True, text=True)
            assert cp.returncode == 0, cp.stderr
        else:
            quick = guide.with_name(f"{name}.md")
            quick.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")  # same name, no hang
            cp = subprocess.run([str(RUNBOOK), "run", str(quick), "--transcripts", str(tmp_path / "t2")],
                                capture_output=True, text=True)
            assert cp.returncode == 0, cp.stderr[-2000:]
            assert re.search(rf"removed sandbox {re.escape(name)}, left by a run that ended abruptly", cp.stderr)
        _assert_nothing_left(name, inodes, guide)


def test_a_sandbox_whose_folder_was_deleted_while_up_is_removed_by_the_next_run_saying_so(tmp_path: Path) -> None:
    """A sandbox kept up (``--keep``) whose folder is then deleted (a user's ``rm -rf``): the next run,
    of another guide, removes what was left of it and says so truly (its folder was deleted while it
    was up, not a run that ended abruptly)."""
    name = f"rmrf-{os.getpid()}"
    guide = tmp_path / f"{name}.md"
    guide.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")
    cp = subprocess.run([str(RUNBOOK), "run", str(guide), "--keep", "--transcripts", str(tmp_path / "t1")],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr[-2000:]
    inodes = _inodes(name)
    subprocess.run(["rm", "-rf", str(DEFAULT_ROOT / name)], capture_output=True)  # (fails on its mounts)
    assert not (DEFAULT_ROOT / name / "state.json").exists() and _pids_in(inodes, name)  # up, without its state
    other = tmp_path / "next" / f"next-{os.getpid()}.md"
    other.parent.mkdir()
    other.write_text(SINGLE.read_text(encoding="utf-8"), encoding="utf-8")
    cp = subprocess.run([str(RUNBOOK), "run", str(other), "--transcripts", str(tmp_path / "t2")],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr[-2000:]
    said = [line for line in cp.stderr.splitlines() if f"sandbox {name} " in line]
    assert len(said) == 1 and said[0].startswith("runbook: removed "), cp.stderr[-2000:]
    assert f"whose folder {DEFAULT_ROOT / name} was deleted while it was up" in said[0]
    assert "ended abruptly" not in said[0]
    _assert_nothing_left(name, inodes, guide)


def test_signal_while_the_sessions_close_still_writes_the_report(tmp_path: Path) -> None:
    """SIGINT after the last step, while the shells are being closed (the guide's shell runs an EXIT
    trap that takes seconds, so closing waits): the report and transcripts are still written, the
    steps keep their results, exit 130, nothing is left."""
    name = f"close-{os.getpid()}"
    guide = _after_createdb(tmp_path, name, "trap 'sleep 20' EXIT")
    proc, inodes = _running(guide, tmp_path, "=> SHOW enable_seqscan;")
    time.sleep(1.5)  # the last check is done; the shells' close waits for the trap (up to 5 s)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)  # (a run that hung on the closing shells would time out here)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    data = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(data, load_report_schema())
    assert data["status"] == "interrupted"
    assert [s["status"] for s in data["steps"]] == ["passed", "passed", "passed"]
    assert "=> SHOW enable_seqscan;" in _transcript(tmp_path, guide).read_text()
    _assert_nothing_left(name, inodes, guide)
