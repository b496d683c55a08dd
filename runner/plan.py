"""From a step graph and a target to a plan: bound values, substitutions, blocked steps.

``runbook run --plan`` prints it without running anything.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.bind import bind_graph
from runbook.errors import EnvironmentLimit, RunbookError
from runbook.kinds import Severity
from runbook.model import Action, Finding, Graph, Host, Span
from runbook.read.commands import programs

from .inventory import Inventory
from .sandbox.state import SECURE_PATH
from .status import SubstitutionKind

_IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/\d{1,2})?(?![\d.])")


class UnsafeAddressError(RunbookError):
    """A sandbox run would still name an address outside loopback and the sandbox's own hosts."""


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
    """Settings the target's PostgreSQL does not take (runner/settings_check.py)."""
    settings_note: str = ""

    def command_text(self, action_id: str, index: int, text: str) -> tuple[str | None, Substitution | None]:
        sub = self.substitutions.get((action_id, index))
        if sub is None:
            return text, None
        if sub.kind == SubstitutionKind.REPLACE:
            return sub.text, sub
        return None, sub


# -- environment ---------------------------------------------------------------------------------


def installed_pg_versions() -> list[str]:
    base = Path("/usr/lib/postgresql")
    if not base.is_dir():
        return []
    return sorted((p.name for p in base.iterdir() if (p / "bin" / "postgres").exists()), key=lambda v: float(v))


def pgroonga_installed(version: str) -> bool:
    return extension_installed("pgroonga", version)


def extension_installed(name: str, version: str) -> bool:
    return Path(f"/usr/share/postgresql/{version}/extension/{name}.control").exists()


FEATURES: dict[str, Any] = {
    "pgroonga": (pgroonga_installed,
                 "PGroonga is not installed for PostgreSQL {version}",
                 "install PGroonga for PostgreSQL {version} on this machine (package "
                 "postgresql-{version}-pgdg-pgroonga from packages.groonga.org), then run again"),
}


def extension_block(name: str, version: str | None) -> Substitution | None:
    """Why a page that needs extension ``name`` is blocked here (and what would lift it), or None."""
    if version is not None and extension_installed(name, version):
        return None
    feature = FEATURES.get(name)
    if feature is not None:
        _, message, lift = feature
        return Substitution(SubstitutionKind.BLOCK, None, message.format(version=version), lift.format(version=version))
    return Substitution(SubstitutionKind.BLOCK, None, f"the {name} extension is not installed for PostgreSQL {version}",
                        f"install the {name} extension for PostgreSQL {version} on this machine, then run again")


@cache
def _substitution_rules() -> list[dict[str, Any]]:
    text = (resources.files("runner") / "data" / "substitutions.toml").read_text(encoding="utf-8")
    rules: list[dict[str, Any]] = tomllib.loads(text)["substitution"]
    return rules


# -- bindings --------------------------------------------------------------------------------------


def sandbox_binding(graph: Graph, pg_version: str | None, network: str = "loopback") -> dict[str, str]:
    """The guide's PostgreSQL major version to the installed one; with network ``loopback`` also
    its addresses to loopback addresses (192.168.0.30 -> 127.0.0.30) and its networks to
    127.0.0.0/N.  With network ``netns`` the hosts carry the guide's own addresses: they stay."""
    binding: dict[str, str] = {}
    if network == "netns":
        if pg_version is not None:
            binding.update({v.name: pg_version for v in graph.variables if v.kind == "pg_major"})
        return binding
    used: set[str] = set()
    spare = iter(range(100, 250))
    for v in graph.variables:
        if v.kind != "address":
            continue
        try:
            ip = ipaddress.ip_address(v.value)
        except ValueError:
            continue
        last = int(str(ip).split(".")[-1]) if ip.version == 4 else 0
        addr = f"127.0.0.{last}"
        while last in (0, 1, 255) or addr in used:
            last = next(spare)
            addr = f"127.0.0.{last}"
        used.add(addr)
        binding[v.name] = addr
    for v in graph.variables:
        if v.kind == "network":
            try:
                net = ipaddress.ip_network(v.value, strict=False)
            except ValueError:
                continue
            binding[v.name] = f"127.0.0.0/{max(net.prefixlen, 8)}" if net.version == 4 else v.value
    if pg_version is not None:
        for v in graph.variables:
            if v.kind == "pg_major":
                binding[v.name] = pg_version
    return binding


def sandbox_hosts(graph: Graph, binding: dict[str, str], network: str = "loopback") -> list[tuple[str, str]]:
    """(host, address) of the guide's hosts on the sandbox: the bound address, or for a host the guide
    gives no address a spare one (127.0.0.100 and up on loopback, 10.213.0.100 and up in netns)."""
    out: list[tuple[str, str]] = []
    taken = {binding.get(f"{h.id}.address") or h.address for h in graph.hosts}
    spare = (f"{'127.0.0' if network == 'loopback' else '10.213.0'}.{i}" for i in range(100, 250))
    for h in graph.hosts:
        addr = binding.get(f"{h.id}.address") or (h.address if network == "netns" else None)
        if not addr:
            addr = next(a for a in spare if a not in taken)
            taken.add(addr)
        out.append((h.id, addr))
    return out


def build_plan(graph: Graph, inventory: Inventory, *, create_cluster: str | None = None,
               pg_version: str | None = None, network: str = "loopback") -> Plan:
    kinds = inventory.kinds
    sandbox = kinds == {"sandbox"}
    if pg_version is None and sandbox:
        versions = installed_pg_versions()
        if not versions:
            raise EnvironmentLimit("PostgreSQL is not installed on this machine (run scripts/setup)")
        pg_version = versions[-1]
    binding = sandbox_binding(graph, pg_version, network) if sandbox else {}
    binding.update(inventory.bindings)
    bound = bind_graph(graph, binding)
    plan = Plan(bound, graph, inventory, binding, pg_version)
    rules = [r for r in _substitution_rules() if set(r["targets"]) & kinds]
    values = {"create_cluster": create_cluster or "true", "pg_version": pg_version}
    for step in bound.steps:
        for action in step.actions:
            if action.path is not None:
                path, reasons = _rewrite(action.path, rules, values)
                if reasons:
                    plan.paths[action.id] = (action.path,
                                             Substitution(SubstitutionKind.REPLACE, path, "; ".join(reasons)))
                    action.path = path
            for i, cmd in enumerate(action.commands):
                sub = _substitute(cmd.text, rules, values, pg_version)
                if sub is None and sandbox:
                    sub = _unavailable(cmd.text)
                if sub is None:
                    continue
                plan.substitutions[(action.id, i)] = sub
                if sub.kind == SubstitutionKind.BLOCK:
                    plan.blocked.setdefault(step.id, sub)
    from .settings_check import plan_warnings

    plan.warnings, plan.settings_note = plan_warnings(graph, pg_version if sandbox else None)
    return plan


def _rewrite(text: str, rules: list[dict[str, Any]], values: dict[str, Any]) -> tuple[str, list[str]]:
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


def _substitute(text: str, rules: list[dict[str, Any]], values: dict[str, Any],
                pg_version: str | None) -> Substitution | None:
    """What runs instead of one bound command: the rewrites, then the first other rule that matches."""
    text, reasons = _rewrite(text, rules, values)
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


# -- commands a target cannot run ------------------------------------------------------------------

@cache
def _shell_words() -> frozenset[str]:
    """bash's builtins and keywords (``cd``, ``for`` …): they need no program."""
    try:
        out = subprocess.run(["bash", "-c", "compgen -b -k"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return frozenset(out.split()) | {"[", "[[", "]]", "{", "}", "!"}


def _unavailable(text: str) -> Substitution | None:
    """A block when a program of the command does not exist on the sandbox hosts (this machine's
    Debian system, which they share) and no substitution covers it."""
    for prog in programs(text):
        if prog in _shell_words():
            continue
        exists = Path(prog).exists() if "/" in prog else shutil.which(prog, path=SECURE_PATH) is not None
        if not exists:
            return Substitution(
                SubstitutionKind.BLOCK, None,
                f"`{prog}` does not exist on the sandbox hosts (Debian) and no substitution covers this command: "
                f"{text.splitlines()[0]}",
                "add a substitution for it to runner/data/substitutions.toml, or run the guide on a target of "
                "its own platform (an inventory)")
    return None


def unsafe_addresses(plan: Plan, hosts: list[str] | None = None) -> list[Finding]:
    """Every place where a bound command would still name an address outside 127.0.0.0/8 and the
    sandbox hosts' own ``hosts`` addresses (network ``netns``; a network written with its prefix,
    such as a pg_hba.conf rule's 192.168.0.0/24, is fine when it holds a host's address)."""
    found: list[Finding] = []
    own = {ipaddress.IPv4Address(a) for a in hosts or []}

    def allowed(m: re.Match[str]) -> bool:
        ip = ipaddress.ip_address(m.group(1))
        if ip.is_loopback or ip.is_unspecified or ip in own:
            return True
        if "/" in m.group(0) and own:
            net = ipaddress.ip_network(m.group(0), strict=False)
            return any(a in net for a in own)
        return False

    def scan(text: str | None, span: Span, what: str) -> None:
        for m in _IPV4_RE.finditer(text or ""):
            try:
                if allowed(m):
                    continue
            except ValueError:
                continue
            where = "outside 127.0.0.0/8" + (" and the sandbox's hosts" if own else "")
            found.append(Finding("unsafe-address", Severity.ERROR,
                                 f"{what} would reach {m.group(1)}, {where}: bind it in an inventory", span))

    for action in plan.graph.actions():
        if action.id.split("#")[0] in plan.blocked:
            continue
        for i, cmd in enumerate(action.commands):
            text, _ = plan.command_text(action.id, i, cmd.text)
            scan(text, cmd.span, "command")
        for st in action.statements:
            scan(st.sql, st.span, "SQL")
        if action.kind in ("file_edit", "file_write"):
            scan(action.after, action.span, f"edit of {action.path}")
    return found


_HOST_MARK = "\x00host\x00"


def _variant_key(action: Action, hosts: dict[str, Host]) -> str | None:
    """The block's text with its own host's id, label and address replaced by a mark; None for an
    action that cannot be a per-host variant (not a shell/console block on one host, or one that
    opens a session)."""
    if action.kind not in ("shell", "console") or len(action.targets) != 1:
        return None
    if any(c.opens_session for c in action.commands):
        return None
    if names_other_host(action, action.targets, hosts):
        return None  # it reaches another host (a primary both copy from): in the guide's order
    host = hosts.get(action.targets[0])
    names = {action.targets[0]} | ({host.label, host.address} if host is not None else set())
    text = action.code
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w.])", _HOST_MARK, text, flags=re.IGNORECASE)
    return text


def names_other_host(action: Action, own: list[str], hosts: dict[str, Host]) -> bool:
    """True when ``action``'s code names a host of the guide other than ``own`` (its id, label or
    address): it reaches a host it shares with others, so running it on several hosts at once is not
    what a person does (two ``pg_basebackup`` from one primary at once: one's checkpoint removes WAL the
    other still needs)."""
    text = action.code
    for hid, host in hosts.items():
        if hid in own:
            continue
        for name in (hid, host.label, host.address):
            if name and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text, flags=re.IGNORECASE):
                return True
    return False


def variant_groups(actions: list[Action], hosts: dict[str, Host]) -> list[list[Action]]:
    """``actions`` in order, consecutive per-host variants of one block grouped: shell or console
    blocks on one host each, all different hosts, whose texts are the same once each block's own
    host (its id, label, address: ``--slot standby1``) is set aside.  Such blocks do on each host
    what the others do on theirs, and a block naming another host of the group (a standby copying
    from a standby) is never one of them.  Every other action is a group of its own."""
    groups: list[list[Action]] = []
    key_of: list[str | None] = []
    for action in actions:
        key = _variant_key(action, hosts)
        if (key is not None and groups and key_of[-1] == key
                and action.targets[0] not in {a.targets[0] for a in groups[-1]}):
            groups[-1].append(action)
        else:
            groups.append([action])
            key_of.append(key)
    return groups


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
            if action.kind == "file_edit" and action.edit is not None:
                how = "set in" if action.edit == "settings" else "append to"
                lines.append(f"# {how} {action.path}:")
                lines += [f"#   + {m(x)}" for x in (action.after or "").splitlines() if x.strip()]
            elif action.kind == "file_edit":
                lines.append(f"# edit {action.path}:")
                lines += [f"#   - {x}" for x in (action.before or "").splitlines()]
                lines += [f"#   + {m(x)}" for x in (action.after or "").splitlines()]
            if action.kind == "file_write":
                lines.append(f"# write {action.path}:")
                lines += [f"#   {m(x)}" for x in (action.after or "").splitlines()]
    return "\n".join(lines) + "\n"


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
        step.actions = [a for a in step.actions if a.kind not in ("shell", "console") or a.commands]
    return graph
