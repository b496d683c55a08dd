"""Stage actions: shell, console and SQL code -> commands (with dialogs) and statements (with their
expected results), each with its lines."""

from __future__ import annotations

from helpers import line_of
from read_helpers import FILE, span

from runbook.model import Action
from runbook.read.actions import actions, console_commands, logical_lines, sql_statements
from runbook.read.blocks import Placed
from runbook.read.problems import Problems


def test_continuations_and_here_documents_are_one_command() -> None:
    code = ("# a comment\nsudo apt install -y \\\n  postgresql-15\n\n"
            "cat <<'EOF' > /tmp/x\nline; not a command\nEOF\nls\n")
    assert logical_lines(code, 10) == [
        ("sudo apt install -y \\\n  postgresql-15", 11, 12),
        ("cat <<'EOF' > /tmp/x\nline; not a command\nEOF", 14, 16),
        ("ls", 17, 17),
    ]


def test_console_prompts_answers_and_output() -> None:
    code = ("$ createuser --pwprompt repl\nEnter password for new role: (secret)\n"
            "$ psql -c 'SELECT 1' \\\n  blog\n ?column? \n")
    problems = Problems()
    first, second = console_commands(code, 5, FILE, problems)
    assert (first.text, first.span.line, first.output) == ("createuser --pwprompt repl", 5, [])
    assert [(t.prompt, t.answer.literal, t.span.line) for t in first.dialog] == [
        ("Enter password for new role:", "secret", 6)]
    assert (second.text, second.span.line, second.span.end_line) == ("psql -c 'SELECT 1' \\\n  blog", 7, 8)
    assert second.output == [" ?column? "] and second.dialog == []
    assert problems.defects == []


def test_console_line_before_any_command_is_a_warning() -> None:
    problems = Problems()
    assert console_commands("stray\n$ ls\n", 3, FILE, problems)[0].text == "ls"
    assert [(f.rule, f.span.line) for f in problems.defects] == [("console-output-before-command", 3)]


def test_sql_statements_meta_commands_and_expected_results() -> None:
    code = """\
\\x off
INSERT INTO t VALUES ('a;b');
-- INSERT 0 1
SELECT *
  FROM t;
--  v
-- ---
--  a;b
-- (1 row)
"""
    problems = Problems()
    meta, insert, select = sql_statements(code, 20, FILE, problems)

    def at(needle: str) -> int:  # the block starts at line 20 of its page
        return line_of(code, needle) + 19

    assert (meta.sql, meta.span.line, meta.expected) == ("\\x off", 20, None)
    assert (insert.sql, insert.expected.kind, insert.expected.tag) == (  # type: ignore[union-attr]
        "INSERT INTO t VALUES ('a;b');", "tag", "INSERT 0 1")
    assert (select.span.line, select.span.end_line) == (at("SELECT *"), at("  FROM t;"))
    assert select.expected is not None
    assert (select.expected.kind, select.expected.columns, select.expected.rows, select.expected.row_count) == (
        "table", ["v"], [["a;b"]], 1)
    assert (select.expected.span.line, select.expected.span.end_line) == (at("--  v"), at("-- (1 row)"))
    assert problems.defects == []


def test_sql_without_semicolon_and_malformed_expected_output() -> None:
    problems = Problems()
    statements = sql_statements("SELECT 1;\n- ?column?\n-- ----------\n--         1\nSELECT 2\n", 1, FILE, problems)
    assert [s.sql for s in statements] == ["SELECT 1;", "SELECT 2"]
    assert statements[0].expected is not None and statements[0].expected.lines[0] == "?column?"
    assert [(f.rule, f.severity, f.span.line) for f in problems.defects] == [
        ("expected-output-malformed", "error", 2), ("sql-no-semicolon", "warning", 5)]


def test_actions_are_read_by_kind_edits_untouched() -> None:
    shell = Action("s#1", "shell", "bash", ["primary"], "label", span(3, 5), "ls\npwd\n")
    edit = Action("s#2", "file_edit", "text", ["primary"], "label", span(7, 9), "after\n", after="after\n")
    out = actions([Placed(shell, 4), Placed(edit, 8)], FILE, Problems())
    assert out == [shell, edit]
    assert [(c.text, c.span.line) for c in shell.commands] == [("ls", 4), ("pwd", 5)]
    assert edit.commands == [] and edit.statements == []
