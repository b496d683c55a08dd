"""Comparer: the guide's hosts (added, removed, address and OS) and groups (members)."""

from __future__ import annotations

from collections.abc import Iterator

from .context import Context
from .lines import hosts_text
from .report import Change


def compare(ctx: Context) -> Iterator[Change]:
    old = {h.id: h for h in ctx.old.hosts}
    new = {h.id: h for h in ctx.new.hosts}
    first_new = ctx.new.hosts[0].span.line if ctx.new.hosts else 1
    first_old = ctx.old.hosts[0].span.line if ctx.old.hosts else 1
    for hid, h in old.items():
        if hid not in new:
            yield Change("host", f"host {hid} removed", ctx.where_old(h.span.line),
                         ctx.where_new(first_new, absent=True), details={"host": hid, "change": "removed"})
    for hid, h in new.items():
        if hid not in old:
            yield Change("host", f"host {hid} added", ctx.where_old(first_old, absent=True),
                         ctx.where_new(h.span.line), details={"host": hid, "change": "added"})
            continue
        o = old[hid]
        for name in ("address", "os"):
            a, b = getattr(o, name), getattr(h, name)
            if a != b:
                yield Change("host", f"host {hid}: {name} {a} → {b}", ctx.where_old(o.span.line),
                             ctx.where_new(h.span.line), details={"host": hid, "field": name, "old": a, "new": b})
    old_groups = {g.id: g.members for g in ctx.old.groups}
    new_groups = {g.id: g.members for g in ctx.new.groups}
    for gid in sorted(set(old_groups) | set(new_groups)):
        a, b = old_groups.get(gid), new_groups.get(gid)
        if a != b:
            yield Change("host", f"group {gid}: members {hosts_text(a)} → {hosts_text(b)}",
                         ctx.where_old(first_old), ctx.where_new(first_new),
                         details={"group": gid, "old": a, "new": b})
