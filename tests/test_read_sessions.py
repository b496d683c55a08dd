"""Stage sessions: which psql session each SQL block types into, opened by a ``psql`` command,
closed by the next shell block on the host, inferred when none is open."""

from __future__ import annotations

from read_helpers import span

from runbook.model import Action, Command, Variable
from runbook.read.sessions import psql_session, sessions


def _shell(aid: str, hosts: list[str], *commands: str) -> Action:
    return Action(aid, "shell", "bash", hosts, "label", span(1), "", commands=[Command(c, span(2)) for c in commands])


def _sql(aid: str, hosts: list[str]) -> Action:
    return Action(aid, "sql", "sql", hosts, "label", span(5), "SELECT 1;\n")


def test_psql_commands_that_open_a_session() -> None:
    assert psql_session("psql blog") == ("blog", "${USER}")
    assert psql_session("sudo -u postgres -H psql -d blog") == ("blog", "postgres")
    assert psql_session("psql -U alice -h localhost blog") == ("blog", "alice")
    assert psql_session("psql") == (None, "${USER}")
    for not_interactive in ("psql -c 'SELECT 1' blog", "psql blog < x.sql", "psql -l", "echo psql"):
        assert psql_session(not_interactive) is None


def test_open_use_close_and_infer() -> None:
    opens = _shell("a#1", ["primary", "standby1"], "ls", "psql blog")
    uses = _sql("a#2", ["primary"])
    leaves = _shell("a#3", ["primary"], "ls")
    inferred = _sql("a#4", ["primary"])
    database = Variable("database", "blog", "database", False, span(9), "primary")
    found = sessions([opens, uses, leaves, inferred], [database])
    assert [(s.id, s.host, s.database, s.user, s.inferred, s.opened_by) for s in found] == [
        ("s1@primary", "primary", "blog", "${USER}", False, "a#1"),
        ("s1@standby1", "standby1", "blog", "${USER}", False, "a#1"),
        ("s2@primary", "primary", "blog", "${USER}", True, None),
    ]
    assert opens.commands[1].opens_session == "s1" and opens.commands[0].opens_session is None
    assert uses.sessions == {"primary": "s1@primary"}
    assert leaves.closes_sessions == ["s1@primary"]
    assert inferred.sessions == {"primary": "s2@primary"}


def test_inferred_session_without_a_database_variable() -> None:
    (session,) = sessions([_sql("b#1", ["standby2"])], [])
    assert (session.id, session.database, session.inferred) == ("s1@standby2", None, True)
