"""Run a plan on hosts and check every result against the guide.

Document order is the order; an action that targets several hosts runs on them at the same time.
A failure stops everything after it (reported as not run); a step whose environment lacks
something is *blocked*, which is not a failure of the guide. On example pages (``go_on``) a result
that differs fails its check and the page goes on; only a statement that errors unexpectedly stops it.
A read-only check that differs is retried (``settle``) only where another host's write may not have
arrived yet: never on a single-host page.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.edit_rules import EditStatus, apply_file_edit
from runbook.model import Action, Command, Step, as_root
from runbook.psql_output import parse_output

from .capture import cap_note
from .compare import Volatile, compare_console, compare_output, has_order_by
from .observe import Observer
from .planning.model import Plan
from .planning.server_paths import is_server_path, server_path
from .planning.variants import names_other_host, variant_groups
from .planning.versions import requirement_block
from .session import HostShell, Masker, SessionError, Transcript, Unterminated
from .status import CheckStatus, RunStatus, Status, SubstitutionKind

_LOST_RE = re.compile(r"crash of another server process|the database system is (?:in recovery mode|not yet "
                      r"accepting connections|shutting down|starting up)|no connection to the server|"
                      r"could not connect to server|connection to server .* failed")
_OTHERS_CRASH_RE = re.compile(r"crash of another server process|the database system is (?:in recovery mode|not "
                              r"yet accepting connections|shutting down|starting up)|^You are currently not "
                              r"connected to a database|no connection to the server", re.MULTILINE)


def lost_connection(output: str) -> bool:
    """psql could not connect because the server is away (another session's crash, its recovery)."""
    return _LOST_RE.search(output) is not None


def server_gone(output: str) -> str | None:
    """After a statement: ``crashed`` when its own server process ended (``server closed the
    connection unexpectedly`` and nothing else said why), ``lost`` when another's crash ended it,
    else None (an error such as dblink's "could not connect to server" is the statement's own)."""
    if _OTHERS_CRASH_RE.search(output):
        return "lost"
    if "server closed the connection unexpectedly" in output:
        return "crashed"
    return None


READ_ONLY_RE = re.compile(r"^\s*(SELECT|SHOW|TABLE|VALUES|WITH)\b", re.IGNORECASE)

PASSED, FAILED, BLOCKED, NOT_RUN, ALREADY, DONE_EARLIER, INTERRUPTED = (
    Status.PASSED, Status.FAILED, Status.BLOCKED, Status.NOT_RUN, Status.ALREADY_APPLIED, Status.DONE_EARLIER,
    Status.INTERRUPTED)


class Interrupted(BaseException):
    """The run was interrupted by a signal (SIGINT from Ctrl-C, SIGTERM from kill)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class SignalGuard:
    """While active: the first SIGINT/SIGTERM prints ``first(signum)`` and raises
    :class:`Interrupted` (or, inside :meth:`shield`, only records it); a second one prints
    ``second(signum)`` and ends the process at once with status 128 + signal."""

    def __init__(self, first: Callable[[int], str], second: Callable[[int], str]) -> None:
        self.first = first
        self.second = second
        self.signum: int | None = None
        self._shielded = 0
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            try:
                sys.stderr.write("\n" + self.second(signum) + "\n")
                sys.stderr.flush()
            finally:
                os._exit(128 + signum)
        self.signum = signum
        sys.stderr.write("\n" + self.first(signum) + "\n")
        sys.stderr.flush()
        if not self._shielded:
            raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        self._old = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        """A first signal inside only records itself (clean-up must not be cut short)."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1


@dataclass
class CheckResult:
    line: int
    statement: str
    status: CheckStatus
    """``passed``, ``volatile`` (passed, volatile values differed) or ``failed``."""
    expected: list[str]
    actual: list[str]
    problems: list[str] = field(default_factory=list)
    volatile: list[str] = field(default_factory=list)
    tries: int = 1
    expected_span: tuple[int, int] | None = None
    statement_span: tuple[int, int] | None = None


@dataclass
class ActionResult:
    action: str
    step: str
    kind: str
    host: str
    line: int
    status: Status
    duration: float = 0.0
    message: str = ""
    details: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    substitutions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    soft: bool = field(default=False, metadata={"report": False})
    """Failed on an example page: its page goes on (not in the reports)."""


@dataclass
class StepResult:
    id: str
    number: int | None
    title: str
    tag: str | None
    line: int
    status: Status
    duration: float = 0.0
    actions: list[ActionResult] = field(default_factory=list)
    reason: str = ""


@dataclass
class RunResult:
    guide: str
    target: str
    status: RunStatus
    started: float
    duration: float
    steps: list[StepResult]
    blocked: dict[str, str] = field(default_factory=dict)


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


class Transport:
    """How the runner reaches a host outside its interactive shell (files, the observer)."""

    def shell_argv(self, host: str) -> list[str]:
        raise NotImplementedError

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        raise NotImplementedError

    def sockets(self) -> dict[str, Path]:
        return {}

    def login(self, host: str) -> list[tuple[str, str]]:
        return []

    def namespaces(self, host: str) -> dict[str, int]:
        """{kind: inode} of the namespaces a shell on ``host`` must be inside (sandbox hosts)."""
        return {}

    def observer_user(self) -> str | tuple[int, int]:
        """Who the observer connects to the hosts' Unix sockets as: ``postgres``, or the (uid, gid)
        that is ``postgres`` inside sandbox hosts."""
        return "postgres"

    def observer_roots(self) -> dict[str, tuple[str, str]]:
        """Per host, (root folder, socket folder inside) the observer connects from (sandbox hosts)."""
        return {}

    def diagnose(self, host: str) -> str | None:
        """After a failure on ``host``: what went wrong with the host itself, if it can tell."""
        return None

    def run_root(self, host: str, argv: list[str], data: bytes | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.root_argv(host, argv), input=data, capture_output=True, timeout=timeout,
                              check=False)


class SandboxTransport(Transport):
    def __init__(self, sandbox: object) -> None:
        from .sandbox import Sandbox

        assert isinstance(sandbox, Sandbox)
        self.sandbox = sandbox

    def shell_argv(self, host: str) -> list[str]:
        return self.sandbox.shell_argv(host)

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return self.sandbox.exec_argv(host, argv)

    def sockets(self) -> dict[str, Path]:
        return {h.name: self.sandbox.socket_dir(h.name) for h in self.sandbox.hosts}

    def namespaces(self, host: str) -> dict[str, int]:
        return self.sandbox.namespace_inodes(host)

    def observer_user(self) -> str | tuple[int, int]:
        return self.sandbox.postgres_ids()

    def observer_roots(self) -> dict[str, tuple[str, str]]:
        return self.sandbox.observer_roots()

    def diagnose(self, host: str) -> str | None:
        return self.sandbox.diagnose(host)


class LocalTransport(Transport):
    def shell_argv(self, host: str) -> list[str]:
        return ["bash", "--noediting", "--noprofile", "--norc", "-i"]

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["sudo", "-n", *argv]


class SshTransport(Transport):
    """Hosts reached with OpenSSH. The interactive session logs in first (answering the password
    prompt from a secret when the inventory names one) and becomes the master of a shared connection,
    which file edits then reuse (``ControlMaster``), so the password is typed once per host."""

    def __init__(self, targets: dict[str, tuple[str, str | None, int | None]], *,
                 passwords: dict[str, str] | None = None, options: dict[str, list[str]] | None = None,
                 control_dir: Path | None = None) -> None:
        import tempfile

        self.targets = targets
        self.passwords = passwords or {}
        self.options: dict[str, list[str]] = options or {}
        self._own_dir = control_dir is None
        self.control_dir = control_dir or Path(tempfile.mkdtemp(prefix="runbook-ssh-"))

    def _dest(self, host: str) -> list[str]:
        address, user, port = self.targets[host]
        dest = f"{user}@{address}" if user else address
        control = ["-o", f"ControlPath={self.control_dir}/%C", "-o", "ControlMaster=auto",
                   "-o", "ControlPersist=120"]
        return control + self.options.get(host, []) + (["-p", str(port)] if port else []) + [dest]

    def shell_argv(self, host: str) -> list[str]:
        return ["ssh", "-tt", *self._dest(host), "exec bash --noediting --noprofile --norc -i"]

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["ssh", "-o", "BatchMode=yes", *self._dest(host), "sudo -n " + shlex.join(argv)]

    def login(self, host: str) -> list[tuple[str, str]]:
        pw = self.passwords.get(host)
        return [(r"(?i)password:\s*$", pw)] if pw else []

    def stop(self) -> None:
        """End the shared connections; the folder of their sockets goes too (when it is this one's)."""
        for host in self.targets:
            subprocess.run(["ssh", "-O", "exit", *self._dest(host)], capture_output=True, check=False, timeout=10)
        if self._own_dir:
            import shutil

            shutil.rmtree(self.control_dir, ignore_errors=True)


Progress = Callable[[str, StepResult | None, ActionResult | None], None]


class Runner:
    def __init__(self, plan: Plan, transport: Transport, *, secrets: dict[str, str], transcripts: Path | None,
                 progress: Progress | None = None, timeout: float = 120, settle: float = 20,
                 steps: list[str] | None = None, done_earlier: set[str] | None = None,
                 keep_going_checks: bool = False, database: str | None = None, go_on: bool = False,
                 volatile: Volatile = (), prestart: bool = False, variants: int = 1,
                 group_database: Callable[[int], str] | None = None,
                 versions: dict[str, str] | None = None, groups: set[int] | None = None) -> None:
        self.groups = groups
        """Example pages: run only these example groups (and the page's prelude actions); None: all."""
        self.group_database = group_database
        """Example pages: a fresh database for an example group (its number) after the first one."""
        self._group: int | None = None
        """The example group whose database ``self.database`` is."""
        self.versions = versions
        """Installed versions (``postgresql``, extensions by name): an action whose version note needs a
        newer one is blocked (None: not known, nothing blocked for it)."""
        self._blocked_at: dict[int | None, str] = {}
        """Example pages: example group -> the blocked action it holds (``line N: why``); a failure after
        it in its group is blocked too (what it needs was not made)."""
        self._stopped_groups: dict[int | None, str] = {}
        """Example groups stopped by an unexpected error (the page goes on with the next group)."""
        self.lost_server: str | None = None
        """Set when the server went away under the page: ``crashed`` (a statement of this page
        crashed it) or ``lost`` (another's crash, or recovery: the page may run again)."""
        self.keep_going_checks = keep_going_checks
        self.database = database
        """The database of sessions whose ``database`` is null (an example page's own, chosen by the runner)."""
        self.go_on = go_on
        """A differing result fails its check and the run goes on (example pages)."""
        self.volatile = volatile
        self._writers: set[str] = set()
        """Hosts that ran something other than a read-only statement (their writes may be in flight)."""
        self._hard_failure = False
        self.prestart = prestart
        """Start every host's shell at once when the run begins (speed), not at its first command."""
        self.variants = variants
        """Per-host variants of one block (:func:`variant_groups`) run this many at once (speed; 1: in
        the guide's order)."""
        self._start_errors: dict[str, SessionError] = {}
        self.last_results: list[StepResult] = []
        self.plan = plan
        self.graph = plan.graph
        self._hosts = {h.id: h for h in self.graph.hosts}
        self.transport = transport
        self.secrets = secrets
        self.mask = Masker(list(secrets.values()) + self.graph.secrets())
        self.transcripts = transcripts
        self.progress = progress or (lambda *_: None)
        self.timeout = timeout
        self.settle = settle
        self.selected = steps
        self.done_earlier = done_earlier or set()
        self.shells: dict[str, HostShell] = {}
        self.observer: Observer | None = None
        self.interrupted: Interrupted | None = None
        """Set when a signal ended the run early (the result then has status ``interrupted``)."""

    # -- hosts ----------------------------------------------------------------------------
    def shell(self, host: str) -> HostShell:
        if host in self._start_errors:
            raise self._start_errors.pop(host)
        if host not in self.shells:
            path = self.transcripts / f"{host}.log" if self.transcripts else None
            sh = HostShell(host, self.transport.shell_argv(host), Transcript(path, self.mask), timeout=self.timeout,
                           login=self.transport.login(host), namespaces=self.transport.namespaces(host))
            sh.start()
            self.shells[host] = sh
        return self.shells[host]

    def close(self) -> None:
        fast = self.interrupted is not None

        def one(sh: HostShell) -> None:
            if fast:
                sh.transcript.write("note", f"interrupted ({self.interrupted}): the session was ended")
                sh.kill()
            else:
                sh.close()
            sh.transcript.close()

        pool = ThreadPoolExecutor(max_workers=max(1, len(self.shells)))
        try:
            list(pool.map(one, self.shells.values()))
        except Interrupted:
            self._kill_shells()  # the closing threads' sessions end now, so they return at once
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        if self.observer is not None:
            self.observer.close()
        stop = getattr(self.transport, "stop", None)
        if stop is not None:
            stop()

    def _start_shells(self) -> None:
        """Start the shells of every host the selected steps use, in parallel."""
        hosts = sorted({h for step in self.graph.steps if self.selected is None or step.id in self.selected
                        for a in step.actions for h in a.targets})

        def one(host: str) -> None:
            try:
                self.shell(host)
            except SessionError as exc:  # reported by the first action on that host
                self._start_errors[host] = exc

        if hosts:
            pool = ThreadPoolExecutor(max_workers=len(hosts))
            try:
                list(pool.map(one, hosts))
            finally:
                pool.shutdown(wait=False, cancel_futures=True)

    def _end_now(self) -> None:
        """What ``close`` leaves undone when a signal cuts it short: every session killed, every
        transcript closed, the observer's connections closed."""
        for sh in list(self.shells.values()):
            with contextlib.suppress(Exception):
                sh.kill()
            with contextlib.suppress(Exception):
                sh.transcript.close()
        if self.observer is not None:
            with contextlib.suppress(Exception):
                self.observer.close()
        stop = getattr(self.transport, "stop", None)
        if stop is not None:
            with contextlib.suppress(Exception):
                stop()

    def _kill_shells(self) -> None:
        for sh in list(self.shells.values()):
            sh.kill()

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> RunResult:
        started = time.time()
        t0 = time.monotonic()
        sockets = self.transport.sockets()
        if sockets:
            self.observer = Observer(sockets, self.transport.observer_user(), self.transport.observer_roots())
        results: list[StepResult] = []
        self.last_results = results
        stop: str | None = None
        try:
            if self.prestart:
                self._start_shells()
            for step in self.graph.steps:
                sr = StepResult(step.id, step.number, step.title, step.tag, step.span.line, NOT_RUN)
                results.append(sr)
                if self.selected is not None and step.id not in self.selected:
                    sr.reason = "not selected"
                    sr.status = Status.SKIPPED
                    continue
                if step.id in self.done_earlier:
                    sr.status = DONE_EARLIER
                    sr.reason = "completed by an earlier run on these hosts (nothing changed)"
                    self.progress("step-end", sr, None)
                    continue
                if stop is not None:
                    sr.reason = stop
                    self._not_run(step, sr)
                    continue
                self.progress("step-start", sr, None)
                s0 = time.monotonic()
                self._hard_failure = False
                try:
                    self._run_step(step, sr)
                except Interrupted as exc:
                    self.interrupted = exc
                    sr.status = INTERRUPTED
                    sr.reason = f"interrupted by {exc}"
                    stop = f"not run: the run was interrupted by {exc}"
                sr.duration = time.monotonic() - s0
                self.progress("step-end", sr, None)
                if sr.status == FAILED and self._hard_failure:
                    stop = f"not run: step {step.id} failed"
                elif sr.status == BLOCKED and not self.go_on:
                    stop = f"not run: step {step.id} is blocked"
        except Interrupted as exc:  # between steps
            self.interrupted = exc
            stop = f"not run: the run was interrupted by {exc}"
            for sr in results:
                if sr.status == NOT_RUN and not sr.actions and sr.reason == "":
                    sr.reason = stop
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

    def _not_run(self, step: Step, sr: StepResult) -> None:
        for action in step.actions:
            for host in action.targets:
                sr.actions.append(ActionResult(action.id, step.id, action.kind, host, action.span.line, NOT_RUN))

    def _run_step(self, step: Step, sr: StepResult) -> None:
        sr.status = PASSED
        failed_or_blocked = False
        groups = (variant_groups(step.actions, self._hosts) if self.variants > 1 else [[a] for a in step.actions])
        for group in groups:
            if self.groups is not None and group[0].example_group not in (None, *self.groups):
                continue  # another runner's example group (runner/site_groups.py)
            stopped = self._stopped_groups.get(group[0].example_group) if self.go_on else None
            if failed_or_blocked or stopped is not None:
                for action in group:
                    for host in action.targets:
                        sr.actions.append(ActionResult(action.id, step.id, action.kind, host, action.span.line,
                                                       NOT_RUN, message=stopped or ""))
                continue
            if len(group) > 1:  # per-host variants of one block: on their hosts at once (speed)
                ars = self._at_once([(a, a.targets[0]) for a in group], step, min(len(group), self.variants))
            elif len(group[0].targets) > 1 and not names_other_host(group[0], group[0].targets, self._hosts):
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
                if self._hard_failure and self.go_on and example is not None and self.lost_server is None:
                    # an example page's error stops its example group only: the next one starts afresh
                    line = next(a.line for a in ars if a.status == FAILED)
                    self._stopped_groups[example] = f"not run: line {line} of its example failed"
                    self._hard_failure = False
                failed_or_blocked = self._hard_failure
            elif BLOCKED in st:
                sr.status = BLOCKED if sr.status != FAILED else FAILED
                sr.reason = sr.reason or next(a.message for a in ars if a.status == BLOCKED)
                failed_or_blocked = not self.go_on  # an example page goes on: other examples do not need it

    def _at_once(self, work: list[tuple[Action, str]], step: Step, width: int) -> list[ActionResult]:
        """Run each (action, host) of ``work`` at the same time, ``width`` at most; results in order."""
        pool = ThreadPoolExecutor(max_workers=width)
        try:
            ars = list(pool.map(lambda w: self._run_action(step, w[0], w[1]), work))
        except Interrupted:
            self._kill_shells()  # the other threads' sessions end now, so they return at once
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return ars

    def _run_action(self, step: Step, action: Action, host: str) -> ActionResult:
        ar = ActionResult(action.id, step.id, action.kind, host, action.span.line, PASSED)
        self.progress("action-start", None, ar)
        t0 = time.monotonic()
        why = requirement_block(action, self.versions)
        if why is not None:
            ar.status = BLOCKED
            ar.message = why
            self._blocked_at.setdefault(action.example_group, f"line {action.span.line}: {why}")
            return ar
        try:
            if action.kind != "sql":
                self._writers.add(host)
            if action.kind in ("shell", "console"):
                self._commands(action, host, ar)
            elif action.kind == "sql":
                self._sql(action, host, ar)
            elif action.kind in ("file_edit", "file_write"):
                self._file(action, host, ar)
        except SessionError as exc:
            ar.status = FAILED
            ar.message = self.mask(exc.message)
            ar.details = self.mask(exc.last_output)
        except Exception as exc:  # not a session's fault (a helper's timeout, a pattern's, a bug): this action fails
            ar.status = FAILED
            ar.message = self.mask(fault_message(exc))
        if ar.status == FAILED and self.go_on and action.example_group in self._blocked_at:
            self._after_blocked(ar, self._blocked_at[action.example_group])
        if ar.status == BLOCKED and ar.message and self.go_on:
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
        failed = [c for c in ar.checks if c.status == FAILED]
        ar.details = "\n".join(x for x in (ar.message, ar.details) if x)
        ar.checks = [c for c in ar.checks if c.status != FAILED]
        lines = ", ".join(str(c.line) for c in failed)
        ar.message = (f"after the blocked example ({blocked})" + (f"; checks at line {lines} not run" if lines else ""))
        ar.status = BLOCKED

    # -- shell and console ------------------------------------------------------------------
    def _answer(self, cmd: Command) -> list[tuple[str, str]]:
        out = []
        for turn in cmd.dialog:
            if turn.answer.var is not None:
                value = self.secrets.get(turn.answer.var)
                if value is None:
                    var = self.graph.variable(turn.answer.var)
                    value = var.value if var else ""
            else:
                value = turn.answer.literal or ""
            out.append((turn.prompt, value))
        return out

    def _commands(self, action: Action, host: str, ar: ActionResult) -> None:
        sh = self.shell(host)
        if sh.psql_session is not None:
            sh.close_psql()
        for i, cmd in enumerate(action.commands):
            text, sub = self.plan.command_text(action.id, i, cmd.text)
            if sub is not None:
                ar.substitutions.append({"line": str(cmd.span.line), "kind": sub.kind, "command": self.mask(cmd.text),
                                         "reason": sub.reason, **({"with": self.mask(text)} if text else {})})
                if sub.kind == SubstitutionKind.BLOCK:
                    ar.status = BLOCKED
                    ar.message = f"{sub.reason} (to lift: {sub.lift})"
                    return
            if text is None:
                continue
            if cmd.root:  # a root prompt's psql is psql run by root (sudo), not through a shell string
                text = "sudo -H " + text if cmd.opens_session else as_root(text)
            if cmd.opens_session:
                sh.open_psql(f"{cmd.opens_session}@{host}", text, timeout=self.timeout)
                continue
            reload = re.search(r"\bsystemctl\s+reload\b", text) is not None
            before_load = self.observer.conf_load_time(host) if reload and self.observer else None
            res = sh.run(text, self._answer(cmd), timeout=self.timeout)
            if res.status != 0:
                ar.status = FAILED
                ar.message = f"line {cmd.span.line}: command exited with status {res.status}: {self.mask(text)}"
                ar.details = self.mask(res.output[-1000:])
                return
            if reload and self.observer:
                note = self.observer.wait_reloaded(host, before_load)
                if note:
                    ar.notes.append(note)
            if cmd.output and sub is not None and not sub.same_output:
                ar.notes.append(f"line {cmd.span.line}: output not compared: the command was substituted")
            elif res.dropped and self._over_cap(ar, cmd.span.line, res.dropped, checked=bool(cmd.output)):
                return
            elif cmd.output:
                cmp = compare_console(cmd.output, res.output, self.volatile)
                check = CheckResult(cmd.span.line, self.mask(text), CheckStatus.PASSED, cmd.output,
                                    [self.mask(x) for x in res.output.splitlines()], cmp.problems, cmp.volatile)
                if not cmp.ok:
                    check.status = CheckStatus.FAILED
                    ar.status = FAILED
                    ar.message = f"line {cmd.span.line}: output differs: " + "; ".join(cmp.problems)
                elif cmp.volatile:
                    check.status = CheckStatus.VOLATILE
                ar.checks.append(check)
                if not cmp.ok:
                    return

    @staticmethod
    def _over_cap(ar: ActionResult, line: int, dropped: int, *, checked: bool) -> bool:
        """Output over the cap (runner/capture.py): a check of it fails (its middle is gone), an
        unchecked one passes with a note. True when the action failed."""
        if not checked:
            ar.notes.append(f"line {line}: {cap_note(dropped)} (not checked)")
            return False
        ar.soft = False
        ar.status = FAILED
        ar.message = f"line {line}: {cap_note(dropped)}: not compared with the guide's output"
        return True

    # -- SQL --------------------------------------------------------------------------------
    def _ensure_session(self, action: Action, host: str) -> HostShell:
        sh = self.shell(host)
        sid = action.sessions.get(host)
        session = self.graph.session(sid) if sid else None
        fresh = not (session and session.database) and self._switch_group(action, sh)
        if sid is not None and sh.psql_session == sid:
            return sh
        database = session.database if session and session.database else (self.database or "")
        user = session.user if session else None
        command = "psql " + shlex.quote(database) if database else "psql"
        if user and user not in ("${USER}",) and not user.startswith("$"):
            command = f"sudo -u {shlex.quote(user)} -H " + command
        if sh.psql_session is not None:
            sh.close_psql()
        try:
            sh.open_psql(sid or f"inferred@{host}", command, timeout=self.timeout)
        except SessionError as exc:
            if lost_connection(exc.message + exc.last_output):
                self.lost_server = self.lost_server or "lost"
            raise
        ar_note = "inferred" if session and session.inferred else "reopened"
        sh.transcript.write("note", f"psql session {sid} ({ar_note})")
        if fresh:
            self._page_prelude(sh)
        return sh

    def _switch_group(self, action: Action, sh: HostShell) -> bool:
        """An action of another example group than the database's: a fresh database for it (the
        first group uses the page's own). True when the database changed."""
        if action.example_group is None or action.example_group == self._group:
            return False
        first = self._group is None
        self._group = action.example_group
        if first or self.group_database is None:
            return False
        self.database = self.group_database(action.example_group)
        sh.transcript.write("note", f"example group {action.example_group}: database {self.database}")
        if sh.psql_session is not None:
            sh.close_psql()
        return True

    def _page_prelude(self, sh: HostShell) -> None:
        """In an example group's fresh database: the page's own prelude first (the leading blocks
        that only prepare the database, ``example_group`` None), as in the page's first database."""
        first = next((a for a in self.graph.actions() if a.example_group is not None), None)
        for action in self.graph.actions():
            if first is None or action is first:
                break
            if action.kind != "sql" or action.example_group is not None:
                continue
            for st in action.statements:
                res = sh.sql(st.sql, timeout=self.timeout)
                if res.error:
                    raise SessionError(f"line {st.span.line}: the page's prelude failed in the example's "
                                       f"database: {' '.join(res.output.split())[:300]}", res.output)

    def _sql(self, action: Action, host: str, ar: ActionResult) -> None:
        sh = self._ensure_session(action, host)
        if self.observer is not None:
            note = self.observer.wait_replayed(host)
            if note:
                ar.notes.append(note)
        for st in action.statements:
            if st.sql.startswith("\\q"):
                sh.close_psql()
                continue
            read_only = READ_ONLY_RE.match(st.sql) is not None
            # another host's write may not have arrived yet (replication, subscriptions): look again
            settle = self.settle if read_only and self._writers - {host} else 0
            deadline = time.monotonic() + settle
            tries = 0
            while True:
                tries += 1
                try:
                    res = sh.sql(st.sql, timeout=self.timeout)
                except Unterminated as exc:
                    ar.soft = False
                    ar.status = FAILED
                    ar.message = f"line {st.span.line}: {exc.message}"
                    ar.details = self.mask(exc.last_output)
                    return
                crash = server_gone(res.output)
                if crash is not None:
                    self.lost_server = self.lost_server or crash
                    ar.soft = False
                    ar.status = FAILED
                    ar.message = f"line {st.span.line}: " + ("server closed the connection unexpectedly"
                                                             if crash == "crashed" else self.mask(
                                                                 " ".join(res.output.split())[:300]))
                    ar.details = self.mask(res.output[-1000:])
                    return
                out = parse_output(res.output.split("\n"))
                if res.sqlstate and out.error is not None:
                    out.error.setdefault("sqlstate", res.sqlstate)
                if not read_only:
                    self._writers.add(host)
                if res.dropped and self._over_cap(ar, st.span.line, res.dropped, checked=st.expected is not None):
                    return
                if st.expected is None:
                    if res.error:
                        ar.soft = False
                        ar.status = FAILED
                        ar.message = f"line {st.span.line}: " + self.mask(" ".join(res.output.split())[:500])
                        return
                    break
                cmp = compare_output(st.expected, out, self.volatile, ordered=has_order_by(st.sql, out.columns))
                if (not cmp.ok and read_only and st.expected.kind != "error"
                        and time.monotonic() < deadline):
                    time.sleep(0.2)
                    continue
                exp = st.expected
                check = CheckResult(st.span.line, self.mask(st.sql), CheckStatus.PASSED, list(exp.lines),
                                    [self.mask(x) for x in res.output.rstrip("\n").split("\n")], cmp.problems,
                                    cmp.volatile, tries, (exp.span.line, exp.span.end_line),
                                    (st.span.line, st.span.end_line))
                if not cmp.ok:
                    check.status = CheckStatus.FAILED
                    ar.checks.append(check)
                    if self.keep_going_checks:
                        ar.notes.append(f"line {st.span.line}: result differs (kept going to update it)")
                        break
                    message = (f"line {st.span.line}: result differs from the guide (expected at line "
                               f"{exp.span.line}): " + "; ".join(cmp.problems))
                    if self.go_on and not (res.error and exp.kind != "error"):
                        # a stale example: its check fails, the page goes on (only an unexpected error stops it)
                        if ar.status != FAILED:
                            ar.status = FAILED
                            ar.message = message
                            ar.soft = True
                        break
                    ar.status = FAILED
                    ar.message = message
                    ar.soft = False
                    return
                if cmp.volatile:
                    check.status = CheckStatus.VOLATILE
                ar.checks.append(check)
                break

    # -- files ------------------------------------------------------------------------------
    def _file(self, action: Action, host: str, ar: ActionResult) -> None:
        path = action.path or ""
        if is_server_path(path):  # the guide names no path: the host's server says (runner/planning/server_paths.py)
            found, why = server_path(self.transport, host, path, self.timeout)
            if found is None:
                ar.status, ar.message = FAILED, f"line {action.span.line}: {why}"
                return
            ar.substitutions.append({"line": str(action.span.line), "kind": "replace", "command": path,
                                     "reason": why, "with": found})
            path = found
        if action.id in self.plan.paths:
            old, sub = self.plan.paths[action.id]
            line = action.path_span.line if action.path_span else action.span.line
            ar.substitutions.append({"line": str(line), "kind": "replace", "command": old, "reason": sub.reason,
                                     "with": path})
        read = self.transport.run_root(host, ["cat", "--", path], timeout=self.timeout)
        exists = read.returncode == 0
        if action.kind == "file_edit" and not exists:
            ar.status = FAILED
            ar.message = f"line {action.span.line}: {path} does not exist: " + read.stderr.decode(errors="replace")
            return
        content = read.stdout.decode("utf-8", errors="surrogateescape") if exists else ""
        if action.kind == "file_edit":
            result = apply_file_edit(content, action.edit, action.before, action.after or "", path=path,
                                     lang=action.lang)
            if result.status == EditStatus.BEFORE_MISSING:
                ar.status = FAILED
                ar.message = f"line {action.before_span.line if action.before_span else action.span.line}: " \
                             f"{result.message}"
                ar.details = result.diff
                return
            if result.status == EditStatus.ALREADY_APPLIED:
                ar.status = ALREADY
                ar.message = result.message
                return
            new = result.content
            ar.details = self.mask(result.diff)
        else:
            new = action.after or ""
            if exists and content == new:
                ar.status = ALREADY
                ar.message = f"{path}: already has this content"
                return
        self._write(host, path, new, exists, ar)

    def _write(self, host: str, path: str, content: str, exists: bool, ar: ActionResult) -> None:
        q = shlex.quote(path)
        tmp = shlex.quote(path + ".runbook-tmp")
        if exists:
            script = (f"set -e; cp -p {q} {q}.runbook-bak; cat > {tmp}; chown --reference={q} {tmp}; "
                      f"chmod --reference={q} {tmp}; mv -f {tmp} {q}")
        else:
            d = shlex.quote(str(Path(path).parent))
            script = (f"set -e; cat > {tmp}; chown --reference={d} {tmp}; chmod 644 {tmp}; mv -f {tmp} {q}")
        res = self.transport.run_root(host, ["bash", "-c", script], content.encode("utf-8", errors="surrogateescape"),
                                      timeout=self.timeout)
        if res.returncode != 0:
            self.transport.run_root(host, ["rm", "-f", path + ".runbook-tmp"], timeout=self.timeout)
            ar.status = FAILED
            ar.message = f"{path}: cannot write: {res.stderr.decode(errors='replace').strip()}"
            return
        ar.message = f"{path}: written" + (f" (backup {path}.runbook-bak)" if exists else "")
        sh = self.shells.get(host)
        if sh is not None:
            sh.transcript.write("note", ar.message)
            if ar.details:
                sh.transcript.write("out", ar.details)
