"""The sandbox as a security boundary (issue 18, points 1-3), checked from outside with real hosts.

Each test brings up its own sandbox (a temporary root) and looks at the machine: what a host's root
writes lands in the host's writable layer only; root inside is an unprivileged id range outside;
a host sees only its own processes; limits on processes and memory hold; ``up`` changes nothing on
the machine; what the machine lacks is named (exit 3); a user's mistake is a usage error (exit 2).
The hostile guides run by ``runbook run`` are in tests/security/ (another suite).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import bound_pg_version

from runner.cli import sandbox as sandbox_cli
from runner.sandbox import (
    MEMORY_LIMIT,
    PIDS_LIMIT,
    Sandbox,
    SandboxError,
    SandboxHost,
    SandboxUsageError,
    cleanup_all,
    missing,
)
from runner.sandbox import machine as machine_mod

SKIP = None if os.geteuid() == 0 and not missing() else f"the sandbox cannot run here: {missing() or 'not root'}"
pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    r = Path(tempfile.mkdtemp(prefix="runbook-walls-test-"))
    try:
        yield r
    finally:
        cleanup_all(r)
        shutil.rmtree(r, ignore_errors=True)


@pytest.fixture(scope="module")
def box(root: Path) -> Iterator[Sandbox]:
    sb = Sandbox(f"walls-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.231")], root=root, network="loopback")
    sb.up()
    try:
        yield sb
    finally:
        sb.down(fast=True)


def _root(sb: Sandbox, script: str, timeout: float = 60) -> str:
    cp = sb.run("h", ["bash", "-c", script], timeout=timeout)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "dir"
        elif p.exists():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


MACHINE_FILES = [Path(p) for p in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/sudoers",
                                   "/etc/sudoers.d", "/etc/subuid", "/etc/subgid", "/var/lib/dpkg/status")]


def test_up_and_down_change_nothing_on_the_machine(root: Path) -> None:
    """The guide's user (here a new one) and its sudoers file exist inside the hosts only; no package
    is installed; /etc/passwd, /etc/sudoers.d, dpkg's state are the same before, during and after."""
    user = f"rb{uuid.uuid4().hex[:6]}"
    before = _digest(MACHINE_FILES)
    homes = sorted(os.listdir("/home"))
    sb = Sandbox(f"quiet-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.232")], root=root, user=user,
                 network="loopback")
    try:
        sb.up()
        assert _digest(MACHINE_FILES) == before
        inside = sb.run("h", ["bash", "-c", f"id -un {user}; sudo -l -U {user}; ls /home"]).stdout
        assert user in inside and "NOPASSWD: ALL" in inside
        assert sb.run("h", ["sudo", "-n", "id", "-u"], user=user).stdout.strip() == "0"
    finally:
        sb.down()
    assert _digest(MACHINE_FILES) == before
    assert sorted(os.listdir("/home")) == homes
    with pytest.raises(KeyError):
        import pwd

        pwd.getpwnam(user)


def test_writes_of_root_land_in_the_hosts_layer(box: Sandbox) -> None:
    """Root inside writes to /etc, /usr, /var/tmp, /root, /home: the files are in the host's writable
    layer (owned by the sandbox's unprivileged uid outside), never on the machine; gone after down."""
    tag = uuid.uuid4().hex[:8]
    paths = [f"/etc/canary-{tag}", f"/usr/local/bin/canary-{tag}", f"/var/tmp/canary-{tag}", f"/root/canary-{tag}",
             f"/home/canary-{tag}"]
    _root(box, "; ".join(f"echo {tag} > {p}" for p in paths) + f"; cat {paths[0]}")
    for p in paths:
        assert not Path(p).exists(), f"{p} reached the machine"
    upper = box.host_root("h") / "layer" / "rw" / "upper" / "etc" / f"canary-{tag}"
    assert upper.read_text().strip() == tag
    base = box.ids().base
    assert upper.stat().st_uid == base and base >= 65536  # root inside = an unprivileged uid outside
    assert _root(box, f"stat -c %U {paths[0]}").strip() == "root"


def test_root_inside_is_unprivileged_outside(box: Sandbox) -> None:
    """uid 0 inside maps to the sandbox's range; the machine's files appear owned by root inside
    (idmapped lower layers: sudo works), but the machine's password hashes are not there."""
    uid_map = _root(box, "cat /proc/self/uid_map").split()
    assert uid_map[0] == "0" and int(uid_map[1]) == box.ids().base and uid_map[2] == "65536"
    assert _root(box, "stat -c %U:%a /usr/bin/sudo /etc/sudo.conf").split() == ["root:4755", "root:644"]
    shadow_inside = _root(box, "cat /etc/shadow")
    hashes = [line.split(":")[1] for line in Path("/etc/shadow").read_text().splitlines()
              if len(line.split(":")) > 1 and len(line.split(":")[1].lstrip("!*")) > 3]
    assert not [h for h in hashes if h in shadow_inside]
    assert not _root(box, "ls /etc/ssh/ 2>/dev/null | grep _key$ || true").strip()
    # what the machine keeps from its users: not shown
    for d in ("/var/backups", "/var/lib/runbook", "/var/spool", "/var/mail"):
        assert not _root(box, f"ls -A {d}").strip(), d


def test_a_host_sees_only_its_own_processes(box: Sandbox) -> None:
    me = str(os.getpid())
    out = _root(box, "ps -e -o pid=,comm=")
    rows = [line.split(None, 1) for line in out.splitlines() if line.strip()]
    assert rows and len(rows) < 10, out
    assert ["1", "tini"] in [[p, c.strip()] for p, c in rows]
    assert not [r for r in rows if r[1].strip() in ("pytest", "process_api", "python")] and me not in out.split()
    # the machine's processes cannot be reached through /proc either
    cp = box.run("h", ["bash", "-c", f"ls /proc/{os.getpid()}/root"])
    assert cp.returncode != 0


def test_a_process_that_leaves_the_host_is_killed_by_down(root: Path) -> None:
    """setsid + unshare (new session, mount, UTS, IPC and PID namespaces) and a nohup'ed process: all
    are still in the host's cgroups, and none runs after ``down``."""
    sb = Sandbox(f"leave-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.233")], root=root, network="loopback")
    sb.up()
    try:
        _root(sb, "setsid unshare --fork --pid --mount --uts --ipc sleep 1001 </dev/null >/dev/null 2>&1 & "
                  "nohup sleep 1002 </dev/null >/dev/null 2>&1 &")
        cgroup = Path(sb._state().hosts[0].cgroups["pids"])
        deadline = time.monotonic() + 5
        sleepers: list[int] = []
        while len(sleepers) < 2 and time.monotonic() < deadline:
            sleepers = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()
                        if Path(f"/proc/{p}/cmdline").read_bytes().startswith(b"sleep\x00100")]
            time.sleep(0.05)
        assert len(sleepers) == 2
    finally:
        sb.down(fast=True)
    alive = [p for p in sleepers if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()[0] not in ("Z", "X")]
    assert not alive
    assert not cgroup.exists()


def test_fork_bomb_is_bounded_and_named(box: Sandbox) -> None:
    """Forking without end stops at the host's process limit (the fork fails), and ``diagnose``
    names it; the host still works afterwards."""
    code = ("import os, time, sys\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        print('forks', n); sys.stdout.flush(); os._exit(0)\n"
            "    if pid == 0:\n        time.sleep(30); os._exit(0)\n    n += 1\n")
    t0 = time.monotonic()
    out = _root(box, f"python3 -c {__import__('shlex').quote(code)}; pkill -x python3 || true")
    n = int(out.split("forks")[1].split()[0])
    assert 0 < n < PIDS_LIMIT
    note = box.diagnose("h") or ""
    assert f"limit of {PIDS_LIMIT} processes" in note
    print(f"\nfork bomb stopped after {n} forks, {time.monotonic() - t0:.2f}s")
    assert _root(box, "echo still-here").strip() == "still-here"


def test_memory_hog_is_killed_and_named(box: Sandbox) -> None:
    """A process taking 2 GiB is killed at the host's memory limit; ``diagnose`` names it."""
    assert MEMORY_LIMIT < 2 * 2**30
    cp = box.run("h", ["python3", "-c", "b = bytearray(2 * 2**30); print('held', len(b))"], timeout=120)
    assert cp.returncode != 0 and "held" not in cp.stdout
    note = box.diagnose("h") or ""
    assert "memory limit" in note, note


def test_sandboxes_have_ranges_of_their_own(root: Path, box: Sandbox) -> None:
    other = Sandbox(f"other-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.234")], root=root, network="loopback")
    other.up()
    try:
        assert other.ids().base != box.ids().base
        assert abs(other.ids().base - box.ids().base) >= 65536
    finally:
        other.down(fast=True)


def test_up_names_what_the_machine_lacks(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Without subordinate ids for root, ``up`` changes nothing and says what to run (exit 3)."""
    empty = (tmp_path / "subuid", tmp_path / "subgid")
    for f in empty:
        f.write_text("")
    monkeypatch.setattr(machine_mod, "SUBID_FILES", empty)
    sb = Sandbox(f"lack-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.235")], root=root, network="loopback")
    with pytest.raises(SandboxError) as err:
        sb.up()
    assert err.value.exit_status == 3
    assert "subordinate ids" in str(err.value) and "runbook sandbox setup" in str(err.value)
    assert not sb.dir.exists()
    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    args = parser.parse_args(["up", "guide.md", "--root", str(root)])
    assert sandbox_cli.run(args, [SandboxHost("h", "127.0.0.235")], sb.name) == 3
    assert "subordinate ids" in capsys.readouterr().err
    assert all(f.read_text() == "" for f in empty)


def test_users_mistakes_are_usage_errors(root: Path, box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    args = parser.parse_args(["up", "guide.md", "--root", str(root)])
    assert sandbox_cli.run(args, [SandboxHost("h", "127.0.0.236")], "bad name!") == 2
    assert "invalid sandbox name" in capsys.readouterr().err
    # the same sandbox with other hosts while it is up: "run down first"
    with pytest.raises(SandboxUsageError, match="run `runbook sandbox down` first"):
        Sandbox(box.name, [SandboxHost("x", "127.0.0.237")], root=root, network="loopback").up()
    assert sandbox_cli.run(args, [SandboxHost("x", "127.0.0.237")], box.name) == 2
    assert box.is_up()


def test_pgroonga_of_the_machine_is_visible_in_hosts(box: Sandbox) -> None:
    control = Path(f"/usr/share/postgresql/{bound_pg_version()}/extension/pgroonga.control")
    if not control.exists():
        pytest.skip("PGroonga is not installed on this machine")
    assert _root(box, f"cat {control}") == control.read_text()


def test_the_machines_folders_stay_read_only(root: Path) -> None:
    """The machine's folders are only ever the read-only lower layer of an overlay: root inside that
    unmounts the overlays and remounts what is below read-write still writes nothing on the machine."""
    tag = f"rbro-{uuid.uuid4().hex[:8]}"
    sb = Sandbox(f"ro-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.238")], root=root, network="loopback")
    sb.up()
    try:
        mounts = _root(sb, "cat /proc/self/mountinfo")
        assert " /.lower" not in mounts and "idmapped" not in mounts
        # (the last one, /usr, takes the commands with it: only bash's builtins write after it)
        script = "".join(f"umount -l {m}; mount -o remount,rw,bind {m}; echo x > {m}/{tag} && echo wrote-{m}; "
                         for m in ("/var/cache/runbook/clusters", "/var", "/etc", "/usr"))
        out = sb.run("h", ["/bin/bash", "-c", script]).stdout
        for d in ("/usr", "/etc", "/var", "/var/cache/runbook/clusters"):
            assert f"wrote-{d}\n" in out  # the write went somewhere: the host's own layer
            assert not Path(d, tag).exists(), f"{d}/{tag} reached the machine"
    finally:
        sb.down(fast=True)


def test_the_observer_stays_inside_the_host(root: Path, tmp_path: Path) -> None:
    """The observer (runner/running/observe.py) reaches a host's server as the hosts' postgres, from the host's
    own root: it answers; and after the guide replaces the socket by a link to a Unix socket of the
    machine, it never connects to the machine's socket."""
    import socket
    import threading

    from runner.running.observe import Observer

    version = sorted(p.name for p in Path("/usr/lib/postgresql").iterdir())[-1]
    sb = Sandbox(f"obs-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.239")], root=root, network="loopback")
    machine_sock = Path(tempfile.mkdtemp(prefix="rbobs-", dir="/var/tmp")) / "s.sock"
    hits: list[int] = []
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(machine_sock))
    os.chmod(machine_sock.parent, 0o755)
    os.chmod(machine_sock, 0o777)
    listener.listen()
    listener.settimeout(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                c, _ = listener.accept()
                hits.append(1)
                c.close()
            except OSError:
                pass

    stop = threading.Event()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    observer = None
    try:
        sb.up()
        sb.create_cluster("h", version)
        observer = Observer({"h": sb.socket_dir("h")}, sb.postgres_ids(), sb.observer_roots())
        assert observer.query("h", "SELECT current_user") == [("postgres",)]
        observer.close()
        # the guide's root moves the server's socket away and links the machine's in its place
        _root(sb, f"mv /run/postgresql/.s.PGSQL.5432 /run/postgresql/moved; "
                  f"ln -s {machine_sock} /run/postgresql/.s.PGSQL.5432")
        observer = Observer({"h": sb.socket_dir("h")}, sb.postgres_ids(), sb.observer_roots())
        assert observer.query("h", "SELECT 1") is None
        time.sleep(0.3)
        assert not hits, "the observer connected to the machine's socket"
    finally:
        if observer is not None:
            observer.close()
        stop.set()
        t.join()
        listener.close()
        shutil.rmtree(machine_sock.parent, ignore_errors=True)
        sb.down(fast=True)
