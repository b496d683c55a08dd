"""One example page (or how-to page) run on the shared example server: a database of its own, the
page's example groups at once where ``-j`` has room, a second run in a fresh database where checks
differ (what differs is volatile), a run again after a crash, ``--update-expected``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import regex

from runbook.errors import RunbookError
from runbook.kinds import ActionKind

from ..planning.addresses import unsafe_addresses
from ..planning.inventory import default_inventory
from ..planning.model import Plan
from ..planning.plan import build_plan
from ..running.compare import Volatile
from ..running.results import RunResult
from ..running.steps import Runner, RunnerOptions
from ..status import CheckStatus, PageStatus
from .groups import run_groups
from .howto import clean_up, snapshot
from .model import (
    FAILED,
    INVALID,
    PASSED,
    PageResult,
    Rewriter,
    SiteOptions,
    first_problem,
)
from .pages import PageWork
from .server import SERVER_HOST, ExampleServer
from .shells import ExampleRunner, SharedHostTransport, runs_programs
from .volatility import merge_second_run


def run_example(work: PageWork, server: ExampleServer, options: SiteOptions, rewrite: Rewriter | None) -> PageResult:
    page, s, graph = work.page, work.settings, work.graph
    assert graph is not None
    pr = PageResult(str(page.path), page.rel, work.site, work.shape, FAILED, started=time.time())
    t0 = time.monotonic()
    try:
        error = server.prelude_errors.get(s.root)
        if error:
            pr.reason = error
            return pr
        plan = build_plan(graph, default_inventory(graph), pg_version=server.pg_version)
        unsafe = unsafe_addresses(plan)
        if unsafe:
            pr.status = INVALID
            pr.findings = [f.format() for f in unsafe]
            pr.reason = f"the sandbox refuses to run it: {pr.findings[0]}"
            return pr
        volatile = [(v.name, regex.compile(v.pattern)) for v in s.volatile]  # run with a time limit (compare.py)
        pr.database, runner, result = _run_surviving(work, server, options, plan, volatile)
        if (options.second_run and not options.update_expected and runner.lost_server is None
                and _failed_checks(result)):
            _, second, again = _run_surviving(work, server, options, plan, volatile, "second-run")
            if second.lost_server is None:
                merge_second_run(result, again, graph, volatile)
        pr.result = result
        if options.update_expected and rewrite is not None:
            pr.rewritten = rewrite(page.path, graph, result)  # its checks rewritten are "updated"
        pr.status = PageStatus(result.status)
        if pr.status != PASSED:
            pr.reason = first_problem(result)
    except RunbookError as exc:
        pr.reason = exc.message
    finally:
        pr.duration = time.monotonic() - t0
    return pr


def holding_a_slot(server: ExampleServer, run: Callable[..., PageResult], *args: object) -> PageResult:
    """A page runs holding one of the run's ``-j`` slots (example groups use the free ones)."""
    assert server.slots is not None
    with server.slots:
        return run(*args)


def run_howto(work: PageWork, server: ExampleServer, options: SiteOptions, lock: threading.Lock) -> PageResult:
    """A single-host how-to on the example server's host, where PostgreSQL is installed and running
    (:mod:`runner.site.howto`); what it created is dropped after it."""
    graph = work.graph
    assert graph is not None
    pr = PageResult(str(work.page.path), work.page.rel, work.site, work.shape, FAILED, started=time.time())
    t0 = time.monotonic()
    psql = server.sandbox.exec_argv(SERVER_HOST, ["psql", "-X", "-q", "-d", "postgres"], user="postgres")
    with lock:
        before = snapshot(psql)
        try:
            plan = build_plan(graph, default_inventory(graph), pg_version=server.pg_version)
            transcripts = options.transcripts / Path(work.page.rel).with_suffix("")
            server.ready.wait()
            server.check_running()
            runner = ExampleRunner(plan, SharedHostTransport(server.sandbox), RunnerOptions(
                timeout=options.timeout, settle=options.settle, volatile=[
                    (v.name, regex.compile(v.pattern)) for v in work.settings.volatile],
                versions=server.versions.get(work.settings.root)), secrets={}, transcripts=transcripts)
            with server.shells.programs():  # (its shell, and all it started, killed when it ends)
                pr.result = runner.run()
            pr.status = PageStatus(pr.result.status)
            if pr.status != PASSED:
                pr.reason = first_problem(pr.result)
        except RunbookError as exc:
            pr.reason = exc.message
        finally:
            clean_up(psql, before)
            pr.duration = time.monotonic() - t0
    return pr


def _run_surviving(work: PageWork, server: ExampleServer, options: SiteOptions, plan: Plan, volatile: Volatile,
                   label: str = "") -> tuple[str, Runner, RunResult]:
    """:func:`_run_once`; where the server crashed under the page, once it has recovered, the page runs
    again in a fresh database (twice at most), unless its own statement crashed it (its failure); when
    the server stopped for good, the page fails with why (:meth:`ExampleServer.recover`). When the
    postmaster died meanwhile (the server was restarted), psql's "server closed the connection
    unexpectedly" does not tell the statement that killed it from another page's statement waiting in
    the server then (nor its next statement's "unexpected postmaster exit" from another's): the page
    runs again alone (:class:`Turns`), and a postmaster death then is its own. Nor does psql always tell a
    crash of the page's own server process from another page's: "server closed the connection
    unexpectedly" alone comes too when another page's crash ended the process before it could say
    "crash of another server process" (seen with example groups at -j 2). So a page whose own process
    seems to have crashed runs again alone too, and fails only when it crashes the server then."""
    restarts, alone = server.restarts, False
    if label:
        database, runner, result = _run_once(work, server, options, plan, volatile, label)
    else:  # the page's example groups at the same time where the run has room (runner/site/groups.py)
        assert work.graph is not None
        database, runner, result = run_groups(
            lambda groups, lab: _run_once(work, server, options, plan, volatile, lab, groups), work.graph, server.slots)
    for again in range(2, 4):
        if runner.lost_server is None:
            break
        server.recover()
        died = server.restarts != restarts
        if alone or (server.stopped is not None and runner.lost_server == "crashed"):
            break  # its run alone lost the server (its own crash), or no run again can tell: its statement failed
        server.check_running()  # (it stopped: the page fails with why, at once)
        alone = died or runner.lost_server == "crashed"
        with server.turns.alone() if alone else contextlib.nullcontext():
            restarts = server.restarts  # (once its turn came: another page's run alone may have killed it)
            database, runner, result = _run_once(work, server, options, plan, volatile, f"{label or 'run'}-{again}",
                                                 alone=alone)
            if alone:  # a postmaster its run alone killed, found (and restarted) before others go on
                server.recover()
        if alone and runner.lost_server is None and server.restarts != restarts:
            raise RunbookError("the example server's postmaster died while this page ran alone (it ran again "
                               "after a postmaster death): one of its statements killed it")
    return database, runner, result


class Turns:
    """Example pages run at the same time (each run holds a :meth:`shared` turn), except a page run
    again :meth:`alone`, which waits until the runs going on have ended and keeps the others waiting."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._alone = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._alone = True
            self._cond.wait_for(lambda: self._shared == 0)
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def _failed_checks(result: RunResult) -> bool:
    return any(c.status == CheckStatus.FAILED for s in result.steps for a in s.actions for c in a.checks)


def _run_once(work: PageWork, server: ExampleServer, options: SiteOptions, plan: Plan, volatile: Volatile,
              label: str = "", groups: set[int] | None = None, *, alone: bool = False) -> tuple[str, Runner, RunResult]:
    """:func:`_one_run` holding a turn of its own (``alone``: the caller holds the run's only turn)."""
    with contextlib.nullcontext() if alone else server.turns.shared():
        return _one_run(work, server, options, plan, volatile, label, groups)


def _one_run(work: PageWork, server: ExampleServer, options: SiteOptions, plan: Plan, volatile: Volatile,
             label: str, groups: set[int] | None) -> tuple[str, Runner, RunResult]:
    """One run of an example page in a database of its own (a fresh one for each example group, for
    a run again or the second run), once the server accepts connections; the runner has its result."""
    page, s = work.page, work.settings
    server.ready.wait()
    server.check_running()
    database = server.new_database(page, s, fresh=bool(label))
    transcripts = options.transcripts / Path(page.rel).with_suffix("")
    if label:
        transcripts /= label

    def group_database(n: int) -> str:
        return server.new_database(page, s, suffix=f"g{n}", fresh=True)

    # its shell runs only psql: kept for others (runner/site/shells.py); else a page running programs
    psql_only = all(a.kind == ActionKind.SQL and not runs_programs(a.code) for a in plan.graph.actions())
    runner = ExampleRunner(plan, SharedHostTransport(server.sandbox, server.shell_argv()), RunnerOptions(
        timeout=options.timeout, settle=options.settle, database=database, go_on=True, volatile=volatile,
        keep_going_checks=options.update_expected, group_database=group_database,
        versions=server.versions.get(s.root), groups=groups), secrets={}, transcripts=transcripts,
        pool=server.shells if psql_only else None)
    with contextlib.nullcontext() if psql_only else server.shells.programs():
        return database, runner, runner.run()
