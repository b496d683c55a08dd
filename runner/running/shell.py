"""Shell and console actions: each command in the host's login shell (substituted where the plan says),
prompts answered from the dialog, the output compared with the guide's where it shows one."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runbook.model import Action, Command, as_root

from ..status import CheckStatus, SubstitutionKind
from .capture import cap_note
from .compare import compare_console
from .results import BLOCKED, FAILED, ActionResult, CheckResult
from .session import WaitsForInput

if TYPE_CHECKING:
    from .steps import Runner


def _answer(runner: Runner, cmd: Command) -> list[tuple[str, str]]:
    """(prompt, answer) of the command's dialog, a secret's answer from the run's secrets."""
    out = []
    for turn in cmd.dialog:
        if turn.answer.var is not None:
            value = runner.secrets.get(turn.answer.var)
            if value is None:
                var = runner.graph.variable(turn.answer.var)
                value = var.value if var else ""
        else:
            value = turn.answer.literal or ""
        out.append((turn.prompt, value))
    return out


def run_commands(runner: Runner, action: Action, host: str, ar: ActionResult) -> None:
    """A shell or console block on ``host``: its commands in order, ``ar`` says how it went."""
    sh = runner.shell(host)
    if sh.psql_session is not None:
        sh.close_psql()
    for i, cmd in enumerate(action.commands):
        text, sub = runner.plan.command_text(action.id, i, cmd.text)
        if sub is not None:
            ar.substitutions.append({"line": str(cmd.span.line), "kind": sub.kind, "command": runner.mask(cmd.text),
                                     "reason": sub.reason, **({"with": runner.mask(text)} if text else {})})
            if sub.kind == SubstitutionKind.BLOCK:
                ar.status = BLOCKED
                ar.message = f"{sub.reason} (to lift: {sub.lift})"
                return
        if text is None:
            continue
        if cmd.root:  # a root prompt's psql is psql run by root (sudo), not through a shell string
            text = "sudo -H " + text if cmd.opens_session else as_root(text)
        reload = re.search(r"\bsystemctl\s+reload\b", text) is not None
        before_load = runner.observer.conf_load_time(host) if reload and runner.observer else None
        try:
            if cmd.opens_session:
                sh.open_psql(f"{cmd.opens_session}@{host}", text, timeout=runner.options.timeout)
                continue
            res = sh.run(text, _answer(runner, cmd), timeout=runner.options.timeout)
        except WaitsForInput as exc:  # known at once, the shell back at its prompt
            ar.status = FAILED
            ar.message = f"line {cmd.span.line}: {runner.mask(exc.message)}"
            ar.details = runner.mask(exc.last_output)
            return
        if res.status != 0:
            ar.status = FAILED
            ar.message = f"line {cmd.span.line}: command exited with status {res.status}: {runner.mask(text)}"
            ar.details = runner.mask(res.output[-1000:])
            return
        if reload and runner.observer:
            note = runner.observer.wait_reloaded(host, before_load)
            if note:
                ar.notes.append(note)
        if cmd.output and sub is not None and not sub.same_output:
            ar.notes.append(f"line {cmd.span.line}: output not compared: the command was substituted")
        elif res.dropped and over_cap(ar, cmd.span.line, res.dropped, checked=bool(cmd.output)):
            return
        elif cmd.output:
            cmp = compare_console(cmd.output, res.output, runner.options.volatile)
            check = CheckResult(cmd.span.line, runner.mask(text), CheckStatus.PASSED, cmd.output,
                                [runner.mask(x) for x in res.output.splitlines()], cmp.problems, cmp.volatile)
            if not cmp.ok:
                check.status = CheckStatus.FAILED
                ar.status = FAILED
                ar.message = f"line {cmd.span.line}: output differs: " + "; ".join(cmp.problems)
            elif cmp.volatile:
                check.status = CheckStatus.VOLATILE
            ar.checks.append(check)
            if not cmp.ok:
                return


def over_cap(ar: ActionResult, line: int, dropped: int, *, checked: bool) -> bool:
    """Output over the cap (runner/running/capture.py): a check of it fails (its middle is gone), an
    unchecked one passes with a note. True when the action failed."""
    if not checked:
        ar.notes.append(f"line {line}: {cap_note(dropped)} (not checked)")
        return False
    ar.soft = False
    ar.status = FAILED
    ar.message = f"line {line}: {cap_note(dropped)}: not compared with the guide's output"
    return True
