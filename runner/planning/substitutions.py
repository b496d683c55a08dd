"""Substitutions: commands a target cannot run as written, with their reasons (``data/substitutions.toml``:
replace, skip, require a feature, block; ``rewrite`` rules change paths and service names in commands
and in edited files' paths, e.g. RHEL's /var/lib/pgsql/NN/data)."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from ..status import SubstitutionKind
from .environment import FEATURES
from .model import Substitution


@cache
def substitution_rules() -> list[dict[str, Any]]:
    text = (resources.files("runner") / "data" / "substitutions.toml").read_text(encoding="utf-8")
    rules: list[dict[str, Any]] = tomllib.loads(text)["substitution"]
    return rules



def rewrite(text: str, rules: list[dict[str, Any]], values: dict[str, Any]) -> tuple[str, list[str]]:
    """``text`` with every ``rewrite`` rule applied in order, and the reasons of those that applied."""
    reasons: list[str] = []
    for rule in rules:
        if rule["action"] != "rewrite":
            continue
        new = re.sub(rule["match"], rule["with"].replace("{pg_version}", str(values["pg_version"])), text)
        if new != text:
            text = new
            reasons.append(rule["reason"])
    return text, reasons


def substitute(text: str, rules: list[dict[str, Any]], values: dict[str, Any],
                pg_version: str | None) -> Substitution | None:
    """What runs instead of one bound command: the rewrites, then the first other rule that matches."""
    text, reasons = rewrite(text, rules, values)
    for rule in rules:
        if rule["action"] == "rewrite" or not re.search(rule["match"], text):
            continue
        why = "; ".join([*reasons, rule["reason"]])
        if rule["action"] == "replace":
            return Substitution(SubstitutionKind.REPLACE, rule["with"].format(**values), why)
        if rule["action"] == "skip":
            return Substitution(SubstitutionKind.SKIP, None, why)
        if rule["action"] == "block":
            return Substitution(SubstitutionKind.BLOCK, None, f"{why}: {text.splitlines()[0]}", rule.get("lift"))
        check, message, lift = FEATURES[rule["requires"]]
        if check(pg_version):
            return Substitution(SubstitutionKind.SKIP, None, why)
        return Substitution(SubstitutionKind.BLOCK, None, message.format(version=pg_version),
                            lift.format(version=pg_version))
    return Substitution(SubstitutionKind.REPLACE, text, "; ".join(reasons), same_output=True) if reasons else None


