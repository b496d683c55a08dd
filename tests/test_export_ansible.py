"""``runbook export --to ansible``: YAML that keeps every string a string, one task per action in
plays per phase, a playbook ``ansible-playbook --syntax-check`` accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from export_support import GUIDE_IDS, GUIDES, PLAIN, SEED, _graph, _no_secret

from runbook.export.ansible import Template, dump_yaml, export_ansible
from runner.cli import export as export_cli

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
