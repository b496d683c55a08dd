"""What a sandbox's hosts are doing: ``status`` (clusters, processes, memory) and ``diagnose``
(the named trouble of a host after a failure: a limit reached, a server that died, a full disk)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import cgroups as cg
from .speed import DATA_IN_MEMORY
from .state import SandboxError, start_time

if TYPE_CHECKING:
    from .core import Sandbox

_SEEN: dict[tuple[str, str], dict[str, int]] = {}
"""Counters of the limits already reported per (sandbox folder, host): each hit is named once."""


def _limits(sb: Sandbox, host: str) -> list[str]:
    hs = sb._state().host(host)
    if hs is None or not hs.cgroups:
        return []
    now = cg.counters(hs.cgroups)
    key = (str(sb.dir), host)
    before = _SEEN.get(key, {})
    _SEEN[key] = now
    notes = []
    if now["pids_max"] > before.get("pids_max", 0):
        notes.append(f"{host} reached its limit of {cg.PIDS_LIMIT} processes: a fork was refused "
                     f"({now['pids_max'] - before.get('pids_max', 0)} times; a fork bomb?)")
    if now["oom_kill"] > before.get("oom_kill", 0):
        notes.append(f"{host} reached its memory limit ({cg.MEMORY_LIMIT // 2**20} MiB, in-memory files included): "
                     f"the kernel killed {now['oom_kill'] - before.get('oom_kill', 0)} of its processes")
    elif now["memory_failcnt"] > before.get("memory_failcnt", 0) and not now["oom_kill"]:
        notes.append(f"{host} reached its memory limit ({cg.MEMORY_LIMIT // 2**20} MiB, in-memory files included)")
    return notes


def diagnose(sb: Sandbox, host: str) -> str | None:
    notes: list[str] = []
    try:
        notes += _limits(sb, host)
    except SandboxError:
        return None
    lib = sb.host_root(host) / DATA_IN_MEMORY
    for pidfile in sorted(lib.glob("*/*/postmaster.pid")):
        cluster = f"{pidfile.parent.parent.name}/{pidfile.parent.name}"
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _server_alive(sb, host, pid):
            notes.append(f"the PostgreSQL server {cluster} of {host} died: its postmaster (pid {pid} inside) is "
                         f"gone; see /var/log/postgresql/postgresql-{cluster.replace('/', '-')}.log there")
    for datadir in sorted(lib.glob("*/*")):
        try:
            out = sb.run(host, ["df", "-Pk", f"/var/lib/postgresql/{datadir.parent.name}/{datadir.name}"],
                         timeout=10).stdout.splitlines()
        except SandboxError:
            continue
        f = out[-1].split() if len(out) > 1 else []
        if len(f) >= 4 and f[3].isdigit() and int(f[3]) < 1024:
            notes.append(f"the data directory of {datadir.parent.name}/{datadir.name} on {host} is out of "
                         f"space ({f[3]} kB free on {f[5] if len(f) > 5 else 'its file system'})")
    return "; ".join(notes) or None


def _server_alive(sb: Sandbox, host: str, inner_pid: int) -> bool:
    """Whether a process of the host with pid ``inner_pid`` (in its PID namespace) is a live postgres."""
    hs = sb._state().host(host)
    if hs is None:
        return False
    for pid in cg.tasks(hs.cgroups):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        if int(line.split()[-1]) == inner_pid:
                            return start_time(pid) is not None and _comm(pid) == "postgres"
                        break
        except (OSError, ValueError):
            continue
    return False


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def status(sb: Sandbox) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for h in sb.hosts:
        up = sb._host_up(h.name)
        clusters: list[dict[str, Any]] = []
        processes = 0
        memory = 0
        if up:
            hs = sb._state().host(h.name)
            processes = len(cg.tasks(hs.cgroups)) if hs is not None else 0
            memory = sb.memory_kb(h.name)
            cp = sb.run(h.name, ["pg_lsclusters", "-h"], timeout=30)
            for line in cp.stdout.splitlines():
                f = line.split()
                if len(f) >= 4:
                    clusters.append({"version": f[0], "cluster": f[1], "port": int(f[2]) if f[2].isdigit() else f[2],
                                     "status": f[3]})
        out.append({"name": h.name, "address": h.address, "up": up, "clusters": clusters, "processes": processes,
                    "memory_kb": memory})
    return out
