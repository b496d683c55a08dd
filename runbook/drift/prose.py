"""Comparer: what only reads differently: the guide's and the steps' titles, tags, paragraphs.

Between two languages, titles and paragraphs are not compared (tags still are)."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Prose, Step
from .align import absent_line, pair
from .context import Context
from .report import Change

SKIPPED_ROLES = {"label", "path", "marker", "environment", "overview"}
"""Prose that the graph already holds elsewhere (targets, edit paths, hosts and variables, the
steps' overview titles): compared there (their links are still compared)."""


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        yield from _step(ctx, sp.old, sp.new)
        yield from _paragraphs(ctx, sp.old.prose, sp.new.prose, sp.new.id, sp.old.span.line, sp.new.span.line)
    if ctx.same_lang and ctx.old.source.title != ctx.new.source.title:
        yield Change("guide-title", "guide title changed", ctx.where_old(1), ctx.where_new(1),
                     details={"old": ctx.old.source.title, "new": ctx.new.source.title})
    yield from _paragraphs(ctx, ctx.old.prose, ctx.new.prose, None, 1, 1)


def _step(ctx: Context, a: Step, b: Step) -> Iterator[Change]:
    sid = b.id
    if a.tag != b.tag:
        yield Change("tag", f"tag {a.tag} → {b.tag}", ctx.where_old(a.span.line), ctx.where_new(b.span.line),
                     step=sid, details={"old": a.tag, "new": b.tag})
    if not ctx.same_lang:
        return
    if a.title != b.title:
        yield Change("title", "step title changed", ctx.where_old(a.span.line), ctx.where_new(b.span.line),
                     step=sid, details={"old": a.title, "new": b.title})
    if a.overview_title != b.overview_title:
        yield Change("overview-title", "overview title changed", ctx.where_old((a.overview_span or a.span).line),
                     ctx.where_new((b.overview_span or b.span).line), step=sid,
                     details={"old": a.overview_title, "new": b.overview_title})


def _word_diff(old: str, new: str) -> list[str]:
    out: list[str] = []
    if old:
        out.append("- " + old)
    if new:
        out.append("+ " + new)
    return out


def _paragraphs(ctx: Context, all_old: list[Prose], all_new: list[Prose], sid: str | None, old_default: int,
                new_default: int) -> Iterator[Change]:
    if not ctx.same_lang:
        return
    old = [p for p in all_old if p.role not in SKIPPED_ROLES]
    new = [p for p in all_new if p.role not in SKIPPED_ROLES]
    pairs = pair(old, new, key=lambda p: (p.role, p.text))
    for pos, (i, j) in enumerate(pairs):
        a = old[i] if i is not None else None
        b = new[j] if j is not None else None
        if a is not None and b is not None and a.text == b.text:
            continue
        what = "changed" if a and b else "removed" if a else "added"
        lo = a.span.line if a else absent_line(pairs, pos, old, 0, old_default)
        ln = b.span.line if b else absent_line(pairs, pos, new, 1, new_default)
        role = a.role if a is not None else b.role if b is not None else "paragraph"
        yield Change("paragraph", f"{role} {what}", ctx.where_old(lo, a is None), ctx.where_new(ln, b is None),
                     step=sid, diff=_word_diff(a.text if a else "", b.text if b else ""),
                     details={"role": role, "old": a.text if a else None, "new": b.text if b else None})
