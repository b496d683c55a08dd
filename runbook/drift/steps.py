"""Comparer: the steps themselves (renamed, moved, removed, added); what is in them, other comparers."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ..model import Step
from .align import titled
from .context import Context
from .report import Change


def _where_missing(step: Step, mine: list[Step], theirs: list[Step], matched: dict[str, str], end: int) -> int:
    """Where, in the other file, a step missing there would be: before the next matched step."""
    theirs_by_id = {s.id: s for s in theirs}
    idx = mine.index(step)
    for s in mine[idx + 1:]:
        other = matched.get(s.id)
        if other is not None and other in theirs_by_id:
            return theirs_by_id[other].span.line
    for s in reversed(mine[:idx]):
        other = matched.get(s.id)
        if other is not None and other in theirs_by_id:
            return theirs_by_id[other].span.end_line
    return end


def compare(ctx: Context) -> Iterator[Change]:
    old_steps, new_steps = ctx.old.steps, ctx.new.steps
    old_by_id = {s.id: s for s in old_steps}
    new_by_id = {s.id: s for s in new_steps}
    matched = ctx.matched
    for oid, nid in ctx.renamed:
        a, b = old_by_id[oid], new_by_id[nid]
        if titled(a) and titled(b):
            continue  # ids made from the headings: the heading changed (a title change, prose)
        yield Change("step-renamed", f"step renamed: {a.id} → {b.id}", ctx.where_old(a.span.line),
                     ctx.where_new(b.span.line), step=b.id, details={"old_id": a.id, "new_id": b.id})
    # Order: matched steps not on the longest common order were moved.
    old_order = [s.id for s in old_steps if s.id in matched]
    new_index = {matched[o]: o for o in old_order}
    new_order = [new_index[s.id] for s in new_steps if s.id in new_index]
    sm = difflib.SequenceMatcher(None, old_order, new_order, autojunk=False)
    in_place = {old_order[b.a + k] for b in sm.get_matching_blocks() for k in range(b.size)}
    old_pos = {s.id: n for n, s in enumerate(old_steps, 1)}
    new_pos = {s.id: n for n, s in enumerate(new_steps, 1)}
    for oid in old_order:
        if oid in in_place:
            continue
        a, b = old_by_id[oid], new_by_id[matched[oid]]
        yield Change("step-moved", f"step moved: position {old_pos[a.id]} → {new_pos[b.id]}",
                     ctx.where_old(a.span.line), ctx.where_new(b.span.line), step=b.id,
                     details={"old_position": old_pos[a.id], "new_position": new_pos[b.id]})
    for a in old_steps:
        if a.id not in matched:
            line = _where_missing(a, old_steps, new_steps, matched, ctx.new_end())
            yield Change("step-removed", f"step removed ({len(a.actions)} action(s))", ctx.where_old(a.span.line),
                         ctx.where_new(line, absent=True), step=a.id, details={"actions": len(a.actions)})
    matched_new = set(matched.values())
    inverse = {v: k for k, v in matched.items()}
    for b in new_steps:
        if b.id not in matched_new:
            line = _where_missing(b, new_steps, old_steps, inverse, ctx.old_end())
            yield Change("step-added", f"step added ({len(b.actions)} action(s))", ctx.where_old(line, absent=True),
                         ctx.where_new(b.span.line), step=b.id, details={"actions": len(b.actions)})
