"""Parse psql output (as a guide shows it, or as psql prints it) into a structure.

The same parser reads the guide's ``-- `` comment lines and the runner's actual output, so the
two can be compared structurally: columns, cells, row count, command tag, error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Expected, Span

_ROWS_RE = re.compile(r"^\((?P<n>\d+) rows?\)$")
_RULE_RE = re.compile(r"^-+(?:\+-+)*$")
_TAG_RE = re.compile(
    r"^(?:INSERT \d+ \d+|(?:UPDATE|DELETE|SELECT|MOVE|FETCH|COPY|MERGE) \d+|"
    r"[A-Z][A-Z]+(?: [A-Z][A-Z]+){0,3})$"
)
_ERROR_RE = re.compile(r"^(?:psql:[^:]*:\d+: )?(?P<sev>ERROR|FATAL|PANIC|WARNING|NOTICE):\s+(?P<msg>.*)$")
_SUB_RE = re.compile(r"^(?P<key>DETAIL|HINT|CONTEXT|LINE \d+|QUERY):\s*(?P<msg>.*)$")
_SQLSTATE_RE = re.compile(r"^(?P<code>[0-9A-Z]{5})$")


@dataclass
class Output:
    """A parsed result: the same fields as :class:`runbook.model.Expected`, without a span."""

    kind: str
    lines: list[str]
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    row_count: int | None = None
    tag: str | None = None
    error: dict[str, str] | None = None
    notices: list[str] = field(default_factory=list)


def split_cells(line: str) -> list[str]:
    """Cells of an aligned psql row: separated by ``|``, padding stripped."""
    return [c.strip() for c in line.split("|")]


def parse_output(lines: list[str]) -> Output:
    """Read psql output lines (no ``-- `` prefixes) into an :class:`Output`."""
    body = [ln.rstrip() for ln in lines]
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    notices: list[str] = []
    # NOTICE/WARNING lines come before the result; keep them apart.
    while body and re.match(r"^(?:psql:[^:]*:\d+: )?(?:NOTICE|WARNING|INFO):", body[0]):
        notices.append(body.pop(0))
    if not body:
        return Output(kind="text", lines=list(lines), notices=notices)

    m = _ERROR_RE.match(body[0].strip())
    if m and m.group("sev") in ("ERROR", "FATAL", "PANIC"):
        error: dict[str, str] = {"severity": m.group("sev"), "message": m.group("msg").strip()}
        for ln in body[1:]:
            sub = _SUB_RE.match(ln.strip())
            if sub and sub.group("key") in ("DETAIL", "HINT"):
                error[sub.group("key").lower()] = sub.group("msg").strip()
            elif _SQLSTATE_RE.match(ln.strip()):
                error["sqlstate"] = ln.strip()
        return Output(kind="error", lines=list(lines), error=error, notices=notices)

    # An aligned table: header, rule, rows, "(N rows)".
    if len(body) >= 2 and _RULE_RE.match(body[1].strip()):
        columns = split_cells(body[0])
        rows: list[list[str]] = []
        row_count: int | None = None
        for ln in body[2:]:
            rm = _ROWS_RE.match(ln.strip())
            if rm:
                row_count = int(rm.group("n"))
                break
            rows.append([ln.strip()] if len(columns) == 1 else split_cells(ln))
        return Output(
            kind="table", lines=list(lines), columns=columns, rows=rows, row_count=row_count, notices=notices
        )

    if len(body) == 1 and _TAG_RE.match(body[0].strip()):
        return Output(kind="tag", lines=list(lines), tag=body[0].strip(), notices=notices)

    return Output(kind="text", lines=list(lines), notices=notices)


def parse_expected(lines: list[str], span: Span) -> Expected:
    """Expected output of a guide's statement from its comment lines (``-- `` already removed)."""
    out = parse_output(lines)
    return Expected(
        kind=out.kind,  # type: ignore[arg-type]
        span=span,
        lines=list(lines),
        columns=out.columns,
        rows=out.rows,
        row_count=out.row_count,
        tag=out.tag,
        error=out.error,
    )


def render_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """Lay a table out as psql's aligned format does (used by ``--update-expected``)."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _display_width(cell))
    header = "|".join(
        " " + _center(c, w) + " " for c, w in zip(columns, widths, strict=False)
    )
    rule = "+".join("-" * (w + 2) for w in widths)
    body = []
    for row in rows:
        cells = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=False)):
            pad = w - _display_width(cell)
            last = i == len(widths) - 1
            cells.append(" " + cell + ("" if last else " " * pad) + " " if not last else " " + cell)
        body.append("|".join(cells))
    n = len(rows)
    footer = f"({n} row{'s' if n != 1 else ''})"
    return [header, rule, *body, footer]


def _center(text: str, width: int) -> str:
    pad = width - _display_width(text)
    left = pad // 2
    return " " * left + text + " " * (pad - left)


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
