"""Export a step graph as bash scripts: one per host, run phase by phase.

``runbook export GUIDE.md --to sh`` writes ``HOST.sh`` for every host and ``run-order.tsv``.
A script takes phase numbers (``./primary.sh 3 4``; ``./primary.sh list`` prints its phases);
``run-order.tsv`` lists the phases in the guide's order with the hosts that run each.  Running
every phase on its hosts in that order replays the guide (docs/export.md).

What each action becomes:

* shell: its commands, as written (a ``psql DB`` line that opens an interactive session is left
  out: the SQL blocks that follow run through ``psql`` themselves);
* console: its commands; a command with prompts gets its answers on standard input, and runs
  under ``setsid`` so that it has no terminal and reads them from there;
* sql: one ``psql -X -v ON_ERROR_STOP=1`` here-document per block, in the session's database as
  the session's user (statements that the guide expects to fail run with ``ON_ERROR_STOP`` off);
* file edit / file write: an embedded Python helper (:data:`HELPER`), the text of
  ``runbook/edit_rules.py`` (the rules the runner applies) and ``runbook/atomic.py``: it skips an
  edit already applied, fails loudly when the before text is missing, and replaces the file
  atomically after keeping a backup.

A secret is never written: it is read from ``RUNBOOK_SECRET_<VARIABLE>`` (or the environment
variable an inventory names), also where it stands literally in a command, a statement or a file.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from ..bind import bind_graph
from ..edit_rules import helper_source
from ..kinds import ActionKind, EditKind, ExpectedKind
from ..model import Action, Command, Graph, Step, as_root
from . import Phase, Secrets, mask_shell, phases

HELPER = helper_source()
"""The file helper embedded in every script (run as ``python3 -c "$_RUNBOOK_PY" edit|settings|append|write
…``): built from ``runbook/edit_rules.py`` and ``runbook/atomic.py``, the rules the runner applies."""

PSQL = "psql -X -v ON_ERROR_STOP=1"


def heredoc(text: str, base: str) -> str:
    """A here-document delimiter that no line of ``text`` equals."""
    lines = {ln.strip() for ln in text.split("\n")}
    tag, n = base, 1
    while tag in lines:
        n += 1
        tag = f"{base}_{n}"
    return tag


def _require(envs: list[str]) -> list[str]:
    return [f': "${{{e}:?set {e} (a secret of the guide; it is never written into this script)}}"' for e in envs]


def session_psql(graph: Graph, action: Action, host: str) -> str:
    """The psql command line of the action's session on ``host``: its database, as its user."""
    sid = action.sessions.get(host)
    database = user = None
    if sid is not None:
        session = graph.session(sid)
        database, user = session.database, session.user
    if database is None:
        db = graph.variable("database")
        database = db.value if db else None
    cmd = PSQL + (f" --dbname {shlex.quote(database)}" if database else "")
    if user and user not in ("${USER}", "$USER"):
        cmd = f"sudo -u {shlex.quote(user)} -H {cmd}"
    return cmd


def sql_lines(graph: Graph, action: Action, host: str, secrets: Secrets) -> list[str]:
    """One psql here-document for the block; a secret makes it an expanding one."""
    body: list[str] = []
    for st in action.statements:
        failing = st.expected is not None and st.expected.kind == ExpectedKind.ERROR
        if failing:
            body.append("\\set ON_ERROR_STOP 0")
        body.append(st.sql)
        if failing:
            body.append("\\set ON_ERROR_STOP 1")
    text = "\n".join(body)
    envs = secrets.used_in(text)
    tag = heredoc(text, "SQL")
    if envs:
        # Unquoted here-document: escape what the shell would expand, then put the references in.
        text = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
        text = secrets.placeholders(text)
        return [*_require(envs), f"{session_psql(graph, action, host)} <<{tag}", text, tag]
    return [f"{session_psql(graph, action, host)} <<'{tag}'", text, tag]


def _answer(graph: Graph, secrets: Secrets, command: Command, n: int) -> tuple[str, str | None]:
    """The n-th answer as a printf argument, and the environment variable it needs."""
    answer = command.dialog[n].answer
    if answer.var is not None:
        env = secrets.var_env(answer.var)
        if env is not None:
            return f'"${{{env}}}"', env
        var = graph.variable(answer.var)
        return shlex.quote(var.value if var else ""), None
    return shlex.quote(answer.literal or ""), None


def command_lines(graph: Graph, action: Action, secrets: Secrets) -> list[str]:
    out: list[str] = []
    for cmd in action.commands:
        if cmd.opens_session is not None:
            out.append(f"# {cmd.text.strip()}: opens the psql session that the SQL blocks below run in")
            continue
        text, envs = mask_shell(as_root(cmd.text) if cmd.root else cmd.text, secrets)
        if cmd.dialog:
            args: list[str] = []
            for n in range(len(cmd.dialog)):
                arg, env = _answer(graph, secrets, cmd, n)
                args.append(arg)
                if env is not None and env not in envs:
                    envs.append(env)
            prompts = ", ".join(repr(t.prompt) for t in cmd.dialog)
            out += _require(envs)
            out.append(f"# answers {prompts} on standard input; setsid: no terminal, so they are read from it")
            out.append(f"printf '%s\\n' {' '.join(args)} | setsid -w {text}")
        else:
            out += _require(envs)
            out.append(text)
    return out


_SERVER_PATH_RE = re.compile(r"^\{server:(?P<setting>\w+)\}(?P<rest>.*)$")


def shell_path(path: str) -> str:
    """A path for the shell: quoted, or, where the guide names none (``{server:config_file}``), asked
    from the host's server when the script runs, as the runner does."""
    m = _SERVER_PATH_RE.match(path)
    if m is None:
        return shlex.quote(path)
    rest = shlex.quote(m.group("rest")) if m.group("rest") else ""
    return f"\"$(sudo -u postgres psql -X -A -t -c 'SHOW {m.group('setting')}')\"{rest}"


def file_lines(action: Action, secrets: Secrets) -> list[str]:
    path = shell_path(action.path or "")
    two = action.kind == ActionKind.FILE_EDIT and action.edit is None
    texts = [action.before or "", action.after or ""] if two else [action.after or ""]
    envs: list[str] = []
    for t in texts:
        envs += [e for e in secrets.used_in(t) if e not in envs]
    preserve = f" --preserve-env={','.join(envs)}" if envs else ""
    out = _require(envs)
    names = ["before", "after"] if two else ["content"]
    for name, text in zip(names, texts, strict=True):
        text = secrets.placeholders(text.rstrip("\n"))
        tag = heredoc(text, "RUNBOOK_TEXT")
        out += [f"{name}=$(cat <<'{tag}'", text, tag, ")"]
    refs = " ".join(f'"${n}"' for n in names)
    env_args = (" " + " ".join(envs)) if envs else ""
    if action.edit == EditKind.SETTINGS:
        op = f"settings {path} {refs}"
    elif action.edit == EditKind.APPEND:
        op = f"append {path} {shlex.quote(action.lang)} {refs}"
    elif action.kind == ActionKind.FILE_EDIT:
        op = f"edit {path} {shlex.quote(action.lang)} {refs}"
    else:
        op = f"write {path} {refs}"
    out.append(f'sudo{preserve} python3 -c "$_RUNBOOK_PY" {op}{env_args}')
    return out


def action_lines(graph: Graph, step: Step, action: Action, host: str, secrets: Secrets) -> list[str]:
    span = action.span
    head = [f"# {action.id} ({action.kind}) {span.file}:{span.line}"]
    if action.kind == ActionKind.SQL:
        return head + sql_lines(graph, action, host, secrets)
    if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
        where = _SERVER_PATH_RE.sub(r"the server's \g<setting>\g<rest> (SHOW \g<setting>)", action.path or "")
        return head + [f"# {where}"] + file_lines(action, secrets)
    return head + command_lines(graph, action, secrets)


def _step_comment(step: Step) -> str:
    number = f"{step.number}. " if step.number is not None else ""
    tag = f"[{step.tag}] " if step.tag else ""
    return f"# Step {number}{tag}{step.title} {{#{step.id}}} ({step.span})"


def _phase_function(graph: Graph, phase: Phase, host: str, secrets: Secrets) -> list[str]:
    lines = [f"phase_{phase.number}() {{"]
    current: Step | None = None
    for step, action in phase.actions:
        if step is not current:
            lines.append(_step_comment(step))
            current = step
        # Not indented: here-document bodies and their delimiters must stay as written.
        lines += action_lines(graph, step, action, host, secrets)
    lines.append("}")
    return lines


def script(graph: Graph, host: str, plan: list[Phase], secrets: Secrets) -> str:
    h = graph.host(host)
    mine = [p for p in plan if host in p.hosts]
    numbers = " ".join(str(p.number) for p in mine)
    out = [
        "#!/usr/bin/env bash",
        f"# {h.id} ({h.label}{', ' + h.address if h.address else ''}): generated by `runbook export --to sh`",
        f"# from {graph.source.file} ({graph.source.title}; sha256 {graph.source.sha256[:12]}).",
        "# Run this host's phases in the order of run-order.tsv, after the other hosts' earlier phases:",
        f"#   {h.id}.sh PHASE...   (this host's phases: {numbers or 'none'})",
    ]
    envs = sorted(set(secrets.env.values()))
    tag = heredoc(HELPER, "PY")
    if envs:
        out.append("# Secrets are read from the environment: " + ", ".join(envs))
    out += [
        "# The guide's own commands are kept as written, unquoted $(...) and ${USER} included:",
        "# shellcheck disable=SC2046,SC2086",
        "set -euo pipefail",
        "", "# File edits and writes (see docs/export.md).", f"_RUNBOOK_PY=$(cat <<'{tag}'"]
    out += [HELPER.strip("\n"), tag, ")", ""]
    for phase in mine:
        out += _phase_function(graph, phase, host, secrets)
        out.append("")
    cases = [f"    {p.number}) phase_{p.number} ;;" for p in mine]
    out += [
        'if [ "$#" -eq 0 ]; then',
        f'  echo "usage: $0 PHASE... (this host\'s phases: {numbers})" >&2',
        "  exit 2",
        "fi",
        'for phase in "$@"; do',
        '  case "$phase" in',
        *cases,
        f'    list) echo "{numbers}" ;;',
        f'    *) echo "$0: {h.id} has no phase $phase (its phases: {numbers})" >&2; exit 2 ;;',
        "  esac",
        "done",
    ]
    return "\n".join(out) + "\n"


def run_order(plan: list[Phase]) -> str:
    lines = ["# phase\thosts\tsteps (run each phase on each of its hosts, in this order)"]
    for p in plan:
        lines.append(f"{p.number}\t{' '.join(p.hosts)}\t{' '.join(s.id for s in p.steps)}")
    return "\n".join(lines) + "\n"


def export_sh(
    graph: Graph,
    *,
    bindings: Mapping[str, str] | None = None,
    secret_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``HOST.sh`` per host and ``run-order.tsv``, with ``bindings`` applied (secrets never bound)."""
    secrets = Secrets.of(graph, secret_env)
    secret_names = {v.name for v in secrets.variables}
    values = {k: v for k, v in (bindings or {}).items() if k not in secret_names}
    bound = bind_graph(graph, values) if values else graph
    plan = phases(bound)
    files = {f"{h.id}.sh": script(bound, h.id, plan, secrets) for h in bound.hosts}
    files["run-order.tsv"] = run_order(plan)
    return files
