"""The plan as a person reads it (``runbook run --plan``) and as JSON (``--plan --json FILE``, schema:
``runbook schema plan``): per step and host the bound commands, the edits, the expected output each
statement is checked against and how (exact, multiset, shape, volatile), the substitutions with their
reasons, the blocked steps with what would lift them."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from runbook.kinds import ActionKind, EditKind, ExpectedKind
from runbook.model import Action, Expected

from ..reports.schemas import checked
from ..running.compare import normalize_volatile
from .model import Plan
from .variants import variant_groups

Mask = Callable[[str], str]


@cache
def load_plan_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resources.files("runner") / "schema" / "plan.schema.json").read_text())
    return data


def how_compared(expected: Expected, sql: str) -> str:
    """How a statement's result is compared with the guide, as runner/running/compare.py does it: ``shape``
    (an EXPLAIN plan: its nodes, not its costs), ``multiset`` (rows of a query without ORDER BY, in
    any order), ``exact`` (the rest; rows in order); and the volatile values it accepts (timestamps,
    LSNs, sizes …) as ``, volatile: NAME``."""
    from ..running.compare import _is_plan, has_order_by

    if _is_plan(expected):
        how = "shape"
    elif expected.kind == ExpectedKind.TABLE and len(expected.rows) > 1 and has_order_by(sql) is False:
        how = "multiset"
    else:
        how = "exact"
    _, names = normalize_volatile("\n".join(expected.lines))
    return f"{how}, volatile: {', '.join(names)}" if names else how


def _action(plan: Plan, action: Action, together: list[str], mask: Mask) -> dict[str, Any]:
    item: dict[str, Any] = {"id": action.id, "kind": action.kind, "hosts": list(action.targets),
                            "line": action.span.line, "commands": [], "statements": []}
    if together:
        item["at_once_with"] = together
    for i, cmd in enumerate(action.commands):
        text, sub = plan.command_text(action.id, i, cmd.text)
        c: dict[str, Any] = {"text": mask(text) if text else None, "root": cmd.root, "line": cmd.span.line}
        if sub is not None:
            c["substituted"] = {"kind": sub.kind, "guide": mask(cmd.text), "reason": sub.reason}
        if cmd.output:
            c["expected"] = [mask(x) for x in cmd.output]
        item["commands"].append(c)
    for st in action.statements:
        s: dict[str, Any] = {"sql": mask(st.sql), "line": st.span.line}
        if st.expected is not None:
            s["expected"] = {"lines": [mask(x) for x in st.expected.lines], "line": st.expected.span.line,
                             "how": how_compared(st.expected, st.sql)}
        item["statements"].append(s)
    if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
        how = action.edit or ("write" if action.kind == ActionKind.FILE_WRITE else "replace")
        edit: dict[str, Any] = {"path": action.path, "how": how,
                                "before": [mask(x) for x in (action.before or "").splitlines()],
                                "after": [mask(x) for x in (action.after or "").splitlines()]}
        if action.id in plan.paths:
            old, sub = plan.paths[action.id]
            edit["substituted"] = {"guide": old, "reason": sub.reason}
        item["edit"] = edit
    if action.example_group is not None:
        item["example_group"] = action.example_group
    if action.requires:
        item["requires"] = [f"{r.software} {r.version}" for r in action.requires]
    return item


def plan_data(plan: Plan, mask: Mask | None = None, *, selected: list[str] | None = None, target: str = "",
              language: str = "", variants: bool = False) -> dict[str, Any]:
    """The plan as data (checked against its schema); ``selected``: the steps ``--only``/``--from``/
    ``--until`` keep (None: all)."""
    m: Mask = mask or (lambda s: s)
    hosts_of = {h.id: h for h in plan.graph.hosts}
    begins = {g.span.line: g for g in plan.graph.example_groups}
    steps = []
    for step in plan.graph.steps:
        if selected is not None and step.id not in selected:
            continue
        together = {a.id: [o.id for o in g if o is not a] for g in variant_groups(step.actions, hosts_of)
                    if len(g) > 1 for a in g} if variants else {}
        entry: dict[str, Any] = {"id": step.id, "number": step.number, "tag": step.tag, "title": step.title,
                                 "line": step.span.line,
                                 "actions": [_action(plan, a, together.get(a.id, []), m) for a in step.actions]}
        for a, item in zip(step.actions, entry["actions"], strict=True):
            if (g := begins.get(a.span.line)) is not None:
                item["begins_group"] = f"example group {g.number} begins (a fresh database): {g.reason}"
        if step.id in plan.blocked:
            b = plan.blocked[step.id]
            entry["blocked"] = {"reason": b.reason, "lift": b.lift}
        steps.append(entry)
    data = {"schema_version": "1", "guide": plan.original.source.file, "target": target, "language": language,
            "bindings": {k: m(v) for k, v in sorted(plan.binding.items())},
            "selected": selected, "notes": [plan.settings_note] if getattr(plan, "settings_note", None) else [],
            "warnings": [m(w.format()) for w in getattr(plan, "warnings", [])], "steps": steps}
    return checked(data, load_plan_schema(), "the plan")


def _expected_lines(lines: list[str], indent: str) -> list[str]:
    return [f"{indent}| {x}" for x in lines] or [f"{indent}(no output)"]


def render_plan(data: dict[str, Any]) -> str:
    """The plan for people: a block per step, per action its hosts, commands, edits and checks."""
    out = [f"plan for {data['guide']}" + (f" on the {data['target']}" if data["target"] else "")
           + (f"; read as {data['language']}" if data["language"] else "")]
    if data["selected"] is not None:
        out.append(f"steps selected: {', '.join(data['selected'])}")
    out.append("bindings: " + ", ".join(f"{k} = {v}" for k, v in data["bindings"].items()))
    out += data["notes"] + [f"warning: {w}" for w in data["warnings"]]
    for step in data["steps"]:
        out += ["", f"{step['number'] or '-'}. [{step['tag'] or '-'}] {step['id']}  (line {step['line']})"]
        if "blocked" in step:
            out.append(f"   BLOCKED: {step['blocked']['reason']}; to lift: {step['blocked']['lift']}")
        for a in step["actions"]:
            if "begins_group" in a:
                out.append(f"   {a['begins_group']}")
            out.append(f"   {a['kind']} on {', '.join(a['hosts'])}  (line {a['line']})"
                       + (f", at once with {', '.join(a['at_once_with'])}" if a.get("at_once_with") else ""))
            for c in a["commands"]:
                sub = c.get("substituted")
                if c["text"]:
                    out += [("     # " if c["root"] else "     $ ") + ln if i == 0 else "       " + ln
                            for i, ln in enumerate(c["text"].splitlines())]
                if sub:
                    verb = {"replace": "substituted for", "skip": "skipped:", "block": "blocked:"}.get(sub["kind"],
                                                                                                   sub["kind"])
                    out.append(f"       {verb} `{sub['guide'].splitlines()[0]}` (line {c['line']})")
                    out.append(f"         because {sub['reason']}")
                if c.get("expected"):
                    out.append("       output shown by the guide (each line must appear):")
                    out += _expected_lines(c["expected"], "         ")
            for s in a["statements"]:
                out += [f"     {ln}" for ln in s["sql"].splitlines()]
                if "expected" in s:
                    e = s["expected"]
                    out.append(f"       expects (line {e['line']}, compared {e['how']}):")
                    out += _expected_lines(e["lines"], "         ")
            if "edit" in a:
                e = a["edit"]
                verb = {"settings": "set in", "append": "append to", "replace": "edit"}.get(e["how"], e["how"])
                out.append(f"     {verb} {e['path']}:")
                if "substituted" in e:
                    out.append(f"       path substituted for {e['substituted']['guide']}: {e['substituted']['reason']}")
                out += [f"       - {x}" for x in e["before"]] + [f"       + {x}" for x in e["after"] if x.strip()]
    return "\n".join(out) + "\n"


def format_plan(plan: Plan, mask: Any = None, *, variants: bool = False) -> str:
    """The bound commands per host, step by step (``runbook run --plan``); with ``variants`` (the
    speed settings) per-host variants of one block say that they run at once."""
    m = mask or (lambda s: s)
    hosts_of = {h.id: h for h in plan.graph.hosts}
    lines = [f"# plan for {plan.original.source.file}",
             "# bindings: " + ", ".join(f"{k} = {v}" for k, v in sorted(plan.binding.items()))]
    if plan.settings_note:
        lines.append(f"# {plan.settings_note}")
    lines += [f"# warning: {m(w.format())}" for w in plan.warnings]
    begins = {g.span.line: g for g in plan.graph.example_groups}  # examples that start over: a line each
    for step in plan.graph.steps:
        lines.append("")
        lines.append(f"## {step.number or '-'}. [{step.tag or '-'}] {step.id}  ({step.span})")
        if step.id in plan.blocked:
            b = plan.blocked[step.id]
            lines.append(f"#   BLOCKED: {b.reason}; to lift: {b.lift}")
        together = {a.id: [o.id for o in g if o is not a] for g in variant_groups(step.actions, hosts_of)
                    if len(g) > 1 for a in g} if variants else {}
        for action in step.actions:
            hosts = ", ".join(action.targets)
            lines.append(f"### {action.id} {action.kind} on {hosts}  ({action.span})")
            if (g := begins.pop(action.span.line, None)) is not None:
                lines.append(f"#   example group {g.number} begins (a fresh database): {g.reason}")
            if action.id in together:
                lines.append(f"#   at once with {', '.join(together[action.id])} (per-host variants of one block)")
            for i, cmd in enumerate(action.commands):
                text, sub = plan.command_text(action.id, i, cmd.text)
                if sub is not None:
                    lines.append(f"#   substituted ({sub.kind}): {m(cmd.text)}")
                    lines.append(f"#     reason: {sub.reason}")
                if text:
                    lines.append(("# as root: " if cmd.root else "") + m(text))
                for t in cmd.dialog:
                    answer = f"${{{t.answer.var}}}" if t.answer.var else "<literal>"
                    lines.append(f"#   answer {t.prompt!r} with {answer}")
            for st in action.statements:
                lines.append(m(st.sql))
            if action.id in plan.paths:
                old, sub = plan.paths[action.id]
                lines.append(f"#   substituted path: {old} -> {sub.text}")
                lines.append(f"#     reason: {sub.reason}")
            if action.kind == ActionKind.FILE_EDIT and action.edit is not None:
                how = "set in" if action.edit == EditKind.SETTINGS else "append to"
                lines.append(f"# {how} {action.path}:")
                lines += [f"#   + {m(x)}" for x in (action.after or "").splitlines() if x.strip()]
            elif action.kind == ActionKind.FILE_EDIT:
                lines.append(f"# edit {action.path}:")
                lines += [f"#   - {x}" for x in (action.before or "").splitlines()]
                lines += [f"#   + {m(x)}" for x in (action.after or "").splitlines()]
            if action.kind == ActionKind.FILE_WRITE:
                lines.append(f"# write {action.path}:")
                lines += [f"#   {m(x)}" for x in (action.after or "").splitlines()]
    return "\n".join(lines) + "\n"
