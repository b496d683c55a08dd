"""Comparer: the actions of each step (added, removed) and what each types or writes: targets,
commands and SQL, file edits and writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..kinds import ActionKind
from ..model import Action
from .align import absent_line
from .context import Context, StepPair
from .lines import Line, action_lines, code_lines, first_difference, hosts_text, text_lines, texts, unified
from .localized import localized_statements
from .report import Change


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        for x, y in sp.matched_actions():
            yield from _action(ctx, x, y, sp.new.id)
        yield from _added_and_removed(ctx, sp)


def _added_and_removed(ctx: Context, sp: StepPair) -> Iterator[Change]:
    a, b, pairs = sp.old, sp.new, sp.actions
    for pos, (i, j) in enumerate(pairs):
        if j is None and i is not None:
            x = a.actions[i]
            line = absent_line(pairs, pos, b.actions, 1, b.span.end_line)
            yield Change("action-removed", f"{x.kind} block removed ({hosts_text(x.targets)})",
                         ctx.where_old(x.span.line), ctx.where_new(line, absent=True), step=b.id, action=x.id,
                         diff=unified(action_lines(x), []), details={"kind": x.kind, "targets": x.targets})
        elif i is None and j is not None:
            y = b.actions[j]
            line = absent_line(pairs, pos, a.actions, 0, a.span.end_line)
            yield Change("action-added", f"{y.kind} block added ({hosts_text(y.targets)})",
                         ctx.where_old(line, absent=True), ctx.where_new(y.span.line), step=b.id, action=y.id,
                         diff=unified([], action_lines(y)), details={"kind": y.kind, "targets": y.targets})


def _action(ctx: Context, x: Action, y: Action, sid: str) -> Iterator[Change]:
    if sorted(x.targets) != sorted(y.targets):
        yield Change("targets", f"targets changed: {hosts_text(x.targets)} → {hosts_text(y.targets)}",
                     ctx.where_old(x.span.line), ctx.where_new(y.span.line), step=sid, action=y.id,
                     details={"old": x.targets, "new": y.targets,
                              "old_source": x.target_source, "new_source": y.target_source})
    if x.kind in (ActionKind.SHELL, ActionKind.CONSOLE) or (
            x.kind == ActionKind.SQL and localized_statements(ctx, x, y) is None):
        yield from _text_change(ctx, "command", "command(s) changed", code_lines(x), code_lines(y), x, y, sid)
    if x.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
        yield from _file(ctx, x, y, sid)


def _file(ctx: Context, x: Action, y: Action, sid: str) -> Iterator[Change]:
    kind = "edit" if x.kind == ActionKind.FILE_EDIT else "write"
    if x.path != y.path:
        summary = f"file path changed: {x.path} → {y.path}"
        details: dict[str, Any] = {"field": "path", "old": x.path, "new": y.path}
        if ctx.explained_by_variables(x.path or "", y.path or ""):
            details["follows_variables"] = True
            summary += " (follows the variable change)"
        yield Change(kind, summary, ctx.where_old((x.path_span or x.span).line),
                     ctx.where_new((y.path_span or y.span).line), step=sid, action=y.id, details=details)
    if x.edit != y.edit:
        yield Change(kind, f"edit changed: {x.edit or 'before/after'} → {y.edit or 'before/after'}",
                     ctx.where_old(x.span.line), ctx.where_new(y.span.line), step=sid, action=y.id,
                     details={"field": "edit", "old": x.edit, "new": y.edit})
    if x.kind == ActionKind.FILE_EDIT:
        yield from _text_change(ctx, "edit", f"before text changed ({y.path})",
                                text_lines(x.before, (x.before_span or x.span).line + 1),
                                text_lines(y.before, (y.before_span or y.span).line + 1), x, y, sid,
                                {"field": "before", "path": y.path})
        yield from _text_change(ctx, "edit", f"after text changed ({y.path})",
                                text_lines(x.after, (x.after_span or x.span).line + 1),
                                text_lines(y.after, (y.after_span or y.span).line + 1), x, y, sid,
                                {"field": "after", "path": y.path})
    else:
        yield from _text_change(ctx, "write", f"file content changed ({y.path})",
                                text_lines(x.code, x.span.line + 1), text_lines(y.code, y.span.line + 1),
                                x, y, sid, {"field": "content", "path": y.path})


def _text_change(ctx: Context, kind: str, summary: str, old: list[Line], new: list[Line], x: Action, y: Action,
                 sid: str, details: dict[str, Any] | None = None) -> Iterator[Change]:
    if texts(old) == texts(new):
        return
    lo, ln = first_difference(old, new, x.span.line, y.span.line)
    details = dict(details or {})
    if ctx.explained_by_variables("\n".join(texts(old)), "\n".join(texts(new))):
        details["follows_variables"] = True
        summary += " (follows the variable change)"
    yield Change(kind, summary, ctx.where_old(lo), ctx.where_new(ln), step=sid, action=y.id,
                 diff=unified(old, new), details=details)
