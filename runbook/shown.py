"""Text a guide controls, shown and never interpreted: control and escape sequences made visible
(:func:`visible`), no line that starts a GitHub Actions workflow command (:func:`no_commands`).
``runner/untrusted.py`` adds what only the runner's outputs need (stop-commands, Markdown cells)."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_NL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _show(m: re.Match[str]) -> str:
    ch = m.group(0)
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, lines: bool = False) -> str:
    """``text`` with every control character (escape, carriage return, backspace, bell, C1, the
    bidirectional overrides) shown as ``\\xNN`` / ``\\uNNNN``; a newline too (``\\n``: one line)
    unless ``lines`` (each line kept, but then print each line with a prefix of your own)."""
    return (_CONTROL if lines else _CONTROL_NL).sub(_show, text)


_COMMAND_START = re.compile(r"^(\s*):(?=:)", re.M)


def no_commands(text: str) -> str:
    """``text`` with no line that GitHub's runner would read as a workflow command: a ``::`` at the
    start of a line (after blanks) becomes ``:\\:``; ``##[`` anywhere becomes ``#\\#[``."""
    return _COMMAND_START.sub(lambda m: m.group(1) + ":\\", text).replace("##[", "#\\#[")


def safe_line(text: str) -> str:
    """One line of guide-controlled text for a terminal or a CI log: visible controls, no command."""
    return no_commands(visible(text))


def safe_lines(text: str) -> str:
    """Several lines of guide-controlled text (e.g. ``--plan``): each visible, none a command."""
    return no_commands(visible(text, lines=True))
