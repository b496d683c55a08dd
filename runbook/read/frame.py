"""Frame stage: the outline -> the guide's overview and environment lists.

The overview is the ordered list of links to the steps under the overview heading; an environment
list is the first list after the lexicon's introduction paragraph. Every later stage reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..lexicon import Lexicon
from ..model import Span
from .outline import Node, Outline


@dataclass(slots=True)
class Entry:
    """An item of the overview list that links to an anchor of the page."""

    number: int
    tag: str | None
    """The item's ``[通常]`` tag, as the lexicon names it."""
    title: str
    """The link's text."""
    anchor: str
    """The link target without its ``#``."""
    span: Span


@dataclass(slots=True)
class Frame:
    """What the page says about itself before its steps."""

    overview: list[Entry] = field(default_factory=list)
    environment: list[list[Node]] = field(default_factory=list)
    """The nodes of each environment list (items at depth 1 are hosts, deeper ones their fields)."""
    lists: dict[int, Literal["overview", "environment"]] = field(default_factory=dict)
    """Top-level lists that are the overview or the environment (by their ``Node.list``)."""
    intros: set[int] = field(default_factory=set)
    """Positions (in ``Outline.nodes``) of the paragraphs that introduce an environment list."""

    def owns(self, node: Node) -> bool:
        """The node belongs to the overview or to an environment list (not to prose or a step)."""
        return node.list is not None and node.list in self.lists


def frame(doc: Outline, lex: Lexicon) -> Frame:
    """The overview lists (ordered lists under the overview heading) and the environment lists (the
    first top-level list after a paragraph that starts with the lexicon's introduction)."""
    found = Frame()
    in_overview = False
    expect_environment = False
    number = 1
    for i, node in enumerate(doc.nodes):
        if node.kind == "list":
            assert node.list is not None
            if in_overview and node.ordered:
                found.lists[node.list] = "overview"
                number = node.start
            elif expect_environment:
                expect_environment = False
                found.lists[node.list] = "environment"
                found.environment.append([])
        elif found.owns(node):
            if found.lists[node.list] == "environment":  # type: ignore[index]
                found.environment[-1].append(node)
            elif node.inline is not None and node.depth == 1:
                entry = _entry(node, number, lex)
                if entry is not None:
                    found.overview.append(entry)
                number += 1
        elif node.kind == "heading" and node.level <= 2:
            in_overview = node.level == 2 and lex.is_overview_heading(node.inline.text)  # type: ignore[union-attr]
        elif node.kind == "paragraph" and node.depth == 0 and lex.is_environment_intro(node.inline.text):  # type: ignore[union-attr]
            expect_environment = True
            found.intros.add(i)
    return found


def _entry(node: Node, number: int, lex: Lexicon) -> Entry | None:
    inline = node.inline
    assert inline is not None
    href = inline.links[0] if inline.links else None
    if not href or not href.startswith("#"):
        return None
    return Entry(number, lex.split_tag(inline.raw)[0], inline.link_text, href[1:], node.span)
