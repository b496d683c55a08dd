"""Run a documentation site: every executable page, example pages on one shared server.

Example pages (single host, SQL only) share one sandbox host and one PostgreSQL server; each page
gets a database of its own, cloned from a template database that already holds the site's prelude
(or created empty with the prelude run in it), so no page sees another's tables. They run in
parallel (``jobs``). Guides (several hosts, shell steps) keep their own sandbox, one after the
other, as ``runbook run GUIDE.md`` runs them. Skipped pages, pages with nothing to run and pages
blocked by a missing extension are reported with their reason. Reading the site is
``runbook/site_pages.py``; the report is ``runner/reports/site.py``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from runbook.errors import EnvironmentLimit
from runbook.kinds import Shape
from runbook.site_pages import SiteSettings

from ..planning.environment import installed_pg_versions
from ..reports.progress import PageProgress
from ..running.signals import Interrupted, SignalGuard
from ..status import PageStatus, RunStatus, SiteStatus
from .examples import holding_a_slot, run_example, run_howto
from .howto import uses_running_server
from .model import (
    INTERRUPTED,
    PASSED,
    GuideRunner,
    PageResult,
    Rewriter,
    SiteOptions,
    SiteResult,
    check_count,
    first_problem,
    site_status,
)
from .pages import PageWork, read_pages, site_pages
from .server import EarlyServer


class _Lines:
    """One line per finished page (pages finish in any order when they run in parallel), with the
    run's overall progress: pages done, elapsed time, an estimate (:class:`runner.reports.progress.PageProgress`,
    a live line on a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.progress = PageProgress(total, stream)

    def started(self, pr_page: str) -> None:
        self.progress.page_started(pr_page)

    def page(self, pr: PageResult, *, timed: bool = True) -> None:
        checks = check_count(pr)
        extra = f" · {checks} check(s)" if checks else ""
        why = f" - {pr.reason}" if pr.reason and pr.status != PASSED else ""
        self.progress.page_finished(pr.page, pr.status, extra + why, took=pr.duration, timed=timed)
        if self.progress.done == self.progress.total:
            self.progress.close()  # (a run that breaks off: ``runbook run`` closes it)


def run_site(targets: list[Path], options: SiteOptions, run_guide: GuideRunner,
             rewrite: Rewriter | None = None, stream: TextIO | None = None,
             guard: SignalGuard | None = None) -> SiteResult:
    """Run every page under ``targets`` (folders or pages of sites). Under ``guard``, a signal stops
    the run: the example server is torn down, the pages not run are ``interrupted``, the result comes back."""
    started = time.time()
    t0 = time.monotonic()
    versions = installed_pg_versions()
    pg_version = versions[-1] if versions else None
    items, settings_of = site_pages(targets, options.site_config)
    early = EarlyServer(pg_version, options.speed)  # the server's host comes up while the pages are read
    try:
        works, results = read_pages(items, options.lang, pg_version, early)
    except BaseException:
        with guard.shield() if guard is not None else contextlib.nullcontext():
            early.abandon()
        raise
    lines = _Lines(len(items), stream)
    for pr in results.values():
        lines.page(pr, timed=False)
    examples = [i for i, w in enumerate(works) if i not in results and w.shape == Shape.EXAMPLES]
    guides = [i for i, w in enumerate(works) if i not in results and w.shape != Shape.EXAMPLES]
    howtos = [i for i in guides if uses_running_server(works[i].graph, works[i].shape)]
    guides = [i for i in guides if i not in howtos]
    server_start = 0.0
    interrupted: Interrupted | None = None
    events: list[dict[str, object]] = []
    if examples or howtos:
        if pg_version is None:
            raise EnvironmentLimit("PostgreSQL is not installed on this machine: run `bash scripts/setup`")
        sites = list(dict.fromkeys(works[i].settings.root for i in examples + howtos))
        server_start, interrupted = _run_on_server(early, [settings_of[r] for r in sites], examples, howtos, works,
                                                   options, rewrite, results, lines, guard)
        if early.server is not None:
            events = [{"kind": e.kind, "seconds": round(e.seconds, 3), "detail": e.detail} for e in early.server.events]
    if interrupted is None:
        interrupted = _run_guides(guides, works, results, lines, run_guide)
    if interrupted is not None:
        for i, w in enumerate(works):
            if i not in results:
                results[i] = PageResult(str(w.page.path), w.page.rel, w.site, w.shape, INTERRUPTED,
                                        f"not run: the run was interrupted by {interrupted}")
    pages = [results[i] for i in range(len(items))]
    status = SiteStatus(INTERRUPTED if interrupted else site_status(pages))
    return SiteResult([str(t) for t in targets], status, started, time.monotonic() - t0, pages, server_start,
                      interrupted.signum if interrupted else None, events)


def _run_on_server(early: EarlyServer, settings: list[SiteSettings], examples: list[int], howtos: list[int],
                   works: list[PageWork], options: SiteOptions, rewrite: Rewriter | None,
                   results: dict[int, PageResult], lines: _Lines, guard: SignalGuard | None
                   ) -> tuple[float, Interrupted | None]:
    """The example and how-to pages on the shared example server (its sites' templates made from
    ``settings``), ``-j`` at a time; the seconds the server took to start, and the signal that
    stopped the pages (the server is stopped whole either way)."""
    server_start = 0.0
    interrupted: Interrupted | None = None
    early.begin()  # (begun at the first page read that needs it)
    server = early.server
    assert server is not None
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
    try:
        with guard.shield() if guard is not None else contextlib.nullcontext():
            early.finish(settings)  # (a signal meanwhile: up, then stopped whole)
        if guard is not None and guard.signum is not None:
            raise Interrupted(guard.signum)
        server_start = early.took
        server.slots = threading.Semaphore(max(1, options.jobs))  # pages and example groups running at once
        server.prepare([(works[i].page, works[i].settings) for i in examples
                        if works[i].settings.root not in server.prelude_errors])
        futures = {i: pool.submit(holding_a_slot, server, run_example, works[i], server, options, rewrite)
                   for i in examples}
        lock = threading.Lock()  # how-to pages: one at a time (``createdb api`` on one server)
        futures |= {i: pool.submit(holding_a_slot, server, run_howto, works[i], server, options, lock)
                    for i in howtos}
        for i in sorted(examples + howtos):
            results[i] = futures[i].result()
            lines.page(results[i])
    except Interrupted as exc:
        interrupted = exc
        pool.shutdown(wait=False, cancel_futures=True)
    finally:
        with guard.shield() if guard is not None else contextlib.nullcontext():
            server.stop()  # (the pages still running lose their server: they end at once)
            pool.shutdown()
    return server_start, interrupted


def _run_guides(guides: list[int], works: list[PageWork], results: dict[int, PageResult], lines: _Lines,
                run_guide: GuideRunner) -> Interrupted | None:
    """The guide pages, one after the other, each on its own sandbox; the signal that stopped them."""
    for i in guides:
        w = works[i]
        assert w.graph is not None
        p0, begun = time.monotonic(), time.time()
        lines.started(str(w.page.path))
        try:
            result = run_guide(w.page.path, w.graph)
        except Interrupted as exc:  # the guide's own report is written, its sandbox is down
            results[i] = PageResult(str(w.page.path), w.page.rel, w.site, w.shape, INTERRUPTED,
                                    f"interrupted by {exc} while it ran", duration=time.monotonic() - p0,
                                    started=begun)
            return exc
        pr = PageResult(str(w.page.path), w.page.rel, w.site, w.shape, PageStatus(result.status) if result else PASSED,
                        duration=time.monotonic() - p0, result=result, started=begun)
        if result is not None and result.status != RunStatus.PASSED:
            pr.reason = first_problem(result)
        results[i] = pr
        lines.page(pr)
    return None
