"""Comparer: the expected output of each SQL statement both sides have (by meaning, not spacing)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..kinds import ActionKind, ExpectedKind
from ..model import Action, Expected
from .align import pair
from .context import Context
from .lines import Line, sql_code, unified
from .localized import localized_output, statement_localized
from .report import Change


def expected_key(exp: Expected | None, same_lang: bool) -> Any:
    """What an expected output means (not how it is spaced)."""
    if exp is None:
        return None
    error: Any = exp.error
    if error is not None and not same_lang:
        # psql messages may be shown translated; compare what does not depend on the language.
        error = {k: v for k, v in error.items() if k in ("severity", "sqlstate")}
    if exp.kind == ExpectedKind.TEXT:
        return ("text", tuple(ln.strip() for ln in exp.lines if ln.strip()))
    return (exp.kind, tuple(exp.columns), tuple(tuple(r) for r in exp.rows), exp.row_count, exp.tag,
            tuple(sorted((error or {}).items())))


def _lines(exp: Expected | None) -> list[Line]:
    if exp is None:
        return []
    return [(ln.rstrip(), exp.span.line + k) for k, ln in enumerate(exp.lines)]


def _first_line(text: str) -> str:
    first = text.strip().split("\n")[0]
    return first if len(first) <= 60 else first[:57] + "..."


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        for x, y in sp.matched_actions():
            if x.kind == ActionKind.SQL:
                yield from _statements(ctx, x, y, sp.new.id)


def _statements(ctx: Context, x: Action, y: Action, sid: str) -> Iterator[Change]:
    for i, j in pair(x.statements, y.statements, key=lambda s: tuple(t for t, _ in sql_code(s))):
        if i is None or j is None:
            continue  # the statement itself changed: reported as a command change (or localized data)
        a, b = x.statements[i], y.statements[j]
        if expected_key(a.expected, ctx.same_lang) == expected_key(b.expected, ctx.same_lang):
            continue
        if localized_output(ctx, a.expected, b.expected) or statement_localized(ctx, a, b):
            continue  # reported by the localized-data comparer
        lo = a.expected.span.line if a.expected else a.span.end_line
        ln = b.expected.span.line if b.expected else b.span.end_line
        if a.expected is None:
            what = "expected output added"
        elif b.expected is None:
            what = "expected output removed"
        else:
            what = "expected output changed"
        yield Change("expected", f"{what}: {_first_line(b.sql)}", ctx.where_old(lo, a.expected is None),
                     ctx.where_new(ln, b.expected is None), step=sid, action=y.id,
                     diff=unified(_lines(a.expected), _lines(b.expected)),
                     details={"statement": b.sql,
                              "old_kind": a.expected.kind if a.expected else None,
                              "new_kind": b.expected.kind if b.expected else None})
