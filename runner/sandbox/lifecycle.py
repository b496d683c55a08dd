"""A sandbox's life beside ``up``: teardown (by the hosts' cgroups), the first unused sandbox of a name
for a run, sandboxes left by runs that died, every sandbox of a root."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import cgroups as cg
from . import machine
from .folders import orphans
from .mounts import ns_inode, rmtree, umount_all_under
from .state import (
    DEFAULT_ROOT,
    SANDBOX_NAME_RE,
    SANDBOX_STATE_FILE,
    AddressTaken,
    SandboxBusy,
    SandboxError,
    SandboxHost,
    owner_token,
    parent_pid,
    read_state,
    root_lock,
    start_time,
)

if TYPE_CHECKING:
    from .core import Sandbox


def down_locked(sb: Sandbox, *, fast: bool = False) -> None:
    """Teardown, under the root's lock: the hosts' processes (by their cgroups), mounts, folders, id range.

    Without a state (the sandbox's folder was deleted while it was up: :func:`.folders.orphans`) the
    sandbox's parts are found from the machine's side, by its key: its hosts' cgroups
    (:func:`.cgroups.found`), its run folder and what is mounted there, the id range naming its folder."""
    state = read_state(sb.dir) if sb.dir.is_dir() else None
    groups = [h.cgroups for h in state.hosts if h.cgroups] if state is not None else cg.found(sb.key)
    if state is None and not groups and not sb.dir.exists() and not sb.run_dir.exists():
        return
    _kill_legacy(sb.dir)
    if not fast:
        _stop_servers(groups)
    left = cg.kill_hosts(groups)
    if left:
        raise SandboxError(f"sandbox {sb.name}: processes still running: {', '.join(map(str, left))}")
    umount_all_under(sb.run_dir)
    rmtree(sb.run_dir)
    umount_all_under(sb.dir)
    rmtree(sb.dir)
    if state is not None:
        machine.release_range(state.uid_base, sb.dir)
    else:
        machine.release_ranges_of(sb.dir)


def _kill_legacy(d: Path) -> None:
    """A sandbox of the runbook before the containers (state version 1: hosts were mount, UTS and
    network namespaces of the machine's PID space): SIGKILL every process in its namespaces."""
    try:
        data = json.loads((d / SANDBOX_STATE_FILE).read_text())
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or data.get("version") != 1:
        return
    inodes = {v for h in data.get("hosts", []) for k, v in h.items() if k.endswith("_ino") and isinstance(v, int)}
    for _ in range(3):
        found = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
                 and any(ns_inode(f"/proc/{p}/ns/{k}") in inodes for k in ("mnt", "uts", "net"))]
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _stop_servers(groups: list[dict[str, str]]) -> None:
    """Immediate shutdown (SIGQUIT) of the PostgreSQL postmasters among the hosts' processes: they
    remove what they hold; wait up to 10 s for them."""
    postmasters: list[int] = []
    for cgroups in groups:
        pids = set(cg.tasks(cgroups))
        pg = {p for p in pids if _comm(p) == "postgres"}
        postmasters += [p for p in pg if parent_pid(p) not in pg]
    for p in postmasters:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while postmasters and time.monotonic() < deadline:
        postmasters = [p for p in postmasters if start_time(p) is not None]
        time.sleep(0.02)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cleanup_all(root: Path = DEFAULT_ROOT) -> list[str]:
    """``down`` for every sandbox under ``root`` (also half-created ones, and those whose folder was
    deleted while they were up: :func:`.folders.orphans`); returns their names."""
    from .core import Sandbox

    root = Path(root)
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and SANDBOX_NAME_RE.match(p.name)) \
        if root.is_dir() else []
    names += [n for n in orphans(root) if n not in names]  # (every sandbox of root goes: no lock needed)
    for name in names:
        Sandbox(name, [], root=root).down()
    return names


def up_unused(base: Sandbox, *, fresh: bool = False,
              hosts: Callable[[int], list[SandboxHost]] | None = None) -> Sandbox:
    """Bring up, owned by this process, the first of the sandboxes ``base.name``, ``NAME-2``,
    ``NAME-3`` … that no live run uses (a concurrent run keeps its own).  ``hosts(n)``: the hosts of
    the n-th (default: ``base``'s), and then one whose loopback address another running sandbox holds
    is passed over too.  A sandbox that fails half way up is torn down again."""
    from .core import Sandbox

    owner = owner_token()
    for n in range(1, 100):
        name = base.name if n == 1 else f"{base.name[:56]}-{n}"
        sb = Sandbox(name, hosts(n) if hosts is not None else base.hosts, root=base.root, user=base.user,
                     speed=base.speed, network=base.network)
        try:
            sb.up(owner=owner, fresh=fresh)
        except SandboxBusy:
            continue
        except AddressTaken:
            if hosts is not None:
                continue  # the n-th's address belongs to another run's sandbox: the next has others
            raise
        except BaseException:  # half up (or interrupted): leave nothing behind
            with contextlib.suppress(SandboxError):
                sb.down(fast=True)
            raise
        return sb
    raise SandboxBusy(f"sandbox {base.name}: 99 sandboxes of its name are in use")


def cleanup_abandoned(root: Path = DEFAULT_ROOT) -> dict[str, str]:
    """Tear down every sandbox under ``root`` left by a run that died (its owner process is gone,
    e.g. ``kill -9``), and every one whose folder was deleted while it was up (found from the machine's
    side: :func:`.folders.orphans`); kept sandboxes (no owner) and those of live runs stay.  Returns
    their names, each with what was removed and why (``removed sandbox NAME, left by a run that ended
    abruptly (pid N)``), as the next run says it."""
    from .core import Sandbox

    root = Path(root)
    if not root.is_dir() and not orphans(root):
        return {}
    done: dict[str, str] = {}
    with root_lock(root):
        lost = orphans(root)  # (an rm -rf that failed on the folder's mounts leaves it, without its state)
        for p in sorted(root.iterdir()):
            if not p.is_dir() or not SANDBOX_NAME_RE.match(p.name) or p.name in lost:
                continue
            try:
                state = read_state(p)
            except SandboxError:
                state = None
            if state is not None and (state.owner is None or state.owner_alive()):
                continue
            down_locked(Sandbox(p.name, [], root=root), fast=True)
            pid = f" (pid {state.owner[0]})" if state is not None and state.owner is not None else ""
            done[p.name] = f"removed sandbox {p.name}, left by a run that ended abruptly{pid}"
        for name in lost:
            down_locked(Sandbox(name, [], root=root), fast=True)
            done[name] = (f"removed what was left of sandbox {name} (its hosts' processes, mounts and "
                          f"namespaces), whose folder {root / name} was deleted while it was up")
    return done
