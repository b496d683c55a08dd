"""The Sandbox: a named set of hosts on this machine, each a container of its own (docs/sandbox.md)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

from . import build, folders, lifecycle, machine, network
from . import cgroups as cg
from . import hosts as hs_
from .machine import machine_lang
from .mounts import ns_inode
from .speed import SPEED_CONF_NAME, speed_conf_text
from .state import (
    DEFAULT_ROOT,
    DEFAULT_USER,
    HOST_NAME_RE,
    PG_PORT,
    SANDBOX_NAME_RE,
    SECURE_PATH,
    USER_RE,
    HostState,
    SandboxError,
    SandboxHost,
    SandboxUsageError,
    State,
    read_state,
    root_lock,
    write_state,
)

NS_KINDS = ("mnt", "uts", "ipc", "pid", "user", "cgroup", "net")


class Sandbox:
    """A named set of hosts (containers) on this machine.  All methods need root."""

    def __init__(self, name: str, hosts: list[SandboxHost], *, root: Path = DEFAULT_ROOT, user: str = DEFAULT_USER,
                 speed: bool = True, network: str = "loopback") -> None:
        if network not in ("netns", "loopback"):
            raise SandboxUsageError(f"invalid network kind {network!r} (one of: netns, loopback)")
        if not SANDBOX_NAME_RE.match(name):
            raise SandboxUsageError(f"invalid sandbox name {name!r} (letters, digits, '.', '_', '-')")
        if not USER_RE.match(user) or user in ("root", "postgres"):
            raise SandboxUsageError(f"invalid user name {user!r}")
        seen: set[str] = set()
        for h in hosts:
            if not HOST_NAME_RE.match(h.name) or h.name.startswith("_"):
                raise SandboxUsageError(f"invalid host name {h.name!r} (it is used as the hostname)")
            if h.name.lower() in seen:
                raise SandboxUsageError(f"host {h.name!r} given twice")
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
        self.template_note: str | None = None
        """Set by ``up`` when it made the machine's cluster template (docs/sandbox.md)."""

    @classmethod
    def load(cls, name: str, root: Path = DEFAULT_ROOT) -> Sandbox:
        """The sandbox as recorded in ``root/name/state.json`` (by ``up`` in any process)."""
        if not SANDBOX_NAME_RE.match(name):
            raise SandboxUsageError(f"invalid sandbox name {name!r} (letters, digits, '.', '_', '-')")
        state = read_state(Path(root) / name)
        if state is None:
            raise SandboxUsageError(f"no sandbox named {name!r} under {root}")
        return cls(name, [SandboxHost(h.name, h.address) for h in state.hosts], root=root, user=state.user,
                   speed=state.speed, network=state.network)

    # ------------------------------------------------------------------ paths and records

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def ns_dir(self) -> Path:
        return self.dir / "ns"

    @property
    def crun_root(self) -> Path:
        return self.dir / "crun"

    @property
    def run_dir(self) -> Path:
        """Where the hosts' folders and mounts are (:mod:`.folders`)."""
        return folders.RUN_DIR / self.key

    @property
    def cache_dir(self) -> Path:
        """The sandbox's own cluster templates (``/var/cache/runbook/sandbox`` in its hosts), beside the
        hosts' folders under a name no host can have (a host name starts with a letter or a digit:
        a guide's host ``cache`` has a folder of its own)."""
        return self.run_dir / folders.CACHE_FOLDER

    @property
    def key(self) -> str:
        """Name of the sandbox's run folder and cgroups: its name and a hash of its folder (:mod:`.folders`)."""
        return folders.key_of(self.dir)

    def host_root(self, host: str) -> Path:
        """Per-host state folder (outside the host)."""
        self._host(host)
        return self.dir / "hosts" / host

    def socket_dir(self, host: str) -> Path:
        """Real path of the host's /var/run/postgresql (for an observer's Unix socket connection)."""
        return self.host_root(host) / "run-postgresql"

    def _net_file(self, host: str) -> Path:
        return self.ns_dir / f"{host}.net"

    def _bridge_file(self) -> Path:
        return self.ns_dir / f"{network.BRIDGE_NS}.net"

    def _host(self, host: str) -> SandboxHost:
        for h in self.hosts:
            if h.name == host:
                return h
        raise SandboxUsageError(f"sandbox {self.name}: no host named {host!r} "
                                f"(hosts: {', '.join(h.name for h in self.hosts) or 'none'})")

    def _state(self) -> State:
        state = read_state(self.dir)
        if state is None:
            raise SandboxError(f"sandbox {self.name} is not up (run `runbook sandbox up` first)")
        return state

    def _host_state(self, host: str) -> HostState:
        self._host(host)
        hs = self._state().host(host)
        if hs is None or not hs.alive():
            raise SandboxError(f"sandbox {self.name}: host {host} is not up (run `runbook sandbox up` first)")
        return hs

    def ids(self) -> hs_.Ids:
        base = self._state().uid_base
        if base is None:
            raise SandboxError(f"sandbox {self.name} has no id range (not up)")
        return hs_.host_ids(base, self.user)

    def postgres_ids(self) -> tuple[int, int]:
        """(uid, gid) outside of ``postgres`` inside the hosts: what the observer connects as (peer
        authentication over the host's Unix socket)."""
        ids = self.ids()
        return ids.outside(ids.pg_uid), ids.outside(ids.pg_gid)

    def observer_roots(self) -> dict[str, tuple[str, str]]:
        """Per host, (its root folder as the machine reaches it, its socket folder inside): the observer
        connects chrooted there, so that a link the guide puts in the socket folder stays inside."""
        state = read_state(self.dir)
        out = {}
        for hs in state.hosts if state is not None else []:
            if hs.init is not None and hs.alive():
                out[hs.name] = (f"/proc/{hs.init[0]}/root", "/run/postgresql")
        return out

    def namespace_inodes(self, host: str) -> dict[str, int]:
        """{kind: inode} of the host's namespaces, for a session to check it is inside them."""
        hs = self._state().host(host)
        out: dict[str, int] = {}
        if hs is None or not hs.alive() or hs.init is None:
            return out
        for kind in NS_KINDS:
            ino = ns_inode(f"/proc/{hs.init[0]}/ns/{kind}")
            if ino is not None:
                out[kind] = ino
        return out

    # ------------------------------------------------------------------ commands in a host

    def shell_argv(self, host: str) -> list[str]:
        """argv of an interactive shell of the user inside ``host`` (for pexpect), on a terminal of the
        host's own (``crun exec --tty``).  The environment is that of a login (``setpriv --reset-env``:
        HOME, USER, LOGNAME, SHELL, PATH; TERM kept; LANG from the machine's /etc/default/locale, else
        C.UTF-8), the working directory is the user's home, bash reads no startup file."""
        return self.exec_argv(host, ["bash", "--noediting", "--noprofile", "--norc", "-i"], user=self.user, tty=True)

    def exec_argv(self, host: str, argv: list[str], *, user: str | None = None, tty: bool = False) -> list[str]:
        """argv running ``argv`` in ``host``: as root (clean environment, sudo's secure_path), or as
        ``user`` (a login's environment, in its home)."""
        hs = self._host_state(host)
        base = hs_.exec_prefix(self.crun_root, host, hs.cgroups, tty=tty)
        if user is None or user == "root":
            return [*base, "env", "-i", "-C", "/", "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash",
                    f"PATH={SECURE_PATH}", "LANG=C.UTF-8", *argv]
        home = self.ids().home if user == self.user else "/var/lib/postgresql" if user == "postgres" else "/"
        return [*base, "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--reset-env",
                "env", "-C", home, f"LANG={machine_lang()}", *argv]

    def run(self, host: str, argv: list[str], *, user: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``host`` and capture its output (text).  Does not raise on exit status."""
        full = self.exec_argv(host, argv, user=user)
        try:
            return subprocess.run(full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise SandboxError(f"{host}: command timed out after {timeout:g}s: {shlex.join(argv)}") from e

    def create_cluster_command(self, version: str, *, cluster: str = "main", port: int = PG_PORT, sudo: bool = True,
                               template: bool | None = None) -> str:
        """Shell text creating and starting a PostgreSQL cluster in a host, as Debian's package would.

        Runs ``pg_createcluster --port PORT VERSION CLUSTER`` (with ``template``, by default when
        ``speed``: ``runbook-createcluster VERSION CLUSTER PORT``, the same from a cached template),
        writes the speed settings (when ``speed``) to ``conf.d/zz-runbook-sandbox.conf``, then starts
        the cluster (``pg_ctlcluster VERSION CLUSTER start``; when ``speed``, through the systemctl
        shim, which returns as soon as the server accepts connections).  With ``sudo`` (the default)
        it is meant for the user's shell."""
        if not re.fullmatch(r"\d+(\.\d+)?", version):
            raise SandboxUsageError(f"invalid PostgreSQL version {version!r}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", cluster):
            raise SandboxUsageError(f"invalid cluster name {cluster!r}")
        su = "sudo " if sudo else ""
        su_pg = "sudo -u postgres " if sudo else "runuser -u postgres -- "
        if self.speed if template is None else template:
            parts = [f"{su}runbook-createcluster {version} {cluster} {int(port)}"]
        else:
            parts = [f"{su}pg_createcluster --port {int(port)} {version} {cluster}"]
        if self.speed:
            path = f"/etc/postgresql/{version}/{cluster}/conf.d/{SPEED_CONF_NAME}"
            parts.append(f"printf %s {shlex.quote(speed_conf_text())} | {su_pg}tee {shlex.quote(path)} >/dev/null")
            parts.append(f"{su}systemctl start postgresql@{version}-{cluster}")
        else:
            parts.append(f"{su}pg_ctlcluster {version} {cluster} start")
        return " && ".join(parts)

    def create_cluster(self, host: str, version: str, *, cluster: str = "main", port: int = PG_PORT) -> None:
        """Create and start a cluster in ``host`` now (as root); raises SandboxError on failure."""
        text = self.create_cluster_command(version, cluster=cluster, port=port, sudo=False)
        cp = self.run(host, ["bash", "-c", text], timeout=120)
        if cp.returncode != 0:
            raise SandboxError(f"{host}: creating cluster {version}/{cluster} failed: "
                               f"{(cp.stderr or cp.stdout).strip()}")

    # ------------------------------------------------------------------ up

    def _host_up(self, host: str) -> bool:
        try:
            state = read_state(self.dir)
        except SandboxError:
            return False
        hs = state.host(host) if state is not None else None
        return hs is not None and hs.alive()

    def is_up(self) -> bool:
        """True when the state file exists and every host's container runs."""
        if not self.hosts:
            return False
        return all(self._host_up(h.name) for h in self.hosts)

    def up(self, *, owner: tuple[int, int] | None = None, fresh: bool = False) -> bool:
        """Create what is missing: state folder, every host.  Idempotent.  Changes nothing on the
        machine outside the sandbox's folder, its cgroups and mounts: what it needs installed is
        checked (exit 3 naming what is missing; ``runbook sandbox setup`` installs it).

        With ``owner`` (a run's :func:`owner_token`) the sandbox is recorded as in use by that process:
        another live owner makes ``up`` raise :class:`SandboxBusy`; a dead owner's sandbox (a run killed
        with kill -9) is torn down first and ``self.cleaned`` says so.  ``fresh`` tears down a sandbox of
        this name that is not in use first.  Returns True when a sandbox that was up (kept) is reused."""
        build.check_hosts(self)
        machine.require(self.network)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        with root_lock(self.root):
            old = build.take_over(self, owner, fresh)
            reused = old is not None and all(self._host_up(h.name) for h in old.hosts)
            self.reused = None
            build.check_other_sandboxes(self)
            folders.make(self)
            base = old.uid_base if old is not None and old.uid_base is not None else machine.take_range(self.dir)
            state = State(self.name, self.user, self.speed, [HostState(h.name, h.address) for h in self.hosts],
                          self.network, owner, base)
            for hs in state.hosts:  # keep the records of hosts that still run
                prev = old.host(hs.name) if old is not None else None
                if prev is not None:
                    hs.init, hs.cgroups, hs.ns = prev.init, prev.cgroups, prev.ns
            write_state(self.dir, state)
            build.create_missing(self, state)
        self.reused = reused
        return reused

    def set_owner(self, owner: tuple[int, int] | None) -> None:
        """Record ``owner`` as the process using the sandbox (None: kept, e.g. after ``run --keep``)."""
        with root_lock(self.root):
            state = read_state(self.dir)
            if state is not None:
                state.owner = owner
                write_state(self.dir, state)

    # ------------------------------------------------------------------ down

    def down(self, *, fast: bool = False) -> None:
        """Stop every process of the hosts (by their cgroups: also those that left the hosts'
        namespaces), unmount everything, remove the state folder.  Idempotent.

        ``fast``: the servers are killed at once (SIGKILL) instead of an immediate shutdown (their data
        is thrown away anyway)."""
        if os.geteuid() != 0:
            raise SandboxError("the embedded sandbox needs root (it created cgroups and mounts); run as root")
        if not self.root.exists() and not self.run_dir.exists():
            return
        with root_lock(self.root):
            lifecycle.down_locked(self, fast=fast)

    # ------------------------------------------------------------------ status

    def diagnose(self, host: str) -> str | None:
        """Named trouble of a host after a failure: a limit it reached (processes, memory), a PostgreSQL
        server that died, a data directory whose file system is full."""
        from .status import diagnose

        return diagnose(self, host)

    def memory_kb(self, host: str) -> int:
        """Memory (kB) the host uses: its processes and its in-memory files (its memory cgroup)."""
        hs = self._state().host(host)
        return cg.memory_usage(hs.cgroups) // 1024 if hs is not None else 0

    def status(self) -> list[dict[str, Any]]:
        """Per host: name, address, up, clusters (version, cluster, port, status), processes, memory_kb."""
        from .status import status

        return status(self)
