"""Compare what a statement printed with what the guide says, structurally.

Alignment and padding never matter, nor aligned against expanded display.  Volatile values
(timestamps, durations, sizes, LSNs, progress counters) may differ: such a difference is reported
as volatile, not as a failure.  The patterns live in ``runner/data/volatile.toml``; a site may add
its own (``runbook.toml``, docs/site.md), which are tried first.  ``NOTICE:`` lines the guide shows
must be printed.  ``EXPLAIN`` plans (a ``QUERY PLAN`` column) are compared by their shape: the
plan's nodes, their nesting and the indexes they use, not costs, times or rows; a plan written
by hand (``QUERY PLAN`` with no rule line) too, and an abbreviated one (``...``) by its nodes in order.
Rows of a query without ``ORDER BY`` compare as a multiset (sqllogictest's ``rowsort``); with
``ORDER BY``, order counts except among rows that tie on the sort key.  When only the order
differed, the comparison says so.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import regex

from runbook.errors import RunbookError
from runbook.kinds import ExpectedKind
from runbook.model import Expected, Output

_NOTICE_LINE_RE = re.compile(r"^(?:psql:[^:]*:\d+: )?(?:NOTICE|WARNING|INFO|DETAIL|HINT|CONTEXT):")


@dataclass
class Comparison:
    ok: bool
    volatile: list[str] = field(default_factory=list)
    """Human notes on differences that were accepted as volatile."""
    problems: list[str] = field(default_factory=list)


@cache
def _volatile() -> list[tuple[str, re.Pattern[str]]]:
    data = tomllib.loads((resources.files("runner") / "data" / "volatile.toml").read_text(encoding="utf-8"))
    return [(v["name"], re.compile(v["pattern"])) for v in data["volatile"]]


Volatile = Sequence[tuple[str, "re.Pattern[str] | regex.Pattern[str]"]]
"""Extra volatile patterns: (name, pattern) pairs; a site's (``regex`` patterns) run with a time limit."""

PATTERN_TIMEOUT = 1.0
"""Seconds a site's volatile pattern may take on one text (a pattern like ``(a|aa)+$`` can take
forever on a line that almost matches)."""


class PatternTimeout(RunbookError):
    """A site's volatile pattern ran out of time: the check fails with this message."""

    exit_status = 1


def _subn(name: str, pattern: re.Pattern[str] | regex.Pattern[str], text: str) -> tuple[str, int]:
    if isinstance(pattern, re.Pattern):
        return pattern.subn(f"<{name}>", text)
    try:
        return pattern.subn(f"<{name}>", text, timeout=PATTERN_TIMEOUT)
    except TimeoutError:
        raise PatternTimeout(f"the volatile pattern {name!r} (/{pattern.pattern}/ in runbook.toml) took more than "
                             f"{PATTERN_TIMEOUT:g}s on one line of output; make it simpler (no nested repeats)"
                             ) from None


def normalize_volatile(text: str, extra: Volatile = ()) -> tuple[str, list[str]]:
    """``text`` with volatile values replaced by ``<name>``, and the names that matched."""
    names: list[str] = []
    for name, pattern in [*extra, *_volatile()]:
        text, n = _subn(name, pattern, text)
        if n:
            names.append(name)
    return text, names


def cell_status(expected: str, actual: str, extra: Volatile = ()) -> tuple[str, list[str]]:
    """``same``, ``volatile`` (equal once volatile values are named) or ``diff``, and the volatile names."""
    if expected.strip() == actual.strip():
        return "same", []
    e, names = normalize_volatile(expected.strip(), extra)
    a, _ = normalize_volatile(actual.strip(), extra)
    return ("volatile", names) if e == a and names else ("diff", [])


def _cells_equal(expected: str, actual: str, where: str, result: Comparison, extra: Volatile = ()) -> bool:
    status, names = cell_status(expected, actual, extra)
    if status == "volatile":
        result.volatile.append(f"{where}: {', '.join(names)} differ ({expected.strip()!r} vs {actual.strip()!r})")
    return status != "diff"


PLAN_COLUMN = "QUERY PLAN"
_NODE_RE = re.compile(
    r"^(?P<indent>\s*)(?:->\s+)?(?P<node>[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)*?)"
    r"(?: using (?P<using>\S+))?(?: on (?P<on>\S+)(?: \S+)?)?(?:\s{2}\(.*\))?\s*$"
)
_INDEX_ON_NODES = ("Bitmap Index Scan",)
"""Nodes whose ``on`` names an index (``Bitmap Index Scan on idx``); for the others it names a table."""


@dataclass(frozen=True)
class PlanNode:
    """One node of an EXPLAIN plan, as far as its shape goes."""

    depth: int
    node: str
    index: str | None

    def __str__(self) -> str:
        return "  " * self.depth + self.node + (f" [{self.index}]" if self.index else "")


def plan_shape(lines: list[str]) -> list[PlanNode]:
    """The nodes of an EXPLAIN plan's text (header, rule and ``(N rows)`` lines may be included)."""
    nodes: list[tuple[int, str, str | None]] = []
    body = [ln for ln in lines if ln.strip() and not re.match(r"^\s*(?:QUERY PLAN|-+|\(\d+ rows?\))\s*$", ln)]
    for k, ln in enumerate(body):
        text = ln.rstrip().rstrip("+").rstrip()
        if k > 0 and not text.lstrip().startswith("->"):
            continue  # Output:, Filter:, Planning Time: … details of the node above
        m = _NODE_RE.match(text)
        if m is None:
            continue
        node = m.group("node")
        index = m.group("using") or (m.group("on") if node in _INDEX_ON_NODES else None)
        nodes.append((len(m.group("indent")), node, index))
    indents = sorted({i for i, _, _ in nodes})
    return [PlanNode(indents.index(i), n, x) for i, n, x in nodes]


_ELLIPSIS_RE = re.compile(r"^\s*(?:->\s*)?(?:\.{3,}|…)\s*$")


def _is_plan(expected: Expected) -> bool:
    if expected.kind == ExpectedKind.TABLE and expected.columns[:1] == [PLAN_COLUMN]:
        return True
    first = next((x.strip() for x in expected.lines if x.strip()), "")
    return expected.kind == ExpectedKind.TEXT and first == PLAN_COLUMN  # written by hand: no rule line


def _subsequence(want: list[PlanNode], got: list[PlanNode]) -> bool:
    """An abbreviated plan (``...`` for what it leaves out): its nodes appear in the plan, in order."""
    it = iter((n.node, n.index) for n in got)
    return all((n.node, n.index) in it for n in want)


def _compare_plan(expected: Expected, actual: Output, result: Comparison) -> None:
    if actual.kind != ExpectedKind.TABLE or actual.columns[:1] != [PLAN_COLUMN]:
        shown = " / ".join(x.strip() for x in actual.lines if x.strip())
        result.problems.append(f"expected a query plan, got: {shown}")
        return
    want = plan_shape(expected.lines)
    got = plan_shape(actual.lines)
    abbreviated = any(_ELLIPSIS_RE.match(x) for x in expected.lines)
    if abbreviated and _subsequence(want, got):
        result.volatile.append("plan: abbreviated on the page (its nodes appear in the plan, in order)")
    elif want != got:
        result.problems.append("plan shape: expected " + " > ".join(map(str, want)).replace("  ", "")
                               + "; got " + " > ".join(map(str, got)).replace("  ", ""))
    elif expected.rows != actual.rows:
        result.volatile.append("plan: costs, times, row estimates or conditions differ (the shape is the same)")


def _compare_notices(expected: Expected, actual: Output, result: Comparison, extra: Volatile) -> None:
    """Each notice the guide shows must be printed (volatile values aside); others may be printed too."""
    shown = list(actual.notices)
    for notice in expected.notices:
        if notice in shown:
            shown.remove(notice)
            continue
        e, names = normalize_volatile(notice, extra)
        match = next((s for s in shown if normalize_volatile(s, extra)[0] == e), None)
        if match is not None and names:
            shown.remove(match)
            result.volatile.append(f"notice: {', '.join(names)} differ ({notice!r} vs {match!r})")
            continue
        result.problems.append(f"expected notice not printed: {notice!r}"
                               + (f" (printed: {' / '.join(actual.notices)!r})" if actual.notices else ""))


def compare_output(expected: Expected, actual: Output, extra: Volatile = (), *,
                   ordered: bool | list[int] | None = True) -> Comparison:
    """``ordered``: True (rows in order), False (no ORDER BY: a multiset) or the columns of the
    ORDER BY key (order counts, except among rows that tie on them); see :func:`has_order_by`."""
    result = Comparison(ok=True)
    _compare_notices(expected, actual, result, extra)
    if expected.kind == ExpectedKind.ERROR:
        if actual.kind != ExpectedKind.ERROR or actual.error is None:
            result.problems.append(f"expected an error ({(expected.error or {}).get('message')!r}), but the "
                                   "statement succeeded")
        else:
            exp = expected.error or {}
            for key in ("sqlstate", "message", "detail", "hint"):
                if key in exp and exp[key] != actual.error.get(key):
                    result.problems.append(f"error {key}: expected {exp[key]!r}, got {actual.error.get(key)!r}")
        result.ok = not result.problems
        return result
    if actual.kind == ExpectedKind.ERROR and actual.error is not None:
        result.problems.append(f"{actual.error['severity']}: {actual.error['message']}"
                               + (f" (DETAIL: {actual.error['detail']})" if "detail" in actual.error else ""))
        result.ok = False
        return result
    if _is_plan(expected):
        _compare_plan(expected, actual, result)
    elif expected.kind == ExpectedKind.TABLE:
        if actual.kind != ExpectedKind.TABLE:
            result.problems.append("expected a table, got: " + " / ".join(x.strip() for x in actual.lines if x.strip()))
        else:
            if expected.columns != actual.columns:
                result.problems.append(f"columns: expected {expected.columns}, got {actual.columns}")
            if expected.row_count is not None and expected.row_count != actual.row_count:
                result.problems.append(f"row count: expected {expected.row_count}, got {actual.row_count}")
            if len(expected.rows) != len(actual.rows):
                result.problems.append(f"rows: expected {len(expected.rows)}, got {len(actual.rows)}")
            rows = align_rows(expected.rows, actual.rows, ordered, extra, result)
            for i, (er, ar) in enumerate(zip(expected.rows, rows, strict=False), start=1):
                if len(er) != len(ar):
                    result.problems.append(f"row {i}: expected {len(er)} cells, got {len(ar)}")
                    continue
                for j, (ec, ac) in enumerate(zip(er, ar, strict=True)):
                    col = expected.columns[j] if j < len(expected.columns) else str(j + 1)
                    if not _cells_equal(ec, ac, f"row {i} {col}", result, extra):
                        result.problems.append(f"row {i}, {col}: expected {ec!r}, got {ac!r}")
    elif expected.kind == ExpectedKind.TAG:
        if actual.tag != expected.tag:
            result.problems.append(f"expected {expected.tag!r}, got {actual.tag or ' / '.join(actual.lines)!r}")
    elif not expected.notices or [x for x in expected.lines if x.strip() and not _NOTICE_LINE_RE.match(x.strip())]:
        exp_lines = [x.strip() for x in expected.lines if x.strip()]
        act_lines = [x.strip() for x in actual.lines if x.strip()]
        if len(exp_lines) != len(act_lines):
            result.problems.append(f"expected {len(exp_lines)} line(s), got {len(act_lines)}")
        for i, (e, a) in enumerate(zip(exp_lines, act_lines, strict=False), start=1):
            if not _cells_equal(e, a, f"line {i}", result, extra):
                result.problems.append(f"line {i}: expected {e!r}, got {a!r}")
    result.ok = not result.problems
    return result


def compare_console(expected_lines: list[str], actual: str, extra: Volatile = ()) -> Comparison:
    """Each output line the guide shows must appear in what the command printed (volatile values aside)."""
    result = Comparison(ok=True)
    # progress output rewrites its line with \r: keep what was left on screen
    shown = [seg.strip() for line in actual.split("\n") for seg in [line.split("\r")[-1]] if seg.strip()]
    for line in expected_lines:
        if not line.strip():
            continue
        if line.strip() in shown:
            continue
        e, names = normalize_volatile(line.strip(), extra)
        match = next((s for s in shown if normalize_volatile(s, extra)[0] == e), None)
        if match is not None and names:
            result.volatile.append(f"{', '.join(names)} differ ({line.strip()!r} vs {match!r})")
            continue
        result.problems.append(f"expected output line not seen: {line.strip()!r}")
    result.ok = not result.problems
    return result


# -- row order --------------------------------------------------------------------------------
_LITERAL_RE = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$", re.DOTALL)
_ORDER_RE = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)
_AFTER_ORDER_RE = re.compile(r"\b(?:LIMIT|OFFSET|FETCH|FOR|WINDOW)\b", re.IGNORECASE)
_KEY_SUFFIX_RE = re.compile(r"\s+(?:ASC|DESC|NULLS\s+(?:FIRST|LAST)|USING\s+\S+)\b.*$", re.IGNORECASE | re.DOTALL)


def _top_level(sql: str) -> str:
    """``sql`` with literals and comments blanked and everything inside parentheses dropped."""
    text = _LITERAL_RE.sub(lambda m: "''" if m.group(0)[:1] in "'$" else (" " if m.group(0)[:1] in "-/" else
                                                                          m.group(0)), sql)
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def has_order_by(sql: str, columns: list[str] | None = None) -> bool | list[int]:
    """Whether a statement's rows come in a defined order: False without a top-level ``ORDER BY``
    (a multiset), True with one (or for psql's meta-commands, which sort), or, given the result's
    ``columns``, the columns of the sort key where each key names one (order counts only between
    rows that differ on them)."""
    if sql.lstrip().startswith("\\"):
        return True
    top = _top_level(sql)
    found = list(_ORDER_RE.finditer(top))
    if not found:
        return False
    if columns is None:
        return True
    clause = top[found[-1].end():]
    stop = _AFTER_ORDER_RE.search(clause)
    clause = (clause[: stop.start()] if stop else clause).strip().rstrip(";")
    keys: list[int] = []
    names = [c.lower() for c in columns]
    for item in clause.split(","):
        key = _KEY_SUFFIX_RE.sub("", item.strip()).strip().strip('"').split(".")[-1].strip('"').lower()
        if key.isdigit() and 1 <= int(key) <= len(columns):
            keys.append(int(key) - 1)
        elif key in names:
            keys.append(names.index(key))
        else:
            return True  # a key that is not a column of the result: its ties cannot be told
    return keys


def align_rows(expected: list[list[str]], actual: list[list[str]], ordered: bool | list[int] | None,
               extra: Volatile, result: Comparison) -> list[list[str]]:
    """``actual``'s rows put in ``expected``'s order where the order does not count (no ORDER BY, or
    rows that tie on the sort key); a note when only that order differed."""
    if ordered is True or ordered is None or len(expected) < 2 or len(expected) != len(actual):
        return actual
    if ordered is False:
        blocks = [(0, len(expected))]
    else:  # runs of expected rows that tie on the key
        blocks, start = [], 0
        for i in range(1, len(expected) + 1):
            if i == len(expected) or [expected[i][k] for k in ordered if k < len(expected[i])] != [
                    expected[start][k] for k in ordered if k < len(expected[start])]:
                blocks.append((start, i))
                start = i
    placed: list[list[str] | None] = [None] * len(actual)
    for lo, hi in blocks:
        free = list(range(lo, hi))
        for i in range(lo, hi):
            j = next((j for j in free if _row_matches(expected[i], actual[j], extra)), None)
            if j is not None:
                free.remove(j)
                placed[i] = actual[j]
        rest = iter(free)
        for i in range(lo, hi):
            if placed[i] is None:
                placed[i] = actual[next(rest)]
    rows = [r for r in placed if r is not None]
    if rows != actual and all(_row_matches(e, a, extra) for e, a in zip(expected, rows, strict=True)):
        why = "no ORDER BY: compared as a multiset" if ordered is False else "rows that tie on the ORDER BY key"
        result.volatile.append(f"row order: only the order of the rows differs from the page ({why})")
    return rows


def _row_matches(expected: list[str], actual: list[str], extra: Volatile) -> bool:
    return len(expected) == len(actual) and all(
        cell_status(e, a, extra)[0] != "diff" for e, a in zip(expected, actual, strict=True))
