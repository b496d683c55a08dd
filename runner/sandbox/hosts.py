"""A sandbox host's file system and its container (crun, from a generated OCI config).

A host is a container of crun (an OCI runtime, Debian package ``crun``) with its own user, PID,
mount, IPC, UTS and cgroup namespaces, and its network namespace (a file made by
:mod:`.network`, or the machine's on the loopback fallback).  uid 0 inside is the first id of the
sandbox's range outside (:func:`.machine.take_range`).  Its root file system:

* ``/usr``, ``/etc``, ``/var``: overlays whose lower layer is the machine's folder, bind-mounted
  read-only with an id mapping (``idmap``: the machine's root-owned files appear owned by root
  inside), and whose upper layer is the host's writable layer: a tmpfs under the sandbox's folder
  (``hosts/HOST/layer``), thrown away by ``down``;
* ``/``, ``/root``, ``/home``, ``/tmp``: folders of that layer; ``/proc`` of its own PID namespace,
  ``/dev`` and ``/run`` tmpfs, ``/sys`` the machine's read-only;
* the upper layer is prepared before the host starts: the guide's user and its sudoers file, the
  hosts' ``/etc/hosts`` and ``/etc/hostname``, the systemctl shim, fresh PostgreSQL folders, and
  the machine's secrets hidden (``/etc/shadow`` replaced by locked entries, private keys removed,
  ``/var/backups``, ``/var/lib/runbook`` … empty: :data:`HIDDEN`).

The container's first process (:func:`init_script`) mounts the overlays, moves the host's
PostgreSQL folders into place, unmounts the machine's folders it mounted them from (so nothing of
the machine but the overlays is reachable), says it is ready and becomes ``tini`` (which reaps).
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .cgroups import join_argv
from .machine import RANGE
from .mounts import mount_tmpfs
from .state import SECURE_PATH, SandboxError

OVERLAID = ("etc", "usr", "var")
"""The machine's folders a host sees as overlays (read-only below, its writable layer above)."""
CLUSTERS = "/var/cache/runbook/clusters"
"""Where the hosts see the machine's cluster templates (an overlay too: read-only below)."""
LIB_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
"""Top folders that are either symbolic links into /usr (merged /usr) or bound read-only."""
EMPTY_DIRS = ("home", "root", "tmp", "run", "proc", "dev", "sys", "mnt", "media", "opt", "srv")
HIDDEN_OPAQUE = ("etc/sudoers.d", "etc/ssl/private", "etc/postgresql", "usr/local/sbin", "var/backups",
                 "var/cache/runbook", "var/lib/runbook", "var/lib/sudo", "var/lib/private", "var/lib/postgresql",
                 "var/log", "var/mail", "var/spool", "var/tmp")
"""Folders of the machine a host sees empty (its own, in its writable layer)."""
HIDDEN_FILES = ("etc/shadow-", "etc/gshadow-", "etc/security/opasswd", "etc/.pwd.lock")
"""Files of the machine a host does not see (besides private keys: etc/ssh/ssh_host_*_key)."""
SHIMS = ("systemctl", "runbook-createcluster")
"""Programs the hosts get in their /usr/local/sbin (runner/data/NAME)."""
LAYER_SIZE = "25%"
SHM_SIZE = "25%"
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
    "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_SETFCAP", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]
"""Root's capabilities inside (they only reach what the host's user namespace owns)."""
MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
          "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/cgroup"]
READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass(frozen=True)
class Ids:
    """Ids inside a host (the machine's /etc/passwd plus the guide's user) and the range outside."""

    base: int
    user: str
    uid: int
    gid: int
    home: str
    pg_uid: int
    pg_gid: int

    def outside(self, uid: int) -> int:
        return self.base + uid


def _passwd_lines() -> list[list[str]]:
    return [line.split(":") for line in Path("/etc/passwd").read_text().splitlines() if line.count(":") == 6]


def _group_lines() -> list[list[str]]:
    return [line.split(":") for line in Path("/etc/group").read_text().splitlines() if line.count(":") == 3]


def host_ids(base: int, user: str) -> Ids:
    """The guide's user inside: the machine's own entry if it has one (its uid), else a new one
    (the first uid ≥ 1000 that is free as uid and gid)."""
    pw = _passwd_lines()
    groups = _group_lines()
    pg = next((p for p in pw if p[0] == "postgres"), None)
    if pg is None:
        raise SandboxError("the postgres user is missing (install Debian's postgresql package)")
    mine = next((p for p in pw if p[0] == user), None)
    if mine is not None:
        uid, gid = int(mine[2]), int(mine[3])
    else:
        used = {int(p[2]) for p in pw if p[2].isdigit()} | {int(g[2]) for g in groups if g[2].isdigit()}
        uid = next(i for i in range(1000, 60000) if i not in used)
        gid = uid
    if uid >= RANGE or int(pg[2]) >= RANGE:
        raise SandboxError(f"the users {user} and postgres need uids below {RANGE}")
    return Ids(base, user, uid, gid, f"/home/{user}", int(pg[2]), int(pg[3]))


def _put(path: Path, text: str | bytes, mode: int, uid: int, gid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def _dir(path: Path, mode: int, uid: int, gid: int, *, opaque: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    if opaque:  # overlayfs mounted in a user namespace (userxattr): the lower folder is not merged in
        os.setxattr(path, "user.overlay.opaque", b"y")


def _whiteout(path: Path, uid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.chown(path, uid, uid)


def _mode_owner(machine: Path, ids: Ids) -> tuple[int, int, int]:
    try:
        st = machine.lstat()
        return stat.S_IMODE(st.st_mode), ids.outside(st.st_uid % RANGE), ids.outside(st.st_gid % RANGE)
    except OSError:
        return 0o755, ids.base, ids.base


def _shim(name: str) -> str:
    p = Path(str(resources.files("runner") / "data" / name))
    if not p.is_file():
        raise SandboxError(f"{name} shim missing from the package: {p}")
    return p.read_text()


def prepare_layer(layer: Path, ids: Ids, *, hostname: str, hosts_text: str, speed: bool,
                  hide: list[str]) -> None:
    """Mount the host's writable layer (a tmpfs) on ``layer`` and fill it: ``rootfs`` (the host's
    ``/``), ``rw/upper/{etc,usr,var}`` (the overlays' upper layers) and ``rw/work``."""
    r = ids.base
    layer.mkdir(parents=True, exist_ok=True)
    mount_tmpfs(layer, size=LAYER_SIZE, mode=0o755, uid=r, gid=r, name="runbook-layer")
    rootfs = layer / "rootfs"
    _dir(rootfs, 0o755, r, r)
    for d in EMPTY_DIRS:
        _dir(rootfs / d, {"tmp": 0o1777, "root": 0o700}.get(d, 0o755), r, r)
    for d in (*OVERLAID, ".lower", ".rw", ".bind"):
        _dir(rootfs / d, 0o755, r, r)
    for d, target in lib_links().items():  # first into the machine's /usr below (the init's own commands)
        os.symlink(f".lower/{target.lstrip('/')}", rootfs / d)
        os.lchown(rootfs / d, r, r)
    for d in ("lib-postgresql", "run-postgresql", "cache"):
        _dir(rootfs / ".bind" / d, 0o755, r, r)
    for d in (*OVERLAID, "clusters"):
        _dir(rootfs / ".lower" / d, 0o755, r, r)
        _dir(layer / "rw" / "upper" / d, 0o755 if d != "clusters" else 0o700, r, r)
        _dir(layer / "rw" / "work" / d, 0o700, r, r)
    os.chown(layer / "rw", r, r)
    os.chown(layer / "rw" / "upper", r, r)
    os.chown(layer / "rw" / "work", r, r)
    _fill_upper(layer / "rw" / "upper", ids, hostname=hostname, hosts_text=hosts_text, speed=speed, hide=hide)
    _fill_homes(rootfs, ids)


def _fill_upper(up: Path, ids: Ids, *, hostname: str, hosts_text: str, speed: bool, hide: list[str]) -> None:
    r = ids.base
    # the parents of what goes in the upper layer keep the machine's owner and mode (else the overlay
    # shows the upper folder's)
    for rel in (*HIDDEN_OPAQUE, *HIDDEN_FILES, *hide, "usr/bin/systemctl", "etc/ssh/x", "var/log/postgresql"):
        for part in reversed(Path(rel).parents[:-1]):
            if not (up / part).exists():
                _dir(up / part, *_mode_owner(Path("/") / part, ids))
    pw = _passwd_lines()
    groups = _group_lines()
    if not any(p[0] == ids.user for p in pw):
        pw.append([ids.user, "x", str(ids.uid), str(ids.gid), "", ids.home, "/bin/bash"])
    if not any(g[0] == ids.user for g in groups):
        groups.append([ids.user, "x", str(ids.gid), ""])
    shadow_gid = next((int(g[2]) for g in groups if g[0] == "shadow"), 0)
    _put(up / "etc/passwd", "".join(":".join(p) + "\n" for p in pw), 0o644, r, r)
    _put(up / "etc/group", "".join(":".join(g) + "\n" for g in groups), 0o644, r, r)
    # the machine's password hashes never reach a host: every account locked, none needs one
    _put(up / "etc/shadow", "".join(f"{p[0]}:*:19000:0:99999:7:::\n" for p in pw), 0o640, r, r + shadow_gid)
    _put(up / "etc/gshadow", "".join(f"{g[0]}:*::{g[3]}\n" for g in groups), 0o640, r, r + shadow_gid)
    _put(up / "etc/hostname", hostname + "\n", 0o644, r, r)
    _put(up / "etc/hosts", hosts_text, 0o644, r, r)
    for rel in HIDDEN_OPAQUE:
        mode, uid, gid = _mode_owner(Path("/") / rel, ids)
        if rel == "var/tmp":
            mode = 0o1777
        _dir(up / rel, mode, uid, gid, opaque=True)
    pg_u, pg_g = ids.outside(ids.pg_uid), ids.outside(ids.pg_gid)
    _dir(up / "etc/postgresql", 0o755, pg_u, pg_g)
    _dir(up / "var/lib/postgresql", 0o755, pg_u, pg_g)
    _dir(up / "var/log/postgresql", 0o1775, r, pg_g)
    _dir(up / "var/cache/runbook", 0o755, r, r)
    _dir(up / "var/cache/runbook/sandbox", 0o700, r, r)
    _dir(up / CLUSTERS.lstrip("/"), 0o700, r, r)
    for rel in HIDDEN_FILES:
        if Path("/", rel).exists() or Path("/", rel).is_symlink():
            _whiteout(up / rel, r)
    for key in Path("/etc/ssh").glob("ssh_host_*_key"):
        _whiteout(up / "etc/ssh" / key.name, r)
    for rel in hide:
        _dir(up / rel, 0o700, r, r, opaque=True)
    _put(up / "etc/sudoers.d/runbook-sandbox",
         "# The guide's user has passwordless sudo (root of this host only).\n"
         f"{ids.user} ALL=(ALL:ALL) NOPASSWD: ALL\n",
         0o440, r, r)
    for name in SHIMS:
        _put(up / "usr/local/sbin" / name, _shim(name), 0o755, r, r)
    _put(up / "usr/bin/systemctl", _shim("systemctl"), 0o755, r, r)
    if speed:  # the systemctl shim's speed setting (docs/sandbox.md)
        _put(up / "usr/local/sbin/runbook-fast-start",
             "# speed setting: systemctl start returns once the server accepts connections\n", 0o644, r, r)


def _fill_homes(rootfs: Path, ids: Ids) -> None:
    u, g = ids.outside(ids.uid), ids.outside(ids.gid)
    home = rootfs / ids.home.lstrip("/")
    _dir(home, 0o755, u, g)
    skel = Path("/etc/skel")
    for src, owner in ((skel, (u, g)),):
        if not src.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(src):
            rel = Path(dirpath).relative_to(src)
            for n in dirnames:
                _dir(home / rel / n, 0o755, *owner)
            for n in filenames:
                s = Path(dirpath) / n
                if s.is_file() and not s.is_symlink():
                    _put(home / rel / n, s.read_bytes(), stat.S_IMODE(s.stat().st_mode), *owner)


def lib_links() -> dict[str, str]:
    """The machine's top folders that are symbolic links (merged /usr: bin -> usr/bin …)."""
    out = {}
    for d in LIB_DIRS:
        machine = Path("/") / d
        if machine.is_symlink():
            out[d] = os.readlink(machine)
        elif machine.is_dir():
            raise SandboxError(f"the sandbox needs a merged /usr (/{d} a link into /usr, as Debian 12 has it)")
    return out


def init_script(ready: str) -> str:
    """The container's first process (run from the machine's /usr below): the overlays (the machine's
    folders below, read-only; the host's writable layer above), the host's PostgreSQL folders, the top
    links into the new /usr; then the machine's folders it mounted them from are detached, so that
    nothing of the machine is left mounted in the host but below an overlay (where no remount can make
    it writable); then ``tini`` (from the overlay) reaps the host's orphans."""
    lines = ["set -e"]
    for d, target in [*((d, f"/{d}") for d in OVERLAID), ("clusters", CLUSTERS)]:
        lines.append(f"mount -t overlay -o lowerdir=/.lower/{d},upperdir=/.rw/upper/{d},workdir=/.rw/work/{d},"
                     f"userxattr runbook-{d} {target}")
    lines += [
        "mount --move /.bind/lib-postgresql /var/lib/postgresql",
        "mkdir -p /run/postgresql && mount --move /.bind/run-postgresql /run/postgresql",
        "mount --move /.bind/cache /var/cache/runbook/sandbox",
        *(f"ln -sfn {target} /{d}" for d, target in lib_links().items()),
        "umount -l /.lower/*",  # (this shell runs from one of them: detached, gone once it execs tini)
        f": > /.rw/{ready}",
        "umount /.rw",
        "rmdir /.lower/* /.lower /.bind/* /.bind /.rw",
        "exec </dev/null >/dev/null 2>&1",  # (its log is a file of the machine's: the host keeps no handle on it)
        "exec /usr/bin/tini -s -- sleep infinity",
    ]
    return "\n".join(lines) + "\n"


def oci_config(*, rootfs: Path, hostname: str, ids: Ids, binds: dict[str, Path], net: Path | None,
               ready: str, machine_cache: Path) -> dict[str, Any]:
    """The OCI runtime config (config.json) of a host's container."""
    idmap = [{"containerID": 0, "hostID": ids.base, "size": RANGE}]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755",
                                                                                "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={SHM_SIZE}"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "bind", "source": "/sys",
         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]},
    ]
    # the machine's folders, with the host's ids (idmap): the overlays' lower layers, detached by the init
    for d, src in [*((d, f"/{d}") for d in OVERLAID), ("clusters", str(machine_cache))]:
        mounts.append({"destination": f"/.lower/{d}", "type": "bind", "source": src,
                       "options": ["bind", "ro", "nosuid" if d == "clusters" else "suid", "nodev", "idmap"]})
    for name, own in binds.items():
        mounts.append({"destination": f"/{name}" if name == ".rw" else f"/.bind/{name}", "type": "bind",
                       "source": str(own), "options": ["bind", "nosuid", "nodev"]})
    namespaces: list[dict[str, str]] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "user", "cgroup")]
    if net is not None:
        namespaces.append({"type": "network", "path": str(net)})
    caps = {k: CAPS for k in ("bounding", "effective", "permitted")}
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                    "args": ["/bin/sh", "-c", init_script(ready)],
                    "env": [f"PATH={SECURE_PATH}", "LANG=C.UTF-8"],
                    "capabilities": caps, "noNewPrivileges": False},
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {"uidMappings": idmap, "gidMappings": idmap, "namespaces": namespaces,
                  "maskedPaths": MASKED, "readonlyPaths": READONLY},
    }


def _crun_wrapper() -> list[str]:
    """crun refuses a cgroup hierarchy of both versions whose v2 part has controllers (here: hugetlb);
    the sandbox does not use crun's cgroups (it makes its own), so crun runs in a mount namespace of
    its own where the v2 part is not mounted."""
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    try:
        if not unified.read_text().strip():
            return []
    except OSError:
        return []
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            'umount -l /sys/fs/cgroup/unified && exec "$@"', "runbook-crun"]


def crun(crun_root: Path) -> list[str]:
    return ["crun", "--cgroup-manager=disabled", "--root", str(crun_root)]


def start(crun_root: Path, bundle: Path, cid: str, cgroups: dict[str, str], *, timeout: float = 20) -> int:
    """Start the container ``cid`` of ``bundle`` (config.json) inside ``cgroups``; returns its init's
    pid (its first process, which sets the host up: :func:`wait_ready`)."""
    log = bundle / "init.log"
    pidfile = bundle / "init.pid"
    argv = [*join_argv(cgroups), *_crun_wrapper(), *crun(crun_root), "run", "--detach", "--pid-file", str(pidfile),
            "--bundle", str(bundle), cid]
    with open(log, "wb") as out:
        try:
            cp = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise SandboxError(f"host {cid}: crun did not start it within {timeout:g}s") from e
    if cp.returncode != 0:
        raise SandboxError(f"host {cid}: starting its container failed (crun exit {cp.returncode}): {tail(log)}")
    return int(pidfile.read_text().strip())


def wait_ready(cid: str, pid: int, ready: Path, log: Path, timeout: float = 20) -> None:
    """Wait until the container's init has set the host up (it writes ``ready``)."""
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if not Path(f"/proc/{pid}").exists() or time.monotonic() > deadline:
            raise SandboxError(f"host {cid}: its container did not come up: {tail(log) or 'no message'}")
        time.sleep(0.002)


def tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace").strip()[-1000:]
    except OSError:
        return ""


def exec_prefix(crun_root: Path, cid: str, cgroups: dict[str, str], *, tty: bool = False) -> list[str]:
    """argv prefix running a command in the container (as its root; inside its cgroups)."""
    return [*join_argv(cgroups), *crun(crun_root), "exec", *(["--tty"] if tty else []), cid]


def quote(argv: list[str]) -> str:
    return shlex.join(argv)
