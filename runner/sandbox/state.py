"""The sandbox's records: errors, names, ``ROOT/NAME/state.json``, the root lock, owners.

``state.json`` says what a sandbox is (hosts, addresses, user, network, uid range) and where its
live parts are (each host's container init process, its cgroups), so that ``status`` and ``down``
work from any process, and a run that died (``kill -9``) is recognised by its dead owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.atomic import write_atomic
from runbook.errors import EXIT_BLOCKED, EXIT_USAGE, RunbookError

DEFAULT_ROOT = Path("/var/lib/runbook/sandboxes")
DEFAULT_USER = "runbook"
SANDBOX_STATE_FILE = "state.json"
"""In the sandbox's folder: what the sandbox is and where its live parts are (:class:`State`)."""
STATE_VERSION = 2
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PG_PORT = 5432

HOST_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
SANDBOX_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class SandboxError(RunbookError):
    """A sandbox operation failed; the message is meant for users (no traceback needed).  The
    environment does not allow it (no root, a missing tool, an occupied address): exit status 3."""

    exit_status = EXIT_BLOCKED


class SandboxUsageError(SandboxError):
    """The user asked for something that cannot be (a bad sandbox or host name, a sandbox that is up
    with other hosts: "run down first"): exit status 2."""

    exit_status = EXIT_USAGE


class SandboxBusy(SandboxError):
    """The sandbox is in use by another live process (a concurrent run)."""


class AddressTaken(SandboxError):
    """On the loopback fallback: a host's address is already a host of another running sandbox."""


@dataclass
class SandboxHost:
    name: str
    """Host id from the guide, also the hostname."""
    address: str
    """The guide's own address (network ``netns``) or a loopback address such as 127.0.0.30."""


@dataclass
class HostState:
    name: str
    address: str
    init: tuple[int, int] | None = None
    """(pid, start time) of the host's container init (tini), None while not up."""
    cgroups: dict[str, str] = field(default_factory=dict)
    """{controller: absolute cgroup folder} of the host (pids, memory, freezer)."""
    ns: dict[str, int] = field(default_factory=dict)
    """{kind: inode} of the host's own namespaces (mnt, uts, ipc, pid, user; net when it has one)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "init": list(self.init) if self.init else None,
                "cgroups": self.cgroups, **{f"{k}_ino": v for k, v in self.ns.items()}}

    @classmethod
    def from_json(cls, h: dict[str, Any]) -> HostState:
        init = h.get("init")
        return cls(str(h["name"]), str(h["address"]), (int(init[0]), int(init[1])) if init else None,
                   {str(k): str(v) for k, v in (h.get("cgroups") or {}).items()},
                   {k[:-4]: int(v) for k, v in h.items() if k.endswith("_ino") and isinstance(v, int)})

    def alive(self) -> bool:
        return self.init is not None and start_time(self.init[0]) == self.init[1]


@dataclass
class State:
    name: str
    user: str
    speed: bool
    hosts: list[HostState] = field(default_factory=list)
    network: str = "loopback"
    owner: tuple[int, int] | None = None
    """(pid, start time in clock ticks) of the process using the sandbox; None when kept."""
    uid_base: int | None = None
    """First id outside of the sandbox's range: uid and gid 0 inside every host of the sandbox."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "name": self.name,
            "user": self.user,
            "speed": self.speed,
            "network": self.network,
            "owner": list(self.owner) if self.owner else None,
            "uid_base": self.uid_base,
            "hosts": [h.to_json() for h in self.hosts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        owner = data.get("owner")
        base = data.get("uid_base")
        return cls(
            str(data["name"]), str(data.get("user", DEFAULT_USER)), bool(data.get("speed", True)),
            [HostState.from_json(h) for h in data.get("hosts", [])],
            str(data.get("network", "loopback")),
            (int(owner[0]), int(owner[1])) if owner else None,
            int(base) if base is not None else None,
        )

    def owner_alive(self) -> bool:
        return self.owner is not None and start_time(self.owner[0]) == self.owner[1]

    def host(self, name: str) -> HostState | None:
        return next((h for h in self.hosts if h.name == name), None)


_PF_EXITING = 0x4
"""The kernel's flag of a task in do_exit (include/linux/sched.h), field 9 of /proc/PID/stat."""


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` (clock ticks since boot), None when there is no such process (or only
    its zombie, or a process already exiting: PF_EXITING in its flags, set before it closes its
    files, so a postmaster killed with SIGKILL counts as dead as soon as its backends can see it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        if fields[0] in ("Z", "X") or int(fields[6]) & _PF_EXITING:
            return None
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def parent_pid(pid: int) -> int:
    """The parent of ``pid`` (field 4 of /proc/PID/stat), 0 when there is no such process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def owner_token() -> tuple[int, int]:
    """(pid, start time) of this process: recorded as a sandbox's owner while a run uses it."""
    start = start_time(os.getpid())
    return os.getpid(), start if start is not None else 0


def read_state(d: Path) -> State | None:
    p = d / SANDBOX_STATE_FILE
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        return None
    except ValueError as e:
        raise SandboxError(f"broken sandbox state file {p}: {e}") from e
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return State(d.name, DEFAULT_USER, True)  # an older runbook's: torn down as a shell of itself
    try:
        return State.from_json(data)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise SandboxError(f"broken sandbox state file {p}: {e}") from e


def write_state(d: Path, state: State) -> None:
    write_atomic(d / SANDBOX_STATE_FILE, json.dumps(state.to_json(), indent=2) + "\n")


@contextlib.contextmanager
def root_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def list_sandboxes(root: Path = DEFAULT_ROOT) -> list[str]:
    """Names of the sandboxes recorded under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / SANDBOX_STATE_FILE).is_file())
