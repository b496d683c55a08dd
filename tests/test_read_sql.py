"""SQL blocks: statements, interleaved expected output, prose in ``-- `` comments, syntax blocks."""

from __future__ import annotations

from runbook.read.sql import is_syntax, statements

INTERLEAVED = """\
SELECT pgroonga_query_expand('synonyms', 'term', 'synonyms',
                             'PGroonga OR Mroonga') AS query_expand;
--                  query_expand
-- -------------------------------------------------
--  ((PGroonga) OR (Groonga PostgreSQL)) OR Mroonga
-- (1 row)
SELECT 2 AS two;
--  two
-- -----
--    2
--(1 row)

-- Without type casting varchar (it uses sequential scan):
EXPLAIN SELECT 1;
--  QUERY PLAN
-- ------------
--  Result
-- (1 row)
"""


def test_each_output_belongs_to_the_statement_before_it() -> None:
    found, findings = statements(INTERLEAVED, 10, "page.md")
    assert findings == []
    assert [s.span.line for s in found] == [10, 16, 23]
    assert [s.expected.span.line if s.expected else None for s in found] == [12, 17, 24]
    assert found[0].expected is not None
    assert found[0].expected.rows == [["((PGroonga) OR (Groonga PostgreSQL)) OR Mroonga"]]
    assert found[1].expected is not None and found[1].expected.row_count == 1  # "--(1 row)" without a space
    # the prose before EXPLAIN is the EXPLAIN's comment, not the SELECT's output
    assert [(c.span.line, c.text) for c in found[2].comments] == [
        (22, "Without type casting varchar (it uses sequential scan):")]
    assert found[1].comments == [] and found[2].expected is not None


PROSE = """\
CREATE TABLE posts (
  id integer
);

-- Create PGroonga Index
CREATE INDEX pgroonga_posts_index
          ON posts
       USING pgroonga (id);
SELECT *
  FROM posts
    -- the id column must be 1,
    -- it's the first post
 WHERE id = 1;

--  id
-- ----
-- (0 rows)
"""


def test_prose_comments_are_kept_on_their_statement_and_output_may_follow_a_blank_line() -> None:
    found, _ = statements(PROSE, 1, "page.md")
    assert [s.span.line for s in found] == [1, 6, 9]
    create_table, create_index, select = found
    assert create_table.expected is None and create_table.comments == []
    assert [(c.span.line, c.text) for c in create_index.comments] == [(5, "Create PGroonga Index")]
    assert create_index.expected is None
    # a comment inside a statement stays in its SQL (as written) and is its prose; its odd quote
    # does not open a string
    assert "-- it's the first post" in select.sql
    assert [(c.span.line, c.text) for c in select.comments] == [(11, "the id column must be 1, it's the first post")]
    assert select.expected is not None and select.expected.span.line == 15 and select.expected.row_count == 0


def test_dollar_quotes_and_trailing_comments() -> None:
    code = "DO $$ BEGIN\n  RAISE NOTICE 'a;';\nEND $$;\n-- NOTICE:  a;\n-- DO\nSELECT 'it''s'; -- trailing\n"
    found, findings = statements(code, 1, "page.md")
    assert findings == [] and len(found) == 2
    assert found[0].sql.endswith("END $$;") and found[0].expected is not None
    assert found[0].expected.tag == "DO" and found[0].expected.notices == ["NOTICE: a;"]
    assert [c.text for c in found[1].comments] == ["trailing"]


def test_a_comment_that_is_not_output_is_never_checked() -> None:
    found, _ = statements("SELECT 1;\n-- this returns one\n", 1, "page.md")
    assert found[0].expected is None and [c.text for c in found[0].comments] == ["this returns one"]


def test_syntax_blocks() -> None:
    assert is_syntax("column LIKE pattern\n")
    assert is_syntax("column &@ keyword\ncolumn &@ (keyword, weights, index_name)::pgroonga_full_text_search_condition")
    assert is_syntax("CREATE INDEX ${INDEX_NAME}\n          ON ${TABLE_NAME}\n       USING pgroonga (${COLUMN});\n")
    assert is_syntax("'scorer_tf_at_most($index, 0.25)'\n")
    assert is_syntax("-- nothing but a comment\n")
    assert not is_syntax("SELECT '${table:public.idx}.normalized';\n")
    assert not is_syntax("\\x on\n")
    assert not is_syntax("CREATE TABLE t (\n  id integer\n);\n")
