"""Stage outline: text -> a flat list of nodes with spans, list depths and the title."""

from __future__ import annotations

from helpers import line_of

from runbook.read.outline import Node, outline
from runbook.read.problems import Problems

TEXT = """\
---
title: "Front title"
---
# Heading one

## [通常] Step `one` {#step-one}

See [the `docs`](https://example.com/a) and [more](#b).

1. first
   - nested
3. second

```SQL extra
SELECT 1;
```

    indented code

<!-- runbook: hosts=primary -->
"""


def _nodes() -> tuple[list[Node], Problems, str]:
    problems = Problems()
    doc = outline(TEXT, "t.md", problems)
    return doc.nodes, problems, doc.title


def test_kinds_in_document_order() -> None:
    nodes, problems, _ = _nodes()
    assert [n.kind for n in nodes] == ["front_matter", "heading", "heading", "paragraph", "list", "paragraph",
                                       "paragraph", "paragraph", "fence", "fence", "html"]
    assert problems.fatal == []


def test_front_matter_title_wins_over_the_first_heading() -> None:
    assert _nodes()[2] == "Front title"
    assert outline("# Only heading\n\ntext\n", "t.md", Problems()).title == "Only heading"


def test_heading_id_and_inline_forms() -> None:
    nodes, _, _ = _nodes()
    step = nodes[2]
    assert (step.level, step.anchor, step.span.line) == (2, "step-one", line_of(TEXT, "## [通常] Step"))
    assert step.inline is not None
    assert step.inline.text == "[通常] Step `one`"
    assert step.inline.plain == "[通常] Step one"


def test_paragraph_links_and_first_link_text() -> None:
    inline = _nodes()[0][3].inline
    assert inline is not None
    assert inline.links == ["https://example.com/a", "#b"]
    assert inline.link_text == "the `docs`"
    assert inline.text == "See the `docs` and more."
    assert inline.raw == "See [the `docs`](https://example.com/a) and [more](#b)."


def test_list_marker_and_depths() -> None:
    nodes, _, _ = _nodes()
    marker, first, nested, second = nodes[4:8]
    assert (marker.ordered, marker.start, marker.list) == (True, 1, 0)
    assert [(n.depth, n.list) for n in (first, nested, second)] == [(1, 0), (2, 0), (1, 0)]
    assert nodes[8].list is None and nodes[8].depth == 0


def test_fences_keep_lang_code_and_first_code_line() -> None:
    nodes, _, _ = _nodes()
    fence, indented = nodes[8], nodes[9]
    opening = line_of(TEXT, "```SQL extra")
    assert (fence.lang, fence.code, fence.first_line) == ("sql", "SELECT 1;\n", line_of(TEXT, "SELECT 1;"))
    assert (fence.span.line, fence.span.end_line) == (opening, line_of(TEXT, "```", 2))
    assert (indented.lang, indented.code.strip(), indented.first_line) == ("", "indented code",
                                                                            line_of(TEXT, "    indented code"))


def test_html_block_keeps_its_source() -> None:
    assert _nodes()[0][10].code.strip() == "<!-- runbook: hosts=primary -->"


def test_unclosed_fence_is_fatal_at_its_opening_line() -> None:
    problems = Problems()
    text = "# T\n\ntext\n\n~~~bash\nls\n"
    doc = outline(text, "t.md", problems)
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("unclosed-fence", line_of(text, "~~~bash"))]
    assert "'~~~'" in problems.fatal[0].message
    assert doc.lines == 7
