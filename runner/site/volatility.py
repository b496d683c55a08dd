"""Values that change from run to run, found by running an example page a second time.

A page's expected output holds start times, elapsed times, counters and OIDs that no pattern of
``volatile.toml`` can list. Where a page's first run has checks that differ, the site runs the page
again in a fresh database: what differs between the two actual runs is volatile, and a check whose
only differences from the page are in those values passes as ``volatile``, its note giving the
values seen. A value the same in both runs but different from the page (a version string) stays a
real difference.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from runbook.kinds import ExpectedKind
from runbook.model import Expected, Graph, Output
from runbook.psql_output import parse_output

from ..running.compare import (
    Comparison,
    Volatile,
    _compare_notices,
    align_rows,
    cell_status,
    compare_output,
    has_order_by,
)
from ..running.results import BLOCKED, FAILED, PASSED, ActionResult, CheckResult, RunResult
from ..status import CheckStatus, RunStatus

_TOKEN_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\w+|\s+|.", re.DOTALL)


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.strip())


def token_volatile(expected: str, first: str, second: str) -> str | None:
    """Where ``expected`` differs from ``first`` only in tokens (numbers, words) that differ between
    ``first`` and ``second``: a note naming the values seen; else None."""
    t1, t2, te = _tokens(first), _tokens(second), _tokens(expected)
    moving: set[int] = set()
    seen1, seen2 = [], []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, t1, t2, autojunk=False).get_opcodes():
        if op != "equal":
            moving.update(range(i1, i2))
            seen1.append("".join(t1[i1:i2]).strip())
            seen2.append("".join(t2[j1:j2]).strip())
    if not moving:
        return None
    shown = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, t1, te, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if i1 == i2 or not all(k in moving for k in range(i1, i2)):
            return None
        shown.append("".join(te[j1:j2]).strip())
    return (f"differs between two runs ({', '.join(map(repr, seen1))} then {', '.join(map(repr, seen2))}); "
            f"the page shows {', '.join(map(repr, shown))}")


def _cells(expected: Expected, first: Output, second: Output, ordered: bool | list[int],
           scratch: Comparison, extra: Volatile) -> list[tuple[str, str, str, str]] | None:
    """(where, expected, first run, second run) for each cell or line, or None where the results'
    shapes differ (their columns, their number of rows or lines)."""
    if expected.kind == ExpectedKind.TABLE and first.kind == second.kind == ExpectedKind.TABLE:
        n = len(expected.rows)
        if not (expected.columns == first.columns == second.columns and n == len(first.rows) == len(second.rows)):
            return None
        rows1 = align_rows(expected.rows, first.rows, ordered, extra, scratch)
        rows2 = align_rows(rows1, second.rows, ordered, extra, Comparison(ok=True))
        out = []
        for i, (er, r1, r2) in enumerate(zip(expected.rows, rows1, rows2, strict=True), start=1):
            if not len(er) == len(r1) == len(r2):
                return None
            for j, (e, a1, a2) in enumerate(zip(er, r1, r2, strict=True)):
                out.append((f"row {i}, {expected.columns[j] if j < len(expected.columns) else j + 1}", e, a1, a2))
        return out
    lines = (ExpectedKind.TEXT, ExpectedKind.TAG)
    if expected.kind in lines and first.kind == second.kind and first.kind in lines:
        le, l1, l2 = ([x.strip() for x in o.lines if x.strip()] for o in (expected, first, second))
        if not len(le) == len(l1) == len(l2):
            return None
        return [(f"line {i}", x, y, z) for i, (x, y, z) in enumerate(zip(le, l1, l2, strict=True), start=1)]
    return None


def compare_runs(expected: Expected, first: Output, second: Output, extra: Volatile = (), *,
                 ordered: bool | list[int] = True) -> Comparison:
    """Compare the first run's result with the page, values that differ between the two runs aside."""
    base = compare_output(expected, first, extra, ordered=ordered)
    if base.ok:
        return base
    result = Comparison(ok=True)
    cells = _cells(expected, first, second, ordered, result, extra)
    if cells is None:
        return base
    _compare_notices(expected, first, result, extra)
    for where, e, a1, a2 in cells:
        status, names = cell_status(e, a1, extra)
        if status == "volatile":
            result.volatile.append(f"{where}: {', '.join(names)} differ ({e.strip()!r} vs {a1.strip()!r})")
            continue
        if status == "same":
            continue
        note = token_volatile(e, a1, a2)
        if note is None:
            result.problems.append(f"{where}: expected {e!r}, got {a1!r}")
        else:
            result.volatile.append(f"{where}: {note}")
    result.ok = not result.problems
    return result


def merge_second_run(first: RunResult, second: RunResult, graph: Graph, extra: Volatile = ()) -> int:
    """Re-judge ``first``'s failed checks with ``second``'s results (the same page in a fresh
    database); statuses of actions, steps and the run follow. How many checks became volatile."""
    statements = {(a.id, st.span.line): st for a in graph.actions() for st in a.statements}
    again = {(ar.action, ar.host, c.line): c for s in second.steps for ar in s.actions for c in ar.checks}
    changed = 0
    for step in first.steps:
        for ar in step.actions:
            for c in ar.checks:
                other = again.get((ar.action, ar.host, c.line))
                st = statements.get((ar.action, c.line))
                if c.status != CheckStatus.FAILED or other is None or st is None or st.expected is None:
                    continue
                out1, out2 = parse_output(c.actual), parse_output(other.actual)
                cmp = compare_runs(st.expected, out1, out2, extra, ordered=has_order_by(st.sql, out1.columns))
                found = [v for v in cmp.volatile if "differs between two runs" in v]
                if cmp.ok:
                    c.status, c.problems, c.volatile = CheckStatus.VOLATILE, [], cmp.volatile
                    changed += 1
                elif found:
                    c.problems, c.volatile = cmp.problems, cmp.volatile
            _restatus_action(ar)
        if step.status == FAILED and not any(a.status == FAILED for a in step.actions):
            step.status = BLOCKED if any(a.status == BLOCKED for a in step.actions) else PASSED
            step.reason = next((a.message for a in step.actions if a.status == BLOCKED), "")
    statuses = {s.status for s in first.steps}
    if first.status == RunStatus.FAILED and FAILED not in statuses:
        first.status = RunStatus.BLOCKED if BLOCKED in statuses else RunStatus.PASSED
    return changed


def _restatus_action(ar: ActionResult) -> None:
    """An action failed only by differing results: its message names its first failed check, or
    it passes when none is left."""
    if ar.status != FAILED or "result differs from the guide" not in ar.message:
        return
    failed: list[CheckResult] = [c for c in ar.checks if c.status == CheckStatus.FAILED]
    if not failed:
        ar.status, ar.message = PASSED, ""
        return
    c = failed[0]
    where = f" (expected at line {c.expected_span[0]})" if c.expected_span else ""
    ar.message = f"line {c.line}: result differs from the guide{where}: " + "; ".join(c.problems)
