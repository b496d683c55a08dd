"""Typed results (issue 19 point 4): every ``enum`` of the schemas is a Python enumeration the fields
use, statuses are enum members, soft failures are a field; a graph survives JSON, and a graph
compared with itself shows no drift."""

from __future__ import annotations

import json
import re
import typing
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook import model
from runbook.drift import compare
from runbook.model import Graph
from runbook.validate import check, graph_to_json
from runner import execute, site
from runner.planning import inventory
from runner.planning.model import Substitution
from runner.report import to_json
from runner.status import (
    CheckStatus,
    PageStatus,
    RunStatus,
    SiteStatus,
    Status,
    SubstitutionKind,
    TargetKind,
)

ROOT = Path(__file__).resolve().parent.parent
PINS = sorted((ROOT / "tests/fixtures/graphs").glob("*.json"))
GRAPH_PINS = [p for p in PINS if "steps" in json.loads(p.read_text())]


def _values(t: Any) -> set[str]:
    """The strings a type allows: an enumeration's members, a Literal's values (``X | None``: X's)."""
    if isinstance(t, type) and issubclass(t, StrEnum):
        return {m.value for m in t}
    if get_origin(t) is Literal:
        return set(get_args(t))
    args = [a for a in get_args(t) if a is not type(None)]
    assert len(args) == 1, t
    return _values(args[0])


# Where each enum of the schemas lives in Python.  A schema enum not listed here fails the test.
SCHEMAS: dict[tuple[str, str], tuple[Any, set[str]]] = {
    # (schema, JSON path): (type, values the schema leaves out)
    ("runbook/schema/graph.schema.json", "/properties/shape"): (model.Shape, set()),
    ("runbook/schema/graph.schema.json", "/$defs/finding/properties/severity"): (model.Severity, set()),
    ("runbook/schema/graph.schema.json", "/$defs/variable/properties/kind"): (model.VariableKind, set()),
    ("runbook/schema/graph.schema.json", "/$defs/expected/properties/kind"): (model.ExpectedKind, set()),
    ("runbook/schema/graph.schema.json", "/$defs/action/properties/kind"): (model.ActionKind, set()),
    ("runbook/schema/graph.schema.json", "/$defs/action/properties/target_source"): (model.TargetSource, set()),
    ("runbook/schema/graph.schema.json", "/$defs/action/properties/edit"): (model.EditKind, set()),
    ("runbook/schema/graph.schema.json", "/$defs/action/allOf[2]/if/properties/kind"):
        (model.ActionKind, {"sql", "file_edit", "file_write", "note"}),  # the kinds with commands
    ("runbook/schema/graph.schema.json", "/$defs/block/properties/role"): (model.BlockRole, set()),
    ("runner/schema/inventory.schema.json", "/properties/defaults/properties/kind"): (TargetKind, set()),
    ("runner/schema/inventory.schema.json", "/properties/hosts/additionalProperties/properties/kind"):
        (TargetKind, set()),
    ("runner/schema/plan.schema.json",
     "/properties/steps/items/properties/actions/items/properties/commands/items/properties/substituted/properties"
     "/kind"): (SubstitutionKind, set()),
    ("runner/schema/plan.schema.json",
     "/properties/steps/items/properties/actions/items/properties/edit/properties/substituted/properties/kind"):
        (SubstitutionKind, set()),
    ("runner/schema/report.schema.json", "/properties/status"): (RunStatus, set()),
    ("runner/schema/report.schema.json", "/$defs/check/properties/status"): (CheckStatus, set()),
    ("runner/schema/report.schema.json", "/$defs/action/properties/kind"): (model.ActionKind, {"note"}),
    ("runner/schema/report.schema.json", "/$defs/action/properties/status"): (Status, {"interrupted"}),
    ("runner/schema/report.schema.json", "/$defs/step/properties/status"): (Status, set()),
    ("runner/schema/site-report.schema.json", "/properties/status"): (SiteStatus, set()),
    ("runner/schema/site-report.schema.json", "/$defs/page/properties/shape"): (model.Shape, set()),
    ("runner/schema/site-report.schema.json", "/$defs/page/properties/status"): (PageStatus, set()),
}


def _enums(node: Any, path: str = "") -> list[tuple[str, list[Any]]]:
    if isinstance(node, dict):
        found = [(path, node["enum"])] if "enum" in node else []
        return found + [e for k, v in node.items() for e in _enums(v, f"{path}/{k}")]
    if isinstance(node, list):
        return [e for i, v in enumerate(node) for e in _enums(v, f"{path}[{i}]")]
    return []


def test_every_schema_enum_is_a_python_enumeration() -> None:
    seen = set()
    for schema in sorted({s for s, _ in SCHEMAS}):
        for path, values in _enums(json.loads((ROOT / schema).read_text())):
            assert (schema, path) in SCHEMAS, f"{schema} {path}: an enum with no Python enumeration"
            t, left_out = SCHEMAS[schema, path]
            assert set(values) - {""} == _values(t) - left_out, (schema, path)  # "": a page not read
            seen.add((schema, path))
    assert seen == set(SCHEMAS)


def _hint(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


@pytest.mark.parametrize(("cls", "name", "expected"), [
    (execute.StepResult, "status", Status), (execute.ActionResult, "status", Status),
    (execute.CheckResult, "status", CheckStatus), (execute.RunResult, "status", RunStatus),
    (site.PageResult, "status", PageStatus), (site.SiteResult, "status", SiteStatus),
    (inventory.Target, "kind", TargetKind), (Substitution, "kind", SubstitutionKind),
    (model.Variable, "kind", model.VariableKind), (model.Action, "kind", model.ActionKind),
    (model.Action, "target_source", model.TargetSource), (model.Expected, "kind", model.ExpectedKind),
    (model.Block, "role", model.BlockRole), (model.Finding, "severity", model.Severity),
    (model.Graph, "shape", model.Shape),
])
def test_fields_the_schemas_enumerate_have_the_enumerations_type(cls: type, name: str, expected: Any) -> None:
    assert _hint(cls, name) == expected
    assert _values(_hint(model.Action, "edit")) == {"settings", "append"}  # EditKind | None


def test_statuses_are_the_enums_and_read_as_their_strings() -> None:
    assert (execute.PASSED, execute.ALREADY, site.NOT_EXECUTABLE) == (
        Status.PASSED, Status.ALREADY_APPLIED, PageStatus.NOT_EXECUTABLE)
    assert Status.DONE_EARLIER == "done-earlier" and json.dumps([CheckStatus.VOLATILE]) == '["volatile"]'
    assert f"{Status.NOT_RUN}" == "not-run" and RunStatus(Status.FAILED) is RunStatus.FAILED


def test_no_runner_module_writes_a_status_as_a_bare_string() -> None:
    bare = re.compile(r'\.status\s*(==|!=|=)\s*"|\.status (not )?in \("|(?<![\w-])status\s*=\s*"')  # not data-status="
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "runner").rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if bare.search(line)]
    assert found == []


def test_a_soft_failure_is_a_field_and_not_in_the_report() -> None:
    action = execute.ActionResult("s#1", "s", "sql", "h", 3, Status.FAILED, soft=True)
    step = execute.StepResult("s", 1, "S", "normal", 2, Status.FAILED, actions=[action])
    data = to_json(execute.RunResult("g.md", "sandbox", RunStatus.FAILED, 0.0, 1.0, [step]))
    assert "soft" not in data["steps"][0]["actions"][0] and data["steps"][0]["actions"][0]["status"] == "failed"
    assert "_soft" not in (ROOT / "runner/execute.py").read_text() and "id(ar)" not in (
        ROOT / "runner/execute.py").read_text()


# -- graph -> JSON -> graph, compare(g, g) ---------------------------------------------------------------

def _round_trip(g: Graph) -> None:
    data = graph_to_json(g)
    again = Graph.from_dict(json.loads(json.dumps(data)))
    assert again == g
    assert graph_to_json(again) == data


@pytest.mark.parametrize("pin", GRAPH_PINS, ids=lambda p: p.name)
def test_every_pinned_graph_survives_json_and_shows_no_drift_against_itself(pin: Path) -> None:
    data = json.loads(pin.read_text())
    g = Graph.from_dict(data)
    assert graph_to_json(g) == data
    _round_trip(g)
    report = compare(g, Graph.from_dict(data))
    assert report.executable == [] and report.prose == [] and report.verdict == "none"


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A pinned graph with its steps, actions and texts changed at random (enum fields among their values)."""
    g = Graph.from_dict(json.loads(draw(st.sampled_from(GRAPH_PINS)).read_text()))
    if g.steps:
        g.steps = draw(st.lists(st.sampled_from(g.steps), min_size=1, max_size=4, unique_by=id))
    for step in g.steps:
        step.title = draw(TEXT)
        for action in step.actions:
            action.code = draw(TEXT)
            action.target_source = draw(st.sampled_from(get_args(model.TargetSource)))
            if action.kind == "file_edit":
                action.after = draw(TEXT)
                if draw(st.booleans()):  # an edit without before text (the schema: no before then)
                    action.edit = draw(st.sampled_from(get_args(model.EditKind)))
                    action.before = action.before_span = None
    for v in g.variables:
        v.value = draw(TEXT.filter(bool))
        v.kind = draw(st.sampled_from(get_args(model.VariableKind)))
    for p in g.prose:
        p.text = draw(TEXT)
    return g


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_generated_graphs_survive_json_and_show_no_drift_against_themselves(g: Graph) -> None:
    check(graph_to_json(g))
    _round_trip(g)
    copy = Graph.from_dict(json.loads(json.dumps(graph_to_json(g))))
    report = compare(g, copy)
    assert report.executable == [] and report.prose == [], [c.summary for c in report.executable + report.prose]

