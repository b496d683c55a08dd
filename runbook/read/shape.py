"""Shape stage: the outline -> which kind of page this is, and its steps.

Each page shape is a small function, tried in the order of :data:`SHAPES` (as markdown-it-py tries its
block rules); the first that finds steps decides. A new kind of page is a new function in the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..kinds import Severity, Shape
from ..lexicon import Lexicon
from ..model import Span, Step
from .frame import Entry, Frame
from .languages import EXECUTABLE, SQL_LANGS, has_commands
from .outline import Node, Outline
from .problems import Problems
from .sql import is_syntax


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


def examples(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> list[Section] | None:
    """A page of SQL examples (a reference page): untagged steps (see :func:`untagged_guide`), no
    environment list, and every block that runs is SQL.  It runs on one implicit database server."""
    if frame.environment:
        return None
    runnable = [n for n in doc.nodes if runs(n) and not frame.owns(n)]
    if not runnable or any(n.lang not in SQL_LANGS for n in runnable):
        return None
    return untagged_guide(doc, frame, lex, problems)


def untagged_guide(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> list[Section] | None:
    """A step is a level-2 heading that holds a block to run (before its first level-3 heading); under
    a level-2 heading that holds none itself, each level-3 heading that holds one.  A step runs to the
    next heading of its level or above; blocks to run under the level-1 heading, before the first
    level-2 one, are a step of their own.  Its id is the heading's ``{#id}``, else a slug of its text."""
    nodes = doc.nodes
    heads = [i for i, n in enumerate(nodes) if n.kind == "heading" and not frame.owns(n)]
    if any(nodes[i].level == 2 and _BRACKET_RE.match(_text(nodes[i])) for i in heads):
        return None  # "## [通常] …" read with another language's lexicon: a tagged guide it cannot read

    def end_of(i: int, level: int) -> int:
        return next((j for j in heads if j > i and nodes[j].level <= level), len(nodes))

    def holds(a: int, b: int) -> bool:
        return any(runs(n) and not frame.owns(n) for n in nodes[a:b])

    chosen: list[tuple[int, int]] = []
    for i in heads:
        node = nodes[i]
        if node.level == 1:
            stop = next((j for j in heads if j > i and nodes[j].level <= 2), len(nodes))
            if holds(i + 1, stop):
                chosen.append((i, stop))
        elif node.level == 2:
            end = end_of(i, 2)
            first3 = next((j for j in heads if i < j < end and nodes[j].level == 3), end)
            if holds(i + 1, first3):
                chosen.append((i, end))
                continue
            for j in heads:
                if i < j < end and nodes[j].level == 3 and holds(j + 1, end_of(j, 3)):
                    chosen.append((j, end_of(j, 3)))
    if not chosen:
        return None
    steps: list[Step] = []
    sections: list[Section] = []
    at = 0
    for start, end in chosen:
        if at < start:
            sections.append(Section(None, at, start))
        sections.append(Section(_untagged_step(nodes[start], steps), start, end))
        at = end
    if at < len(nodes):
        sections.append(Section(None, at, len(nodes)))
    return sections


def not_executable(doc: Outline, frame: Frame, lex: Lexicon, problems: Problems) -> list[Section] | None:
    """Any other page: no steps.  Read on its own (``runbook parse FILE``), it is an error
    (``no-steps``); in a site, it is classified as not executable (see :func:`no_steps`)."""
    return [Section(None, 0, len(doc.nodes))]


def no_steps(doc: Outline, lex: Lexicon, problems: Problems) -> None:
    """The fatal problem of a page with nothing to run, when it was given as a guide."""
    problems.fail(
        "no-steps",
        "no steps found: a step is a level-2 heading with a tag such as "
        f"'## [{next(iter(lex.tags), '…')}] title {{#id}}' or one the overview links to, or, on a page "
        "without tags, a heading that holds a shell, console or SQL block",
        Span(doc.file, 1, 1),
    )


_BRACKET_RE = re.compile(r"^\[[^\]]+\]\s")

SHAPES: list[tuple[Shape, ShapeRule]] = [
    (Shape.GUIDE, tagged_guide),
    (Shape.EXAMPLES, examples),
    (Shape.UNTAGGED_GUIDE, untagged_guide),
    (Shape.NOT_EXECUTABLE, not_executable),
]


def runs(node: Node) -> bool:
    """The node is a block to run: shell or console with a command in it, or SQL that is not only a
    syntax (a block with nothing to run is shown, never an action without commands)."""
    if node.kind != "fence" or node.lang not in EXECUTABLE:
        return False
    if node.lang in SQL_LANGS:
        return not is_syntax(node.code)
    return has_commands(node.lang, node.code)


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
        problems.defect("step-without-id", Severity.WARNING, f"step heading has no {{#id}}; using {hid!r}", node.span)
    if any(s.id == hid for s in steps):
        problems.fail("duplicate-step-id", f"step id {hid!r} is used twice", node.span)
    step = Step(id=hid, number=None, tag=tag, title=title.strip(), overview_title=None, span=node.span)
    steps.append(step)
    return step


def _text(node: Node) -> str:
    return node.inline.text if node.inline is not None else ""


def _untagged_step(node: Node, steps: list[Step]) -> Step:
    inline = node.inline
    assert inline is not None
    base = node.anchor or slug(inline.plain) or f"step-{len(steps) + 1}"
    hid, n = base, 1
    while any(s.id == hid for s in steps):
        n += 1
        hid = f"{base}-{n}"
    step = Step(id=hid, number=None, tag=None, title=inline.text, overview_title=None, span=node.span)
    steps.append(step)
    return step


def slug(text: str) -> str:
    """A heading's id when it has no ``{#id}``: its words (any script) in lower case, joined by ``-``."""
    return re.sub(r"[^\w]+", "-", text.casefold()).strip("-")


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
            problems.defect("overview-tag-mismatch", Severity.ERROR,
                            f"overview tags step #{entry.anchor} as {entry.tag}, its heading as {step.tag}",
                            entry.span)
