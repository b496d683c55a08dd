"""SQL blocks: statements, interleaved expected output, prose in ``-- `` comments, syntax blocks."""

from __future__ import annotations

from helpers import line_of

from runbook.read.sql import is_syntax, meta_commands, sent_by, statements, watch_line

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

    def at(needle: str, nth: int = 1) -> int:  # the block starts at line 10 of its page
        return line_of(INTERLEAVED, needle, nth) + 9

    assert findings == []
    assert [s.span.line for s in found] == [at("SELECT pgroonga_query_expand"), at("SELECT 2 AS two;"),
                                            at("EXPLAIN SELECT 1;")]
    assert [s.expected.span.line if s.expected else None for s in found] == [
        at("--                  query_expand"), at("--  two"), at("--  QUERY PLAN")]
    assert found[0].expected is not None
    assert found[0].expected.rows == [["((PGroonga) OR (Groonga PostgreSQL)) OR Mroonga"]]
    assert found[1].expected is not None and found[1].expected.row_count == 1  # "--(1 row)" without a space
    # the prose before EXPLAIN is the EXPLAIN's comment, not the SELECT's output
    assert [(c.span.line, c.text) for c in found[2].comments] == [
        (at("-- Without type casting"), "Without type casting varchar (it uses sequential scan):")]
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
    assert [s.span.line for s in found] == [line_of(PROSE, x) for x in ("CREATE TABLE", "CREATE INDEX", "SELECT *")]
    create_table, create_index, select = found
    assert create_table.expected is None and create_table.comments == []
    assert [(c.span.line, c.text) for c in create_index.comments] == [
        (line_of(PROSE, "-- Create PGroonga Index"), "Create PGroonga Index")]
    assert create_index.expected is None
    # a comment inside a statement stays in its SQL (as written) and is its prose; its odd quote
    # does not open a string
    assert "-- it's the first post" in select.sql
    assert [(c.span.line, c.text) for c in select.comments] == [
        (line_of(PROSE, "-- the id column"), "the id column must be 1, it's the first post")]
    assert select.expected is not None and select.expected.span.line == line_of(PROSE, "--  id")
    assert select.expected.row_count == 0


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


# -- psql's output pasted as psql prints it (no "-- ") --------------------------------------------------

PASTED = """\
SELECT pgroonga_command(
  'lock_acquire',
  ARRAY['target_name', pgroonga_table_name('pgrn_memos_index')]
);
                 pgroonga_command
---------------------------------------------------
 [[0,1716796614.02342,6.723403930664062e-05],true]
(1 row)

SELECT pgroonga_list_broken_indexes();
 pgroonga_list_broken_indexes
------------------------------
(0 rows)

INSERT INTO memos VALUES ('it''s');
INSERT 0 1
SET enable_seqscan = off;
SET
CREATE TABLE memos (id int);
ERROR:  relation "memos" already exists
SELECT 1 AS one; SELECT 'x' AS y;
"""


def test_pasted_output_is_the_statements_expected_output_not_sql() -> None:
    found, findings = statements(PASTED, 1, "page.md")
    assert findings == []
    assert [s.span.line for s in found] == [1, 10, 15, 17, 19, 21]
    # nothing of psql's output is sent to psql
    assert all("rows)" not in s.sql and "---" not in s.sql and "ERROR" not in s.sql for s in found)
    assert found[0].sql.endswith(");") and found[1].sql == "SELECT pgroonga_list_broken_indexes();"
    first, second, insert, set_, create, last = (s.expected for s in found)
    assert first is not None and first.pasted and first.kind == "table"
    assert (first.span.line, first.span.end_line) == (5, 8)
    assert first.columns == ["pgroonga_command"] and first.row_count == 1
    assert first.rows == [["[[0,1716796614.02342,6.723403930664062e-05],true]"]]
    assert second is not None and second.pasted and second.rows == [] and second.row_count == 0
    assert insert is not None and insert.kind == "tag" and insert.tag == "INSERT 0 1" and insert.pasted
    assert set_ is not None and set_.tag == "SET"
    assert create is not None and create.kind == "error" and create.error is not None
    assert create.error["message"] == 'relation "memos" already exists'
    assert last is None  # nothing after it


def test_a_lone_command_word_going_on_with_sql_is_sql() -> None:
    found, _ = statements("SELECT 1;\nSELECT\n  2 AS two;\n", 1, "page.md")
    assert [s.sql for s in found] == ["SELECT 1;", "SELECT\n  2 AS two;"]
    assert found[0].expected is None


def test_pasted_output_with_a_quote_does_not_open_a_string() -> None:
    code = "SELECT 'it''s' AS t;\n  t\n------\n it's\n(1 row)\n\nSELECT 2;\n"
    found, findings = statements(code, 1, "page.md")
    assert findings == [] and [s.sql for s in found] == ["SELECT 'it''s' AS t;", "SELECT 2;"]
    assert found[0].expected is not None and found[0].expected.rows == [["it's"]]


def test_pasted_error_keeps_its_detail_and_caret_lines() -> None:
    code = "SELECT x FROM t;\nERROR:  column \"x\" does not exist\nLINE 1: SELECT x FROM t;\n               ^\n"
    found, _ = statements(code, 1, "page.md")
    assert len(found) == 1
    assert found[0].expected is not None and found[0].expected.kind == "error"
    assert found[0].expected.span.end_line == line_of(code, "^")


def test_a_pasted_tag_is_the_statements_own() -> None:
    found, findings = statements("DELETE FROM t;\nVACUUM\n", 1, "page.md")
    assert [s.sql for s in found] == ["DELETE FROM t;", "VACUUM"]  # not DELETE's output
    assert found[0].expected is None and [f.rule for f in findings] == ["sql-no-semicolon"]
    found, _ = statements("CREATE TABLE u AS SELECT 1;\nSELECT 1\nEND;\nCOMMIT\n", 1, "page.md")
    assert [s.sql for s in found] == ["CREATE TABLE u AS SELECT 1;", "END;"]
    assert [s.expected.tag if s.expected else None for s in found] == ["SELECT 1", "COMMIT"]


def test_a_pasted_plan_written_by_hand() -> None:
    code = "EXPLAIN SELECT * FROM memos;\nQUERY PLAN\n Seq Scan on memos\n ...\n\nSELECT 1;\n"
    found, _ = statements(code, 1, "page.md")
    assert [s.sql for s in found] == ["EXPLAIN SELECT * FROM memos;", "SELECT 1;"]
    plan = found[0].expected
    assert plan is not None and plan.pasted and plan.columns == ["QUERY PLAN"]
    assert plan.rows == [["Seq Scan on memos"]] and plan.row_count is None


SENDING = """\
SELECT 1 AS a \\gx
-- -[ RECORD 1 ]
-- a | 1
SELECT 2 AS b
\\g
--  b
-- ---
--  2
-- (1 row)
SELECT 3 AS v \\gset
\\echo :v
SELECT relname FROM pg_class WHERE relname = 'x\\gx' \\g (format=csv)
SELECT format('SELECT %s', 4)
\\gexec
SELECT 5 AS c;
"""


def test_meta_commands_that_send_the_buffer_end_a_statement() -> None:
    """``\\gx``, ``\\g``, ``\\gset``, ``\\gexec`` end their statement, on its line or the next one, as
    ``;`` does; the meta-command stays in the statement as psql is sent it; output after it is its."""
    found, findings = statements(SENDING, 1, "page.md")
    assert findings == []
    assert [s.sql for s in found] == [
        "SELECT 1 AS a \\gx", "SELECT 2 AS b\n\\g", "SELECT 3 AS v \\gset", "\\echo :v",
        "SELECT relname FROM pg_class WHERE relname = 'x\\gx' \\g (format=csv)",
        "SELECT format('SELECT %s', 4)\n\\gexec", "SELECT 5 AS c;"]
    assert [(s.span.line, s.span.end_line) for s in found] == [
        (1, 1), (line_of(SENDING, "SELECT 2"), line_of(SENDING, "\\g", 2)),  # (the first is "\\gx")
        (line_of(SENDING, "SELECT 3"),) * 2, (line_of(SENDING, "\\echo"),) * 2,
        (line_of(SENDING, "SELECT relname"),) * 2,
        (line_of(SENDING, "SELECT format"), line_of(SENDING, "\\gexec")), (line_of(SENDING, "SELECT 5"),) * 2]
    gx, g = found[0].expected, found[1].expected
    assert gx is not None and gx.expanded and (gx.columns, gx.rows) == (["a"], [["1"]])
    assert gx.span.line == line_of(SENDING, "-[ RECORD 1 ]")
    assert g is not None and (g.columns, g.rows, g.span.line) == (["b"], [["2"]], line_of(SENDING, "--  b"))
    assert all(s.expected is None for s in found[2:])


def test_output_pasted_after_a_meta_command_is_the_statements() -> None:
    """psql's expanded output pasted without ``-- `` after ``\\gx`` is that statement's, not SQL."""
    code = "SELECT 1 AS a, 'x' AS b \\gx\n-[ RECORD 1 ]\na | 1\nb | x\n\nSELECT 2 AS c;"
    found, findings = statements(code, 5, "page.md")
    assert findings == []
    assert [(s.sql, s.span.line) for s in found] == [("SELECT 1 AS a, 'x' AS b \\gx", 5), ("SELECT 2 AS c;", 10)]
    exp = found[0].expected
    assert exp is not None and exp.pasted and exp.expanded and exp.rows == [["1", "x"]]
    assert (exp.span.line, exp.span.end_line) == (6, 8)


def test_a_backslash_in_a_string_or_another_meta_command_ends_nothing() -> None:
    """``'\\g'`` in a string is no meta-command; ``\\set`` and ``\\echo`` send nothing: the statement
    goes on to its ``;``, and a block of them alone is no syntax."""
    code = "SELECT E'a\\\\g' AS s,\n  '\\gx' AS t\n  \\set x 1\n  ;"
    found, findings = statements(code, 1, "page.md")
    assert findings == []
    assert [(s.span.line, s.span.end_line) for s in found] == [(1, 4)]
    assert not is_syntax("SELECT 1 AS a \\gx") and not is_syntax("SELECT 1\n\\g")
    assert is_syntax("column LIKE pattern")


def test_sent_by_names_the_meta_command_that_sends_a_statement() -> None:
    """What the runner refuses (``\\watch`` repeats its query until Ctrl-C) it tells with :func:`sent_by`."""
    assert [sent_by(s) for s in ("SELECT 1 \\watch 2", "SELECT 1\n\\watch", "\\watch", "SELECT 1 \\gx",
                                 "SELECT 1 \\gset p_", "SELECT 1;", "SELECT '\\watch';", "\\echo x")] == [
        "watch", "watch", "watch", "gx", "gset", None, None, None]


def test_meta_commands_are_parsed_as_psql_parses_their_arguments() -> None:
    """As psql 15 did with these lines: ``\\echo '\\watch'`` printed ``watch`` (one command, its quoted
    argument), ``SELECT 1 AS a \\echo x \\g`` printed ``x`` then the row (two commands: the unquoted
    backslash began ``\\g``), ``SELECT 2 AS b \\echo 'y \\g'`` printed ``y g`` and sent nothing until ``;``."""
    assert watch_line("SELECT 1;\n\\echo '\\watch'") is None and watch_line("SELECT 1\n\\echo a \\watch 2") == 2
    assert sent_by("SELECT 2 AS b \\echo 'y \\g'") is None and sent_by("SELECT 1 AS a \\echo x \\g") == "g"
    found, findings = statements("SELECT 2 AS b \\echo 'y \\g'\n;\nSELECT 3;", 1, "page.md")
    assert findings == [] and [(s.span.line, s.span.end_line) for s in found] == [(1, 2), (3, 3)]
    assert meta_commands("\\echo '\\watch'") == ["echo"]
    assert meta_commands("\\echo x \\g") == ["echo", "g"]
    assert meta_commands("\\echo 'y \\g'") == ["echo"]
    assert meta_commands("\\echo 'it''s \\g' \\gx") == ["echo", "gx"]
    assert meta_commands("\\echo \"a\\b\" `echo \\g` \\watch 2") == ["echo", "watch"]
    assert meta_commands("\\! echo \\watch") == ["!"]  # (\! takes the rest of its line)
    assert meta_commands("\\x \\\\ SELECT 1 \\g") == ["x"]  # (\\ goes back to SQL)
    assert meta_commands(None) == []
