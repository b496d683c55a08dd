"""The plan's data: what a target runs instead of the guide's commands (:class:`Substitution`) and the
plan itself (:class:`Plan`), made by :func:`runner.planning.plan.build_plan`."""

from __future__ import annotations

from dataclasses import dataclass, field

from runbook.model import Finding, Graph

from ..status import SubstitutionKind
from .inventory import Inventory


@dataclass
class Substitution:
    kind: SubstitutionKind
    text: str | None
    reason: str
    lift: str | None = None
    same_output: bool = False
    """Only paths and names rewritten: the command prints what the guide shows, so it is compared."""


@dataclass
class Plan:
    graph: Graph
    """The bound graph (file paths of edits already substituted, see :attr:`paths`)."""
    original: Graph
    inventory: Inventory
    binding: dict[str, str]
    pg_version: str | None
    substitutions: dict[tuple[str, int], Substitution] = field(default_factory=dict)
    blocked: dict[str, Substitution] = field(default_factory=dict)
    """step id -> why it is blocked and what would lift it"""
    paths: dict[str, tuple[str, Substitution]] = field(default_factory=dict)
    """action id -> (the path as the guide names it, bound; its substitution) for file actions"""
    warnings: list[Finding] = field(default_factory=list)
    """Settings the target's PostgreSQL does not take (runner/planning/settings_check.py)."""
    settings_note: str = ""

    def command_text(self, action_id: str, index: int, text: str) -> tuple[str | None, Substitution | None]:
        sub = self.substitutions.get((action_id, index))
        if sub is None:
            return text, None
        if sub.kind == SubstitutionKind.REPLACE:
            return sub.text, sub
        return None, sub
