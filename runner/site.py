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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import regex

from runbook.errors import EnvironmentLimit, RunbookError, UsageError
from runbook.load import load_graph
from runbook.model import Graph
from runbook.site_pages import (
    Page,
    SiteSettings,
    _jekyll_exclude,
    discover,
    find_site_root,
    load_site_settings,
    page_shape,
)

from .example_server import SERVER_ADDRESS, SERVER_HOST, EarlyServer, ExampleServer  # noqa: F401 (re-exported)
from .planning.addresses import unsafe_addresses
from .planning.environment import extension_block, installed_pg_versions
from .planning.inventory import default_inventory
from .planning.model import Plan
from .planning.plan import build_plan
from .reports.progress import PageProgress
from .running.compare import Volatile
from .running.results import RunResult
from .running.signals import Interrupted, SignalGuard
from .running.steps import Runner, RunnerOptions
from .site_groups import run_groups
from .site_howto import clean_up, snapshot, uses_running_server
from .site_shells import ExampleRunner, SharedHostTransport
from .status import PageStatus, SiteStatus
from .volatility import merge_second_run

PASSED, FAILED, BLOCKED, INTERRUPTED = PageStatus.PASSED, PageStatus.FAILED, PageStatus.BLOCKED, PageStatus.INTERRUPTED
SKIPPED, NOT_EXECUTABLE, INVALID = PageStatus.SKIPPED, PageStatus.NOT_EXECUTABLE, PageStatus.INVALID
@dataclass
class SiteOptions:
    """How to run a site (from the command line)."""

    jobs: int = 1
    """Example pages run at the same time."""
    timeout: float = 120
    settle: float = 20
    transcripts: Path = Path("runbook-out")
    lang: str | None = None
    update_expected: bool = False
    site_config: Path | None = None
    """``--site-config``: the _config.yml to read (else the one at the site root)."""
    speed: bool = True
    second_run: bool = True
    """Run an example page whose checks differ a second time, in a fresh database: what differs
    between the two runs is volatile (docs/site.md)."""


@dataclass
class PageResult:
    """What became of one page."""

    page: str
    """The page's path, as found."""
    rel: str
    """Its path in its site."""
    site: str
    shape: str
    """``guide``, ``untagged-guide``, ``examples``, ``not-executable`` (``""``: not read)."""
    status: PageStatus
    """``passed``, ``failed``, ``blocked``, ``not-executable``, ``skipped``, ``invalid``."""
    reason: str = ""
    duration: float = 0.0
    database: str | None = None
    """The example page's own database."""
    result: RunResult | None = None
    findings: list[str] = field(default_factory=list)
    """Why an invalid page cannot be read (``file:line: rule: message``)."""
    rewritten: int = 0
    """Expected outputs rewritten (``--update-expected``)."""
    started: float | None = None
    """When the page began to run (``time.time()``); None for a page that did not run."""


@dataclass
class SiteResult:
    sites: list[str]
    status: SiteStatus
    started: float
    duration: float
    pages: list[PageResult]
    server_start: float = 0.0
    """Seconds spent starting the shared example server (sandbox host, cluster, template)."""
    interrupted: int | None = None
    """The signal that ended the run early (its pages not run are ``interrupted``)."""


GuideRunner = Callable[[Path, Graph], RunResult | None]
"""Runs one guide on its own sandbox (the ``run`` command's path for a single guide)."""
Rewriter = Callable[[Path, Graph, RunResult], int]
"""``--update-expected``: rewrites a page's differing expected output, returns how many."""


class _Lines:
    """One line per finished page (pages finish in any order when they run in parallel), with the
    run's overall progress: pages done, elapsed time, an estimate (:class:`runner.reports.progress.PageProgress`,
    a live line on a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.progress = PageProgress(total, stream)

    def started(self, pr_page: str) -> None:
        self.progress.page_started(pr_page)

    def page(self, pr: PageResult, *, timed: bool = True) -> None:
        checks = _check_count(pr)
        extra = f" · {checks} check(s)" if checks else ""
        why = f" - {pr.reason}" if pr.reason and pr.status != PASSED else ""
        self.progress.page_finished(pr.page, pr.status, extra + why, took=pr.duration, timed=timed)
        if self.progress.done == self.progress.total:
            self.progress.close()  # (a run that breaks off: ``runbook run`` closes it)


def _check_count(pr: PageResult) -> int:
    if pr.result is None:
        return 0
    return sum(len(a.checks) for s in pr.result.steps for a in s.actions)


@dataclass
class _Work:
    page: Page
    settings: SiteSettings
    site: str
    graph: Graph | None = None
    shape: str = ""


def read_page(page: Page, settings: SiteSettings, site: str, lang: str | None, pg_version: str | None
          ) -> tuple[_Work, PageResult | None]:
    """Read one page; a result at once when it is not to be run (skipped, invalid, blocked …)."""
    work = _Work(page, settings, site)
    pr = PageResult(str(page.path), page.rel, site, "", PASSED)  # (its status set where it is not run)
    if page.skip is not None:
        pr.status, pr.reason = SKIPPED, page.skip
        return work, pr
    try:
        # a page with nothing to run is a classification here, not an error; its Liquid is the site's
        work.graph = load_graph(page.path, lang, site_config=settings.jekyll, allow_not_executable=True)
    except RunbookError as exc:
        pr.status = INVALID
        pr.findings = [f.format() for f in exc.findings] or [exc.message]
        pr.reason = pr.findings[0]
        return work, pr
    work.shape = pr.shape = page_shape(work.graph)
    if work.shape == "not-executable":
        pr.status, pr.reason = NOT_EXECUTABLE, "no executable block"
        return work, pr
    for ext in settings.extensions_for(page.rel):
        block = extension_block(ext, pg_version)
        if block is not None:
            pr.status = BLOCKED
            pr.reason = f"{block.reason}; to lift: {block.lift}"
            return work, pr
    return work, None


def site_pages(targets: list[Path], site_config: Path | None = None
               ) -> tuple[list[tuple[Page, SiteSettings, str]], dict[Path, SiteSettings]]:
    """The pages under ``targets`` (folders or pages of sites; a folder inside with a configuration of
    its own is a site of its own), each with its site's settings and the target it was found from;
    and the settings of each site root."""
    settings_of: dict[Path, SiteSettings] = {}
    items: list[tuple[Page, SiteSettings, str]] = []
    queue = list(targets)
    while queue:
        target = queue.pop(0)
        root = find_site_root(target)
        if root not in settings_of:
            settings_of[root] = load_site_settings(root)
            if site_config is not None:
                settings_of[root].exclude = _jekyll_exclude(site_config)
        s = settings_of[root]
        if target.is_dir():
            nested: list[Path] = []
            found = discover(target, s, nested)
            queue[:0] = nested  # sites of their own inside this one, each with its own settings
            if not found and not nested:
                raise UsageError(f"{target}: no page (*.md) in this folder")
        else:
            rel = target.resolve().relative_to(root).as_posix()
            found = [Page(target, rel, s.skip_reason(rel))]
        items += [(p, s, str(target)) for p in found]
    return items, settings_of


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
        works, results = _read_pages(items, options.lang, pg_version, early)
    except BaseException:
        with guard.shield() if guard is not None else contextlib.nullcontext():
            early.abandon()
        raise
    lines = _Lines(len(items), stream)
    for pr in results.values():
        lines.page(pr, timed=False)
    examples = [i for i, w in enumerate(works) if i not in results and w.shape == "examples"]
    guides = [i for i, w in enumerate(works) if i not in results and w.shape != "examples"]
    howtos = [i for i in guides if uses_running_server(works[i].graph, works[i].shape)]
    guides = [i for i in guides if i not in howtos]
    server_start = 0.0
    interrupted: Interrupted | None = None
    if examples or howtos:
        if pg_version is None:
            raise EnvironmentLimit("PostgreSQL is not installed on this machine: run `bash scripts/setup`")
        sites = list(dict.fromkeys(works[i].settings.root for i in examples + howtos))
        early.begin()  # (begun at the first page read that needs it)
        server = early.server
        assert server is not None
        pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        try:
            with guard.shield() if guard is not None else contextlib.nullcontext():
                early.finish([settings_of[r] for r in sites])  # (a signal meanwhile: up, then stopped whole)
            if guard is not None and guard.signum is not None:
                raise Interrupted(guard.signum)
            server_start = early.took
            server.slots = threading.Semaphore(max(1, options.jobs))  # pages and example groups running at once
            server.prepare([(works[i].page, works[i].settings) for i in examples
                            if works[i].settings.root not in server.prelude_errors])
            futures = {i: pool.submit(_holding_a_slot, server, _run_example, works[i], server, options, rewrite)
                       for i in examples}
            lock = threading.Lock()  # how-to pages: one at a time (``createdb api`` on one server)
            futures |= {i: pool.submit(_holding_a_slot, server, _run_howto, works[i], server, options, lock)
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
                      interrupted.signum if interrupted else None)


def _read_pages(items: list[tuple[Page, SiteSettings, str]], lang: str | None, pg_version: str | None,
                early: EarlyServer) -> tuple[list[_Work], dict[int, PageResult]]:
    """Read every page (a result at once for those not to run); the example server's host starts
    coming up at the first page that will use it."""
    results: dict[int, PageResult] = {}
    works: list[_Work] = []
    for i, (page, s, site) in enumerate(items):
        work, pr = read_page(page, s, site, lang, pg_version)
        works.append(work)
        if pr is not None:
            results[i] = pr
        elif work.shape == "examples" or uses_running_server(work.graph, work.shape):
            early.begin()
    return works, results


def _run_guides(guides: list[int], works: list[_Work], results: dict[int, PageResult], lines: _Lines,
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
        if result is not None and result.status != PASSED:
            pr.reason = _first_problem(result)
        results[i] = pr
        lines.page(pr)
    return None


def site_status(pages: list[PageResult]) -> str:
    """Failed if a page failed, else invalid if a page cannot be read, else blocked, else passed."""
    statuses = {p.status for p in pages}
    for st in (FAILED, INVALID, BLOCKED):
        if st in statuses:
            return st
    return PASSED


def _first_problem(result: RunResult) -> str:
    for s in result.steps:
        for a in s.actions:
            if a.status in (FAILED, BLOCKED) and a.message:
                return a.message
        if s.status in (FAILED, BLOCKED) and s.reason:
            return s.reason
    return ""


def _run_example(work: _Work, server: ExampleServer, options: SiteOptions, rewrite: Rewriter | None) -> PageResult:
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
            pr.reason = _first_problem(result)
    except RunbookError as exc:
        pr.reason = exc.message
    finally:
        pr.duration = time.monotonic() - t0
    return pr


def _holding_a_slot(server: ExampleServer, run: Callable[..., PageResult], *args: object) -> PageResult:
    """A page runs holding one of the run's ``-j`` slots (example groups use the free ones)."""
    assert server.slots is not None
    with server.slots:
        return run(*args)


def _run_howto(work: _Work, server: ExampleServer, options: SiteOptions, lock: threading.Lock) -> PageResult:
    """A single-host how-to on the example server's host, where PostgreSQL is installed and running
    (:mod:`runner.site_howto`); what it created is dropped after it."""
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
            runner = Runner(plan, SharedHostTransport(server.sandbox), RunnerOptions(
                timeout=options.timeout, settle=options.settle, volatile=[
                    (v.name, regex.compile(v.pattern)) for v in work.settings.volatile],
                versions=server.versions.get(work.settings.root)), secrets={}, transcripts=transcripts)
            pr.result = runner.run()
            pr.status = PageStatus(pr.result.status)
            if pr.status != PASSED:
                pr.reason = _first_problem(pr.result)
        except RunbookError as exc:
            pr.reason = exc.message
        finally:
            clean_up(psql, before)
            pr.duration = time.monotonic() - t0
    return pr


def _run_surviving(work: _Work, server: ExampleServer, options: SiteOptions, plan: Plan, volatile: Volatile,
                   label: str = "") -> tuple[str, Runner, RunResult]:
    """:func:`_run_once`; where the server crashed under the page, once it has recovered, the page runs
    again in a fresh database (twice at most), unless its own statement crashed it (its failure)."""
    if label:
        database, runner, result = _run_once(work, server, options, plan, volatile, label)
    else:  # the page's example groups at the same time where the run has room (runner/site_groups.py)
        assert work.graph is not None
        database, runner, result = run_groups(
            lambda groups, lab: _run_once(work, server, options, plan, volatile, lab, groups), work.graph, server.slots)
    for again in range(2, 4):
        if runner.lost_server is None:
            break
        server.recover()
        if runner.lost_server == "crashed":
            break
        database, runner, result = _run_once(work, server, options, plan, volatile, f"{label or 'run'}-{again}")
    return database, runner, result


def _failed_checks(result: RunResult) -> bool:
    return any(c.status == FAILED for s in result.steps for a in s.actions for c in a.checks)


def _run_once(work: _Work, server: ExampleServer, options: SiteOptions, plan: Plan, volatile: Volatile,
              label: str = "", groups: set[int] | None = None) -> tuple[str, Runner, RunResult]:
    """One run of an example page in a database of its own (a fresh one for each example group, for
    a run again or the second run), once the server accepts connections; the runner has its result."""
    page, s = work.page, work.settings
    server.ready.wait()
    database = server.new_database(page, s, fresh=bool(label))
    transcripts = options.transcripts / Path(page.rel).with_suffix("")
    if label:
        transcripts /= label

    def group_database(n: int) -> str:
        return server.new_database(page, s, suffix=f"g{n}", fresh=True)

    sql_only = all(a.kind == "sql" for a in plan.graph.actions())  # its shell runs only psql: kept for others
    runner = ExampleRunner(plan, SharedHostTransport(server.sandbox, server.shell_argv()), RunnerOptions(
        timeout=options.timeout, settle=options.settle, database=database, go_on=True, volatile=volatile,
        keep_going_checks=options.update_expected, group_database=group_database,
        versions=server.versions.get(s.root), groups=groups), secrets={}, transcripts=transcripts,
        pool=server.shells if sql_only else None)
    return database, runner, runner.run()
