"""Gettext PO catalogs in PGroonga's format (msgid English, msgstr Japanese, a Markdown block each), read with polib."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polib

from ..errors import UsageError

MARKER_RE = re.compile(r"^(?P<prefix>\s*(?:(?:[*+-]|\d+[.)])\s+|#{1,6}\s+))?(?P<body>.*)$", re.DOTALL)
"""A list item's or heading's marker before a block's text."""


_PO_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_PO_ERROR_RE = re.compile(r"\(line (?P<line>\d+)\):?\s*(?P<what>.*)")


def parse_po(text: str, name: str = "catalog.po") -> list[tuple[str, str]]:
    """``(msgid, msgstr)`` pairs of a PO file (read by polib): no header, no fuzzy or obsolete entry, no plural."""
    catalog = _pofile(text, name)
    return [(e.msgid, e.msgstr) for e in catalog.translated_entries() if e.msgid and not e.msgid_plural]


def _pofile(text: str, name: str) -> polib.POFile:
    """The PO file read by polib, or a usage error naming the line polib stopped at."""
    for n, raw in enumerate(text.splitlines(), 1):  # polib would read an unterminated string as empty
        line = raw.strip()
        if '"' in line and not line.startswith("#") and not _PO_STRING_RE.fullmatch(line[line.index('"'):]):
            raise UsageError(f"{name}:{n}: not a PO file: a string is unterminated or has an unescaped quote")
    try:
        catalog = polib.pofile(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:  # polib's syntax error: "Syntax error in po file (line N): what"
        m = _PO_ERROR_RE.search(str(exc))
        where, what = (m.group("line"), m.group("what") or "syntax error") if m else ("1", str(exc))
        raise UsageError(f"{name}:{where}: not a PO file: {what}") from exc
    return catalog


def _key(text: str) -> str:
    m = MARKER_RE.match(text.strip())
    body = m.group("body") if m else text
    return " ".join(body.split())


@dataclass
class Catalog:
    """Translations between English (``msgid``) and Japanese (``msgstr``), by Markdown block."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    """Translated entries, in the catalog's order."""
    same: list[str] = field(default_factory=list)
    """Blocks the catalog lists without a translation: they read the same in both languages."""

    def __post_init__(self) -> None:
        self._to: dict[str, dict[str, str]] = {"ja": {}, "en": {}}
        for en, ja in self.pairs:
            self._to["ja"].setdefault(_key(en), ja)
            self._to["en"].setdefault(_key(ja), en)

    @classmethod
    def from_po(cls, text: str, name: str = "catalog.po") -> Catalog:
        po = _pofile(text, name)
        pairs = [(e.msgid, e.msgstr) for e in po.translated_entries() if e.msgid and not e.msgid_plural]
        same = [e.msgid for e in po.untranslated_entries() if e.msgid and not e.msgid_plural]
        return cls(pairs, same)

    def blocks(self, target: str) -> dict[str, list[str]]:
        """Source block (exactly as written) -> its translations into ``target``, in catalog order."""
        out: dict[str, list[str]] = {}
        for en, ja in self.pairs:
            source, translation = (ja, en) if target == "en" else (en, ja)
            out.setdefault(source, []).append(translation)
        return out

    def translate(self, text: str, target: str) -> str | None:
        """The translation of a block into ``target`` (``en``/``ja``), without its list/heading marker."""
        found = self._to.get(target, {}).get(_key(text))
        if found is None:
            return None
        m = MARKER_RE.match(found.strip())
        return m.group("body") if m else found
