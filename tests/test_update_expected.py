"""``update_expected``: rewrite only a statement's ``-- `` lines, every other byte unchanged."""

from __future__ import annotations

import pytest
from conftest import SEED_EN, SEED_JA
from helpers import line_of

from runbook.errors import RunbookError
from runbook.model import Graph, Span, Statement
from runbook.parse import parse_text
from runbook.update_expected import Replacement, update_expected

# psql's aligned output as it prints it: the header is centred and padded with trailing spaces.
FLUSH_ACTUAL = [
    "                    command                    ",
    "-----------------------------------------------",
    " [[0,1700000000.1234,0.0012345678901234],true]",
    "(1 row)",
    "",
]


def statement(graph: Graph, action_id: str, index: int = 0) -> Statement:
    action = next(a for a in graph.actions() if a.id == action_id)
    return action.statements[index]


def replacement(st: Statement, actual: list[str]) -> Replacement:
    return Replacement(st.span, st.expected.span if st.expected else None, actual)


def test_one_expected_output_rewritten_everything_else_identical() -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    graph = parse_text(text, "guide.md")
    st = statement(graph, "flush-pgroonga-data-primary#1")
    assert st.expected is not None
    first, last = st.expected.span.line, st.expected.span.end_line
    new_text, diff = update_expected(text, [replacement(st, FLUSH_ACTUAL)])

    old_lines = text.split("\n")
    new_lines = new_text.split("\n")
    assert new_lines[: first - 1] == old_lines[: first - 1]
    assert new_lines[first - 1 : last] == [
        "--                     command                    ",  # trailing padding kept
        "-- -----------------------------------------------",
        "--  [[0,1700000000.1234,0.0012345678901234],true]",
        "-- (1 row)",
    ]
    assert new_lines[last:] == old_lines[last:]
    # byte for byte outside the replaced lines
    before = "\n".join(old_lines[: first - 1]) + "\n"
    after = "\n" + "\n".join(old_lines[last:])
    assert new_text.startswith(before) and new_text.endswith(after)
    assert len(new_text) - len(text) == len(" [[0,1700000000.1234,0.0012345678901234],true]") - len(
        " [[0,1478446349.2241,0.1413860321044922],true]"
    )

    assert diff.startswith("--- a/guide.md\n+++ b/guide.md\n")
    assert "\n---  [[0,1478446349.2241,0.1413860321044922],true]\n" in diff
    assert "\n+--  [[0,1700000000.1234,0.0012345678901234],true]\n" in diff
    body = diff.splitlines()[2:]  # after the ---/+++ header
    assert [ln[0] for ln in body if ln[:1] in ("+", "-")] == ["-", "+"]

    # the guide still reads, with the new expected output
    new_graph = parse_text(new_text, "guide.md")
    new_st = statement(new_graph, "flush-pgroonga-data-primary#1")
    assert new_st.expected is not None
    assert new_st.expected.rows == [["[[0,1700000000.1234,0.0012345678901234],true]"]]
    assert new_st.expected.columns == ["command"] and new_st.expected.row_count == 1


def test_malformed_block_is_rewritten_in_the_guides_layout() -> None:
    # start-standbys#4 has a line starting with "-" instead of "-- " (the parser reads it anyway)
    text = SEED_JA.read_text(encoding="utf-8")
    graph = parse_text(text, "guide.ja.md")
    st = statement(graph, "start-standbys#4")
    assert st.expected is not None and text.split("\n")[st.expected.span.line - 1].startswith("-  ")
    actual = [
        "             title              ",
        "-------------------------------",
        " PGroonga and replication",
        " PostgreSQL 15 and replication",
        "(2 rows)",
    ]
    new_text, _ = update_expected(text, [replacement(st, actual)])
    first = st.expected.span.line
    assert new_text.split("\n")[first - 1] == "--              title              "
    assert not parse_text(new_text, "guide.ja.md").findings


def test_insert_when_the_guide_shows_no_output() -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    graph = parse_text(text, "guide.md")
    st = statement(graph, "create-pgroonga-index-primary#4", 0)  # SET enable_seqscan TO off;
    assert st.sql == "SET enable_seqscan TO off;" and st.expected is None
    new_text, diff = update_expected(text, [replacement(st, ["SET"])])
    old_lines, new_lines = text.split("\n"), new_text.split("\n")
    line = st.span.end_line
    assert new_lines[:line] == old_lines[:line]
    assert new_lines[line] == "-- SET"
    assert new_lines[line + 1 :] == old_lines[line:]
    assert [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")] == ["+-- SET"]
    new_st = statement(parse_text(new_text, "guide.md"), "create-pgroonga-index-primary#4", 0)
    assert new_st.expected is not None and new_st.expected.tag == "SET"


def test_several_replacements_at_once() -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    graph = parse_text(text, "guide.md")
    flush = statement(graph, "flush-pgroonga-data-primary#1")
    seqscan = statement(graph, "create-pgroonga-index-primary#4", 0)
    new_text, _ = update_expected(text, [replacement(flush, FLUSH_ACTUAL), replacement(seqscan, ["SET"])])
    new_graph = parse_text(new_text, "guide.md")
    assert statement(new_graph, "create-pgroonga-index-primary#4", 0).expected is not None
    exp = statement(new_graph, "flush-pgroonga-data-primary#1").expected
    assert exp is not None and exp.rows == [["[[0,1700000000.1234,0.0012345678901234],true]"]]
    assert len(new_text.split("\n")) == len(text.split("\n")) + 1


def test_crlf_file_keeps_crlf() -> None:
    text = SEED_EN.read_text(encoding="utf-8").replace("\n", "\r\n")
    graph = parse_text(text, "guide.md")
    st = statement(graph, "flush-pgroonga-data-primary#1")
    assert st.expected is not None
    new_text, diff = update_expected(text, [replacement(st, FLUSH_ACTUAL)])
    assert "\n" not in new_text.replace("\r\n", "")
    old_lines, new_lines = text.split("\r\n"), new_text.split("\r\n")
    first, last = st.expected.span.line, st.expected.span.end_line
    assert new_lines[: first - 1] == old_lines[: first - 1] and new_lines[last:] == old_lines[last:]
    assert new_lines[first - 1] == "--                     command                    "
    assert "\r" not in diff


def test_indented_block_and_no_final_newline() -> None:
    text = "```sql\n  SELECT 1 AS n;\n  --  n\n  -- ---\n  --  1\n  -- (1 row)\n```"
    st = Statement("SELECT 1 AS n;", Span("t.md", 2, 2))
    exp = Span("t.md", 3, 6)
    new_text, _ = update_expected(text, [Replacement(st.span, exp, [" n ", "---", " 2", "(1 row)"])])
    assert new_text == "```sql\n  SELECT 1 AS n;\n  --  n \n  -- ---\n  --  2\n  -- (1 row)\n```"


def test_no_replacement_no_change() -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    assert update_expected(text, []) == (text, "")


FLUSH = "SELECT pgroonga_command('io_flush') AS command;"
AT = line_of(SEED_EN, FLUSH)
"""The line of a statement of the seed followed by its expected output (found in the text)."""


@pytest.mark.parametrize(
    "statement_span,expected_span,message",
    [
        (Span("g.md", AT, AT), Span("g.md", AT - 1, AT + 1), "do not follow the statement"),
        (Span("g.md", AT, AT), Span("g.md", AT + 1, AT + 5), "not an expected-output comment line"),
        (Span("g.md", 9000, 9000), None, "outside the file"),
    ],
)
def test_bad_spans_are_refused(statement_span: Span, expected_span: Span | None, message: str) -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    assert text.split("\n")[AT - 1] == FLUSH and len(text.split("\n")) < 9000
    with pytest.raises(RunbookError, match=message):
        update_expected(text, [Replacement(statement_span, expected_span, ["x"])])


def test_overlapping_replacements_are_refused() -> None:
    text = SEED_EN.read_text(encoding="utf-8")
    r = Replacement(Span("g.md", 302, 302), Span("g.md", 303, 306), ["x"])
    with pytest.raises(RunbookError, match="two replacements"):
        update_expected(text, [r, r])


def test_pasted_output_is_rewritten_as_pasted() -> None:
    """Output a page pastes without ``-- `` is written back without ``-- ``, and reads back the same."""
    text = ("# P\n\n## A\n\n```sql\nCREATE TABLE t (i int);\nSELECT count(*) FROM t;\n count\n-------\n     1\n"
            "(1 row)\n\nSELECT 2;\n```\n")
    graph = parse_text(text, "p.en.md", "en")
    st = graph.actions()[0].statements[1]
    assert st.expected is not None and st.expected.pasted
    actual = [" count ", "-------", "     0", "(1 row)", ""]
    new, diff = update_expected(text, [Replacement(st.span, st.expected.span, actual, pasted=True)])
    assert new == text.replace("     1\n", "     0\n").replace(" count\n", " count \n")
    assert not any(ln.startswith("-- ") for ln in new.split("\n")) and "+     0" in diff.split("\n")
    again = parse_text(new, "p.en.md", "en").actions()[0].statements
    assert [s.sql for s in again] == ["CREATE TABLE t (i int);", "SELECT count(*) FROM t;", "SELECT 2;"]
    assert again[1].expected is not None and again[1].expected.rows == [["0"]]
    with pytest.raises(RunbookError):  # told it is a comment block, the pasted lines are refused
        update_expected(text, [Replacement(st.span, st.expected.span, actual)])


def test_pasted_output_in_an_indented_block_keeps_the_blocks_indent() -> None:
    """A block in a list item: psql's lines are written at the fence's indent, so the block still
    closes and the page reads back with the new output (found by tests/test_properties_update_expected.py)."""
    text = ("# P\n\n## A\n\n1. Run:\n\n   ```sql\n   SELECT 1 AS a;\n    a\n   ---\n    5\n   (1 row)\n   SELECT 2;\n"
            "   ```\n\nAfter.\n")
    graph = parse_text(text, "p.en.md", "en")
    st = graph.actions()[0].statements[0]
    assert st.expected is not None and st.expected.pasted and st.expected.rows == [["5"]]
    new, _ = update_expected(text, [Replacement(st.span, st.expected.span, [" a ", "---", " 1", "(1 row)", ""],
                                                pasted=True)])
    assert new == text.replace("    5\n", "    1\n").replace("    a\n", "    a \n")
    again = parse_text(new, "p.en.md", "en")
    assert again.findings == [] and [s.sql for s in again.actions()[0].statements] == ["SELECT 1 AS a;", "SELECT 2;"]
    expected = again.actions()[0].statements[0].expected
    assert expected is not None and expected.rows == [["1"]]


def test_pasted_expanded_output_is_followed_by_a_blank_line_before_the_next_statement() -> None:
    """psql's expanded display has no ``(N rows)``: pasted, it ends at a blank line, so one is written
    between it and the next statement (else the reader takes the statement for a row of the output;
    found by tests/test_properties_update_expected.py)."""
    text = "# P\n\n## A\n\n```sql\nSELECT 1 AS a;\n a\n---\n 5\n(1 row)\nSELECT 2;\n```\n"
    st = parse_text(text, "p.en.md", "en").actions()[0].statements[0]
    assert st.expected is not None and st.expected.pasted
    new, _ = update_expected(text, [Replacement(st.span, st.expected.span, ["-[ RECORD 1 ]", "a | 1", ""],
                                                pasted=True)])
    assert new == "# P\n\n## A\n\n```sql\nSELECT 1 AS a;\n-[ RECORD 1 ]\na | 1\n\nSELECT 2;\n```\n"
    again = parse_text(new, "p.en.md", "en").actions()[0].statements
    assert [s.sql for s in again] == ["SELECT 1 AS a;", "SELECT 2;"]
    assert again[0].expected is not None and again[0].expected.expanded and again[0].expected.rows == [["1"]]
    # an aligned table ends at its "(N rows)": nothing is added
    new, _ = update_expected(text, [Replacement(st.span, st.expected.span, [" a ", "---", " 1", "(1 row)"],
                                                pasted=True)])
    assert new == text.replace(" 5\n", " 1\n").replace(" a\n", " a \n")
