"""Comparer: link targets in the steps' and the guide's prose (between languages, the language
segment of a link, ``/ja/`` or ``.en``, does not count)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import Prose
from .context import Context
from .report import Change

_LANG_SEGMENT = r"[./_\-=]{lang}(?=[./_\-#?]|$)"


def normalise_link(link: str, lang: str) -> str:
    """A link target with its language segment (``doc_base_url.ja``, ``/ja/``) left out, so that
    ``groonga.org/ja/docs/x`` and ``groonga.org/docs/x`` (the English page's) are the same link."""
    if not lang:
        return link
    return re.sub(_LANG_SEGMENT.format(lang=re.escape(lang)), "", link)


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        yield from _links(ctx, sp.old.prose, sp.new.prose, sp.new.id, sp.old.span.line, sp.new.span.line)
    yield from _links(ctx, ctx.old.prose, ctx.new.prose, None, 1, 1)


def _links(ctx: Context, old: list[Prose], new: list[Prose], sid: str | None, old_default: int,
           new_default: int) -> Iterator[Change]:
    def norm(link: str, lang: str) -> str:
        return link if ctx.same_lang else normalise_link(link, lang)

    old_links = [(norm(k, ctx.old.source.lang), k, p.span.line) for p in old for k in p.links]
    new_links = [(norm(k, ctx.new.source.lang), k, p.span.line) for p in new for k in p.links]
    remaining = list(new_links)
    removed: list[tuple[str, str, int]] = []
    for item in old_links:
        hit = next((n for n in remaining if n[0] == item[0]), None)
        if hit is None:
            removed.append(item)
        else:
            remaining.remove(hit)
    added = remaining
    for k in range(max(len(removed), len(added))):
        r = removed[k] if k < len(removed) else None
        n = added[k] if k < len(added) else None
        lo = r[2] if r else (old_links[0][2] if old_links else old_default)
        ln = n[2] if n else (new_links[0][2] if new_links else new_default)
        if r and n:
            summary = f"link target changed: {r[1]} → {n[1]}"
        elif r:
            summary = f"link removed: {r[1]}"
        else:
            summary = f"link added: {n[1] if n else ''}"
        yield Change("link", summary, ctx.where_old(lo, r is None), ctx.where_new(ln, n is None), step=sid,
                     details={"old": r[1] if r else None, "new": n[1] if n else None})
