"""Stage prose: what a step's paragraphs say (labels, scope phrases, annotations, edit markers,
paths) and the roles of the prose outside the steps."""

from __future__ import annotations

from read_helpers import para, replication_env, span

from runbook import lexicon as lexicons
from runbook.read.frame import frame
from runbook.read.outline import Node, outline
from runbook.read.problems import Problems
from runbook.read.prose import Cues, page_prose
from runbook.read.shape import shape

JA = lexicons.load("ja")
EN = lexicons.load("en")


def _cues() -> tuple[Cues, Problems]:
    problems = Problems()
    return Cues(replication_env(), JA, problems), problems


def _said(text: str, **kw: object) -> tuple[str, str, list[str], str, str | None]:
    cues, _ = _cues()
    cue = cues.paragraph(para(text, **kw))  # type: ignore[arg-type]
    assert cue.prose is not None
    return cue.kind, cue.prose.role, cue.hosts, cue.source, cue.path


def test_a_label_names_a_host_or_a_group() -> None:
    assert _said("スタンバイ1：") == ("hosts", "label", ["standby1"], "label", None)
    assert _said("スタンバイ：") == ("hosts", "label", ["standby1", "standby2"], "label", None)


def test_a_label_of_a_known_role_but_no_such_host_is_fatal() -> None:
    cues, problems = _cues()
    cue = cues.paragraph(para("スタンバイ3：", line=7))
    assert cue.kind == "text" and cue.prose is not None and cue.prose.role == "label"
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("unknown-host-label", 7)]
    assert "スタンバイ2" in problems.fatal[0].message


def test_scope_phrases_read_only_the_first_sentence() -> None:
    assert _said("スタンバイ2とプライマリーで次を実行します。")[:3] == ("hosts", "scope", ["primary", "standby2"])
    assert _said("プライマリーでだけ実行します。")[:3] == ("hosts", "scope", ["primary"])
    assert _said("説明です。プライマリーで実行します。")[:2] == ("text", "paragraph")


def test_edit_markers_and_paths() -> None:
    assert _said("変更前：")[:2] == ("before", "marker")
    assert _said("変更後")[:2] == ("after", "marker")
    path = "/etc/postgresql/15/main/postgresql.conf"
    assert _said(f"`{path}`：") == ("path", "path", [], "prose", path)


def test_annotation_overrides_and_wrong_names_are_fatal() -> None:
    cues, problems = _cues()
    ok = cues.html(Node("html", span(3), code="<!-- runbook: hosts=standbys, primary -->\n"))
    assert (ok.kind, ok.hosts, ok.source) == ("hosts", ["primary", "standby1", "standby2"], "annotation")
    bad = cues.html(Node("html", span(5), code="<!-- runbook: hosts=standby9 -->\n"))
    assert bad.prose is None and bad.kind == "text"
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("unknown-host-annotation", 5)]
    other = cues.html(Node("html", span(8), code="<div>x</div>\n"))
    assert other.prose is not None and (other.kind, other.prose.role) == ("text", "html")


def test_heading_scope_leaves_the_tag_out() -> None:
    cues, _ = _cues()
    node = para("[固有] スタンバイでWALを確認", 1)
    assert cues.heading(node) == ["standby1", "standby2"]


def test_no_environment_no_scope() -> None:
    from runbook.read.hosts import Environment

    assert Cues(Environment(), JA, Problems()).scope("プライマリーで実行します。") is None


def test_page_prose_roles_outside_the_steps() -> None:
    text = """\
# Guide

Intro paragraph.

## Summary

1. [normal] [Step](#s)

This document uses the following environment:

- Primary:
  - IP address: 192.168.0.30

## [normal] Step {#s}

In the step: not page prose.

## After

- a list item
"""
    problems = Problems()
    doc = outline(text, "t.md", problems)
    front = frame(doc, EN)
    got = [(p.role, p.text, p.links) for p in page_prose(doc, front, shape(doc, front, EN, problems))]
    assert got == [
        ("heading", "Guide", []),
        ("paragraph", "Intro paragraph.", []),
        ("heading", "Summary", []),
        ("overview", "[normal] Step", ["#s"]),
        ("environment", "This document uses the following environment:", []),
        ("environment", "Primary:", []),
        ("environment", "IP address: 192.168.0.30", []),
        ("heading", "After", []),
        ("list", "a list item", []),
    ]
