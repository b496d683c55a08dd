"""A site's pages found and read before anything runs: the pages under the targets (a folder inside
with a configuration of its own is a site of its own), each read into its graph, or settled at once:
skipped, unreadable (invalid), not executable, blocked by a missing extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook.errors import RunbookError, UsageError
from runbook.kinds import Shape
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

from ..planning.environment import extension_block
from .howto import uses_running_server
from .model import (
    BLOCKED,
    INVALID,
    NOT_EXECUTABLE,
    PASSED,
    SKIPPED,
    PageResult,
)
from .server import EarlyServer


@dataclass
class PageWork:
    page: Page
    settings: SiteSettings
    site: str
    graph: Graph | None = None
    shape: str = ""


def read_page(page: Page, settings: SiteSettings, site: str, lang: str | None, pg_version: str | None
          ) -> tuple[PageWork, PageResult | None]:
    """Read one page; a result at once when it is not to be run (skipped, invalid, blocked …)."""
    work = PageWork(page, settings, site)
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
    if work.shape == Shape.NOT_EXECUTABLE:
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


def read_pages(items: list[tuple[Page, SiteSettings, str]], lang: str | None, pg_version: str | None,
                early: EarlyServer) -> tuple[list[PageWork], dict[int, PageResult]]:
    """Read every page (a result at once for those not to run); the example server's host starts
    coming up at the first page that will use it."""
    results: dict[int, PageResult] = {}
    works: list[PageWork] = []
    for i, (page, s, site) in enumerate(items):
        work, pr = read_page(page, s, site, lang, pg_version)
        works.append(work)
        if pr is not None:
            results[i] = pr
        elif work.shape == Shape.EXAMPLES or uses_running_server(work.graph, work.shape):
            early.begin()
    return works, results
