"""From a step graph and a target to a plan: bound values, substitutions, blocked steps.

``build_plan`` is the driver, one stage after another: bindings (``binding.py`` on the sandbox, the
inventory's), the graph bound (``runbook/bind.py``), substitutions (``substitutions.py``), steps blocked
by the host environment (``environment.py``), settings the target's PostgreSQL does not take
(``settings_check.py``). ``addresses.py`` checks the result for a sandbox run; ``plan_view.py`` shows it
(``runbook run --plan``).
"""

from __future__ import annotations

from runbook.bind import bind_graph
from runbook.errors import EnvironmentLimit
from runbook.kinds import ActionKind
from runbook.model import Graph

from ..status import SubstitutionKind, TargetKind
from .binding import sandbox_binding
from .environment import installed_pg_versions, unavailable
from .inventory import Inventory
from .model import Plan, Substitution
from .substitutions import rewrite, substitute, substitution_rules


def build_plan(graph: Graph, inventory: Inventory, *, create_cluster: str | None = None,
               pg_version: str | None = None, network: str = "loopback") -> Plan:
    kinds = inventory.kinds
    sandbox = kinds == {TargetKind.SANDBOX}
    if pg_version is None and sandbox:
        versions = installed_pg_versions()
        if not versions:
            raise EnvironmentLimit("PostgreSQL is not installed on this machine (run scripts/setup)")
        pg_version = versions[-1]
    binding = sandbox_binding(graph, pg_version, network) if sandbox else {}
    binding.update(inventory.bindings)
    bound = bind_graph(graph, binding)
    plan = Plan(bound, graph, inventory, binding, pg_version)
    rules = [r for r in substitution_rules() if set(r["targets"]) & kinds]
    values = {"create_cluster": create_cluster or "true", "pg_version": pg_version}
    for step in bound.steps:
        for action in step.actions:
            if action.path is not None:
                path, reasons = rewrite(action.path, rules, values)
                if reasons:
                    plan.paths[action.id] = (action.path,
                                             Substitution(SubstitutionKind.REPLACE, path, "; ".join(reasons)))
                    action.path = path
            for i, cmd in enumerate(action.commands):
                sub = substitute(cmd.text, rules, values, pg_version)
                if sub is None and sandbox:
                    sub = unavailable(cmd.text)
                if sub is None:
                    continue
                plan.substitutions[(action.id, i)] = sub
                if sub.kind == SubstitutionKind.BLOCK:
                    plan.blocked.setdefault(step.id, sub)
    from .settings_check import plan_warnings

    plan.warnings, plan.settings_note = plan_warnings(graph, pg_version if sandbox else None)
    return plan


def substituted_graph(plan: Plan) -> Graph:
    """The plan's bound graph with its substitutions applied: replaced commands replaced, skipped ones
    left out (a blocked command stays as written: it cannot work there, and says so when run)."""
    graph = Graph.from_dict(plan.graph.to_dict())
    for action in graph.actions():
        kept = []
        for i, cmd in enumerate(action.commands):
            sub = plan.substitutions.get((action.id, i))
            if sub is None or sub.kind == SubstitutionKind.BLOCK:
                kept.append(cmd)
            elif sub.kind == SubstitutionKind.REPLACE and sub.text:
                cmd.text = sub.text
                kept.append(cmd)
        action.commands = kept
    for step in graph.steps:
        step.actions = [a for a in step.actions if a.kind not in (ActionKind.SHELL, ActionKind.CONSOLE) or a.commands]
    return graph
