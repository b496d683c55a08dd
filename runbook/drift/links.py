"""Comparer: link targets in the steps' and the guide's prose.

Between languages a link localized for its page's language is the same link: its language segment
(``/ja/``, ``.en``) does not count, nor a language edition of a site (``ja.wikipedia.org`` and
``en.wikipedia.org``), nor a prefix the site's ``_config.yml`` gives per language
(``postgresql_doc_base_url: {ja: …/16/html, en: …/docs/17}``, used as
``{{ site.postgresql_doc_base_url.ja }}/functions-json.html``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def _config_prefixes(ctx: Context) -> list[tuple[str, str]]:
    """(old language's value, new language's value) of every ``_config.yml`` key that has one per
    language (``KEY: {ja: A, en: B}``, at any depth), from the site configuration above the guides."""
    from ..read.liquid import find_site_config

    found: list[tuple[str, str]] = []
    for file in dict.fromkeys((ctx.old.source.file, ctx.new.source.file)):
        try:
            config = find_site_config(Path(file))
        except OSError:
            continue
        if config is not None:
            found += _prefixes(str(config), config.stat().st_mtime_ns, ctx.old.source.lang, ctx.new.source.lang)
    return found


@functools.lru_cache(maxsize=32)
def _prefixes(config: str, _mtime: int, old_lang: str, new_lang: str) -> tuple[tuple[str, str], ...]:
    from ..errors import RunbookError
    from ..read.liquid import load_site_config

    try:
        data = load_site_config(Path(config)).data
    except RunbookError:  # a configuration that cannot be read gives no prefixes (the reader reports it)
        return ()
    found: list[tuple[str, str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            a, b = value.get(old_lang), value.get(new_lang)
            if isinstance(a, str) and isinstance(b, str) and a and b:
                found.append((a.rstrip("/"), b.rstrip("/")))
            for v in value.values():
                walk(v)

    walk(data)
    return tuple(found)


def _language_edition(old: str, new: str, old_lang: str, new_lang: str) -> bool:
    """``https://ja.wikipedia.org/wiki/X`` and ``https://en.wikipedia.org/wiki/Y``: one site's
    editions in the two pages' languages (the host's first label is the language)."""
    a, b = urlsplit(old), urlsplit(new)
    if not (a.scheme and b.scheme and a.hostname and b.hostname):
        return False
    la, _, rest_a = a.hostname.partition(".")
    lb, _, rest_b = b.hostname.partition(".")
    return rest_a == rest_b and "." in rest_a and la == old_lang and lb == new_lang


def _localized(old: str, new: str, ctx: Context, prefixes: list[tuple[str, str]]) -> bool:
    if any(old.startswith(a) and new.startswith(b) and old[len(a):] == new[len(b):] for a, b in prefixes):
        return True
    return _language_edition(old, new, ctx.old.source.lang, ctx.new.source.lang)


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
    if not ctx.same_lang and removed and added:  # links localized for each page's language: the same
        prefixes = _config_prefixes(ctx)
        for item in list(removed):
            hit = next((n for n in added if _localized(item[1], n[1], ctx, prefixes)), None)
            if hit is not None:
                removed.remove(item)
                added.remove(hit)
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
