"""CI annotations: GitHub Actions workflow commands at the guide's lines, and the job summary in Markdown.

When ``GITHUB_ACTIONS=true``, ``runbook run`` prints ``::error file=…,line=…::…`` for every failed
check and failed action (``::warning`` for a blocked step) and appends the summary table to the
file named by ``$GITHUB_STEP_SUMMARY``; ``runbook lint`` prints one command per finding. The file
is the guide's path as given on the command line, so run runbook from the repository's root.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from runbook.model import Finding

from .. import untrusted
from ..running.results import FAILED, RunResult
from ..status import CheckStatus, RunStatus, Status
from ..untrusted import markdown_cell, markdown_code, visible

_LEVELS = {"error": "error", "warning": "warning", "hint": "notice"}


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """True inside a GitHub Actions job."""
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, file: str, line: int, message: str, *, end_line: int | None = None,
            title: str | None = None) -> str:
    """One workflow command, escaped as GitHub documents it (``%``, CR, LF; ``:`` and ``,`` in properties)."""
    props = [f"file={_prop(file)}", f"line={line}"]
    if end_line is not None and end_line > line:
        props.append(f"endLine={end_line}")
    if title:
        props.append(f"title={_prop(title)}")
    return f"::{level} {','.join(props)}::{_data(visible(message, lines=True))}"


def run_commands(result: RunResult) -> list[str]:
    """A command per failed check (at its expected output), per failed action without a failed check
    (at its block), and a warning per blocked step (at its heading)."""
    out: list[str] = []
    for step in result.steps:
        for a in step.actions:
            failed = [c for c in a.checks if c.status == CheckStatus.FAILED]
            for c in failed:
                line, end = c.expected_span if c.expected_span else (c.line, None)
                message = f"{a.host}: result differs from the guide: " + "; ".join(c.problems)
                out.append(command("error", result.guide, line, message, end_line=end,
                                   title=f"runbook: {step.id} failed"))
            if a.status == FAILED and not failed:
                out.append(command("error", result.guide, a.line, f"{a.host}: {a.message or 'failed'}",
                                   title=f"runbook: {step.id} failed"))
        if step.status == Status.BLOCKED:
            out.append(command("warning", result.guide, step.line, step.reason or "blocked by the environment",
                               title=f"runbook: {step.id} blocked"))
    return out


def lint_commands(findings: Iterable[Finding]) -> list[str]:
    """A command per lint finding at its line (``error``, ``warning`` or ``notice``)."""
    return [command(_LEVELS.get(f.severity, "notice"), f.span.file, f.span.line, f"{f.rule}: {f.message}",
                    end_line=f.span.end_line, title=f"runbook lint: {f.rule}") for f in findings]


_FORMATTED = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.*)$", re.S)


def formatted_commands(lines: Iterable[str]) -> list[str]:
    """An error per ``file:line: rule: message`` (a :meth:`Finding.format` line: an unreadable page)."""
    out = []
    for text in lines:
        m = _FORMATTED.match(text)
        if m:
            out.append(command("error", m["file"], int(m["line"]), m["message"], title="runbook: unreadable page"))
    return out


def summary_markdown(results: Iterable[RunResult]) -> str:
    """The summary table of every guide of a run, in GitHub-flavoured Markdown."""
    parts = []
    for r in results:
        parts.append(f"### {'✅' if r.status == RunStatus.PASSED else '❌' if r.status == RunStatus.FAILED else '⚠️'} "
                     f"{markdown_code(r.guide)}: {r.status} ({r.duration:.1f}s)\n")
        parts.append("| # | step | status | checks | time | note |\n| --- | --- | --- | --- | --- | --- |")
        for s in r.steps:
            failed = [a for a in s.actions if a.status == FAILED]
            note = markdown_cell(failed[0].message if failed else s.reason)
            checks = sum(len(a.checks) for a in s.actions)
            parts.append(f"| {s.number or '-'} | {markdown_code(s.id)} | {s.status} | {checks} | {s.duration:.1f}s "
                         f"| {note} |")
        parts.append("")
    return "\n".join(parts) + "\n"


def emit(lines: Iterable[str], stream: TextIO | None = None) -> None:
    """Print workflow commands on standard output (where the runner reads them); while untrusted
    output is wrapped (:func:`untrusted.commands_stopped`), with command processing resumed."""
    if stream is None and untrusted.ACTIVE is not None:
        untrusted.ACTIVE.emit(lines)
        return
    stream = stream or sys.stdout
    for line in lines:
        stream.write(line + "\n")
    stream.flush()


def append_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY`` when it is set; True if written."""
    path = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(markdown)
    return True
