"""Version notes: "2.1.7で追加。", "It's available since 2.4.2." -> the actions' ``requires``.

The phrases are the lexicon's (``[versions]``): ``notes`` and ``usage`` match a whole sentence of a
paragraph (list items are left alone: they describe an option of a list, not the blocks), ``inline``
is found anywhere in one and must name the software ("PostgreSQL 16以降").

What a note governs: the blocks of its section, from the heading above it (the page's title: the whole
page) to the next heading of the same or a higher level.  A note about the Nth usage
("2つ目の使い方は…", "The second signature is …") governs the blocks from that usage's intro
paragraph ("以下は2つ目の使い方の説明です。") to the next usage's intro or the section's end; when the
page has no such intro, the section.  A plain note placed inside one usage's stretch governs that
usage only.

Which software: the product the phrase names (common.toml ``[software]``: ``postgresql`` for
PostgreSQL); else the site's (``_config.yml``'s ``title`` when it is one word, "PGroonga"); else the
extension the page creates (``CREATE EXTENSION x``); else the note is a ``version-note-software``
finding and gives no requirement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..kinds import Severity
from ..lexicon import Lexicon, common
from ..model import Action, Requirement, Span
from .outline import Node, Outline
from .problems import Problems

_VERSION = r"(?P<version>\d+(?:\.\d+)*)"
_EXTENSION_RE = re.compile(r"^\s*CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(?P<name>[\w-]+)", re.IGNORECASE)
_SITE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_CODE_SPAN_RE = re.compile(r"`[^`]*`")


@dataclass(slots=True)
class _Phrases:
    notes: list[re.Pattern[str]]
    inline: list[re.Pattern[str]]
    usage: list[re.Pattern[str]]
    usage_intro: list[re.Pattern[str]]
    nth: re.Pattern[str] | None
    ordinals: list[str]
    software: dict[str, str]
    any_phrase: re.Pattern[str] | None = None
    any_sentence: re.Pattern[str] | None = None
    """Every sentence pattern in one (groups unnamed): one search tells a sentence that holds none."""
    """The lexicon's ``words`` (one of which every phrase holds), else a digit or a usage number: a
    paragraph without one holds no phrase."""


_CACHE: dict[int, tuple[Lexicon, _Phrases]] = {}


def phrases(lex: Lexicon) -> _Phrases:
    """The lexicon's version phrases, compiled once per lexicon."""
    hit = _CACHE.get(id(lex))
    if hit is not None and hit[0] is lex:
        return hit[1]
    table = lex.raw.get("versions", {})
    names = dict(common().get("software", {}))
    software = "(?P<software>" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
    nth = table.get("nth", r"(?P<nth>\d+)")
    flags = re.IGNORECASE if lex.case_insensitive else 0

    def compile_all(key: str) -> list[re.Pattern[str]]:
        out = []
        for pattern in table.get(key, []):
            text = pattern.replace("{version}", _VERSION).replace("{software}", software)
            first, rest = text.split("{nth}", 1) if "{nth}" in text else (text, None)
            if rest is not None:  # the first {nth} is captured; the others are found again with `nth`
                text = first + nth + rest.replace("{nth}", nth.replace("(?P<nth>", "(?:"))
            out.append(re.compile(text, flags))
        return out

    found = _Phrases(compile_all("notes"), compile_all("inline"), compile_all("usage"), compile_all("usage_intro"),
                     re.compile(nth, flags) if "nth" in table else None,
                     [o.lower() for o in table.get("ordinals", [])], {n.lower(): v for n, v in names.items()})
    every = found.notes + found.inline + found.usage + found.usage_intro
    if every:
        words = table.get("words")
        trigger = ("|".join(re.escape(w) for w in words) if words
                   else r"\d" + ("|" + re.sub(r"[(][?]P<[a-z]+>", "(?:", nth) if "nth" in table else ""))
        found.any_phrase = re.compile(trigger, flags)
        unnamed = (re.sub(r"[(][?]P<[a-z]+>", "(?:", p.pattern) for p in every)
        found.any_sentence = re.compile("|".join(f"(?:{x})" for x in unnamed), flags)
    _CACHE[id(lex)] = (lex, found)
    return found


@dataclass(slots=True)
class _Note:
    index: int
    """Position of the paragraph in the outline."""
    span: Span
    text: str
    version: str
    software: str | None
    usages: list[int]
    """The Nth usages a usage note is about (empty: a plain note)."""


def _number(word: str, ph: _Phrases) -> int | None:
    if word.isdigit():
        return int(word)
    low = word.lower()
    return ph.ordinals.index(low) + 1 if low in ph.ordinals else None


def _nths(sentence: str, ph: _Phrases) -> list[int]:
    if ph.nth is None:
        return []
    found = (_number(m.group("nth"), ph) for m in ph.nth.finditer(sentence))
    return [n for n in found if n is not None]


def _read_paragraph(i: int, node: Node, lex: Lexicon, ph: _Phrases) -> tuple[list[_Note], list[int]]:
    """The notes of one paragraph, and the usages it introduces."""
    assert node.inline is not None
    notes: list[_Note] = []
    intros: list[int] = []
    text = node.inline.text
    if ph.any_phrase is None or not ph.any_phrase.search(text):
        return [], []  # no phrase anywhere in the paragraph (most paragraphs): no sentence to read
    # a phrase quoted in backticks is no note: code spans are matched as "…" (of the same length)
    masked = _CODE_SPAN_RE.sub(lambda c: "…" * len(c.group()), text)
    pieces: list[tuple[int, int, int]] = []  # sentence start, end, end with its delimiter
    start = 0
    for cut in lex.sentence_end.finditer(masked):
        pieces.append((start, cut.start(), cut.end()))
        start = cut.end()
    pieces.append((start, len(masked), len(masked)))
    for a, b, e in pieces:
        sentence = " ".join(masked[a:b].split())
        if not sentence or ph.any_sentence is None or not ph.any_sentence.search(sentence):
            continue
        written = " ".join(text[a:e].split())
        for p in ph.usage_intro:
            if p.search(sentence):
                intros += _nths(sentence, ph)[:1]
        m = next((m for p in ph.usage if (m := p.search(sentence))), None)
        usages: list[int] = []
        if m is not None:
            usages = _nths(sentence[: m.start("version")], ph)
        else:
            m = next((m for p in ph.notes if (m := p.search(sentence))), None)
        if m is None:
            m = next((m for p in ph.inline if (m := p.search(sentence))), None)
        if m is None:
            continue
        named = m.groupdict().get("software")
        notes.append(_Note(i, node.span, written, m.group("version"),
                           ph.software.get(named.lower()) if named else None, usages))
    return notes, intros


def _section(nodes: list[Node], i: int) -> tuple[int, int]:
    """(heading position or -1, end position) of the section holding node ``i``."""
    head = next((k for k in range(i - 1, -1, -1) if nodes[k].kind == "heading"), -1)
    if head < 0:
        return -1, len(nodes)
    level = nodes[head].level
    end = next((k for k in range(i + 1, len(nodes)) if nodes[k].kind == "heading" and nodes[k].level <= level),
               len(nodes))
    return head, end


def _page_software(actions: list[Action], site_title: str | None) -> str | None:
    if site_title and _SITE_NAME_RE.match(site_title.strip()):
        return site_title.strip().lower()
    for action in actions:
        for st in action.statements:
            m = _EXTENSION_RE.match(st.sql)
            if m:
                return m.group("name").lower()
    return None


def version_notes(doc: Outline, actions: list[Action], lex: Lexicon, site_title: str | None,
                  problems: Problems) -> None:
    """Attach each version note of the page to the actions it governs (see the module's text)."""
    ph = phrases(lex)
    if not (ph.notes or ph.inline or ph.usage):
        return
    nodes = doc.nodes
    notes: list[_Note] = []
    intros: list[tuple[int, int]] = []  # (position, usage number)
    for i, node in enumerate(nodes):
        if node.kind != "paragraph" or node.depth or node.inline is None:
            continue
        found, numbers = _read_paragraph(i, node, lex, ph)
        notes += found
        intros += [(i, n) for n in numbers]
    if not notes:
        return
    fallback = _page_software(actions, site_title)
    for note in notes:
        software = note.software or fallback
        if software is None:
            problems.defect("version-note-software", Severity.HINT,
                            f"'{note.text}': cannot tell which software the version note is about (no product "
                            "named, no one-word site title, no CREATE EXTENSION on the page); it blocks nothing",
                            note.span)
            continue
        requirement = Requirement(software, note.version, note.text, note.span)
        for first, last in _governed(nodes, note, intros):
            for action in actions:
                if first <= action.span.line < last and not any(
                        r.software == software and r.version == note.version for r in action.requires):
                    action.requires.append(requirement)


def _governed(nodes: list[Node], note: _Note, intros: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Line ranges [first, last) the note governs."""
    head, end = _section(nodes, note.index)

    def line(k: int) -> int:
        return nodes[k].span.line if k < len(nodes) else 1 << 30

    section = [(line(head) if head >= 0 else 1, line(end))]
    inside = sorted((k, n) for k, n in intros if head < k < end)
    if not inside:
        return section
    stops = [k for k, _ in inside] + [end]

    def stretch(k: int) -> tuple[int, int]:
        nxt = next(s for s in stops if s > k)
        return line(k), line(nxt)

    if note.usages:
        ranges = []
        for n in note.usages:
            at = next((k for k, m in inside if m == n), None)
            if at is None:
                return section
            ranges.append(stretch(at))
        return ranges
    before = [k for k, _ in inside if k < note.index]
    return [stretch(before[-1])] if before else section
