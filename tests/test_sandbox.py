"""Real tests of the embedded sandbox (runner/sandbox.py): namespaces, mounts, PostgreSQL servers.

Tests marked ``sandbox`` need root, util-linux's unshare/nsenter and Debian's PostgreSQL packages;
they are skipped with a reason otherwise.  They use their own sandbox root (a temporary folder)
and always run ``down``.  The three-host sandbox has a network namespace per host with the
guide-like addresses 192.168.0.30-32 (skipped where the machine cannot create network
namespaces); the loopback fallback is tested with addresses 127.0.0.2xx that nothing else
listens on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e import pids_in as _pids_in

from runner.cli import sandbox as sandbox_cli
from runner.running.session import HostShell, Masker, SessionError, Transcript
from runner.sandbox import (
    SPEED_CONF_NAME,
    SPEED_SETTINGS,
    Sandbox,
    SandboxError,
    SandboxHost,
    cleanup_all,
    list_sandboxes,
    netns_unavailable,
)
from runner.sandbox.state import start_time

REPO = Path(__file__).resolve().parents[1]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the embedded sandbox needs root"
    for tool in ("unshare", "nsenter", "setpriv"):
        if not shutil.which(tool):
            return f"{tool} (util-linux) is missing"
    if not shutil.which("pg_createcluster") or not Path("/usr/lib/postgresql").is_dir():
        return "PostgreSQL (Debian's postgresql-common + postgresql-NN) is not installed"
    if not shutil.which("sudo") and not shutil.which("apt-get"):
        return "sudo is missing and cannot be installed"
    return None


SKIP = _skip_reason()
needs_sandbox = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
NO_NETNS = SKIP or netns_unavailable()
needs_netns = pytest.mark.skipif(NO_NETNS is not None, reason=f"no network namespaces here: {NO_NETNS}")
ADDRS = ["192.168.0.30", "192.168.0.31", "192.168.0.32"]


def _pg_version() -> str:
    versions = sorted(
        (p.name for p in Path("/usr/lib/postgresql").iterdir() if (p / "bin" / "postgres").exists()),
        key=lambda v: float(v),
    )
    return versions[-1]


def _listening(address: str, port: int = 5432) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((address, port)) == 0


def _free_addresses(n: int, start: int = 150) -> list[str]:
    """n loopback addresses on which nothing listens on 5432 (other sandboxes may be running)."""
    out: list[str] = []
    last = start
    while len(out) < n:
        if last > 250:
            pytest.skip("no free 127.0.0.x addresses for the test sandbox")
        a = f"127.0.0.{last}"
        last += 1
        if not _listening(a):
            out.append(a)
    return out


def _uname(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sb_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="runbook-sandbox-test-"))
    try:
        yield root
    finally:
        if os.geteuid() == 0:
            cleanup_all(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def three(sb_root: Path) -> Iterator[Sandbox]:
    """A sandbox of three hosts (primary, standby1, standby2), each in its own network namespace with
    the guide-like addresses 192.168.0.30-32; clusters created in primary and standby1."""
    if NO_NETNS:
        pytest.skip(NO_NETNS)
    sb = Sandbox(
        _uname("t3"),
        [
            SandboxHost("primary", ADDRS[0]),
            SandboxHost("standby1", ADDRS[1]),
            SandboxHost("standby2", ADDRS[2]),
        ],
        root=sb_root,
        network="netns",
    )
    try:
        t = time.monotonic()
        sb.up()
        print(f"\nup (3 hosts): {time.monotonic() - t:.2f}s")
        yield sb
    finally:
        t = time.monotonic()
        sb.down()
        print(f"\ndown (3 hosts): {time.monotonic() - t:.2f}s")


def _shell(sb: Sandbox, host: str, script: str, timeout: float = 30) -> str:
    """Run ``script`` in the user's interactive shell (pexpect), return its output."""
    import pexpect

    argv = sb.shell_argv(host)
    child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=timeout, echo=False)
    try:
        child.setecho(False)
        child.sendline("PS1='PROMPT> '; stty -echo")
        child.expect("PROMPT> ")
        child.sendline(script + "; echo __RC=$?__")
        child.expect(r"__RC=(\d+)__")
        out = child.before
        rc = child.match.group(1)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert rc == "0", f"{script!r} failed in {host}: {out}"
    return out


# ----------------------------------------------------------------------------- no root needed


@pytest.mark.parametrize(
    "address", ["192.168.0.30", "10.0.0.5", "172.16.1.1", "8.8.8.8", "127.0.0.1", "nonsense"]
)
def test_up_refuses_non_loopback_address(address: str, tmp_path: Path) -> None:
    sb = Sandbox(_uname("bad"), [SandboxHost("primary", address)], root=tmp_path)
    with pytest.raises(SandboxError, match="address"):
        sb.up()
    assert not (tmp_path / sb.name).exists()


@pytest.mark.parametrize("address", ["8.8.8.8", "127.0.0.30", "169.254.1.1", "224.0.0.1", "192.168.0.255", "x"])
def test_netns_refuses_public_loopback_and_special_addresses(address: str, tmp_path: Path) -> None:
    sb = Sandbox(_uname("bad"), [SandboxHost("primary", address)], root=tmp_path, network="netns")
    with pytest.raises(SandboxError, match="address"):
        sb.up()
    assert not (tmp_path / sb.name).exists()


def test_invalid_names_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError):
        Sandbox("bad/name", [SandboxHost("a", "127.0.0.30")], root=tmp_path)
    with pytest.raises(SandboxError):
        Sandbox("ok", [SandboxHost("a b", "127.0.0.30")], root=tmp_path)
    with pytest.raises(SandboxError, match="share"):
        Sandbox("ok", [SandboxHost("a", "127.0.0.30"), SandboxHost("b", "127.0.0.30")], root=tmp_path).up()


def test_create_cluster_command_and_speed_switch(tmp_path: Path) -> None:
    hosts = [SandboxHost("primary", "127.0.0.30")]
    fast = Sandbox("s", hosts, root=tmp_path).create_cluster_command("15")
    assert fast.startswith("sudo runbook-createcluster 15 main 5432 && ")  # the cached template
    assert f"/etc/postgresql/15/main/conf.d/{SPEED_CONF_NAME}" in fast
    for s in SPEED_SETTINGS:
        assert f"{s.name} = {s.value}" in fast
    assert fast.rstrip().endswith("sudo systemctl start postgresql@15-main")  # the shim's fast start
    slow = Sandbox("s", hosts, root=tmp_path, speed=False).create_cluster_command("15")
    assert SPEED_CONF_NAME not in slow
    assert slow.startswith("sudo pg_createcluster --port 5432 15 main && ")
    assert "runbook-createcluster" not in slow
    assert slow.rstrip().endswith("sudo pg_ctlcluster 15 main start")
    with pytest.raises(SandboxError):
        Sandbox("s", hosts, root=tmp_path).create_cluster_command("15; rm -rf /")


def test_docs_list_every_speed_setting() -> None:
    doc = (REPO / "docs" / "sandbox.md").read_text()
    for s in SPEED_SETTINGS:
        assert s.name in doc


@pytest.mark.parametrize("shim", ["systemctl", "runbook-createcluster"])
def test_shims_are_valid_bash(shim: str) -> None:
    path = REPO / "runner" / "data" / shim
    assert os.access(path, os.X_OK)
    subprocess.run(["bash", "-n", str(path)], check=True)


# ----------------------------------------------------------------------------- real hosts


@pytest.mark.sandbox
@needs_sandbox
def test_hosts_identity(three: Sandbox) -> None:
    assert three.is_up()
    for h in three.hosts:
        assert three.run(h.name, ["hostname"]).stdout.strip() == h.name
        assert three.run(h.name, ["cat", "/etc/hostname"]).stdout.strip() == h.name
        got = three.run(h.name, ["getent", "ahostsv4", "localhost"]).stdout.split()
        assert got[0] == "127.0.0.1"  # the host's own lo, as on a real machine
        for other in three.hosts:  # every host's name resolves to the guide's address
            assert three.run(h.name, ["getent", "hosts", other.name]).stdout.split()[0] == other.address
        # its own network: lo and eth0 with the guide's address, a route to each other host, no default route
        addrs = three.run(h.name, ["ip", "-4", "-o", "addr", "show"]).stdout
        assert f"inet {h.address}/32" in addrs and "inet 127.0.0.1/8" in addrs
        routes = three.run(h.name, ["ip", "route", "show"]).stdout
        assert "default" not in routes
        assert sorted(r.split()[0] for r in routes.splitlines()) == sorted(
            o.address for o in three.hosts if o.name != h.name
        )
        # the machine's clusters are not visible: a host starts with none
        assert three.run(h.name, ["pg_lsclusters", "-h"]).stdout.strip() == ""
        assert three.run(h.name, ["ls", "-A", "/var/lib/postgresql"]).stdout.split() == [
            f for f in os.listdir(three.host_root(h.name) / "lib-postgresql")
        ]
        cp = three.run(h.name, ["sudo", "-n", "true"], user=three.user)
        assert cp.returncode == 0, cp.stderr
        assert "unable to resolve" not in cp.stderr
        cp = three.run(
            h.name,
            [
                "stat",
                "-c",
                "%U:%G %a",
                "/etc/postgresql",
                "/var/lib/postgresql",
                "/var/run/postgresql",
                "/var/log/postgresql",
            ],
        )
        assert cp.stdout.split("\n")[:4] == [
            "postgres:postgres 755",
            "postgres:postgres 755",
            "postgres:postgres 2775",
            "root:postgres 1775",
        ]


@pytest.mark.sandbox
@needs_sandbox
def test_interactive_shell_is_the_users(three: Sandbox) -> None:
    out = _shell(
        three, "standby2", 'echo "user=$USER home=$HOME host=$(hostname)"; tty; sudo -n true && echo sudo-ok'
    )
    assert f"user={three.user} home=/home/{three.user} host=standby2" in out
    assert "/dev/pts/" in out
    assert "sudo-ok" in out
    assert "no job control" not in out


@pytest.mark.sandbox
@needs_sandbox
def test_up_is_idempotent(three: Sandbox) -> None:
    def inits() -> list[list[int]]:  # each host's init process (pid, start time), as the state records it
        state = json.loads((three.dir / "state.json").read_text())
        return [h["init"] for h in state["hosts"]]

    before = [three.run(h.name, ["readlink", "/proc/self/ns/mnt"]).stdout for h in three.hosts]
    started = inits()
    assert three.up() is True  # reused: every host was up
    after = [three.run(h.name, ["readlink", "/proc/self/ns/mnt"]).stdout for h in three.hosts]
    assert before == after and inits() == started  # no host was started again
    assert all(start_time(pid) == ticks for pid, ticks in started)  # and each still runs
    assert three.name in list_sandboxes(three.root)
    assert Sandbox.load(three.name, three.root).hosts == three.hosts


@pytest.mark.sandbox
@needs_sandbox
def test_same_addresses_in_two_sandboxes_at_once(three: Sandbox) -> None:
    """Hosts with a network of their own: another sandbox may use the same addresses at the same
    time, shares nothing with the first, and nothing appears in the machine's own namespace."""
    other = Sandbox(_uname("twin"), [SandboxHost("primary", ADDRS[0]), SandboxHost("standby1", ADDRS[1])],
                    root=three.root, network="netns")
    try:
        other.up()
        mine, theirs = three.namespace_inodes("primary"), other.namespace_inodes("primary")
        assert set(mine) == set(theirs) == {"mnt", "uts", "net", "ipc", "pid", "user", "cgroup"}
        assert not set(mine.values()) & set(theirs.values())
        # the twin's primary has no server although the first sandbox's primary may have one
        cp = other.run("primary", ["bash", "-c", f"exec 3<>/dev/tcp/{ADDRS[1]}/5432"])
        assert cp.returncode != 0 and "refused" in cp.stderr
    finally:
        other.down()
    machine = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    assert not any(a + "/" in machine for a in ADDRS)
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert "br0" not in links and " v0@" not in links


@pytest.mark.sandbox
@needs_sandbox
def test_loopback_fallback_address_of_running_sandbox_refused(sb_root: Path) -> None:
    addr = _free_addresses(1, start=230)[0]
    first = Sandbox(_uname("lo1"), [SandboxHost("x", addr)], root=sb_root)
    other = Sandbox(_uname("lo2"), [SandboxHost("y", addr)], root=sb_root)
    try:
        first.up()
        assert first.run("x", ["getent", "hosts", "localhost"]).stdout.split()[0] == addr
        with pytest.raises(SandboxError, match="already used") as err:
            other.up()
        assert err.value.exit_status == 3  # an occupied resource is an environment limit, not bad input
    finally:
        other.down()
        first.down()


@pytest.mark.sandbox
@needs_sandbox
def test_two_clusters_on_port_5432_and_systemctl_shim(three: Sandbox) -> None:
    version = _pg_version()
    for host in ("primary", "standby1"):
        t = time.monotonic()
        _shell(three, host, three.create_cluster_command(version), timeout=120)
        print(f"\ncreate cluster in {host}: {time.monotonic() - t:.2f}s")
    for h in three.hosts[:2]:
        cp = three.run(h.name, ["pg_isready", "-h", h.address, "-p", "5432"])
        assert cp.returncode != 0, cp.stdout  # listen_addresses = 'localhost': not on the host's address
        cp = three.run(h.name, ["pg_isready", "-h", "localhost", "-p", "5432"])
        assert cp.returncode == 0, cp.stdout
        # an observer connects over the host's Unix socket (real path outside the namespace)
        uid, gid = three.postgres_ids()  # postgres inside is an unprivileged uid of the sandbox's outside
        cp = subprocess.run(
            [
                "setpriv",
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                "psql",
                "-U",
                "postgres",
                "-h",
                str(three.socket_dir(h.name)),
                "-p",
                "5432",
                "-AtXc",
                "select current_setting('checkpoint_completion_target'), "
                "current_setting('cluster_name'), current_setting('listen_addresses')",
            ],
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.strip() == f"0|{version}/main|localhost"
    # a host without cluster: nothing listens on its address
    assert three.run("standby2", ["pg_isready", "-h", "localhost"]).returncode != 0

    out = _shell(three, "primary", "sudo systemctl status postgresql")
    assert f"postgresql@{version}-main.service" in out and "active (running)" in out
    _shell(
        three,
        "primary",
        f"sudo systemctl restart postgresql@{version}-main && systemctl is-active postgresql",
    )
    _shell(three, "primary", "sudo systemctl reload postgresql")
    out = _shell(
        three, "primary", f"sudo systemctl stop postgresql; systemctl status postgresql@{version}-main; true"
    )
    assert "inactive (dead)" in out
    assert three.run("primary", ["pg_isready", "-h", "localhost"]).returncode != 0
    _shell(three, "primary", "sudo systemctl start postgresql")
    assert three.run("primary", ["pg_isready", "-q", "-h", "localhost"]).returncode == 0
    # the machine's real systemctl is untouched
    real = Path("/usr/bin/systemctl")
    if real.exists():
        assert b"runbook sandbox" not in real.read_bytes()

    st = {h["name"]: h for h in three.status()}
    assert st["primary"]["up"] and st["primary"]["processes"] >= 5
    # a server (its memory cgroup: processes and in-memory data) against a host running nothing but its init
    assert st["primary"]["memory_kb"] > 10000 and 0 < st["standby2"]["memory_kb"] < st["primary"]["memory_kb"] / 4
    assert st["primary"]["clusters"] == [
        {"version": version, "cluster": "main", "port": 5432, "status": "online"}
    ]
    assert st["standby2"]["clusters"] == []


@pytest.mark.sandbox
@needs_sandbox
def test_basebackup_between_hosts_and_source_addresses(three: Sandbox) -> None:
    """standby1 clones primary with pg_basebackup over the sandbox's bridge (host name `primary`) and
    streams; the connection arrives from standby1's own address, so a pg_hba.conf rule for
    standby1's /32 admits standby1 and rejects standby2."""
    version = _pg_version()
    if not three.status()[0]["clusters"]:
        _shell(three, "primary", three.create_cluster_command(version), timeout=120)
    conf = f"/etc/postgresql/{version}/main"
    setup = (
        "sudo -u postgres psql -qXc \"create role replicator login replication password 'secret'\" && "
        "sudo -u postgres psql -qXc 'create table t (i int); insert into t values (42)' && "
        f"echo 'host replication replicator {ADDRS[1]}/32 scram-sha-256' | sudo tee -a {conf}/pg_hba.conf && "
        f"echo \"listen_addresses = 'localhost,{ADDRS[0]}'\" | sudo -u postgres tee {conf}/conf.d/listen.conf && "
        "sudo systemctl restart postgresql"
    )
    _shell(three, "primary", setup)
    # standby2 is not in pg_hba.conf: refused, and the primary names its real address
    cp = three.run("standby2", ["bash", "-c", "PGPASSWORD=secret pg_basebackup -h primary -U replicator "
                                "-D /tmp/bb -X none 2>&1"], user=three.user)
    assert cp.returncode != 0
    assert f'no pg_hba.conf entry for replication connection from host "{ADDRS[2]}"' in cp.stdout, cp.stdout
    data = f"/var/lib/postgresql/{version}/main"
    clone = (
        "sudo systemctl stop postgresql && "
        f"sudo -u postgres rm -rf {data} && "
        "sudo -u postgres env PGPASSWORD=secret "
        f"pg_basebackup -h primary -U replicator -D {data} -R -X stream && "
        "sudo systemctl start postgresql"
    )
    if not three.status()[1]["clusters"]:
        _shell(three, "standby1", three.create_cluster_command(version), timeout=120)
    t = time.monotonic()
    _shell(three, "standby1", clone, timeout=120)
    print(f"\npg_basebackup + standby start: {time.monotonic() - t:.2f}s")
    q = "select pg_is_in_recovery(), (select i from t), (select count(*) from pg_stat_wal_receiver)"
    deadline = time.monotonic() + 30
    while True:
        cp = three.run("standby1", ["runuser", "-u", "postgres", "--", "psql", "-AtXc", q])
        if cp.stdout.strip() == "t|42|1" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert cp.stdout.strip() == "t|42|1", cp.stdout + cp.stderr
    cp = three.run(
        "primary",
        ["runuser", "-u", "postgres", "--", "psql", "-AtXc",
         "select client_addr, application_name from pg_stat_replication"],
    )
    addr, app = cp.stdout.strip().split("|")
    assert addr == ADDRS[1]  # standby1's own address, not 127.0.0.1
    assert app == f"{version}/main"


@pytest.mark.sandbox
@needs_sandbox
def test_session_refuses_a_shell_outside_its_hosts_namespaces(three: Sandbox, tmp_path: Path) -> None:
    """A session checks /proc/$$/ns/* of its shell against the host's namespaces before its first
    command: a shell of standby2 given as primary's refuses and runs nothing."""
    log = tmp_path / "primary.log"
    sh = HostShell("primary", three.shell_argv("standby2"), Transcript(log, Masker([])),
                   namespaces=three.namespace_inodes("primary"), timeout=20)
    with pytest.raises(SessionError, match="refusing to run anything.*net:"):
        sh.start()
    assert sh.child is None
    sh.transcript.close()
    assert "$ " not in log.read_text()  # nothing typed after the check
    ok = HostShell("primary", three.shell_argv("primary"), Transcript(None, Masker([])),
                   namespaces=three.namespace_inodes("primary"), timeout=20)
    try:
        ok.start()
        assert ok.run("hostname").output.strip() == "primary"
    finally:
        ok.close()


@pytest.mark.sandbox
@needs_sandbox
@pytest.mark.parametrize("network,fast", [("loopback", False), ("netns", True)])
def test_down_leaves_nothing(sb_root: Path, network: str, fast: bool) -> None:
    """``down`` stops every process (by the hosts' cgroups: also one that left the host with setsid),
    removes mounts, namespace files, cgroups and state; the servers' shared memory never reached the
    machine (each host has its own IPC namespace and /dev/shm)."""
    import pexpect

    if network == "netns" and NO_NETNS:
        pytest.skip(NO_NETNS)
    version = _pg_version()
    addrs = _free_addresses(2, start=200) if network == "loopback" else ADDRS[:2]
    speed = network == "netns"  # the loopback case also shows a data folder on disk without speed
    sb = Sandbox(_uname("t2"), [SandboxHost("a", addrs[0]), SandboxHost("b", addrs[1])], root=sb_root,
                 network=network, speed=speed)
    posix_before = set(os.listdir("/dev/shm"))
    machine_shm_before = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    child = None
    try:
        t = time.monotonic()
        sb.up()
        print(f"\nup (2 hosts): {time.monotonic() - t:.2f}s")
        sb.create_cluster("a", version)
        assert sb.run("a", ["pg_isready", "-h", "localhost"]).returncode == 0
        fs = sb.run("a", ["stat", "-f", "-c", "%T", f"/var/lib/postgresql/{version}/main"]).stdout.strip()
        assert (fs == "tmpfs") == speed  # speed: the data directories are in memory
        machine_mounts = [tuple(x.split()[1:3]) for x in Path("/proc/self/mounts").read_text().splitlines()]
        assert ((str((sb.host_root("a") / "lib-postgresql").resolve()), "tmpfs") in machine_mounts) == speed
        inside = [line.split()[4] for line in sb.run("b", ["cat", "/proc/self/mountinfo"]).stdout.splitlines()]
        assert inside and not [m for m in inside if m.startswith(str(sb_root))]  # no copy of another host's
        # data folder or namespace file
        pid_line = (sb.host_root("a") / "lib-postgresql" / version / "main" / "postmaster.pid").read_text()
        shmid = pid_line.splitlines()[6].split()[1]
        assert shmid in sb.run("a", ["cat", "/proc/sysvipc/shm"]).stdout  # the host's own IPC namespace
        state = json.loads((sb.dir / "state.json").read_text())
        inodes = {v for h in state["hosts"] for k, v in h.items() if k.endswith("_ino")}
        cgroups = [d for h in state["hosts"] for d in h["cgroups"].values()]
        assert len(cgroups) == 6 and all(Path(d).is_dir() for d in cgroups)
        ns_files = list(sb.ns_dir.iterdir()) if network == "netns" else []
        assert len(ns_files) == (3 if network == "netns" else 0)  # 2 hosts' networks and the bridge's
        # an interactive session and a process that left its session and namespaces in the hosts
        argv = sb.shell_argv("b")
        child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=10)
        child.sendline("echo rea''dy")
        child.expect("ready")
        sb.run("a", ["bash", "-c", "setsid unshare --mount --uts --ipc sleep 1000 </dev/null >/dev/null 2>&1 &"])
        time.sleep(0.3)
        escaped = [p for p in _cgroup_pids(cgroups) if Path(f"/proc/{p}/comm").read_text().strip() == "sleep"
                   and os.stat(f"/proc/{p}/ns/mnt").st_ino not in inodes]
        assert escaped  # out of the host's mount namespace, still in its cgroups
        inside = {p: _started(p) for p in _pids_in(inodes)}
        assert inside
        st_dir, run_dir = sb.dir, sb.run_dir
    finally:
        t = time.monotonic()
        sb.down(fast=fast)
        print(f"\ndown (2 hosts, 1 cluster, 1 shell, {network}, fast={fast}): {time.monotonic() - t:.2f}s")
    # (namespace inodes are reused at once by other runs' namespaces: the processes seen inside are checked)
    assert not [(p, Path(f"/proc/{p}/cmdline").read_bytes()) for p, t in inside.items() if _started(p) == t]
    assert not [p for p in escaped if Path(f"/proc/{p}").exists()]
    assert not any(Path(d).exists() for d in cgroups)
    assert child is not None
    child.expect(pexpect.EOF)
    child.close()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(st_dir) not in mounts and str(run_dir) not in mounts
    assert not run_dir.exists()
    assert not any(f.exists() for f in ns_files)
    assert not st_dir.exists()
    assert not sb.is_up()
    if network == "loopback":
        assert not _listening(addrs[0])
    # no SysV segment and no POSIX one reached the machine
    assert Path("/proc/sysvipc/shm").read_text().splitlines()[1:] == machine_shm_before or \
        not [x for x in Path("/proc/sysvipc/shm").read_text().splitlines()[1:] if x.split()[1] == shmid]
    assert not {f for f in set(os.listdir("/dev/shm")) - posix_before if f.startswith("PostgreSQL.")}
    sb.down()  # idempotent


def _started(pid: int) -> str | None:
    """Start time of a running process (None: gone, exiting, or a zombie left to the machine's init to reap)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        exiting = int(fields[6]) & 0x4  # PF_EXITING: killed, its exit under way
        return None if fields[0] in ("Z", "X") or exiting else fields[19]
    except (OSError, IndexError):
        return None


def _cgroup_pids(cgroups: list[str]) -> set[int]:
    out: set[int] = set()
    for d in cgroups:
        with contextlib.suppress(OSError):
            out |= {int(x) for x in Path(d, "cgroup.procs").read_text().split()}
    return out


@pytest.mark.sandbox
@needs_sandbox
def test_cli_up_status_down(sb_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    sandbox_cli.add_arguments(parser)
    addrs = _free_addresses(1, start=220)
    hosts = [SandboxHost("solo", addrs[0])]
    name = _uname("cli")
    common = ["guide.md", "--root", str(sb_root)]
    try:
        assert sandbox_cli.run(parser.parse_args(["up", *common]), hosts, name) == 0
        capsys.readouterr()
        assert sandbox_cli.run(parser.parse_args(["status", *common, "--json"]), hosts, name) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["up"] and report["hosts"][0]["name"] == "solo" and report["hosts"][0]["clusters"] == []
        assert sandbox_cli.run(parser.parse_args(["status", *common]), hosts, name) == 0
        assert "solo" in capsys.readouterr().out
    finally:
        assert sandbox_cli.run(parser.parse_args(["down", *common]), hosts, name) == 0
    assert sandbox_cli.run(parser.parse_args(["status", *common]), hosts, name) == 3
    bad = [SandboxHost("solo", "192.168.0.30")]
    assert sandbox_cli.run(parser.parse_args(["up", *common]), bad, name) == 3
    assert "outside 127.0.0.0/8" in capsys.readouterr().err


@pytest.mark.sandbox
@needs_sandbox
def test_cluster_templates_are_made_by_the_sandbox_only(sb_root: Path) -> None:
    """runbook-createcluster in a host saves its templates in the sandbox's own cache, never the
    machine's (a guide cannot plant a cluster in another run's hosts); another host of the sandbox
    copies it; templates of the sandbox not used for 30 days (and half-done saves a day old) are
    removed; ``down`` removes them.  The machine's cache is below an overlay in the hosts: nothing a
    host writes there (even after unmounting and remounting) reaches it."""
    machine_cache = Path("/var/cache/runbook/clusters")
    sb = Sandbox(_uname("tpl"), [SandboxHost("a", _free_addresses(2, start=220)[0]),
                                 SandboxHost("b", _free_addresses(2, start=220)[1])], root=sb_root, network="loopback")
    try:
        sb.up()
        machine_before = sorted(machine_cache.iterdir())
        # what a host's root writes there lands in its own layer (an overlay: the machine's below, read-only)
        sb.run("a", ["bash", "-c", "touch /var/cache/runbook/clusters/planted; umount -l /var/cache/runbook/clusters; "
                                   "mount -o remount,rw,bind /var/cache/runbook/clusters; "
                                   "touch /var/cache/runbook/clusters/planted2"])
        assert not (machine_cache / "planted").exists() and not (machine_cache / "planted2").exists()
        cache = sb.cache_dir / "clusters"
        cp = sb.run("a", ["bash", "-c", "mkdir -p /var/cache/runbook/sandbox/clusters/15-main-old/ "
                                        "/var/cache/runbook/sandbox/clusters/.tmp.x && touch -d '-31 days' "
                                        "/var/cache/runbook/sandbox/clusters/15-main-old/done "
                                        "/var/cache/runbook/sandbox/clusters/.tmp.x"])
        assert cp.returncode == 0, cp.stderr
        assert (cache / "15-main-old" / "done").is_file()
        port = "5999"  # a port no machine template has: this one is made and saved now
        cp = sb.run("a", ["runbook-createcluster", _pg_version(), "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        made = [p for p in cache.iterdir() if (p / "done").is_file()]
        assert len(made) == 1 and made[0].name.startswith(f"{_pg_version()}-main-")  # the new one; the old gone
        assert not (cache / ".tmp.x").exists()
        assert sorted(machine_cache.iterdir()) == machine_before
        t0 = (made[0] / "done").stat().st_mtime
        time.sleep(0.05)
        cp = sb.run("b", ["runbook-createcluster", _pg_version(), "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        assert (made[0] / "done").stat().st_mtime > t0  # used (touched) by the copy in b
        assert sb.run("b", ["test", "-f", f"/var/lib/postgresql/{_pg_version()}/main/PG_VERSION"]).returncode == 0
    finally:
        sb.down()
    assert not cache.exists()
