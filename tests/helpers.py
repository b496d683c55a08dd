"""Helpers shared by tests: places found from a file's text, never typed in."""

from __future__ import annotations

from pathlib import Path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based number of the line where ``needle`` occurs for the ``nth`` time."""
    seen = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    raise AssertionError(f"{needle!r} not found {nth} time(s) in {path}")


def lines_of(path: Path, needle: str) -> list[int]:
    """1-based numbers of every line holding ``needle``, in order."""
    return [n for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1) if needle in line]


def fence_after(path: Path, needle: str, nth: int = 1) -> int:
    """Line of the first code fence (```) after the ``nth`` line holding ``needle``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = line_of(path, needle, nth)
    for n in range(start + 1, len(lines) + 1):
        if lines[n - 1].lstrip().startswith("```"):
            return n
    raise AssertionError(f"no code fence after {needle!r} in {path}")
