"""Mounts and commands on the machine side of the sandbox (its state folder, tmpfs layers)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .state import SandboxError


def _unescape_mountinfo(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def mounts() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount of this process's mount namespace."""
    out: list[tuple[str, str]] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype = right.split()[0] if right else ""
            out.append((_unescape_mountinfo(fields[4]), fstype))
    return out


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first."""
    p = str(path).rstrip("/")
    found = [m for m, _ in mounts() if m == p or m.startswith(p + "/")]
    return sorted(set(found), key=lambda m: (m.count("/"), m), reverse=True)


def is_nsfs_mount(path: Path) -> bool:
    p = str(path)
    return any(m == p and t == "nsfs" for m, t in mounts())


def is_mountpoint(path: Path) -> bool:
    p = str(path).rstrip("/")
    return any(m == p for m, _ in mounts())


def cmd(argv: list[str], *, timeout: float = 60, check: bool = True, **kw: Any) -> subprocess.CompletedProcess[str]:
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


def umount(path: str) -> None:
    cp = subprocess.run(["umount", path], capture_output=True, text=True)
    if cp.returncode != 0 and is_mountpoint(Path(path)):
        cp = subprocess.run(["umount", "-l", path], capture_output=True, text=True)
        if cp.returncode != 0 and is_mountpoint(Path(path)):
            raise SandboxError(f"cannot unmount {path}: {cp.stderr.strip()}")


def umount_all_under(path: Path) -> None:
    """Unmount everything at or below ``path`` (deepest first; one ``umount`` for all of them)."""
    found = mounts_under(path)
    if not found:
        return
    subprocess.run(["umount", *found], capture_output=True, text=True)
    for m in mounts_under(path):  # what one call could not unmount (busy: lazily)
        umount(m)


def mount_tmpfs(path: Path, *, size: str, mode: int, uid: int, gid: int, name: str) -> None:
    cmd(["mount", "-t", "tmpfs", "-o", f"mode={mode:o},uid={uid},gid={gid},size={size}", name, str(path)])


def rmtree(path: Path) -> None:
    """Remove a tree without crossing into mounts (refuses if something is mounted below)."""
    if not path.exists():
        return
    mounted = mounts_under(path)
    if mounted:
        raise SandboxError(f"refusing to remove {path}: still mounted: {', '.join(mounted)}")
    shutil.rmtree(path)


def ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
