"""A guide's run for people, on stdout: the summary table, the closing list of failures
(``file:line: expected X, got Y``), and the statuses ``--update-expected`` leaves (``updated``)."""

from __future__ import annotations

import re
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from runbook.kinds import ActionKind

from ..running.results import RunResult
from ..status import CheckStatus, RunStatus, Status
from ..untrusted import safe_line
from .console import STYLE, add_columns, clip
from .console import console as results_console
from .progress import PageProgress

_LINE_RE = re.compile(r"^line (\d+): ")


def _results_console(stream: TextIO | None) -> Console:
    """Where results go: ``stream``, else stdout (through the live page progress's console while one
    is on and stdout is the same terminal: printed above it)."""
    live = PageProgress.active
    if stream is None and live is not None and live.live is not None and sys.stdout.isatty():
        return live.console
    return results_console(stream or sys.stdout)


def print_summary(result: RunResult, stream: TextIO | None = None) -> None:
    """The summary table on stdout, as wide as the terminal (``COLUMNS``); long notes end in ``…``."""
    console = _results_console(stream)
    table = Table(title=Text(safe_line(f"{result.guide} on {result.target}: {result.status.upper()} "
                                       f"({result.duration:.1f}s)")))
    headers = ["#", "step", "tag", "status", "checks", "time"]
    rows, notes = [], []
    for s in result.steps:
        failed = [a for a in s.actions if a.status == Status.FAILED]
        notes.append(failed[0].message if failed else s.reason)
        rows.append([str(s.number or "-"), s.id, s.tag or "", s.status, str(sum(len(a.checks) for a in s.actions)),
                     f"{s.duration:.1f}s"])
    room = add_columns(table, headers, rows, "step", console.width)
    for row, note in zip(rows, notes, strict=True):
        table.add_row(row[0], Text(safe_line(row[1])), Text(safe_line(row[2])),
                      Text(row[3], style=STYLE.get(row[3], "")), *row[4:],
                      *([Text(clip(safe_line(note), room))] if room >= 16 else []))
    console.print(table)
    counts: dict[str, int] = {}
    for s in result.steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    steps = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    console.print(Text(safe_line(f"{result.guide}: steps: {steps}")))
    for step_id, why in result.blocked.items():
        console.print(Text(safe_line(f"blocked at {step_id}: {why}"), style="yellow"))


def failure_lines(result: RunResult, page: str) -> list[str]:
    """``page:line: what differs`` for every failed check, and every action that failed otherwise
    (at the line its message names)."""
    out: list[str] = []
    for s in result.steps:
        for a in s.actions:
            failed = [c for c in a.checks if c.status == CheckStatus.FAILED]
            for c in failed:
                out.append(f"{page}:{c.line}: " + ("; ".join(c.problems) or "differs from the guide"))
            if a.status == Status.FAILED and not failed:
                m = _LINE_RE.match(a.message)
                line, message = (int(m.group(1)), a.message[m.end():]) if m else (a.line, a.message)
                out.append(f"{page}:{line}: {message or 'failed'}")
    return out


def print_failures(result: RunResult, page: str, stream: TextIO | None = None) -> None:
    """The closing list of a guide's run: one ``file:line: expected X, got Y`` per failure."""
    lines = failure_lines(result, page)
    if lines:
        console = _results_console(stream)
        for line in lines:
            console.print(Text(safe_line(line), style="red"), overflow="ignore", crop=False, soft_wrap=True)


def mark_updated(result: RunResult) -> None:
    """``--update-expected`` rewrote the failed SQL checks: they are ``updated``, and so are the actions
    and steps that failed only by them; the run fails only for what remains."""
    for s in result.steps:
        for a in s.actions:
            rewritten = [c for c in a.checks if c.status == CheckStatus.FAILED and a.kind == ActionKind.SQL
                         and c.expected_span and c.statement_span]
            for c in rewritten:
                c.status = CheckStatus.UPDATED
            if rewritten and a.status == Status.FAILED and not any(c.status == CheckStatus.FAILED for c in a.checks):
                a.status = Status.UPDATED
        if s.status == Status.FAILED and not any(a.status == Status.FAILED for a in s.actions):
            s.status = Status.UPDATED
    if result.status == RunStatus.FAILED and not any(s.status == Status.FAILED for s in result.steps):
        result.status = RunStatus.PASSED
