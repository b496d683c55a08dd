"""Shape stage: the outline -> which kind of page this is, and its steps.

Each page shape is a small function, tried in the order of :data:`SHAPES` (as markdown-it-py tries its
block rules); the first that finds steps decides. A new kind of page is a new function in the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..lexicon import Lexicon
from ..model import Shape, Span, Step
from .frame import Entry, Frame
from .outline import Node, Outline
from .problems import Problems


@dataclass(slots=True)
class Section:
    """A stretch of the page: a step's heading and what follows it, or prose outside every step."""

    step: Step | None
    start: int
    """Position in ``Outline.nodes`` of the first node (for a step: its heading)."""
    end: int
    """Position after the last node."""


@dataclass(slots=True)
class Page:
    """The page's shape and its sections, in document order, covering every node."""

    kind: Shape
    """The graph's ``shape``: ``guide`` (tagged steps), ``not-executable`` …"""
    sections: list[Section]

    @property
    def steps(self) -> list[Step]:
        return [s.step for s in self.sections if s.step is not None]


ShapeRule = Callable[[Outline, Frame, Lexicon, Problems], "list[Section] | None"]
"""A page shape: the page's sections if the page has this shape (problems only then), else None."""


def shape(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> Page:
    """The first shape of :data:`SHAPES` that fits; its steps numbered and titled from the overview."""
    for kind, rule in SHAPES:
        trial = Problems()
        sections = rule(doc, frame, lex, trial)
        if sections is not None:
            problems.extend(trial)
            found = Page(kind, sections)
            _number(found.steps, frame.overview, problems)
            return found
    raise AssertionError("the last shape fits every page")


# -- the shapes --------------------------------------------------------------------------------


def tagged_guide(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> list[Section] | None:
    """A step is a level-2 heading with a tag (``## [通常] title {#id}``) or one the overview links to;
    it runs to the next heading of level 1 or 2."""
    anchors = {e.anchor for e in frame.overview}
    steps: list[Step] = []
    sections = [Section(None, 0, len(doc.nodes))]
    for i, node in enumerate(doc.nodes):
        if node.kind != "heading" or node.level > 2 or frame.owns(node):
            continue
        step = _tagged_step(node, anchors, steps, lex, problems) if node.level == 2 else None
        if step is None and sections[-1].step is None:
            continue
        sections[-1].end = i
        sections.append(Section(step, i, len(doc.nodes)))
    if not steps:
        return None
    return [s for s in sections if s.start < s.end or s.step is not None]


def not_executable(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> list[Section] | None:
    """Any other page: no steps, which stops it from being read."""
    problems.fail(
        "no-steps",
        "no steps found: a step is a level-2 heading with a tag such as "
        f"'## [{next(iter(lex.tags), '…')}] title {{#id}}' or one the overview links to",
        Span(doc.file, 1, 1),
    )
    return [Section(None, 0, len(doc.nodes))]


SHAPES: list[tuple[Shape, ShapeRule]] = [
    ("guide", tagged_guide),
    ("not-executable", not_executable),
]


# -- helpers -----------------------------------------------------------------------------------


def _tagged_step(node: Node, anchors: set[str], steps: list[Step], lex: Lexicon, problems: Problems) -> Step | None:
    inline = node.inline
    assert inline is not None
    if lex.is_overview_heading(inline.text):
        return None
    tag, rest = lex.split_tag(inline.text)
    hid = node.anchor
    if tag is None and (hid is None or hid not in anchors):
        return None
    title = rest if tag else inline.text
    if hid is None:
        hid = re.sub(r"[^\w]+", "-", title.casefold()).strip("-") or f"step-{len(steps) + 1}"
        problems.defect("step-without-id", "warning", f"step heading has no {{#id}}; using {hid!r}", node.span)
    if any(s.id == hid for s in steps):
        problems.fail("duplicate-step-id", f"step id {hid!r} is used twice", node.span)
    step = Step(id=hid, number=None, tag=tag, title=title.strip(), overview_title=None, span=node.span)
    steps.append(step)
    return step


def _number(steps: list[Step], overview: list[Entry], problems: Problems) -> None:
    """Give each step its overview number and title; an overview link to no step is fatal."""
    by_id = {s.id: s for s in steps}
    for entry in overview:
        step = by_id.get(entry.anchor)
        if step is None:
            ids = ", ".join(by_id) or "none"
            problems.fail("missing-anchor",
                          f"overview links to #{entry.anchor}, but no step has that id (steps: {ids})", entry.span)
            continue
        step.number = entry.number
        step.overview_title = entry.title
        step.overview_span = entry.span
        if entry.tag is not None and step.tag is not None and entry.tag != step.tag:
            problems.defect("overview-tag-mismatch", "error",
                            f"overview tags step #{entry.anchor} as {entry.tag}, its heading as {step.tag}",
                            entry.span)
