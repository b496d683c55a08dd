"""Typed results (issue 19 point 4): every ``enum`` of the schemas is a ``StrEnum`` with the same
members, the fields the schemas enumerate have the enumeration's type and hold its members, statuses
are enum members, soft failures are a field.  (Graph -> JSON -> graph and ``compare(g, g)``:
``tests/test_properties_graph.py``.)"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import re
import typing
from enum import Enum, StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_args, get_origin

import pytest

from runbook import kinds, model
from runbook.errors import RunbookError
from runbook.parse import parse_file
from runner import status
from runner.planning import inventory
from runner.planning.model import Substitution
from runner.reports.guide import to_json
from runner.running import results
from runner.site import model as site
from runner.site.server import ServerEvent
from runner.status import (
    CheckStatus,
    PageStatus,
    RunStatus,
    ServerEventKind,
    SiteStatus,
    Status,
    SubstitutionKind,
    TargetKind,
)

ROOT = Path(__file__).resolve().parent.parent
GRAPH_SCHEMA = "runbook/schema/graph.schema.json"


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
SCHEMAS: dict[tuple[str, str], tuple[type[StrEnum], set[str]]] = {
    # (schema, JSON path): (enumeration, members the schema leaves out)
    (GRAPH_SCHEMA, "/properties/shape"): (kinds.Shape, set()),
    (GRAPH_SCHEMA, "/$defs/finding/properties/severity"): (kinds.Severity, set()),
    (GRAPH_SCHEMA, "/$defs/variable/properties/kind"): (kinds.VariableKind, set()),
    (GRAPH_SCHEMA, "/$defs/expected/properties/kind"): (kinds.ExpectedKind, set()),
    (GRAPH_SCHEMA, "/$defs/action/properties/kind"): (kinds.ActionKind, set()),
    (GRAPH_SCHEMA, "/$defs/action/properties/target_source"): (kinds.TargetSource, set()),
    (GRAPH_SCHEMA, "/$defs/action/properties/edit"): (kinds.EditKind, set()),
    (GRAPH_SCHEMA, "/$defs/action/allOf[2]/if/properties/kind"):
        (kinds.ActionKind, {"sql", "file_edit", "file_write", "note"}),  # the kinds with commands
    (GRAPH_SCHEMA, "/$defs/prose/properties/role"): (kinds.ProseRole, set()),
    (GRAPH_SCHEMA, "/$defs/block/properties/role"): (kinds.BlockRole, set()),
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
    ("runner/schema/report.schema.json", "/$defs/action/properties/kind"): (kinds.ActionKind, {"note"}),
    ("runner/schema/report.schema.json", "/$defs/action/properties/status"): (Status, {"interrupted"}),
    ("runner/schema/report.schema.json", "/$defs/step/properties/status"): (Status, set()),
    ("runner/schema/site-report.schema.json", "/properties/status"): (SiteStatus, set()),
    ("runner/schema/site-report.schema.json", "/$defs/page/properties/shape"): (kinds.Shape, set()),
    ("runner/schema/site-report.schema.json", "/$defs/page/properties/status"): (PageStatus, set()),
    ("runner/schema/site-report.schema.json", "/properties/server_events/items/properties/kind"):
        (ServerEventKind, set()),
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


def test_every_enumeration_is_a_schema_enum() -> None:
    """The other direction: no enumeration of the graph or of the results that no schema has."""
    defined = {v for m in (kinds, status) for v in vars(m).values()
               if isinstance(v, type) and issubclass(v, StrEnum) and v.__module__ == m.__name__}
    assert defined == {t for t, _ in SCHEMAS.values()}


def _enum_type(hint: Any) -> type[Enum] | None:
    """The enumeration a field's type names (``X | None``: X), or None."""
    if isinstance(hint, type):
        return hint if issubclass(hint, Enum) else None
    found = [a for a in get_args(hint) if isinstance(a, type) and issubclass(a, Enum)]
    return found[0] if found and get_origin(hint) is not list and get_origin(hint) is not dict else None


def _graph_field(path: str) -> tuple[type, str] | None:
    """The model class and field of a graph schema property (``/$defs/prose/properties/role``)."""
    m = re.fullmatch(r"(?:/\$defs/(?P<d>\w+))?/properties/(?P<f>\w+)", path)
    if m is None:
        return None  # a condition (allOf/if), not a field
    return (getattr(model, m["d"].capitalize()) if m["d"] else model.Graph), m["f"]


def test_graph_fields_the_schema_enumerates_have_the_enumerations_type() -> None:
    enumerated = {}
    for (schema, path), (enum, _) in SCHEMAS.items():
        where = _graph_field(path) if schema == GRAPH_SCHEMA else None
        if where is not None:
            enumerated[where] = enum
    assert len(enumerated) == 9
    for (cls, name), enum in enumerated.items():
        assert _enum_type(typing.get_type_hints(cls)[name]) is enum, (cls.__name__, name)
    # and every enumeration-typed field of the graph is one the schema enumerates (a base's fields, Output's,
    # through the classes that inherit them: Expected)
    classes = [c for c in vars(model).values() if dataclasses.is_dataclass(c) and isinstance(c, type)]
    leaves = [c for c in classes if not any(o is not c and issubclass(o, c) for o in classes)]
    typed = {(cls, f.name) for cls in leaves
             for f in dataclasses.fields(cls) if _enum_type(typing.get_type_hints(cls)[f.name]) is not None}
    assert typed == set(enumerated)


@pytest.mark.parametrize(("cls", "name", "expected"), [
    (results.StepResult, "status", Status), (results.ActionResult, "status", Status),
    (results.ActionResult, "kind", kinds.ActionKind),
    (results.CheckResult, "status", CheckStatus), (results.RunResult, "status", RunStatus),
    (site.PageResult, "status", PageStatus), (site.SiteResult, "status", SiteStatus),
    (ServerEvent, "kind", ServerEventKind),
    (inventory.Target, "kind", TargetKind), (Substitution, "kind", SubstitutionKind),
])
def test_result_fields_the_schemas_enumerate_have_the_enumerations_type(cls: type, name: str, expected: Any) -> None:
    assert typing.get_type_hints(cls)[name] == expected


def _members(obj: Any) -> list[tuple[str, Any, type[Enum]]]:
    """(class.field, value, enumeration) of every enumeration-typed field set in ``obj``, recursively."""
    if isinstance(obj, list):
        return [x for v in obj for x in _members(v)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _members(v)]
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return []
    hints = typing.get_type_hints(type(obj))
    found = []
    for f in dataclasses.fields(obj):
        value, enum = getattr(obj, f.name), _enum_type(hints[f.name])
        if enum is not None and value is not None:
            found.append((f"{type(obj).__name__}.{f.name}", value, enum))
        found += _members(value)
    return found


def _pinning() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_graphs", ROOT / "scripts" / "pin_graphs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GUIDES = _pinning().cases(ROOT, ROOT.parent / "shared")  # shared/: where present (CI puts it beside the clone)


@pytest.mark.parametrize(("display", "path"), GUIDES, ids=[d for d, _ in GUIDES])
def test_a_graph_read_or_loaded_holds_members_not_strings(display: str, path: Path) -> None:
    """Where the reader makes a value, it makes a member (``ProseRole.NOTE``, not ``"note"``); loading
    JSON turns the strings back into members."""
    try:
        graph = parse_file(path, display=display)
    except RunbookError as exc:  # a guide that cannot be read: its findings' severities
        found = _members(exc.findings)
        assert found and all(type(v) is e for _, v, e in found), found
        return
    loaded = model.Graph.from_dict(json.loads(json.dumps(graph.to_dict())))
    for g in (graph, loaded):
        found = _members(g)
        assert {where for where, _, _ in found} >= {"Graph.shape", "Block.role"}
        wrong = [(where, v) for where, v, e in found if type(v) is not e]
        assert wrong == []


def test_statuses_are_the_enums_and_read_as_their_strings() -> None:
    assert (results.PASSED, results.ALREADY, site.NOT_EXECUTABLE) == (
        Status.PASSED, Status.ALREADY_APPLIED, PageStatus.NOT_EXECUTABLE)
    assert Status.DONE_EARLIER == "done-earlier" and json.dumps([CheckStatus.VOLATILE]) == '["volatile"]'
    assert f"{Status.NOT_RUN}" == "not-run" and RunStatus(Status.FAILED) is RunStatus.FAILED


def test_no_runner_module_writes_a_status_as_a_bare_string() -> None:
    bare = re.compile(r'\.status\s*(==|!=|=)\s*"|\.status (not )?in \("|(?<![\w-])status\s*=\s*"')  # not data-status="
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "runner").rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if bare.search(line)]
    assert found == []


def test_a_soft_failure_is_a_field_and_not_in_the_report() -> None:
    action = results.ActionResult("s#1", "s", "sql", "h", 3, Status.FAILED, soft=True)
    step = results.StepResult("s", 1, "S", "normal", 2, Status.FAILED, actions=[action])
    data = to_json(results.RunResult("g.md", "sandbox", RunStatus.FAILED, 0.0, 1.0, [step]))
    assert "soft" not in data["steps"][0]["actions"][0] and data["steps"][0]["actions"][0]["status"] == "failed"
    # and nothing in runner/ keeps results by their id() (the soft failures once were)
    by_id = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "runner").rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"(?<![\w.])id\(", line)]
    assert by_id == []


def _site_result() -> site.SiteResult:
    check = results.CheckResult(4, "SELECT 1;", CheckStatus.VOLATILE, ["1"], ["1"], expected_span=(5, 7))
    action = results.ActionResult("s#1", "s", kinds.ActionKind.SQL, "h", 3, Status.PASSED, checks=[check])
    run = results.RunResult("site/a.md", "sandbox", RunStatus.PASSED, 0.0, 1.0,
                            [results.StepResult("s", 1, "S", "normal", 2, Status.PASSED, actions=[action]),
                             results.StepResult("t", 2, "T", None, 9, Status.NOT_RUN)])
    page = site.PageResult("site/a.md", "a.md", "site", "examples", PageStatus.PASSED, result=run, started=0.5)
    return site.SiteResult(["site"], SiteStatus.PASSED, 0.0, 1.0, [page], server_events=[
        {"kind": ServerEventKind.RECOVERED, "seconds": 0.5, "detail": "PostgreSQL restarted its processes"}])


def test_a_merged_site_report_holds_members_not_strings(tmp_path: Path) -> None:
    """``runbook report merge`` reads the shards' JSON back into results whose enumeration-typed
    fields hold the members (``Status.PASSED``, not ``"passed"``), as a run's own results do."""
    from runner.reports.merge import merge_reports
    from runner.reports.site import site_to_json

    written = _site_result()
    (tmp_path / "shard.json").write_text(json.dumps(site_to_json(written)))
    merged = merge_reports([tmp_path / "shard.json"])
    assert merged.pages[0].result == written.pages[0].result  # (read back whole)
    found = _members(merged)
    assert {where for where, _, _ in found} == {
        "SiteResult.status", "PageResult.status", "RunResult.status", "StepResult.status", "ActionResult.status",
        "ActionResult.kind", "CheckResult.status"}
    assert [(where, v) for where, v, e in found if type(v) is not e] == []
    assert type(merged.server_events[0]["kind"]) is ServerEventKind


def test_a_merged_page_report_with_a_bad_value_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A page's own run report (which the site report's schema leaves free) is checked against a guide
    report's schema: a value no enumeration has is a usage error naming the file and the page."""
    from runner.cli import main as cli
    from runner.reports.site import site_to_json

    data = site_to_json(_site_result())
    data["pages"][0]["report"]["steps"][0]["actions"][0]["checks"][0]["status"] = "fine"
    (tmp_path / "shard.json").write_text(json.dumps(data))
    assert cli(["report", "merge", str(tmp_path / "shard.json")]) == 2
    err = capsys.readouterr().err
    assert f"runbook report merge: {tmp_path / 'shard.json'}: site/a.md's report is not a guide report" in err
    assert "at steps/0/actions/0/checks/0/status: 'fine' is not one of" in err and "Traceback" not in err


def _sources() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(ROOT)), ast.parse(p.read_text())) for d in ("runbook", "runner")
            for p in sorted((ROOT / d).rglob("*.py"))]


def _enumerations(sources: list[tuple[str, ast.Module]]) -> dict[str, set[str]]:
    """Every string enumeration of runbook/ and runner/ (``class X(StrEnum)``, ``class X(str, Enum)``):
    its name and its members' strings, read from the source."""
    found = {}
    for _, tree in sources:
        for c in ast.walk(tree):
            bases = {ast.unparse(b) for b in c.bases} if isinstance(c, ast.ClassDef) else set()
            if isinstance(c, ast.ClassDef) and ("StrEnum" in bases or "str" in bases and bases & {"Enum", "enum.Enum"}):
                found[c.name] = {s.value.value for s in c.body if isinstance(s, ast.Assign)
                                 and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)}
    return found


def _named(annotation: ast.expr | None, enums: dict[str, set[str]]) -> set[str]:
    """The strings an annotation's enumeration allows (``X``, ``X | None``, ``Optional[X]``; not ``list[X]``)."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _named(ast.parse(annotation.value, mode="eval").body, enums)
    if isinstance(annotation, ast.Name | ast.Attribute):
        return enums.get(annotation.id if isinstance(annotation, ast.Name) else annotation.attr, set())
    if isinstance(annotation, ast.BinOp):
        return _named(annotation.left, enums) | _named(annotation.right, enums)
    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) in ("Optional", "typing.Optional"):
        return _named(annotation.slice, enums)
    return set()


def _typed(sources: list[tuple[str, ast.Module]], enums: dict[str, set[str]]) -> tuple[dict[str, set[str]], ...]:
    """By name, what the fields (``x.kind``) and the functions (``page_shape(...)``) typed with an
    enumeration allow; a name typed so in any class or function counts everywhere."""
    fields: dict[str, set[str]] = {}
    functions: dict[str, set[str]] = {}
    for _, tree in sources:
        for n in ast.walk(tree):
            if isinstance(n, ast.ClassDef):
                for s in n.body:
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
                        fields.setdefault(s.target.id, set()).update(_named(s.annotation, enums))
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Attribute):  # self.x: X = ...
                fields.setdefault(n.target.attr, set()).update(_named(n.annotation, enums))
            elif isinstance(n, ast.FunctionDef):
                functions.setdefault(n.name, set()).update(_named(n.returns, enums))
    return {k: v for k, v in fields.items() if v}, {k: v for k, v in functions.items() if v}


def _strings(node: ast.expr) -> set[str]:
    """The string literals a comparison or an assignment gives (``"a"``, ``("a", "b")``, ``"a" if c else "b"``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {s for e in node.elts for s in _strings(e)}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def _bare_enumerations(path: str, tree: ast.Module, fields: dict[str, set[str]],
                       functions: dict[str, set[str]], enums: dict[str, set[str]]) -> list[str]:
    """Where ``tree`` compares an enumeration-typed value with a member's string, or sets one to it."""
    local: dict[ast.AST, dict[str, set[str]]] = {}  # per function: its arguments and locals typed so
    for f in ast.walk(tree):
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef):
            args = (*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs)
            typed = {a.arg: _named(a.annotation, enums) for a in args}
            typed |= {s.target.id: _named(s.annotation, enums) for s in ast.walk(f)
                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
            for n in ast.walk(f):
                local[n] = {k: v for k, v in typed.items() if v}  # the innermost function walks last

    def allowed(n: ast.AST) -> set[str]:
        if isinstance(n, ast.Attribute):
            return fields.get(n.attr, set())
        if isinstance(n, ast.Call):
            return functions.get(n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", ""), set())
        return local.get(n, {}).get(n.id, set()) if isinstance(n, ast.Name) else set()

    found = []
    for n in ast.walk(tree):
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(n, ast.Compare):
            operands = [n.left, *n.comparators]
            pairs = [(a, b) for op, a, b in zip(n.ops, operands, operands[1:], strict=False)
                     if isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn)]
            pairs += [(b, a) for a, b in pairs]
        elif isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None:
            pairs = [(t, n.value) for t in (n.targets if isinstance(n, ast.Assign) else [n.target])]
        elif isinstance(n, ast.keyword) and n.arg in fields:
            pairs = [(ast.Attribute(ast.Name("_"), n.arg), n.value)]
        for typed, literal in pairs:
            if _strings(literal) & allowed(typed):
                found.append(f"{path}:{n.lineno}: {ast.unparse(n)}")
    return found


def test_no_module_compares_an_enumeration_with_a_bare_string() -> None:
    """``action.kind == ActionKind.SQL`` and ``a.status == Status.FAILED``, not ``== "sql"`` or
    ``== "failed"`` (which work, a member being equal to its string, but do not say which enumeration;
    a misspelt member fails where a misspelt string never matches), in runbook/ and runner/ alike;
    nor a field typed with an enumeration set to a string.

    Static: a name (``kind``, ``status``, ``page_shape``) is taken as the enumerations it is typed with
    anywhere in either package, so ``result.kind == "sql"`` counts even where ``result`` is untyped; a
    string that is no member of them (a misspelling, ``node.kind == "fence"`` of a ``Literal``) is not
    found here."""
    sources = _sources()
    enums = _enumerations(sources)
    assert {"Status", "ActionKind", "Shape", "Severity", "EditStatus"} <= set(enums)
    fields, functions = _typed(sources, enums)
    assert {"kind", "status", "shape", "role", "severity", "edit", "target_source"} <= set(fields)
    assert "page_shape" in functions and "sql" in fields["kind"] and "failed" in fields["status"]
    found = [f for path, tree in sources for f in _bare_enumerations(path, tree, fields, functions, enums)]
    assert not found, "compared with or set to a member's string (write the member):\n" + "\n".join(found)
