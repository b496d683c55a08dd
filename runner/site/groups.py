"""Example groups of one page run at the same time, within the run's ``-j`` (docs/site.md).

A page of independent examples (the graph's ``example_groups``) gives each group a fresh database;
where the run has room (fewer pages left than ``-j``), the page's groups are shared out among
several runners, each in databases of its own, and their results put back in the page's order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from runbook.model import Graph

from ..running.results import BLOCKED, FAILED, NOT_RUN, PASSED, RunResult
from ..running.steps import Runner
from ..status import RunStatus

RunOne = Callable[[set[int] | None, str], tuple[str, Runner, RunResult]]
"""Runs the page for some example groups (None: all) with a transcript label; (database, runner, result)."""


def run_groups(run_one: RunOne, graph: Graph, slots: threading.Semaphore | None) -> tuple[str, Runner, RunResult]:
    """Run the page's groups over as many runners as ``slots`` has room for (the page itself holds one)."""
    numbers = [g.number for g in graph.example_groups]
    extra = 0
    while slots is not None and extra < len(numbers) - 1 and slots.acquire(blocking=False):
        extra += 1
    if extra == 0:
        return run_one(None, "")
    assert slots is not None
    shares = [set(numbers[r :: extra + 1]) for r in range(extra + 1)]
    try:
        with ThreadPoolExecutor(max_workers=extra) as pool:
            futures = [pool.submit(run_one, shares[r], f"groups-{r + 1}") for r in range(1, extra + 1)]
            main = run_one(shares[0], "")
            others = [f.result() for f in futures]
    finally:
        for _ in range(extra):
            slots.release()
    merge(main[2], [(shares[r + 1], o[2]) for r, o in enumerate(others)], graph)
    runner = main[1]
    runner.lost_server = runner.lost_server or next((o[1].lost_server for o in others if o[1].lost_server), None)
    return main


def merge(main: RunResult, others: list[tuple[set[int], RunResult]], graph: Graph) -> None:
    """Put the other runners' actions of their groups into ``main``, in the page's order."""
    group_of = {a.id: a.example_group for a in graph.actions()}
    for k, step in enumerate(main.steps):
        for share, other in others:
            step.actions += [a for a in other.steps[k].actions if group_of.get(a.action) in share]
            main.duration = max(main.duration, other.duration)
        step.actions.sort(key=lambda a: a.line)
        statuses = {a.status for a in step.actions}
        if FAILED in statuses:
            step.status = FAILED
            step.reason = step.reason or next(a.message for a in step.actions if a.status == FAILED)
        elif BLOCKED in statuses:
            step.status = BLOCKED
            step.reason = step.reason or next(a.message for a in step.actions if a.status == BLOCKED)
        elif statuses and statuses <= {NOT_RUN}:
            step.status = NOT_RUN
        elif statuses:
            step.status = PASSED
    steps = {s.status for s in main.steps}
    main.status = RunStatus(FAILED if FAILED in steps else BLOCKED if BLOCKED in steps else PASSED)
