"""Reports of a site run: a line per page, totals of checks, the slowest pages, JSON, JUnit XML.

JSON (schema: ``runbook schema site-report``) and JUnit cover the whole site: one JUnit test case
per check, named by page and line (``docs/site/stale.md:24``).
"""

from __future__ import annotations

import re
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any, TextIO

from rich.table import Table
from rich.text import Text

from ..running.results import FAILED, ActionResult, CheckResult
from ..site.model import PageResult, SiteResult
from ..status import CheckStatus, PageStatus, ServerEventKind, Status
from ..untrusted import safe_line
from .console import STYLE, add_columns, clip
from .console import console as results_console
from .guide import junit_text, to_json
from .schemas import checked, load_site_report_schema
from .summary import failure_lines

PAGE_STATUSES = (PageStatus.PASSED, PageStatus.FAILED, PageStatus.BLOCKED, PageStatus.INVALID,
                 PageStatus.NOT_EXECUTABLE, PageStatus.SKIPPED)
_LINE_RE = re.compile(r"^line (\d+): ")
SLOWEST = 5


def _checks(pr: PageResult) -> list[tuple[ActionResult, CheckResult]]:
    if pr.result is None:
        return []
    return [(a, c) for s in pr.result.steps for a in s.actions for c in a.checks]


def check_totals(result: SiteResult) -> dict[str, int]:
    """Checks by status (``passed``, ``volatile``, ``failed``) over every page."""
    counts = {"passed": 0, "volatile": 0, "failed": 0}  # and "updated" where --update-expected rewrote
    for pr in result.pages:
        for _, c in _checks(pr):
            counts[c.status] = counts.get(c.status, 0) + 1
    return counts


def page_totals(result: SiteResult) -> dict[str, int]:
    counts: dict[str, int] = {k: 0 for k in PAGE_STATUSES}
    for pr in result.pages:
        counts[pr.status] = counts.get(pr.status, 0) + 1
    return counts


def slowest(result: SiteResult, n: int = SLOWEST) -> list[PageResult]:
    ran = [p for p in result.pages if p.result is not None]
    return sorted(ran, key=lambda p: p.duration, reverse=True)[:n]


def _where(a: ActionResult) -> tuple[int, str]:
    """The line an action's failure names (its message says ``line N: …``), and the rest."""
    m = _LINE_RE.match(a.message)
    return (int(m.group(1)), a.message[m.end():]) if m else (a.line, a.message)


def _failures(pr: PageResult) -> list[str]:
    """``page:line: what differs`` for every failed check and every action that failed otherwise."""
    return failure_lines(pr.result, pr.page) if pr.result is not None else []


def print_site_summary(result: SiteResult, stream: TextIO | None = None) -> None:
    """The site's summary on stdout (results), as wide as the terminal (``COLUMNS``)."""
    console = results_console(stream or sys.stdout)
    table = Table(title=Text(safe_line(f"site {', '.join(result.sites)}: {result.status.upper()} "
                                       f"({result.duration:.1f}s)")))
    headers = ["page", "shape", "status", "checks", "failed", "time"]
    rows, notes = [], []
    for pr in result.pages:
        ran = _checks(pr)
        failed = sum(1 for _, c in ran if c.status == CheckStatus.FAILED)
        notes.append(pr.reason if pr.status != PageStatus.PASSED
                     else (f"database {pr.database}" if pr.database else ""))
        rows.append([pr.page, pr.shape, pr.status, str(len(ran)), str(failed) if failed else "",
                     f"{pr.duration:.1f}s" if pr.result else ""])
    room = add_columns(table, headers, rows, "page", console.width)
    for row, note in zip(rows, notes, strict=True):
        table.add_row(Text(safe_line(row[0])), row[1], Text(row[2], style=STYLE.get(row[2], "")), *row[3:],
                      *([Text(clip(safe_line(note), room))] if room >= 16 else []))
    console.print(table)
    pages = page_totals(result)
    console.print("pages: " + ", ".join(f"{v} {k}" for k, v in pages.items() if v), markup=False)
    checks = check_totals(result)
    console.print(f"checks: {sum(checks.values())} ({checks['passed']} passed, {checks['volatile']} volatile, "
                  f"{checks['failed']} failed)", markup=False)
    slow = slowest(result)
    if slow:
        console.print(Text(safe_line("slowest: " + ", ".join(f"{p.page} {p.duration:.1f}s" for p in slow))))
    if result.server_start:
        console.print(f"example server started in {result.server_start:.1f}s", markup=False)
    for event in result.server_events:  # (a crash recovered, the cluster restarted, the server stopped)
        line = f"example server {event['kind']} after {event['seconds']:.1f}s: {event['detail']}"
        console.print(Text(safe_line(line), style="red" if event["kind"] == ServerEventKind.STOPPED else "yellow"))
    for pr in result.pages:
        for line in _failures(pr):
            console.print(Text(safe_line(line), style="red"))
        if pr.status in (PageStatus.INVALID, PageStatus.BLOCKED):
            for line in pr.findings or [f"{pr.page}: {pr.reason}"]:
                console.print(Text(safe_line(line), style="yellow" if pr.status == PageStatus.BLOCKED else "red"))


def iso_ms(t: float | None) -> str | None:
    """``time.time()`` as ISO 8601 UTC with milliseconds (``2026-12-06T09:14:29.123Z``), None as None."""
    if t is None:
        return None
    ms = round(t * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def site_to_json(result: SiteResult) -> dict[str, Any]:
    """The site report as JSON data, checked against its schema."""
    pages = []
    for pr in result.pages:
        counts: dict[str, int] = {}
        for _, c in _checks(pr):
            counts[c.status] = counts.get(c.status, 0) + 1
        pages.append({
            "page": pr.page, "rel": pr.rel, "site": pr.site, "shape": pr.shape, "status": pr.status,
            "reason": pr.reason, "started": iso_ms(pr.started), "duration": round(pr.duration, 3),
            "database": pr.database,
            "findings": pr.findings, "checks": counts, "rewritten": pr.rewritten,
            "report": to_json(pr.result) if pr.result is not None else None,
        })
    data = {
        "schema_version": "1",
        "sites": result.sites,
        "status": result.status,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result.started)),
        "duration": round(result.duration, 3),
        "server_start": round(result.server_start, 3),
        "server_events": result.server_events,
        "summary": {"pages": page_totals(result), "checks": check_totals(result)},
        "slowest": [{"page": p.page, "duration": round(p.duration, 3)} for p in slowest(result)],
        "pages": pages,
    }
    return checked(data, load_site_report_schema(), "the site report")


def site_to_junit(result: SiteResult) -> str:
    """JUnit XML: a test suite per page, a test case per check (``page:line``); a page that did not
    run (skipped, blocked, invalid) is one test case saying why; an action that failed without a
    check of its own (a statement that errored) is a test case at its line."""
    root = ET.Element("testsuites", name="runbook site", time=f"{result.duration:.3f}")
    for pr in result.pages:
        if pr.status == PageStatus.NOT_EXECUTABLE:
            continue
        suite = ET.SubElement(root, "testsuite", name=pr.page, time=f"{pr.duration:.3f}")
        n = failures = skipped = errors = 0
        if pr.result is None:
            n = 1
            case = ET.SubElement(suite, "testcase", classname=pr.rel, name=pr.page)
            if pr.status == PageStatus.INVALID:
                errors = 1
                el = ET.SubElement(case, "error", message=pr.reason)
                el.text = "\n".join(pr.findings)
            elif pr.status == PageStatus.FAILED:
                failures = 1
                ET.SubElement(case, "failure", message=pr.reason)
            else:
                skipped = 1
                ET.SubElement(case, "skipped", message=f"{pr.status}: {pr.reason}")
        for s in pr.result.steps if pr.result else []:
            for a in s.actions:
                for c in a.checks:
                    n += 1
                    case = ET.SubElement(suite, "testcase", classname=pr.rel, name=f"{pr.page}:{c.line}")
                    if c.status == CheckStatus.FAILED:
                        failures += 1
                        el = ET.SubElement(case, "failure", message="; ".join(c.problems) or "differs")
                        el.text = "expected:\n" + "\n".join(c.expected) + "\nactual:\n" + "\n".join(c.actual)
                if a.status == FAILED and not any(c.status == CheckStatus.FAILED for c in a.checks):
                    n += 1
                    failures += 1
                    line, message = _where(a)
                    case = ET.SubElement(suite, "testcase", classname=pr.rel, name=f"{pr.page}:{line}")
                    el = ET.SubElement(case, "failure", message=message or "failed")
                    el.text = a.details
                elif a.status in (Status.BLOCKED, Status.NOT_RUN) and not a.checks:
                    n += 1
                    skipped += 1
                    case = ET.SubElement(suite, "testcase", classname=pr.rel, name=f"{pr.page}:{a.line}")
                    ET.SubElement(case, "skipped", message=f"{a.status}: {a.message or s.reason}")
        for k, v in (("tests", n), ("failures", failures), ("errors", errors), ("skipped", skipped)):
            suite.set(k, str(v))
    return junit_text(root)
