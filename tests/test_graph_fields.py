"""Graph fields for page shapes: left out of the JSON at their default, round-tripped, schema-checked."""

from __future__ import annotations

import json
from pathlib import Path

from runbook.model import (
    IMPLICIT_HOST,
    Action,
    Block,
    Expected,
    Graph,
    Host,
    Prose,
    Session,
    Source,
    Span,
    Statement,
    Step,
)
from runbook.parse import parse_file
from runbook.validate import errors, graph_from_json, graph_to_json

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "guides" / "single-host.ja.md"


def _examples_graph(shape: str = "examples", steps: bool = True) -> Graph:
    span = Span("page.md", 10, 14)
    host = Host(IMPLICIT_HOST, IMPLICIT_HOST, IMPLICIT_HOST, None, None, None, Span("page.md", 1, 1), inferred=True)
    st = Statement("SELECT 1;", Span("page.md", 11, 11),
                   Expected("table", [" x ", "---", " 1", "(1 row)"], ["x"], [["1"]], 1,
                            notices=["NOTICE:  hello"], span=Span("page.md", 12, 15)),
                   comments=[Prose("this query uses the index", Span("page.md", 11, 11), "comment")])
    action = Action("usage#1", "sql", "sql", [IMPLICIT_HOST], "single-host", span, "SELECT 1;\n",
                    statements=[st], sessions={IMPLICIT_HOST: f"s1@{IMPLICIT_HOST}"})
    step = Step("usage", None, None, "Usage", None, Span("page.md", 8, 8), actions=[action])
    return Graph(
        source=Source("page.md", "en", "Page", "0" * 64, 20),
        hosts=[host], groups=[], variables=[], steps=[step] if steps else [],
        sessions=[Session(f"s1@{IMPLICIT_HOST}", IMPLICIT_HOST, None, None, True, None, span)] if steps else [],
        notes=[], blocks=[Block(10, 14, "sql", "action", "usage#1"), Block(16, 18, "text", "syntax", None)],
        prose=[], findings=[], shape=shape,  # type: ignore[arg-type]
    )


def test_new_fields_are_left_out_at_their_default() -> None:
    data = graph_to_json(parse_file(SEED))
    text = json.dumps(data, ensure_ascii=False)
    assert "shape" not in data
    for name in ('"inferred": true', '"notices"', '"expanded"', '"comments"'):
        assert name not in text
    assert all("inferred" not in h for h in data["hosts"])


def test_examples_graph_round_trips_and_validates() -> None:
    graph = _examples_graph()
    data = graph_to_json(graph)
    assert data["shape"] == "examples"
    assert data["hosts"][0] == {**data["hosts"][0], "id": "server", "role": "server", "inferred": True}
    assert data["sessions"][0]["database"] is None
    st = data["steps"][0]["actions"][0]["statements"][0]
    assert st["comments"][0]["role"] == "comment"
    assert st["expected"]["notices"] == ["NOTICE:  hello"]
    again = graph_from_json(json.loads(json.dumps(data)))
    assert again == graph


def test_only_a_not_executable_page_may_have_no_steps() -> None:
    empty = _examples_graph("not-executable", steps=False).to_dict()
    assert errors(empty) == []
    empty["shape"] = "examples"
    assert any("steps" in f.message for f in errors(empty))
    del empty["shape"]
    assert any("steps" in f.message for f in errors(empty))


def test_block_roles_are_an_enumeration() -> None:
    data = _examples_graph().to_dict()
    data["blocks"][1]["role"] = "decoration"
    assert any("blocks" in f.message for f in errors(data))
