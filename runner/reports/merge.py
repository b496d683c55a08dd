"""``runbook report merge``: the JSON reports of a site's shards (``runbook run SITE --shard K/N --json``)
read back into one :class:`SiteResult`, from which the site's JSON, JUnit and HTML index are made as
for a run on one machine."""

from __future__ import annotations

import time
from calendar import timegm
from pathlib import Path
from typing import Any

from runbook.errors import UsageError
from runbook.kinds import ActionKind

from ..running.results import ActionResult, CheckResult, RunResult, StepResult
from ..site.model import PageResult, SiteResult, site_status
from ..status import CheckStatus, PageStatus, RunStatus, ServerEventKind, SiteStatus, Status
from .schemas import load_report_schema, misfit, read_report


def _run_result(data: dict[str, Any]) -> RunResult:
    """A guide's run report (checked against its schema: every status and kind is one of its
    enumeration's strings) as its result, with the enumerations' members."""
    steps = []
    for s in data["steps"]:
        actions = []
        for a in s["actions"]:
            checks = [CheckResult(**{**c, "status": CheckStatus(c["status"]),
                                     **{k: tuple(c[k]) if c.get(k) else None
                                        for k in ("expected_span", "statement_span")}}) for c in a["checks"]]
            actions.append(ActionResult(**{**a, "kind": ActionKind(a["kind"]), "status": Status(a["status"]),
                                           "checks": checks}))
        steps.append(StepResult(**{**s, "status": Status(s["status"]), "actions": actions}))
    started = timegm(time.strptime(data["started"], "%Y-%m-%dT%H:%M:%SZ"))
    return RunResult(data["guide"], data["target"], RunStatus(data["status"]), float(started), data["duration"],
                     steps, dict(data.get("blocked", {})))


def _page_run(page: dict[str, Any], path: Path) -> RunResult | None:
    """A page's run report (the site report's schema leaves it free) checked against a guide report's
    schema, then read back; a usage error naming the file and the page where it is no guide report."""
    report = page["report"]
    if report is None:
        return None
    wrong = misfit(report, load_report_schema())
    if wrong:
        raise UsageError(f"runbook report merge: {path}: {page['page']}'s report is not a guide report "
                         f"(runbook schema report): {wrong}")
    return _run_result(report)


def _time_ms(text: str | None) -> float | None:
    """A page's ``started`` (ISO 8601 UTC with milliseconds) as ``time.time()``; None where absent."""
    if not text:
        return None
    seconds, _, ms = text.removesuffix("Z").partition(".")
    return timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S")) + int(ms or 0) / 1000


def merge_reports(paths: list[Path]) -> SiteResult:
    """One site result from the shards' site reports: every page once (a page in two shards is an
    error), in page order; the status, totals and slowest pages computed again."""
    if not paths:
        raise UsageError("runbook report merge: give the shards' JSON reports")
    pages: dict[str, PageResult] = {}
    sites: list[str] = []
    started: list[float] = []
    duration = server_start = 0.0
    events: list[dict[str, Any]] = []
    for path in paths:
        data = read_report(path, "runbook report merge")
        sites += [s for s in data["sites"] if s not in sites]
        started.append(float(timegm(time.strptime(data["started"], "%Y-%m-%dT%H:%M:%SZ"))))
        duration = max(duration, data["duration"])
        server_start = max(server_start, data["server_start"])
        events += [{**e, "kind": ServerEventKind(e["kind"])}  # (each shard's own example server)
                   for e in data.get("server_events", [])]
        for p in data["pages"]:
            if p["page"] in pages:
                raise UsageError(f"runbook report merge: {p['page']} is in two reports (the shards overlap)")
            pages[p["page"]] = PageResult(
                p["page"], p["rel"], p["site"], p["shape"], PageStatus(p["status"]), p["reason"], p["duration"],
                p["database"],
                _page_run(p, path), list(p["findings"]), p["rewritten"],
                _time_ms(p.get("started")))
    ordered = [pages[k] for k in sorted(pages)]
    return SiteResult(sites, SiteStatus(site_status(ordered)), min(started), duration, ordered, server_start,
                      server_events=events)
