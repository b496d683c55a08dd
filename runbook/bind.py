"""Bind a graph's variables to other values: the guide's ``192.168.0.30`` to ``127.0.0.30``,
its PostgreSQL ``16`` to the installed ``15``.

Only the variables' occurrences change: a variable with ``patterns`` (``pg_major``) is replaced
only inside those contexts (``/etc/postgresql/16/``, ``postgresql-16``), so ``'PostgreSQL 15 and
replication'`` inside a SQL string stays data; other values are replaced where they stand as a
whole token.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .model import Graph, Variable

Binding = dict[str, str]


def _token_re(value: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(value) + r"(?![\w])")


def bind_text(text: str, variables: list[Variable], binding: Binding) -> str:
    """``text`` with every bound variable's occurrences replaced (longest values first)."""
    changes = [(v, binding[v.name]) for v in variables if v.name in binding and binding[v.name] != v.value]
    changes.sort(key=lambda c: len(c[0].value), reverse=True)
    for var, new in changes:
        if var.patterns:
            for pattern in var.patterns:
                text = re.sub(pattern, _group_replacer(new), text)
        else:
            text = _token_re(var.value).sub(new.replace("\\", "\\\\"), text)
    return text


def _group_replacer(new: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        return _replace_group(m, "v", new)

    return repl


def _replace_group(m: re.Match[str], group: str, new: str) -> str:
    start, end = m.span(group)
    whole = m.group(0)
    return whole[: start - m.start()] + new + whole[end - m.start():]


def bind_graph(graph: Graph, binding: Binding) -> Graph:
    """A copy of ``graph`` with every executable text bound (commands, SQL, paths, edit texts)."""
    copy = Graph.from_dict(graph.to_dict())
    variables = graph.variables

    def b(text: str | None) -> str | None:
        return None if text is None else bind_text(text, variables, binding)

    for action in copy.actions():
        action.code = bind_text(action.code, variables, binding)
        for c in action.commands:
            c.text = bind_text(c.text, variables, binding)
        for st in action.statements:
            st.sql = bind_text(st.sql, variables, binding)
        action.path = b(action.path)
        action.before = b(action.before)
        action.after = b(action.after)
    for var in copy.variables:
        if var.name in binding:
            var.value = binding[var.name]
    for host in copy.hosts:
        key = f"{host.id}.address"
        if key in binding:
            host.address = binding[key]
    return copy
