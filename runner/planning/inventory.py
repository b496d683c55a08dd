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

import difflib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.errors import RunbookError, UsageError
from runbook.kinds import Severity
from runbook.model import Finding, Graph, Span
from runbook.secrets import secret_env_name

from ..status import TargetKind

KINDS = ("sandbox", "ssh", "local")


class InventoryError(RunbookError):
    pass


@dataclass
class Target:
    host: str
    kind: TargetKind = TargetKind.SANDBOX
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
    def kinds(self) -> set[TargetKind]:
        return {t.kind for t in self.targets.values()}


def default_inventory(graph: Graph, kind: str = "sandbox") -> Inventory:
    return Inventory({h.id: Target(h.id, TargetKind(kind)) for h in graph.hosts})


@dataclass(slots=True)
class InventoryFinding(Finding):
    """A problem of an inventory at its line and column (``hosts.toml:2:8: inventory: …``)."""

    column: int = 1

    def format(self) -> str:
        return f"{self.span.file}:{self.span.line}:{self.column}: {self.rule}: {self.message}"


@cache
def load_inventory_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resources.files("runner") / "schema" / "inventory.schema.json").read_text())
    return data


_KEY_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+')


def _key_parts(text: str) -> tuple[str, ...]:
    return tuple(json.loads(k) if k.startswith('"') else k.strip("'") for k in _KEY_RE.findall(text))


def key_positions(text: str) -> dict[tuple[str, ...], tuple[int, int]]:
    """Where each table and key of a TOML text is (1-based line, column of the key; for a key, also
    ``(*path, "=")``: the column of its value), computed from the text."""
    pos: dict[tuple[str, ...], tuple[int, int]] = {}
    table: tuple[str, ...] = ()
    for n, raw in enumerate(text.splitlines(), start=1):
        body = raw.lstrip()
        col = len(raw) - len(body) + 1
        if not body or body.startswith("#"):
            continue
        if body.startswith("["):
            inner = body.lstrip("[").split("]")[0]
            table = _key_parts(inner)
            for i in range(1, len(table) + 1):  # [hosts.primary] also places "hosts"
                pos.setdefault(table[:i], (n, col + body.index(inner[:1] or "]")))
            continue
        m = re.match(r'((?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[^=#"\'])+)=\s*', body)
        if m:
            path = table + _key_parts(m.group(1))
            pos.setdefault(path, (n, col))
            pos.setdefault((*path, "="), (n, col + m.end()))
    return pos


def _at(pos: dict[tuple[str, ...], tuple[int, int]], path: tuple[str, ...], value: bool = False) -> tuple[int, int]:
    """The place of ``path`` (of its value with ``value``), else of the nearest table holding it."""
    if value and (*path, "=") in pos:
        return pos[(*path, "=")]
    for i in range(len(path), 0, -1):
        if path[:i] in pos:
            return pos[path[:i]]
    return (1, 1)


def _where(path: tuple[str, ...]) -> str:
    return f"[{'.'.join(path)}]" if path else "the inventory"


def _closest(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


def _schema_problems(data: dict[str, Any]) -> list[tuple[tuple[str, ...], bool, str]]:
    """Every way ``data`` breaks the inventory schema: (key path, at its value?, message)."""
    import jsonschema  # (here: a run without an inventory needs no schema; start-up time)

    out: list[tuple[tuple[str, ...], bool, str]] = []
    for e in jsonschema.Draft202012Validator(load_inventory_schema()).iter_errors(data):
        path = tuple(str(x) for x in e.absolute_path)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = list(e.schema.get("properties", {}))
            for key in e.instance:
                if key in known:
                    continue
                if key == "password" and len(path) == 2 and path[0] == "hosts":
                    out.append(((*path, key), False, f"[hosts.{path[1]}] has a password: secrets are read from "
                               "environment variables (password_env = \"VAR\", or a variable's under [secrets])"))
                else:
                    out.append(((*path, key), False, f"unknown key {key!r} in {_where(path)}{_closest(key, known)}"))
        elif e.validator == "enum":
            choices = [str(c) for c in e.validator_value]
            out.append((path, True, f"{path[-1]} = {e.instance!r}: expected one of {', '.join(choices)}"
                        + (_closest(str(e.instance), choices) if difflib.get_close_matches(
                            str(e.instance), choices, n=1, cutoff=0.5) else "")))
        elif e.validator == "type":
            out.append((path, True, f"{'.'.join(path) or 'the inventory'} = {e.instance!r}: expected "
                        f"{_TYPES.get(str(e.validator_value), e.validator_value)}"))
        else:
            out.append((path, True, f"{'.'.join(path) or 'the inventory'} = {e.instance!r}: {e.message}"))
    return out


_TYPES = {"integer": "a whole number (port = 22)", "string": "a string in quotes", "object": "a table [..]",
          "array": "a list [\"…\"]", "['string', 'integer', 'number', 'boolean']": "a value (a string or a number)"}


def _read(path: Path, name: str) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{name}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{name}: cannot read: {exc}") from exc
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)\s*$", str(exc))
        line, col, msg = (int(m["line"]), int(m["col"]), m["msg"]) if m else (1, 1, str(exc))
        finding = InventoryFinding("inventory-syntax", Severity.ERROR, f"not valid TOML: {msg}", Span(name, line, line),
                                   col)
        raise InventoryError(f"{name}: not valid TOML", [finding]) from exc


def _target_kind(value: Any) -> TargetKind:
    """The kind a host's table names (one the schema refused: reported with the other problems)."""
    return TargetKind(value) if value in list(TargetKind) else TargetKind.SANDBOX


def load_inventory(path: Path | str, graph: Graph | None = None) -> Inventory:
    """The inventory at ``path``, checked against its schema (``runbook schema inventory``) and, with
    ``graph``, against the guide's hosts and variables; every problem at once, at its line and column."""
    path = Path(path)
    name = str(path)
    text, data = _read(path, name)
    pos = key_positions(text)
    problems = _schema_problems(data)
    bad = {p[:2] for p, _, _ in problems}
    defaults = data.get("defaults", {}) if isinstance(data.get("defaults"), dict) else {}
    default_kind = defaults.get("kind", "sandbox")
    targets: dict[str, Target] = {}
    hosts = data.get("hosts", {}) if isinstance(data.get("hosts"), dict) else {}
    for host_id, spec in hosts.items():
        if not isinstance(spec, dict) or ("hosts", host_id) in bad:
            continue
        merged = {**defaults, **spec}
        kind = _target_kind(merged.get("kind", default_kind))
        targets[host_id] = Target(host_id, kind, merged.get("address"), merged.get("user"),
                                  merged.get("port"), {k: v for k, v in merged.items()
                                                       if k not in ("kind", "address", "user", "port")})
    bindings = {str(k): str(v) for k, v in (data.get("bindings") or {}).items()} \
        if isinstance(data.get("bindings"), dict) else {}
    secrets = {str(k): str(v) for k, v in (data.get("secrets") or {}).items()} \
        if isinstance(data.get("secrets"), dict) else {}
    if graph is not None:
        problems += _guide_problems(graph, hosts, bindings, secrets)
        for h in graph.hosts:
            targets.setdefault(h.id, Target(h.id, _target_kind(default_kind), defaults.get("address"),
                                            defaults.get("user"),
                                            defaults.get("port")))
    if problems:
        findings: list[Finding] = []
        for key, value, message in problems:
            line, col = _at(pos, key, value)
            findings.append(InventoryFinding("inventory", Severity.ERROR, message, Span(name, line, line), col))
        findings.sort(key=lambda f: (f.span.line, getattr(f, "column", 1)))
        raise InventoryError(f"{name}: {len(findings)} problem(s)", findings)
    return Inventory(targets, bindings, secrets, name)


def _guide_problems(graph: Graph, hosts: dict[str, Any], bindings: dict[str, str], secrets: dict[str, str]
                    ) -> list[tuple[tuple[str, ...], bool, str]]:
    out: list[tuple[tuple[str, ...], bool, str]] = []
    known = sorted(h.id for h in graph.hosts)
    for host_id in hosts:
        if host_id not in known:
            out.append((("hosts", host_id), False, f"[hosts.{host_id}]: the guide has no such host"
                        + _closest(host_id, known).replace("known:", "hosts:")))
    names = sorted(v.name for v in graph.variables)
    for table, values in (("bindings", bindings), ("secrets", secrets)):
        for k in values:
            if k not in names:
                out.append(((table, k), False, f"{k!r}: the guide has no such variable"
                            + _closest(k, names).replace("known:", "variables:")))
    for v in graph.variables:
        if v.secret and v.name in bindings:
            out.append((("bindings", v.name), False,
                        f"[bindings] {v.name} is a secret: name its environment variable under [secrets]"))
    return out


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
        elif inventory.kinds <= {TargetKind.SANDBOX}:
            out[v.name] = v.value
        else:
            missing.append(f"{v.name} (set ${env})")
    if missing:
        raise UsageError("secrets missing for a run on real hosts: " + ", ".join(missing))
    return out
