"""Stage variables: values the code repeats (common.toml), networks that hold the hosts' addresses,
and dialog answers that are such values."""

from __future__ import annotations

from read_helpers import span

from runbook.model import Action, Answer, Command, Host, Statement, Turn, Variable
from runbook.read.problems import Problems
from runbook.read.variables import bind_answers, code_variables


def _shell(line: int, *commands: str) -> Action:
    return Action(f"s#{line}", "shell", "bash", ["primary"], "label", span(line), "",
                  commands=[Command(c, span(line)) for c in commands])


HOST = Host("primary", "プライマリー", "primary", None, "192.168.0.30", None, span(3))


def test_postgresql_major_version_from_its_contexts() -> None:
    problems = Problems()
    found = code_variables([_shell(10, "sudo apt install -y postgresql-15"),
                            _shell(12, "sudo editor /etc/postgresql/15/main/pg_hba.conf")], [], problems)
    ((name, value, kind, line),) = [(v.name, v.value, v.kind, v.span.line if v.span else 0) for v in found]
    assert (name, value, kind, line) == ("pg_major", "15", "pg_major", 10)
    assert found[0].patterns and problems.defects == []


def test_two_versions_are_a_warning_and_the_first_wins() -> None:
    problems = Problems()
    found = code_variables([_shell(10, "ls /var/lib/postgresql/16/main"), _shell(20, "pg_ctlcluster 15 main restart")],
                           [], problems)
    assert [(v.name, v.value) for v in found] == [("pg_major", "16")]
    assert [(f.rule, f.span.line) for f in problems.defects] == [("inconsistent-value", 10)]
    assert "16" in problems.defects[0].message and "15" in problems.defects[0].message


def test_networks_only_when_they_hold_a_host_address() -> None:
    action = Action("s#1", "sql", "sql", ["primary"], "label", span(30), "",
                    statements=[Statement("-- 10.0.0.0/8 is not ours", span(31))])
    edit = Action("s#2", "file_edit", "text", ["primary"], "label", span(40), "",
                  after="host replication repl 192.168.0.0/24 scram-sha-256\n")
    found = code_variables([action, edit], [HOST], Problems())
    assert [(v.name, v.value, v.kind, v.span.line if v.span else 0) for v in found] == [
        ("network", "192.168.0.0/24", "network", 40)]


def test_a_host_address_that_is_no_address_is_a_warning() -> None:
    problems = Problems()
    bad = Host("standby1", "スタンバイ1", "standby", 1, "db-1.example", None, span(5))
    assert code_variables([], [bad], problems) == []
    assert [(f.rule, f.span.line) for f in problems.defects] == [("bad-address", 5)]


def test_answers_equal_to_a_variable_become_references() -> None:
    command = Command("createuser --pwprompt repl", span(8), dialog=[
        Turn("Enter password:", Answer(literal="passw0rd"), span(9)),
        Turn("Again:", Answer(literal="other"), span(10)),
    ])
    action = Action("s#1", "console", "console", ["primary"], "label", span(7), "", commands=[command])
    bind_answers([action], [Variable("replication_password", "passw0rd", "password", True)])
    assert [t.answer for t in command.dialog] == [Answer(var="replication_password"), Answer(literal="other")]


def test_required_literal_is_what_every_match_contains() -> None:
    import re

    from runbook.read.variables import required_literal

    cases = {
        r"/etc/postgresql/(?P<v>\d+)/": "/etc/postgresql/",
        r"\bpg_(?:ctl|create)cluster\s+(?P<v>\d+)": "pg_",
        r"abc?d(?P<v>\d)": "ab",  # c may be absent
        r"ab+(?P<v>\d)": "ab",
        r"abc|x(?P<v>\d)": "",  # an alternation at the top: nothing is required
        r"[|](?P<v>\d)|y": "",
        r"(?i)abc(?P<v>\d)": "",
        r"\Babc(?P<v>\d)": "",
    }
    for source, literal in cases.items():
        assert required_literal(re.compile(source)) == literal, source
    assert required_literal(re.compile("abc(?P<v>x)", re.IGNORECASE)) == ""
