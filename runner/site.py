"""Run a documentation site: every executable page, example pages on one shared server.

Example pages (single host, SQL only) share one sandbox host and one PostgreSQL server; each page
gets a database of its own, cloned from a template database that already holds the site's prelude
(or created empty with the prelude run in it), so no page sees another's tables. They run in
parallel (``jobs``). Guides (several hosts, shell steps) keep their own sandbox, one after the
other, as ``runbook run GUIDE.md`` runs them. Skipped pages, pages with nothing to run and pages
blocked by a missing extension are reported with their reason. Reading the site is
``runbook/site.py``; the report is ``runner/site_report.py``.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
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
from runbook.site import (
    Page,
    SiteSettings,
    discover,
    find_site_root,
    load_site_settings,
    page_shape,
)

from .execute import BLOCKED, FAILED, INTERRUPTED, PASSED, Interrupted, Runner, RunResult, SandboxTransport, SignalGuard
from .inventory import default_inventory
from .plan import build_plan, extension_block, installed_pg_versions, unsafe_addresses
from .report import PageProgress

SKIPPED, NOT_EXECUTABLE, INVALID = "skipped", "not-executable", "invalid"
SERVER_SANDBOX = "runbook-site"
"""The shared example server's sandbox (one host, ``server``)."""
SERVER_HOST = "server"
SERVER_ADDRESS = "127.0.0.250"
TEMPLATE_DB = "runbook_template"
_DONE = "__runbook_database_created__"
EXAMPLE_SPEED = ("fsync = off", "synchronous_commit = off", "full_page_writes = off")
"""Settings of the example server (reloadable; a page sees them only through SHOW): nothing on it
needs to survive a crash, and each page's CREATE DATABASE takes a third of the time."""


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
    status: str
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


@dataclass
class SiteResult:
    sites: list[str]
    status: str
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
    run's overall progress: pages done, elapsed time, an estimate (:class:`runner.report.PageProgress`,
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


class SharedHostTransport(SandboxTransport):
    """Every host of an example page is the shared server's host; no observer (nothing replicates)."""

    def shell_argv(self, host: str) -> list[str]:
        return self.sandbox.shell_argv(SERVER_HOST)

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return self.sandbox.exec_argv(SERVER_HOST, argv)

    def sockets(self) -> dict[str, Path]:
        return {}


class ExampleServer:
    """The one sandbox host and PostgreSQL server every example page of a run shares."""

    def __init__(self, settings: list[SiteSettings], pg_version: str, *, speed: bool = True) -> None:
        from .sandbox import Sandbox, SandboxHost

        self.settings = settings
        self.pg_version = pg_version
        self.sandbox = Sandbox(SERVER_SANDBOX, [SandboxHost(SERVER_HOST, SERVER_ADDRESS)], speed=speed)
        self.templates: dict[Path, str] = {}
        """Site root -> its template database (prelude in it)."""
        self.prelude_errors: dict[Path, str] = {}
        self._count = 0
        self._lock = threading.Lock()
        self._made: dict[Path, threading.Event] = {}
        self._results: dict[Path, tuple[str, str]] = {}
        self._creator: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._up = False
        self.create_timeout = 300.0
        """Seconds a page waits for its database (the queue of CREATE DATABASE)."""

    def _psql(self, database: str, sql: str, *, single: bool = False) -> subprocess.CompletedProcess[str]:
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database]
        argv += ["-c", sql] if single else ["-f", "-"]
        return subprocess.run(self.sandbox.exec_argv(SERVER_HOST, argv, user="postgres"), input=None if single else sql,
                              capture_output=True, text=True, timeout=300, check=False)

    def start(self) -> None:
        """Bring the server up in a sandbox of this run's own: ``runbook-site``, or ``runbook-site-N``
        while other runs use the first ones (each owned by its run; one left by a run that died is
        removed first).  On the loopback fallback the N-th uses 127.0.0.(251-N)."""
        from .sandbox import SandboxError, SandboxHost, cleanup_abandoned, up_unused

        netns = self.sandbox.network == "netns"
        try:
            cleanup_abandoned(self.sandbox.root)
            self.sandbox = up_unused(self.sandbox, fresh=True, hosts=lambda n: [
                SandboxHost(SERVER_HOST, SERVER_ADDRESS if netns else f"127.0.0.{251 - n}")])
            self._up = True
            self.sandbox.create_cluster(SERVER_HOST, self.pg_version)
        except SandboxError as exc:
            raise EnvironmentLimit(f"the example server: {exc}") from exc
        user = self.sandbox.user
        setup = [f"ALTER SYSTEM SET {setting};" for setting in EXAMPLE_SPEED] if self.sandbox.speed else []
        if setup:
            setup.append("SELECT pg_reload_conf();")
        setup.append(f"CREATE ROLE {_ident(user)} SUPERUSER LOGIN;")
        names = [f"{TEMPLATE_DB}_{i}" for i in range(len(self.settings))]
        setup += [f"CREATE DATABASE {name} OWNER {_ident(user)};" for name in names]
        cp = self._psql("postgres", "\n".join(setup) + "\n")  # one session: about 40 ms less per statement
        if cp.returncode != 0:
            raise EnvironmentLimit(f"the example server: cannot set it up: {cp.stderr.strip()}")
        for name, s in zip(names, self.settings, strict=True):
            self.templates[s.root] = name
            if s.prelude.strip() and s.prelude_template:
                error = self._prelude(name, s)
                if error:
                    self.prelude_errors[s.root] = error

    def _prelude(self, database: str, s: SiteSettings) -> str | None:
        """Run the site's prelude in ``database``; the error (with runbook.toml's line), or None."""
        cp = self._psql(database, s.prelude)
        if cp.returncode == 0:
            return None
        m = re.search(r"psql:<stdin>:(\d+): (.*)", cp.stderr)
        line = s.prelude_line + int(m.group(1)) - 1 if m else s.prelude_line
        text = m.group(2) if m else cp.stderr.strip()
        return f"{s.file or 'runbook.toml'}:{line}: the prelude failed: {text}"

    def _create_statement(self, page: Page, s: SiteSettings) -> tuple[str, str]:
        with self._lock:
            self._count += 1
            n = self._count
        slug = re.sub(r"[^a-z0-9]+", "_", page.rel.lower().removesuffix(".md")).strip("_")
        name = f"p{n:03d}_{slug}"[:63]
        template = self.templates[s.root] if s.prelude_template else "template1"
        return name, f"CREATE DATABASE {name} TEMPLATE {template} OWNER {_ident(self.sandbox.user)}"

    def prepare(self, pages: list[tuple[Page, SiteSettings]]) -> None:
        """Create the pages' databases ahead, in this order, over one psql session of a thread of
        its own, while earlier pages run (``new_database`` then waits for its page's)."""
        for page, _ in pages:
            self._made[page.path] = threading.Event()
        self._creator = threading.Thread(target=self._create_all, args=(pages,), daemon=True)
        self._creator.start()

    def _create_all(self, pages: list[tuple[Page, SiteSettings]]) -> None:
        argv = self.sandbox.exec_argv(SERVER_HOST, ["psql", "-X", "-q", "-d", "postgres"], user="postgres")
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for page, s in pages:
                name, sql = self._create_statement(page, s)
                error = ""
                try:
                    proc.stdin.write(f"{sql};\n\\echo {_DONE}\n")
                    proc.stdin.flush()
                    lines = []
                    for line in proc.stdout:
                        if line.strip() == _DONE:
                            break
                        lines.append(line.rstrip("\n"))
                    else:
                        lines.append("psql ended")
                    error = " ".join(x.strip() for x in lines if x.strip())
                except OSError as exc:
                    error = str(exc)
                self._results[page.path] = (name, error)
                self._made[page.path].set()
        finally:
            for page, _ in pages:  # pages not reached (psql ended): they say so instead of waiting
                if not self._made[page.path].is_set():
                    self._results[page.path] = ("", "the example server's psql session ended")
                    self._made[page.path].set()
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=30)

    def new_database(self, page: Page, s: SiteSettings) -> str:
        """A fresh database for ``page``: a clone of the site's template, or an empty one with the
        prelude run in it (``prelude_template = false``); the one ``prepare`` made, if it did."""
        made = self._made.get(page.path)
        if made is not None:
            if not made.wait(self.create_timeout):
                raise RunbookError(f"the example server did not create the database of {page.rel} within "
                                   f"{self.create_timeout:g}s")
            name, error = self._results[page.path]
        else:
            name, sql = self._create_statement(page, s)
            cp = self._psql("postgres", sql, single=True)
            error = cp.stderr.strip() if cp.returncode != 0 else ""
        if error:
            raise EnvironmentLimit(f"the example server: cannot create the database of {page.rel}: {error}")
        if s.prelude.strip() and not s.prelude_template:
            failed = self._prelude(name, s)
            if failed:
                raise RunbookError(failed)
        return name

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._creator is not None:
            self._creator.join(timeout=30)
        if self._up:  # (never another run's server: only the sandbox this one brought up)
            self.sandbox.down(fast=self.sandbox.speed)
            self._up = False


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
    pr = PageResult(str(page.path), page.rel, site, "", "")
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
                settings_of[root].exclude = _given_exclude(site_config)
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
    results: dict[int, PageResult] = {}
    works: list[_Work] = []
    for i, (page, s, site) in enumerate(items):
        work, pr = read_page(page, s, site, options.lang, pg_version)
        works.append(work)
        if pr is not None:
            results[i] = pr
    lines = _Lines(len(items), stream)
    for pr in results.values():
        lines.page(pr, timed=False)
    examples = [i for i, w in enumerate(works) if i not in results and w.shape == "examples"]
    guides = [i for i, w in enumerate(works) if i not in results and w.shape != "examples"]
    server_start = 0.0
    interrupted: Interrupted | None = None
    if examples:
        if pg_version is None:
            raise EnvironmentLimit("PostgreSQL is not installed on this machine: run `bash scripts/setup`")
        sites = list(dict.fromkeys(works[i].settings.root for i in examples))
        server = ExampleServer([settings_of[r] for r in sites], pg_version, speed=options.speed)
        s0 = time.monotonic()
        pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
        try:
            with guard.shield() if guard is not None else contextlib.nullcontext():
                server.start()  # (a signal meanwhile: the server is up, so that it is stopped whole)
            if guard is not None and guard.signum is not None:
                raise Interrupted(guard.signum)
            server_start = time.monotonic() - s0
            server.prepare([(works[i].page, works[i].settings) for i in examples
                            if works[i].settings.root not in server.prelude_errors])
            futures = {i: pool.submit(_run_example, works[i], server, options, rewrite) for i in examples}
            for i in examples:
                results[i] = futures[i].result()
                lines.page(results[i])
        except Interrupted as exc:
            interrupted = exc
            pool.shutdown(wait=False, cancel_futures=True)
        finally:
            with guard.shield() if guard is not None else contextlib.nullcontext():
                server.stop()  # (the pages still running lose their server: they end at once)
                pool.shutdown()
    for i in guides:
        w = works[i]
        assert w.graph is not None
        if interrupted is not None:
            break
        p0 = time.monotonic()
        lines.started(str(w.page.path))
        try:
            result = run_guide(w.page.path, w.graph)
        except Interrupted as exc:  # the guide's own report is written, its sandbox is down
            interrupted = exc
            break
        pr = PageResult(str(w.page.path), w.page.rel, w.site, w.shape, result.status if result else PASSED,
                        duration=time.monotonic() - p0, result=result)
        if result is not None and result.status != PASSED:
            pr.reason = _first_problem(result)
        results[i] = pr
        lines.page(pr)
    if interrupted is not None:
        for i, w in enumerate(works):
            if i not in results:
                results[i] = PageResult(str(w.page.path), w.page.rel, w.site, w.shape, INTERRUPTED,
                                        f"not run: the run was interrupted by {interrupted}")
    pages = [results[i] for i in range(len(items))]
    return SiteResult([str(t) for t in targets], INTERRUPTED if interrupted else site_status(pages), started,
                      time.monotonic() - t0, pages, server_start, interrupted.signum if interrupted else None)


def _given_exclude(config: Path) -> list[str]:
    from runbook.site import _jekyll_exclude

    return _jekyll_exclude(config)


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
    pr = PageResult(str(page.path), page.rel, work.site, work.shape, FAILED)
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
        pr.database = server.new_database(page, s)
        volatile = [(v.name, regex.compile(v.pattern)) for v in s.volatile]  # run with a time limit (compare.py)
        transcripts = options.transcripts / Path(page.rel).with_suffix("")
        runner = Runner(plan, SharedHostTransport(server.sandbox), secrets={}, transcripts=transcripts,
                        timeout=options.timeout, settle=options.settle, database=pr.database, go_on=True,
                        volatile=volatile, keep_going_checks=options.update_expected)
        result = runner.run()
        pr.result = result
        pr.status = result.status
        if options.update_expected and rewrite is not None:
            pr.rewritten = rewrite(page.path, graph, result)
        if pr.status != PASSED:
            pr.reason = _first_problem(result)
    except RunbookError as exc:
        pr.reason = exc.message
    finally:
        pr.duration = time.monotonic() - t0
    return pr
