"""Example groups: where a page of SQL examples starts over (a block creating again what an earlier
block created), the page's prelude, and the blocks that cannot start afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.parse import parse_file, parse_text
from runbook.validate import graph_to_json

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "fixtures" / "pages"
CORPUS = ROOT.parent / "shared" / "corpus-sample"


def _line(path: Path, text: str, after: int = 0) -> int:
    """1-based line of the first line holding ``text`` after line ``after``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    return next(n for n, ln in enumerate(lines, 1) if n > after and text in ln)


def test_groups_begin_where_a_block_creates_again() -> None:
    path = PAGES / "start-over.en.md"
    graph = parse_file(path)
    data = graph_to_json(graph)  # the schema accepts the groups
    first_table = _line(path, "CREATE TABLE memos")
    second_table = _line(path, "CREATE TABLE memos", first_table)
    dropped = _line(path, "DROP TABLE IF EXISTS memos")
    assert [(g.number, g.span.line) for g in graph.example_groups] == [
        (1, first_table - 1), (2, second_table - 1), (3, dropped - 1)]
    assert graph.example_groups[1].reason == f"creates memos again (first created at line {first_table - 1})"
    assert graph.example_groups[2].reason.startswith("drops and creates memos again")
    assert len(data["example_groups"]) == 3
    by_line = {a.span.line: a.example_group for a in graph.actions()}
    prelude = _line(path, "CREATE EXTENSION") - 1
    reindex = _line(path, "DROP INDEX IF EXISTS") - 1
    replace = _line(path, "CREATE OR REPLACE FUNCTION memo_count() RETURNS bigint AS 'SELECT count(*) + 0") - 1
    # the page's prelude belongs to every group; the index rebuilt on the second example's table stays in
    # that example; CREATE OR REPLACE never begins a group
    assert by_line[prelude] is None
    assert by_line[reindex] == 2
    assert by_line[replace] == 3
    assert [by_line[line] for line in sorted(by_line)] == [None, 1, 1, 2, 2, 3, 3]


def test_a_block_that_needs_an_earlier_example_does_not_start_over() -> None:
    graph = parse_file(PAGES / "one-example.en.md")
    assert graph.example_groups == []
    assert all(a.example_group is None for a in graph.actions())
    assert "example_groups" not in graph_to_json(graph)


def test_a_page_of_one_example_has_no_groups() -> None:
    text = ("# One\n\n## A\n\n```sql\nCREATE TABLE t (i int);\n```\n\n## B\n\n```sql\nINSERT INTO t VALUES (1);\n"
            "CREATE INDEX t_i ON t (i);\n```\n")
    graph = parse_text(text, "one.en.md", "en")
    assert graph.shape == "examples" and graph.example_groups == []


def test_an_example_begins_with_the_blocks_it_needs() -> None:
    """A block makes ``groups`` again but needs ``names``, made by the block right before it after the
    first ``groups``: the new example begins at ``names``. A column or a string named like a table of
    the first example is no need of it."""
    fence = "`" * 3
    blocks = ["CREATE TABLE groups (synonyms text[]);\nCREATE TABLE synonyms (term text);",
              "SELECT f('groups', 'synonyms') FROM groups;",
              "CREATE TABLE names (name text);",
              "CREATE TABLE groups (synonyms text[]);\nINSERT INTO groups VALUES (ARRAY['x']);",
              "SELECT name FROM names, groups WHERE name = 'synonyms';"]
    text = "# P\n\n## A\n\n" + "\n".join(f"{fence}sql\n{b}\n{fence}\n" for b in blocks)
    graph = parse_text(text, "p.en.md", "en")
    lines = text.split("\n")
    names = lines.index("CREATE TABLE names (name text);")  # 0-based: the fence's 1-based line
    first = lines.index("CREATE TABLE groups (synonyms text[]);")  # 0-based: the first fence's 1-based line
    assert [g.span.line for g in graph.example_groups] == [first, names]
    again = lines.index("CREATE TABLE groups (synonyms text[]);", names)  # the fence's 1-based line
    assert graph.example_groups[1].reason == (f"the example whose block at line {again} creates groups again "
                                              f"(first created at line {first})")
    assert [a.example_group for a in graph.actions()] == [1, 1, 2, 2, 2]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")
@pytest.mark.parametrize(("page", "starts"), [
    # each example of these reference pages begins with its own CREATE TABLE
    ("reference/functions/pgroonga-match-positions-byte.md", ["CREATE TABLE memos", "CREATE TABLE memos"]),
    ("reference/operators/match-v2.md", ["CREATE TABLE memos", "DROP TABLE IF EXISTS memos"]),
    # the practical example begins with its names table, right before it makes synonym_groups again
    ("reference/functions/pgroonga-query-expand.md",
     ["CREATE TABLE synonyms", "CREATE TABLE synonyms", "CREATE TABLE names"]),
    # one example throughout: the index is dropped and rebuilt on the same table
    ("reference/operators/like.md", []),
    ("how-to/auto-complete.md", []),
])
def test_corpus_pages(page: str, starts: list[str]) -> None:
    for path in (CORPUS / page, CORPUS / "ja" / page):
        graph = parse_file(path)
        lines, after = [], 0
        for text in starts:
            after = _line(path, text, after)
            lines.append(after - 1)  # the fence's line: the block's span
        assert [g.span.line for g in graph.example_groups] == lines, path
        if starts:
            assert all(a.example_group is not None for a in graph.actions() if a.kind == "sql")


def test_plan_shows_a_line_per_group() -> None:
    from runner.planning.inventory import default_inventory
    from runner.planning.plan import build_plan
    from runner.planning.plan_view import format_plan

    graph = parse_file(PAGES / "start-over.en.md")
    plan = build_plan(graph, default_inventory(graph), create_cluster="x", pg_version="15")
    text = format_plan(plan).split("\n")
    shown = [x for x in text if "example group" in x]
    assert shown == [f"#   example group {g.number} begins (a fresh database): {g.reason}"
                     for g in graph.example_groups]
    second = graph.example_groups[1]
    at = next(k for k, x in enumerate(text) if x.startswith("### ") and x.endswith(f":{second.span.line})"))
    assert text[at + 1] == shown[1]
