"""Comparer: prose inside SQL (``-- `` comments that are not expected output) of each statement.

Comments do not run, so a changed comment is prose drift, never executable drift.  Unlike
paragraphs they are compared across languages too: a translated comment is exactly what tells a
page whose statements are the same from one whose comments were translated.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..kinds import ActionKind
from ..model import Action, Statement
from .align import pair
from .context import Context
from .lines import sql_code
from .localized import skeleton
from .report import Change


def _key(st: Statement) -> str:
    return skeleton(sql_code(st))[0]


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        for x, y in sp.matched_actions():
            if x.kind == ActionKind.SQL and y.kind == ActionKind.SQL:
                yield from _statements(ctx, x, y, sp.new.id)


def _statements(ctx: Context, x: Action, y: Action, sid: str) -> Iterator[Change]:
    for i, j in pair(x.statements, y.statements, key=_key):
        if i is None or j is None:
            continue
        a, b = x.statements[i], y.statements[j]
        old = [c.text for c in a.comments]
        new = [c.text for c in b.comments]
        if old == new:
            continue
        what = "translated" if not ctx.same_lang and old and new else "changed" if old and new else (
            "added" if new else "removed")
        lo = a.comments[0].span.line if a.comments else a.span.line
        ln = b.comments[0].span.line if b.comments else b.span.line
        yield Change("comment", f"SQL comment {what}", ctx.where_old(lo, not a.comments),
                     ctx.where_new(ln, not b.comments), step=sid, action=y.id,
                     diff=[*("- " + t for t in old), *("+ " + t for t in new)],
                     details={"old": old, "new": new})
