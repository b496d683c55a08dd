"""Sharding a site run across CI machines (``runbook run SITE --shard K/N``): a stable 1/N of the pages,
balanced by the durations of an earlier run's JSON report when one is given."""

from __future__ import annotations

import re
from pathlib import Path

from runbook.errors import UsageError

from ..reports.schemas import read_report

_SHARD_RE = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) -> (K, N); else a usage error."""
    m = _SHARD_RE.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(f"runbook run: --shard {text}: expected K/N with 1 <= K <= N (e.g. --shard 2/4)")
    return int(m.group(1)), int(m.group(2))


def durations_from(report: Path) -> dict[str, float]:
    """Each page's duration in a site report (``runbook run SITE --json FILE``); a guide's report
    gives its guide's.  An unreadable report is a usage error."""
    data = read_report(report, "runbook run: --shard-by", ("site", "guide"),
                       " (--shard-by needs an earlier run's JSON report)")
    if "pages" in data:
        return {str(p["page"]): float(p.get("duration") or 0.0) for p in data["pages"]}
    return {str(data["guide"]): float(data.get("duration") or 0.0)}


def shard_pages(pages: list[str], k: int, n: int, durations: dict[str, float] | None = None) -> list[str]:
    """Shard ``k`` of ``n`` of ``pages`` (in their order). Stable: the same pages and durations give
    the same shards, whatever their order on the command line.  Balanced: the longest page first
    goes to the least loaded shard (pages the report does not know weigh the mean of those it
    does); without durations every page weighs the same (round robin over the sorted pages)."""
    known = [d for p, d in (durations or {}).items() if p in pages]
    mean = sum(known) / len(known) if known else 1.0
    weight = {p: (durations or {}).get(p, mean) if durations else 1.0 for p in pages}
    load = [0.0] * n
    mine: set[str] = set()
    for page in sorted(set(pages), key=lambda p: (-weight[p], p)):
        shard = min(range(n), key=lambda i: (load[i], i))
        load[shard] += weight[page]
        if shard == k - 1:
            mine.add(page)
    return [p for p in pages if p in mine]
