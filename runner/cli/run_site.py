"""``runbook run SITE/``: every page of a documentation site, its plan (``--plan``), its shard
(``--shard K/N``), its reports (one JSON and JUnit for the site, ``--html DIR``: an index page and a
report per page at the page's path in its site)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import EXIT_BLOCKED, EXIT_FAILED, EXIT_INVALID, EXIT_OK, UsageError
from runbook.kinds import Shape
from runbook.load import load_graph
from runbook.model import Graph
from runner.reports.annotations import append_summary, emit, enabled, formatted_commands, run_commands, summary_markdown
from runner.reports.console import progress
from runner.reports.progress import PageProgress
from runner.running.results import RunResult
from runner.running.signals import SignalGuard
from runner.status import SiteStatus

from ..outputs import write_atomic

if TYPE_CHECKING:
    from runner.site.model import SiteResult

SITE_STATUS = {SiteStatus.FAILED: EXIT_FAILED, SiteStatus.INVALID: EXIT_INVALID, SiteStatus.BLOCKED: EXIT_BLOCKED,
               SiteStatus.PASSED: EXIT_OK, SiteStatus.INTERRUPTED: EXIT_FAILED}


def plan_site(paths: list[Path], args: argparse.Namespace) -> int:
    """``--plan`` on folders: every page found, as a site run would classify it; the plan of each
    page that would run, the reason for each that would not.  Exit status 4 when a page is invalid."""
    from runner.planning.environment import installed_pg_versions
    from runner.site.model import INVALID
    from runner.site.pages import read_page, site_pages

    from .run import execute_guide

    for given, name in ((args.from_step, "--from"), (args.until, "--until"), (args.only, "--only"),
                        (args.json, "--json")):
        if given:
            raise UsageError(f"runbook run: {name} applies to one guide's plan, not to a site's")
    items, _ = site_pages(paths, args.site_config)
    versions = installed_pg_versions()
    invalid = False
    for page, settings, site in items:
        _, pr = read_page(page, settings, site, args.lang, versions[-1] if versions else None)
        if pr is not None:
            invalid = invalid or pr.status == INVALID
            sys.stdout.write(f"# {page.path}: {pr.status} ({pr.reason})\n\n")
            continue
        execute_guide(page.path, args, multiple=True)
        sys.stdout.write("\n")
    return EXIT_INVALID if invalid else EXIT_OK


def example_pages(paths: list[Path], args: argparse.Namespace) -> bool:
    """True when one of the pages given is an example page (it then runs as a page of its site)."""
    from runbook.site_pages import page_shape

    return any(p.suffix in (".md", ".json") and page_shape(load_graph(p, args.lang)) == Shape.EXAMPLES for p in paths)


def page_html(folder: Path, rel: str) -> Path:
    """Where a page's HTML report goes under ``--html DIR``: its path in its site, ``.html`` for ``.md``
    (``ja/stale.md`` -> ``DIR/ja/stale.html``), whatever the current folder."""
    return folder / Path(rel).with_suffix(".html")


def _rel_in_site(path: Path) -> str:
    from runbook.site_pages import find_site_root

    return path.resolve().relative_to(find_site_root(path)).as_posix()


def _targets(paths: list[Path], args: argparse.Namespace) -> list[Path]:
    """The pages this shard runs (``--shard K/N``), or the targets as given."""
    if not args.shard:
        return paths
    from runner.site.pages import site_pages
    from runner.site.shard import durations_from, parse_shard, shard_pages

    k, n = parse_shard(args.shard)
    items, _ = site_pages(paths, Path(args.site_config) if args.site_config else None)
    pages = [str(page.path) for page, _, _ in items]
    mine = shard_pages(pages, k, n, durations_from(Path(args.shard_by)) if args.shard_by else None)
    progress(f"runbook: shard {k}/{n}: {len(mine)} of {len(pages)} pages")
    return [Path(p) for p in mine]


def run_site(paths: list[Path], args: argparse.Namespace) -> int:
    """``runbook run DIR``: every page of the site(s) (runner/site/run.py), one report for all of them."""
    from runner.orchestrate import rewrite_expected
    from runner.site.model import SiteOptions
    from runner.site.run import run_site as run

    from .run import execute_guide

    for given, name in ((args.inventory, "--inventory"), (args.keep, "--keep"), (args.from_step, "--from"),
                        (args.until, "--until"), (args.only, "--only")):
        if given:
            raise UsageError(f"runbook run: {name} applies to one guide, not to a site (a folder or an example page)")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("runbook run: -j/--jobs must be 1 or more")
    options = SiteOptions(jobs=args.jobs or os.cpu_count() or 1, timeout=args.timeout, settle=args.settle,
                          transcripts=Path(args.transcripts), lang=args.lang, update_expected=args.update_expected,
                          site_config=Path(args.site_config) if args.site_config else None, speed=not args.no_speed)
    html = Path(args.html) if args.html else None
    targets = _targets(paths, args)

    def guide(path: Path, graph: Graph) -> RunResult | None:
        out = page_html(html, _rel_in_site(path)) if html else None
        return execute_guide(path, args, multiple=True, graph=graph, reports=False, html=out)[1]

    guard = SignalGuard(_site_signal, lambda sig: f"runbook: interrupted again ({signal.Signals(sig).name}): "
                        "stopping at once; the example server may be left up (`runbook sandbox down --name "
                        "runbook-site`); reports may be missing")
    with guard:
        try:
            if targets:
                result = run(targets, options, guide, rewrite=rewrite_expected if args.update_expected else None,
                             guard=guard)
            else:
                from runner.site.model import SiteResult

                result = SiteResult([], SiteStatus.PASSED, 0.0, 0.0, [])
        finally:
            if PageProgress.active is not None:  # the run broke off: the live line goes
                PageProgress.active.close()
        result.sites = [str(p) for p in paths]
        with guard.shield():
            status = site_reports(result, args, html)
    return 128 + result.interrupted if result.interrupted else status


def _site_signal(signum: int) -> str:
    return (f"runbook: interrupted by {signal.Signals(signum).name}: stopping the example server, writing the "
            "reports (interrupt again to stop at once)")


def site_reports(result: Any, args: argparse.Namespace, html: Path | None) -> int:
    """The site's summary (stdout), annotations, --html DIR, --json and --junit; its exit status."""
    from runner.reports.site import print_site_summary

    print_site_summary(result)
    if enabled():  # the guides' commands were printed as they ended; now the example and unreadable pages'
        emit([c for p in result.pages if p.shape == Shape.EXAMPLES and p.result is not None
              for c in run_commands(p.result)] + formatted_commands(f for p in result.pages for f in p.findings))
        append_summary(summary_markdown([p.result for p in result.pages if p.result is not None]))
    if html is not None:
        write_site_html(result, html, args)
    write_site_reports(result, args.json, args.junit, "JSON report")
    progress(f"runbook: transcripts in {args.transcripts}/")
    return SITE_STATUS[result.status]


def write_site_html(result: object, folder: Path, args: argparse.Namespace | None = None) -> None:
    """The example pages' HTML reports (the guides' were written as they ended) and the index page."""
    from runner.reports.html import render_html
    from runner.reports.site_html import render_index
    from runner.running.session import Masker
    from runner.site.model import SiteResult

    assert isinstance(result, SiteResult)
    lang = args.lang if args is not None else None
    transcripts = Path(args.transcripts) if args is not None else None
    for p in result.pages:
        if p.result is None or (p.shape != Shape.EXAMPLES and args is not None):
            continue
        try:
            graph = load_graph(Path(p.page), lang)
            page_lang, title, mask = graph.source.lang, graph.source.title, Masker(graph.secrets())
        except Exception:  # noqa: BLE001 - a merged report's page may be gone: its report still gets a page
            page_lang, title, mask = ("ja" if "/ja/" in f"/{p.rel}" else "en"), p.page, Masker([])
        write_atomic(page_html(folder, p.rel), render_html(
            p.result, lang=page_lang, title=title, mask=mask,
            transcripts=transcripts / Path(p.rel).with_suffix("") if transcripts is not None else None),
            mkdir=True)
    index = folder / "index.html"
    write_atomic(index, render_index(result, folder), mkdir=True)
    progress(f"runbook: HTML report in {index} ({sum(p.result is not None for p in result.pages)} page report(s) "
             f"under {folder}/)")


def write_site_reports(result: SiteResult, json_path: str | None, junit_path: str | None, what: str) -> None:
    """The site's JSON report (``what`` names it in the message) and JUnit XML, each written whole or
    not at all, and where each went said on stderr (``runbook run SITE`` and ``runbook report merge``)."""
    from runner.reports.site import site_to_json, site_to_junit

    if json_path:
        write_atomic(Path(json_path), json.dumps(site_to_json(result), indent=2, ensure_ascii=False) + "\n")
        progress(f"runbook: {what} in {json_path}")
    if junit_path:
        write_atomic(Path(junit_path), site_to_junit(result))
        progress(f"runbook: JUnit report in {junit_path}")

