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
from .session import HostShell, SessionError, Unterminated, WaitsForInput

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


_LOST_RE = re.compile(r"crash of another server process|unexpected postmaster exit|"
                      r"the database system is (?:in recovery mode|not yet "
                      r"accepting connections|shutting down|starting up)|no connection to the server|"
                      r"could not connect to server|connection to server .* failed: (?!FATAL:)")
"""psql could not reach the server, or the server was not ready; not a refusal the server gave the
session (``failed: FATAL:  database "nosuchdb" does not exist``, a role, a password, pg_hba.conf)."""
_PM_EXIT = "terminating connection due to unexpected postmaster exit"
"""A server process's last words when its postmaster is gone (killed) while it waits for its client."""


def lost_connection(output: str) -> bool:
    """psql could not connect because the server is away (another session's crash, its recovery)."""
    return _LOST_RE.search(output) is not None


def open_session(runner: Runner, sh: HostShell, session_id: str, command: str, line: int) -> None:
    """Open ``command`` (``psql blog``) as ``sh``'s psql session for the guide's ``line`` (its ``psql``
    command, or the SQL block whose session is inferred). A failure names that line; a server away, or
    gone as psql connected, is noted as lost (``runner.lost_server``: a site's page runs again alone)."""
    try:
        sh.open_psql(session_id, command, timeout=runner.options.timeout)
    except SessionError as exc:
        if lost_connection(exc.message + exc.last_output):
            runner.lost_server = runner.lost_server or "lost"
        raise type(exc)(f"line {line}: {exc.message}", exc.last_output) from exc
    if _PM_EXIT in sh.psql_opened:  # its server process ended as it connected: the postmaster is gone
        runner.lost_server = runner.lost_server or "lost"
        raise SessionError(f"line {line}: {sh.host}: psql's session ended as it opened: {_PM_EXIT}", sh.psql_opened)


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
        if cmd.opens_session:
            open_session(runner, sh, f"{cmd.opens_session}@{host}", text, cmd.span.line)
            continue
        try:
            res = sh.run(text, _answer(runner, cmd), timeout=runner.options.timeout)
        except (WaitsForInput, Unterminated) as exc:  # known at once, the shell back at its prompt
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
