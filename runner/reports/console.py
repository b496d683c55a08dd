"""The command line's output conventions (docs/cli.md): results on stdout, progress and diagnostics on
stderr, ``-q`` / ``-v``, ``NO_COLOR`` / ``FORCE_COLOR`` and the terminal's width (``COLUMNS``).

Every sub-command prints through these helpers so that the conventions hold everywhere::

    progress("runbook: guide.md on the sandbox")   # stderr, silenced by -q
    detail("bound pg_major = 15")                  # stderr, only with -v
    console(sys.stdout).print(table)               # colour and width as the environment says
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table

STYLE = {"passed": "green", "failed": "bold red", "blocked": "yellow", "not-run": "dim", "skipped": "dim",
         "already-applied": "cyan", "done-earlier": "cyan", "volatile": "green", "invalid": "bold red",
         "not-executable": "dim", "interrupted": "bold yellow", "updated": "cyan"}
"""The colour of each status, wherever one is printed (progress, summaries)."""

QUIET, NORMAL, VERBOSE = -1, 0, 1
verbosity = NORMAL
"""Set once by the command line from ``-q`` / ``-v``."""


def set_verbosity(quiet: bool, verbose: int) -> None:
    global verbosity
    verbosity = QUIET if quiet else (VERBOSE if verbose else NORMAL)


def quiet() -> bool:
    return verbosity <= QUIET


def verbose() -> bool:
    return verbosity >= VERBOSE


def progress(message: str, stream: TextIO | None = None) -> None:
    """A progress or informational line on stderr; ``-q`` silences it."""
    if not quiet():
        out = stream or sys.stderr
        out.write(message.rstrip("\n") + "\n")
        out.flush()


def detail(message: str, stream: TextIO | None = None) -> None:
    """A line of detail on stderr, printed only with ``-v``."""
    if verbose():
        progress(message, stream)


def color(stream: TextIO) -> bool:
    """Whether to colour ``stream``: ``NO_COLOR`` (set and not empty) never, ``FORCE_COLOR`` always,
    else only a terminal (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def width(stream: TextIO | None = None) -> int:
    """Columns to fit: ``COLUMNS`` when set, else the terminal's width, else 80."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((80, 24)).columns


def console(stream: TextIO | None = None) -> Console:
    """A rich console on ``stream`` (stdout by default) that follows the conventions: colour per
    :func:`color`, width per :func:`width`."""
    out = stream or sys.stdout
    on = color(out)
    return Console(file=out, highlight=False, width=width(out), force_terminal=on, no_color=not on,
                   color_system="standard" if on else None, soft_wrap=False)


def clip(text: str, limit: int) -> str:
    """``text`` on one line of at most ``limit`` characters, an ellipsis where it was cut."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: max(0, limit - 1)] + "…"


def add_columns(table: Table, headers: list[str], rows: list[list[str]], folded: str, width: int) -> int:
    """Add ``headers`` to a rich ``table``: the ``folded`` column folds, the others keep their
    natural width; then a ``note`` column with what is left (:func:`note_width`), when that is 16
    columns or more.  Returns that room (below 16: no note column)."""
    for i, col in enumerate(headers):
        table.add_column(col, overflow="fold", no_wrap=col != folded,
                         min_width=None if col == folded else max([len(col)] + [len(r[i]) for r in rows]))
    room = note_width(rows, headers, width)
    if room >= 16:
        table.add_column("note", no_wrap=True, overflow="ellipsis", max_width=room)
    return room


def note_width(rows: list[list[str]], headers: list[str], total: int) -> int:
    """What is left for a table's last column (its note) once the other columns have their natural
    width (rich's borders and padding take 3 columns per column, plus 1); below 16, the table
    leaves the note out (the closing list says what failed, in full)."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return total - sum(w + 3 for w in widths) - 4
