"""File actions: an edit applied by ``runbook/edit_rules.py`` to the file's content on the host, or a
file written whole; written through the transport as root, with a backup, owner and mode kept."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.edit_rules import EditStatus, apply_file_edit
from runbook.kinds import ActionKind
from runbook.model import Action

from ..planning.server_paths import is_server_path, server_path
from .results import ALREADY, FAILED, ActionResult

if TYPE_CHECKING:
    from .steps import Runner


def run_file(runner: Runner, action: Action, host: str, ar: ActionResult) -> None:
    """A file edit or a file written whole on ``host`` (the plan's path substitutions applied)."""
    path = action.path or ""
    if is_server_path(path):  # the guide names no path: the host's server says (runner/planning/server_paths.py)
        found, why = server_path(runner.transport, host, path, runner.options.timeout)
        if found is None:
            ar.status, ar.message = FAILED, f"line {action.span.line}: {why}"
            return
        ar.substitutions.append({"line": str(action.span.line), "kind": "replace", "command": path,
                                 "reason": why, "with": found})
        path = found
    if action.id in runner.plan.paths:
        old, sub = runner.plan.paths[action.id]
        line = action.path_span.line if action.path_span else action.span.line
        ar.substitutions.append({"line": str(line), "kind": "replace", "command": old, "reason": sub.reason,
                                 "with": path})
    read = runner.transport.run_root(host, ["cat", "--", path], timeout=runner.options.timeout)
    exists = read.returncode == 0
    if action.kind == ActionKind.FILE_EDIT and not exists:
        ar.status = FAILED
        ar.message = f"line {action.span.line}: {path} does not exist: " + read.stderr.decode(errors="replace")
        return
    content = read.stdout.decode("utf-8", errors="surrogateescape") if exists else ""
    if action.kind == ActionKind.FILE_EDIT:
        result = apply_file_edit(content, action.edit, action.before, action.after or "", path=path,
                                 lang=action.lang)
        if result.status == EditStatus.BEFORE_MISSING:
            ar.status = FAILED
            ar.message = f"line {action.before_span.line if action.before_span else action.span.line}: " \
                         f"{result.message}"
            ar.details = result.diff
            return
        if result.status == EditStatus.ALREADY_APPLIED:
            ar.status = ALREADY
            ar.message = result.message
            return
        new = result.content
        ar.details = runner.mask(result.diff)
    else:
        new = action.after or ""
        if exists and content == new:
            ar.status = ALREADY
            ar.message = f"{path}: already has this content"
            return
    _write(runner, host, path, new, exists, ar)


def _write(runner: Runner, host: str, path: str, content: str, exists: bool, ar: ActionResult) -> None:
    """Write ``content`` to ``path`` as root, atomically (a backup of the file it replaces, owner and mode kept)."""
    q = shlex.quote(path)
    tmp = shlex.quote(path + ".runbook-tmp")
    if exists:
        script = (f"set -e; cp -p {q} {q}.runbook-bak; cat > {tmp}; chown --reference={q} {tmp}; "
                  f"chmod --reference={q} {tmp}; mv -f {tmp} {q}")
    else:
        d = shlex.quote(str(Path(path).parent))
        script = (f"set -e; cat > {tmp}; chown --reference={d} {tmp}; chmod 644 {tmp}; mv -f {tmp} {q}")
    res = runner.transport.run_root(host, ["bash", "-c", script], content.encode("utf-8", errors="surrogateescape"),
                                  timeout=runner.options.timeout)
    if res.returncode != 0:
        runner.transport.run_root(host, ["rm", "-f", path + ".runbook-tmp"], timeout=runner.options.timeout)
        ar.status = FAILED
        ar.message = f"{path}: cannot write: {res.stderr.decode(errors='replace').strip()}"
        return
    ar.message = f"{path}: written" + (f" (backup {path}.runbook-bak)" if exists else "")
    sh = runner.hosts.shells.get(host)
    if sh is not None:
        sh.transcript.write("note", ar.message)
        if ar.details:
            sh.transcript.write("out", ar.details)
