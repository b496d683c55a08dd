"""Each host's cgroups (v1 ``pids``, ``memory``, ``freezer``): limits, membership, teardown.

Every process of a host is started inside its cgroups (the container's init and every
``crun exec``, through :func:`join_argv`), and no process inside can leave them (the cgroup file
systems are not writable from a host), so a process that left the host's namespaces (``setsid``,
``unshare``, ``nsenter``) is still found here.  Teardown freezes the host's freezer cgroup, sends
SIGKILL to every task, thaws it and waits until it is empty: a fork bomb cannot outrun it.

The cgroups are made below this process's own cgroup of each controller (on this machine the
memory controller puts it under /process_api/…), in ``runbook/NAME-KEY/HOST``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from .machine import CONTROLLERS
from .state import SandboxError

PIDS_LIMIT = 512
"""Processes (and threads) a host may have at once: PostgreSQL with a few standbys needs about 40."""
MEMORY_LIMIT = 1536 * 1024 * 1024
"""Memory a host may use (bytes), its in-memory data folder (tmpfs) and writable layer included."""
CGROUP_FS = Path("/sys/fs/cgroup")


def _own(controller: str) -> str:
    """This process's cgroup of ``controller`` (v1), e.g. ``/`` or ``/process_api/38e2…``."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path
    except (OSError, ValueError):
        pass
    return "/"


def host_cgroups(key: str, host: str) -> dict[str, str]:
    """{controller: folder} of a host of the sandbox ``key`` (NAME-hash of its folder)."""
    out = {}
    for c in CONTROLLERS:
        base = CGROUP_FS / c / _own(c).lstrip("/")
        out[c] = str(base / "runbook" / key / host)
    return out


def found(key: str) -> list[dict[str, str]]:
    """The cgroups of the sandbox ``key`` on the machine, whatever its records say: every
    ``…/runbook/KEY/HOST`` folder of each controller, below any process's cgroup (the process that
    made them may have had another than this one's), each as {controller: folder}."""
    out = []
    for c in CONTROLLERS:
        for top, dirs, _ in os.walk(CGROUP_FS / c):
            if Path(top).name == "runbook":
                dirs.clear()  # (the hosts' own cgroups are not walked)
                with contextlib.suppress(OSError):
                    out += [{c: str(h)} for h in sorted(Path(top, key).iterdir()) if h.is_dir()]
    return out


def create(cgroups: dict[str, str], *, pids: int = PIDS_LIMIT, memory: int = MEMORY_LIMIT) -> None:
    """Make the host's cgroups (an existing one, left by a host that died, is emptied first)."""
    if any(Path(d).is_dir() for d in cgroups.values()):
        kill_all(cgroups)
    for d in cgroups.values():
        p = Path(d)
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SandboxError(f"cannot create the cgroup {p}: {e.strerror}") from e
    try:
        Path(cgroups["pids"], "pids.max").write_text(str(pids))
        Path(cgroups["memory"], "memory.limit_in_bytes").write_text(str(memory))
        memsw = Path(cgroups["memory"], "memory.memsw.limit_in_bytes")
        if memsw.exists():
            memsw.write_text(str(memory))
    except OSError as e:
        raise SandboxError(f"cannot set the host's limits in {cgroups}: {e.strerror}") from e


JOIN_SCRIPT = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ >"$f/cgroup.procs" || exit 125; shift; done; ' \
              'shift; exec "$@"'


def join_argv(cgroups: dict[str, str]) -> list[str]:
    """argv prefix: the command that follows runs inside the host's cgroups (``sh`` joins them, then
    execs it)."""
    return ["/bin/sh", "-c", JOIN_SCRIPT, "runbook-join", *cgroups.values(), "--"]


def tasks(cgroups: dict[str, str]) -> list[int]:
    """Processes of the host (thread group leaders), by its pids cgroup."""
    d = cgroups.get("pids") or cgroups.get("freezer")
    if not d:
        return []
    try:
        return [int(x) for x in Path(d, "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _freezer_state(d: str) -> str:
    try:
        return Path(d, "freezer.state").read_text().strip()
    except OSError:
        return ""


def _set_freezer(d: str, value: str, timeout: float = 5.0) -> bool:
    try:
        Path(d, "freezer.state").write_text(value)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while _freezer_state(d) != value:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def kill_all(cgroups: dict[str, str], timeout: float = 10.0) -> list[int]:
    """SIGKILL every process of the host (frozen first, so none can fork meanwhile) and remove its
    cgroups; returns the processes still there (none, unless the kernel keeps one in D state)."""
    return kill_hosts([cgroups], timeout)


def kill_hosts(groups: list[dict[str, str]], timeout: float = 10.0) -> list[int]:
    """:func:`kill_all` for several hosts at once: all frozen, all killed, all thawed, then waited for."""
    freezers = [g["freezer"] for g in groups if g.get("freezer") and Path(g["freezer"]).is_dir()]
    frozen = [f for f in freezers if _set_freezer(f, "FROZEN")]  # (a v1 freezer freezes its cgroups below too)
    for f in freezers:
        for pid in _procs_below(f):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    for f in freezers:
        if f in frozen or _freezer_state(f) != "THAWED":
            _set_freezer(f, "THAWED")
    deadline = time.monotonic() + timeout
    left: list[int] = []
    for d in [s for g in groups for top in g.values() if Path(top).is_dir() for s in _below(top)]:
        while True:
            left = _procs(d)
            if not left or time.monotonic() > deadline:
                break
            for pid in left:  # forked after the freeze (no freezer) or not yet signalled
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
        if left:
            return left
    for g in groups:
        remove(g)
    return left


def _procs(d: str) -> list[int]:
    try:
        return [int(x) for x in Path(d, "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _below(d: str) -> list[str]:
    """``d`` and the cgroups below it (those of runner/site/shells.py, one per example page's shell),
    deepest first."""
    return [top for top, _, _ in os.walk(d, topdown=False)]


def _procs_below(d: str) -> list[int]:
    return [pid for s in _below(d) for pid in _procs(s)]


def remove(cgroups: dict[str, str]) -> None:
    """rmdir the host's cgroups and, when empty, the sandbox's folder above them."""
    for p in [Path(s) for d in cgroups.values() for s in _below(d)]:
        deadline = time.monotonic() + 2
        while p.is_dir():  # (busy a moment while its last tasks finish exiting)
            try:
                p.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.005)
        with contextlib.suppress(OSError):
            p.parent.rmdir()  # (the folder above, once empty: the host's below a shell's, the sandbox's)


def counters(cgroups: dict[str, str]) -> dict[str, int]:
    """``pids_max``: forks refused at the process limit; ``oom_kill``: processes killed at the memory
    limit; ``memory_failcnt``: allocations that hit it."""
    out = {"pids_max": 0, "oom_kill": 0, "memory_failcnt": 0}
    with contextlib.suppress(OSError, ValueError, KeyError):
        for line in Path(cgroups["pids"], "pids.events").read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == "max":
                out["pids_max"] = int(v)
    with contextlib.suppress(OSError, ValueError, KeyError):
        for line in Path(cgroups["memory"], "memory.oom_control").read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                out["oom_kill"] = int(v)
    with contextlib.suppress(OSError, ValueError, KeyError):
        out["memory_failcnt"] = int(Path(cgroups["memory"], "memory.failcnt").read_text())
    return out


def memory_usage(cgroups: dict[str, str]) -> int:
    """Bytes the host uses now (its processes and its in-memory files), by its memory cgroup."""
    try:
        return int(Path(cgroups["memory"], "memory.usage_in_bytes").read_text())
    except (OSError, ValueError, KeyError):
        return 0
