"""Stage shape: which kind of page, its steps (from tags and overview links) and their sections."""

from __future__ import annotations

import pytest

from runbook import lexicon as lexicons
from runbook.read import shape as shapes
from runbook.read.frame import Frame, frame
from runbook.read.outline import Outline, outline
from runbook.read.problems import Problems
from runbook.read.shape import Page, Section, shape

EN = lexicons.load("en")

GUIDE = """\
# Guide

## Summary

1. [normal] [Install it](#install)
2. [special] [Linked, untagged](#linked)

## [normal] Install {#install}

text

## Linked, untagged {#linked}

### a sub-heading stays in the step

## Not a step

## [normal] No id here
"""


def _shape(text: str) -> tuple[Outline, Frame, Page, Problems]:
    problems = Problems()
    doc = outline(text, "t.md", problems)
    front = frame(doc, EN)
    return doc, front, shape(doc, front, EN, problems), problems


def test_tagged_and_linked_headings_are_steps() -> None:
    _, _, page, _ = _shape(GUIDE)
    assert page.kind == "guide"
    assert [(s.id, s.tag, s.title) for s in page.steps] == [
        ("install", "normal", "Install"), ("linked", None, "Linked, untagged"), ("no-id-here", "normal", "No id here")]


def test_sections_cover_the_page_in_order() -> None:
    doc, _, page, _ = _shape(GUIDE)
    heads = [(s.step.id if s.step else None, doc.nodes[s.start].inline.text) for s in page.sections]  # type: ignore[union-attr]
    assert heads == [(None, "Guide"), ("install", "[normal] Install"), ("linked", "Linked, untagged"),
                     (None, "Not a step"), ("no-id-here", "[normal] No id here")]
    assert page.sections[0].start == 0 and page.sections[-1].end == len(doc.nodes)
    assert all(a.end == b.start for a, b in zip(page.sections, page.sections[1:], strict=False))


def test_overview_numbers_and_titles_steps_and_checks_tags() -> None:
    _, _, page, problems = _shape(GUIDE)
    install, linked, no_id = page.steps
    assert (install.number, install.overview_title, linked.number) == (1, "Install it", 2)
    assert no_id.number is None
    assert [(f.rule, f.span.line) for f in problems.defects] == [("step-without-id", 18)]
    assert problems.fatal == []


def test_overview_tag_against_heading_tag() -> None:
    text = "## Summary\n\n1. [special] [x](#x)\n\n## [normal] X {#x}\n"
    _, _, _, problems = _shape(text)
    assert [(f.rule, f.severity, f.span.line) for f in problems.defects] == [("overview-tag-mismatch", "error", 3)]


def test_missing_anchor_and_duplicate_id_are_fatal() -> None:
    text = "## Summary\n\n1. [normal] [x](#gone)\n\n## [normal] A {#a}\n\n## [normal] B {#a}\n"
    _, _, _, problems = _shape(text)
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("duplicate-step-id", 7), ("missing-anchor", 3)]
    assert "steps: a" in problems.fatal[1].message


def test_page_without_steps_is_not_executable() -> None:
    doc, _, page, problems = _shape("# Just prose\n\n## A heading\n\ntext\n")
    assert page.kind == "not-executable" and page.steps == []
    assert page.sections == [Section(None, 0, len(doc.nodes))]
    # the shape is a classification; reading such a page as a guide fails (tests/test_read_pages.py)
    assert problems.fatal == []


def test_a_new_shape_is_one_function_in_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shape tried before the others decides when it returns sections; one that returns None leaves
    no trace (its problems are dropped)."""
    def declines(doc: Outline, front: Frame, lex: object, problems: Problems) -> list[Section] | None:
        problems.fail("never-seen", "a declining shape's problems are dropped", doc.nodes[0].span)
        return None

    def whole_page(doc: Outline, front: Frame, lex: object, problems: Problems) -> list[Section] | None:
        return [Section(None, 0, len(doc.nodes))]

    monkeypatch.setattr(shapes, "SHAPES", [("examples", declines), ("untagged-guide", whole_page), *shapes.SHAPES])
    _, _, page, problems = _shape("# T\n\n## [normal] A {#a}\n")
    assert page.kind == "untagged-guide" and page.steps == []
    assert problems.fatal == [] and problems.defects == []
