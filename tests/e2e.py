"""Helpers for end-to-end tests on the embedded sandbox (real PostgreSQL servers)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

needs_sandbox = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or not Path("/usr/lib/postgresql").is_dir(),
    reason="the embedded sandbox needs root, unshare and Debian's PostgreSQL (run scripts/setup as root)",
)


def down(name: str) -> None:
    from runner.sandbox import DEFAULT_ROOT, Sandbox

    if (DEFAULT_ROOT / name).exists():
        Sandbox.load(name).down()


def variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """The single-host fixture guide with ``old`` replaced by ``new`` once, written as ``NAME.md``."""
    from conftest import FIXTURES

    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{name}.md"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def pids_in(inodes: set[int], sandbox: str | None = None) -> list[int]:
    """Processes whose mount, UTS or network namespace is one of ``inodes``.

    With ``sandbox`` (the sandbox's name): not those of another sandbox's hosts.  The kernel gives a
    namespace's inode number to a new namespace once the old one is gone, so after a teardown another
    run's sandbox (one brought up since) may have the inodes recorded here; a process of this sandbox
    cannot be in another sandbox's cgroups (every process of a host is in its host's, and the cgroup
    file systems are not writable from a host), so such a process is not counted."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        for kind in ("mnt", "uts", "net"):
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{d}/ns/{kind}").st_ino in inodes:
                    if sandbox is None or not _of_another_sandbox(int(d), sandbox):
                        found.append(int(d))
                    break
    return found


def _of_another_sandbox(pid: int, sandbox: str) -> bool:
    """Whether ``pid`` is in a host's cgroup (``…/runbook/KEY/HOST``, runner/sandbox/cgroups.py) of a
    sandbox other than ``sandbox`` (KEY: the sandbox's name, ``-``, 8 hex digits)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            m = re.search(r"/runbook/([^/]+)/[^/]+$", path)
            return m is not None and re.fullmatch(re.escape(sandbox) + r"-[0-9a-f]{8}", m.group(1)) is None
    return False
