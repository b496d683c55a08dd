"""The facts each guide of docs/guides/ exists to show (docs/guides/README.md says which), read from
the guide's own text: its hosts' roles, the settings it edits and where, its sessions, the outputs it
expects. What every tagged guide shows (steps, environment, path paragraphs) is test_docs_guides.py."""

from __future__ import annotations

import re

from docs_pages import (
    Pages,
    action_at,
    fence_at,
    fences,
    graph,
    path,
    psql_lines,
    rows_of,
    statement_at,
    table_after,
    text,
)
from helpers import line_of, lines_of

from runbook.model import Action, Graph

PAGES = Pages()


def _both(name: str) -> list[str]:
    return [f"docs/guides/{name}.ja.md", f"docs/guides/{name}.en.md"]


def _next_action(g: Graph, action: Action) -> Action:
    actions = g.actions()
    return actions[actions.index(action) + 1]


def _password(page: str) -> str:
    """The replication password the environment list gives (`Replication user password: `x``)."""
    m = re.search(r"(?:password|パスワード)\s*[:：]\s*`([^`]+)`", text(page))
    assert m, page
    return m[1]


def _tables_match(page: str, needle: str) -> int:
    """Every statement holding ``needle`` expects the table the page shows under it; how many."""
    g = graph(page)
    found = lines_of(path(page), needle)
    for n in found:
        shown = table_after(page, n)
        expected = statement_at(g, n).expected
        assert expected is not None and expected.row_count == shown.count, f"{page}:{n}"
        assert rows_of(statement_at(g, n)) == shown.rows, f"{page}:{n}"
    return len(found)


# -- PGroonga's WAL resource manager guide -----------------------------------------------------

@PAGES(*_both("streaming-replication-wal-resource-manager"))
def test_wal_guide_one_primary_two_standbys(page: str) -> None:
    g = graph(page)
    assert [(h.id, h.role) for h in g.hosts] == [("primary", "primary"), ("standby1", "standby"),
                                                ("standby2", "standby")]
    assert [(x.id, x.members) for x in g.groups] == [("standbys", ["standby1", "standby2"])]
    assert len(g.steps) == 10
    special = {"install-pgroonga", "configure-pgroonga-primary", "create-pgroonga-index-primary",
               "flush-pgroonga-data-primary", "configure-pgroonga-standbys"}
    assert {s.id for s in g.steps if s.tag == "specific"} == special


@PAGES(*_both("streaming-replication-wal-resource-manager"))
def test_wal_guide_edits_shared_preload_libraries_on_primary_and_on_standbys(page: str) -> None:
    g = graph(page)
    primary = action_at(g, fence_at(page, "'pgroonga_wal_resource_manager,pgroonga_crash_safer'").line)
    standbys = action_at(g, fence_at(page, "shared_preload_libraries = 'pgroonga_wal_resource_manager'").line)
    listen = action_at(g, fence_at(page, "listen_addresses = 'localhost,192.168.0.30'").line)
    assert (primary.kind, primary.targets) == ("file_edit", ["primary"])
    assert primary.path == standbys.path == "/etc/postgresql/16/main/postgresql.conf"
    assert (standbys.kind, standbys.targets) == ("file_edit", ["standby1", "standby2"])
    assert (listen.kind, listen.targets) == ("file_edit", ["primary"])
    conf_d = action_at(g, fence_at(page, "pgroonga.enable_wal_resource_manager = on").line)
    assert (conf_d.kind, conf_d.targets, conf_d.path) == ("file_write", ["primary"],
                                                          "/etc/postgresql/16/main/conf.d/pgroonga.conf")
    restart = _next_action(g, conf_d)
    assert [c.text for c in restart.commands] == ["sudo -H systemctl restart postgresql"]


@PAGES(*_both("streaming-replication-wal-resource-manager"))
def test_wal_guide_sessions_and_base_backups(page: str) -> None:
    g = graph(page)
    p = path(page)
    # the standbys' SQL runs in a session of their own, the primary's INSERT in the primary's
    insert = action_at(g, fence_at(page, "'PostgreSQL 15 and replication', 'PostgreSQL supports").line)
    assert insert.targets == ["primary"]
    assert g.session(insert.sessions["primary"]).opened_by == action_at(g, psql_lines(page)[1][0] - 1).id
    searches = [statement_at(g, n) for n in lines_of(p, "SELECT title FROM entries WHERE title &@~")]
    hosts = [next(a for a in g.actions() if s in a.statements).targets for s in searches]
    assert hosts == [["primary"], ["standby1"], ["standby1"], ["standby2"]]
    # one pg_basebackup per standby, the password typed at its prompt is the secret of the environment
    for standby in ("standby1", "standby2"):
        n = line_of(p, f"pg_basebackup --create-slot --slot {standby}")
        backup = action_at(g, n - 1)
        assert backup.targets == [standby]
        (turn,) = backup.commands[0].dialog
        variable = g.variable(turn.answer.var or "")
        assert variable is not None and variable.secret and variable.value == _password(page)
        # its output: the line after the continuation line and the password prompt
        assert backup.commands[0].output == [text(page).split("\n")[n + 2]]


@PAGES(*_both("streaming-replication-wal-resource-manager"))
def test_wal_guide_expected_outputs_and_the_published_typo(page: str) -> None:
    assert _tables_match(page, "SELECT title FROM entries WHERE title &@~") == 4
    assert _tables_match(page, "SELECT pgroonga_command('io_flush') AS command;") == 1
    # the published page writes one output line with '-' instead of '-- ': read as output, reported
    typo = next(n for n, line in enumerate(text(page).split("\n"), 1) if re.match(r"-[^-]", line))
    assert [(f.rule, f.span.line) for f in graph(page).findings] == [("expected-output-malformed", typo)]


# -- synchronous replication -------------------------------------------------------------------

@PAGES(*_both("synchronous-replication"))
def test_synchronous_standby_names_first_then_any_applied_by_reload(page: str) -> None:
    g = graph(page)
    edits = [a for a in g.actions() if a.kind == "file_edit" and "synchronous_standby_names" in (a.after or "")]
    assert [a.after for a in edits] == ["synchronous_standby_names = 'FIRST 1 (standby1, standby2)'\n",
                                        "synchronous_standby_names = 'ANY 1 (standby1, standby2)'\n"]
    for edit in edits:
        assert edit.targets == ["primary"]
        assert [c.text for c in _next_action(g, edit).commands] == ["sudo -H systemctl reload postgresql"]
    assert _tables_match(page, "SHOW synchronous_standby_names;") == 2
    assert [rows_of(statement_at(g, n)) for n in lines_of(path(page), "SHOW synchronous_standby_names;")] == [
        [["FIRST 1 (standby1, standby2)"]], [["ANY 1 (standby1, standby2)"]]]
    assert _tables_match(page, "SELECT application_name, sync_state FROM pg_stat_replication") == 3


@PAGES(*_both("synchronous-replication"))
def test_each_standby_names_itself_in_primary_conninfo(page: str) -> None:
    g = graph(page)
    for standby in ("standby1", "standby2"):
        edit = action_at(g, fence_at(page, f"application_name={standby}'").line)
        assert (edit.kind, edit.targets) == ("file_edit", [standby])
        assert f"primary_slot_name = '{standby}'" in (edit.after or "")


# -- logical replication with a row filter -----------------------------------------------------

@PAGES(*_both("logical-replication"))
def test_row_filter_and_the_update_it_refuses(page: str) -> None:
    g = graph(page)
    p = path(page)
    assert [(h.id, h.role) for h in g.hosts] == [("publisher", "publisher"), ("subscriber", "subscriber")]
    table = action_at(g, fence_at(page, "CREATE TABLE t1 (").line)
    assert table.targets == ["publisher", "subscriber"]
    pub = action_at(g, fence_at(page, "CREATE PUBLICATION pub1 FOR TABLE t1 WHERE (i > 3);").line)
    assert pub.targets == ["publisher"]
    refused, accepted = lines_of(p, "UPDATE t1 SET i = 6 WHERE i = 5;")
    lines = text(page).split("\n")
    error = statement_at(g, refused).expected
    assert error is not None and error.kind == "error" and error.error is not None
    assert error.error["message"] == lines[refused].removeprefix("-- ERROR:  ")
    assert error.error["detail"] == lines[refused + 1].removeprefix("-- DETAIL:  ")
    ok = statement_at(g, accepted).expected
    assert ok is not None and (ok.kind, ok.tag) == ("tag", lines[accepted].removeprefix("-- "))
    assert _tables_match(page, "SELECT * FROM t1 ORDER BY i;") == 3
    for n in lines_of(p, "SELECT * FROM t1 ORDER BY i;"):
        assert next(a for a in g.actions() if statement_at(g, n) in a.statements).targets == ["subscriber"]


# -- the older, looser guides ------------------------------------------------------------------

@PAGES(*_both("rhel-logical-replication"))
def test_rhel_guide_pgdg_paths_prompts_and_a_settings_list(page: str) -> None:
    g = graph(page)
    assert {h.os for h in g.hosts} == {"AlmaLinux 9"}
    typo = "`postgresql.con`" if page.endswith(".en.md") else "`postresql.conf`"
    n = line_of(path(page), typo)
    settings = next(a for a in g.actions() if a.kind == "file_edit" and a.edit == "settings")
    listed = re.findall(r"^\s*\* `(\w+ = [^`]+)`\s*$", text(page), flags=re.M)
    assert settings.after == "".join(s + "\n" for s in listed) and len(listed) == 3
    assert (settings.span.line, settings.path, settings.targets) == (n, "/var/lib/pgsql/16/data/postgresql.conf",
                                                                    ["publisher"])
    assert ("file-name-typo", n) in [(f.rule, f.span.line) for f in g.findings]
    hba = next(f for f in fences(page) if any(line.startswith("host    blog") for line in f.body))
    append = next(a for a in g.actions() if a.edit == "append")
    assert (append.path, append.after) == ("/var/lib/pgsql/16/data/pg_hba.conf", "".join(x + "\n" for x in hba.body))
    # `#` prompts run as root, `%` prompts as the regular user
    commands = {c.span.line: c for a in g.actions() for c in a.commands}
    for f in fences(page):
        for i, line in enumerate(f.body):
            if f.lang == "console" and line[:2] in ("# ", "% "):
                assert commands[f.line + 1 + i].root == line.startswith("# "), f"{page}:{f.line + 1 + i}"


@PAGES(*_both("basic-streaming-replication"))
def test_basic_guide_loose_environment_and_settings_in_a_sentence(page: str) -> None:
    g = graph(page)
    assert [h.os for h in g.hosts] == ["Ubuntu 24.04", "Ubuntu 24.04", None]  # Standby2 gives no OS
    sentence = line_of(path(page), "`wal_keep_size = 64MB`")
    settings = re.findall(r"`(\w+ = [^`]+)`", text(page).split("\n")[sentence - 1])
    edit = next(a for a in g.actions() if a.edit == "settings")
    assert (edit.span.line, edit.targets, edit.after) == (sentence, ["primary"], "".join(s + "\n" for s in settings))
    hba = fence_at(page, "host    replication     replicator")
    append = action_at(g, hba.line)
    assert (append.edit, append.path, append.targets) == ("append", "/etc/postgresql/16/main/pg_hba.conf", ["primary"])
    # labels without a colon still say where a block runs
    p = path(page)
    assert action_at(g, line_of(p, "--slot standby1") - 1).targets == ["standby1"]
    assert action_at(g, line_of(p, "--slot standby2") - 1).targets == ["standby2"]
    start = action_at(g, line_of(p, "$ sudo systemctl start postgresql") - 1)
    assert start.targets == ["standby1", "standby2"]
    assert _tables_match(page, "SELECT slot_name, active FROM pg_replication_slots") == 1


@PAGES(*_both("master-slave-replication"))
def test_master_and_slave_are_primary_and_standby(page: str) -> None:
    g = graph(page)
    p = path(page)
    assert [(h.id, h.role) for h in g.hosts] == [("primary", "primary"), ("standby", "standby")]
    # commands in `text` blocks at `%` prompts are console commands
    for f in fences(page):
        prompts = [f.line + 1 + i for i, line in enumerate(f.body) if line.startswith("% ")]
        if prompts:
            action = action_at(g, f.line)
            assert (action.kind, [c.span.line for c in action.commands]) == ("console", prompts)
    # the heading's file-name typo names the file of its before/after edit
    heading = line_of(p, "{#configure-master}")
    assert "`postgresql.con`" in text(page).split("\n")[heading - 1]
    edit = action_at(g, fence_at(page, "listen_addresses = 'localhost,192.168.0.50'").line)
    assert (edit.path, edit.before) == ("/etc/postgresql/16/main/postgresql.conf",
                                        "".join(x + "\n" for x in fence_at(page, "#listen_addresses").body))
    assert ("file-name-typo", heading) in [(f.rule, f.span.line) for f in g.findings]
    # scope by "only" and by a possessive
    hba = action_at(g, fence_at(page, "host    replication     replicator").line)
    assert (hba.edit, hba.targets) == ("append", ["primary"])
    assert action_at(g, fence_at(page, "INSERT INTO entries VALUES (3, 'Slave');").line).targets == ["primary"]
    assert action_at(g, fence_at(page, "SELECT * FROM entries ORDER BY id;").line).targets == ["standby"]
    assert _tables_match(page, "SELECT * FROM entries ORDER BY id;") == 1


@PAGES(*_both("slow-query-log"))
def test_slow_query_log_one_server_and_a_path_asked_from_it(page: str) -> None:
    g = graph(page)
    assert g.shape == "untagged-guide"
    assert [(h.id, h.inferred) for h in g.hosts] == [("server", True)]
    headings = [line.removeprefix("## ") for line in text(page).split("\n") if line.startswith("## ")]
    assert [s.title for s in g.steps] == headings
    n = line_of(path(page), "`log_min_duration_statement = 250`")
    edit = next(a for a in g.actions() if a.kind == "file_edit")
    assert (edit.span.line, edit.edit, edit.path, edit.after) == (n, "settings", "{server:config_file}",
                                                                  "log_min_duration_statement = 250\n")
    assert [(f.rule, f.span.line) for f in g.findings] == [("edit-path-unknown", n)]
    psql = line_of(path(page), "sudo -u postgres psql")
    (session,) = g.sessions
    assert (session.user, session.database, session.opened_by) == ("postgres", None, action_at(g, psql - 1).id)
    assert _tables_match(page, "SHOW log_min_duration_statement;") == 1
