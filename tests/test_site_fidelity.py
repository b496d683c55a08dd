"""Comparison and run rules of issue 17 (no server): row order, plans written by hand, values found
volatile by a second run, version notes, a crash told from another's crash."""

from __future__ import annotations

from runbook.model import Action, Requirement, Span
from runbook.psql_output import parse_expected, parse_output
from runner.planning.versions import parse_versions, requirement_block, version_key
from runner.running.compare import compare_output, has_order_by
from runner.running.shell import lost_connection
from runner.running.sql import server_gone
from runner.site.volatility import compare_runs, token_volatile

SPAN = Span("page.md", 10, 14)


def _table(*lines: str) -> list[str]:
    return list(lines)


FRUITS_PAGE = _table("  name  | color  ", "--------+--------", " apple  | red", " banana | yellow",
                     " lemon  | yellow", "(3 rows)")
FRUITS_SERVER = _table("  name  | color  ", "--------+--------", " banana | yellow", " apple  | red",
                       " lemon  | yellow", "(3 rows)")


def test_order_by_is_found_at_the_top_level_only() -> None:
    assert has_order_by("SELECT * FROM t;") is False
    assert has_order_by("SELECT * FROM t ORDER BY id;") is True
    assert has_order_by("SELECT row_number() OVER (ORDER BY id) FROM t;") is False
    assert has_order_by("SELECT * FROM (SELECT * FROM t ORDER BY id) s;") is False
    assert has_order_by("SELECT 'ORDER BY x' FROM t;") is False
    assert has_order_by("SELECT * FROM t -- ORDER BY id\n;") is False
    assert has_order_by("\\d t") is True  # psql's meta-commands sort their listings
    # with the result's columns: the key's columns (names, positions, qualified, DESC, LIMIT)
    assert has_order_by("SELECT name, color FROM fruits ORDER BY color;", ["name", "color"]) == [1]
    assert has_order_by("SELECT a, b FROM t ORDER BY 2 DESC, t.a NULLS LAST LIMIT 3;", ["a", "b"]) == [1, 0]
    assert has_order_by("SELECT a FROM t ORDER BY lower(a);", ["a"]) is True  # an expression: ties unknown


def test_rows_without_order_by_compare_as_a_multiset() -> None:
    page = parse_expected(FRUITS_PAGE, SPAN)
    server = parse_output(FRUITS_SERVER)
    unordered = compare_output(page, server, ordered=False)
    assert unordered.ok and unordered.problems == []
    assert unordered.volatile == ["row order: only the order of the rows differs from the page "
                                  "(no ORDER BY: compared as a multiset)"]
    ordered = compare_output(page, server, ordered=True)
    assert not ordered.ok and "row 1, name: expected 'apple', got 'banana'" in ordered.problems
    # a multiset is not a set: a row the server printed instead of another still fails, at its row
    other = parse_output([x.replace("lemon ", "melon ") for x in FRUITS_SERVER])
    cmp = compare_output(page, other, ordered=False)
    assert cmp.problems == ["row 3, name: expected 'lemon', got 'melon'"]


def test_order_counts_except_among_rows_that_tie_on_the_key() -> None:
    page = parse_expected(_table("  name  | color  ", "--------+--------", " cherry | red", " apple  | red",
                                 " lemon  | yellow", " banana | yellow", "(4 rows)"), SPAN)
    server = parse_output(_table("  name  | color  ", "--------+--------", " apple  | red", " cherry | red",
                                 " banana | yellow", " lemon  | yellow", "(4 rows)"))
    key = has_order_by("SELECT name, color FROM fruits ORDER BY color;", server.columns)
    cmp = compare_output(page, server, ordered=key)
    assert cmp.ok and cmp.volatile == ["row order: only the order of the rows differs from the page "
                                       "(rows that tie on the ORDER BY key)"]
    # rows that do not tie keep their order: yellow before red is a difference
    swapped = parse_output(_table("  name  | color  ", "--------+--------", " banana | yellow", " lemon  | yellow",
                                  " apple  | red", " cherry | red", "(4 rows)"))
    assert not compare_output(page, swapped, ordered=key).ok


PLAN = _table("                              QUERY PLAN                               ",
              "-----------------------------------------------------------------------",
              " Sort  (cost=73.03..73.06 rows=13 width=36)",
              "   Sort Key: id",
              "   ->  Bitmap Heap Scan on memos  (cost=12.10..72.79 rows=13 width=36)",
              "         Recheck Cond: (content ~~ '%groonga%'::text)",
              "         ->  Bitmap Index Scan on memos_content_index  (cost=0.00..12.10 rows=13 width=0)",
              "               Index Cond: (content ~~ '%groonga%'::text)",
              "(6 rows)")


def test_plans_written_by_hand_compare_by_shape() -> None:
    actual = parse_output(PLAN)
    by_hand = parse_expected(["QUERY PLAN", "Sort", "  ->  Bitmap Heap Scan on memos",
                              "        ->  Bitmap Index Scan on memos_content_index"], SPAN)
    assert compare_output(by_hand, actual).ok
    wrong_index = parse_expected(["QUERY PLAN", "Sort", "  ->  Bitmap Heap Scan on memos",
                                  "        ->  Bitmap Index Scan on memos_other_index"], SPAN)
    assert not compare_output(wrong_index, actual).ok
    abbreviated = parse_expected(["QUERY PLAN", "...", "  ->  Bitmap Index Scan on memos_content_index", "..."], SPAN)
    cmp = compare_output(abbreviated, actual)
    assert cmp.ok and "abbreviated" in cmp.volatile[0]
    missing = parse_expected(["QUERY PLAN", "...", "  ->  Index Scan using memos_pkey on memos", "..."], SPAN)
    assert not compare_output(missing, actual).ok


def test_values_that_differ_between_two_runs_are_volatile() -> None:
    page = parse_expected(_table("  oid  | version ", "-------+---------", " 16480 | 6.1.0", "(1 row)"), SPAN)
    first = parse_output(_table("  oid  | version ", "-------+---------", " 16477 | 13.0.0", "(1 row)"))
    second = parse_output(_table("  oid  | version ", "-------+---------", " 24582 | 13.0.0", "(1 row)"))
    cmp = compare_runs(page, first, second)
    # the OID differs between the runs: volatile, with the values seen; the version is the same in
    # both runs but not the page's: a real difference
    assert cmp.problems == ["row 1, version: expected '6.1.0', got '13.0.0'"]
    assert cmp.volatile == ["row 1, oid: differs between two runs ('16477' then '24582'); the page shows '16480'"]
    same = parse_output(_table("  oid  | version ", "-------+---------", " 16477 | 6.1.0", "(1 row)"))
    assert not compare_runs(page, same, same).ok  # nothing moved between the runs: the OID differs for real


def test_tokens_inside_a_cell_are_volatile_one_by_one() -> None:
    page = '[[0,1480484730.607103,0.000136],{"uptime":859,"name":"Lexicon17780_2"}]'
    first = '[[0,1796538306.352964,0.000027],{"uptime":0,"name":"Lexicon16384_2"}]'
    second = '[[0,1796538307.612429,0.000107],{"uptime":0,"name":"Lexicon16999_2"}]'
    assert token_volatile(page, first, second) is None  # uptime is 0 in both runs, 859 on the page
    note = token_volatile(page.replace("859", "0"), first, second)
    assert note is not None and "'Lexicon16384_2'" in note and "'Lexicon16999_2'" in note


def test_a_version_note_newer_than_installed_blocks_its_action() -> None:
    note = Requirement("pgroonga", "4.0.5", "4.0.5で追加。", Span("p.md", 40, 40))
    action = Action("s#1", "sql", "sql", ["server"], "inferred", Span("p.md", 42, 45), "SELECT 1;", requires=[note])
    installed = parse_versions("postgresql|15.20 (Debian 15.20-0+deb12u1)\npgroonga|3.2.5\npg_trgm|1.6\n")
    assert installed == {"postgresql": "15.20", "pgroonga": "3.2.5", "pg_trgm": "1.6"}
    assert requirement_block(action, installed) == "needs PGroonga ≥ 4.0.5, installed 3.2.5 (line 40: “4.0.5で追加。”)"
    assert requirement_block(action, {**installed, "pgroonga": "4.0.5"}) is None
    assert requirement_block(action, {"postgresql": "15.20"}) is None  # nothing known of PGroonga: not blocked
    assert requirement_block(action, None) is None
    assert version_key("3.10.0") > version_key("3.9.9")


def test_a_crash_of_the_statement_is_told_from_another_sessions_crash() -> None:
    own = ("server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
           "\tbefore or while processing the request.\n"
           "The connection to the server was lost. Attempting reset: Failed.")
    other = ("WARNING:  terminating connection because of crash of another server process\nDETAIL:  The postmaster "
             "has commanded this server process to roll back the current transaction and exit\n" + own)
    assert server_gone(own) == "crashed"
    assert server_gone(other) == "lost"
    # psql's reset reconnected just before the recovery from the statement's own crash ended it (seen in CI)
    reset = own.replace("Failed.", "WARNING:  terminating connection because of crash of another server process\n"
                        "DETAIL:  The postmaster has commanded this server process to roll back\nSucceeded.")
    assert server_gone(reset) == "crashed"
    assert server_gone(other.replace("Failed.", "Succeeded.")) == "lost"
    assert server_gone("psql: error: ... FATAL:  the database system is in recovery mode") == "lost"
    assert server_gone("ERROR:  relation \"memos\" does not exist") is None
    # a statement's own error about another server (dblink, postgres_fdw) is compared, not a lost session
    assert server_gone('ERROR:  could not establish connection\nDETAIL:  could not connect to server "x"') is None


def test_a_session_the_server_refuses_is_no_lost_server() -> None:
    """psql 15's messages: a database or role that does not exist is the guide's own failure (it fails
    at its line, its page is not run again alone), a server that is away or not ready is a lost server."""
    sock = 'psql: error: connection to server on socket "/tmp/pgt/.s.PGSQL.5432" failed: '
    assert not lost_connection(sock + 'FATAL:  database "nosuchdb" does not exist')
    assert not lost_connection(sock + 'FATAL:  role "nosuchrole" does not exist')
    assert lost_connection(sock + "No such file or directory\n\tIs the server running locally and accepting "
                           "connections on that socket?")
    assert lost_connection(sock + "FATAL:  the database system is starting up")
    assert lost_connection(sock + "FATAL:  the database system is in recovery mode")
