"""Hosts stage: the environment lists -> hosts, groups, their labels and their fields' values.

An item is a host (``スタンバイ1：``), its sub-items its fields (address, database, users, secrets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import lexicon as lexicons
from ..kinds import Severity, VariableKind
from ..lexicon import Lexicon
from ..model import IMPLICIT_HOST, Group, Host, Span, Variable
from .outline import Node
from .problems import Problems

_FIELD_KINDS: dict[str, VariableKind] = {
    "database": VariableKind.DATABASE, "replication_user": VariableKind.USER, "user": VariableKind.USER}
"""Kind of the variable a host field gives, by field name (any other field: ``text``)."""


@dataclass(slots=True)
class Environment:
    """The guide's hosts and how its prose names them."""

    hosts: list[Host] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    """A label as the prose writes it (normalised by the lexicon) -> the ids of the hosts it names."""
    variables: list[Variable] = field(default_factory=list)
    """The values of the hosts' fields, in document order."""

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)


def environment(lists: list[list[Node]], lex: Lexicon, problems: Problems) -> Environment:
    """Read each environment list: an item is a host (``スタンバイ1：``), its sub-items its fields."""
    env = Environment()
    for nodes in lists:
        current: Host | None = None
        for node in nodes:
            if node.inline is None:
                continue
            if node.depth == 1:
                current = _host(env, node.inline.plain, node.span, lex, problems)
            elif current is not None:
                _field(env, current, node.inline.plain, node.span, lex)
        _groups(env, lex)
    return env


def implicit_host(file: str) -> Host:
    """The one database server a page that names no host runs on (recorded as inferred)."""
    return Host(id=IMPLICIT_HOST, label=IMPLICIT_HOST, role=IMPLICIT_HOST, number=None, address=None, os=None,
                span=Span(file, 1, 1), inferred=True)


def _host(env: Environment, text: str, span: Span, lex: Lexicon, problems: Problems) -> Host | None:
    label = re.sub(r"\s*[：:]\s*$", "", text)
    parsed = lex.host_role(label)
    if parsed is None and lex.norm(label) in {lex.norm(w) for w in lex.raw.get("single_host", {}).get("words", [])}:
        parsed = (IMPLICIT_HOST, None, label)  # "Server:", "サーバー：": the usual words for the one machine
    if parsed is None:
        problems.defect("environment-unknown-host", Severity.WARNING,
                        f"environment entry {label!r} is not a known host role", span)
        return None
    role, number, _ = parsed
    host = Host(id=f"{role}{number if number is not None else ''}", label=label, role=role,
                number=number, address=None, os=None, span=span)
    env.hosts.append(host)
    env.labels[lex.norm(label)] = [host.id]
    return host


def _field(env: Environment, host: Host, text: str, span: Span, lex: Lexicon) -> None:
    m = re.match(r"^(?P<key>[^:：]+?)\s*[：:]\s*(?P<value>.*)$", text)
    if not m:
        return
    key, value = m.group("key").strip(), m.group("value").strip().strip("`").strip()
    name = None
    for word, fname in lex.fields.items():
        if lex.norm(word) == lex.norm(key):
            name = fname
    if name is None:
        name = re.sub(r"\W+", "_", key.casefold()).strip("_") or "field"
    host.fields[name] = value
    if name == "address":
        host.address = value
        env.variables.append(Variable(f"{host.id}.address", value, VariableKind.ADDRESS, False, span, host.id))
    elif name == "os":
        host.os = value
    else:
        secret = name in lexicons.common()["secrets"]["fields"]
        kind = VariableKind.PASSWORD if secret else _FIELD_KINDS.get(name, VariableKind.TEXT)
        vname = name if env.variable(name) is None else f"{host.id}.{name}"
        env.variables.append(Variable(vname, value, kind, secret, span, host.id))


def _groups(env: Environment, lex: Lexicon) -> None:
    """Every role with several (or numbered) hosts is a group its plural label names."""
    by_role: dict[str, list[Host]] = {}
    for h in env.hosts:
        by_role.setdefault(h.role, []).append(h)
    for role, members in by_role.items():
        if len(members) < 2 and all(m.number is None for m in members):
            continue
        words = [w for w, r in lex.groups.items() if r == role]
        # The group word the hosts' own labels use (スレーブ for スレーブ1, スレーブ2), else the first.
        label = next((w for w in words if all(lex.norm(m.label).startswith(lex.norm(w)) for m in members)),
                     words[0] if words else next(w for w, r in lex.roles.items() if r == role))
        group = Group(id=f"{role}s", label=label, members=[m.id for m in members])
        env.groups.append(group)
        env.labels.setdefault(lex.norm(label), group.members)
