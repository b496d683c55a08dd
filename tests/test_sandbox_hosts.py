"""Real hosts of the embedded sandbox (one three-host sandbox for the module): hostnames,
/etc/hosts, the user's shell, ``up`` again, the same addresses in two sandboxes, two clusters on
port 5432, pg_basebackup between hosts, a session refusing a shell outside its host.

The three hosts have a network namespace each with the guide-like addresses 192.168.0.30-32
(skipped where the machine cannot create network namespaces).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import bound_pg_version
from sandbox_support import ADDRS, NO_NETNS, _shell, _uname, needs_sandbox

from runner.running.session import HostShell, Masker, SessionError, Transcript
from runner.sandbox import Sandbox, SandboxHost, list_sandboxes
from runner.sandbox.state import start_time


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
def test_two_clusters_on_port_5432_and_systemctl_shim(three: Sandbox) -> None:
    version = bound_pg_version()
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
    version = bound_pg_version()
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
