"""Helpers shared by tests: places found from a file's text, never typed in."""

from __future__ import annotations

from pathlib import Path


def _lines(path_or_text: Path | str) -> list[str]:
    """A file's lines (a :class:`Path`), or the lines of a text given as a string."""
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    return text.split("\n")


def line_of(path_or_text: Path | str, needle: str, nth: int = 1) -> int:
    """1-based number of the line where ``needle`` occurs for the ``nth`` time (in a file, or in a
    text given as a string)."""
    seen = 0
    for n, line in enumerate(_lines(path_or_text), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    where = path_or_text if isinstance(path_or_text, Path) else "the text"
    raise AssertionError(f"{needle!r} not found {nth} time(s) in {where}")


def lines_of(path_or_text: Path | str, needle: str) -> list[int]:
    """1-based numbers of every line holding ``needle``, in order."""
    return [n for n, line in enumerate(_lines(path_or_text), 1) if needle in line]


def fence_after(path: Path, needle: str, nth: int = 1) -> int:
    """Line of the first code fence (```) after the ``nth`` line holding ``needle``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = line_of(path, needle, nth)
    for n in range(start + 1, len(lines) + 1):
        if lines[n - 1].lstrip().startswith("```"):
            return n
    raise AssertionError(f"no code fence after {needle!r} in {path}")


def installed_pg_versions() -> list[str]:
    """The PostgreSQL versions installed here, oldest first, as the runner finds them (the function
    the runner calls: tests import it from here only, so that a move of the runner's modules is one
    import to fix)."""
    from runner.planning.environment import installed_pg_versions as found

    return found()


def bound_pg_version() -> str:
    """The PostgreSQL version a sandbox run binds: the newest installed (what the runner binds).
    Skips the test where none is installed."""
    import pytest

    versions = installed_pg_versions()
    if not versions:
        pytest.skip("PostgreSQL is not installed on this machine (scripts/setup installs it)")
    return versions[-1]
