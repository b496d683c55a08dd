"""Export a step graph as an Ansible playbook and inventory.

``playbook.yml`` has one play per phase (a run of consecutive actions on the same hosts, see
:func:`runbook.export.phases`), so the order across hosts is the guide's; one task per action,
named after its step.  ``inventory.yml`` has the guide's hosts and groups.

* shell and SQL blocks: ``ansible.builtin.shell`` (bash, ``set -euo pipefail``; SQL through the
  same ``psql`` here-document as the shell export);
* console blocks with prompts: ``ansible.builtin.expect``, answers from the controller's
  environment (``lookup('ansible.builtin.env', 'RUNBOOK_SECRET_…')``), ``no_log: true``;
* file edits (before/after, settings, appended lines): ``ansible.builtin.script`` running the file
  helper written next to the playbook (``runbook-edit.py``, the text of ``runbook/edit_rules.py``:
  the rules the runner applies), ``changed`` unless the edit was already applied, failed when the
  before text is missing;
* file writes: ``ansible.builtin.copy``.

The YAML is written by PyYAML's safe dumper: strings double-quoted or literal blocks, lists
indented, no anchors, and a string with Jinja delimiters in it that is not meant as a template
tagged ``!unsafe``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

import yaml

from ..bind import bind_graph
from ..errors import UsageError
from ..kinds import ActionKind, EditKind
from ..model import Action, Graph, Step, as_root
from . import Secrets, mask_shell, phases
from .sh import HELPER, command_lines, sql_lines

_JINJA = re.compile(r"\{\{|\{%|\{#")


class Template(str):
    """A string meant as a Jinja template (never tagged ``!unsafe``)."""


def _env_lookup(env: str) -> str:
    return "{{ lookup('ansible.builtin.env', '" + env + "') }}"


# -- YAML ---------------------------------------------------------------------------------------


def _block_ok(text: str) -> bool:
    return "\n" in text and not text.startswith((" ", "\t", "\n")) and not text.endswith("\n\n") and "\r" not in text


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper laid out for playbooks: indented lists, keys plain where YAML allows, no aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> yaml.MappingNode:
        node = super().represent_mapping(tag, mapping, flow_style)
        for key, _ in node.value:
            key.tag, key.style = "tag:yaml.org,2002:str", None
        return node


def _represent_str(dumper: _Dumper, text: str) -> yaml.ScalarNode:
    tag = "tag:yaml.org,2002:str" if isinstance(text, Template) or not _JINJA.search(text) else "!unsafe"
    return dumper.represent_scalar(tag, str(text), style="|" if _block_ok(text) else '"')


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Template, _represent_str)


def dump_yaml(value: Any) -> str:
    text: str = yaml.dump(value, Dumper=_Dumper, explicit_start=True, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=1 << 30)
    return text


# -- tasks --------------------------------------------------------------------------------------


def _task_name(step: Step, action: Action) -> str:
    number = f"{step.number}. " if step.number is not None else ""
    tag = f"[{step.tag}] " if step.tag else ""
    return f"{number}{tag}{step.title} ({action.id}, {action.span})"


def _environment(envs: list[str]) -> dict[str, Any]:
    return {e: Template(_env_lookup(e)) for e in envs}


def _shell_task(lines: list[str], envs: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {
        "ansible.builtin.shell": {
            "cmd": "set -euo pipefail\n" + "\n".join(lines),
            "executable": "/bin/bash",
        }
    }
    if envs:
        task["environment"] = _environment(envs)
        task["no_log"] = True
    return task


def _expect_task(graph: Graph, action: Action, secrets: Secrets) -> dict[str, Any] | None:
    """An expect task when the block is one command with prompts, else None."""
    commands = [c for c in action.commands if c.opens_session is None]
    if len(commands) != 1 or not commands[0].dialog:
        return None
    cmd = commands[0]
    text, envs = mask_shell((as_root(cmd.text) if cmd.root else cmd.text).replace("\\\n", " "), secrets)
    text = " ".join(text.split())
    if envs or re.search(r"[$|&;<>`*?(){}]", text):
        text = "/bin/bash -c " + json.dumps(text)
    responses: dict[str, list[str]] = {}
    secret = bool(envs)
    for turn in cmd.dialog:
        answer = turn.answer
        if answer.var is not None and secrets.var_env(answer.var) is not None:
            value: str = Template(_env_lookup(secrets.var_env(answer.var) or ""))
            secret = True
        elif answer.var is not None:
            var = graph.variable(answer.var)
            value = var.value if var else ""
        else:
            value = answer.literal or ""
        responses.setdefault(re.escape(turn.prompt), []).append(value)
    task: dict[str, Any] = {
        "ansible.builtin.expect": {
            "command": text,
            "responses": {k: (v[0] if len(v) == 1 else v) for k, v in responses.items()},
            "timeout": 3600,
        }
    }
    if envs:
        task["environment"] = _environment(envs)
    if secret:
        task["no_log"] = True
    return task


HELPER_FILE = "runbook-edit.py"
"""Written next to the playbook: the file helper (:data:`runbook.export.sh.HELPER`), run by the edit tasks."""


def _edit_task(action: Action, secrets: Secrets) -> dict[str, Any]:
    """A file edit: the helper (the rules the runner applies) as a ``script`` task on the host, the
    texts in its environment (``--env``: the helper reads them there); ``changed`` unless the helper
    says the edit was already applied, failed when the before text is missing."""
    before, after = secrets.placeholders(action.before or ""), secrets.placeholders(action.after or "")
    envs = secrets.used_in((action.before or "") + "\n" + (action.after or ""))
    path, lang = shlex.quote(action.path or ""), shlex.quote(action.lang)
    if action.edit == EditKind.SETTINGS:
        args = f"settings {path} RUNBOOK_AFTER"
    elif action.edit == EditKind.APPEND:
        args = f"append {path} {lang} RUNBOOK_AFTER"
    else:
        args = f"edit {path} {lang} RUNBOOK_BEFORE RUNBOOK_AFTER"
    environment: dict[str, Any] = {"RUNBOOK_BEFORE": before, "RUNBOOK_AFTER": after, **_environment(envs)}
    task: dict[str, Any] = {
        "ansible.builtin.script": {"cmd": " ".join([HELPER_FILE, "--env", args, *envs]), "executable": "python3"},
        "environment": environment,
        "register": "runbook_edit",
        "changed_when": Template("runbook_edit.rc == 0 and 'runbook: already applied:' not in "
                                 "(runbook_edit.stdout + runbook_edit.stderr)"),
    }
    if envs:
        task["no_log"] = True
    return task


def _file_task(action: Action, secrets: Secrets) -> dict[str, Any]:
    if (action.path or "").startswith("{server:"):
        raise UsageError(f"{action.span}: the guide names no path for this file (the runner and the shell "
                         "export ask the server, SHOW config_file): write a file path paragraph before it for "
                         "Ansible")
    if action.kind == ActionKind.FILE_EDIT:
        task = _edit_task(action, secrets)
    else:
        envs: list[str] = []
        content = action.after or ""
        content = content if content.endswith("\n") else content + "\n"
        found = secrets.used_in(content)
        if found:
            envs.extend(found)
            for v in secrets.variables:
                content = content.replace(v.value, _env_lookup(secrets.env[v.name]))
            content = Template(content)
        task = {"ansible.builtin.copy": {"dest": action.path, "content": content, "mode": "0644"}}
        if envs:
            task["no_log"] = True
    task["become"] = True
    return task


def task(graph: Graph, step: Step, action: Action, host: str, secrets: Secrets) -> dict[str, Any]:
    body: dict[str, Any] | None
    if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
        body = _file_task(action, secrets)
    elif action.kind == ActionKind.SQL:
        lines = sql_lines(graph, action, host, secrets)
        body = _shell_task(lines, secrets.used_in("\n".join(st.sql for st in action.statements)))
    else:
        body = _expect_task(graph, action, secrets) if action.kind == ActionKind.CONSOLE else None
        if body is None and all(c.opens_session is not None for c in action.commands):
            opened = "; ".join(c.text for c in action.commands)
            body = {"ansible.builtin.debug": {"msg": f"{opened}: opens the psql session that the next SQL tasks "
                                                     "run in (each runs its own psql)"}}
        if body is None:
            lines = command_lines(graph, action, secrets)
            envs = [e for e in secrets.env.values() if "${" + e + "}" in "\n".join(lines)]
            body = _shell_task(lines, envs)
    return {"name": _task_name(step, action), **body}


def _hosts_pattern(graph: Graph, hosts: list[str]) -> str:
    if hosts == [h.id for h in graph.hosts]:
        return "all"
    for g in graph.groups:
        if sorted(g.members) == sorted(hosts):
            return g.id
    return ":".join(hosts)


def playbook(graph: Graph, secrets: Secrets) -> str:
    plays: list[dict[str, Any]] = []
    for phase in phases(graph):
        # SQL tasks name their session's psql; the same block text serves every host of the phase.
        tasks = [task(graph, step, action, phase.hosts[0], secrets) for step, action in phase.actions]
        steps = ", ".join(s.id for s in phase.steps)
        plays.append({"name": f"Phase {phase.number}: {steps}", "hosts": _hosts_pattern(graph, phase.hosts),
                      "gather_facts": False, "tasks": tasks})
    head = (f"# Generated by `runbook export --to ansible` from {graph.source.file}\n"
            f"# ({graph.source.title}; sha256 {graph.source.sha256[:12]}).\n"
            "# Secrets are read on the controller from: "
            + (", ".join(sorted(set(secrets.env.values()))) or "(none)") + "\n")
    return head + dump_yaml(plays)


def inventory(graph: Graph, addresses: Mapping[str, str] | None = None) -> str:
    hosts: dict[str, Any] = {}
    for h in graph.hosts:
        address = (addresses or {}).get(h.id) or h.address
        hosts[h.id] = {"ansible_host": address} if address else {}
    children: dict[str, Any] = {}
    for g in graph.groups:
        children[g.id] = {"hosts": {m: {} for m in g.members}}
    head = f"# Hosts of {graph.source.file} ({graph.source.title}).\n"
    return head + dump_yaml({"all": {"hosts": hosts, "children": children} if children else {"hosts": hosts}})


def export_ansible(
    graph: Graph,
    *,
    bindings: Mapping[str, str] | None = None,
    secret_env: Mapping[str, str] | None = None,
    addresses: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``playbook.yml`` and ``inventory.yml`` (``bindings`` applied, secrets never bound)."""
    secrets = Secrets.of(graph, secret_env)
    names = {v.name for v in secrets.variables}
    values = {k: v for k, v in (bindings or {}).items() if k not in names}
    bound = bind_graph(graph, values) if values else graph
    files = {"playbook.yml": playbook(bound, secrets), "inventory.yml": inventory(bound, addresses)}
    if any(a.kind == ActionKind.FILE_EDIT for s in bound.steps for a in s.actions):
        files[HELPER_FILE] = HELPER
    return files
