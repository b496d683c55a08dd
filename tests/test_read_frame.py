"""Stage frame: the overview entries and the environment lists, from an outline."""

from __future__ import annotations

from runbook import lexicon as lexicons
from runbook.read.frame import Frame, frame
from runbook.read.outline import Outline, outline
from runbook.read.problems import Problems

EN = lexicons.load("en")

TEXT = """\
# Guide

1. An ordered list before the overview is no overview

## Summary

3. [normal] [Install PostgreSQL](#install)
4. [Configure `postgresql.conf`](#configure)
   1. [a nested item](#nested) is not an entry
5. [An outside link](https://example.com) keeps its number

This document uses the following environment:

- Primary:
  - IP address: 192.168.0.30

Some prose ends the list.

- A second list is not the environment
"""


def _frame(text: str = TEXT) -> tuple[Outline, Frame]:
    doc = outline(text, "t.md", Problems())
    return doc, frame(doc, EN)


def test_overview_entries_numbered_from_the_list_start() -> None:
    _, found = _frame()
    got = [(e.number, e.tag, e.title, e.anchor, e.span.line) for e in found.overview]
    assert got == [(3, "normal", "Install PostgreSQL", "install", 7),
                   (4, None, "Configure `postgresql.conf`", "configure", 8)]


def test_environment_is_the_first_list_after_the_introduction() -> None:
    doc, found = _frame()
    (nodes,) = found.environment
    texts = [(n.depth, n.inline.plain) for n in nodes if n.inline]
    assert texts == [(1, "Primary:"), (2, "IP address: 192.168.0.30")]
    intro = [doc.nodes[i].inline.text for i in sorted(found.intros)]  # type: ignore[union-attr]
    assert intro == ["This document uses the following environment:"]


def test_owned_lists_are_known_by_their_number() -> None:
    doc, found = _frame()
    assert sorted(found.lists.values()) == ["environment", "overview"]
    first_list = next(n for n in doc.nodes if n.kind == "list")
    assert not found.owns(first_list)
    last = doc.nodes[-1]
    assert last.inline is not None and last.inline.text == "A second list is not the environment"
    assert not found.owns(last)


def test_no_overview_heading_no_entries() -> None:
    _, found = _frame("# G\n\n1. [x](#x)\n")
    assert found.overview == [] and found.environment == []
