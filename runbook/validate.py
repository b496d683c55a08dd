"""JSON Schemas shipped in the package, and validation that reports every error with its place."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .errors import SchemaError
from .kinds import Severity
from .model import Finding, Graph, Span


@cache
def load_schema(name: str = "graph") -> dict[str, Any]:
    ref = resources.files("runbook") / "schema" / f"{name}.schema.json"
    data: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return data


def errors(data: Any, name: str = "graph", file: str = "<graph>") -> list[Finding]:
    """Every schema violation, best match first, each naming its JSON path and the rule broken."""
    import jsonschema  # (here: a guide read from Markdown needs no schema; start-up time)
    from jsonschema.exceptions import best_match

    schema = load_schema(name)
    validator = jsonschema.Draft202012Validator(schema)
    found = list(validator.iter_errors(data))
    if not found:
        return []
    best = best_match(found)
    ordered = [best] + [e for e in found if e is not best]
    out = []
    for err in ordered:
        path = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
        out.append(Finding("schema", Severity.ERROR, f"{path}: {err.message} (rule: {err.validator})",
                           Span(file, 1, 1)))
    return out


def check(data: Any, name: str = "graph", file: str = "<graph>") -> None:
    found = errors(data, name, file)
    if found:
        raise SchemaError(f"{file}: does not satisfy the {name} schema ({len(found)} error(s))", found)


def graph_to_json(graph: Graph) -> dict[str, Any]:
    """The graph as JSON data, validated (every graph the tool writes is checked)."""
    data = graph.to_dict()
    check(data, "graph", graph.source.file)
    return data


def graph_from_json(data: Any, file: str = "<graph>") -> Graph:
    """A graph read from JSON, validated first (every graph the tool reads is checked)."""
    check(data, "graph", file)
    return Graph.from_dict(data)
