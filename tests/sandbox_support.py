"""Helpers of the embedded sandbox's tests (tests/test_sandbox_*.py): when they can run, the
guide-like addresses, free loopback addresses, a user's interactive shell in a host, processes by
cgroup.

Tests marked ``sandbox`` need root, util-linux's unshare/nsenter and Debian's PostgreSQL packages;
they are skipped with a reason otherwise.  They use their own sandbox root (a temporary folder,
the ``sb_root`` fixture of conftest.py) and always run ``down``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from pathlib import Path

import pytest

from runner.sandbox import Sandbox, netns_unavailable

REPO = Path(__file__).resolve().parents[1]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "the embedded sandbox needs root"
    for tool in ("unshare", "nsenter", "setpriv"):
        if not shutil.which(tool):
            return f"{tool} (util-linux) is missing"
    if not shutil.which("pg_createcluster") or not Path("/usr/lib/postgresql").is_dir():
        return "PostgreSQL (Debian's postgresql-common + postgresql-NN) is not installed"
    if not shutil.which("sudo") and not shutil.which("apt-get"):
        return "sudo is missing and cannot be installed"
    return None


SKIP = _skip_reason()
needs_sandbox = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
NO_NETNS = SKIP or netns_unavailable()
needs_netns = pytest.mark.skipif(NO_NETNS is not None, reason=f"no network namespaces here: {NO_NETNS}")
ADDRS = ["192.168.0.30", "192.168.0.31", "192.168.0.32"]




def _listening(address: str, port: int = 5432) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((address, port)) == 0


def _free_addresses(n: int, start: int = 150) -> list[str]:
    """n loopback addresses on which nothing listens on 5432 (other sandboxes may be running)."""
    out: list[str] = []
    last = start
    while len(out) < n:
        if last > 250:
            pytest.skip("no free 127.0.0.x addresses for the test sandbox")
        a = f"127.0.0.{last}"
        last += 1
        if not _listening(a):
            out.append(a)
    return out


def _uname(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"




def _shell(sb: Sandbox, host: str, script: str, timeout: float = 30) -> str:
    """Run ``script`` in the user's interactive shell (pexpect), return its output."""
    import pexpect

    argv = sb.shell_argv(host)
    child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=timeout, echo=False)
    try:
        child.setecho(False)
        child.sendline("PS1='PROMPT> '; stty -echo")
        child.expect("PROMPT> ")
        child.sendline(script + "; echo __RC=$?__")
        child.expect(r"__RC=(\d+)__")
        out = child.before
        rc = child.match.group(1)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert rc == "0", f"{script!r} failed in {host}: {out}"
    return out


def _started(pid: int) -> str | None:
    """Start time of a running process (None: gone, exiting, or a zombie left to the machine's init to reap)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        exiting = int(fields[6]) & 0x4  # PF_EXITING: killed, its exit under way
        return None if fields[0] in ("Z", "X") or exiting else fields[19]
    except (OSError, IndexError):
        return None


def _cgroup_pids(cgroups: list[str]) -> set[int]:
    out: set[int] = set()
    for d in cgroups:
        with contextlib.suppress(OSError):
            out |= {int(x) for x in Path(d, "cgroup.procs").read_text().split()}
    return out
