"""Addresses: the sandbox refuses a plan whose commands, SQL or edits would still reach an address
outside loopback and the sandbox's own hosts."""

from __future__ import annotations

import ipaddress
import re

from runbook.errors import RunbookError
from runbook.kinds import ActionKind, Severity
from runbook.model import Finding, Span

from .model import Plan

_IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/\d{1,2})?(?![\d.])")


class UnsafeAddressError(RunbookError):
    """A sandbox run would still name an address outside loopback and the sandbox's own hosts."""


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
        if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
            scan(action.after, action.span, f"edit of {action.path}")
    return found
