"""Exporters (runbook/export/) and their CLI (runner/cli/export.py): shell scripts, Ansible,
Markdown in the other language, drawings.  Each is run on the seed guide and on the fully
runnable fixture guide, and the output's content is checked, not only that files appear."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from runbook import lexicon as lexicons
from runbook.drift import compare
from runbook.edit_rules import apply_edit
from runbook.errors import UsageError
from runbook.export import Secrets, mask_shell, phases
from runbook.export.ansible import Template, dump_yaml, export_ansible
from runbook.export.catalog import Catalog, parse_po
from runbook.export.diagram import render_diagram
from runbook.export.markdown import export_markdown, rebuild
from runbook.export.sh import HELPER, export_sh
from runbook.load import load_graph
from runbook.model import Graph
from runbook.parse import parse_file, parse_text
from runner.cli import export as export_cli

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs" / "guides"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = {lang: GUIDES / f"streaming-replication-wal-resource-manager.{lang}.md" for lang in ("ja", "en")}
PLAIN = {lang: FIXTURES / "guides" / f"streaming-replication-plain.{lang}.md" for lang in ("ja", "en")}
PO = FIXTURES / "po" / "streaming-replication-wal-resource-manager.po"
ALL_GUIDES = [SEED["ja"], SEED["en"], PLAIN["ja"], PLAIN["en"], *sorted(GUIDES.glob("*-replication.*.md"))]
SECRET = "passw0rd"
GUIDE_IDS = ["seed", "plain"]


def _graph(path: Path) -> Graph:
    return parse_file(path)


def _no_secret(files: dict[str, str]) -> None:
    for name, text in files.items():
        assert SECRET not in text, f"{name} contains the guide's password"


# -- phases ---------------------------------------------------------------------------------------


def test_phases_follow_the_guide_and_cut_where_hosts_change() -> None:
    plan = phases(_graph(PLAIN["ja"]))
    assert [(p.hosts, [s.id for s in p.steps]) for p in plan][:4] == [
        (["primary", "standby1", "standby2"], ["install-postgresql"]),
        (["primary"], ["configure-replication-primary", "insert-primary", "create-index-primary"]),
        (["standby1", "standby2"], ["pg-basebackup-standbys"]),
        (["standby1"], ["pg-basebackup-standbys"]),
    ]
    assert [p.number for p in plan] == list(range(1, len(plan) + 1))


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("psql 'host=h password=passw0rd'", "psql 'host=h password='\"${RUNBOOK_SECRET_REPLICATION_PASSWORD}\"''"),
        ('psql --command "ALTER ROLE r PASSWORD \'passw0rd\'"',
         'psql --command "ALTER ROLE r PASSWORD \'${RUNBOOK_SECRET_REPLICATION_PASSWORD}\'"'),
        ("echo passw0rd", 'echo "${RUNBOOK_SECRET_REPLICATION_PASSWORD}"'),
    ],
)
def test_a_secret_in_a_command_becomes_a_reference_fitting_its_quotes(command: str, expected: str) -> None:
    secrets = Secrets.of(_graph(SEED["ja"]))
    masked, used = mask_shell(command, secrets)
    assert masked == expected
    assert used == ["RUNBOOK_SECRET_REPLICATION_PASSWORD"]
    out = subprocess.run(["bash", "-c", masked.replace("psql", "echo", 1)], capture_output=True, text=True,
                         env={**os.environ, "RUNBOOK_SECRET_REPLICATION_PASSWORD": "s3cret x"}, check=True)
    assert "s3cret x" in out.stdout


# -- shell ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_sh_writes_one_script_per_host_with_the_guides_actions(guide: Path) -> None:
    graph = _graph(guide)
    files = export_sh(graph)
    assert set(files) == {"primary.sh", "standby1.sh", "standby2.sh", "run-order.tsv"}
    _no_secret(files)
    primary, standby1 = files["primary.sh"], files["standby1.sh"]
    assert primary.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in primary
    # Step and guide line named in comments.
    assert re.search(r"^# Step \d+\. \[normal\] .* \{#configure-replication-primary\} \(.*:\d+\)$", primary,
                     re.MULTILINE)
    assert re.search(rf"# configure-replication-primary#1 \(file_edit\) {re.escape(str(guide))}:\d+", primary)
    # File edits through the helper, with the exact before/after text.
    assert "edit /etc/postgresql/16/main/postgresql.conf conf \"$before\" \"$after\"" in primary
    assert "\n#listen_addresses = 'localhost'\nRUNBOOK_TEXT\n" in primary
    assert "host    replication     all             192.168.0.0/24          scram-sha-256" in primary
    # The prompt answers come from the environment, never from the script.
    assert ('printf \'%s\\n\' "${RUNBOOK_SECRET_REPLICATION_PASSWORD}" "${RUNBOOK_SECRET_REPLICATION_PASSWORD}" '
            "| setsid -w sudo -u postgres -H createuser --pwprompt --replication replicator") in primary
    assert "| setsid -w sudo -u postgres -H pg_basebackup --create-slot --slot standby1 \\\n" in standby1
    # SQL through psql in the session's database, one here-document per block.
    assert "psql -X -v ON_ERROR_STOP=1 --dbname blog <<'SQL'\nCREATE TABLE entries (" in primary
    assert "SET enable_seqscan TO off;\nSELECT title FROM entries" in standby1
    # The interactive `psql blog` is not run as such.
    assert "\npsql blog\n" not in primary
    # Standbys do not run the primary's steps.
    assert "createuser --pwprompt" not in standby1
    order = files["run-order.tsv"].splitlines()[1:]
    assert order[0].split("\t")[:2] == ["1", "primary standby1 standby2"]


def test_sh_applies_bindings_but_never_binds_a_secret() -> None:
    graph = _graph(PLAIN["ja"])
    files = export_sh(graph, bindings={"pg_major": "15", "primary.address": "10.0.0.5",
                                       "network": "10.0.0.0/24", "replication_password": "Zq9-other-pw"})
    text = "".join(files.values())
    assert "/etc/postgresql/15/main/pg_hba.conf" in text and "/16/" not in text
    assert "--host 10.0.0.5" in files["standby1.sh"]
    assert "10.0.0.0/24          scram-sha-256" in files["primary.sh"]
    assert "Zq9-other-pw" not in text


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt install shellcheck)")
@pytest.mark.parametrize("guide", ALL_GUIDES, ids=lambda p: p.name)
def test_sh_scripts_pass_shellcheck(guide: Path, tmp_path: Path) -> None:
    files = export_sh(_graph(guide))
    _no_secret(files)
    export_cli.write_files(tmp_path, files)
    scripts = sorted(str(p) for p in tmp_path.glob("*.sh"))
    result = subprocess.run(["shellcheck", "--shell=bash", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    for script in scripts:
        assert subprocess.run(["bash", "-n", script]).returncode == 0


def test_sh_script_refuses_unknown_phase_and_lists_its_phases(tmp_path: Path) -> None:
    files = export_sh(_graph(PLAIN["ja"]))
    export_cli.write_files(tmp_path, files)
    listed = subprocess.run(["bash", str(tmp_path / "standby1.sh"), "list"], capture_output=True, text=True)
    assert listed.returncode == 0
    numbers = listed.stdout.split()
    expected = [line.split("\t")[0] for line in files["run-order.tsv"].splitlines()[1:]
                if "standby1" in line.split("\t")[1].split()]
    assert numbers == expected
    bad = subprocess.run(["bash", str(tmp_path / "standby1.sh"), "999"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no phase 999" in bad.stderr


def test_a_secret_in_a_file_edit_is_expanded_by_the_helper_from_the_environment() -> None:
    graph = _graph(GUIDES / "synchronous-replication.en.md")
    files = export_sh(graph)
    _no_secret(files)
    standby1 = files["standby1.sh"]
    assert "password=${RUNBOOK_SECRET_REPLICATION_PASSWORD}" in standby1
    assert "sudo --preserve-env=RUNBOOK_SECRET_REPLICATION_PASSWORD python3" in standby1
    assert '"$before" "$after" RUNBOOK_SECRET_REPLICATION_PASSWORD' in standby1


# -- the embedded file helper ---------------------------------------------------------------------

DEBIAN_CONF = """\
# - Connection Settings -

#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;
\t\t\t\t\t# comma-separated list of addresses;
port = 5432\t\t\t\t# (change requires restart)
#wal_level = replica\t\t\t# minimal, replica, or logical
"""

DEBIAN_HBA = """\
local   all             postgres                                peer
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""

EDITS = [
    ("postgresql.conf", DEBIAN_CONF, "#listen_addresses = 'localhost'\n",
     "listen_addresses = 'localhost,127.0.0.30'\n"),
    ("pg_hba.conf", DEBIAN_HBA,
     "local   replication     all                                     peer\n"
     "host    replication     all             127.0.0.1/32            scram-sha-256\n"
     "host    replication     all             ::1/128                 scram-sha-256\n",
     "local   replication     all                                     peer\n"
     "host    replication     all             127.0.0.1/32            scram-sha-256\n"
     "host    replication     all             ::1/128                 scram-sha-256\n"
     "host    replication     all             127.0.0.0/24          scram-sha-256\n"),
    ("postgresql.conf", DEBIAN_CONF, "#wal_level = replica\n", "wal_level = logical\n"),
]


def _helper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HELPER, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("name", "content", "before", "after"), EDITS, ids=["replace", "insert", "comment"])
def test_helper_edits_as_the_runner_does_and_is_idempotent(tmp_path: Path, name: str, content: str, before: str,
                                                           after: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(0o640)
    expected = apply_edit(content, before, after, conf=True)
    assert expected.status == "applied"
    result = _helper("edit", str(path), "1", before, after)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == expected.content
    assert (tmp_path / f"{name}.runbook-bak").read_text() == content
    assert path.stat().st_mode & 0o777 == 0o640
    # Again: already applied, nothing changes.
    again = _helper("edit", str(path), "1", before, after)
    assert again.returncode == 0 and "already applied" in again.stderr
    assert path.read_text() == expected.content


def test_helper_fails_loudly_and_leaves_the_file_when_the_before_text_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "postgresql.conf"
    path.write_text(DEBIAN_CONF)
    result = _helper("edit", str(path), "1", "#max_wal_senders = 10\n", "max_wal_senders = 20\n")
    assert result.returncode == 1
    assert "before text is not in the file" in result.stderr and "#max_wal_senders = 10" in result.stderr
    assert path.read_text() == DEBIAN_CONF
    assert not (tmp_path / "postgresql.conf.runbook-bak").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["postgresql.conf"]


def test_helper_writes_files_and_expands_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "conf.d" / "replication.conf"
    path.parent.mkdir()
    text = "primary_conninfo = 'password=${RUNBOOK_SECRET_X}'"
    assert _helper("write", str(path), text, "RUNBOOK_SECRET_X", env={"RUNBOOK_SECRET_X": "pw"}).returncode == 0
    assert path.read_text() == "primary_conninfo = 'password=pw'\n"
    missing = _helper("write", str(path), text, "RUNBOOK_SECRET_UNSET")
    assert missing.returncode != 0 and "RUNBOOK_SECRET_UNSET is not set" in missing.stderr


# -- Ansible --------------------------------------------------------------------------------------


def _ansible_playbook() -> str | None:
    candidate = Path(sys.executable).parent / "ansible-playbook"
    return str(candidate) if candidate.exists() else shutil.which("ansible-playbook")


class _UnsafeLoader(yaml.SafeLoader):
    """Loads ``!unsafe`` strings as ("unsafe", text), so a test sees which strings carry the tag."""


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node)))


def test_yaml_keeps_every_string_a_string_and_marks_jinja_unsafe() -> None:
    shared = {"k": "v"}
    value = {"plain": "yes", "mode": "0644", "on": "off", "number": 3, "flag": True, "none": None,
             "template": Template("{{ lookup('env', 'X') }}"), "literal": "echo {{ not a template }}",
             "block": "line 1\n  line 2 \nline 3\n", "trailing": "a\n\n", "tab": "\tx\ny",
             "a: key with: colons": ["x", shared, shared, [], {}], "日本語": "プライマリー"}
    text = dump_yaml(value)
    assert text.startswith("---\n") and "&id" not in text and "*id" not in text
    assert "日本語: \"プライマリー\"" in text  # allow_unicode: Japanese as it is
    loaded = yaml.load(text, Loader=_UnsafeLoader)  # noqa: S506 - a SafeLoader subclass
    assert loaded == {**value, "template": "{{ lookup('env', 'X') }}",
                      "literal": ("unsafe", "echo {{ not a template }}")}


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_ansible_has_one_task_per_action_in_plays_per_phase(guide: Path) -> None:
    graph = _graph(guide)
    files = export_ansible(graph)
    assert set(files) == {"playbook.yml", "inventory.yml", "runbook-edit.py"}
    _no_secret(files)
    plays = yaml.safe_load(files["playbook.yml"].replace("!unsafe ", ""))
    assert [p["hosts"] for p in plays][:3] == ["all", "primary", "standbys"]
    tasks = [t for p in plays for t in p["tasks"]]
    actions = [a for s in graph.steps for a in s.actions]
    assert len(tasks) == len(actions)
    for task, action in zip(tasks, actions, strict=True):
        step = graph.step(action.id.split("#")[0])
        assert step.title in task["name"] and action.id in task["name"]
    by_id = {a.id: t for a, t in zip(actions, tasks, strict=True)}
    createuser = by_id["configure-replication-primary#3"]
    assert createuser["ansible.builtin.expect"]["command"] == (
        "sudo -u postgres -H createuser --pwprompt --replication replicator")
    assert createuser["no_log"] is True
    assert set(createuser["ansible.builtin.expect"]["responses"].values()) == {
        "{{ lookup('ansible.builtin.env', 'RUNBOOK_SECRET_REPLICATION_PASSWORD') }}"}
    hba = by_id["configure-replication-primary#2"]
    assert hba["ansible.builtin.script"]["cmd"] == (
        "runbook-edit.py --env edit /etc/postgresql/16/main/pg_hba.conf conf RUNBOOK_BEFORE RUNBOOK_AFTER")
    assert hba["environment"]["RUNBOOK_AFTER"].rstrip("\n").endswith(
        "host    replication     all             192.168.0.0/24          scram-sha-256")
    sql = next(t for a, t in by_id.items() if a.startswith("insert-primary") and "shell" in str(t) and
               "CREATE TABLE" in str(t))
    assert "psql -X -v ON_ERROR_STOP=1 --dbname blog <<'SQL'" in sql["ansible.builtin.shell"]["cmd"]
    inventory = yaml.safe_load(files["inventory.yml"])
    assert inventory["all"]["hosts"]["primary"] == {"ansible_host": "192.168.0.30"}
    assert set(inventory["all"]["children"]["standbys"]["hosts"]) == {"standby1", "standby2"}


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"], *sorted(GUIDES.glob("*-replication.en.md"))],
                         ids=lambda p: p.name)
def test_ansible_playbook_passes_syntax_check(guide: Path, tmp_path: Path) -> None:
    command = _ansible_playbook()
    if command is None:
        pytest.skip("ansible-playbook is not installed (pip install ansible-core)")
    files = export_ansible(_graph(guide))
    export_cli.write_files(tmp_path, files)
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".ansible"), "HOME": str(tmp_path)}
    result = subprocess.run([command, "--syntax-check", "-i", str(tmp_path / "inventory.yml"),
                             str(tmp_path / "playbook.yml")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# -- Markdown in the other language --------------------------------------------------------------


def _fences(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n.*?^```$", text, re.MULTILINE | re.DOTALL)


def _executable(graph: Graph) -> list[object]:
    return [
        (s.id, s.tag, s.number, [
            (a.id, a.kind, a.targets, [(c.text, [(t.prompt, t.answer.var, t.answer.literal) for t in c.dialog],
                                        c.output) for c in a.commands],
             [(st.sql, st.expected.lines if st.expected else None) for st in a.statements],
             a.path, a.before, a.after)
            for a in s.actions])
        for s in graph.steps
    ] + [[(h.id, h.address, h.role, h.number) for h in graph.hosts]]


@pytest.mark.parametrize(("source", "target"), [(SEED["ja"], "en"), (SEED["en"], "ja"), (PLAIN["ja"], "en"),
                                                (PLAIN["en"], "ja")], ids=["seed-ja-en", "seed-en-ja", "plain-ja-en",
                                                                           "plain-en-ja"])
def test_markdown_round_trip_gives_the_same_step_graph(source: Path, target: str) -> None:
    graph = _graph(source)
    text, untranslated = rebuild(graph, source.read_text(encoding="utf-8"), target,
                                 Catalog.from_po(PO.read_text(encoding="utf-8")))
    again = parse_text(text, f"exported.{target}.md", target)
    assert again.source.lang == target
    assert _executable(again) == _executable(graph)
    report = compare(graph, again)
    assert report.executable == [], report.verdict_line()
    assert _fences(text) == _fences(source.read_text(encoding="utf-8"))  # code blocks unchanged
    assert untranslated > 0


def test_markdown_takes_structure_from_lexicons_and_prose_from_the_po_catalog() -> None:
    catalog = Catalog.from_po(PO.read_text(encoding="utf-8"))
    en, _ = rebuild(_graph(SEED["ja"]), SEED["ja"].read_text(encoding="utf-8"), "en", catalog)
    ja, _ = rebuild(_graph(SEED["en"]), SEED["en"].read_text(encoding="utf-8"), "ja", catalog)
    # From the catalog, in both directions.
    assert en.startswith("---\ntitle: Streaming replication by WAL resource manager\n---\n")
    assert "\n## [normal] Install PostgreSQL on both primary and standbys {#install-postgresql}\n" in en
    assert "\nCreate the user for replication on only primary:\n" in en
    assert "\n  * `standby1` is an example. It is better to use a name that is easy to understand.\n" in en
    assert "\nThis is a PGroonga specific step.\n" in en
    assert "\n## [通常] プライマリーとスタンバイでPostgreSQLをインストールする {#install-postgresql}\n" in ja
    assert "\nスタンバイでPostgreSQLを起動します。\n" in ja
    # From the lexicons.
    assert "\n## Summary\n" in en and "\n## 概要\n" in ja
    assert "\n  * Standby1:\n" in en and "\n    * IP address: 192.168.0.31\n" in en
    assert "\n    * IPアドレス：192.168.0.31\n" in ja
    assert "\nBefore:\n" in en and "\n変更後：\n" in ja
    assert "\nStandbys:\n" in en and "\nスタンバイ2：\n" in ja
    assert "\nThis is a normal step.\n" in en and "\nこれは通常の手順です。\n" in ja
    assert "  5. [normal] [" in en and "  6. [固有] [" in ja
    # Untranslated paragraphs are kept and marked; fuzzy and empty entries do not count.
    assert "\nConfirm the index: <!-- runbook: 未翻訳 -->\n" in ja
    assert "\nConnect to the created `blog` database: <!-- runbook: 未翻訳 -->\n" in ja
    assert "これによりWALベースのストリーミングレプリケーションの運用が楽になります。 <!--" not in en


def test_po_parser_reads_pgroongas_format() -> None:
    pairs = parse_po(PO.read_text(encoding="utf-8"))
    assert ("# Streaming replication by WAL resource manager",
            "# WALリソースマネージャーを使ったストリーミングレプリケーション") in pairs
    assert ("  * `standby1` is an example. It is better to use a name that is easy to understand.",
            "  * `standby1`は例です。わかりやすい名前を設定してください") in pairs
    assert all(en != "Confirm the index:" for en, _ in pairs)  # fuzzy
    assert all(en != "Connect to the created `blog` database:" for en, _ in pairs)  # untranslated


SMALL_PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgctxt "heading"
msgid "Set up"
msgstr "設定"

msgid "A long "
"paragraph"
msgstr "長い"
"段落"

#, fuzzy
msgid "Guessed"
msgstr "推測"

msgid "One file"
msgid_plural "Files"
msgstr[0] "ファイル"

#~ msgid "Gone"
#~ msgstr "削除済み"

msgid "Quote \\"q\\""
msgstr "引用「q」"
"""


def test_po_entries_that_count_and_those_that_do_not() -> None:
    assert parse_po(SMALL_PO) == [("Set up", "設定"), ("A long paragraph", "長い段落"), ('Quote "q"', "引用「q」")]


@pytest.mark.parametrize(("text", "line"), [('msgid "a"\nmsgstr "b"\n\nmsgid "c\n', 4),
                                            ('msgid "a"\nmsgstr "b"\nnonsense here\n', 3),
                                            ('msgid "a"\nmsgstr "b" "c"\n', 2)])
def test_a_broken_po_file_is_a_usage_error_naming_its_line(text: str, line: int) -> None:
    with pytest.raises(UsageError, match=rf"^bad\.po:{line}: not a PO file: "):
        parse_po(text, "bad.po")


# -- drawings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_mermaid_draws_one_lane_per_host_with_every_step(guide: Path) -> None:
    graph = _graph(guide)
    text = render_diagram(graph, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "```mermaid" and lines[1] == "flowchart TB" and lines[-1] == "```"
    assert [ln.split("[")[0].split()[1] for ln in lines if ln.strip().startswith("subgraph ")] == [
        "primary_lane", "standby1_lane", "standby2_lane"]
    assert lines.count("    end") == 3
    nodes = re.findall(r"^\s+(n_\w+)\[", text, re.MULTILINE)
    edges = re.findall(r"^\s+(n_\w+) (-->|-\.->) (n_\w+)$", text, re.MULTILINE)
    assert edges and all(a in nodes and b in nodes for a, _, b in edges)
    assert re.search(r"^    n_primary__install_postgresql --> n_primary__install_pg|^    n_primary__install_postgresql "
                     r"--> n_primary__configure_replication_primary$", text, re.MULTILINE)
    assert any(a.startswith("n_primary__") and b.startswith("n_standby") and kind == "-.->" for a, kind, b in edges)
    assert "[normal]" in text or "[通常]" in text
    # It parses as a guide's mermaid block.
    assert parse_text(f"# t\n\n{text}\n## [normal] x {{#x}}\n\nThis is a normal step.\n", "t.md", "en").notes[0].lang \
        == "mermaid"


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_dot_is_valid_graphviz(guide: Path) -> None:
    text = render_diagram(_graph(guide), "dot")
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("subgraph \"cluster_") == 3
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed: structure checked only")
    result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


# -- the command line -----------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    from runner.cli import main as run

    return run(list(argv))


def test_cli_export_writes_files_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("export", str(PLAIN["ja"]), "--to", "sh", "-o", str(tmp_path / "sh")) == 0
    assert sorted(p.name for p in (tmp_path / "sh").iterdir()) == ["primary.sh", "run-order.tsv", "standby1.sh",
                                                                  "standby2.sh"]
    assert os.access(tmp_path / "sh" / "primary.sh", os.X_OK)
    assert _cli("export", str(SEED["en"]), "--to", "ansible", "-o", str(tmp_path / "ansible")) == 0
    assert (tmp_path / "ansible" / "playbook.yml").read_text().count("- name: \"Phase ") >= 5
    assert _cli("export", str(SEED["en"]), "--to", "markdown", "--lang", "ja", "--po", str(PO)) == 0
    out = capsys.readouterr().out
    assert "## [通常] プライマリーとスタンバイでPostgreSQLをインストールする {#install-postgresql}" in out
    assert _cli("graph", str(SEED["ja"]), "--format", "dot") == 0
    assert capsys.readouterr().out.startswith("digraph ")


def test_cli_export_with_an_inventory_binds_values(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[bindings]\npg_major = "15"\n"primary.address" = "127.0.0.30"\n'
                         '[secrets]\nreplication_password = "MY_PW"\n')
    assert _cli("export", str(PLAIN["en"]), "--to", "sh", "--inventory", str(inventory), "-o", str(tmp_path)) == 0
    standby1 = (tmp_path / "standby1.sh").read_text()
    assert "--host 127.0.0.30 --pgdata /var/lib/postgresql/15/main" in standby1
    assert '"${MY_PW}"' in standby1 and SECRET not in standby1


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("export", str(PLAIN["ja"]), "--to", "sh") == 2  # several files, no -o
    assert "give -o DIR" in capsys.readouterr().err
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown") == 2
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown", "--lang", "ja") == 2  # already Japanese
    bad_po = tmp_path / "bad.po"
    bad_po.write_text('msgid "x\n')
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown", "--lang", "en", "--po", str(bad_po)) == 2
    assert "bad.po:1: not a PO file" in capsys.readouterr().err


def test_write_files_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("old\n")
    with pytest.raises(OSError):
        export_cli.write_files(tmp_path, {"a.sh": "new\n", "missing-dir/b.sh": "x\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sh"]
    assert (tmp_path / "a.sh").read_text() == "old\n"


# -- end to end on the sandbox --------------------------------------------------------------------


def _sandbox_skip() -> str | None:
    try:
        from runner.planning import plan as _plan  # noqa: F401
    except ImportError:
        return "runner.planning.plan (the sandbox's bindings and substitutions) is not available"
    if os.geteuid() != 0:
        return "the embedded sandbox needs root"
    for tool in ("unshare", "nsenter", "setpriv", "setsid"):
        if not shutil.which(tool):
            return f"{tool} (util-linux) is missing"
    if not shutil.which("pg_createcluster") or not Path("/usr/lib/postgresql").is_dir():
        return "PostgreSQL (Debian's postgresql-common + postgresql-NN) is not installed"
    return None


def _free_addresses(n: int, start: int = 170) -> list[str]:
    """n loopback addresses on which nothing listens on 5432 (other sandboxes may be running)."""
    out: list[str] = []
    for last in range(start, 250):
        with socket.socket() as s:
            s.settimeout(0.3)
            if s.connect_ex((f"127.0.0.{last}", 5432)) != 0:
                out.append(f"127.0.0.{last}")
        if len(out) == n:
            return out
    pytest.skip("no free 127.0.0.x addresses for the test sandbox")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.skipif(_sandbox_skip() is not None, reason=_sandbox_skip() or "")
def test_exported_scripts_replay_the_guide_on_fresh_sandbox_hosts(tmp_path: Path) -> None:
    """Export the runnable guide with the sandbox's bindings and substitutions, run every phase on its
    hosts in run-order.tsv's order, then check the guide's SQL results on the standbys."""
    from runner.planning.inventory import default_inventory
    from runner.planning.plan import build_plan
    from runner.sandbox import Sandbox, SandboxHost

    graph = _graph(PLAIN["en"])
    name = f"export-{os.getpid()}"
    addresses = _free_addresses(len(graph.hosts))
    hosts = [SandboxHost(h.id, a) for h, a in zip(graph.hosts, addresses, strict=True)]
    box = Sandbox(name, hosts, root=tmp_path / "sandboxes")
    version = sorted(p.name for p in Path("/usr/lib/postgresql").iterdir())[-1]
    inventory = default_inventory(graph)
    inventory.bindings.update({f"{h.id}.address": a for h, a in zip(graph.hosts, addresses, strict=True)})
    plan = build_plan(graph, inventory, create_cluster=box.create_cluster_command(version), pg_version=version)
    bound = plan.graph
    for action in bound.actions():  # the sandbox's substitutions (install step -> pg_createcluster)
        kept = []
        for i, cmd in enumerate(action.commands):
            text, _ = plan.command_text(action.id, i, cmd.text)
            if text is not None:
                cmd.text = text
                kept.append(cmd)
        action.commands = kept
    files = export_sh(bound)
    _no_secret(files)
    try:
        box.up()
        for host in graph.hosts:
            target = box.host_root(host.id) / "tmp"
            for file_name, text in files.items():
                (target / file_name).write_text(text)
                (target / file_name).chmod(0o755)
        env = "RUNBOOK_SECRET_REPLICATION_PASSWORD=" + SECRET
        for line in files["run-order.tsv"].splitlines()[1:]:
            number, host_list, _ = line.split("\t")
            for host_id in host_list.split():
                result = box.run(host_id, ["env", env, "bash", f"/tmp/{host_id}.sh", number], user=box.user,
                                 timeout=300)
                assert result.returncode == 0, f"{host_id} phase {number}:\n{result.stdout}\n{result.stderr}"
        query = "SELECT title FROM entries WHERE title LIKE '%replication%' ORDER BY title;"
        for standby in ("standby1", "standby2"):
            deadline = time.monotonic() + 30
            while True:
                out = box.run(standby, ["psql", "-X", "-At", "--dbname", "blog", "-c", query], user=box.user)
                if out.stdout.split("\n")[:2] == ["PGroonga and replication", "PostgreSQL 15 and replication"] \
                        or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert out.stdout.splitlines() == ["PGroonga and replication", "PostgreSQL 15 and replication"], out
            feedback = box.run(standby, ["psql", "-X", "-At", "--dbname", "blog", "-c", "SHOW hot_standby_feedback;"],
                               user=box.user)
            assert feedback.stdout.strip() == "on"
    finally:
        box.down()


def test_configure_functions_accept_the_documented_options() -> None:
    parser = argparse.ArgumentParser()
    export_cli.configure(parser)
    args = parser.parse_args(["g.md", "--to", "markdown", "--lang", "en", "--po", "x.po", "-o", "out",
                              "--inventory", "i.toml"])
    assert (args.to, args.lang, args.po, args.output, args.inventory) == ("markdown", "en", "x.po", "out", "i.toml")


@pytest.mark.parametrize("source", sorted(GUIDES.glob("*.*.md")),
                         ids=lambda p: p.name)
def test_markdown_export_without_a_catalog_parses_back_to_the_same_graph(source: Path, tmp_path: Path) -> None:
    """With no PO, every prose block stays as written (marked untranslated); the page written as
    ``GUIDE.LANG.md`` is read with LANG's lexicon (from its name) and gives the same graph."""
    graph = _graph(source)
    target = "en" if graph.source.lang == "ja" else "ja"
    files = export_markdown(graph, lang=target, source_text=source.read_text(encoding="utf-8"))
    (name, text), = files.items()
    assert name.endswith(f".{target}.md")
    assert str(lexicons.load(target).text["untranslated"]) in text
    out = tmp_path / name
    out.write_text(text, encoding="utf-8")
    again = load_graph(out)  # no --lang: the file name says the language
    assert again.source.lang == target
    assert _executable(again) == _executable(graph)
    assert compare(graph, again).executable == []
    assert _fences(text) == _fences(source.read_text(encoding="utf-8"))
