"""psql output shapes a documentation page shows: multi-line cells, expanded display, notices, EXPLAIN plans.

What psql printed is in ``tests/fixtures/psql/`` (its README names each statement); the page texts
below are what a page shows for them, spaced as pages space them (trailing spaces dropped).
"""

from __future__ import annotations

from pathlib import Path

from runbook.model import Span
from runbook.psql_output import looks_like_output, parse_expected, parse_output
from runner.running.compare import compare_output, plan_shape

SPAN = Span("page.md", 1, 1)


def lines(text: str) -> list[str]:
    return text.strip("\n").split("\n")


def guide(text: str) -> list[str]:
    """A page's ``-- `` lines with the prefix removed, as the parser hands them over."""
    return [ln[3:] if ln.startswith("-- ") else ln[2:] for ln in lines(text)]


PSQL = Path(__file__).resolve().parent / "fixtures" / "psql"
JSONB_PRETTY = (PSQL / "jsonb-pretty.out").read_text(encoding="utf-8")
MULTI_LINE_CELL = (PSQL / "multi-line-cell.out").read_text(encoding="utf-8")
EXPANDED = (PSQL / "expanded.out").read_text(encoding="utf-8")
PLAN = (PSQL / "plan.out").read_text(encoding="utf-8")
JOIN_PLAN = (PSQL / "join-plan.out").read_text(encoding="utf-8")


def test_multi_line_cells_are_one_row_each() -> None:
    out = parse_output(lines(JSONB_PRETTY))
    assert out.row_count == 1 and len(out.rows) == 1
    assert out.rows[0][0].split("\n") == ["{", '"host": "www.example.com",', '"tags": [', '"web"', "]", "}"]
    out = parse_output(lines(MULTI_LINE_CELL))
    assert out.rows == [["1", "first line\nsecond line", "x"], ["2", "short", "x"]]
    assert out.row_count == 2


def test_a_page_showing_a_multi_line_cell_passes_and_a_changed_line_fails() -> None:
    page = guide("""
--                   jsonb_pretty
-- --------------------------------
--  {                             +
--      "host": "www.example.com",+
--      "tags": [                 +
--          "web"                 +
--      ]                         +
--  }
-- (1 row)
""")
    actual = parse_output(lines(JSONB_PRETTY))
    assert compare_output(parse_expected(page, SPAN), actual).ok
    stale = [ln.replace("www.example.com", "mail.example.net") for ln in page]
    cmp = compare_output(parse_expected(stale, SPAN), actual)
    assert not cmp.ok and "mail.example.net" in cmp.problems[0]


def test_expanded_display_reads_as_the_same_rows() -> None:
    out = parse_output(lines(EXPANDED))
    assert out.expanded and out.columns == ["id", "note"]
    assert out.rows == [["1", "first line\nsecond line"], ["2", "short"]]
    aligned = parse_output(lines(MULTI_LINE_CELL))
    assert [r[:2] for r in aligned.rows] == out.rows
    exp = parse_expected(lines(EXPANDED), SPAN)
    assert exp.expanded and compare_output(exp, out).ok
    wrong = parse_expected([ln.replace("short", "long") for ln in lines(EXPANDED)], SPAN)
    assert not compare_output(wrong, out).ok
    # \x on, SELECT id FROM logs WHERE id > 5;
    assert parse_output(["(0 rows)"]).row_count == 0


def test_notices_the_page_shows_must_be_printed() -> None:
    # DROP TABLE IF EXISTS nothing_here;  (psql -f prefixes the notice with the file and line)
    actual = parse_output(['psql:/tmp/x.sql:10: NOTICE:  table "nothing_here" does not exist, skipping', "DROP TABLE"])
    assert actual.kind == "tag" and actual.notices == ['NOTICE: table "nothing_here" does not exist, skipping']
    page = parse_expected(['NOTICE:  table "nothing_here" does not exist, skipping', "DROP TABLE"], SPAN)
    assert page.notices and compare_output(page, actual).ok
    other = parse_expected(['NOTICE:  table "other" does not exist, skipping', "DROP TABLE"], SPAN)
    cmp = compare_output(other, actual)
    assert not cmp.ok and "notice" in cmp.problems[0]
    # a page that shows only the tag does not need the notice
    assert compare_output(parse_expected(["DROP TABLE"], SPAN), actual).ok
    # DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$;  shown as the notice alone
    only = parse_expected(["NOTICE:  hello 42"], SPAN)
    assert compare_output(only, parse_output(["NOTICE:  hello 42", "DO"])).ok
    assert not compare_output(only, parse_output(["NOTICE:  hello 43", "DO"])).ok


def test_plans_compare_by_shape_not_costs() -> None:
    assert [str(n) for n in plan_shape(lines(JOIN_PLAN))] == [
        "Nested Loop", "  Index Scan [logs_id]", "  Index Scan [logs_id]"]
    page = guide("""
--                                                   QUERY PLAN
-- -------------------------------------------------------------------------------------------------------------
--  Index Scan using logs_id on logs  (cost=0.42..8.44 rows=1 width=40) (actual time=0.110..0.111 rows=1 loops=1)
--    Index Cond: (id = 1)
--  Planning Time: 1.301 ms
--  Execution Time: 0.201 ms
-- (4 rows)
""")
    actual = parse_output(lines(PLAN))
    cmp = compare_output(parse_expected(page, SPAN), actual)
    assert cmp.ok and cmp.volatile
    seq = [ln.replace("Index Scan using logs_id on logs", "Seq Scan on logs") for ln in page]
    cmp = compare_output(parse_expected(seq, SPAN), actual)
    assert not cmp.ok and "Seq Scan" in cmp.problems[0] and "logs_id" in cmp.problems[0]
    other_index = [ln.replace("using logs_id", "using logs_pkey") for ln in page]
    assert not compare_output(parse_expected(other_index, SPAN), actual).ok


def test_bitmap_plans_name_the_index_of_the_index_scan() -> None:
    # from PGroonga's pgroonga_query_expand page (ja), EXPLAIN ANALYZE VERBOSE with the varchar cast
    page = guide("""
--                                   QUERY PLAN
-- -------------------------------------------------------------------------
--  Bitmap Heap Scan on public.names  (cost=0.00..29.06 rows=1 width=516) (actual time=2.212..2.214 rows=3 loops=1)
--    Output: name
--    Heap Blocks: exact=1
--    ->  Bitmap Index Scan on pgroonga_names_index  (cost=0.00..0.00 rows=25 width=0) (actual time=2.197..2.198)
--          Index Cond: (names.name &@~ 'x'::character varying)
--  Planning Time: 3.855 ms
-- (7 rows)
""")
    assert [str(n) for n in plan_shape(page)] == ["Bitmap Heap Scan", "  Bitmap Index Scan [pgroonga_names_index]"]


def test_comments_shaped_like_psql_output() -> None:
    assert looks_like_output(lines(MULTI_LINE_CELL)) and looks_like_output(lines(EXPANDED))
    assert looks_like_output(["CREATE INDEX"]) and looks_like_output(["INSERT 0 1"])
    assert looks_like_output(["ERROR:  division by zero"]) and looks_like_output(["NOTICE:  hello 42"])
    assert looks_like_output([" id | content ", "----+---------", "(0 rows)"])
    # prose in SQL comments, as pages write it
    for prose in (["Create PGroonga Index"], ["Good Performance"], ["NOTE"], ["TODO FIX"],
                  ["The content column must have 'extension' and", "the title column must have 'Groonga'."],
                  ["Sample of EXPLAIN ANALYZE with / without type cast"]):
        assert not looks_like_output(prose), prose


def test_plans_written_by_hand_read_as_plans() -> None:
    """``QUERY PLAN`` with no rule line under it, or with lines left out (``...``), is a plan: the
    comparison goes by its shape."""
    actual = parse_output(lines(PLAN))
    no_rule = guide("""
-- QUERY PLAN
--  Index Scan using logs_id on logs  (cost=0.42..8.44 rows=1 width=40)
--    Index Cond: (id = 1)
""")
    expected = parse_expected(no_rule, SPAN)
    assert expected.kind == "table" and expected.columns == ["QUERY PLAN"]
    assert expected.rows == [["Index Scan using logs_id on logs  (cost=0.42..8.44 rows=1 width=40)"],
                             ["Index Cond: (id = 1)"]]
    assert looks_like_output(no_rule)
    cmp = compare_output(expected, actual)
    assert cmp.ok, cmp.problems
    seq = [ln.replace("Index Scan using logs_id on logs", "Seq Scan on logs") for ln in no_rule]
    assert not compare_output(parse_expected(seq, SPAN), actual).ok  # still compared: by shape
    abbreviated = guide("""
--                     QUERY PLAN
-- ---------------------------------------------------
--  Index Scan using logs_id on logs  (cost=...)
--  ...
-- (4 rows)
""")
    expected = parse_expected(abbreviated, SPAN)
    assert expected.kind == "table" and expected.columns == ["QUERY PLAN"]
    assert expected.rows == [["Index Scan using logs_id on logs  (cost=...)"]]  # "..." is no row
    assert expected.row_count is None  # lines are left out: the count says nothing
    assert "..." in [ln.strip() for ln in expected.lines]
    assert compare_output(expected, actual).ok
