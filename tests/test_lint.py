"""`runbook lint` on the seed guide: the findings a careful reviewer would make."""

from __future__ import annotations

import json

import pytest
from conftest import SEED_EN, SEED_JA
from helpers import line_of, lines_of

from runbook.lint import lint
from runbook.model import Graph
from runner.cli import main as run


def _by_rule(graph: Graph) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for f in lint(graph):
        out.setdefault(f.rule, []).append(f.span.line)
    return out


def test_seed_findings(seed_ja: Graph) -> None:
    findings = lint(seed_ja)
    rules = _by_rule(seed_ja)
    # overview items 5, 6 and 7 differ from their headings
    assert rules["overview-title-mismatch"] == [line_of(SEED_JA, f"  {n}. [") for n in (5, 6, 7)]
    # "-              title" instead of "--"
    assert rules["expected-output-malformed"] == [line_of(SEED_JA, "-              title")]
    # pgronga.enable_wal_resource_manager: no conf block sets it (the block says pgroonga.)
    (typo,) = [f for f in findings if f.rule == "unknown-setting"]
    assert typo.severity == "error" and typo.span.line == line_of(SEED_JA, "`pgronga.enable_wal_resource_manager")
    assert "pgronga.enable_wal_resource_manager" in typo.message
    assert "pgroonga.enable_wal_resource_manager" in typo.message
    # both pg_basebackup commands: a hint, not an error
    hints = [f for f in findings if f.rule == "basebackup-spread-checkpoint"]
    assert [f.span.line for f in hints] == lines_of(SEED_JA, "$ sudo -u postgres -H pg_basebackup")
    assert {f.severity for f in hints} == {"hint"}
    assert "--checkpoint=fast" in hints[0].message


def test_english_findings_match(seed_en: Graph) -> None:
    rules = _by_rule(seed_en)
    assert "overview-title-mismatch" not in rules  # the English overview matches its headings
    assert rules["expected-output-malformed"] == [line_of(SEED_EN, "-              title")]
    assert rules["unknown-setting"] == [line_of(SEED_EN, "`pgronga.enable_wal_resource_manager")]


def test_cli_text_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lint", str(SEED_JA)]) == 1
    out = capsys.readouterr().out
    assert f"{SEED_JA}:{line_of(SEED_JA, '  5. [')}: overview-title-mismatch: " in out
    assert f"{SEED_JA}:{line_of(SEED_JA, '$ sudo -u postgres -H pg_basebackup')}: basebackup-spread-checkpoint: " in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lint", "--json", str(SEED_JA)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {"rule": "expected-output-malformed", "severity": "error"}.items() <= data[
        [d["rule"] for d in data].index("expected-output-malformed")].items()
    assert all(set(d) == {"rule", "severity", "message", "span"} for d in data)


def test_hints_alone_do_not_fail(capsys: pytest.CaptureFixture[str]) -> None:
    disabled = ["overview-title-mismatch", "expected-output-malformed", "unknown-setting"]
    args = ["lint", str(SEED_JA)] + [x for r in disabled for x in ("--disable", r)]
    assert run(args) == 0
    assert "basebackup-spread-checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize("guide", sorted(
    [p for p in (SEED_JA.parent).glob("*-replication.*.md")]
    + [p for p in (SEED_JA.parent.parent.parent / "tests" / "fixtures" / "guides").glob("*.md")]
), ids=lambda p: p.name)
def test_project_guides_have_no_lint_errors(guide: object) -> None:
    from pathlib import Path

    from runbook.parse import parse_file

    assert isinstance(guide, Path)
    errors = [f.format() for f in lint(parse_file(guide)) if f.severity == "error"]
    assert errors == []


def test_lint_reads_a_saved_graph_too(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    graph = tmp_path / "seed.json"
    assert run(["parse", str(SEED_JA), "-o", str(graph)]) == 0
    capsys.readouterr()
    assert run(["lint", "--json", str(SEED_JA)]) == 1
    from_markdown = json.loads(capsys.readouterr().out)
    assert run(["lint", "--json", str(graph)]) == 1
    from_graph = json.loads(capsys.readouterr().out)
    assert from_graph == from_markdown and len(from_graph) >= 6


def test_psql_watch_is_a_warning_at_its_statement() -> None:
    from runbook.parse import parse_text

    text = ("# Watch\n\n## Usage {#usage}\n\n```sql\nSELECT 1 AS a;\n\nSELECT now()\n\\watch 2\n\n"
            "SELECT 2 AS b \\gx\n```\n")
    findings = [f for f in lint(parse_text(text, "w.md")) if f.rule == "psql-watch"]
    lines = text.split("\n")
    assert [(f.span.file, f.span.line, f.severity) for f in findings] == [
        ("w.md", lines.index("SELECT now()") + 1, "warning")]
    assert "psql's \\watch repeats the query until it is interrupted" in findings[0].message
