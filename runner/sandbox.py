"""The embedded sandbox: guide hosts on this machine, without containers.

Each sandbox host is a Linux mount + UTS (+ network) namespace, created with
``unshare --mount=FILE --uts=FILE [--net=FILE] --propagation private`` so that the namespaces
outlive the creating process (the namespace files are bind mounts of nsfs
inodes) and any later process can join them with ``nsenter``.  Inside a host:

* ``/etc/postgresql``, ``/var/lib/postgresql``, ``/var/run/postgresql``,
  ``/var/log/postgresql``, ``/home/USER`` and ``/tmp`` are bind mounts of
  per-host folders (fresh and empty, owned as Debian has them), so the machine's
  own clusters are invisible and every host starts with no cluster;
* the hostname (UTS) is the host's name, ``/etc/hostname`` and ``/etc/hosts``
  are per-host files;
* network ``netns`` (where the machine allows it): the host has its own network
  namespace with ``lo`` and an ``eth0`` carrying the guide's own address
  (192.168.0.30), linked by a veth pair to a bridge that lives in a network
  namespace of the sandbox's own; no default route, nothing in the machine's
  namespace.  ``/etc/hosts`` maps the hosts' names to their addresses;
* network ``loopback`` (the fallback): the hosts share the machine's network;
  ``localhost`` and the host's name map to the host's loopback address
  (127.0.0.30, ...), the other hosts' names to theirs, so every host's
  PostgreSQL listens on ``localhost:5432`` without clashing with the others;
* ``systemctl`` is a shim (``runner/data/systemctl``) mapping the
  ``postgresql`` units to ``pg_ctlcluster``; it is bind-mounted over
  ``/usr/local/sbin`` (first in sudo's secure_path) and ``/usr/bin/systemctl``
  inside the namespace only.

The machine itself gets: ``sudo`` (installed if missing), a regular user
(default ``runbook``) with passwordless sudo in ``/etc/sudoers.d/runbook-sandbox``,
and the state folder ``ROOT/NAME`` (default root ``/var/lib/runbook/sandboxes``).
``down`` removes everything of a sandbox except the user and the sudoers file.

See docs/sandbox.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.errors import EXIT_BLOCKED, RunbookError

DEFAULT_ROOT = Path("/var/lib/runbook/sandboxes")
DEFAULT_USER = "runbook"
SUDOERS_FILE = Path("/etc/sudoers.d/runbook-sandbox")
STATE_FILE = "state.json"
STATE_VERSION = 1
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SPEED_CONF_NAME = "zz-runbook-sandbox.conf"
PG_PORT = 5432
BRIDGE_NS = "_bridge"  # ns/_bridge.net: the sandbox's own namespace holding the bridge (not a host name)
NETWORKS = ("netns", "loopback")
NETWORK_ENV = "RUNBOOK_SANDBOX_NETWORK"
"""Environment variable forcing the network kind (``netns`` or ``loopback``) of `runbook run`."""


@dataclass(frozen=True)
class SpeedSetting:
    """One PostgreSQL setting the sandbox adds to the clusters it creates (``speed=True``)."""

    name: str
    value: str
    reason: str


#: The speed settings, shared by the code (conf.d file) and docs/sandbox.md.
SPEED_SETTINGS: tuple[SpeedSetting, ...] = (
    SpeedSetting(
        "checkpoint_completion_target",
        "0",
        "pg_basebackup without --checkpoint=fast waits for a spread checkpoint on the primary "
        "(about 50 s each); with 0 the checkpoint is written at once. A guide cannot observe it "
        "except through SHOW/pg_settings.",
    ),
)


DATA_IN_MEMORY = "lib-postgresql"
"""Speed setting (docs/sandbox.md): the host folder behind /var/lib/postgresql is a tmpfs of its own
(mounted on the machine under the sandbox's folder, unmounted by ``down``): the data directories'
writes never wait for the disk."""
DATA_TMPFS_SIZE = "25%"
"""The most a host's data directories may hold in memory (of the machine's RAM; only what is used
is taken).  Beyond it PostgreSQL reports a full disk, which ``diagnose`` names."""


@dataclass(frozen=True)
class BindDir:
    """A folder of the machine that each host replaces with a fresh per-host folder."""

    target: str  # path inside the host
    folder: str  # per-host folder name under host_root()
    owner: str
    group: str
    mode: int


#: PostgreSQL folders, owned and moded as Debian's postgresql-common has them.
PG_BIND_DIRS: tuple[BindDir, ...] = (
    BindDir("/etc/postgresql", "etc-postgresql", "postgres", "postgres", 0o755),
    BindDir("/var/lib/postgresql", "lib-postgresql", "postgres", "postgres", 0o755),
    BindDir("/var/run/postgresql", "run-postgresql", "postgres", "postgres", 0o2775),
    BindDir("/var/log/postgresql", "log-postgresql", "root", "postgres", 0o1775),
)

_HOST_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SANDBOX_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class SandboxError(RunbookError):
    """A sandbox operation failed; the message is meant for users (no traceback needed).  The
    environment does not allow it (no root, a missing tool, an occupied address): exit status 3."""

    exit_status = EXIT_BLOCKED


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
class _HostState:
    name: str
    address: str
    mnt_ino: int | None = None
    uts_ino: int | None = None
    net_ino: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "mnt_ino": self.mnt_ino, "uts_ino": self.uts_ino,
                "net_ino": self.net_ino}

    def inodes(self) -> set[int]:
        return {i for i in (self.mnt_ino, self.uts_ino, self.net_ino) if i is not None}


@dataclass
class _State:
    name: str
    user: str
    speed: bool
    hosts: list[_HostState] = field(default_factory=list)
    network: str = "loopback"
    owner: tuple[int, int] | None = None
    """(pid, start time in clock ticks) of the process using the sandbox; None when kept."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "name": self.name,
            "user": self.user,
            "speed": self.speed,
            "network": self.network,
            "owner": list(self.owner) if self.owner else None,
            "hosts": [h.to_json() for h in self.hosts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _State:
        hosts = [
            _HostState(str(h["name"]), str(h["address"]), h.get("mnt_ino"), h.get("uts_ino"), h.get("net_ino"))
            for h in data.get("hosts", [])
        ]
        owner = data.get("owner")
        return cls(
            str(data["name"]), str(data.get("user", DEFAULT_USER)), bool(data.get("speed", True)), hosts,
            str(data.get("network", "loopback")),
            (int(owner[0]), int(owner[1])) if owner else None,
        )

    def owner_alive(self) -> bool:
        return self.owner is not None and _start_time(self.owner[0]) == self.owner[1]


# --------------------------------------------------------------------------- helpers


def _unescape_mountinfo(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def _mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount of this process's mount namespace."""
    out: list[tuple[str, str]] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype = right.split()[0] if right else ""
            out.append((_unescape_mountinfo(fields[4]), fstype))
    return out


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    p = str(path).rstrip("/")
    found = [m for m, _ in _mounts() if m == p or m.startswith(p + "/")]
    return sorted(set(found), key=lambda m: (m.count("/"), m), reverse=True)


def _is_nsfs_mount(path: Path) -> bool:
    p = str(path)
    return any(m == p and t == "nsfs" for m, t in _mounts())


def _is_mountpoint(path: Path) -> bool:
    p = str(path).rstrip("/")
    return any(m == p for m, _ in _mounts())


def _cmd(
    argv: list[str], *, timeout: float = 60, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except FileNotFoundError as e:
        raise SandboxError(f"command not found: {argv[0]}") from e
    except subprocess.TimeoutExpired as e:
        raise SandboxError(f"command timed out after {timeout:g}s: {shlex.join(argv)}") from e
    if check and cp.returncode != 0:
        msg = (cp.stderr or cp.stdout).strip()
        raise SandboxError(f"{shlex.join(argv)} failed (exit {cp.returncode}): {msg}")
    return cp


def _umount(path: str) -> None:
    cp = subprocess.run(["umount", path], capture_output=True, text=True)
    if cp.returncode != 0 and _is_mountpoint(Path(path)):
        cp = subprocess.run(["umount", "-l", path], capture_output=True, text=True)
        if cp.returncode != 0 and _is_mountpoint(Path(path)):
            raise SandboxError(f"cannot unmount {path}: {cp.stderr.strip()}")


def _ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _pids_in(inodes: set[int]) -> list[int]:
    """Processes whose mount, UTS or network namespace is one of ``inodes`` (zombies excluded)."""
    me = os.getpid()
    found: list[int] = []
    if not inodes:
        return found
    for pid in _pids():
        if pid == me:
            continue
        for kind in ("mnt", "uts", "net"):
            ino = _ns_inode(f"/proc/{pid}/ns/{kind}")
            if ino is not None and ino in inodes:
                found.append(pid)
                break
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(inodes: set[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = _pids_in(inodes)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


#: Programs the hosts get in their /usr/local/sbin (runner/data/NAME).
SHIMS: tuple[str, ...] = ("systemctl", "runbook-createcluster")


def _shim_source(name: str = "systemctl") -> Path:
    p = Path(str(resources.files("runner") / "data" / name))
    if not p.is_file():
        raise SandboxError(f"{name} shim missing from the package: {p}")
    return p


_PF_EXITING = 0x4
"""The kernel's flag of a task in do_exit (include/linux/sched.h), field 9 of /proc/PID/stat."""


def _start_time(pid: int) -> int | None:
    """Start time of ``pid`` (clock ticks since boot), None when there is no such process (or only
    its zombie: a killed daemon whose parent, init, has not reaped it yet, or a process already
    exiting: PF_EXITING in its flags, set before it closes its files, so a postmaster killed with
    SIGKILL counts as dead as soon as its backends can see it gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        if fields[0] in ("Z", "X") or int(fields[6]) & _PF_EXITING:
            return None
        return int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def owner_token() -> tuple[int, int]:
    """(pid, start time) of this process: recorded as a sandbox's owner while a run uses it."""
    start = _start_time(os.getpid())
    return os.getpid(), start if start is not None else 0


_NETNS_PROBE: list[str] = []


def netns_unavailable() -> str | None:
    """Why this machine cannot create network namespaces (None when it can).  Probed once."""
    if not _NETNS_PROBE:
        reason = ""
        if os.geteuid() != 0:
            reason = "not root"
        elif not shutil.which("ip"):
            reason = "the `ip` command (iproute2) is missing"
        else:
            try:
                cp = subprocess.run(
                    ["unshare", "--net", "--", "sh", "-c",
                     "ip link add rbprobe0 type bridge && ip link add rbprobe1 type veth peer name rbprobe2"],
                    capture_output=True, text=True, timeout=10,
                )
                if cp.returncode != 0:
                    reason = (cp.stderr or cp.stdout).strip() or f"unshare --net exited {cp.returncode}"
            except (OSError, subprocess.TimeoutExpired) as e:
                reason = str(e)
        _NETNS_PROBE.append(reason)
    return _NETNS_PROBE[0] or None


def network_mode() -> tuple[str, str | None]:
    """The network kind a run uses: ``netns`` where the machine can create network namespaces,
    else ``loopback``; and a note saying why when it falls back.  ``$RUNBOOK_SANDBOX_NETWORK``
    (``netns`` or ``loopback``) chooses explicitly."""
    forced = os.environ.get(NETWORK_ENV, "").strip()
    if forced == "loopback":
        return "loopback", f"${NETWORK_ENV}=loopback"
    why = netns_unavailable()
    if why is None:
        return "netns", None
    if forced == "netns":
        raise SandboxError(f"${NETWORK_ENV}=netns, but this machine cannot create network namespaces: {why}")
    return "loopback", f"this machine cannot create network namespaces ({why})"


def _validate_address(address: str, host: str, network: str = "loopback") -> None:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as e:
        raise SandboxError(f"host {host}: address {address!r} is not an IPv4 address") from e
    if network == "netns":
        if not ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified \
                or ip.is_reserved or address.endswith((".0", ".255")):
            raise SandboxError(
                f"host {host}: address {address} cannot be a sandbox host's address: the sandbox gives "
                "hosts private addresses only (10/8, 172.16/12, 192.168/16, ...), inside its own network "
                "namespaces"
            )
        return
    if ip not in ipaddress.IPv4Network("127.0.0.0/8"):
        raise SandboxError(
            f"host {host}: address {address} is outside 127.0.0.0/8; the sandbox only uses loopback "
            "addresses (bind the guide's addresses to 127.0.0.x)"
        )
    if address in ("127.0.0.0", "127.0.0.1", "127.255.255.255"):
        raise SandboxError(
            f"host {host}: address {address} is reserved (127.0.0.1 is the machine's own localhost); "
            "use 127.0.0.30, 127.0.0.31, ..."
        )


def _port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        try:
            s.connect((address, port))
        except OSError:
            return False
        return True


# --------------------------------------------------------------------------- the sandbox


class Sandbox:
    """A named set of hosts (namespaces) on this machine.  All methods need root."""

    def __init__(
        self,
        name: str,
        hosts: list[SandboxHost],
        *,
        root: Path = DEFAULT_ROOT,
        user: str = DEFAULT_USER,
        speed: bool = True,
        network: str = "loopback",
    ) -> None:
        if network not in NETWORKS:
            raise SandboxError(f"invalid network kind {network!r} (one of: {', '.join(NETWORKS)})")
        if not _SANDBOX_NAME_RE.match(name):
            raise SandboxError(f"invalid sandbox name {name!r} (letters, digits, '.', '_', '-')")
        if not _USER_RE.match(user):
            raise SandboxError(f"invalid user name {user!r}")
        seen: set[str] = set()
        for h in hosts:
            if not _HOST_NAME_RE.match(h.name):
                raise SandboxError(f"invalid host name {h.name!r} (it is used as the hostname)")
            if h.name.lower() in seen:
                raise SandboxError(f"host {h.name!r} given twice")
            seen.add(h.name.lower())
        self.name = name
        self.hosts = list(hosts)
        self.root = Path(root)
        self.user = user
        self.speed = speed
        self.network = network
        self.reused: bool | None = None
        """Set by ``up``: True when it found the sandbox up (kept) and reused it."""
        self.cleaned: str | None = None
        """Set by ``up`` when it removed a sandbox of this name left by a run that died."""

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, name: str, root: Path = DEFAULT_ROOT) -> Sandbox:
        """The sandbox as recorded in ``root/name/state.json`` (by ``up`` in any process)."""
        state = _read_state(Path(root) / name)
        if state is None:
            raise SandboxError(f"no sandbox named {name!r} under {root}")
        return cls(
            name,
            [SandboxHost(h.name, h.address) for h in state.hosts],
            root=root,
            user=state.user,
            speed=state.speed,
            network=state.network,
        )

    # ------------------------------------------------------------------ paths

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def ns_dir(self) -> Path:
        return self.dir / "ns"

    def host_root(self, host: str) -> Path:
        """Per-host state folder (outside the namespace)."""
        self._host(host)
        return self.dir / "hosts" / host

    def socket_dir(self, host: str) -> Path:
        """Real path of the host's /var/run/postgresql (for an observer's Unix socket connection)."""
        return self.host_root(host) / "run-postgresql"

    def _mnt_file(self, host: str) -> Path:
        return self.ns_dir / f"{host}.mnt"

    def _uts_file(self, host: str) -> Path:
        return self.ns_dir / f"{host}.uts"

    def _net_file(self, host: str) -> Path:
        return self.ns_dir / f"{host}.net"

    def _ns_files(self, host: str) -> list[tuple[str, Path]]:
        """(kind, file) of the host's namespaces: mnt, uts, and net with network ``netns``."""
        files = [("mnt", self._mnt_file(host)), ("uts", self._uts_file(host))]
        if self.network == "netns":
            files.append(("net", self._net_file(host)))
        return files

    def namespace_inodes(self, host: str) -> dict[str, int]:
        """{kind: inode} of the host's namespaces, for a session to check it is inside them."""
        out: dict[str, int] = {}
        for kind, f in self._ns_files(host):
            ino = _ns_inode(str(f)) if _is_nsfs_mount(f) else None
            if ino is not None:
                out[kind] = ino
        return out

    def _host(self, host: str) -> SandboxHost:
        for h in self.hosts:
            if h.name == host:
                return h
        raise SandboxError(f"sandbox {self.name}: no host named {host!r} (hosts: {self._host_names()})")

    def _host_names(self) -> str:
        return ", ".join(h.name for h in self.hosts) or "none"

    # ------------------------------------------------------------------ argv builders

    def _nsenter(self, host: str) -> list[str]:
        self._host(host)
        opt = {"mnt": "--mount", "uts": "--uts", "net": "--net"}
        return ["nsenter", *(f"{opt[k]}={f}" for k, f in self._ns_files(host)), "--"]

    def shell_argv(self, host: str) -> list[str]:
        """argv of an interactive shell of the user inside ``host`` (for pexpect).

        The environment is that of a login (``setpriv --reset-env``: HOME, USER, LOGNAME, SHELL,
        PATH; TERM kept; LANG from the machine's /etc/default/locale, else C.UTF-8), the working
        directory is the user's home, and bash reads no startup file and has no line editing.
        ``su -l`` is not used: it calls setsid(), so the shell would have no controlling terminal
        (no job control, and password prompts that read /dev/tty fail).
        """
        return self.exec_argv(host, ["bash", "--noediting", "--noprofile", "--norc", "-i"], user=self.user)

    def exec_argv(self, host: str, argv: list[str], *, user: str | None = None) -> list[str]:
        """argv running ``argv`` non-interactively in ``host``: as root, or as ``user``.

        The environment is clean (HOME, USER, LOGNAME, SHELL, PATH, LANG set as for a login of
        that user); the working directory is the user's home (``/`` for root).
        """
        base = self._nsenter(host)
        if user is None or user == "root":
            env = [
                "env",
                "-i",
                "-C",
                "/",
                "HOME=/root",
                "USER=root",
                "LOGNAME=root",
                "SHELL=/bin/bash",
                f"PATH={SECURE_PATH}",
                "LANG=C.UTF-8",
            ]
            return [*base, *env, *argv]
        home = _home_of(user)
        return [
            *base,
            "setpriv",
            f"--reuid={user}",
            f"--regid={user}",
            "--init-groups",
            "--reset-env",
            "env",
            "-C",
            home,
            f"LANG={_machine_lang()}",
            *argv,
        ]

    def run(
        self, host: str, argv: list[str], *, user: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``host`` and capture its output (text).  Does not raise on exit status."""
        if not self._host_up(host):
            raise SandboxError(f"sandbox {self.name}: host {host} is not up (run `runbook sandbox up` first)")
        full = self.exec_argv(host, argv, user=user)
        try:
            return subprocess.run(
                full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            raise SandboxError(f"{host}: command timed out after {timeout:g}s: {shlex.join(argv)}") from e

    def create_cluster_command(
        self, version: str, *, cluster: str = "main", port: int = PG_PORT, sudo: bool = True,
        template: bool | None = None,
    ) -> str:
        """Shell text creating and starting a PostgreSQL cluster in a host, as Debian's package would.

        Runs ``pg_createcluster --port PORT VERSION CLUSTER`` (with ``template``, by default when
        ``speed``: ``runbook-createcluster VERSION CLUSTER PORT``, the same from a cached template),
        writes the speed settings (when ``speed``) to ``conf.d/zz-runbook-sandbox.conf``, then
        starts the cluster (``pg_ctlcluster VERSION CLUSTER start``; when ``speed``, through the
        systemctl shim, which returns as soon as the server accepts connections).  With ``sudo``
        (the default) it is meant for the user's shell.
        """
        if not re.fullmatch(r"\d+(\.\d+)?", version):
            raise SandboxError(f"invalid PostgreSQL version {version!r}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", cluster):
            raise SandboxError(f"invalid cluster name {cluster!r}")
        su = "sudo " if sudo else ""
        su_pg = "sudo -u postgres " if sudo else "runuser -u postgres -- "
        if self.speed if template is None else template:
            parts = [f"{su}runbook-createcluster {version} {cluster} {int(port)}"]
        else:
            parts = [f"{su}pg_createcluster --port {int(port)} {version} {cluster}"]
        if self.speed:
            conf = speed_conf_text()
            path = f"/etc/postgresql/{version}/{cluster}/conf.d/{SPEED_CONF_NAME}"
            parts.append(f"printf %s {shlex.quote(conf)} | {su_pg}tee {shlex.quote(path)} >/dev/null")
        if self.speed:  # the shim's start returns when the server is ready (docs/sandbox.md)
            parts.append(f"{su}systemctl start postgresql@{version}-{cluster}")
        else:
            parts.append(f"{su}pg_ctlcluster {version} {cluster} start")
        return " && ".join(parts)

    def create_cluster(self, host: str, version: str, *, cluster: str = "main", port: int = PG_PORT) -> None:
        """Create and start a cluster in ``host`` now (as root); raises SandboxError on failure."""
        text = self.create_cluster_command(version, cluster=cluster, port=port, sudo=False)
        cp = self.run(host, ["bash", "-c", text], timeout=120)
        if cp.returncode != 0:
            raise SandboxError(
                f"{host}: creating cluster {version}/{cluster} failed: {(cp.stderr or cp.stdout).strip()}"
            )

    # ------------------------------------------------------------------ state

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return _root_lock(self.root)

    def _state_path(self) -> Path:
        return self.dir / STATE_FILE

    def _write_state(self, state: _State) -> None:
        tmp = self._state_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
        os.replace(tmp, self._state_path())

    def _host_up(self, host: str) -> bool:
        mounts = _mounts()
        return all((str(f), "nsfs") in mounts for _, f in self._ns_files(host))

    def is_up(self) -> bool:
        """True when the state file exists and every host's namespaces exist."""
        if not self._state_path().is_file() or not self.hosts:
            return False
        return all(self._host_up(h.name) for h in self.hosts)

    # ------------------------------------------------------------------ up

    def up(self, *, owner: tuple[int, int] | None = None, fresh: bool = False) -> bool:
        """Create what is missing: machine prerequisites, state folder, every host.  Idempotent.

        With ``owner`` (a run's :func:`owner_token`) the sandbox is recorded as in use by that
        process: another live owner makes ``up`` raise :class:`SandboxBusy`; a dead owner's
        sandbox (a run killed with kill -9) is torn down first and ``self.cleaned`` says so.
        ``fresh`` tears down a sandbox of this name that is not in use first.  Returns True when
        a sandbox that was up (kept) is reused.
        """
        if not self.hosts:
            raise SandboxError(f"sandbox {self.name}: no hosts given")
        for h in self.hosts:
            _validate_address(h.address, h.name, self.network)
        addrs = [h.address for h in self.hosts]
        if len(set(addrs)) != len(addrs):
            raise SandboxError(f"sandbox {self.name}: two hosts share an address ({', '.join(addrs)})")
        _require_root()
        _require_tools(self.network)
        ensure_sudo()
        ensure_user(self.user)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        with self._lock():
            old = _read_state(self.dir)
            if old is not None and old.owner is not None and old.owner != owner:
                if old.owner_alive():
                    raise SandboxBusy(f"sandbox {self.name} is in use by process {old.owner[0]}")
                self.cleaned = f"removed sandbox {self.name}, left by a run that ended abruptly (pid {old.owner[0]})"
                self._down_locked(fast=True)
                old = None
            if fresh and old is not None:
                self._down_locked(fast=self.speed)
                old = None
            reused = old is not None and all(self._host_up(h.name) for h in old.hosts)
            self.reused = None
            self._check_other_sandboxes()
            if old is not None:
                old_hosts = {(h.name, h.address) for h in old.hosts}
                new_hosts = {(h.name, h.address) for h in self.hosts}
                running = [h.name for h in old.hosts if self._host_up(h.name)]
                if (old_hosts != new_hosts or old.network != self.network) and running:
                    raise SandboxError(
                        f"sandbox {self.name} is up with other hosts "
                        f"({', '.join(f'{n}={a}' for n, a in sorted(old_hosts))}, network {old.network}); "
                        "run `runbook sandbox down` first"
                    )
                if old.user != self.user and running:
                    raise SandboxError(f"sandbox {self.name} is up for user {old.user}; run down first")
            self.dir.mkdir(exist_ok=True)
            os.chmod(self.dir, 0o755)
            (self.dir / "hosts").mkdir(exist_ok=True)
            os.chmod(self.dir / "hosts", 0o755)
            state = _State(self.name, self.user, self.speed, [_HostState(h.name, h.address) for h in self.hosts],
                           self.network, owner)
            if old is not None:  # keep recorded inodes of namespaces that still exist
                for hs in state.hosts:
                    for oh in old.hosts:
                        if oh.name == hs.name:
                            hs.mnt_ino, hs.uts_ino, hs.net_ino = oh.mnt_ino, oh.uts_ino, oh.net_ino
            self._write_state(state)
            self._ensure_ns_dir()
            if self.network == "netns":
                self._ensure_bridge()
            for h in self.hosts:
                self._write_host_files(h)
            created: list[int] = []
            for i, hs in enumerate(state.hosts):
                if self._host_up(hs.name):
                    continue
                self._create_host(self._host(hs.name), i)
                created.append(i)
                hs.mnt_ino = _ns_inode(str(self._mnt_file(hs.name)))
                hs.uts_ino = _ns_inode(str(self._uts_file(hs.name)))
                if self.network == "netns":
                    hs.net_ino = _ns_inode(str(self._net_file(hs.name)))
                self._write_state(state)
            if created and self.network == "netns":
                script = "".join(f"ip link set v{i} master br0 && ip link set v{i} up && " for i in created)
                cp = _cmd(["nsenter", f"--net={self._bridge_file()}", "--", "sh", "-c", script + "true"],
                          timeout=30, check=False)
                if cp.returncode != 0:
                    raise SandboxError(f"sandbox {self.name}: linking the hosts to the bridge failed: "
                                       f"{(cp.stderr or cp.stdout).strip()}")
        self.reused = reused
        return reused

    def set_owner(self, owner: tuple[int, int] | None) -> None:
        """Record ``owner`` as the process using the sandbox (None: kept, e.g. after ``run --keep``)."""
        with self._lock():
            state = _read_state(self.dir)
            if state is not None:
                state.owner = owner
                self._write_state(state)

    def _check_other_sandboxes(self) -> None:
        """Loopback hosts share the machine's network: two of them cannot have one address."""
        if self.network != "loopback":
            return
        mine = {h.address: h.name for h in self.hosts}
        for other in list_sandboxes(self.root):
            if other == self.name:
                continue
            try:
                sb = Sandbox.load(other, self.root)
            except SandboxError:
                continue
            if sb.network != "loopback":
                continue
            for h in sb.hosts:
                if h.address in mine and sb._host_up(h.name):
                    raise AddressTaken(
                        f"address {h.address} (host {mine[h.address]}) is already used by host {h.name} "
                        f"of the running sandbox {other!r} (loopback network: the hosts share the machine's "
                        "addresses); run `runbook sandbox down` for it or choose other addresses"
                    )

    def _ensure_ns_dir(self) -> None:
        # unshare --mount=FILE needs FILE on a private mount (no propagation loops): bind the folder
        # onto itself and make it private.
        self.ns_dir.mkdir(exist_ok=True)
        if not _is_mountpoint(self.ns_dir):
            _cmd(["mount", "--bind", str(self.ns_dir), str(self.ns_dir)])
        _cmd(["mount", "--make-private", str(self.ns_dir)])

    def _bridge_file(self) -> Path:
        return self.ns_dir / f"{BRIDGE_NS}.net"

    def _ensure_bridge(self) -> None:
        """The sandbox's own network namespace holding the bridge ``br0`` the hosts are linked to."""
        f = self._bridge_file()
        if _is_nsfs_mount(f):
            return
        if any(self._host_up(h.name) for h in self.hosts):
            raise SandboxError(f"sandbox {self.name}: hosts are up without their bridge; "
                               "run `runbook sandbox down` first")
        f.touch()
        cp = _cmd(["unshare", f"--net={f}", "--", "sh", "-c",
                   "ip link set lo up && ip link add br0 type bridge && ip link set br0 up"],
                  timeout=30, check=False)
        if cp.returncode != 0:
            if _is_mountpoint(f):
                _umount(str(f))
            raise SandboxError(f"sandbox {self.name}: creating the bridge's network namespace failed: "
                               f"{(cp.stderr or cp.stdout).strip()}")

    def _hosts_file_text(self, me: SandboxHost) -> str:
        lines = [f"# /etc/hosts of sandbox host {me.name} (runbook sandbox {self.name}, network {self.network})"]
        if self.network == "netns":
            lines.append("127.0.0.1\tlocalhost")
            if Path("/proc/sys/net/ipv6").is_dir():
                lines.append("::1\tlocalhost ip6-localhost ip6-loopback")
            lines.append(f"{me.address}\t{me.name}")
        else:
            lines.append(f"{me.address}\tlocalhost {me.name}")
        for h in self.hosts:
            if h.name != me.name:
                lines.append(f"{h.address}\t{h.name}")
        return "\n".join(lines) + "\n"

    def _write_host_files(self, h: SandboxHost) -> None:
        """Write /etc/hosts, /etc/hostname and the shim (in place, so bind mounts stay valid)."""
        hr = self.dir / "hosts" / h.name
        hr.mkdir(exist_ok=True)
        os.chmod(hr, 0o755)
        _write_in_place(hr / "hosts", self._hosts_file_text(h), 0o644)
        _write_in_place(hr / "hostname", h.name + "\n", 0o644)
        sbin = hr / "sbin"
        sbin.mkdir(exist_ok=True)
        os.chmod(sbin, 0o755)
        for shim in SHIMS:
            _write_in_place(sbin / shim, _shim_source(shim).read_text(), 0o755)
        flag = sbin / "runbook-fast-start"  # the systemctl shim's speed setting (docs/sandbox.md)
        if self.speed:
            _write_in_place(flag, "# speed setting: systemctl start returns once the server accepts connections\n",
                            0o644)
        elif flag.exists():
            flag.unlink()

    def _fresh_dirs(self, h: SandboxHost) -> None:
        hr = self.dir / "hosts" / h.name
        pw = _passwd(self.user)
        dirs: list[tuple[str, int, int, int]] = []
        for b in PG_BIND_DIRS:
            dirs.append((b.folder, _uid(b.owner), _gid(b.group), b.mode))
        dirs += [("home", pw.pw_uid, pw.pw_gid, 0o755), ("tmp", 0, 0, 0o1777), ("empty", 0, 0, 0o755)]
        for folder, uid, gid, mode in dirs:
            p = hr / folder
            for m in _mounts_under(p):  # a data folder in memory, left by a host that died
                _umount(m)
            if p.exists():
                _rmtree(p)
            p.mkdir()
            if self.speed and folder == DATA_IN_MEMORY:
                _cmd(["mount", "-t", "tmpfs", "-o", f"mode={mode:o},uid={uid},gid={gid},size={DATA_TMPFS_SIZE}",
                      "runbook-data", str(p)])
            os.chown(p, uid, gid)
            os.chmod(p, mode)
        skel = Path("/etc/skel")
        if skel.is_dir():
            home = hr / "home"
            shutil.copytree(skel, home, dirs_exist_ok=True, symlinks=True)
            for dirpath, dirnames, filenames in os.walk(home):
                for n in [*dirnames, *filenames]:
                    os.lchown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)

    def _create_host(self, h: SandboxHost, index: int) -> None:
        if self.network == "loopback" and _port_in_use(h.address, PG_PORT):
            raise SandboxError(
                f"host {h.name}: something outside the sandbox already listens on {h.address}:{PG_PORT} "
                "(the machine's PostgreSQL with listen_addresses = '*'?); stop it or choose other addresses"
            )
        self._fresh_dirs(h)
        files = self._ns_files(h.name)
        for _, f in files:
            if _is_mountpoint(f):
                _umount(str(f))
            f.touch()
        opt = {"mnt": "--mount", "uts": "--uts", "net": "--net"}
        argv = [
            "unshare",
            *(f"{opt[k]}={f}" for k, f in files),
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            self._setup_script(h, index),
        ]
        cp = _cmd(argv, timeout=30, check=False)
        if cp.returncode != 0:
            for _, f in files:
                if _is_mountpoint(f):
                    _umount(str(f))
            raise SandboxError(
                f"host {h.name}: creating its namespaces failed: {(cp.stderr or cp.stdout).strip()}"
            )

    def _network_script(self, h: SandboxHost, index: int) -> list[str]:
        """Inside the host's new network namespace: lo up, eth0 with the host's address (/32), a
        veth to the bridge namespace, a route to each other host (no default route: nothing else
        is reachable)."""
        q = shlex.quote
        lines = [
            "ip link set lo up",
            f"ip link add eth0 type veth peer name v{index} netns {q(str(self._bridge_file()))}",
            f"ip addr add {h.address}/32 dev eth0",
            "ip link set eth0 up",
        ]
        lines += [f"ip route add {o.address}/32 dev eth0" for o in self.hosts if o.name != h.name]
        return lines

    def _setup_script(self, h: SandboxHost, index: int = 0) -> str:
        hr = self.dir / "hosts" / h.name
        q = shlex.quote
        root = str(self.root).rstrip("/")
        lines = ["set -e"]
        if self.network == "netns":
            lines += self._network_script(h, index)  # before the bridge's namespace file is detached below
        lines += [
            f"hostname {q(h.name)}",
        ]
        for b in PG_BIND_DIRS:
            lines.append(f"mkdir -p {q(b.target)}")
            lines.append(f"mount --bind {q(str(hr / b.folder))} {q(b.target)}")
        # the new namespace got copies of the sandboxes' mounts (namespace files, in-memory data
        # folders); drop them (after binding its own data folder) so that this namespace holds no
        # reference to other hosts' namespaces or data.
        lines.append(f"awk -v r={q(root + '/')} 'index($5, r) == 1 {{print $5}}' /proc/self/mountinfo | sort -r | "
                     "xargs -r -d '\\n' umount -l 2>/dev/null || true")  # one umount for all of them
        home = _home_of(self.user)
        lines += [
            f"mount --bind {q(str(hr / 'home'))} {q(home)}",
            f"mount --bind {q(str(hr / 'hosts'))} /etc/hosts",
            f"if [ -e /etc/hostname ]; then mount --bind {q(str(hr / 'hostname'))} /etc/hostname; fi",
            f"mount --bind {q(str(hr / 'sbin'))} /usr/local/sbin",
            f"if [ -e /usr/bin/systemctl ]; then mount --bind {q(str(hr / 'sbin' / 'systemctl'))} "
            "/usr/bin/systemctl; fi",
            # without systemd visible, pg_ctlcluster/pg_createcluster never redirect to systemctl
            f"if [ -d /run/systemd/system ]; then mount --bind {q(str(hr / 'empty'))} /run/systemd; fi",
            # POSIX shared memory of the host's servers dies with the host (even after kill -9)
            "if [ -d /dev/shm ]; then mount -t tmpfs -o mode=1777,size=25% runbook-shm /dev/shm; fi",
            # last: the sandbox root may itself be under /tmp
            f"mount --bind {q(str(hr / 'tmp'))} /tmp",
        ]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ down

    def down(self, *, fast: bool = False) -> None:
        """Stop every process of the hosts, unmount everything, remove the state folder.  Idempotent.

        ``fast``: the servers are killed at once (SIGKILL) instead of an immediate shutdown; their
        data is thrown away anyway, and their SysV shared memory segments are removed here.
        """
        _require_root()
        if not self.root.exists():
            return
        with self._lock():
            self._down_locked(fast=fast)

    def _down_locked(self, *, fast: bool = False) -> None:
        if not self.dir.exists():
            return
        state = _read_state(self.dir)
        inodes: set[int] = set()
        if state is not None:
            for hs in state.hosts:
                inodes |= hs.inodes()
        if self.ns_dir.is_dir():
            for f in self.ns_dir.iterdir():
                if _is_nsfs_mount(f):
                    ino = _ns_inode(str(f))
                    if ino is not None:
                        inodes.add(ino)
        _stop_processes(inodes, fast=fast)
        for m in _mounts_under(self.dir):
            _umount(m)
        left = _mounts_under(self.dir)
        if left:
            raise SandboxError(f"sandbox {self.name}: still mounted: {', '.join(left)}")
        _rmtree(self.dir)

    # ------------------------------------------------------------------ status

    def diagnose(self, host: str) -> str | None:
        """Named trouble of the host's PostgreSQL clusters: a server that died (its postmaster.pid
        names a process that is gone), a data directory whose file system is full."""
        notes: list[str] = []
        lib = self.host_root(host) / "lib-postgresql"
        for pidfile in sorted(lib.glob("*/*/postmaster.pid")):
            cluster = f"{pidfile.parent.parent.name}/{pidfile.parent.name}"
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if _start_time(pid) is None or _comm(pid) != "postgres":
                notes.append(f"the PostgreSQL server {cluster} of {host} died: its postmaster (pid {pid}) is "
                             f"gone; see /var/log/postgresql/postgresql-{cluster.replace('/', '-')}.log there")
        for datadir in sorted(lib.glob("*/*")):
            try:
                out = self.run(host, ["df", "-Pk", f"/var/lib/postgresql/{datadir.parent.name}/{datadir.name}"],
                               timeout=10).stdout.splitlines()
            except SandboxError:
                continue
            f = out[-1].split() if len(out) > 1 else []
            if len(f) >= 4 and f[3].isdigit() and int(f[3]) < 1024:
                notes.append(f"the data directory of {datadir.parent.name}/{datadir.name} on {host} is out of "
                             f"space ({f[3]} kB free on {f[5] if len(f) > 5 else 'its file system'})")
        return "; ".join(notes) or None

    def memory_kb(self, host: str) -> int:
        """Proportional set size (kB) of the host's processes: shared pages counted once overall."""
        inodes = set(self.namespace_inodes(host).values())
        total = 0
        for pid in _pids_in(inodes):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            except (OSError, ValueError):
                continue
        return total

    def status(self) -> list[dict[str, Any]]:
        """Per host: name, address, up, clusters (version, cluster, port, status), processes, memory_kb."""
        out: list[dict[str, Any]] = []
        for h in self.hosts:
            up = self._host_up(h.name)
            clusters: list[dict[str, Any]] = []
            processes = 0
            memory = 0
            if up:
                processes = len(_pids_in(set(self.namespace_inodes(h.name).values())))
                memory = self.memory_kb(h.name)
                cp = self.run(h.name, ["pg_lsclusters", "-h"], timeout=30)
                for line in cp.stdout.splitlines():
                    f = line.split()
                    if len(f) >= 4:
                        clusters.append(
                            {
                                "version": f[0],
                                "cluster": f[1],
                                "port": int(f[2]) if f[2].isdigit() else f[2],
                                "status": f[3],
                            }
                        )
            out.append(
                {"name": h.name, "address": h.address, "up": up, "clusters": clusters, "processes": processes,
                 "memory_kb": memory}
            )
        return out


# --------------------------------------------------------------------------- module functions


def speed_conf_text() -> str:
    """Content of conf.d/zz-runbook-sandbox.conf (the speed settings)."""
    lines = ["# Written by the runbook sandbox (speed settings; runbook run --no-speed leaves it out)."]
    for s in SPEED_SETTINGS:
        lines.append(f"{s.name} = {s.value}")
    return "\n".join(lines) + "\n"


def list_sandboxes(root: Path = DEFAULT_ROOT) -> list[str]:
    """Names of the sandboxes recorded under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / STATE_FILE).is_file())


def cleanup_all(root: Path = DEFAULT_ROOT) -> list[str]:
    """``down`` for every sandbox under ``root`` (also half-created ones); returns their names."""
    root = Path(root)
    if not root.is_dir():
        return []
    done: list[str] = []
    for p in sorted(root.iterdir()):
        if not p.is_dir() or not _SANDBOX_NAME_RE.match(p.name):
            continue
        try:
            sb = Sandbox.load(p.name, root)
        except SandboxError:
            sb = Sandbox(p.name, [], root=root)
        sb.down()
        done.append(p.name)
    return done


def up_unused(base: Sandbox, *, fresh: bool = False,
              hosts: Callable[[int], list[SandboxHost]] | None = None) -> Sandbox:
    """Bring up, owned by this process, the first of the sandboxes ``base.name``, ``NAME-2``,
    ``NAME-3`` … that no live run uses (a concurrent run keeps its own).  ``hosts(n)``: the hosts of
    the n-th (default: ``base``'s), and then one whose loopback address another running sandbox holds
    is passed over too.  A sandbox that fails half way up is torn down again."""
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


def cleanup_abandoned(root: Path = DEFAULT_ROOT) -> list[str]:
    """Tear down every sandbox under ``root`` left by a run that died (its owner process is gone,
    e.g. ``kill -9``); kept sandboxes (no owner) and those of live runs stay.  Returns their names."""
    root = Path(root)
    if not root.is_dir():
        return []
    done: list[str] = []
    with _root_lock(root):
        for p in sorted(root.iterdir()):
            if not p.is_dir() or not _SANDBOX_NAME_RE.match(p.name):
                continue
            try:
                state = _read_state(p)
            except SandboxError:
                state = None
            if state is not None and (state.owner is None or state.owner_alive()):
                continue
            Sandbox(p.name, [], root=root)._down_locked(fast=True)
            done.append(p.name)
    return done


def ensure_sudo() -> None:
    """Install sudo with apt-get if it is missing."""
    if shutil.which("sudo") or Path("/usr/bin/sudo").exists():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cp = subprocess.run(["apt-get", "install", "-y", "sudo"], capture_output=True, text=True, env=env)
    if cp.returncode != 0:
        raise SandboxError(
            f"sudo is missing and `apt-get install -y sudo` failed: {cp.stderr.strip()[-500:]}"
        )


def ensure_user(user: str) -> None:
    """Create ``user`` (useradd -m -s /bin/bash) if missing; give it passwordless sudo."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        _cmd(["useradd", "-m", "-s", "/bin/bash", user])
    home = Path(_home_of(user))
    if not home.is_dir():  # bind mount target inside the hosts
        pw = _passwd(user)
        home.mkdir(parents=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    text = (
        "# Created by the runbook sandbox: the guide's user has passwordless sudo.\n"
        f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    )
    path = SUDOERS_FILE if user == DEFAULT_USER else SUDOERS_FILE.with_name(f"runbook-sandbox-{user}")
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")  # files with a '.' are ignored by sudo's includedir
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    cp = subprocess.run(["visudo", "-cf", str(tmp)], capture_output=True, text=True)
    if cp.returncode != 0:
        tmp.unlink()
        raise SandboxError(
            f"sudoers file for {user} does not validate: {cp.stdout.strip()} {cp.stderr.strip()}"
        )
    os.replace(tmp, path)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError("the embedded sandbox needs root (namespaces and bind mounts); run as root")


def _require_tools(network: str = "loopback") -> None:
    tools = ("unshare", "nsenter", "setpriv", "su", "mount", "umount") + (("ip",) if network == "netns" else ())
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise SandboxError(f"missing commands: {', '.join(missing)} (Debian packages util-linux, mount, iproute2)")
    if not shutil.which("pg_createcluster") or not shutil.which("pg_lsclusters"):
        raise SandboxError("PostgreSQL is not installed (need Debian's postgresql-common and postgresql-NN)")
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise SandboxError("the postgres user is missing (install Debian's postgresql package)") from e


def _passwd(user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError as e:
        raise SandboxError(f"no such user: {user}") from e


def _home_of(user: str) -> str:
    return _passwd(user).pw_dir


def _uid(user: str) -> int:
    return _passwd(user).pw_uid


def _gid(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError as e:
        raise SandboxError(f"no such group: {group}") from e


def _write_in_place(path: Path, text: str, mode: int) -> None:
    if path.exists() and path.read_text() == text:
        os.chmod(path, mode)
        return
    with open(path, "w") as f:  # keep the inode: it may be bind-mounted in a host
        f.write(text)
    os.chmod(path, mode)


def _machine_lang() -> str:
    """LANG a login on this machine gets (/etc/default/locale), C.UTF-8 if unset."""
    try:
        for line in Path("/etc/default/locale").read_text().splitlines():
            m = re.fullmatch(r"\s*LANG=[\"']?([^\"'\s]+)[\"']?\s*", line)
            if m:
                return m.group(1)
    except OSError:
        pass
    return "C.UTF-8"


def _rmtree(path: Path) -> None:
    """Remove a tree without crossing into mounts (refuses if something is mounted below)."""
    if not path.exists():
        return
    mounted = _mounts_under(path)
    if mounted:
        raise SandboxError(f"refusing to remove {path}: still mounted: {', '.join(mounted)}")
    shutil.rmtree(path)


def _read_state(d: Path) -> _State | None:
    p = d / STATE_FILE
    try:
        return _State.from_json(json.loads(p.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as e:
        raise SandboxError(f"broken sandbox state file {p}: {e}") from e


@contextlib.contextmanager
def _root_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _stop_processes(inodes: set[int], *, fast: bool = False) -> None:
    """Stop every process in the namespaces: PostgreSQL servers first (immediate shutdown, so they
    release their shared memory), then everything else (HUP/TERM, then KILL).  ``fast``: KILL
    everything at once and remove the killed servers' SysV shared memory segments."""
    pids = _pids_in(inodes)
    if not pids:
        return
    pg = {p for p in pids if _comm(p) == "postgres"}
    postmasters = [p for p in pg if _ppid(p) not in pg]
    if fast:
        for p in pids:
            _kill(p, signal.SIGKILL)
        _wait_gone(inodes, 5.0)
        _remove_shm_of(set(postmasters))
    for p in postmasters:
        _kill(p, signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while postmasters and time.monotonic() < deadline:
        alive = set(_pids_in(inodes))
        if not any(p in alive for p in postmasters):
            break
        time.sleep(0.05)
    for attempt in range(3):
        left = _pids_in(inodes)
        if not left:
            return
        for p in left:
            _kill(p, signal.SIGHUP)
            _kill(p, signal.SIGTERM)
            _kill(p, signal.SIGCONT)
        left = _wait_gone(inodes, 2.0 if attempt == 0 else 1.0)
        for p in left:
            _kill(p, signal.SIGKILL)
        left = _wait_gone(inodes, 5.0)
        if not left:
            return
    left = _pids_in(inodes)
    if left:
        raise SandboxError(f"processes still running in the sandbox: {', '.join(map(str, left))}")


def _remove_shm_of(creators: set[int]) -> None:
    """Remove the SysV shared memory segments created by ``creators`` that nothing uses any more."""
    if not creators:
        return
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return
    for line in lines:
        f = line.split()
        if len(f) > 6 and f[4].isdigit() and int(f[4]) in creators and f[6] == "0":
            subprocess.run(["ipcrm", "-m", f[1]], capture_output=True, check=False)


__all__ = [
    "DEFAULT_ROOT",
    "PG_BIND_DIRS",
    "SPEED_SETTINGS",
    "Sandbox",
    "SandboxError",
    "SandboxHost",
    "SpeedSetting",
    "SandboxBusy",
    "AddressTaken",
    "up_unused",
    "cleanup_abandoned",
    "cleanup_all",
    "network_mode",
    "owner_token",
    "ensure_sudo",
    "ensure_user",
    "list_sandboxes",
    "speed_conf_text",
]
