"""SQL actions: psql sessions opened as the guide opens them (or inferred), each statement's result
compared with the guide's expected output; read-only checks retried while another host's writes may be
in flight (``settle``); example groups on fresh databases; a server that went away told apart from an
error of the statement."""

from __future__ import annotations

import re
import shlex
import time
from typing import TYPE_CHECKING

from runbook.kinds import ActionKind, ExpectedKind
from runbook.model import Action, Expected, Statement
from runbook.psql_output import parse_output
from runbook.read.sql import WATCH_REFUSED, sent_by

from ..status import CheckStatus
from .compare import Comparison, compare_output, has_order_by
from .results import FAILED, ActionResult, CheckResult
from .session import HostShell, SessionError, SqlResult, Unterminated, WaitsForInput
from .shell import open_session, over_cap

if TYPE_CHECKING:
    from .steps import Runner

_RESET = "The connection to the server was lost. Attempting reset:"
"""What psql says once a session's connection is gone; what follows comes from its reconnection."""
_OTHERS_CRASH_RE = re.compile(r"crash of another server process|unexpected postmaster exit|"
                              r"the database system is (?:in recovery mode|not "
                              r"yet accepting connections|shutting down|starting up)|^You are currently not "
                              r"connected to a database|no connection to the server", re.MULTILINE)


def server_gone(output: str) -> str | None:
    """After a statement: ``crashed`` when its own server process ended (``server closed the
    connection unexpectedly`` and nothing else said why), ``lost`` when another's crash ended it (or
    the postmaster's death while the session was idle: "terminating connection due to unexpected
    postmaster exit"), else None (an error such as dblink's "could not connect to server" is the statement's own).
    What psql's reset printed after the connection was lost is no reason: its new connection can be
    ended by the recovery from the very crash the statement caused ("Attempting reset: WARNING:
    terminating connection because of crash of another server process")."""
    before_reset = output.split(_RESET, 1)[0]
    if _OTHERS_CRASH_RE.search(before_reset):
        return "lost"
    if "server closed the connection unexpectedly" in before_reset:
        return "crashed"
    return None


READ_ONLY_RE = re.compile(r"^\s*(SELECT|SHOW|TABLE|VALUES|WITH)\b", re.IGNORECASE)


def ensure_session(runner: Runner, action: Action, host: str) -> HostShell:
    """The host's shell with the action's psql session open (opened, or reopened, as needed). A failure
    to open it names the guide's line: the ``psql`` command's when the guide wrote one, else the action's."""
    sh = runner.shell(host)
    sid = action.sessions.get(host)
    session = runner.graph.session(sid) if sid else None
    fresh = not (session and session.database) and _switch_group(runner, action, sh)
    if sid is not None and sh.psql_session == sid:
        return sh
    database = session.database if session and session.database else (runner.database or "")
    user = session.user if session else None
    command = "psql " + shlex.quote(database) if database else "psql"
    if user and user not in ("${USER}",) and not user.startswith("$"):
        command = f"sudo -u {shlex.quote(user)} -H " + command
    if sh.psql_session is not None:
        sh.close_psql()
    line = session.span.line if session and not session.inferred else action.span.line
    open_session(runner, sh, sid or f"inferred@{host}", command, line)
    ar_note = "inferred" if session and session.inferred else "reopened"
    sh.transcript.write("note", f"psql session {sid} ({ar_note})")
    if fresh:
        _page_prelude(runner, sh)
    return sh


def _switch_group(runner: Runner, action: Action, sh: HostShell) -> bool:
    """An action of another example group than the database's: a fresh database for it (the
    first group uses the page's own). True when the database changed."""
    if action.example_group is None or action.example_group == runner.group:
        return False
    first = runner.group is None
    runner.group = action.example_group
    if first or runner.options.group_database is None:
        return False
    runner.database = runner.options.group_database(action.example_group)
    sh.transcript.write("note", f"example group {action.example_group}: database {runner.database}")
    if sh.psql_session is not None:
        sh.close_psql()
    return True


def _page_prelude(runner: Runner, sh: HostShell) -> None:
    """In an example group's fresh database: the page's own prelude first (the leading blocks
    that only prepare the database, ``example_group`` None), as in the page's first database."""
    first = next((a for a in runner.graph.actions() if a.example_group is not None), None)
    for action in runner.graph.actions():
        if first is None or action is first:
            break
        if action.kind != ActionKind.SQL or action.example_group is not None:
            continue
        for st in action.statements:
            res = sh.sql(st.sql, timeout=runner.options.timeout)
            if res.error:
                raise SessionError(f"line {st.span.line}: the page's prelude failed in the example's "
                                   f"database: {' '.join(res.output.split())[:300]}", res.output)


def run_sql(runner: Runner, action: Action, host: str, ar: ActionResult) -> None:
    """A SQL block on ``host``: in its psql session, each statement run and checked."""
    sh = ensure_session(runner, action, host)
    if runner.observer is not None:
        note = runner.observer.wait_replayed(host)
        if note:
            ar.notes.append(note)
    for st in action.statements:
        if st.sql.startswith("\\q"):
            sh.close_psql()
            continue
        if sent_by(st.sql) == "watch":  # it would run the query again every few seconds until Ctrl-C
            ar.soft, ar.status = False, FAILED
            ar.message = f"line {st.span.line}: {WATCH_REFUSED}"
            return
        if not _statement(runner, sh, st, host, ar):
            return


def _statement(runner: Runner, sh: HostShell, st: Statement, host: str, ar: ActionResult) -> bool:
    """Run one statement and check its result, again while a read-only check differs and another host's
    write may not have arrived yet (replication, subscriptions). False when the action stops here."""
    read_only = READ_ONLY_RE.match(st.sql) is not None
    settle = runner.options.settle if read_only and runner.writers - {host} else 0
    deadline = time.monotonic() + settle
    tries = 0
    while True:
        tries += 1
        res = _execute(runner, sh, st, ar)
        if res is None:
            return False
        out = parse_output(res.output.split("\n"))
        if res.sqlstate and out.error is not None:
            out.error.setdefault("sqlstate", res.sqlstate)
        if not read_only:
            runner.writers.add(host)
        if res.dropped and over_cap(ar, st.span.line, res.dropped, checked=st.expected is not None):
            return False
        if st.expected is None:
            if res.error:
                ar.soft = False
                ar.status = FAILED
                ar.message = f"line {st.span.line}: " + runner.mask(" ".join(res.output.split())[:500])
                return False
            return True
        cmp = compare_output(st.expected, out, runner.options.volatile, ordered=has_order_by(st.sql, out.columns))
        if (not cmp.ok and read_only and st.expected.kind != ExpectedKind.ERROR
                and time.monotonic() < deadline):
            time.sleep(0.2)
            continue
        return _check(runner, st, st.expected, res, cmp, tries, ar)


def _execute(runner: Runner, sh: HostShell, st: Statement, ar: ActionResult) -> SqlResult | None:
    """The statement's result, or None when it failed the action: psql never finished it, or the
    server went away under it."""
    try:
        res = sh.sql(st.sql, timeout=runner.options.timeout)
    except (Unterminated, WaitsForInput) as exc:  # psql (or what it runs) waits for input: known at once
        ar.soft = False
        ar.status = FAILED
        ar.message = f"line {st.span.line}: {runner.mask(exc.message)}"
        ar.details = runner.mask(exc.last_output)
        return None
    crash = server_gone(res.output)
    if crash is not None:
        runner.lost_server = runner.lost_server or crash
        ar.soft = False
        ar.status = FAILED
        ar.message = f"line {st.span.line}: " + ("server closed the connection unexpectedly"
                                                 if crash == "crashed" else runner.mask(
                                                     " ".join(res.output.split())[:300]))
        ar.details = runner.mask(res.output[-1000:])
        return None
    return res


def _check(runner: Runner, st: Statement, exp: Expected, res: SqlResult, cmp: Comparison, tries: int,
           ar: ActionResult) -> bool:
    """The statement's check, added to the action; False when its difference stops the action."""
    check = CheckResult(st.span.line, runner.mask(st.sql), CheckStatus.PASSED, list(exp.lines),
                        [runner.mask(x) for x in res.output.rstrip("\n").split("\n")], cmp.problems,
                        cmp.volatile, tries, (exp.span.line, exp.span.end_line),
                        (st.span.line, st.span.end_line))
    if cmp.ok:
        if cmp.volatile:
            check.status = CheckStatus.VOLATILE
        ar.checks.append(check)
        return True
    check.status = CheckStatus.FAILED
    ar.checks.append(check)
    if runner.options.keep_going_checks:
        ar.notes.append(f"line {st.span.line}: result differs (kept going to update it)")
        return True
    message = (f"line {st.span.line}: result differs from the guide (expected at line "
               f"{exp.span.line}): " + "; ".join(cmp.problems))
    if runner.options.go_on and not (res.error and exp.kind != ExpectedKind.ERROR):
        # a stale example: its check fails, the page goes on (only an unexpected error stops it)
        if ar.status != FAILED:
            ar.status = FAILED
            ar.message = message
            ar.soft = True
        return True
    ar.status = FAILED
    ar.message = message
    ar.soft = False
    return False
