"""Outline stage: a guide's text -> its blocks in order, each with its span and list depth.

Headings, paragraphs, top-level lists, fences and HTML, from markdown-it-py's tokens; the title;
unclosed fences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from ..model import Span
from .problems import Problems

NodeKind = Literal["front_matter", "heading", "paragraph", "fence", "html", "list"]

_HEADING_ID_RE = re.compile(r"\s*\{#(?P<id>[A-Za-z0-9_][A-Za-z0-9_:.\-]*)\}\s*$")
_TITLE_RE = re.compile(r"^title:\s*(.+)$", re.MULTILINE)


def heading_id_plugin(md: MarkdownIt) -> None:
    """Move a trailing ``{#id}`` of a heading (kramdown style) into the heading's ``id`` attribute."""

    def rule(state: StateCore) -> None:
        tokens = state.tokens
        for i, tok in enumerate(tokens):
            if tok.type == "heading_open" and i + 1 < len(tokens) and tokens[i + 1].type == "inline":
                inline = tokens[i + 1]
                m = _HEADING_ID_RE.search(inline.content)
                if m:
                    tok.attrSet("id", m.group("id"))
                    inline.content = inline.content[: m.start()]

    md.core.ruler.before("inline", "heading_id", rule)


def make_parser() -> MarkdownIt:
    """CommonMark with front matter and heading ids: the tokenizer every guide is read with."""
    return MarkdownIt("commonmark").use(front_matter_plugin).use(heading_id_plugin)


_MD = make_parser()


_TEXT_PROMPT_RE = re.compile(r"^[%$] \S")
"""A ``text`` block whose first line is a command at a ``%``/``$`` prompt is a console block."""


@dataclass(slots=True)
class Inline:
    """The text of a heading or paragraph, in the forms later stages read."""

    raw: str
    """Markdown source (backticks kept)."""
    text: str
    """Plain text with inline code kept in backticks, links reduced to their text."""
    plain: str
    """Plain text without backticks."""
    links: list[str] = field(default_factory=list)
    """Every link target, in order."""
    link_text: str = ""
    """The text of the first link (inline code in backticks)."""


@dataclass(slots=True)
class Node:
    """One block of the guide."""

    kind: NodeKind
    span: Span
    depth: int = 0
    """List nesting: 0 outside lists, 1 in the items of a top-level list, 2 in a list inside those …"""
    list: int | None = None
    """Which top-level list holds the node (0, 1 … in document order); for ``list`` its own number."""
    inline: Inline | None = None
    """Headings and paragraphs: their text."""
    level: int = 0
    """Headings: 1 for ``#`` …"""
    anchor: str | None = None
    """Headings: the ``{#id}``."""
    lang: str = ""
    """Fences: the info string's first word, lower case (``""`` for indented code)."""
    code: str = ""
    """Fences: the code; HTML and front matter: their source."""
    first_line: int = 0
    """Fences: the line of the first line of code."""
    ordered: bool = False
    """Lists: numbered."""
    start: int = 1
    """Ordered lists: the first item's number."""


@dataclass(slots=True)
class Outline:
    """A guide as a flat sequence of blocks."""

    file: str
    text: str
    lines: int
    """Number of lines (``text.split("\\n")``)."""
    title: str
    """The front matter's ``title:``, else the first level-1 heading."""
    nodes: list[Node]


def outline(text: str, file: str, problems: Problems) -> Outline:
    """The blocks of ``text`` in document order; unclosed fences are fatal problems."""
    tokens = _MD.parse(text)
    lines = text.split("\n")
    nodes: list[Node] = []
    title = ""
    depth = 0
    lists = 0
    current: int | None = None
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        kind = tok.type
        if kind == "paragraph_open" or kind == "heading_open":
            inline = _inline(tokens[i + 1])
            m = tok.map or [0, 1]
            node = Node("paragraph", Span(file, m[0] + 1, m[1] if m[1] > m[0] else m[0] + 1), depth, current, inline)
            if kind == "heading_open":
                node.kind, node.level = "heading", int(tok.tag[1:])
                hid = tok.attrGet("id")
                node.anchor = hid if isinstance(hid, str) else None
                if node.level == 1 and not title:
                    title = inline.text
            nodes.append(node)
            i += 3
            continue
        if kind == "bullet_list_open" or kind == "ordered_list_open":
            if depth == 0:
                current, lists = lists, lists + 1
                start = tok.attrGet("start")
                number = int(start) if isinstance(start, (int, str)) and str(start).isdigit() else 1
                nodes.append(Node("list", _span(tok, file), 0, current, ordered=kind == "ordered_list_open",
                                  start=number))
            depth += 1
        elif kind == "bullet_list_close" or kind == "ordered_list_close":
            depth -= 1
            if depth == 0:
                current = None
        elif kind == "fence" or kind == "code_block":
            m = tok.map or [0, 1]
            if kind == "fence" and tok.map:
                _check_closed(lines, m[0], m[1], file, problems)
            info = (tok.info or "").strip().split()
            lang = info[0].lower() if info else ""
            if lang == "text" and _TEXT_PROMPT_RE.match(tok.content.lstrip("\n")):
                lang = "console"  # older guides: commands in a text block, typed at `%` or `$` prompts
            nodes.append(Node("fence", Span(file, m[0] + 1, m[1]), depth, current, lang=lang,
                              code=tok.content, first_line=m[0] + 2 if kind == "fence" else m[0] + 1))
        elif kind == "html_block":
            nodes.append(Node("html", _span(tok, file), depth, current, code=tok.content))
        elif kind == "front_matter":
            nodes.append(Node("front_matter", _span(tok, file), code=tok.content))
            m_title = _TITLE_RE.search(tok.content)
            if m_title and not title:
                title = m_title.group(1).strip().strip("'\"")
        i += 1
    return Outline(file, text, len(lines), title, nodes)


def _span(tok: Token, file: str) -> Span:
    m = tok.map or [0, 1]
    return Span(file, m[0] + 1, max(m[0] + 1, m[1]))


def _inline(tok: Token) -> Inline:
    text: list[str] = []
    plain: list[str] = []
    links: list[str] = []
    link_text: list[str] = []
    in_link = 0  # 1 inside the first link, 2 after it
    for child in tok.children or []:
        kind = child.type
        if kind == "text":
            text.append(child.content)
            plain.append(child.content)
            if in_link == 1:
                link_text.append(child.content)
        elif kind == "code_inline":
            text.append(f"`{child.content}`")
            plain.append(child.content)
            if in_link == 1:
                link_text.append(f"`{child.content}`")
        elif kind == "softbreak" or kind == "hardbreak":
            text.append(" ")
            plain.append(" ")
        elif kind == "link_open":
            href = child.attrGet("href")
            if isinstance(href, str):
                links.append(href)
            if in_link == 0:
                in_link = 1
        elif kind == "link_close" and in_link == 1:
            in_link = 2
    return Inline(tok.content, "".join(text).strip(), "".join(plain).strip(), links, "".join(link_text).strip())


def _check_closed(lines: list[str], start: int, end: int, file: str, problems: Problems) -> None:
    """A fence that runs to the end of the file without its closing marker is fatal."""
    opening = lines[start].lstrip()
    marker = opening[0] * (len(opening) - len(opening.lstrip(opening[0])))
    last = lines[end - 1].strip() if end - 1 < len(lines) else ""
    closed = end - 1 > start and last.startswith(marker) and set(last) <= {marker[0]}
    if not closed:
        problems.fail(
            "unclosed-fence",
            f"the code block opened here with {marker!r} is never closed (it runs to the end of the file)",
            Span(file, start + 1, start + 1),
        )
        return
    for i in range(start + 1, end - 1):  # closed only by the fence of a later block: its own is missing
        inner = lines[i].strip()
        if inner.startswith(marker) and not inner.startswith(marker + marker[0]) and inner[len(marker):].strip():
            problems.fail(
                "unclosed-fence",
                f"the code block opened here with {marker!r} is not closed before line {i + 1}, where another "
                f"block opens ({inner!r}): its closing {marker!r} is missing, so what follows is read as code",
                Span(file, start + 1, start + 1),
            )
            return
