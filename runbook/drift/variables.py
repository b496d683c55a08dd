"""Comparer: the guide's variables (added, removed, value changed; a secret's value never shown)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Variable
from .context import Context
from .report import Change


def _line(v: Variable | None) -> int:
    return v.span.line if v is not None and v.span is not None else 1


def compare(ctx: Context) -> Iterator[Change]:
    old = {v.name: v for v in ctx.old.variables}
    new = {v.name: v for v in ctx.new.variables}
    for name in [*old, *(n for n in new if n not in old)]:
        a, b = old.get(name), new.get(name)
        if a is not None and b is not None and a.value == b.value:
            continue
        details: dict[str, Any]
        if a is None:
            what, details = "added", {"name": name, "change": "added"}
        elif b is None:
            what, details = "removed", {"name": name, "change": "removed"}
        elif a.secret or b.secret:
            what, details = "value changed", {"name": name, "change": "value changed", "secret": True}
        else:
            what = f"{a.value} → {b.value}"
            details = {"name": name, "change": "value changed", "old": a.value, "new": b.value}
        yield Change("variable", f"variable {name}: {what}", ctx.where_old(_line(a), absent=a is None),
                     ctx.where_new(_line(b), absent=b is None), details=details)
