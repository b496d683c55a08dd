"""The seed guide, read as published: each fact of the step graph the issue lists."""

from __future__ import annotations

from conftest import SEED_JA
from helpers import fence_after, line_of

from runbook.model import Graph

STEP_IDS = [
    "install-postgresql",
    "install-pgroonga",
    "configure-replication-primary",
    "configure-pgroonga-primary",
    "insert-primary",
    "create-pgroonga-index-primary",
    "flush-pgroonga-data-primary",
    "pg-basebackup-standbys",
    "configure-pgroonga-standbys",
    "start-standbys",
]
TAGS = ["normal", "specific", "normal", "specific", "normal", "specific", "specific", "normal", "specific", "normal"]
ALL = ["primary", "standby1", "standby2"]
STANDBYS = ["standby1", "standby2"]


def test_hosts_from_environment_list(seed_ja: Graph) -> None:
    hosts = {h.id: h for h in seed_ja.hosts}
    assert list(hosts) == ALL
    assert (hosts["primary"].label, hosts["primary"].address) == ("プライマリー", "192.168.0.30")
    assert (hosts["standby1"].label, hosts["standby1"].address) == ("スタンバイ1", "192.168.0.31")
    assert (hosts["standby2"].label, hosts["standby2"].address) == ("スタンバイ2", "192.168.0.32")
    assert all(h.os == "Ubuntu 24.04" for h in seed_ja.hosts)
    assert hosts["primary"].span.line == line_of(SEED_JA, "  * プライマリー：")
    (group,) = seed_ja.groups
    assert group.label == "スタンバイ" and group.members == STANDBYS


def test_variables(seed_ja: Graph) -> None:
    values = {v.name: (v.value, v.kind, v.secret) for v in seed_ja.variables}
    assert values["database"] == ("blog", "database", False)
    assert values["replication_user"] == ("replicator", "user", False)
    assert values["replication_password"] == ("passw0rd", "password", True)
    assert values["pg_major"] == ("16", "pg_major", False)
    assert values["network"] == ("192.168.0.0/24", "network", False)
    assert values["primary.address"][0] == "192.168.0.30"


def test_ten_steps_in_order(seed_ja: Graph) -> None:
    assert [s.id for s in seed_ja.steps] == STEP_IDS
    assert [s.tag for s in seed_ja.steps] == TAGS
    assert [s.number for s in seed_ja.steps] == list(range(1, 11))
    assert seed_ja.steps[0].title == "プライマリーとスタンバイでPostgreSQLをインストールする"
    assert seed_ja.steps[7].title == "スタンバイで`pg_basebackup`を実行する"
    assert seed_ja.steps[4].overview_title == "プライマリーでデータを追加する"


def test_all_32_blocks_accounted_for(seed_ja: Graph) -> None:
    text = SEED_JA.read_text(encoding="utf-8")
    fences = [i + 1 for i, line in enumerate(text.split("\n")) if line.startswith("```") and line.strip() != "```"]
    assert len(fences) == 32
    assert sorted(b.line for b in seed_ja.blocks) == fences
    (mermaid,) = seed_ja.notes
    assert mermaid.kind == "note" and mermaid.lang == "mermaid" and mermaid.span.line == line_of(SEED_JA, "```mermaid")
    action_ids = {a.id for a in seed_ja.actions()}
    for block in seed_ja.blocks:
        if block.role == "note":
            assert block.action == mermaid.id
        else:
            assert block.action in action_ids, block
    # every action is one block (edits: two, before and after)
    claimed = [b.action for b in seed_ja.blocks if b.role == "action"]
    assert len(claimed) == len(set(claimed)) == len(action_ids) == 27
    for a in seed_ja.actions():
        assert a.kind in ("shell", "console", "sql", "file_edit", "file_write")
        assert a.targets and a.span.line > 0


def _targets(graph: Graph, step_id: str) -> list[tuple[str, list[str]]]:
    return [(a.kind, a.targets) for a in graph.step(step_id).actions]


def test_targets_inferred_from_prose_and_labels(seed_ja: Graph) -> None:
    assert _targets(seed_ja, "install-postgresql") == [("shell", ALL)]
    assert _targets(seed_ja, "install-pgroonga") == [("shell", ALL)]
    assert {tuple(t) for _, t in _targets(seed_ja, "configure-replication-primary")} == {("primary",)}
    assert _targets(seed_ja, "pg-basebackup-standbys") == [
        ("shell", STANDBYS), ("console", ["standby1"]), ("console", ["standby2"])
    ]
    assert _targets(seed_ja, "configure-pgroonga-standbys") == [("file_edit", STANDBYS)]
    assert _targets(seed_ja, "start-standbys") == [
        ("shell", STANDBYS), ("sql", ["standby1"]), ("sql", ["primary"]), ("sql", ["standby1"]), ("sql", ["standby2"])
    ]
    labels = [a.target_source for a in seed_ja.step("start-standbys").actions[1:]]
    assert labels == ["label"] * 4


def test_file_edits(seed_ja: Graph) -> None:
    edits = [a for a in seed_ja.actions() if a.kind == "file_edit"]
    assert [(a.path, a.before, a.after) for a in edits] == [
        ("/etc/postgresql/16/main/postgresql.conf", "#listen_addresses = 'localhost'\n",
         "listen_addresses = 'localhost,192.168.0.30'\n"),
        ("/etc/postgresql/16/main/pg_hba.conf",
         "local   replication     all                                     peer\n"
         "host    replication     all             127.0.0.1/32            scram-sha-256\n"
         "host    replication     all             ::1/128                 scram-sha-256\n",
         "local   replication     all                                     peer\n"
         "host    replication     all             127.0.0.1/32            scram-sha-256\n"
         "host    replication     all             ::1/128                 scram-sha-256\n"
         "host    replication     all             192.168.0.0/24          scram-sha-256\n"),
        ("/etc/postgresql/16/main/postgresql.conf", "#shared_preload_libraries = ''\n",
         "shared_preload_libraries = 'pgroonga_wal_resource_manager,pgroonga_crash_safer'\n"),
        ("/etc/postgresql/16/main/postgresql.conf", "#shared_preload_libraries = ''\n",
         "shared_preload_libraries = 'pgroonga_wal_resource_manager'\n"),
    ]
    conf = "`/etc/postgresql/16/main/postgresql.conf`:"
    assert edits[0].path_span is not None and edits[0].path_span.line == line_of(SEED_JA, conf)
    assert edits[0].before_span is not None and edits[0].before_span.line == fence_after(SEED_JA, conf)
    (write,) = [a for a in seed_ja.actions() if a.kind == "file_write"]
    assert write.path == "/etc/postgresql/16/main/conf.d/pgroonga.conf"
    assert write.after == "pgroonga.enable_wal_resource_manager = on\npgroonga.enable_crash_safe = on\n"


def test_console_dialogs(seed_ja: Graph) -> None:
    (create,) = seed_ja.step("configure-replication-primary").actions[2].commands
    assert create.text == "sudo -u postgres -H createuser --pwprompt --replication replicator"
    assert [(t.prompt, t.answer.var, t.answer.literal) for t in create.dialog] == [
        ("Enter password for new role:", "replication_password", None),
        ("Enter it again:", "replication_password", None),
    ]
    for n, action in ((1, seed_ja.step("pg-basebackup-standbys").actions[1]),
                      (2, seed_ja.step("pg-basebackup-standbys").actions[2])):
        (cmd,) = action.commands
        assert f"--slot standby{n}" in cmd.text and "--host 192.168.0.30" in cmd.text
        assert [(t.prompt, t.answer.var) for t in cmd.dialog] == [("Password:", "replication_password")]
        assert cmd.output == ["158949/158949 kB (100%), 1/1 tablespace"]
    # the password is referenced, never copied into an answer
    for a in seed_ja.actions():
        for c in a.commands:
            for t in c.dialog:
                assert t.answer.literal is None


def test_sql_expected_output(seed_ja: Graph) -> None:
    check = seed_ja.step("create-pgroonga-index-primary").actions[3]
    set_stmt, select = check.statements
    assert set_stmt.sql == "SET enable_seqscan TO off;" and set_stmt.expected is None
    assert select.expected is not None
    assert (select.expected.kind, select.expected.columns, select.expected.rows, select.expected.row_count) == (
        "table", ["title"], [["PGroonga and replication"]], 1)
    (flush,) = seed_ja.step("flush-pgroonga-data-primary").actions[0].statements
    assert flush.expected is not None and flush.expected.columns == ["command"]
    assert flush.expected.rows == [["[[0,1478446349.2241,0.1413860321044922],true]"]]
    # the two-row result whose header line starts with "-" instead of "--"
    (two,) = seed_ja.step("start-standbys").actions[3].statements
    assert two.expected is not None
    assert (two.expected.columns, two.expected.rows, two.expected.row_count) == (
        ["title"], [["PGroonga and replication"], ["PostgreSQL 15 and replication"]], 2)
    assert two.sql == "SELECT title FROM entries WHERE title &@~ 'replication';"
    inserts = seed_ja.step("insert-primary").actions[4].statements
    assert len(inserts) == 3 and all(s.expected is None for s in inserts)


def test_psql_sessions(seed_ja: Graph) -> None:
    open_cmd = seed_ja.step("insert-primary").actions[2].commands[0]
    assert open_cmd.text == "psql blog" and open_cmd.opens_session
    sid = seed_ja.step("insert-primary").actions[3].sessions["primary"]
    session = seed_ja.session(sid)
    assert (session.host, session.database, session.inferred) == ("primary", "blog", False)
    assert seed_ja.step("insert-primary").actions[4].sessions == {"primary": sid}
    # the shell block after psql leaves the session; the next "psql blog" opens another
    assert sid in seed_ja.step("create-pgroonga-index-primary").actions[0].closes_sessions
    sid2 = seed_ja.step("create-pgroonga-index-primary").actions[2].sessions["primary"]
    assert sid2 != sid and not seed_ja.session(sid2).inferred
    # ... which the later SQL on primary still uses (no shell block on primary in between)
    assert seed_ja.step("flush-pgroonga-data-primary").actions[0].sessions["primary"] == sid2
    assert seed_ja.step("start-standbys").actions[2].sessions["primary"] == sid2
    for n, host in ((1, "standby1"), (4, "standby2")):
        s = seed_ja.session(seed_ja.step("start-standbys").actions[n].sessions[host])
        assert (s.inferred, s.database, s.user) == (True, "blog", "${USER}")
    s1 = seed_ja.step("start-standbys").actions[1].sessions["standby1"]
    assert seed_ja.step("start-standbys").actions[3].sessions["standby1"] == s1


def _shape(graph: Graph) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for s in graph.steps:
        out.append((s.id, s.tag, s.number))
        for a in s.actions:
            out.append((a.id, a.kind, tuple(a.targets), a.path, a.before, a.after,
                        tuple((c.text, tuple((t.prompt, t.answer.var) for t in c.dialog), tuple(c.output))
                              for c in a.commands),
                        tuple((st.sql, st.expected and (st.expected.kind, str(st.expected.columns),
                                                        str(st.expected.rows))) for st in a.statements),
                        tuple(sorted(a.sessions))))
    return out


def test_english_page_gives_the_same_graph(seed_ja: Graph, seed_en: Graph) -> None:
    assert seed_en.source.lang == "en"
    assert [h.id for h in seed_en.hosts] == ALL
    assert _shape(seed_en) == _shape(seed_ja)
    assert {v.name: v.value for v in seed_en.variables} == {v.name: v.value for v in seed_ja.variables}
    assert seed_en.steps[0].title == "Install PostgreSQL on both primary and standbys"
    assert seed_en.steps[0].title != seed_ja.steps[0].title


def test_html_annotation_overrides_inference() -> None:
    from runbook.errors import GuideError
    from runbook.parse import parse_text

    text = SEED_JA.read_text(encoding="utf-8").replace(
        "スタンバイでPostgreSQLを起動します。\n\n```bash",
        "スタンバイでPostgreSQLを起動します。\n\n<!-- runbook: hosts=standby2 -->\n\n```bash")
    graph = parse_text(text, "annotated.md")
    start = graph.step("start-standbys").actions[0]
    assert (start.targets, start.target_source) == (["standby2"], "annotation")
    grouped = parse_text(text.replace("hosts=standby2", "hosts=primary, standbys"), "annotated.md")
    assert grouped.step("start-standbys").actions[0].targets == ["primary", "standby1", "standby2"]
    try:
        parse_text(text.replace("hosts=standby2", "hosts=standby7"), "annotated.md")
    except GuideError as exc:
        assert [f.rule for f in exc.findings] == ["unknown-host-annotation"]
        line = text.split("\n").index("<!-- runbook: hosts=standby2 -->") + 1
        assert "standby7" in exc.findings[0].message and exc.findings[0].span.line == line
    else:
        raise AssertionError("an unknown host in an annotation must be refused")
