"""Run a plan on hosts and check every result against the guide: the step loop.

Document order is the order; an action that targets several hosts runs on them at the same time.
A failure stops everything after it (reported as not run); a step whose environment lacks
something is *blocked*, which is not a failure of the guide. On example pages (``go_on``) a result
that differs fails its check and the page goes on; only a statement that errors unexpectedly stops it.
A read-only check that differs is retried (``settle``) only where another host's write may not have
arrived yet: never on a single-host page.

Each action kind has its module: ``shell.py`` (shell and console blocks), ``sql.py``, ``files.py``
(edits and files written whole); ``shells.py`` holds the hosts' login shells, ``transport.py`` reaches
the hosts otherwise, ``observe.py`` watches the servers, ``results.py`` is what a run gives.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from runbook.kinds import ActionKind
from runbook.model import Action, Step

from ..planning.model import Plan
from ..planning.variants import names_other_host, variant_groups
from ..planning.versions import requirement_block
from ..status import CheckStatus, RunStatus, Status
from .compare import Volatile
from .files import run_file
from .observe import Observer
from .results import (
    BLOCKED,
    DONE_EARLIER,
    FAILED,
    INTERRUPTED,
    NOT_RUN,
    PASSED,
    ActionResult,
    Progress,
    RunResult,
    StepResult,
)
from .session import HostShell, Masker, SessionError
from .shell import run_commands
from .shells import HostShells
from .signals import Interrupted
from .sql import run_sql
from .transport import Transport


def fault_message(exc: Exception) -> str:
    """What an error that is not a session's says, as an action's message."""
    if isinstance(exc, subprocess.TimeoutExpired):
        argv = " ".join(str(a) for a in exc.cmd) if isinstance(exc.cmd, list) else str(exc.cmd)
        return f"a helper ({'…' + argv[-160:] if len(argv) > 160 else argv}) did not finish within {exc.timeout:g}s"
    from runbook.errors import RunbookError

    if isinstance(exc, RunbookError):
        return exc.message
    if isinstance(exc, OSError):
        return f"cannot reach the host: {exc}"
    return f"runbook could not carry out this action ({type(exc).__name__}: {exc}); a bug in runbook, not in the guide"


@dataclass
class RunnerOptions:
    """How the runner runs a plan (what it runs is the plan; where, the transport)."""

    timeout: float = 120
    """Seconds a command may take."""
    settle: float = 20
    """Seconds a read-only check is retried until it matches (where another host wrote before it)."""
    steps: list[str] | None = None
    """Run only these steps (``--only``/``--from``/``--until``); None: all."""
    done_earlier: set[str] | None = None
    """Steps completed by an earlier run on these hosts (skipped as done-earlier)."""
    keep_going_checks: bool = False
    """Go on after a differing check (to rewrite the expected output)."""
    database: str | None = None
    """The database of sessions whose ``database`` is null (an example page's own, chosen by the site run)."""
    go_on: bool = False
    """A differing result fails its check and the run goes on (example pages)."""
    volatile: Volatile = ()
    """The site's volatile patterns, besides the built-in ones."""
    prestart: bool = False
    """Start every host's shell at once when the run begins (speed), not at its first command."""
    variants: int = 1
    """Per-host variants of one block (:func:`variant_groups`) run this many at once (speed; 1: in
    the guide's order)."""
    group_database: Callable[[int], str] | None = None
    """Example pages: a fresh database for an example group (its number) after the first one."""
    versions: dict[str, str] | None = None
    """Installed versions (``postgresql``, extensions by name): an action whose version note needs a
    newer one is blocked (None: not known, nothing blocked for it)."""
    groups: set[int] | None = None
    """Example pages: run only these example groups (and the page's prelude actions); None: all."""


class Runner:
    """Runs a plan's steps on the hosts the transport reaches (``hosts``: their login shells) and checks
    every result; :meth:`run` once, then read its :class:`RunResult` (``last_results`` while it runs)."""

    def __init__(self, plan: Plan, transport: Transport, options: RunnerOptions | None = None, *,
                 secrets: dict[str, str], transcripts: Path | None, progress: Progress | None = None) -> None:
        self.options = options = options or RunnerOptions()
        self.plan = plan
        self.graph = plan.graph
        self._graph_hosts = {h.id: h for h in self.graph.hosts}
        self.transport = transport
        self.secrets = secrets
        self.mask = Masker(list(secrets.values()) + self.graph.secrets())
        self.progress = progress or (lambda *_: None)
        self.done_earlier = options.done_earlier or set()
        self.hosts = HostShells(transport, self.mask, transcripts, options.timeout)
        self.observer: Observer | None = None
        self.database = options.database
        """The database of sessions whose ``database`` is null; an example group's own once it has one."""
        self.group: int | None = None
        """The example group whose database ``self.database`` is."""
        self.writers: set[str] = set()
        """Hosts that ran something other than a read-only statement (their writes may be in flight)."""
        self.lost_server: str | None = None
        """Set when the server went away under the page: ``crashed`` (a statement of this page
        crashed it) or ``lost`` (another's crash, or recovery: the page may run again)."""
        self._blocked_at: dict[int | None, str] = {}
        """Example pages: example group -> the blocked action it holds (``line N: why``); a failure after
        it in its group is blocked too (what it needs was not made)."""
        self._stopped_groups: dict[int | None, str] = {}
        """Example groups stopped by an unexpected error (the page goes on with the next group)."""
        self._hard_failure = False
        self.last_results: list[StepResult] = []
        self.interrupted: Interrupted | None = None
        """Set when a signal ended the run early (the result then has status ``interrupted``)."""

    # -- hosts ----------------------------------------------------------------------------
    def shell(self, host: str) -> HostShell:
        return self.hosts.get(host)

    def close(self) -> None:
        if self.observer is not None:
            self.observer.stop()  # its workers end while the sessions close
        self.hosts.close(self.interrupted)
        if self.observer is not None:
            self.observer.close()
        stop = getattr(self.transport, "stop", None)
        if stop is not None:
            stop()

    def _end_now(self) -> None:
        """What ``close`` leaves undone when a signal cuts it short: every session killed, every
        transcript closed, the observer's connections closed."""
        self.hosts.end_now()
        for end in (self.observer.close if self.observer is not None else None,
                    getattr(self.transport, "stop", None)):
            if end is not None:
                try:
                    end()
                except Exception:
                    pass

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        started = time.time()
        t0 = time.monotonic()
        sockets = self.transport.sockets()
        if sockets:
            self.observer = Observer(sockets, self.transport.observer_user(), self.transport.observer_roots())
        results: list[StepResult] = []
        self.last_results = results
        try:
            self._steps(results)
        finally:
            try:
                self.close()
            except Interrupted as exc:  # while the sessions were closing: end them now; the report still comes
                self.interrupted = self.interrupted or exc
                self._end_now()
        statuses = {s.status for s in results}
        status = RunStatus(INTERRUPTED if self.interrupted else FAILED if FAILED in statuses
                           else BLOCKED if BLOCKED in statuses else PASSED)
        blocked = {k: f"{v.reason}; to lift: {v.lift}" for k, v in self.plan.blocked.items()}
        target = ",".join(sorted(self.plan.inventory.kinds))
        result = RunResult(self.plan.original.source.file, target, status, started, time.monotonic() - t0, results,
                           blocked)
        self.mask.deep(result)
        return result

    def _steps(self, results: list[StepResult]) -> None:
        """Every step in document order (a step not selected is skipped, one done earlier is done, every
        step after a failure or a block is not run), its results appended to ``results``."""
        stop: str | None = None
        selected = self.options.steps
        try:
            if self.options.prestart:  # every host's shell at once (speed)
                self.hosts.start_all(sorted({h for step in self.graph.steps if selected is None or step.id in selected
                                             for a in step.actions for h in a.targets}), self.shell)
            for step in self.graph.steps:
                sr = StepResult(step.id, step.number, step.title, step.tag, step.span.line, NOT_RUN)
                results.append(sr)
                if selected is not None and step.id not in selected:
                    sr.reason = "not selected"
                    sr.status = Status.SKIPPED
                elif step.id in self.done_earlier:
                    sr.status = DONE_EARLIER
                    sr.reason = "completed by an earlier run on these hosts (nothing changed)"
                    self.progress("step-end", sr, None)
                elif stop is not None:
                    sr.reason = stop
                    self._not_run(step, sr)
                else:
                    stop = self._step(step, sr)
        except Interrupted as exc:  # between steps
            self.interrupted = exc
            stop = f"not run: the run was interrupted by {exc}"
            for sr in results:
                if sr.status == NOT_RUN and not sr.actions and sr.reason == "":
                    sr.reason = stop

    def _step(self, step: Step, sr: StepResult) -> str | None:
        """Run one step; why the steps after it are not run, if they are not."""
        self.progress("step-start", sr, None)
        s0 = time.monotonic()
        self._hard_failure = False
        stop = None
        try:
            self._run_step(step, sr)
        except Interrupted as exc:
            self.interrupted = exc
            sr.status = INTERRUPTED
            sr.reason = f"interrupted by {exc}"
            stop = f"not run: the run was interrupted by {exc}"
        sr.duration = time.monotonic() - s0
        self.progress("step-end", sr, None)
        if stop is not None:
            return stop
        if sr.status == FAILED and self._hard_failure:
            return f"not run: step {step.id} failed"
        if sr.status == BLOCKED and not self.options.go_on:
            return f"not run: step {step.id} is blocked"
        return None

    def _not_run(self, step: Step, sr: StepResult) -> None:
        for action in step.actions:
            for host in action.targets:
                sr.actions.append(ActionResult(action.id, step.id, action.kind, host, action.span.line, NOT_RUN))

    def _run_step(self, step: Step, sr: StepResult) -> None:
        sr.status = PASSED
        failed_or_blocked = False
        groups = (variant_groups(step.actions, self._graph_hosts) if self.options.variants > 1
                  else [[a] for a in step.actions])
        for group in groups:
            if self.options.groups is not None and group[0].example_group not in (None, *self.options.groups):
                continue  # another runner's example group (runner/site/groups.py)
            stopped = self._stopped_groups.get(group[0].example_group) if self.options.go_on else None
            if failed_or_blocked or stopped is not None:
                for action in group:
                    for host in action.targets:
                        sr.actions.append(ActionResult(action.id, step.id, action.kind, host, action.span.line,
                                                       NOT_RUN, message=stopped or ""))
                continue
            if len(group) > 1:  # per-host variants of one block: on their hosts at once (speed)
                ars = self._at_once([(a, a.targets[0]) for a in group], step, min(len(group), self.options.variants))
            elif len(group[0].targets) > 1 and not names_other_host(group[0], group[0].targets, self._graph_hosts):
                ars = self._at_once([(group[0], h) for h in group[0].targets], step, len(group[0].targets))
            elif len(group[0].targets) > 1:  # it reaches another host they share: one host after another
                ars = [self._run_action(step, group[0], h) for h in group[0].targets]
            else:
                ars = [self._run_action(step, group[0], group[0].targets[0])]
            for ar in ars:
                sr.actions.append(ar)
                self.progress("action", sr, ar)
            st = {a.status for a in ars}
            if FAILED in st:
                sr.status = FAILED
                example = group[0].example_group
                if self._hard_failure and self.options.go_on and example is not None and self.lost_server is None:
                    # an example page's error stops its example group only: the next one starts afresh
                    line = next(a.line for a in ars if a.status == FAILED)
                    self._stopped_groups[example] = f"not run: line {line} of its example failed"
                    self._hard_failure = False
                failed_or_blocked = self._hard_failure
            elif BLOCKED in st:
                sr.status = BLOCKED if sr.status != FAILED else FAILED
                sr.reason = sr.reason or next(a.message for a in ars if a.status == BLOCKED)
                failed_or_blocked = not self.options.go_on  # an example page goes on: other examples do not need it

    def _at_once(self, work: list[tuple[Action, str]], step: Step, width: int) -> list[ActionResult]:
        """Run each (action, host) of ``work`` at the same time, ``width`` at most; results in order."""
        pool = ThreadPoolExecutor(max_workers=width)
        try:
            ars = list(pool.map(lambda w: self._run_action(step, w[0], w[1]), work))
        except Interrupted:
            self.hosts.kill()  # the other threads' sessions end now, so they return at once
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return ars

    def _run_action(self, step: Step, action: Action, host: str) -> ActionResult:
        ar = ActionResult(action.id, step.id, action.kind, host, action.span.line, PASSED)
        self.progress("action-start", None, ar)
        t0 = time.monotonic()
        why = requirement_block(action, self.options.versions)
        if why is not None:
            ar.status = BLOCKED
            ar.message = why
            self._blocked_at.setdefault(action.example_group, f"line {action.span.line}: {why}")
            return ar
        try:
            if action.kind != ActionKind.SQL:
                self.writers.add(host)
            if action.kind in (ActionKind.SHELL, ActionKind.CONSOLE):
                run_commands(self, action, host, ar)
            elif action.kind == ActionKind.SQL:
                run_sql(self, action, host, ar)
            elif action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
                run_file(self, action, host, ar)
        except SessionError as exc:
            ar.status = FAILED
            ar.message = self.mask(exc.message)
            ar.details = self.mask(exc.last_output)
        except Exception as exc:  # not a session's fault (a helper's timeout, a pattern's, a bug): this action fails
            ar.status = FAILED
            ar.message = self.mask(fault_message(exc))
        if ar.status == FAILED and self.options.go_on and action.example_group in self._blocked_at:
            self._after_blocked(ar, self._blocked_at[action.example_group])
        if ar.status == BLOCKED and ar.message and self.options.go_on:
            self._blocked_at.setdefault(action.example_group, f"line {action.span.line}: {ar.message}")
        if ar.status == FAILED and not ar.soft:
            self._hard_failure = True
        # a stale example's soft failure (psql answered, no unexpected error) needs no diagnosis of the
        # host (its server answered); skipping it spares a command in the host per such failure
        if ar.status == FAILED and not ar.soft:
            why = self.transport.diagnose(host)
            if why:
                ar.message += f" ({why})"
        ar.duration = time.monotonic() - t0
        # every text of the result (messages, expected and actual lines, problems, diffs, notes) is
        # masked here, once, before the progress line or any report reads it
        self.mask.deep(ar)
        return ar

    @staticmethod
    def _after_blocked(ar: ActionResult, blocked: str) -> None:
        """A failure after a blocked example of its group: what it needs was not made; blocked too
        (the failure itself is kept in the details, its failed checks are not counted)."""
        failed = [c for c in ar.checks if c.status == CheckStatus.FAILED]
        ar.details = "\n".join(x for x in (ar.message, ar.details) if x)
        ar.checks = [c for c in ar.checks if c.status != CheckStatus.FAILED]
        lines = ", ".join(str(c.line) for c in failed)
        ar.message = (f"after the blocked example ({blocked})" + (f"; checks at line {lines} not run" if lines else ""))
        ar.status = BLOCKED

