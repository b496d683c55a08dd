"""Aligning the two graphs: sequences by key then kind, steps by id then by content (renames)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from ..model import Action, Span, Step
from .lines import code_lines, strip, texts

RENAME_SIMILARITY = 0.8
"""Two steps with different ids are the same step renamed when their actions have the same kinds
and their code is at least this similar (difflib ratio)."""

T = TypeVar("T")
Pairs = list[tuple[int | None, int | None]]
"""Aligned positions: (old index, new index), None on the side that lacks the item."""


def pair(old: Sequence[T], new: Sequence[T], key: Callable[[T], Any],
         kind: Callable[[T], Any] | None = None) -> Pairs:
    """Align two sequences: equal keys first (difflib), then, inside replaced runs, same kinds."""
    out: Pairs = []
    sm = difflib.SequenceMatcher(None, [key(x) for x in old], [key(x) for x in new], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.extend(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        if kind is None:
            old_kinds: list[Any] = [0] * (i2 - i1)
            new_kinds: list[Any] = [0] * (j2 - j1)
        else:
            old_kinds = [kind(x) for x in old[i1:i2]]
            new_kinds = [kind(x) for x in new[j1:j2]]
        inner = difflib.SequenceMatcher(None, old_kinds, new_kinds, autojunk=False)
        for t2, a1, a2, b1, b2 in inner.get_opcodes():
            if t2 == "equal":
                out.extend(zip(range(i1 + a1, i1 + a2), range(j1 + b1, j1 + b2), strict=True))
            elif t2 == "replace" and kind is None:  # pragma: no cover - kinds all equal when kind is None
                out.extend(zip(range(i1 + a1, i1 + a2), range(j1 + b1, j1 + b2), strict=False))
            else:
                out.extend((i, None) for i in range(i1 + a1, i1 + a2))
                out.extend((None, j) for j in range(j1 + b1, j1 + b2))
    return out


class _Spanned(Protocol):
    span: Span


def absent_line(pairs: Pairs, pos: int, items: Sequence[_Spanned], side: int, default: int) -> int:
    """Where a thing missing on ``side`` (0 old, 1 new) would be: at the next thing that side has."""
    for p in pairs[pos + 1:]:
        k = p[side]
        if k is not None:
            return items[k].span.line
    for p in reversed(pairs[:pos]):
        k = p[side]
        if k is not None:
            return items[k].span.end_line
    return default


def align_actions(old: Step, new: Step) -> Pairs:
    """The actions of two versions of a step, aligned by kind and code, then by kind."""

    def key(x: Action) -> Any:
        return (x.kind, x.edit, tuple(texts(code_lines(x))), x.path, strip(x.before), strip(x.after))

    return pair(old.actions, new.actions, key, kind=lambda x: x.kind)


def _step_code(step: Step) -> str:
    parts: list[str] = []
    for a in step.actions:
        parts.extend(texts(code_lines(a)))
        parts.extend(x for x in (a.path, a.before, a.after) if x)
    return "\n".join(parts)


def align_steps(old_steps: list[Step], new_steps: list[Step]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(old id -> new id for every step on both sides, the renamed ones as (old id, new id)).

    Same ids first, in the old order; then a step whose id is gone is the same as a new one when
    their actions have the same kinds and their code is at least :data:`RENAME_SIMILARITY` alike,
    the most similar pairs first."""
    new_ids = {s.id for s in new_steps}
    old_ids = {s.id for s in old_steps}
    matched: dict[str, str] = {s.id: s.id for s in old_steps if s.id in new_ids}
    lost = [s for s in old_steps if s.id not in new_ids]
    found = [s for s in new_steps if s.id not in old_ids]
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(lost):
        for j, b in enumerate(found):
            if [x.kind for x in a.actions] != [x.kind for x in b.actions] or not a.actions:
                continue
            ratio = difflib.SequenceMatcher(None, _step_code(a), _step_code(b), autojunk=False).ratio()
            if ratio >= RENAME_SIMILARITY:
                candidates.append((-ratio, i, j))
    renamed: list[tuple[str, str]] = []
    used_old: set[int] = set()
    used_new: set[int] = set()
    for _, i, j in sorted(candidates):
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        matched[lost[i].id] = found[j].id
        renamed.append((lost[i].id, found[j].id))
    return matched, renamed


def titled(step: Step) -> bool:
    """The step's id is made from its heading (no ``{#id}``): it follows the heading's text."""
    from ..read.shape import slug

    base = slug(step.title.replace("`", ""))
    return bool(base) and re.fullmatch(rf"{re.escape(base)}(?:-\d+)?", step.id) is not None


def _kinds(step: Step) -> tuple[str, ...]:
    return tuple(a.kind for a in step.actions)


def pair_by_position(old_steps: list[Step], new_steps: list[Step], matched: dict[str, str]) -> list[tuple[str, str]]:
    """Translations: steps left over on both sides whose ids are slugs of their (translated) headings,
    paired by position and content: between the same matched neighbours, in order, with the same
    kinds of actions.  Adds them to ``matched``; returns them as (old id, new id)."""
    def gaps(steps: list[Step], anchors: dict[str, int]) -> dict[int, list[Step]]:
        out: dict[int, list[Step]] = {}
        gap = -1
        for s in steps:
            if s.id in anchors:
                gap = anchors[s.id]
            elif titled(s):
                out.setdefault(gap, []).append(s)
        return out

    order = {oid: n for n, oid in enumerate(s.id for s in old_steps if s.id in matched)}
    old_gaps = gaps(old_steps, order)
    new_gaps = gaps(new_steps, {matched[oid]: n for oid, n in order.items()})
    paired: list[tuple[str, str]] = []
    for gap, lost in old_gaps.items():
        found = new_gaps.get(gap, [])
        for i, j in pair(lost, found, _kinds, kind=lambda s: frozenset(_kinds(s))):
            if i is not None and j is not None:
                matched[lost[i].id] = found[j].id
                paired.append((lost[i].id, found[j].id))
    return paired
