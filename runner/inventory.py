"""Inventories (TOML): where the guide's hosts are, how to reach them, bindings and secrets.

    [defaults]
    kind = "sandbox"            # sandbox | ssh | local

    [hosts.primary]
    kind = "ssh"
    address = "db1.example.com" # where to connect (ssh)
    user = "admin"

    [bindings]                  # variable of the guide -> value on these hosts
    "primary.address" = "10.1.0.5"
    pg_major = "15"

    [secrets]                   # variable -> environment variable holding its value
    replication_password = "RB_REPLICATION_PASSWORD"

Secrets are never stored in the inventory: only the name of the environment variable.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.errors import RunbookError, UsageError
from runbook.model import Finding, Graph, Span

KINDS = ("sandbox", "ssh", "local")


class InventoryError(RunbookError):
    pass


@dataclass
class Target:
    host: str
    kind: str = "sandbox"
    address: str | None = None
    user: str | None = None
    port: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inventory:
    targets: dict[str, Target]
    bindings: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    """variable -> environment variable name"""
    source: str | None = None

    @property
    def kinds(self) -> set[str]:
        return {t.kind for t in self.targets.values()}


def secret_env_name(variable: str) -> str:
    return "RUNBOOK_SECRET_" + "".join(ch if ch.isalnum() else "_" for ch in variable).upper()


def default_inventory(graph: Graph, kind: str = "sandbox") -> Inventory:
    return Inventory({h.id: Target(h.id, kind) for h in graph.hosts})


def load_inventory(path: Path | str, graph: Graph | None = None) -> Inventory:
    path = Path(path)
    name = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{name}: no such file") from exc
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 1) or 1
        raise InventoryError(f"{name}: {exc}", [Finding("inventory-syntax", "error", str(exc), Span(name, line, line))]
                             ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{name}: cannot read: {exc}") from exc
    problems: list[str] = []
    defaults = data.get("defaults", {})
    default_kind = defaults.get("kind", "sandbox")
    targets: dict[str, Target] = {}
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        problems.append("[hosts] must be a table of host tables")
        hosts = {}
    for host_id, spec in hosts.items():
        if not isinstance(spec, dict):
            problems.append(f"[hosts.{host_id}] must be a table")
            continue
        kind = spec.get("kind", default_kind)
        if kind not in KINDS:
            problems.append(f"[hosts.{host_id}] kind = {kind!r}: expected one of {', '.join(KINDS)}")
        if "password" in spec:
            problems.append(f"[hosts.{host_id}] has a password: secrets are read from environment variables "
                            "(put the variable's name under [secrets])")
        targets[host_id] = Target(host_id, kind, spec.get("address"), spec.get("user"), spec.get("port"),
                                  {k: v for k, v in spec.items() if k not in ("kind", "address", "user", "port")})
    if graph is not None:
        known = {h.id for h in graph.hosts}
        for host_id in targets:
            if host_id not in known:
                problems.append(f"[hosts.{host_id}]: the guide has no such host (hosts: {', '.join(sorted(known))})")
        for h in graph.hosts:
            targets.setdefault(h.id, Target(h.id, default_kind))
    bindings = {str(k): str(v) for k, v in data.get("bindings", {}).items()}
    secrets = {str(k): str(v) for k, v in data.get("secrets", {}).items()}
    if graph is not None:
        names = {v.name for v in graph.variables}
        for k in list(bindings) + list(secrets):
            if k not in names:
                problems.append(f"{k!r}: the guide has no such variable (variables: {', '.join(sorted(names))})")
        for v in graph.variables:
            if v.secret and v.name in bindings:
                problems.append(f"[bindings] {v.name} is a secret: name its environment variable under [secrets]")
    if problems:
        raise InventoryError(f"{name}: {len(problems)} problem(s)",
                             [Finding("inventory", "error", p, Span(name, 1, 1)) for p in problems])
    return Inventory(targets, bindings, secrets, name)


def secret_values(graph: Graph, inventory: Inventory) -> dict[str, str]:
    """Each secret variable's value: from its environment variable; on the sandbox, the guide's own
    value is used when none is set (the sandbox is a throwaway copy of the guide's world)."""
    out: dict[str, str] = {}
    missing: list[str] = []
    for v in graph.variables:
        if not v.secret:
            continue
        env = inventory.secrets.get(v.name, secret_env_name(v.name))
        if env in os.environ:
            out[v.name] = os.environ[env]
        elif inventory.kinds <= {"sandbox"}:
            out[v.name] = v.value
        else:
            missing.append(f"{v.name} (set ${env})")
    if missing:
        raise UsageError("secrets missing for a run on real hosts: " + ", ".join(missing))
    return out
