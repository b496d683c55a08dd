"""The text of graph nodes as numbered lines, and diffs of such lines that name file lines."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from ..kinds import ActionKind
from ..model import Action, Command, Statement
from ..read.sql import scan

Line = tuple[str, int]
"""A line of text and its line number in its file."""


def text_lines(text: str | None, first_line: int) -> list[Line]:
    """``text`` split into lines numbered from ``first_line``; trailing blanks dropped, lines rstripped."""
    if not text:
        return []
    lines = [(ln.rstrip(), first_line + i) for i, ln in enumerate(text.split("\n"))]
    while lines and not lines[-1][0]:
        lines.pop()
    return lines


def _answer(turn_answer: Any) -> str:
    if turn_answer.var is not None:
        return "${" + turn_answer.var + "}"
    return str(turn_answer.literal or "")


def _command_lines(commands: Sequence[Command], console: bool) -> list[Line]:
    out: list[Line] = []
    for cmd in commands:
        for k, ln in enumerate(cmd.text.split("\n")):
            out.append((("$ " if console and k == 0 else "") + ln.rstrip(), cmd.span.line + k))
        last = cmd.span.end_line
        for turn in cmd.dialog:
            out.append((f"{turn.prompt} ({_answer(turn.answer)})", turn.span.line))
            last = turn.span.end_line
        for k, ln in enumerate(cmd.output):
            out.append((ln.rstrip(), last + 1 + k))
    while out and not out[-1][0]:
        out.pop()
    return out


def sql_code(st: Statement) -> list[Line]:
    """The lines of a statement that psql runs: ``--`` comments (prose inside SQL) left out."""
    return [(ln.code.rstrip(), ln.number) for ln in scan(st.sql, st.span.line) if ln.code.strip()]


def _sql_lines(statements: Sequence[Statement]) -> list[Line]:
    out: list[Line] = []
    for st in statements:
        out.extend(sql_code(st))
    return out


def code_lines(action: Action) -> list[Line]:
    """What an action types, line by line (shell, console, SQL; comments excluded)."""
    if action.kind == ActionKind.SQL:
        return _sql_lines(action.statements)
    return _command_lines(action.commands, action.kind == ActionKind.CONSOLE)


def action_lines(action: Action) -> list[Line]:
    """What an action does, line by line: its code, or the text a file edit or write leaves."""
    if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
        return text_lines(action.after or action.code, action.span.line + 1)
    return code_lines(action)


def texts(lines: list[Line]) -> list[str]:
    return [t for t, _ in lines]


def unified(old: list[Line], new: list[Line]) -> list[str]:
    """A unified diff whose hunk headers give file lines, ``@@ -OLD_LINE +NEW_LINE @@`` (the change's
    report line names the two files)."""
    a = texts(old)
    b = texts(new)
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in sm.get_grouped_opcodes(1):
        i1, j1 = group[0][1], group[0][3]
        lo = old[i1][1] if i1 < len(old) else (old[-1][1] + 1 if old else 0)
        ln = new[j1][1] if j1 < len(new) else (new[-1][1] + 1 if new else 0)
        out.append(f"@@ -{lo} +{ln} @@")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out.extend(" " + t for t in a[x1:x2])
                continue
            out.extend("-" + t for t in a[x1:x2])
            out.extend("+" + t for t in b[y1:y2])
    return out


def first_difference(old: list[Line], new: list[Line], old_default: int, new_default: int) -> tuple[int, int]:
    """Line numbers, in each file, of the first line that differs."""

    def at(lines: list[Line], i: int, default: int) -> int:
        if i < len(lines):
            return lines[i][1]
        return lines[-1][1] + 1 if lines else default

    sm = difflib.SequenceMatcher(None, texts(old), texts(new), autojunk=False)
    for tag, i1, _i2, j1, _j2 in sm.get_opcodes():
        if tag != "equal":
            return at(old, i1, old_default), at(new, j1, new_default)
    return old_default, new_default


def strip(text: str | None) -> str | None:
    """``text`` without trailing blanks on its lines and at its end."""
    if text is None:
        return None
    return "\n".join(ln.rstrip() for ln in text.rstrip().split("\n"))


def hosts_text(hosts: Iterable[str] | None) -> str:
    if hosts is None:
        return "(none)"
    return ", ".join(hosts) or "(none)"
