"""Stage hosts: environment list items -> hosts, groups, labels and the variables of their fields."""

from __future__ import annotations

from read_helpers import para

from runbook import lexicon as lexicons
from runbook.read.hosts import environment
from runbook.read.problems import Problems

JA = lexicons.load("ja")


def _env() -> tuple[object, Problems]:
    nodes = [
        para("プライマリー：", 1, 1),
        para("IPアドレス：`192.168.0.30`", 2, 2),
        para("データベース名：blog", 3, 2),
        para("スタンバイ1：", 4, 1),
        para("IPアドレス：192.168.0.31", 5, 2),
        para("レプリケーションユーザーのパスワード：`passw0rd`", 6, 2),
        para("スタンバイ2：", 7, 1),
        para("OS：Debian GNU/Linux bookworm", 8, 2),
        para("ウェブサーバー：", 9, 1),
        para("IPアドレス：192.168.0.99", 10, 2),
    ]
    problems = Problems()
    return environment([nodes], JA, problems), problems


def test_hosts_from_role_and_number() -> None:
    env, _ = _env()
    hosts = env.hosts  # type: ignore[attr-defined]
    assert [(h.id, h.label, h.role, h.number) for h in hosts] == [
        ("primary", "プライマリー", "primary", None),
        ("standby1", "スタンバイ1", "standby", 1),
        ("standby2", "スタンバイ2", "standby", 2),
    ]
    assert [h.address for h in hosts] == ["192.168.0.30", "192.168.0.31", None]
    assert hosts[2].os == "Debian GNU/Linux bookworm"
    assert hosts[1].fields == {"address": "192.168.0.31", "replication_password": "passw0rd"}


def test_numbered_hosts_make_a_group_named_by_the_plural_label() -> None:
    env, _ = _env()
    assert [(g.id, g.label, g.members) for g in env.groups] == [  # type: ignore[attr-defined]
        ("standbys", "スタンバイ", ["standby1", "standby2"])]
    assert env.labels == {"プライマリー": ["primary"], "スタンバイ1": ["standby1"],  # type: ignore[attr-defined]
                          "スタンバイ2": ["standby2"], "スタンバイ": ["standby1", "standby2"]}


def test_fields_give_variables_secrets_marked() -> None:
    env, _ = _env()
    got = [(v.name, v.value, v.kind, v.secret, v.host) for v in env.variables]  # type: ignore[attr-defined]
    assert got == [
        ("primary.address", "192.168.0.30", "address", False, "primary"),
        ("database", "blog", "database", False, "primary"),
        ("standby1.address", "192.168.0.31", "address", False, "standby1"),
        ("replication_password", "passw0rd", "password", True, "standby1"),
    ]


def test_unknown_role_is_a_warning_and_its_fields_are_skipped() -> None:
    env, problems = _env()
    assert [(f.rule, f.severity, f.span.line) for f in problems.defects] == [
        ("environment-unknown-host", "warning", 9)]
    assert "ウェブサーバー" in problems.defects[0].message
    assert all(v.value != "192.168.0.99" for v in env.variables)  # type: ignore[attr-defined]
    assert problems.fatal == []
