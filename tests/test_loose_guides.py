"""Older, looser guides (docs/guide-format.md, "Older and looser guides"): host labels without a
colon, loosely written environment lists, `%` and `#` prompts, scripts in console blocks, settings
given as a list, lines to append, file names with typos.  Each convention is read from the
project's own older-style guides and from small excerpts; each test fails if it is not understood."""

from __future__ import annotations

import pytest
from conftest import GUIDES
from helpers import fence_after, installed_pg_versions

from runbook.errors import GuideError
from runbook.lint import lint
from runbook.model import Action, Graph
from runbook.parse import parse_file, parse_text
from runbook.validate import check

RHEL = {lang: GUIDES / f"rhel-logical-replication.{lang}.md" for lang in ("ja", "en")}
BASIC = {lang: GUIDES / f"basic-streaming-replication.{lang}.md" for lang in ("ja", "en")}
LANGS = ["ja", "en"]


def _action(graph: Graph, action_id: str) -> Action:
    return next(a for a in graph.actions() if a.id == action_id)


def _line(path: object, text: str) -> int:
    lines = open(str(path), encoding="utf-8").read().split("\n")
    return next(n for n, line in enumerate(lines, 1) if text in line)


# -- 1. host labels without a colon ------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_labels_without_a_colon_name_several_hosts(lang: str) -> None:
    graph = parse_file(RHEL[lang])
    both = ["publisher", "subscriber"]
    # "パブリッシャー、サブスクライバー" / "Publisher, subscriber" before a script; the heading names no host.
    assert graph.step("create-table").scope == []
    for aid in ("create-table#1", "create-table#2", "create-table#3"):
        action = _action(graph, aid)
        assert (action.targets, action.target_source) == (both, "label"), aid
    # "パブリッシャー" / "Publisher" alone, then "サブスクライバー" / "Subscriber".
    assert _action(graph, "check-replication#1").targets == ["publisher"]
    assert _action(graph, "check-replication#2").targets == ["subscriber"]
    # In the streaming guide: "スタンバイ1とスタンバイ2", "スタンバイ1、スタンバイ2", "スタンバイ2：".
    basic = parse_file(BASIC[lang])
    assert _action(basic, "pg-basebackup-standbys#1").targets == ["standby1", "standby2"]
    assert _action(basic, "pg-basebackup-standbys#2").targets == ["standby1"]
    assert _action(basic, "pg-basebackup-standbys#3").targets == ["standby2"]
    assert _action(basic, "check-replication#3").targets == ["standby1", "standby2"]


ENV = {
    "ja": "このドキュメントでは次の環境を使います。\n\n  * プライマリー：\n\n    * IPアドレス：192.168.0.30\n\n"
          "  * スタンバイ1：\n\n    * IPアドレス：192.168.0.31\n\n"
          "  * スタンバイ2：\n\n    * IPアドレス：192.168.0.32\n",
    "en": "This document uses the following environment:\n\n  * Primary:\n\n    * IP address: 192.168.0.30\n\n"
          "  * Standby1:\n\n    * IP address: 192.168.0.31\n\n  * Standby2:\n\n    * IP address: 192.168.0.32\n",
}
STEP = {"ja": "## [通常] 確認する {#check}\n\nこれは通常の手順です。\n\n",
        "en": "## [normal] Check {#check}\n\nThis is a normal step.\n\n"}


def _excerpt(lang: str, body: str, env: str | None = None) -> str:
    title = "t"
    return f"---\ntitle: {title}\n---\n\n# {title}\n\n{env or ENV[lang]}\n{STEP[lang]}{body}"


@pytest.mark.parametrize(("lang", "label", "hosts"), [
    ("ja", "スタンバイ1とスタンバイ2", ["standby1", "standby2"]),
    ("ja", "プライマリー、スタンバイ2", ["primary", "standby2"]),
    ("ja", "プライマリーとスタンバイ：", ["primary", "standby1", "standby2"]),
    ("ja", "スタンバイ2:", ["standby2"]),
    ("ja", "スタンバイ1", ["standby1"]),
    ("en", "Standby1 and standby2", ["standby1", "standby2"]),
    ("en", "Primary, Standby2:", ["primary", "standby2"]),
    ("en", "primary and standbys", ["primary", "standby1", "standby2"]),
    ("en", "Standby2：", ["standby2"]),
    ("en", "Standby1", ["standby1"]),
])
def test_a_paragraph_of_host_names_is_a_label(lang: str, label: str, hosts: list[str]) -> None:
    graph = parse_text(_excerpt(lang, f"{label}\n\n```bash\ntrue\n```\n"), f"g.{lang}.md")
    action = graph.actions()[0]
    assert (action.targets, action.target_source) == (hosts, "label")


@pytest.mark.parametrize(("lang", "text"), [
    ("ja", "スタンバイ1とサーバー3"),
    ("en", "Standby1 and the web server"),
])
def test_a_label_naming_an_unknown_host_is_reported_with_the_known_ones(lang: str, text: str) -> None:
    with pytest.raises(GuideError) as info:
        parse_text(_excerpt(lang, f"{text}\n\n```bash\ntrue\n```\n"), f"g.{lang}.md")
    finding = next(f for f in info.value.findings if f.rule == "no-target")
    assert finding.span.line == _excerpt(lang, "").count("\n") + 3
    # The message suggests what would settle it: a label or an annotation.
    assert "<!-- runbook: hosts=" in finding.message
    assert ("スタンバイ1：" if lang == "ja" else "Standby1:") in finding.message


# -- 2. environment lists written loosely -------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_loosely_written_environment_fields(lang: str) -> None:
    graph = parse_file(BASIC[lang])
    hosts = {h.id: h for h in graph.hosts}
    assert list(hosts) == ["primary", "standby1", "standby2"]
    assert [h.address for h in hosts.values()] == ["192.168.0.30", "192.168.0.31", "192.168.0.32"]
    assert hosts["primary"].os == hosts["standby1"].os == "Ubuntu 24.04"
    assert hosts["standby2"].os is None  # fewer fields than the others
    assert [g.members for g in graph.groups] == [["standby1", "standby2"]]
    values = {v.name: v for v in graph.variables}
    assert values["database"].value == "blog" and values["replication_user"].value == "replicator"
    assert values["replication_password"].secret
    rhel = parse_file(RHEL[lang])  # hosts without a colon, tight lists indented by 2
    assert [(h.id, h.address, h.os) for h in rhel.hosts] == [
        ("publisher", "192.168.0.42", "AlmaLinux 9"), ("subscriber", "192.168.0.43", "AlmaLinux 9")]


@pytest.mark.parametrize("indent", [2, 4])
@pytest.mark.parametrize("colon", ["", ":", "："])
def test_environment_entries_with_any_colon_and_indentation(indent: int, colon: str) -> None:
    pad = " " * indent
    env = (f"このドキュメントでは次の環境を使います。\n\n* プライマリー{colon}\n{pad}* IP{colon or '：'}192.168.0.30\n"
           f"{pad}* データベース名{colon or ':'} `blog`\n* スタンバイ{colon}\n{pad}* IPアドレス：192.168.0.31\n")
    graph = parse_text(_excerpt("ja", "スタンバイ\n\n```bash\ntrue\n```\n", env), "g.ja.md")
    assert [(h.id, h.address) for h in graph.hosts] == [("primary", "192.168.0.30"), ("standby", "192.168.0.31")]
    assert graph.variable("database") is not None and graph.variable("database").value == "blog"  # type: ignore[union-attr]
    assert graph.actions()[0].targets == ["standby"]


# -- 3. prompts --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_percent_and_root_prompts_output_and_scripts(lang: str) -> None:
    graph = parse_file(RHEL[lang])
    install = _action(graph, "install-postgresql#1")
    assert [c.text.split()[1] for c in install.commands] == [
        "dnf", "dnf", "dnf", "/usr/pgsql-16/bin/postgresql-16-setup"]
    assert install.commands[3].output == ["Initializing database ... OK"]
    assert not any(c.root for c in install.commands)
    firewall = _action(graph, "configure-publisher#3")
    assert [(c.text, c.root) for c in firewall.commands] == [
        ("firewall-cmd --permanent --add-service=postgresql", True), ("firewall-cmd --reload", True)]
    start = _action(graph, "start-subscriber#1")
    assert [(c.text, c.root, c.output) for c in start.commands] == [
        ("systemctl enable --now postgresql-16", True, []), ("systemctl is-active postgresql-16", True, ["active"])]
    script = _action(graph, "create-table#1")  # a console block without any prompt is a script
    assert script.kind == "shell" and script.lang == "console"
    assert [c.text for c in script.commands] == [
        "sudo -u postgres createuser $USER",
        "sudo -u postgres createdb --template template0 --locale C --encoding UTF-8 --owner $USER blog"]
    assert not [f for f in graph.findings if f.rule == "console-output-before-command"]
    dialog = _action(graph, "configure-publisher#5").commands[0].dialog
    assert [t.prompt for t in dialog] == ["Enter password for new role:", "Enter it again:"]
    assert [t.answer.var for t in dialog] == ["replication_password"] * 2


def test_output_lines_follow_a_command_until_the_next_prompt() -> None:
    body = "```console\n% echo a\na\n$ echo b; echo '$x'\nb\n$x\n# id -u\n0\n```\n"
    graph = parse_text(_excerpt("ja", "プライマリー\n\n" + body), "g.ja.md")
    cmds = graph.actions()[0].commands
    assert [(c.text, c.output, c.root) for c in cmds] == [
        ("echo a", ["a"], False), ("echo b; echo '$x'", ["b", "$x"], False), ("id -u", ["0"], True)]


# -- 5. settings as a list, lines to append -----------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_a_list_of_settings_is_an_edit_of_the_file_the_prose_names(lang: str) -> None:
    graph = parse_file(RHEL[lang])
    edit = _action(graph, "configure-publisher#1")
    assert (edit.kind, edit.edit, edit.targets) == ("file_edit", "settings", ["publisher"])
    # The prose names the file only; AlmaLinux's packages keep it in the data directory.
    assert edit.path == "/var/lib/pgsql/16/data/postgresql.conf"
    assert edit.after == ("listen_addresses = 'localhost,192.168.0.42'\nwal_level = logical\n"
                          "max_wal_senders = 10\n")
    assert edit.before is None
    line = _line(RHEL[lang], "postresql.conf" if lang == "ja" else "postgresql.con`")
    assert edit.path_span is not None and edit.path_span.line == line
    append = _action(graph, "configure-publisher#2")
    assert (append.kind, append.edit, append.path) == ("file_edit", "append", "/var/lib/pgsql/16/data/pg_hba.conf")
    assert append.after == "host    blog            replicator      192.168.0.0/24          scram-sha-256\n"
    check(graph.to_dict())


@pytest.mark.parametrize("lang", LANGS)
def test_settings_inline_in_a_sentence_and_a_conf_block_to_append(lang: str) -> None:
    graph = parse_file(BASIC[lang])
    edit = _action(graph, "configure-primary#1")
    assert (edit.edit, edit.path) == ("settings", "/etc/postgresql/16/main/postgresql.conf")
    assert edit.after == "listen_addresses = 'localhost,192.168.0.30'\nwal_keep_size = 64MB\n"
    append = _action(graph, "configure-primary#2")
    assert (append.edit, append.path) == ("append", "/etc/postgresql/16/main/pg_hba.conf")
    assert graph.variable("pg_major") is not None


def test_a_settings_list_that_a_before_after_edit_then_shows_is_a_summary() -> None:
    graph = parse_file(GUIDES / "logical-replication.ja.md")
    assert not [a for a in graph.actions() if a.edit is not None]


# -- 6. file names with typos ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_a_file_name_with_a_typo_is_resolved_and_reported(lang: str) -> None:
    graph = parse_file(RHEL[lang])
    typo = "postresql.conf" if lang == "ja" else "postgresql.con"
    found = [f for f in lint(graph) if f.rule == "file-name-typo"]
    assert [(f.span.line, f.severity) for f in found] == [(_line(RHEL[lang], f"`{typo}`"), "warning")]
    assert typo in found[0].message and "postgresql.conf" in found[0].message


def test_a_file_name_close_to_no_known_file_is_an_ambiguity_with_a_suggestion() -> None:
    body = "プライマリーで`pg.conf`に次の設定を追加します。\n\n  * `wal_level = logical`\n"
    with pytest.raises(GuideError) as info:
        parse_text(_excerpt("ja", body), "g.ja.md")
    finding = next(f for f in info.value.findings if f.rule == "edit-file-unknown")
    assert "`pg.conf`" in finding.message and "`/etc/postgresql/" not in finding.message
    assert "path paragraph" in finding.message


# -- the whole guides -----------------------------------------------------------------------------


@pytest.mark.parametrize("guide", [RHEL["ja"], RHEL["en"], BASIC["ja"], BASIC["en"]], ids=lambda p: p.name)
def test_older_style_guides_lint_with_only_the_typo(guide: object) -> None:
    graph = parse_file(guide)  # type: ignore[arg-type]
    rules = {f.rule for f in lint(graph) if f.severity != "hint"}
    assert rules <= {"file-name-typo"}


@pytest.mark.parametrize("name", ["rhel-logical-replication", "basic-streaming-replication"])
def test_both_languages_have_the_same_executable_graph(name: str) -> None:
    from runbook.drift import compare

    ja, en = parse_file(GUIDES / f"{name}.ja.md"), parse_file(GUIDES / f"{name}.en.md")
    assert compare(ja, en).executable == []


def test_lint_names_each_unresolved_ambiguity_with_its_line_and_what_settles_it(
        tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from runner.cli import main

    body = ("## [通常] スタンバイで確認する {#check2}\n\nこれは通常の手順です。\n\n"
            "スタンバイ1とサーバー3\n\n```bash\nsudo apt install -y postgresql-16\n```\n\n"
            "`postgresql.conf`に次の設定を追加します：`wal_level = logical`。\n")
    text = _excerpt("ja", body)
    guide = Path(str(tmp_path)) / "g.ja.md"
    guide.write_text(text, encoding="utf-8")
    lines = text.split("\n")
    label_line = lines.index("スタンバイ1とサーバー3") + 1
    settings_line = next(n for n, line in enumerate(lines, 1) if line.startswith("`postgresql.conf`"))
    main(["lint", str(guide)])
    out = capsys.readouterr().out
    assert f"{guide}:{label_line}: unclear-label: " in out
    assert "'スタンバイ1：'" in out and "<!-- runbook: hosts=standby1 -->" in out
    # No host gives its OS: the path is Debian's, and lint says how to settle it.
    assert f"{guide}:{settings_line}: edit-path-assumed: " in out
    graph = parse_file(guide)
    assert graph.actions()[0].targets == ["standby1", "standby2"]  # the heading decides
    assert graph.actions()[1].path == "/etc/postgresql/16/main/postgresql.conf"


@pytest.mark.skipif(not installed_pg_versions(),
                    reason="the plan binds the guide's version to the installed PostgreSQL")
def test_plan_shows_per_host_the_bound_commands_and_each_substitution_with_its_reason(
        capsys: pytest.CaptureFixture[str]) -> None:
    from runner.cli import main

    assert main(["run", "--plan", str(RHEL["ja"])]) == 0
    out = capsys.readouterr().out
    lines = out.split("\n")
    block = fence_after(RHEL["ja"], "パブリッシャーとサブスクライバー")
    assert f"   console on publisher, subscriber  (line {block})" in lines
    substituted = [n for n, line in enumerate(lines)
                   if line.startswith(("       substituted for `", "       skipped: `"))]
    assert len(substituted) >= 9  # and the two paths below
    assert all(lines[n + 1].startswith("         because ") and len(lines[n + 1]) > 30 for n in substituted)
    assert any(x.startswith("       path substituted for /var/lib/pgsql/15/data/postgresql.conf: ") for x in lines)
    assert "     set in /etc/postgresql/15/main/postgresql.conf:" in lines
    assert "       + wal_level = logical" in lines
    assert "     append to /etc/postgresql/15/main/pg_hba.conf:" in lines
    assert "     # systemctl enable --now postgresql@15-main" in lines
    assert "     $ sudo systemctl enable --now postgresql@15-main" in lines
    assert "passw0rd" not in out


@pytest.mark.parametrize(("lang", "text"), [("ja", "プライマリーとの接続"), ("ja", "スタンバイ1のデータ"),
                                            ("en", "Primary and then some more words")])
def test_a_phrase_with_host_names_is_not_a_label(lang: str, text: str) -> None:
    body = f"{text}\n\n```bash\ntrue\n```\n"
    text = _excerpt(lang, body).replace("## [通常] 確認する", "## [通常] プライマリーで確認する")
    graph = parse_text(text.replace("## [normal] Check", "## [normal] Check on primary"), f"g.{lang}.md")
    assert [(a.targets, a.target_source) for a in graph.actions()] == [(["primary"], "heading")]
    assert not [f for f in graph.findings if f.rule == "unclear-label"]


def test_settings_in_lists_with_explanations_between_the_items() -> None:
    body = ("プライマリーで`postgresql.conf`に次の設定を追加します。\n\n* `wal_level = logical`\n\n"
            "論理レプリケーションに必要です。\n\n* `max_wal_senders = 10`\n\n"
            "WAL senderの数です。\n\n```bash\nsudo apt install -y postgresql-16\n```\n")
    text = _excerpt("ja", body.replace("プライマリーで`", "`")).replace("確認する", "プライマリーで確認する")
    graph = parse_text(text, "g.ja.md")
    edit = graph.actions()[0]
    assert (edit.edit, edit.after) == ("settings", "wal_level = logical\nmax_wal_senders = 10\n")
    assert edit.path == "/etc/postgresql/16/main/postgresql.conf"
    assert graph.actions()[1].kind == "shell"


def test_a_label_may_space_a_host_number_differently_than_the_environment() -> None:
    graph = parse_text(_excerpt("en", "Standby 2 and standby 1\n\n```bash\ntrue\n```\n"), "g.en.md")
    assert graph.actions()[0].targets == ["standby1", "standby2"]
