"""A site's page translated paragraph by paragraph, as PGroonga's site builds its translations.

PGroonga's site (jekyll-task-i18n) translates with YARD's ``YARD::I18n::Text``: the page is cut into
*paragraphs*, runs of lines that are not blank (a blank line holds only ASCII whitespace); a
paragraph's text is its lines with the trailing whitespace removed (the last line's trailing spaces,
the line ends and the blank lines after it), and that text is looked up in the catalog; the
whitespace after it is written as it was.  So the catalog's ``msgid`` is the English paragraph
exactly (a space at the end of an inner line stays in it), and the Japanese page is each ``msgstr``
followed by the English page's whitespace.  Reading it backwards (``msgstr`` -> ``msgid``) rebuilds
the English page.

What the catalog does not give exactly is looked up more loosely, so the site's own catalogs read
as they are written:

* a ``msgstr`` that ends with whitespace (the translator's trailing space) is found by its text
  without it, and that whitespace is not written twice; back to English, a ``msgid`` that ends with
  a space keeps it, and the page's whitespace after the paragraph does not repeat it (towards
  Japanese the page is made exactly as YARD makes it: the ``msgstr``, then the whitespace);
* lines compared without their trailing spaces, and link reference definitions with or without a
  space after the colon (``[wal]:{{ … }}`` / ``[wal]: {{ … }}``), when that finds one entry;
* a heading with an ``{#id}`` the entry lacks (or the other way round) keeps the page's ``{#id}``;
* front matter the catalog does not know gets its ``title:`` from the catalog's ``# title`` entry;
* link reference definitions and links the catalog does not know get the target language's value of
  a ``_config.yml`` key that has one per language (``{{ site.postgresql_doc_base_url.ja }}`` ->
  ``{{ site.postgresql_doc_base_url.en }}``).

What is left is kept as written; paragraphs of prose that are still in the source language
(outside code blocks) are reported by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .catalog import Catalog

_WS = " \t\r\n\f\v"
"""Ruby's ``\\s``: ASCII whitespace only (an ideographic space is text)."""
_BLANK_RE = re.compile(r"[ \t\r\n\f\v]*")
_LINKDEF_RE = re.compile(r"^(?P<label> {0,3}\[[^\]]+\]):[ \t]*(?P<target>\S.*)$")
_HEADING_ID_RE = re.compile(r"[ \t]*\{#[^}]+\}[ \t]*$")
_LIQUID_LANG_RE = re.compile(r"\{\{\s*site\.(?P<key>[\w.]+?)\.(?P<lang>[a-z]{2})\s*\}\}")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_SOURCE_SCRIPT = {"ja": re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")}
"""Letters of a source language's own script: a paragraph with none of them is not left untranslated
(a Japanese page whose text is still English)."""


@dataclass(slots=True)
class Paragraph:
    text: str
    """The paragraph without its trailing whitespace (what the catalog holds)."""
    tail: str
    """The whitespace after it: trailing spaces, line ends and the blank lines that follow."""
    line: int
    """1-based line of its first line."""


def paragraphs(text: str) -> tuple[str, list[Paragraph]]:
    """``(leading blank lines, paragraphs)`` as YARD cuts them; joining every part gives ``text`` back."""
    head: list[str] = []
    out: list[Paragraph] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if _BLANK_RE.fullmatch(line):
            if current:
                current.append(line)
                out.append(_paragraph("".join(current), start))
                current = []
            elif out:
                out[-1].tail += line
            else:
                head.append(line)
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        out.append(_paragraph("".join(current), start))
    return "".join(head), out


def _paragraph(raw: str, line: int) -> Paragraph:
    body = raw.rstrip(_WS)
    return Paragraph(body, raw[len(body):], line)


def _loose(text: str) -> str:
    """A paragraph compared loosely: no trailing spaces on its lines, ``[label]: target`` as ``[label]:target``."""
    lines = [line.rstrip(" \t") for line in text.split("\n")]
    return "\n".join(_LINKDEF_RE.sub(r"\g<label>:\g<target>", line) for line in lines)


@dataclass
class BlockTranslation:
    text: str
    untranslated: list[int] = field(default_factory=list)
    """1-based lines of prose paragraphs left in the source language."""
    translated: int = 0


@dataclass
class _Table:
    """The catalog read in one direction: source paragraph -> its translations, in catalog order."""

    catalog: Catalog
    target: str
    exact: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """source text without trailing whitespace -> [(translation, the source's own trailing whitespace)]."""
    loose: dict[str, list[str]] = field(default_factory=dict)
    uses: dict[str, int] = field(default_factory=dict)

    per_language: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for source, translations in self.catalog.blocks(self.target).items():
            body = source.rstrip(_WS)
            for t in translations:
                self.exact.setdefault(body, []).append((t, source[len(body):]))
            self.loose.setdefault(_loose(body), []).append(body)
        for same in self.catalog.same:  # listed untranslated: the page shows the entry itself
            body = same.rstrip(_WS)
            self.loose.setdefault(_loose(body), []).append("\0" + body)

    def find(self, text: str) -> tuple[str, str] | None:
        """``(translation, trailing whitespace of the source entry)`` for a paragraph, or None."""
        key = text
        if key not in self.exact:
            candidates = set(self.loose.get(_loose(text), []))
            if not candidates and self.per_language:
                candidates = set(self.loose.get(_loose(localize_links(text, self.target, self.per_language)), []))
            if len(candidates) != 1:
                return None
            key = candidates.pop()
            if key.startswith("\0"):
                return key[1:], ""
        choices = self.exact[key]
        k = self.uses.get(key, 0)
        self.uses[key] = k + 1
        return choices[min(k, len(choices) - 1)]


def _lang_values(config: dict[str, object], prefix: str = "") -> set[str]:
    """Keys of ``_config.yml`` (dotted) that have a value per language (``KEY: {ja: …, en: …}``)."""
    found: set[str] = set()
    for key, value in config.items():
        if isinstance(value, dict):
            if {"ja", "en"} <= set(value):
                found.add(prefix + str(key))
            found |= _lang_values(value, f"{prefix}{key}.")
    return found


def localize_links(text: str, target: str, per_language: set[str]) -> str:
    """``{{ site.KEY.xx }}`` -> ``{{ site.KEY.TARGET }}`` in links, for keys with a value per language."""
    def swap(m: re.Match[str]) -> str:
        if m.group("key") not in per_language:
            return m.group(0)
        whole = m.group(0)
        return whole[: m.start("lang") - m.start()] + target + whole[m.end("lang") - m.start():]

    out = []
    for line in text.split("\n"):
        if _LINKDEF_RE.match(line) or "](" in line:
            line = _LIQUID_LANG_RE.sub(swap, line)
        out.append(line)
    return "\n".join(out)


def _code_flags(parts: list[Paragraph]) -> Iterator[bool]:
    """For each paragraph: is it (inside) a fenced code block?"""
    inside = False
    for p in parts:
        starts = inside
        for line in p.text.split("\n"):
            if _FENCE_RE.match(line):
                inside = not inside
                starts = True
        yield starts


def translate_page(source_text: str, target: str, catalog: Catalog, source_lang: str | None = None,
                   site_config: dict[str, object] | None = None) -> BlockTranslation:
    """The page in ``target`` language, paragraph by paragraph (see the module's docstring)."""
    per_language = _lang_values(site_config or {})
    table = _Table(catalog, target, per_language=per_language)
    same = {s.rstrip(_WS) for s in catalog.same}
    script = _SOURCE_SCRIPT.get(source_lang or ("ja" if target == "en" else "en"))
    head, parts = paragraphs(source_text)
    out = [head]
    result = BlockTranslation("")
    for p, code in zip(parts, _code_flags(parts), strict=True):
        text, tail = p.text, p.tail
        found = table.find(text)
        if found is None:
            found = _heading_without_id(table, text) or _front_matter(table, text)
        if found is not None:
            translation, own_tail = found
            if own_tail and tail.startswith(own_tail):  # the msgstr's own trailing space, on the page
                tail = tail[len(own_tail):]
            trail = translation[len(translation.rstrip(_WS)):] if target == "en" else ""
            if trail and tail.startswith(trail):  # back to a msgid ending with a space: written once, not twice
                tail = tail[len(trail):]
            out += [translation, tail]
            result.translated += 1
            continue
        localized = localize_links(text, target, per_language) if per_language else text
        out += [localized, tail]
        if code or text in same or localized != text or not re.search(r"\w", text):
            continue
        if _only_link_definitions(text):
            continue
        if script is None or script.search(_without_code(text)):
            result.untranslated.append(p.line)
    result.text = "".join(out)
    return result


def _without_code(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def _only_link_definitions(text: str) -> bool:
    return all(_LINKDEF_RE.match(line) for line in text.split("\n"))


def _heading_without_id(table: _Table, text: str) -> tuple[str, str] | None:
    """A heading found without its ``{#id}`` (or the entry's without its own): the page's id is kept."""
    if not text.startswith("#") or "\n" in text:
        return None
    m = _HEADING_ID_RE.search(text)
    bare = _HEADING_ID_RE.sub("", text)
    found = table.find(bare)
    if found is None:
        return None
    translation = _HEADING_ID_RE.sub("", found[0])
    return translation + (m.group(0) if m else ""), found[1]


def _front_matter(table: _Table, text: str) -> tuple[str, str] | None:
    """Front matter the catalog does not know: its ``title:`` from the catalog's ``# title``."""
    lines = text.split("\n")
    if len(lines) < 2 or lines[0].rstrip() != "---" or lines[-1].rstrip() != "---":
        return None
    changed = False
    for n, line in enumerate(lines[1:-1], 1):
        m = re.match(r"^title:[ \t]*(?P<q>['\"]?)(?P<title>.+?)(?P=q)[ \t]*$", line)
        found = table.find("# " + m.group("title")) if m else None
        if m and found is not None:
            title = found[0].lstrip("#").strip()
            lines[n] = f"title: {m.group('q')}{title}{m.group('q')}"
            changed = True
    return ("\n".join(lines), "") if changed else None
