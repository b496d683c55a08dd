"""Variables stage: the actions' code and the hosts -> the values a guide repeats.

The values of ``common.toml`` (the PostgreSQL major version), networks that hold the hosts'
addresses; dialog answers equal to such a value become references to it.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from typing import Any

from .. import lexicon as lexicons
from ..kinds import Severity, VariableKind
from ..model import Action, Answer, Host, Span, Variable
from .problems import Problems

_CIDR_RE = re.compile(r"(?<![\d.])(?P<net>\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})(?![\d])")


def code_variables(actions: list[Action], hosts: list[Host], problems: Problems) -> list[Variable]:
    """Values of ``common.toml`` found in code (one variable each, a warning if they disagree), then
    the networks in code that contain a host's address."""
    texts = _code_texts(actions)
    joined = "\x00".join(text for text, _ in texts)
    found_vars: list[Variable] = []
    # Entries of the same name (the version as Debian's and as RHEL's packages write it) are one
    # variable: its patterns are those of the entries found in this guide, in the file's order.
    values: dict[str, tuple[dict[str, Any], dict[str, Span], list[str]]] = {}
    for spec, patterns in _value_patterns():
        live = [(pattern, literal) for pattern, literal in patterns if literal in joined]
        found: dict[str, Span] = {}
        for text, span in texts:
            for pattern, literal in live:
                if literal in text:
                    for m in pattern.finditer(text):
                        found.setdefault(m.group("v"), span)
        if not found:
            continue
        _, spans, used = values.setdefault(spec["name"], (spec, {}, []))
        for v, span in found.items():
            spans.setdefault(v, span)
        used.extend(p for p in spec["patterns"] if p not in used)
    for name, (spec, found, used) in values.items():
        if len(found) > 1:
            where = ", ".join(f"{v} ({s})" for v, s in found.items())
            problems.defect("inconsistent-value", Severity.WARNING, f"{name} has several values: {where}",
                            next(iter(found.values())))
        value, span = next(iter(found.items()))
        found_vars.append(Variable(name, value, VariableKind(spec["kind"]), False, span, None, used))
    addresses = []
    for h in hosts:
        try:
            if h.address:
                addresses.append(ipaddress.ip_address(h.address))
        except ValueError:
            problems.defect("bad-address", Severity.WARNING, f"{h.label}: {h.address!r} is not an IP address", h.span)
    seen: set[str] = set()
    for text, span in texts:
        if "/" not in text:
            continue
        for m in _CIDR_RE.finditer(text):
            try:
                net = ipaddress.ip_network(m.group("net"), strict=False)
            except ValueError:
                continue
            if m.group("net") in seen or not any(a in net for a in addresses):
                continue
            seen.add(m.group("net"))
            name = "network" if len(seen) == 1 else f"network{len(seen)}"
            found_vars.append(Variable(name, m.group("net"), VariableKind.NETWORK, False, span))
    return found_vars


@cache
def _value_patterns() -> list[tuple[dict[str, Any], list[tuple[re.Pattern[str], str]]]]:
    """Each value of ``common.toml`` with its patterns compiled, each with :func:`required_literal`
    (a text without it cannot match: a ``in`` test spares most regular-expression scans)."""
    out = []
    for spec in lexicons.common().get("values", []):
        compiled = [re.compile(p) for p in spec["patterns"]]
        out.append((spec, [(c, required_literal(c)) for c in compiled]))
    return out


_META = frozenset("\\.^$*+?{}[]()|")


def required_literal(pattern: re.Pattern[str]) -> str:
    """Text that every match of ``pattern`` contains: the plain characters it starts with (after a
    leading ``\\b``); ``""`` when that cannot be told (flags, an alternation at the top, no plain
    start)."""
    source = pattern.pattern
    if pattern.flags & (re.IGNORECASE | re.VERBOSE) or _top_level_bar(source):
        return ""
    source = source.removeprefix("\\b")
    n = 0
    while n < len(source) and source[n] not in _META:
        n += 1
    if n < len(source) and source[n] in "*?{":  # the last character may be absent
        n -= 1
    return source[:n]


def _top_level_bar(source: str) -> bool:
    """True if ``|`` may split the whole pattern (escapes, classes and groups skipped; when unsure, True)."""
    depth, i, in_class = 0, 0, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth <= 0:
            return True
        i += 1
    return False


def bind_answers(actions: list[Action], variables: list[Variable]) -> None:
    """A dialog answer equal to a variable's value becomes a reference to the variable."""
    for a in actions:
        for c in a.commands:
            for turn in c.dialog:
                lit = turn.answer.literal
                var = next((v for v in variables if v.value == lit and lit), None)
                if var is not None:
                    turn.answer = Answer(var=var.name)


def _code_texts(actions: list[Action]) -> list[tuple[str, Span]]:
    out: list[tuple[str, Span]] = []
    for a in actions:
        for c in a.commands:
            out.append((c.text, c.span))
        if a.path and a.path_span:
            out.append((a.path, a.path_span))
        for text in (a.before, a.after):
            if text:
                out.append((text, a.span))
        for st in a.statements:
            out.append((st.sql, st.span))
    return out
