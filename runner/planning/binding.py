"""Bindings on the sandbox: the guide's PostgreSQL major version to the installed one, its addresses to
the sandbox hosts' (loopback ones where there is no network namespace per host)."""

from __future__ import annotations

import ipaddress

from runbook.kinds import VariableKind
from runbook.model import Graph


def sandbox_binding(graph: Graph, pg_version: str | None, network: str = "loopback") -> dict[str, str]:
    """The guide's PostgreSQL major version to the installed one; with network ``loopback`` also
    its addresses to loopback addresses (192.168.0.30 -> 127.0.0.30) and its networks to
    127.0.0.0/N.  With network ``netns`` the hosts carry the guide's own addresses: they stay."""
    binding: dict[str, str] = {}
    if network == "netns":
        if pg_version is not None:
            binding.update({v.name: pg_version for v in graph.variables if v.kind == VariableKind.PG_MAJOR})
        return binding
    used: set[str] = set()
    spare = iter(range(100, 250))
    for v in graph.variables:
        if v.kind != VariableKind.ADDRESS:
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
        if v.kind == VariableKind.NETWORK:
            try:
                net = ipaddress.ip_network(v.value, strict=False)
            except ValueError:
                continue
            binding[v.name] = f"127.0.0.0/{max(net.prefixlen, 8)}" if net.version == 4 else v.value
    if pg_version is not None:
        for v in graph.variables:
            if v.kind == VariableKind.PG_MAJOR:
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
