"""A site's run as data: its options (``SiteOptions``), what became of each page (``PageResult``),
the site's result (``SiteResult``) and status, and the page statuses the other modules use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.model import Graph

from ..running.results import RunResult
from ..status import PageStatus, SiteStatus, Status

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
    server_events: list[dict[str, Any]] = field(default_factory=list)
    """What happened to the example server: each recovery after a crash, restart of its cluster (its
    postmaster gone), or stop (``kind``, ``seconds``, ``detail``: runner/site/server.py ``ServerEvent``)."""


GuideRunner = Callable[[Path, Graph], RunResult | None]

"""Runs one guide on its own sandbox (the ``run`` command's path for a single guide)."""


Rewriter = Callable[[Path, Graph, RunResult], int]

"""``--update-expected``: rewrites a page's differing expected output, returns how many."""


def check_count(pr: PageResult) -> int:
    if pr.result is None:
        return 0
    return sum(len(a.checks) for s in pr.result.steps for a in s.actions)


def site_status(pages: list[PageResult]) -> str:
    """Failed if a page failed, else invalid if a page cannot be read, else blocked, else passed."""
    statuses = {p.status for p in pages}
    for st in (FAILED, INVALID, BLOCKED):
        if st in statuses:
            return st
    return PASSED


def first_problem(result: RunResult) -> str:
    for s in result.steps:
        for a in s.actions:
            if a.status in (Status.FAILED, Status.BLOCKED) and a.message:
                return a.message
        if s.status in (Status.FAILED, Status.BLOCKED) and s.reason:
            return s.reason
    return ""
