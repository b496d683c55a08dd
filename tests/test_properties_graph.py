"""Properties of the step graph (issue 19 point 4): graph -> JSON -> graph is the identity, and a
graph compared with itself (``runbook.drift.compare``) shows no drift, for every pinned graph and for
generated ones: guides written from pieces (hosts, steps, labels, shell, console, SQL with expected
output, file edits, prose) and read, and pinned graphs with their texts and enumerated fields
changed at random."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.drift import compare
from runbook.kinds import ActionKind, EditKind, TargetSource, VariableKind
from runbook.model import Graph
from runbook.parse import parse_text
from runbook.validate import check, graph_to_json

ROOT = Path(__file__).resolve().parent.parent
PINS = sorted((ROOT / "tests/fixtures/graphs").glob("*.json"))
GRAPH_PINS = [p for p in PINS if "steps" in json.loads(p.read_text())]  # not the pins of a guide that fails


def through_json(g: Graph) -> Graph:
    """``g`` written as ``runbook parse`` writes it (validated), and read back."""
    return Graph.from_dict(json.loads(json.dumps(graph_to_json(g), ensure_ascii=False)))


def assert_identity_and_no_drift(g: Graph) -> None:
    again = through_json(g)
    assert again == g
    assert repr(again) == repr(g)  # enumerated fields hold members again, not strings equal to them
    assert graph_to_json(again) == graph_to_json(g)
    for other in (g, again):  # compare(g, g), and g against its JSON copy
        report = compare(g, other)
        assert report.executable == [] and report.prose == [], [c.summary for c in report.executable + report.prose]
        assert report.verdict == "none"


def test_there_are_pins() -> None:
    assert len(GRAPH_PINS) >= 20


@pytest.mark.parametrize("pin", GRAPH_PINS, ids=lambda p: p.name)
def test_every_pinned_graph_is_its_json_and_shows_no_drift_against_itself(pin: Path) -> None:
    data = json.loads(pin.read_text(encoding="utf-8"))
    g = Graph.from_dict(data)
    assert graph_to_json(g) == data
    assert json.dumps(graph_to_json(g), ensure_ascii=False, indent=2) + "\n" == pin.read_text(encoding="utf-8")
    assert_identity_and_no_drift(g)


# -- guides written from pieces -----------------------------------------------------------------------

WORD = st.text("abcdefghijklmnopqrstuvwxyzéあいうえお漢字", min_size=1, max_size=8)
SENTENCE = st.lists(WORD, min_size=1, max_size=8).map(lambda ws: " ".join(ws).capitalize() + ".")
IDENT = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@dataclass
class Guide:
    text: str
    steps: int
    actions: int
    """Actions the guide asks for (every block but the before blocks of edits)."""


@st.composite
def sql_block(draw: st.DrawFn) -> str:
    """SELECTs with the output psql prints, right or wrong, commented or missing; a SET and its tag."""
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        column = draw(IDENT)
        values = draw(st.lists(st.integers(-999, 9999), min_size=1, max_size=3))
        lines.append("SELECT n AS " + column + " FROM (VALUES " + ", ".join(f"({v})" for v in values) + ") AS t(n);")
        if draw(st.booleans()):
            width = max(len(column), *(len(str(v)) for v in values))
            lines.append(f"-- {column.center(width + 2).rstrip()}")
            lines.append("-- " + "-" * (width + 2))
            lines += [f"-- {str(v).rjust(width + 1)}" for v in draw(st.permutations(values))]
            lines.append(f"-- ({len(values)} row{'s' if len(values) != 1 else ''})")
    if draw(st.booleans()):
        lines += ["SET enable_seqscan TO off;", "-- SET"]
    return "```sql\n" + "\n".join(lines) + "\n```"


@st.composite
def step_body(draw: st.DrawFn, hosts: list[str], database: str) -> tuple[str, int]:
    """A step's prose and blocks, each block after a host label; how many actions it has."""
    parts = ["This is a normal step."]
    actions = 0
    in_psql: str | None = None
    for _ in range(draw(st.integers(1, 5))):
        host = draw(st.sampled_from(hosts))
        if draw(st.booleans()):
            parts.append(draw(SENTENCE))
        piece = draw(st.sampled_from(["shell", "console", "sql", "edit", "append", "settings", "annotation"]))
        if piece == "sql" and in_psql != host:
            parts += [f"{host}:", f"```bash\npsql {database}\n```"]
            actions += 1
            in_psql = host
        elif piece != "sql":
            in_psql = None
        if piece == "append":  # an edit with no before text, its hosts in a scope phrase
            parts += [f"Add the following line to `/etc/postgresql/16/main/pg_hba.conf` on only {host.lower()}:",
                      f"```text\nhost all all 192.168.0.0/24 {draw(st.sampled_from(['md5', 'trust']))}\n```"]
        elif piece == "settings":
            # (not those the before/after edits set: a list of settings a later block shows describes it)
            names = draw(st.lists(st.sampled_from(["port", "wal_level", "max_wal_senders"]), min_size=1, unique=True))
            parts += [f"Change the following settings in `/etc/postgresql/16/main/postgresql.conf` on only "
                      f"{host.lower()}:", *(f"  * `{n} = {draw(st.integers(2, 99))}`" for n in names)]
        elif piece == "annotation":
            parts += [f"<!-- runbook: hosts={host.lower()} -->", f"```bash\necho {draw(IDENT)}\n```"]
        else:
            parts.append(f"{host}:")
        if piece == "shell":
            words = draw(st.lists(IDENT, min_size=1, max_size=3))
            parts.append("```bash\n" + "\n".join(f"echo {w}" for w in words) + "\n```")
        elif piece == "console":
            word = draw(IDENT)
            parts.append(f"```console\n$ echo {word}\n{word}\n```")
        elif piece == "sql":
            parts.append(draw(sql_block()))
        elif piece == "edit":
            name = draw(st.sampled_from(["work_mem", "shared_buffers", "max_connections"]))
            parts += [f"`/etc/postgresql/16/main/conf.d/{draw(IDENT)}.conf`:", "Before:",
                      f"```conf\n#{name} = 1\n```", "After:", f"```conf\n{name} = {draw(st.integers(2, 99))}\n```"]
        actions += 1
    return "\n\n".join(parts), actions


@st.composite
def guides(draw: st.DrawFn) -> Guide:
    database = draw(IDENT)
    hosts = ["Primary"] + [f"Standby{n}" for n in range(1, draw(st.integers(0, 2)) + 1)]
    titles = draw(st.lists(SENTENCE.map(lambda s: s.rstrip(".")), min_size=1, max_size=4, unique=True))
    env = []
    for n, host in enumerate(hosts):
        env.append(f"  * {host}:\n\n    * OS: Ubuntu 24.04\n\n    * IP address: 192.168.0.{30 + n}")
        if n == 0:
            env[-1] += f"\n\n    * Database name: `{database}`"
    summary = "\n\n".join(f"  {n}. [normal] [{t}](#step-{n})" for n, t in enumerate(titles, 1))
    parts = [f"# {draw(SENTENCE).rstrip('.')}", draw(SENTENCE), "## Summary", summary,
             "This document uses the following environment:", "\n\n".join(env)]
    actions = 0
    for n, title in enumerate(titles, 1):
        body, count = draw(step_body(hosts, database))
        parts += [f"## [normal] {title} {{#step-{n}}}", body]
        actions += count
    return Guide("\n\n".join(parts) + "\n", len(titles), actions)


@settings(max_examples=150, deadline=None)
@given(guides())
def test_generated_guides_read_to_graphs_that_are_their_json_and_show_no_drift(guide: Guide) -> None:
    g = parse_text(guide.text, "generated.en.md", "en")
    # the graph is the guide the pieces make: else the property would hold of an empty graph
    assert [f for f in g.findings if f.severity == "error"] == []
    assert len(g.steps) == guide.steps and len(g.actions()) == guide.actions
    assert_identity_and_no_drift(g)


# -- pinned graphs changed at random ------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@st.composite
def changed_pins(draw: st.DrawFn) -> Graph:
    """A pinned graph with its steps, actions and texts changed at random (enumerated fields among
    their members)."""
    g = Graph.from_dict(json.loads(draw(st.sampled_from(GRAPH_PINS)).read_text(encoding="utf-8")))
    if g.steps:
        g.steps = draw(st.lists(st.sampled_from(g.steps), min_size=1, max_size=4, unique_by=id))
    for step in g.steps:
        step.title = draw(TEXT)
        for action in step.actions:
            action.code = draw(TEXT)
            action.target_source = draw(st.sampled_from(TargetSource))
            if action.kind == ActionKind.FILE_EDIT:
                action.after = draw(TEXT)
                if draw(st.booleans()):  # an edit without before text (the schema: no before then)
                    action.edit = draw(st.sampled_from(EditKind))
                    action.before = action.before_span = None
    for v in g.variables:
        v.value = draw(TEXT.filter(bool))
        v.kind = draw(st.sampled_from(VariableKind))
    for p in g.prose:
        p.text = draw(TEXT)
    return g


@settings(max_examples=100, deadline=None)
@given(changed_pins())
def test_changed_pinned_graphs_are_their_json_and_show_no_drift(g: Graph) -> None:
    check(graph_to_json(g))
    assert_identity_and_no_drift(g)
