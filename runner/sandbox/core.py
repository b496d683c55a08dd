"""The Sandbox: a named set of hosts on this machine, each a container of its own (docs/sandbox.md)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import cgroups as cg
from . import hosts as hs_
from . import machine, network, templates
from .mounts import mount_tmpfs, ns_inode, rmtree, umount_all_under
from .speed import DATA_IN_MEMORY, DATA_TMPFS_SIZE, SPEED_CONF_NAME, speed_conf_text
from .state import (
    DEFAULT_ROOT,
    DEFAULT_USER,
    HOST_NAME_RE,
    PG_PORT,
    SANDBOX_NAME_RE,
    SECURE_PATH,
    USER_RE,
    AddressTaken,
    HostState,
    SandboxBusy,
    SandboxError,
    SandboxHost,
    SandboxUsageError,
    State,
    list_sandboxes,
    owner_token,
    read_state,
    root_lock,
    start_time,
    write_state,
)

NS_KINDS = ("mnt", "uts", "ipc", "pid", "user", "cgroup", "net")
RUN_DIR = Path("/run/runbook-sandbox/hosts")
CACHE_SIZE = "25%"
"""The most the sandbox's own cluster templates may hold (memory; what a host writes counts against its
memory limit)."""
SOCKET_DIR_SIZE = "16m"
"""A host's /run/postgresql (a tmpfs: Unix sockets, lock and pid files)."""
READY = "ready"


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
        """Where the hosts' folders and mounts are (``ROOT/NAME/hosts`` links there): a folder every id
        can reach, whatever ROOT is (crun makes a host's root folder private from inside its user
        namespace, so every folder above it must be searchable by the host's ids)."""
        return RUN_DIR / self.key

    @property
    def cache_dir(self) -> Path:
        """The sandbox's own cluster templates (``/var/cache/runbook/sandbox`` in its hosts)."""
        return self.run_dir / "cache"

    @property
    def key(self) -> str:
        """Name of the sandbox's cgroups: its name and a hash of its folder (two roots never clash)."""
        return f"{self.name}-{hashlib.sha1(str(self.dir.resolve()).encode()).hexdigest()[:8]}"

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
                "env", "-C", home, f"LANG={_machine_lang()}", *argv]

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
        if not self.hosts:
            raise SandboxUsageError(f"sandbox {self.name}: no hosts given")
        for h in self.hosts:
            network.validate_address(h.address, h.name, self.network)
        addrs = [h.address for h in self.hosts]
        if len(set(addrs)) != len(addrs):
            raise SandboxUsageError(f"sandbox {self.name}: two hosts share an address ({', '.join(addrs)})")
        machine.require(self.network)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        with root_lock(self.root):
            old = self._take_over(owner, fresh)
            reused = old is not None and all(self._host_up(h.name) for h in old.hosts)
            self.reused = None
            self._check_other_sandboxes()
            self.dir.mkdir(exist_ok=True)
            os.chmod(self.dir, 0o755)
            for d in (*reversed(self.run_dir.parents[:-1]), self.run_dir):
                d.mkdir(exist_ok=True)
                os.chmod(d, 0o755)
            if not (self.dir / "hosts").is_symlink():
                (self.dir / "hosts").symlink_to(self.run_dir)
            base = old.uid_base if old is not None and old.uid_base is not None else machine.take_range(self.dir)
            state = State(self.name, self.user, self.speed, [HostState(h.name, h.address) for h in self.hosts],
                          self.network, owner, base)
            for hs in state.hosts:  # keep the records of hosts that still run
                prev = old.host(hs.name) if old is not None else None
                if prev is not None:
                    hs.init, hs.cgroups, hs.ns = prev.init, prev.cgroups, prev.ns
            write_state(self.dir, state)
            self._create_missing(state)
        self.reused = reused
        return reused

    def _take_over(self, owner: tuple[int, int] | None, fresh: bool) -> State | None:
        old = read_state(self.dir)
        if old is not None and old.owner is not None and old.owner != owner:
            if old.owner_alive():
                raise SandboxBusy(f"sandbox {self.name} is in use by process {old.owner[0]}")
            self.cleaned = f"removed sandbox {self.name}, left by a run that ended abruptly (pid {old.owner[0]})"
            self._down_locked(fast=True)
            old = None
        if fresh and old is not None:
            self._down_locked(fast=self.speed)
            old = None
        if old is not None:
            old_hosts = {(h.name, h.address) for h in old.hosts}
            new_hosts = {(h.name, h.address) for h in self.hosts}
            running = [h.name for h in old.hosts if h.alive()]
            if (old_hosts != new_hosts or old.network != self.network) and running:
                raise SandboxUsageError(
                    f"sandbox {self.name} is up with other hosts "
                    f"({', '.join(f'{n}={a}' for n, a in sorted(old_hosts))}, network {old.network}); "
                    "run `runbook sandbox down` first")
            if old.user != self.user and running:
                raise SandboxUsageError(f"sandbox {self.name} is up for user {old.user}; run `runbook sandbox down` "
                                        "first")
        return old

    def _create_missing(self, state: State) -> None:
        assert state.uid_base is not None
        ids = hs_.host_ids(state.uid_base, self.user)
        fresh = not any(hs.alive() for hs in state.hosts)
        cache = self.cache_dir  # the hosts' cluster templates (runbook-createcluster): this sandbox's only
        if fresh:  # (what hosts that died left there is not to be trusted)
            umount_all_under(cache)
            rmtree(cache)
        if not cache.is_dir():  # in memory, as every folder a host can write: the machine's disk stays out
            cache.mkdir()
            mount_tmpfs(cache, size=CACHE_SIZE, mode=0o700, uid=ids.base, gid=ids.base, name="runbook-cache")
        self.crun_root.mkdir(mode=0o700, exist_ok=True)
        if self.network == "netns":
            network.ensure_ns_dir(self.ns_dir)
            network.ensure_bridge(self._bridge_file(), self.name)
        if not templates.MACHINE_CACHE.is_dir():  # runbook's own cache folder (the hosts see it read-only)
            templates.MACHINE_CACHE.mkdir(parents=True)
            os.chmod(templates.MACHINE_CACHE, 0o700)
        template = fresh and self.speed  # (the machine's template of the newest PostgreSQL, if it is missing)
        with ThreadPoolExecutor(1) as pool:
            key = pool.submit(templates.newest_key, _machine_lang()) if template else None
            created: dict[int, tuple[int, Path, Path]] = {}
            for i, hs in enumerate(state.hosts):  # every container starts, then they come up at once
                if not hs.alive():
                    created[i] = self._create_host(self._host(hs.name), i, hs, ids, state)
            for i, (pid, ready, log) in created.items():
                hs = state.hosts[i]
                hs_.wait_ready(hs.name, pid, ready, log)
                started = start_time(pid)
                if started is None:
                    raise SandboxError(f"host {hs.name}: its container ended at once: {hs_.tail(log)}")
                hs.init = (pid, started)
                kinds = ("mnt", "uts", "ipc", "pid", "user", *(("net",) if self.network == "netns" else ()))
                hs.ns = {k: n for k in kinds if (n := ns_inode(f"/proc/{pid}/ns/{k}")) is not None}
            write_state(self.dir, state)
            if self.network == "netns":
                network.link_to_bridge(self._bridge_file(), list(created), self.name)
            if key is not None and created:  # no guide command ran in this sandbox yet
                self.template_note = templates.ensure(self, state.hosts[min(created)].name, _machine_lang(),
                                                      key.result())

    def _hidden(self) -> list[str]:
        """The sandboxes' root folder, if the hosts' overlays would show it."""
        root = self.root.resolve()
        for d in hs_.OVERLAID:
            if root.is_relative_to(f"/{d}") and root != Path(f"/{d}"):
                return [str(root.relative_to("/"))]
        return []

    def _create_host(self, h: SandboxHost, index: int, hs: HostState, ids: hs_.Ids,
                     state: State) -> tuple[int, Path, Path]:
        """Make the host's cgroups, network, folders and writable layer, and start its container;
        returns its init's pid, the file it writes when the host is ready, and its log."""
        self._host(h.name)
        hr = self.run_dir / h.name  # (the real path: crun is given no link)
        if hs.cgroups:  # a host that died: what is left of it goes first
            cg.kill_all(hs.cgroups)
        umount_all_under(hr)
        rmtree(hr)
        hr.mkdir()
        if self.network == "loopback" and network.port_in_use(h.address, PG_PORT):
            raise SandboxError(
                f"host {h.name}: something outside the sandbox already listens on {h.address}:{PG_PORT} "
                "(the machine's PostgreSQL with listen_addresses = '*'?); stop it or choose other addresses")
        hs.init = None
        hs.cgroups = cg.host_cgroups(self.key, h.name)
        write_state(self.dir, state)  # down finds the cgroups even if what follows fails
        cg.create(hs.cgroups)
        net = None
        if self.network == "netns":
            net = self._net_file(h.name)
            network.create_host_netns(net, self._bridge_file(), h.address,
                                      [o.address for o in self.hosts if o.name != h.name], index, h.name)
        pg_u, pg_g = ids.outside(ids.pg_uid), ids.outside(ids.pg_gid)
        data, sock = hr / DATA_IN_MEMORY, hr / "run-postgresql"
        data.mkdir()
        if self.speed:
            mount_tmpfs(data, size=DATA_TMPFS_SIZE, mode=0o755, uid=pg_u, gid=pg_g, name="runbook-data")
        sock.mkdir()
        mount_tmpfs(sock, size=SOCKET_DIR_SIZE, mode=0o2775, uid=pg_u, gid=pg_g, name="runbook-run")
        for p, mode in ((data, 0o755), (sock, 0o2775)):
            os.chown(p, pg_u, pg_g)
            os.chmod(p, mode)
        hosts_text = network.hosts_file_text(self.name, self.network, (h.name, h.address),
                                             [(o.name, o.address) for o in self.hosts])
        layer = hr / "layer"
        hs_.prepare_layer(layer, ids, hostname=h.name, hosts_text=hosts_text, speed=self.speed, hide=self._hidden())
        (hr / "tmp").symlink_to("layer/rootfs/tmp")  # the host's /tmp, for files handed to it from outside
        bundle = hr / "bundle"
        bundle.mkdir(mode=0o700)
        config = hs_.oci_config(rootfs=layer / "rootfs", hostname=h.name, ids=ids, net=net, ready=READY,
                                binds={".rw": layer / "rw", "lib-postgresql": data, "run-postgresql": sock,
                                       "cache": self.cache_dir}, machine_cache=templates.MACHINE_CACHE)
        (bundle / "config.json").write_text(json.dumps(config, indent=1))
        pid = hs_.start(self.crun_root, bundle, h.name, hs.cgroups)
        return pid, layer / "rw" / READY, bundle / "init.log"

    def set_owner(self, owner: tuple[int, int] | None) -> None:
        """Record ``owner`` as the process using the sandbox (None: kept, e.g. after ``run --keep``)."""
        with root_lock(self.root):
            state = read_state(self.dir)
            if state is not None:
                state.owner = owner
                write_state(self.dir, state)

    def _check_other_sandboxes(self) -> None:
        """Loopback hosts share the machine's network: two of them cannot have one address."""
        if self.network != "loopback":
            return
        mine = {h.address: h.name for h in self.hosts}
        for other in list_sandboxes(self.root):
            if other == self.name:
                continue
            try:
                st = read_state(self.root / other)
            except SandboxError:
                continue
            if st is None or st.network != "loopback":
                continue
            for h in st.hosts:
                if h.address in mine and h.alive():
                    raise AddressTaken(
                        f"address {h.address} (host {mine[h.address]}) is already used by host {h.name} "
                        f"of the running sandbox {other!r} (loopback network: the hosts share the machine's "
                        "addresses); run `runbook sandbox down` for it or choose other addresses")

    # ------------------------------------------------------------------ down

    def down(self, *, fast: bool = False) -> None:
        """Stop every process of the hosts (by their cgroups: also those that left the hosts'
        namespaces), unmount everything, remove the state folder.  Idempotent.

        ``fast``: the servers are killed at once (SIGKILL) instead of an immediate shutdown (their data
        is thrown away anyway)."""
        if os.geteuid() != 0:
            raise SandboxError("the embedded sandbox needs root (it created cgroups and mounts); run as root")
        if not self.root.exists():
            return
        with root_lock(self.root):
            self._down_locked(fast=fast)

    def _down_locked(self, *, fast: bool = False) -> None:
        if not self.dir.exists():
            return
        state = read_state(self.dir)
        hosts = state.hosts if state is not None else []
        if not fast:
            _stop_servers([h.cgroups for h in hosts if h.cgroups])
        left: list[int] = []
        for h in hosts:
            if h.cgroups:
                left += cg.kill_all(h.cgroups)
        if left:
            raise SandboxError(f"sandbox {self.name}: processes still running: {', '.join(map(str, left))}")
        umount_all_under(self.run_dir)
        rmtree(self.run_dir)
        umount_all_under(self.dir)
        rmtree(self.dir)
        if state is not None:
            machine.release_range(state.uid_base, self.dir)

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


def _stop_servers(groups: list[dict[str, str]]) -> None:
    """Immediate shutdown (SIGQUIT) of the PostgreSQL postmasters among the hosts' processes: they
    remove what they hold; wait up to 10 s for them."""
    postmasters: list[int] = []
    for cgroups in groups:
        pids = set(cg.tasks(cgroups))
        pg = {p for p in pids if _comm(p) == "postgres"}
        postmasters += [p for p in pg if _ppid(p) not in pg]
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


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def cleanup_all(root: Path = DEFAULT_ROOT) -> list[str]:
    """``down`` for every sandbox under ``root`` (also half-created ones); returns their names."""
    root = Path(root)
    if not root.is_dir():
        return []
    done: list[str] = []
    for p in sorted(root.iterdir()):
        if not p.is_dir() or not SANDBOX_NAME_RE.match(p.name):
            continue
        Sandbox(p.name, [], root=root).down()
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
    with root_lock(root):
        for p in sorted(root.iterdir()):
            if not p.is_dir() or not SANDBOX_NAME_RE.match(p.name):
                continue
            try:
                state = read_state(p)
            except SandboxError:
                state = None
            if state is not None and (state.owner is None or state.owner_alive()):
                continue
            Sandbox(p.name, [], root=root)._down_locked(fast=True)
            done.append(p.name)
    return done
