"""Draw a guide's steps against its hosts (``runbook graph GUIDE.md --format mermaid|dot``).

One lane per host (a Mermaid ``subgraph`` / a DOT ``cluster``) holding a node for every step that
runs something on that host, labelled with the step's number, tag and title.  Solid edges join a
host's steps in execution order; dashed edges show where execution passes from one set of hosts to
another (a phase boundary, see :func:`runbook.export.phases`): the later hosts wait for the
earlier ones there.  Mermaid output is a ``flowchart`` in a ```` ```mermaid ```` fence, the kind of
block the guides themselves carry.
"""

from __future__ import annotations

import json
import re

from .. import lexicon as lexicons
from ..errors import RunbookError, UsageError
from ..model import Graph, Step
from . import phases


def _node(step: Step, host: str) -> str:
    return "n_" + re.sub(r"\W", "_", f"{host}__{step.id}")


def _label(step: Step, lang: str) -> str:
    """``3. [通常] title``: the tag as the guide writes it."""
    number = f"{step.number}. " if step.number is not None else ""
    word = step.tag
    if step.tag:
        try:
            word = lexicons.load(lang).tag_word(step.tag)
        except (KeyError, RunbookError):
            pass
    tag = f"[{word}] " if word else ""
    return f"{number}{tag}{step.title}"


def lanes(graph: Graph) -> tuple[dict[str, list[Step]], list[tuple[str, str, bool]]]:
    """Steps per host (in order) and edges ``(from node, to node, crosses hosts)``."""
    plan = phases(graph)
    per_host: dict[str, list[Step]] = {h.id: [] for h in graph.hosts}
    for phase in plan:
        for host in phase.hosts:
            for step in phase.steps:
                if not per_host[host] or per_host[host][-1] is not step:
                    per_host[host].append(step)
    edges: list[tuple[str, str, bool]] = []
    for host, steps in per_host.items():
        for a, b in zip(steps, steps[1:], strict=False):
            edges.append((_node(a, host), _node(b, host), False))
    for prev, nxt in zip(plan, plan[1:], strict=False):
        if prev.hosts == nxt.hosts:
            continue
        last, first = prev.steps[-1], nxt.steps[0]
        for src in prev.hosts:
            for dst in nxt.hosts:
                if src != dst:
                    edge = (_node(last, src), _node(first, dst), True)
                    if edge not in edges:
                        edges.append(edge)
    return per_host, edges


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("`", "#96;")


def mermaid(graph: Graph) -> str:
    per_host, edges = lanes(graph)
    out = ["```mermaid", "flowchart TB"]
    for h in graph.hosts:
        title = _mermaid_text(f"{h.label} ({h.address})" if h.address else h.label)
        out.append(f'    subgraph {re.sub(r"[^A-Za-z0-9_]", "_", h.id)}_lane["{title}"]')
        out.append("        direction TB")
        for step in per_host[h.id]:
            out.append(f'        {_node(step, h.id)}["{_mermaid_text(_label(step, graph.source.lang))}"]')
        out.append("    end")
    for a, b, cross in edges:
        out.append(f"    {a} {'-.->' if cross else '-->'} {b}")
    out.append("```")
    return "\n".join(out) + "\n"


def _dot_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def dot(graph: Graph) -> str:
    per_host, edges = lanes(graph)
    out = [f"digraph {_dot_str(graph.source.title)} {{", "    rankdir=TB;", "    node [shape=box];"]
    for h in graph.hosts:
        out.append(f"    subgraph {_dot_str('cluster_' + h.id)} {{")
        out.append(f"        label={_dot_str(f'{h.label} ({h.address})' if h.address else h.label)};")
        for step in per_host[h.id]:
            out.append(f"        {_node(step, h.id)} [label={_dot_str(_label(step, graph.source.lang))}];")
        out.append("    }")
    for a, b, cross in edges:
        out.append(f"    {a} -> {b}{' [style=dashed]' if cross else ''};")
    out.append("}")
    return "\n".join(out) + "\n"


def render_diagram(graph: Graph, fmt: str) -> str:
    if fmt == "mermaid":
        return mermaid(graph)
    if fmt == "dot":
        return dot(graph)
    raise UsageError(f"unknown graph format {fmt!r} (expected mermaid or dot)")
