"""Helpers for end-to-end tests on the embedded sandbox (real PostgreSQL servers)."""

from __future__ import annotations

import contextlib
import os
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


def pids_in(inodes: set[int]) -> list[int]:
    """Processes whose mount, UTS or network namespace is one of ``inodes``."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        for kind in ("mnt", "uts", "net"):
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{d}/ns/{kind}").st_ino in inodes:
                    found.append(int(d))
                    break
    return found
