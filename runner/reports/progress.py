"""Live progress of a run on stderr: per step and host (:class:`ProgressPrinter`, fed by the step
loop's events), and over many pages (:class:`PageProgress`: done/total, elapsed, an estimate)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import ClassVar, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from ..running.results import ActionResult, StepResult
from ..status import Status
from ..untrusted import safe_line
from .console import STYLE, quiet


class _Running:
    """What runs now, per host, with its elapsed time (re-rendered by rich.live on a terminal)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def __rich__(self) -> Text:
        now = time.monotonic()
        with self.lock:
            items = sorted(self.items.items(), key=lambda kv: kv[1])
        text = Text()
        for (action, host), started in items:
            text.append(safe_line(f"   > {action:<40} {host:<12} running {now - started:5.1f}s") + "\n", style="yellow")
        return text


class ProgressPrinter:
    """Live progress per step and host: on a terminal, coloured lines plus what is running now on
    each host (with its elapsed time); plain lines otherwise. While a :class:`PageProgress` is live
    (or given as ``overall``) it shares that live display: rich allows one at a time."""

    def __init__(self, stream: TextIO | None = None, total: int = 0, overall: PageProgress | None = None,
                 file: str = "") -> None:
        self.file = file
        """The guide's path: a step that does not pass names its place (``guide.md:120``)."""
        overall = overall or PageProgress.active
        self.overall = overall
        self.stream = overall.stream if overall is not None else stream or sys.stderr
        self.console = overall.console if overall is not None else Console(file=self.stream, highlight=False,
                                                                           soft_wrap=True)
        self.tty = self.console.is_terminal
        self.total = total
        self.running = _Running()
        self.live: Live | None = None
        if overall is not None and overall.live is not None:
            overall.inner = self.running
        elif self.tty and not quiet():
            self.live = Live(self.running, console=self.console, refresh_per_second=4, transient=True)
            self.live.start()

    def close(self) -> None:
        if self.overall is not None:
            self.overall.inner = None
        if self.live is not None:
            self.live.stop()
            self.live = None

    def __call__(self, event: str, step: StepResult | None, action: ActionResult | None) -> None:
        if event == "action-start" and action is not None:
            with self.running.lock:
                self.running.items[(action.action, action.host)] = time.monotonic()
            return
        if event == "action" and action is not None:
            with self.running.lock:
                self.running.items.pop((action.action, action.host), None)
        if step is None:
            return
        num = f"{step.number or '-':>2}/{self.total}" if self.total else f"{step.number or '-'}"
        if event == "step-start":
            self._line(f"[{num}] {step.id} ...", "bold")
        elif event == "action" and action is not None:
            extra = f"  {action.message}" if action.status != Status.PASSED and action.message else ""
            checks = f"  {len(action.checks)} check(s)" if action.checks else ""
            subs = f"  ({len(action.substitutions)} substituted)" if action.substitutions else ""
            self._line(f"        {action.action:<40} {action.host:<12} {action.status:<15}"
                       f"{action.duration:6.2f}s{checks}{subs}{extra}", STYLE.get(action.status, ""))
            if action.status == Status.FAILED and action.details:
                for ln in action.details.rstrip().splitlines()[-15:]:
                    self._line(f"          | {ln}", "red")
        elif event == "step-end":
            shown = self.file and step.status not in (Status.PASSED, Status.DONE_EARLIER)
            where = f" at {self.file}:{step.line}" if shown else ""
            self._line(f"[{num}] {step.id}: {step.status}{where} ({step.duration:.1f}s)"
                       + (f" - {step.reason}" if step.reason and step.status != Status.PASSED else ""),
                       STYLE.get(step.status, ""))

    def _line(self, text: str, style: str) -> None:
        if quiet():
            return
        text = safe_line(text)  # the guide's text and its commands' output: shown, never interpreted
        if self.tty:
            self.console.print(Text(text, style=style or ""))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()


def _clock_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PageProgress:
    """Overall progress of a run over many pages (the guides of a folder, the pages of a site):
    pages done out of the total, the elapsed time and an estimate of the time left.

    Any run loop can feed it::

        progress = PageProgress(total=len(pages))          # starts a live line on a terminal
        for page in pages:
            progress.page_started(name)
            printer = ProgressPrinter(total=len(graph.steps))  # optional: shares the live display
            ...
            printer.close()
            progress.page_finished(name, status)           # "passed", "failed", "blocked", ...
        progress.close()

    Pages that run in parallel skip ``page_started`` and give ``took=``; pages settled at once
    (skipped, unreadable) give ``timed=False`` so that they do not shorten the estimate.

    On a terminal the bottom line stays live (``pages 3/12 · elapsed 1m02s · about 3m05s left ·
    now: guide.md``) and each finished page prints a coloured line above it. Otherwise (a log) a
    plain line per finished page::

        [pages 3/12] guide.md: passed in 12.3s · elapsed 1m02s · about 3m05s left

    The estimate is the mean time of the finished pages times the pages left, less what the
    current page has taken so far.
    """

    active: ClassVar[PageProgress | None] = None
    """The page progress whose live display is on (a :class:`ProgressPrinter` made meanwhile shares it)."""

    def __init__(self, total: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 live: bool | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True)
        self.clock = clock
        self.t0 = clock()
        self.done = 0
        self.statuses: dict[str, int] = {}
        self.current: str | None = None
        self.page_t0 = self.t0
        self.finished_at = self.t0
        self.inner: RenderableType | None = None
        """What else the live display shows (a :class:`ProgressPrinter`'s running actions)."""
        self.timed = 0
        """Finished pages that took their time (not those skipped at once): the estimate's base."""
        self.lock = threading.Lock()
        self.live: Live | None = None
        if (self.console.is_terminal if live is None else live) and PageProgress.active is None and not quiet():
            self.live = Live(self, console=self.console, refresh_per_second=4, transient=True)
            self.live.start()
            PageProgress.active = self

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def estimate(self) -> float | None:
        """Seconds left: the mean time of the finished pages times the pages left, less the time the
        current page has run (None before the first page ends)."""
        if not self.timed:
            return None
        mean = (self.finished_at - self.t0) / self.timed
        return max(0.0, mean * (self.total - self.done) - (self.clock() - self.finished_at))

    def line(self) -> str:
        left = self.estimate()
        est = "estimate after the first page" if left is None else f"about {_clock_text(left)} left"
        return f"pages {self.done}/{self.total} · elapsed {_clock_text(self.elapsed())} · {est}"

    def __rich__(self) -> RenderableType:
        text = Text(safe_line(self.line() + (f" · now: {self.current}" if self.current else "")), style="bold")
        return Group(self.inner, text) if self.inner is not None else text

    def page_started(self, name: str) -> None:
        self.current = name
        self.page_t0 = self.clock()

    def page_finished(self, name: str, status: str, detail: str = "", *, took: float | None = None,
                      timed: bool = True) -> None:
        """A page ended (``detail`` is added to its line; ``took``: its time, when it was not started
        with :meth:`page_started`, e.g. pages run in parallel); ``timed=False`` for a page that took
        no time of its own (skipped, unreadable), which the estimate leaves out. Thread-safe."""
        with self.lock:
            now = self.clock()
            if took is None:
                took = now - self.page_t0 if self.current == name else 0.0
            self.done += 1
            if timed:
                self.timed += 1
                self.finished_at = now
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if self.current == name:
                self.current = None
            text = f"[pages {self.done}/{self.total}] {name}: {status} in {took:.1f}s · elapsed " \
                   f"{_clock_text(self.elapsed())}"
            left = self.estimate()
            if left is not None and self.done < self.total:
                text += f" · about {_clock_text(left)} left"
            text += detail
            if quiet():
                return
            text = safe_line(text)
            if self.live is not None:
                self.console.print(Text(text, style=STYLE.get(status) or ""))
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
            PageProgress.active = None
