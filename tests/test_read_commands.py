"""Blocks that are not what they look like: prose in a console block is no command, a redirection
(``2>/dev/null``) is no program."""

from __future__ import annotations

import pytest

from runbook.parse import parse_text
from runbook.read.commands import programs
from runbook.read.languages import has_commands, is_prose


@pytest.mark.parametrize(("line", "found"), [
    ("pg_lsclusters 2>/dev/null", ["pg_lsclusters"]),
    ("(cd /tmp && ls) 2>/dev/null", ["cd", "ls"]),
    ("foo && 2>/dev/null bar", ["foo", "bar"]),
    ("echo a; 2> /dev/null ls", ["echo", "ls"]),
    ("ls >/dev/null 2>&1 &", ["ls"]),
    ("x 2>>log && y < in.txt", ["x", "y"]),
    ("sudo -u postgres -H psql blog 2>&1 | tee log", ["psql", "tee"]),
])
def test_redirections_are_not_programs(line: str, found: list[str]) -> None:
    assert programs(line) == found


def test_the_runner_reads_commands_as_the_reader_does() -> None:
    from runner.planning.environment import programs as runner_programs

    assert runner_programs is programs


@pytest.mark.parametrize("line", ["How to install:", "Then restart PostgreSQL.", "インストール方法：",
                                  "Install it (as root):"])
def test_prose_lines(line: str) -> None:
    assert is_prose(line)


@pytest.mark.parametrize("line", ["sudo apt install -y postgresql", "ls -l", "EOF", "PGDATA=/x pg_ctl start",
                                  "  --pgdata /var/lib/postgresql/15/main", "cd /tmp", "./configure"])
def test_command_lines(line: str) -> None:
    assert not is_prose(line)


FENCE = "`" * 3
PAGE = f"""# Install

## Install {{#install}}

{FENCE}console
How to install:

sudo apt install -y postgresql-common
cat <<END > /tmp/note
Done.
END
{FENCE}

## Only words {{#words}}

{FENCE}console
How to install:
{FENCE}
"""


def test_console_prose_is_not_a_command() -> None:
    graph = parse_text(PAGE, "install.en.md", "en")
    (action,) = graph.actions()  # the block of only prose runs nothing
    assert action.kind == "shell"
    assert [c.text for c in action.commands] == ["sudo apt install -y postgresql-common",
                                                 "cat <<END > /tmp/note\nDone.\nEND"]  # the body is data
    assert [f.span.line for f in graph.findings if f.rule == "console-prose"] == [6]
    assert not has_commands("console", "How to install:\n")
    assert [b.role for b in graph.blocks] == ["action", "illustration"]
