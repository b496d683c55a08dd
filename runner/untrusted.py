"""Text the guide controls (its commands, expected output, prose) and what its commands printed,
made harmless before it reaches a reader.

* :func:`visible`: control and escape sequences shown, never interpreted by a terminal (``\\x1b``
  stays the four characters ``\\x1b``), bidirectional overrides too; a line stays one line.
* :func:`no_commands`: no line can start a GitHub Actions workflow command (``::`` at the start,
  ``##[`` anywhere: the runner's old syntax).
* :func:`markdown_cell`: a table cell of the job summary (Markdown) that is only text: no link,
  no image, no HTML.
* :class:`CommandsStopped`: in a GitHub Actions job, runbook's own output is wrapped between
  ``::stop-commands::TOKEN`` and ``::TOKEN::`` (a random token): what a guide makes runbook print
  is never run as a command; runbook's own annotations are printed where commands are on.

Rich markup is never read from such text: print it as :class:`rich.text.Text` or with
``markup=False``.
"""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from runbook.shown import no_commands, safe_line, safe_lines, visible

__all__ = ["ACTIVE", "CommandsStopped", "commands_stopped", "markdown_cell", "markdown_code", "no_commands",
           "safe_line", "safe_lines", "visible"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|!~&$]|:(?=//))")


def markdown_cell(text: str, limit: int = 300) -> str:
    """Plain text in a Markdown table cell: one line, every character that makes a link, an image,
    HTML, emphasis, code or a new cell escaped (and ``://``: no autolink)."""
    return _MD_SPECIAL.sub(r"\\\1", visible(text)[:limit])


def markdown_code(text: str, limit: int = 300) -> str:
    """``text`` as an inline code span (nothing in it is Markdown), one line, safe in a table cell."""
    text = visible(text)[:limit].replace("|", "\\|")
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class CommandsStopped:
    """``::stop-commands::TOKEN`` on ``stream`` while active; :meth:`emit` prints runbook's own
    commands with processing resumed (``::TOKEN::``) and stops it again with a new token."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.token: str | None = None

    def _out(self) -> TextIO:
        return self.stream or sys.stdout

    def stop(self) -> None:
        sys.stderr.flush()
        self.token = secrets.token_hex(16)
        self._out().write(f"::stop-commands::{self.token}\n")
        self._out().flush()

    def resume(self) -> None:
        if self.token is not None:
            sys.stderr.flush()
            self._out().write(f"::{self.token}::\n")
            self._out().flush()
            self.token = None

    def emit(self, lines: Iterable[str]) -> None:
        stopped = self.token is not None
        self.resume()
        out = self._out()
        for line in lines:
            out.write(line + "\n")
        out.flush()
        if stopped:
            self.stop()


ACTIVE: CommandsStopped | None = None
"""The wrapper of the run in progress (GitHub Actions only), through which annotations are emitted."""


@contextmanager
def commands_stopped(on: bool, stream: TextIO | None = None) -> Iterator[CommandsStopped | None]:
    """While inside: workflow commands stopped (when ``on``), runbook's own emitted through :data:`ACTIVE`."""
    global ACTIVE
    if not on or ACTIVE is not None:
        yield ACTIVE
        return
    wrapper = CommandsStopped(stream)
    wrapper.stop()
    ACTIVE = wrapper
    try:
        yield wrapper
    finally:
        ACTIVE = None
        wrapper.resume()
