"""Bringing a sandbox's hosts up: who may (owner, hosts, addresses), each host's cgroups, network,
folders, writable layer and container, all started together (docs/sandbox.md, "How it is built")."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from . import cgroups as cg
from . import hosts as hs_
from . import lifecycle, network, templates
from .machine import machine_lang
from .mounts import mount_tmpfs, ns_inode, rmtree, umount_all_under
from .speed import DATA_IN_MEMORY, DATA_TMPFS_SIZE
from .state import (
    PG_PORT,
    AddressTaken,
    HostState,
    SandboxBusy,
    SandboxError,
    SandboxHost,
    SandboxUsageError,
    State,
    list_sandboxes,
    read_state,
    start_time,
    write_state,
)

if TYPE_CHECKING:
    from .core import Sandbox

CACHE_SIZE = "25%"
"""The most the sandbox's own cluster templates may hold (memory; what a host writes counts against its
memory limit)."""
SOCKET_DIR_SIZE = "16m"
"""A host's /run/postgresql (a tmpfs: Unix sockets, lock and pid files)."""
READY = "ready"
_STATE_LOCK = threading.Lock()


def check_hosts(sb: Sandbox) -> None:
    """Refuse no hosts, an address the sandbox's network cannot give, two hosts on one address."""
    if not sb.hosts:
        raise SandboxUsageError(f"sandbox {sb.name}: no hosts given")
    for h in sb.hosts:
        network.validate_address(h.address, h.name, sb.network)
    addrs = [h.address for h in sb.hosts]
    if len(set(addrs)) != len(addrs):
        raise SandboxUsageError(f"sandbox {sb.name}: two hosts share an address ({', '.join(addrs)})")


def take_over(sb: Sandbox, owner: tuple[int, int] | None, fresh: bool) -> State | None:
    """The sandbox's state if it may be brought up (again) by ``owner``: a live owner's is busy, a dead
    owner's is torn down first, so is the whole sandbox with ``fresh``, and what is left of one whose
    folder was deleted while it was up (its run folder, found by its key: :mod:`.folders`)."""
    old = read_state(sb.dir)
    if old is None and sb.run_dir.is_dir():  # (the root's lock is held: no up is half way there)
        lifecycle.down_locked(sb, fast=True)
        sb.cleaned = (f"removed what was left of sandbox {sb.name}, whose folder {sb.dir} was deleted while "
                      "it was up")
    if old is not None and old.owner is not None and old.owner != owner:
        if old.owner_alive():
            raise SandboxBusy(f"sandbox {sb.name} is in use by process {old.owner[0]}")
        sb.cleaned = f"removed sandbox {sb.name}, left by a run that ended abruptly (pid {old.owner[0]})"
        lifecycle.down_locked(sb, fast=True)
        old = None
    if fresh and old is not None:
        lifecycle.down_locked(sb, fast=sb.speed)
        old = None
    if old is not None:
        old_hosts = {(h.name, h.address) for h in old.hosts}
        new_hosts = {(h.name, h.address) for h in sb.hosts}
        running = [h.name for h in old.hosts if h.alive()]
        if (old_hosts != new_hosts or old.network != sb.network) and running:
            raise SandboxUsageError(
                f"sandbox {sb.name} is up with other hosts "
                f"({', '.join(f'{n}={a}' for n, a in sorted(old_hosts))}, network {old.network}); "
                "run `runbook sandbox down` first")
        if old.user != sb.user and running:
            raise SandboxUsageError(f"sandbox {sb.name} is up for user {old.user}; run `runbook sandbox down` "
                                    "first")
    return old


def create_missing(sb: Sandbox, state: State) -> None:
    assert state.uid_base is not None
    ids = hs_.host_ids(state.uid_base, sb.user)
    fresh = not any(hs.alive() for hs in state.hosts)
    cache = sb.cache_dir  # the hosts' cluster templates (runbook-createcluster): this sandbox's only
    if fresh:  # (what hosts that died left there is not to be trusted)
        umount_all_under(cache)
        rmtree(cache)
    if not cache.is_dir():  # in memory, as every folder a host can write: the machine's disk stays out
        cache.mkdir()
        mount_tmpfs(cache, size=CACHE_SIZE, mode=0o700, uid=ids.base, gid=ids.base, name="runbook-cache")
    sb.crun_root.mkdir(mode=0o700, exist_ok=True)
    if sb.network == "netns":
        network.ensure_ns_dir(sb.ns_dir)
        network.ensure_bridge(sb._bridge_file(), sb.name)
    if not templates.MACHINE_CACHE.is_dir():  # runbook's own cache folder (the hosts see it read-only)
        templates.MACHINE_CACHE.mkdir(parents=True)
        os.chmod(templates.MACHINE_CACHE, 0o700)
    template = fresh and sb.speed  # (the machine's template of the newest PostgreSQL, if it is missing)
    with ThreadPoolExecutor(1) as pool:
        key = pool.submit(templates.newest_key, machine_lang()) if template else None
        created: dict[int, tuple[int, Path, Path]] = {}
        missing = [(i, hs) for i, hs in enumerate(state.hosts) if not hs.alive()]
        with ThreadPoolExecutor(max(1, len(missing))) as hosts_pool:  # made at once, then they come up
            futures = {i: hosts_pool.submit(create_host, sb, sb._host(hs.name), i, hs, ids, state)
                       for i, hs in missing}
            for i, f in futures.items():
                created[i] = f.result()
        for i, (pid, ready, log) in created.items():
            hs = state.hosts[i]
            hs_.wait_ready(hs.name, pid, ready, log)
            started = start_time(pid)
            if started is None:
                raise SandboxError(f"host {hs.name}: its container ended at once: {hs_.tail(log)}")
            hs.init = (pid, started)
            kinds = ("mnt", "uts", "ipc", "pid", "user", *(("net",) if sb.network == "netns" else ()))
            hs.ns = {k: n for k in kinds if (n := ns_inode(f"/proc/{pid}/ns/{k}")) is not None}
        write_state(sb.dir, state)
        if sb.network == "netns":
            network.link_to_bridge(sb._bridge_file(), list(created), sb.name)
        if key is not None and created:  # no guide command ran in this sandbox yet
            sb.template_note = templates.ensure(sb, state.hosts[min(created)].name, machine_lang(),
                                                  key.result())


def hidden(sb: Sandbox) -> list[str]:
    """The sandboxes' root folder, if the hosts' overlays would show it."""
    root = sb.root.resolve()
    for d in hs_.OVERLAID:
        if root.is_relative_to(f"/{d}") and root != Path(f"/{d}"):
            return [str(root.relative_to("/"))]
    return []


def create_host(sb: Sandbox, h: SandboxHost, index: int, hs: HostState, ids: hs_.Ids,
                 state: State) -> tuple[int, Path, Path]:
    """Make the host's cgroups, network, folders and writable layer, and start its container;
    returns its init's pid, the file it writes when the host is ready, and its log."""
    sb._host(h.name)
    hr = sb.run_dir / h.name  # (the real path: crun is given no link)
    if hs.cgroups:  # a host that died: what is left of it goes first
        cg.kill_all(hs.cgroups)
    umount_all_under(hr)
    rmtree(hr)
    hr.mkdir()
    if sb.network == "loopback" and network.port_in_use(h.address, PG_PORT):
        raise SandboxError(
            f"host {h.name}: something outside the sandbox already listens on {h.address}:{PG_PORT} "
            "(the machine's PostgreSQL with listen_addresses = '*'?); stop it or choose other addresses")
    hs.init = None
    hs.cgroups = cg.host_cgroups(sb.key, h.name)
    with _STATE_LOCK:  # (hosts are made at once, in threads)
        write_state(sb.dir, state)  # down finds the cgroups even if what follows fails
    cg.create(hs.cgroups)
    net = None
    if sb.network == "netns":
        net = sb._net_file(h.name)
        network.create_host_netns(net, sb._bridge_file(), h.address,
                                  [o.address for o in sb.hosts if o.name != h.name], index, h.name)
    pg_u, pg_g = ids.outside(ids.pg_uid), ids.outside(ids.pg_gid)
    data, sock = hr / DATA_IN_MEMORY, hr / "run-postgresql"
    data.mkdir()
    if sb.speed:
        mount_tmpfs(data, size=DATA_TMPFS_SIZE, mode=0o755, uid=pg_u, gid=pg_g, name="runbook-data")
    sock.mkdir()
    mount_tmpfs(sock, size=SOCKET_DIR_SIZE, mode=0o2775, uid=pg_u, gid=pg_g, name="runbook-run")
    for p, mode in ((data, 0o755), (sock, 0o2775)):
        os.chown(p, pg_u, pg_g)
        os.chmod(p, mode)
    hosts_text = network.hosts_file_text(sb.name, sb.network, (h.name, h.address),
                                         [(o.name, o.address) for o in sb.hosts])
    layer = hr / "layer"
    hs_.prepare_layer(layer, ids, hostname=h.name, hosts_text=hosts_text, speed=sb.speed, hide=hidden(sb))
    (hr / "tmp").symlink_to("layer/rootfs/tmp")  # the host's /tmp, for files handed to it from outside
    bundle = hr / "bundle"
    bundle.mkdir(mode=0o700)
    config = hs_.oci_config(rootfs=layer / "rootfs", hostname=h.name, ids=ids, net=net, ready=READY,
                            binds={".rw": layer / "rw", "lib-postgresql": data, "run-postgresql": sock,
                                   "cache": sb.cache_dir}, machine_cache=templates.MACHINE_CACHE)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    pid = hs_.start(sb.crun_root, bundle, h.name, hs.cgroups)
    return pid, layer / "rw" / READY, bundle / "init.log"


def check_other_sandboxes(sb: Sandbox) -> None:
    """Loopback hosts share the machine's network: two of them cannot have one address."""
    if sb.network != "loopback":
        return
    mine = {h.address: h.name for h in sb.hosts}
    for other in list_sandboxes(sb.root):
        if other == sb.name:
            continue
        try:
            st = read_state(sb.root / other)
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
