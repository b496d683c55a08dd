"""Settings and appended lines: file edits with no before text (a list of settings in the prose, a
pg_hba.conf block that the prose says to add).  The runner, the exported shell helper and the
exported Ansible task must edit a real file in the same way, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import installed_pg_versions

from runbook.edit_rules import apply_append, apply_file_edit, apply_settings, parse_setting
from runbook.errors import SchemaError
from runbook.export import Secrets
from runbook.export.ansible import HELPER_FILE, _file_task, dump_yaml
from runbook.export.sh import HELPER
from runbook.model import Action, Graph, Span
from runbook.validate import check

SAMPLE = Path(f"/usr/share/postgresql/{(installed_pg_versions() or ['none'])[-1]}/postgresql.conf.sample")
"""Debian's sample of the PostgreSQL a run binds (the newest installed)."""
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="Debian's postgresql is not installed")

SETTINGS = "listen_addresses = 'localhost,192.168.0.40'\nwal_level = logical\nmax_wal_senders = 10\n"
HBA_LINE = "host    blog            replicator      192.168.0.41/32         scram-sha-256\n"
DEBIAN_HBA = """\
local   all             postgres                                peer
local   all             all                                     peer
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""


def _debian_conf() -> str:
    """Debian's sample with the active ``port`` line pg_createcluster writes."""
    text = SAMPLE.read_text()
    line = "port = 5432\t\t\t\t# (change requires restart)"
    assert "#" + line in text
    return text.replace("#" + line, line)


def test_settings_are_appended_and_commented_defaults_stay_as_they_are() -> None:
    conf = _debian_conf()
    r = apply_settings(conf, SETTINGS, path="postgresql.conf")
    assert r.status == "applied"
    assert r.content == conf + SETTINGS  # appended after the last line, nothing else touched
    assert "#wal_level = replica" in r.content and "#listen_addresses = 'localhost'" in r.content
    again = apply_settings(r.content, SETTINGS)
    assert again.status == "already-applied" and again.content == r.content


def test_a_setting_with_an_active_line_replaces_it_in_place() -> None:
    conf = _debian_conf()
    r = apply_settings(conf, "port = 5433\nwal_level = logical\n")
    assert r.status == "applied"
    old, new = conf.split("\n"), r.content.split("\n")
    assert len(new) == len(old) + 1
    changed = [i for i, (a, b) in enumerate(zip(old[:-1], new[: len(old) - 1], strict=True)) if a != b]
    assert [new[i] for i in changed] == ["port = 5433"]
    assert old[changed[0]].startswith("port = 5432\t")
    assert new[-2:] == ["wal_level = logical", ""]
    # The same value written differently is the same setting: nothing to do.
    assert apply_settings(r.content, "port=5433\nwal_level = 'logical'\n").status == "already-applied"


def test_parse_setting_reads_conf_lines_as_postgresql_does() -> None:
    assert parse_setting("listen_addresses = 'localhost,192.168.0.40'   # where") == (
        "listen_addresses", "localhost,192.168.0.40")
    assert parse_setting("Max_WAL_Senders=10") == ("max_wal_senders", "10")
    assert parse_setting("#wal_level = replica") is None
    assert parse_setting("   ") is None


def test_append_adds_lines_at_the_end_once() -> None:
    r = apply_append(DEBIAN_HBA, HBA_LINE, path="pg_hba.conf")
    assert r.status == "applied" and r.content == DEBIAN_HBA + HBA_LINE
    # Compared on content: the same rule with other spacing is already there.
    again = apply_append(r.content, " ".join(HBA_LINE.split()) + "\n")
    assert again.status == "already-applied" and again.content == r.content


def test_crlf_files_keep_their_line_ends() -> None:
    conf = "port = 5432\r\n#wal_level = replica\r\n"
    r = apply_file_edit(conf, "settings", None, "wal_level = logical\n")
    assert r.content == "port = 5432\r\n#wal_level = replica\r\nwal_level = logical\r\n"


def _helper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HELPER, *args], capture_output=True, text=True, env=dict(os.environ))


@pytest.mark.parametrize("mode", ["settings", "append"])
def test_the_shell_export_helper_edits_as_the_runner_does(tmp_path: Path, mode: str) -> None:
    content, text = (_debian_conf(), "port = 5433\n" + SETTINGS) if mode == "settings" else (DEBIAN_HBA, HBA_LINE)
    path = tmp_path / ("postgresql.conf" if mode == "settings" else "pg_hba.conf")
    path.write_text(content)
    expected = apply_file_edit(content, mode, None, text)
    args = [mode, str(path), text] if mode == "settings" else [mode, str(path), "1", text]
    first = _helper(*args)
    assert first.returncode == 0, first.stderr
    assert path.read_text() == expected.content
    assert (tmp_path / f"{path.name}.runbook-bak").read_text() == content
    again = _helper(*args)
    assert again.returncode == 0 and "already applied" in again.stderr
    assert path.read_text() == expected.content


def _action(mode: str, path: Path, after: str) -> Action:
    return Action(id="s#1", kind="file_edit", lang="conf", targets=["publisher"], target_source="prose",
                  span=Span("g.md", 10, 12), code=after, path=str(path), after=after, edit=mode)


@pytest.mark.parametrize("mode", ["settings", "append"])
def test_the_ansible_task_edits_as_the_runner_does(tmp_path: Path, mode: str) -> None:
    content, text = (_debian_conf(), "port = 5433\n" + SETTINGS) if mode == "settings" else (DEBIAN_HBA, HBA_LINE)
    path = tmp_path / "target.conf"
    path.write_text(content)
    task = _file_task(_action(mode, path, text), Secrets([], {}))
    task.pop("become")
    playbook = tmp_path / "play.yml"
    (tmp_path / HELPER_FILE).write_text(HELPER)  # as export_ansible writes it next to the playbook
    playbook.write_text(dump_yaml([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    bindir = Path(sys.executable).parent
    if not (bindir / "ansible-playbook").exists():
        pytest.skip("ansible-playbook is not installed in the venv")
    for _ in range(2):  # the second run changes nothing
        run = subprocess.run([str(bindir / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e",
                              f"ansible_python_interpreter={sys.executable}", str(playbook)],
                             capture_output=True, text=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
        assert run.returncode == 0, run.stdout + run.stderr
        assert path.read_text() == apply_file_edit(content, mode, None, text).content
    assert "changed=0" in run.stdout


def test_edit_fields_are_written_only_when_used_and_validate(seed_ja: Graph) -> None:
    data = seed_ja.to_dict()
    assert all("edit" not in a for s in data["steps"] for a in s["actions"])
    assert all("root" not in c for s in data["steps"] for a in s["actions"] for c in a["commands"])
    step = data["steps"][0]
    step["actions"].append(json.loads(json.dumps({
        "id": f"{step['id']}#99", "kind": "file_edit", "lang": "", "targets": [data["hosts"][0]["id"]],
        "target_source": "prose", "span": {"file": "g.md", "line": 1, "end_line": 2}, "code": SETTINGS,
        "path": "/etc/postgresql/16/main/postgresql.conf", "after": SETTINGS, "edit": "settings"})))
    step["actions"][0]["commands"][0]["root"] = True
    graph = Graph.from_dict(data)
    check(graph.to_dict())
    assert graph.to_dict()["steps"][0]["actions"][-1]["edit"] == "settings"
    bad = graph.to_dict()
    bad["steps"][0]["actions"][-1]["edit"] = "prepend"
    with pytest.raises(SchemaError) as info:
        check(bad)
    assert any("'prepend'" in f.message for f in info.value.findings)
