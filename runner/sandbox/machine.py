"""What the machine must provide for the sandbox, checked by ``up`` and installed by ``setup``.

``up`` changes nothing on the machine: it checks (:func:`missing`) and says what is missing (exit
3).  ``runbook sandbox setup`` (and ``scripts/setup``) installs it: Debian packages (crun, tini,
iproute2, util-linux, sudo, PostgreSQL) and a range of subordinate ids for root in /etc/subuid and
/etc/subgid, from which each sandbox takes a range of 65536 (uid 0 inside = the range's first id).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .folders import RUN_DIR, key_of
from .state import SandboxError, read_state

PACKAGES = ("crun", "tini", "util-linux", "iproute2", "sudo", "postgresql", "postgresql-contrib")
"""Debian packages of the sandbox (scripts/setup installs the same)."""
TOOLS = {"crun": "crun", "tini": "tini", "unshare": "util-linux", "nsenter": "util-linux",
         "setpriv": "util-linux", "mount": "mount", "umount": "mount", "ip": "iproute2"}
"""Commands ``up`` needs on the machine: the Debian package of each."""
IN_HOST = ("sudo", "setpriv", "bash", "tini")
"""Commands the hosts run from the machine's /usr."""
CONTROLLERS = ("pids", "memory", "freezer")
SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
SUBID_OWNER = "root"
RANGE = 65536
"""Ids of one sandbox: uid/gid 0-65535 inside."""
SUBID_START = 10_000_000
SUBID_COUNT = RANGE * 256
"""What ``setup`` adds for root when it has no such range: room for 256 sandboxes at once."""
RANGES_DIR = Path("/run/runbook-sandbox/id-ranges")
"""One file per id range in use (its first id), naming the sandbox folder that holds it."""
SETUP_HINT = "run `runbook sandbox setup` (or scripts/setup) as root"


def subid_ranges(path: Path, owner: str = SUBID_OWNER) -> list[tuple[int, int]]:
    """(start, count) of ``owner``'s lines in /etc/subuid or /etc/subgid."""
    out: list[tuple[int, int]] = []
    try:
        text = path.read_text()
    except OSError:
        return out
    uid = None
    with contextlib.suppress(KeyError):
        uid = str(pwd.getpwnam(owner).pw_uid)
    for line in text.splitlines():
        f = line.strip().split(":")
        if len(f) == 3 and f[0] in (owner, uid) and f[1].isdigit() and f[2].isdigit():
            out.append((int(f[1]), int(f[2])))
    return out


def _slots() -> list[int]:
    """First ids of the 65536-id ranges that root holds in both /etc/subuid and /etc/subgid."""
    per_file = []
    for f in SUBID_FILES:
        bases = set()
        for start, count in subid_ranges(f):
            first = -(-start // RANGE) * RANGE  # aligned: ids inside keep their low 16 bits
            while first + RANGE <= start + count:
                bases.add(first)
                first += RANGE
        per_file.append(bases)
    return sorted(per_file[0] & per_file[1])


def missing(network: str = "loopback") -> list[str]:
    """What this machine lacks for the sandbox, each with how to get it (empty: nothing)."""
    if os.geteuid() != 0:
        return ["root: the embedded sandbox creates namespaces, cgroups and mounts; run as root"]
    out: list[str] = []
    tools = [t for t in TOOLS if t != "ip" or network == "netns"]
    lacking = [t for t in tools if not shutil.which(t)]
    lacking += [t for t in IN_HOST if t not in lacking and not shutil.which(t)]
    if lacking:
        pkgs = sorted({TOOLS.get(t, t) for t in lacking})
        out.append(f"commands {', '.join(lacking)} (Debian packages {', '.join(pkgs)})")
    if not shutil.which("pg_createcluster") or not shutil.which("pg_lsclusters"):
        out.append(postgres_missing())
    else:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            out.append("the postgres user (Debian's postgresql package creates it)")
    for c in CONTROLLERS:
        if not Path(f"/sys/fs/cgroup/{c}/cgroup.procs").is_file():
            out.append(f"the cgroup v1 controller {c} mounted at /sys/fs/cgroup/{c}")
    if not _slots():
        out.append(f"a range of at least {RANGE} subordinate ids for root in /etc/subuid and /etc/subgid")
    return out


def postgres_missing() -> str:
    return "PostgreSQL (Debian's postgresql-common and postgresql-NN)"


def require(network: str = "loopback") -> None:
    """Raise SandboxError (exit 3) naming everything the machine lacks for the sandbox."""
    gaps = missing(network)
    if gaps:
        raise SandboxError("this machine lacks what the sandbox needs: " + "; ".join(gaps) + f"; {SETUP_HINT}")


def setup(*, install: bool = True) -> list[str]:
    """Install what the sandbox needs (Debian packages, root's subordinate ids); returns what was done."""
    if os.geteuid() != 0:
        raise SandboxError("`runbook sandbox setup` installs packages and writes /etc/subuid: run it as root")
    done: list[str] = []
    if install:
        need = [p for p in PACKAGES if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                                      text=True).stdout.strip() != "install ok installed"]
        if need:
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                                       *need]):
                cp = subprocess.run(argv, capture_output=True, text=True, env=env)
                if cp.returncode != 0:
                    raise SandboxError(f"{' '.join(argv)} failed: {(cp.stderr or cp.stdout).strip()[-500:]}")
            done.append(f"installed {', '.join(need)}")
    if len(_slots()) < 2:
        end = max([s + c for f in SUBID_FILES for s, c in _all_ranges(f)] + [SUBID_START])
        start = -(-end // RANGE) * RANGE
        for f in SUBID_FILES:
            text = f.read_text() if f.exists() else ""
            with open(f, "a") as fh:
                fh.write(("" if not text or text.endswith("\n") else "\n") + f"{SUBID_OWNER}:{start}:{SUBID_COUNT}\n")
        done.append(f"gave root the subordinate ids {start}-{start + SUBID_COUNT - 1} in /etc/subuid and /etc/subgid")
    return done


def _all_ranges(path: Path) -> list[tuple[int, int]]:
    out = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            f = line.strip().split(":")
            if len(f) == 3 and f[1].isdigit() and f[2].isdigit():
                out.append((int(f[1]), int(f[2])))
    return out


@contextlib.contextmanager
def _ranges_lock() -> Iterator[None]:
    RANGES_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(RANGES_DIR / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def take_range(sandbox_dir: Path) -> int:
    """The first id of a free 65536-id range of root's, now held by ``sandbox_dir``."""
    with _ranges_lock():
        for base in _slots():
            f = RANGES_DIR / str(base)
            if f.exists():
                holder = Path(f.read_text().strip())
                if holder == sandbox_dir:
                    return base
                if holder.is_dir():
                    try:
                        state = read_state(holder)
                    except SandboxError:
                        state = None
                    if state is None or state.uid_base in (None, base):
                        continue  # in use (or being set up)
                elif (RUN_DIR / key_of(holder)).is_dir():
                    continue  # its folder was deleted while it was up: its hosts may run (folders.orphans)
            f.write_text(str(sandbox_dir) + "\n")
            return base
    raise SandboxError(f"every range of subordinate ids of root is used by a sandbox ({len(_slots())}); "
                       "run `runbook sandbox down --all`, or give root more in /etc/subuid and /etc/subgid")


def release_range(base: int | None, sandbox_dir: Path) -> None:
    if base is None:
        return
    with _ranges_lock():
        f = RANGES_DIR / str(base)
        with contextlib.suppress(OSError):
            if Path(f.read_text().strip()) == sandbox_dir:
                f.unlink()


def release_ranges_of(sandbox_dir: Path) -> None:
    """Free the ranges held by ``sandbox_dir`` (a sandbox whose state, naming its range, is gone)."""
    with _ranges_lock():
        for f in RANGES_DIR.iterdir():
            with contextlib.suppress(OSError):
                if f.name.isdigit() and Path(f.read_text().strip()) == sandbox_dir:
                    f.unlink()


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


def machine_lang() -> str:
    """LANG a login on this machine gets (/etc/default/locale), C.UTF-8 if unset."""
    try:
        for line in Path("/etc/default/locale").read_text().splitlines():
            m = re.fullmatch(r"\s*LANG=[\"']?([^\"'\s]+)[\"']?\s*", line)
            if m:
                return m.group(1)
    except OSError:
        pass
    return "C.UTF-8"
