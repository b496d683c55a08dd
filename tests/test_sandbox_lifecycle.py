"""The embedded sandbox's life: ``down`` leaves nothing (processes, mounts, cgroups, shared
memory), ``runbook sandbox up/status/down``, a loopback address in use refused, cluster templates
made by the sandbox only.  The loopback fallback uses addresses 127.0.0.2xx that nothing else
listens on."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from e2e import pids_in as _pids_in
from helpers import bound_pg_version
from sandbox_support import ADDRS, NO_NETNS, _cgroup_pids, _free_addresses, _listening, _started, _uname, needs_sandbox

from runner.cli import sandbox as sandbox_cli
from runner.sandbox import Sandbox, SandboxError, SandboxHost


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
@pytest.mark.parametrize("network,fast", [("loopback", False), ("netns", True)])
def test_down_leaves_nothing(sb_root: Path, network: str, fast: bool) -> None:
    """``down`` stops every process (by the hosts' cgroups: also one that left the host with setsid),
    removes mounts, namespace files, cgroups and state; the servers' shared memory never reached the
    machine (each host has its own IPC namespace and /dev/shm)."""
    import pexpect

    if network == "netns" and NO_NETNS:
        pytest.skip(NO_NETNS)
    version = bound_pg_version()
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
        cp = sb.run("a", ["runbook-createcluster", bound_pg_version(), "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        made = [p for p in cache.iterdir() if (p / "done").is_file()]
        assert len(made) == 1 and made[0].name.startswith(f"{bound_pg_version()}-main-")  # the new one; the old gone
        assert not (cache / ".tmp.x").exists()
        assert sorted(machine_cache.iterdir()) == machine_before
        t0 = (made[0] / "done").stat().st_mtime
        time.sleep(0.05)
        cp = sb.run("b", ["runbook-createcluster", bound_pg_version(), "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        assert (made[0] / "done").stat().st_mtime > t0  # used (touched) by the copy in b
        assert sb.run("b", ["test", "-f", f"/var/lib/postgresql/{bound_pg_version()}/main/PG_VERSION"]).returncode == 0
    finally:
        sb.down()
    assert not cache.exists()


@pytest.mark.sandbox
@needs_sandbox
def test_a_host_named_like_the_sandboxs_own_folder_has_a_folder_of_its_own(sb_root: Path) -> None:
    """A guide's host ``cache`` (the sandbox once kept its template cache as ``cache`` beside the hosts'
    folders, so that host's folder was the cache every host sees): each of the sandbox's own entries
    beside the hosts' folders has a name no host can have, the hosts' cache holds no host's files,
    and the host ``cache`` runs its cluster, whose template another host copies."""
    from runner.sandbox.state import HOST_NAME_RE

    addrs = _free_addresses(2, start=210)
    sb = Sandbox(_uname("hc"), [SandboxHost("cache", addrs[0]), SandboxHost("b", addrs[1])], root=sb_root,
                 network="loopback")
    try:
        sb.up()
        own = set(os.listdir(sb.run_dir)) - {"cache", "b"}
        assert own and not [n for n in own if HOST_NAME_RE.match(n)], own
        assert {"layer", "lib-postgresql"} <= set(os.listdir(sb.run_dir / "cache"))  # the host's own folder
        for host in ("cache", "b"):
            seen = sb.run(host, ["ls", "-A", "/var/cache/runbook/sandbox"]).stdout.split()
            assert not {"layer", "lib-postgresql", "run-postgresql"} & set(seen), (host, seen)
        version, port = bound_pg_version(), "5998"  # a port no machine template has: saved in the cache
        cp = sb.run("cache", ["runbook-createcluster", version, "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        cp = sb.run("cache", ["pg_ctlcluster", version, "main", "start"], timeout=120)
        assert cp.returncode == 0, cp.stderr
        assert sb.run("cache", ["pg_lsclusters", "-h"]).stdout.split()[:4] == [version, "main", port, "online"]
        assert [p.name for p in (sb.cache_dir / "clusters").iterdir() if (p / "done").is_file()]
        cp = sb.run("b", ["runbook-createcluster", version, "main", port], timeout=120)
        assert cp.returncode == 0, cp.stderr
        assert sb.run("b", ["test", "-f", f"/var/lib/postgresql/{version}/main/PG_VERSION"]).returncode == 0
    finally:
        sb.down()
    assert not sb.run_dir.exists()


@pytest.mark.sandbox
@needs_sandbox
@pytest.mark.parametrize("cleaner,network", [("sandbox down", "netns"), ("next run", "loopback"),
                                             ("next run", "netns"), ("up again", "netns")])
def test_state_folder_deleted_while_up_is_found_from_the_machine(sb_root: Path, cleaner: str, network: str) -> None:
    """A sandbox whose folder ``ROOT/NAME`` was deleted while it was up (a user's ``rm -rf``): its
    state is gone, but its hosts' processes (also one that left with setsid), mounts under
    /run/runbook-sandbox/hosts/KEY, network namespaces, cgroups and id range are not.  `runbook
    sandbox down`, the next run's cleanup (``cleanup_abandoned``) and an ``up`` of the same name find
    them from the machine side and remove them all; another sandbox of the same root, up (its state
    there), is left as it was."""
    from runner.sandbox import cleanup_abandoned

    if network == "netns" and NO_NETNS:
        network = "loopback"
    addrs = _free_addresses(2, start=200) if network == "loopback" else ADDRS[:2]
    gone = Sandbox(_uname("del"), [SandboxHost("a", addrs[0])], root=sb_root, network=network)
    live = Sandbox(_uname("live"), [SandboxHost("b", addrs[1])], root=sb_root, network=network)
    try:
        live.up()
        gone.up()
        gone.run("a", ["bash", "-c", "setsid unshare --mount --uts sleep 1000 </dev/null >/dev/null 2>&1 &"])
        state = json.loads((gone.dir / "state.json").read_text())
        cgroups = [d for h in state["hosts"] for d in h["cgroups"].values()]
        inodes = {v for h in state["hosts"] for k, v in h.items() if k.endswith("_ino")}
        procs = {p: _started(p) for p in _cgroup_pids(cgroups)}
        assert len(procs) >= 2 and all(procs.values())  # the host's init (tini, sleep) and the escaped sleep
        folder, run_dir = gone.dir, gone.run_dir
        ranges = [f for f in Path("/run/runbook-sandbox/id-ranges").iterdir()
                  if f.name.isdigit() and f.read_text().strip() == str(folder)]
        assert len(ranges) == 1
        subprocess.run(["rm", "-rf", str(folder)], capture_output=True)  # (fails on the namespace files' mounts)
        assert not (folder / "state.json").exists() and run_dir.is_dir()
        assert any(m.startswith(f"{run_dir}/") for m in _mounts())  # left behind, found by no state
        live_before = _mounts_under(live.run_dir), live.namespace_inodes("b")
        if cleaner == "sandbox down":
            parser = argparse.ArgumentParser()
            sandbox_cli.add_arguments(parser)
            args = parser.parse_args(["down", "--name", gone.name, "--root", str(sb_root)])
            assert sandbox_cli.run(args, [], gone.name) == 0
        elif cleaner == "next run":  # what it removed and why, as the next run says it
            said = cleanup_abandoned(sb_root)[gone.name]
            assert f"sandbox {gone.name} " in said and f"whose folder {folder} was deleted while it was up" in said
            assert "ended abruptly" not in said
        else:
            again = Sandbox(gone.name, [SandboxHost("c", addrs[0])], root=sb_root, network=network)
            again.up()
            assert again.cleaned and "deleted" in again.cleaned
            assert again.run("c", ["hostname"]).stdout.strip() == "c"
            again.down()
        assert live.is_up() and (_mounts_under(live.run_dir), live.namespace_inodes("b")) == live_before
        assert live.run("b", ["true"]).returncode == 0
    finally:
        gone.down()
        live.down()
    deadline = time.monotonic() + 5  # (the hosts' init is reaped by the machine's)
    while [p for p, t in procs.items() if _started(p) == t] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p, t in procs.items() if _started(p) == t], "processes of the deleted sandbox left"
    assert not _pids_in(inodes, gone.name), "processes in its namespaces left"
    assert not [d for d in cgroups if Path(d).exists()], "cgroups left"
    assert not [m for m in _mounts() if m.startswith((f"{run_dir}/", f"{folder}/")) or m in (str(run_dir), str(folder))]
    assert not run_dir.exists() and not folder.exists()
    assert not [f for f in ranges if f.exists() and f.read_text().strip() == str(folder)], "id range still held"


def _mounts() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def _mounts_under(path: Path) -> list[str]:
    return sorted(m for m in _mounts() if m.startswith(f"{path}/"))
