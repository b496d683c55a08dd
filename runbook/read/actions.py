"""Actions stage: each action's code -> the commands or statements it asks for.

Shell commands with continuations and here-documents joined, console commands with the prompts
they show and the answers typed, SQL statements with their expected results.
"""

from __future__ import annotations

import re

from ..kinds import ActionKind, Severity
from ..model import Action, Answer, Command, Span, Statement, Turn
from . import sql
from .blocks import Placed
from .languages import CONSOLE_PROMPT_RE, is_prose
from .problems import Problems

_PROMPT_RE = re.compile(r"^(?P<prompt>.*?:)\s*\((?P<answer>.*)\)\s*$")
_HEREDOC_RE = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


def actions(placed: list[Placed], file: str, problems: Problems) -> list[Action]:
    """The steps' actions, their commands or statements read from their code."""
    out: list[Action] = []
    for p in placed:
        action = p.action
        if action.kind == ActionKind.SHELL:
            action.commands = shell_commands(action.code, p.first_line, file)
        elif action.kind == ActionKind.CONSOLE and not has_prompt(action.code):
            action.kind = ActionKind.SHELL  # a transcript without prompts: a script, as in a bash block
            action.commands = shell_commands(_without_prose(action.code, p.first_line, file, problems),
                                             p.first_line, file)
        elif action.kind == ActionKind.CONSOLE:
            action.commands = console_commands(action.code, p.first_line, file, problems)
        elif action.kind == ActionKind.SQL:
            action.statements = sql_statements(action.code, p.first_line, file, problems)
        out.append(action)
    return out


def _without_prose(code: str, first_line: int, file: str, problems: Problems) -> str:
    """A prompt-less console block with its prose lines (``How to install:``) blanked, each a finding."""
    lines = code.split("\n")
    heredoc: str | None = None
    continued = False
    for n, line in enumerate(lines):
        if heredoc is not None:  # a here-document's body is data
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        was_continued, continued = continued, line.rstrip().endswith("\\")
        hm = _HEREDOC_RE.search(line) if "<<" in line else None
        if hm:
            heredoc = hm.group(1)
        if not was_continued and is_prose(line):
            problems.defect("console-prose", Severity.HINT, f"'{line.strip()}' reads as prose, not a command: not run",
                            Span(file, first_line + n, first_line + n))
            lines[n] = ""
    return "\n".join(lines)


def logical_lines(code: str, first_line: int) -> list[tuple[str, int, int]]:
    """Lines with ``\\`` continuations and here-documents joined: (text, first line, last line);
    blank lines and comments left out."""
    out: list[tuple[str, int, int]] = []
    buf: list[str] = []
    start = first_line
    heredoc: str | None = None
    lines = code.split("\n")
    for n, line in enumerate(lines):
        lineno = first_line + n
        if not buf:
            start = lineno
        if heredoc is not None:
            buf.append(line)
            if line.strip() == heredoc:
                out.append(("\n".join(buf), start, lineno))
                buf, heredoc = [], None
            continue
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf.append(line)
        continued = line.rstrip().endswith("\\")
        if "<<" in line and not continued:
            hm = _HEREDOC_RE.search(line)
            if hm:
                heredoc = hm.group(1)
                continue
        if continued:
            continue
        out.append(("\n".join(buf), start, lineno))
        buf = []
    if buf:
        out.append(("\n".join(buf), start, first_line + len(lines) - 1))
    return out


def shell_commands(code: str, first_line: int, file: str) -> list[Command]:
    return [Command(text, Span(file, a, b)) for text, a, b in logical_lines(code, first_line)]


_CONSOLE_PROMPT_RE = CONSOLE_PROMPT_RE


def has_prompt(code: str) -> bool:
    """A console block with no prompt line at all is a script."""
    return any(_CONSOLE_PROMPT_RE.match(line) for line in code.split("\n"))


def console_commands(code: str, first_line: int, file: str, problems: Problems) -> list[Command]:
    """``$ command`` (or ``% command``; ``# command`` is run as root) lines; after one, ``Prompt:
    (answer)`` lines before any output are its dialog, and the other lines up to the next prompt its
    output."""
    commands: list[Command] = []
    lines = code.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = first_line + i
        pm = _CONSOLE_PROMPT_RE.match(line)
        if pm:
            buf = [line[2:]]
            end = lineno
            while buf[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                buf.append(lines[i])
                end = first_line + i
            if "\n".join(buf).strip():  # a bare "$" prompt types nothing
                commands.append(Command("\n".join(buf), Span(file, lineno, end), root=pm.group("prompt") == "#"))
        elif commands:
            dm = _PROMPT_RE.match(line)
            if dm and not commands[-1].output:
                commands[-1].dialog.append(
                    Turn(dm.group("prompt"), Answer(literal=dm.group("answer")), Span(file, lineno, lineno))
                )
            else:
                commands[-1].output.append(line)
        elif line.strip():
            problems.defect("console-output-before-command", Severity.WARNING,
                            "console block line before any '$ ' command", Span(file, lineno, lineno))
        i += 1
    return [c for c in commands if c.text.strip()]


def sql_statements(code: str, first_line: int, file: str, problems: Problems) -> list[Statement]:
    """Statements, their expected results and their prose comments (:mod:`runbook.read.sql`)."""
    found, findings = sql.statements(code, first_line, file)
    problems.defects.extend(findings)
    return found
