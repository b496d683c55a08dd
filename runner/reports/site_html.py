"""The index page of a site's HTML report (``runbook run SITE --html DIR``, ``runbook report merge``):
totals, the pages by status (failed first) with links to each page's report, the slowest pages.
Self-contained like the page reports (inline style, nothing fetched)."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from ..site.model import PageResult, SiteResult
from ..status import PageStatus
from .html import asset
from .site import check_totals, page_totals, slowest

_ORDER = (PageStatus.FAILED, PageStatus.INVALID, PageStatus.BLOCKED, PageStatus.PASSED, PageStatus.SKIPPED,
          PageStatus.NOT_EXECUTABLE)

_INDEX_CSS = """
.pages td, .pages th { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
.pages th { background: var(--head); }
.pages td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge.invalid { background: var(--fail); }
section.status { margin: 18px 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(folder: Path, rel: str, has_report: bool, page: str) -> str:
    if not has_report:
        return f"<code>{_e(page)}</code>"
    href = Path(rel).with_suffix(".html").as_posix()
    return f'<a href="{_e(href)}"><code>{_e(page)}</code></a>'


def _count(p: PageResult) -> str:
    return str(sum(len(a.checks) for s in p.result.steps for a in s.actions)) if p.result is not None else ""


def render_index(result: SiteResult, folder: Path) -> str:
    """The index page: one section per page status that occurs, failed first."""
    pages = page_totals(result)
    checks = check_totals(result)
    figures = "".join(f'<div class="figure"><div class="n {_e(k)}">{v}</div><div class="label">{_e(k)}</div></div>'
                      for k, v in pages.items() if v)
    figures += (f'<div class="figure"><div class="n">{sum(checks.values())}</div><div class="label">checks: '
                f'{checks["passed"]} passed, {checks["volatile"]} volatile, {checks["failed"]} failed</div></div>')
    parts = [f'<header><h1>{_e(", ".join(result.sites) or "site")} <span class="badge {_e(result.status)}" '
             f'data-status="{_e(result.status)}">{_e(result.status)}</span></h1>',
             f'<p class="meta">runbook site report · {len(result.pages)} pages · {result.duration:.1f}s</p></header>',
             f'<div class="figures">{figures}</div>']
    for status in _ORDER:
        group = [p for p in result.pages if p.status == status]
        if not group:
            continue
        rows = "".join(
            f'<tr data-status="{_e(p.status)}"><td>{_link(folder, p.rel, p.result is not None, p.page)}</td>'
            f'<td>{_e(p.shape)}</td><td class="num">{_count(p)}</td>'
            f'<td class="num">{f"{p.duration:.1f}s" if p.result else ""}</td><td>{_e(p.reason)}</td></tr>'
            for p in group)
        parts.append(f'<section class="status" id="{_e(status)}"><h2><span class="badge {_e(status)}">{_e(status)}'
                     f'</span> {len(group)}</h2><table class="pages"><thead><tr><th>page</th><th>shape</th>'
                     f'<th>checks</th><th>time</th><th>note</th></tr></thead><tbody>{rows}</tbody></table></section>')
    slow = slowest(result)
    if slow:
        items = "".join(f"<li>{_link(folder, p.rel, True, p.page)} {p.duration:.1f}s</li>" for p in slow)
        parts.append(f'<section class="slowest"><h2>slowest</h2><ol>{items}</ol></section>')
    parts.append("<footer>runbook</footer>")
    return Template(asset("report.html")).substitute(
        lang="en", title=_e(f"{', '.join(result.sites) or 'site'} — runbook site report"), status=_e(result.status),
        css=asset("report.css") + _INDEX_CSS, js="", body="\n".join(parts))
