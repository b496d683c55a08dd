"""Helpers for end-to-end tests on the embedded sandbox (real PostgreSQL servers)."""

from __future__ import annotations

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
