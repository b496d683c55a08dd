"""psql output parsing, shared by the guide's expected output and the runner's actual output."""

from __future__ import annotations

from runbook.psql_output import parse_output, render_table


def test_table_alignment_does_not_matter() -> None:
    a = parse_output(
        ["          title           ", "--------------------------", " PGroonga and replication", "(1 row)"]
    )
    b = parse_output(["title", "-----", "PGroonga and replication", "(1 row)"])
    assert (a.kind, a.columns, a.rows, a.row_count) == ("table", ["title"], [["PGroonga and replication"]], 1)
    assert (a.columns, a.rows, a.row_count) == (b.columns, b.rows, b.row_count)


def test_multi_column_table() -> None:
    out = parse_output([
        " application_name | sync_state ",
        "------------------+------------",
        " standby1         | sync",
        " standby2         | potential",
        "(2 rows)",
    ])
    assert out.columns == ["application_name", "sync_state"]
    assert out.rows == [["standby1", "sync"], ["standby2", "potential"]]


def test_error_with_detail() -> None:
    out = parse_output([
        'ERROR:  cannot update table "t1"',
        "DETAIL:  Column used in the publication WHERE expression is not part of the replica identity.",
    ])
    assert out.kind == "error" and out.error == {
        "severity": "ERROR",
        "message": 'cannot update table "t1"',
        "detail": "Column used in the publication WHERE expression is not part of the replica identity.",
    }


def test_command_tags() -> None:
    assert parse_output(["INSERT 0 1"]).tag == "INSERT 0 1"
    assert parse_output(["CREATE TABLE"]).kind == "tag"
    assert parse_output(["some text"]).kind == "text"


def test_render_table_is_psql_layout() -> None:
    # psql -X output for: SELECT 'PGroonga and replication' AS title UNION ALL SELECT 'PostgreSQL 15 and replication';
    assert render_table(["title"], [["PGroonga and replication"], ["PostgreSQL 15 and replication"]]) == [
        "             title             ",
        "-------------------------------",
        " PGroonga and replication",
        " PostgreSQL 15 and replication",
        "(2 rows)",
    ]
