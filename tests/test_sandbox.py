"""Real tests of the embedded sandbox (runner/sandbox.py): namespaces, mounts, PostgreSQL servers.

Tests marked ``sandbox`` need root, util-linux's unshare/nsenter and Debian's PostgreSQL packages;
they are skipped with a reason otherwise.  They use their own sandbox root (a temporary folder)
and loopback addresses 127.0.0.15x that nothing else listens on, and always run ``down``.
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

from runner.cli import sandbox as sandbox_cli
from runner.sandbox import (
    SPEED_CONF_NAME,
    SPEED_SETTINGS,
    Sandbox,
    SandboxError,
    SandboxHost,
    cleanup_all,
    list_sandboxes,
)

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
    """A sandbox of three hosts (primary, standby1, standby2), clusters created in primary and standby1."""
    if SKIP:
        pytest.skip(SKIP)
    addrs = _free_addresses(3)
    sb = Sandbox(
        _uname("t3"),
        [
            SandboxHost("primary", addrs[0]),
            SandboxHost("standby1", addrs[1]),
            SandboxHost("standby2", addrs[2]),
        ],
        root=sb_root,
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
    assert "pg_createcluster --port 5432 15 main" in fast
    assert f"/etc/postgresql/15/main/conf.d/{SPEED_CONF_NAME}" in fast
    for s in SPEED_SETTINGS:
        assert f"{s.name} = {s.value}" in fast
    assert fast.rstrip().endswith("pg_ctlcluster 15 main start")
    slow = Sandbox("s", hosts, root=tmp_path, speed=False).create_cluster_command("15")
    assert SPEED_CONF_NAME not in slow
    with pytest.raises(SandboxError):
        Sandbox("s", hosts, root=tmp_path).create_cluster_command("15; rm -rf /")


def test_docs_list_every_speed_setting() -> None:
    doc = (REPO / "docs" / "sandbox.md").read_text()
    for s in SPEED_SETTINGS:
        assert s.name in doc


def test_systemctl_shim_is_valid_bash() -> None:
    shim = REPO / "runner" / "data" / "systemctl"
    assert os.access(shim, os.X_OK)
    subprocess.run(["bash", "-n", str(shim)], check=True)


# ----------------------------------------------------------------------------- real hosts


@pytest.mark.sandbox
@needs_sandbox
def test_hosts_identity(three: Sandbox) -> None:
    assert three.is_up()
    for h in three.hosts:
        assert three.run(h.name, ["hostname"]).stdout.strip() == h.name
        assert three.run(h.name, ["cat", "/etc/hostname"]).stdout.strip() == h.name
        got = three.run(h.name, ["getent", "hosts", "localhost"]).stdout.split()
        assert got[0] == h.address
        for other in three.hosts:  # the other hosts' names resolve too
            assert three.run(h.name, ["getent", "hosts", other.name]).stdout.split()[0] == other.address
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
    before = [three.run(h.name, ["readlink", "/proc/self/ns/mnt"]).stdout for h in three.hosts]
    t = time.monotonic()
    three.up()
    assert time.monotonic() - t < 5
    after = [three.run(h.name, ["readlink", "/proc/self/ns/mnt"]).stdout for h in three.hosts]
    assert before == after
    assert three.name in list_sandboxes(three.root)
    assert Sandbox.load(three.name, three.root).hosts == three.hosts


@pytest.mark.sandbox
@needs_sandbox
def test_address_of_running_sandbox_refused(three: Sandbox) -> None:
    other = Sandbox(_uname("clash"), [SandboxHost("x", three.hosts[0].address)], root=three.root)
    try:
        with pytest.raises(SandboxError, match="already used"):
            other.up()
    finally:
        other.down()


@pytest.mark.sandbox
@needs_sandbox
def test_two_clusters_on_port_5432_and_systemctl_shim(three: Sandbox) -> None:
    version = _pg_version()
    for host in ("primary", "standby1"):
        t = time.monotonic()
        _shell(three, host, three.create_cluster_command(version), timeout=120)
        print(f"\ncreate cluster in {host}: {time.monotonic() - t:.2f}s")
    for h in three.hosts[:2]:
        cp = subprocess.run(["pg_isready", "-h", h.address, "-p", "5432"], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stdout
        # an observer connects over the host's Unix socket (real path outside the namespace)
        cp = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                "psql",
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
    assert not _listening(three.hosts[2].address)

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
    assert not _listening(three.hosts[0].address)
    _shell(three, "primary", "sudo systemctl start postgresql")
    assert subprocess.run(["pg_isready", "-q", "-h", three.hosts[0].address]).returncode == 0
    # the machine's real systemctl is untouched
    real = Path("/usr/bin/systemctl")
    if real.exists():
        assert b"runbook sandbox" not in real.read_bytes()

    st = {h["name"]: h for h in three.status()}
    assert st["primary"]["up"] and st["primary"]["processes"] >= 5
    assert st["primary"]["clusters"] == [
        {"version": version, "cluster": "main", "port": 5432, "status": "online"}
    ]
    assert st["standby2"]["clusters"] == []


@pytest.mark.sandbox
@needs_sandbox
def test_basebackup_between_hosts(three: Sandbox) -> None:
    """standby1 clones primary with pg_basebackup over loopback (host name `primary`) and streams."""
    version = _pg_version()
    if not three.status()[0]["clusters"]:
        _shell(three, "primary", three.create_cluster_command(version), timeout=120)
    conf = f"/etc/postgresql/{version}/main"
    setup = (
        "sudo -u postgres psql -qXc \"create role replicator login replication password 'secret'\" && "
        "sudo -u postgres psql -qXc 'create table t (i int); insert into t values (42)' && "
        f"echo 'host replication replicator 127.0.0.0/8 scram-sha-256' | sudo tee -a {conf}/pg_hba.conf && "
        "sudo systemctl reload postgresql"
    )
    _shell(three, "primary", setup)
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
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-AtXc",
            "select client_addr, application_name from pg_stat_replication",
        ],
    )
    # All hosts share the machine's network namespace: the kernel picks 127.0.0.1 (lo's address) as
    # the source of a connection to any 127.0.0.x, so the primary sees the standby as 127.0.0.1.
    addr, app = cp.stdout.strip().split("|")
    assert addr in ("127.0.0.1", three.hosts[1].address)
    assert app == f"{version}/main"


@pytest.mark.sandbox
@needs_sandbox
def test_down_leaves_nothing(sb_root: Path) -> None:
    import pexpect

    version = _pg_version()
    addrs = _free_addresses(2, start=200)
    sb = Sandbox(_uname("t2"), [SandboxHost("a", addrs[0]), SandboxHost("b", addrs[1])], root=sb_root)
    child = None
    try:
        t = time.monotonic()
        sb.up()
        print(f"\nup (2 hosts): {time.monotonic() - t:.2f}s")
        sb.create_cluster("a", version)
        assert _listening(addrs[0])
        pid_line = (sb.host_root("a") / "lib-postgresql" / version / "main" / "postmaster.pid").read_text()
        shmid = pid_line.splitlines()[6].split()[1]
        assert shmid in Path("/proc/sysvipc/shm").read_text()
        ns_files = list(sb.ns_dir.iterdir())
        inodes = {f.stat().st_ino for f in ns_files}
        assert len(inodes) == 4
        # an interactive session and a detached background process in the hosts
        argv = sb.shell_argv("b")
        child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=10)
        child.sendline("echo rea''dy")
        child.expect("ready")
        sb.run("a", ["bash", "-c", "setsid sleep 1000 </dev/null >/dev/null 2>&1 &"], user=sb.user)
        assert _pids_in(inodes)
        st_dir = sb.dir
    finally:
        t = time.monotonic()
        sb.down()
        print(f"\ndown (2 hosts, 1 cluster, 1 shell): {time.monotonic() - t:.2f}s")
    assert not _pids_in(inodes)
    assert child is not None
    child.expect(pexpect.EOF)
    child.close()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(st_dir) not in mounts
    assert not any(f.exists() for f in ns_files)
    assert not st_dir.exists()
    assert not sb.is_up()
    assert not _listening(addrs[0])
    # the server shut down cleanly: its SysV shared memory segment is gone
    shmids = [line.split()[1] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert shmid not in shmids
    sb.down()  # idempotent


def _pids_in(inodes: set[int]) -> list[int]:
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        for kind in ("mnt", "uts"):
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{d}/ns/{kind}").st_ino in inodes:
                    found.append(int(d))
                    break
    return found


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
    assert sandbox_cli.run(parser.parse_args(["up", *common]), bad, name) == 1
    assert "outside 127.0.0.0/8" in capsys.readouterr().err
