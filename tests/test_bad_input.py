"""Bad input: a clear message with file and line, a documented exit status, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, SEED_JA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import EXIT_INVALID, EXIT_USAGE, GuideError, RunbookError
from runbook.parse import parse_file, parse_text
from runner.cli import main as run

BAD = FIXTURES / "bad"

CASES = [
    ("empty.md", "empty-file", 1),
    ("whitespace.md", "empty-file", 1),
    ("binary.md", "binary-file", 2),
    ("latin1.md", "not-utf8", 4),
    ("no-steps.md", "no-steps", 1),
    ("unclosed-fence.md", "unclosed-fence", 210),
    ("before-without-after.md", "edit-without-after", 130),
    ("unknown-host-label.md", "unknown-host-label", 341),
    ("missing-anchor.md", "missing-anchor", 47),
]


@pytest.mark.parametrize(("name", "rule", "line"), CASES)
def test_bad_guide_names_rule_file_and_line(name: str, rule: str, line: int) -> None:
    with pytest.raises(GuideError) as info:
        parse_file(BAD / name)
    findings = info.value.findings
    assert any(f.rule == rule and f.span.line == line and f.span.file.endswith(name) for f in findings), [
        f.format() for f in findings
    ]


@pytest.mark.parametrize(("name", "rule", "line"), CASES)
def test_bad_guide_cli_exit_status_and_message(
    name: str, rule: str, line: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(["parse", str(BAD / name)])
    err = capsys.readouterr().err
    assert status == EXIT_INVALID
    assert f"{name}:{line}: {rule}:" in err
    assert "Traceback" not in err


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["parse", "/nonexistent/guide.md"]) == EXIT_USAGE
    assert "no such file" in capsys.readouterr().err


def test_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["parse", "--bogus", str(SEED_JA)]) == EXIT_USAGE
    assert "--bogus" in capsys.readouterr().err


def test_unknown_host_message_lists_the_known_hosts() -> None:
    with pytest.raises(GuideError) as info:
        parse_file(BAD / "unknown-host-label.md")
    (f,) = [f for f in info.value.findings if f.rule == "unknown-host-label"]
    assert "スタンバイ3" in f.message and "スタンバイ2" in f.message


def test_graph_failing_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runbook.validate import graph_from_json, graph_to_json

    data = graph_to_json(parse_file(SEED_JA))
    data["steps"][2]["actions"][0]["kind"] = "teleport"
    del data["hosts"][0]["address"]
    with pytest.raises(RunbookError) as info:
        graph_from_json(data, "graph.json")
    messages = [f.message for f in info.value.findings]
    assert any("$['steps'][2]['actions'][0]['kind']" in m and "teleport" in m for m in messages), messages
    assert any("$['hosts'][0]" in m and "address" in m for m in messages), messages
    # the CLI reads graphs too (drift/export accept .json), with the same errors and exit status 4
    bad = tmp_path / "graph.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    from runbook.load import load_graph

    with pytest.raises(RunbookError) as info2:
        load_graph(bad)
    assert info2.value.exit_status == EXIT_INVALID


def test_no_traceback_from_a_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "lint", str(BAD / "binary.md")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == EXIT_INVALID
    assert "binary-file" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


ALPHABET = list("#`-*[]{}():：$ \n\tabc1変更前後スタンバイプライマリー通常|~>")


def _parsed_or_refused(text: str) -> None:
    """The reader gives a step graph of the text, or refuses it with a runbook error that says why
    (any other exception fails the test)."""
    try:
        graph = parse_text(text, "fuzz.md")
    except RunbookError as exc:
        assert str(exc).strip()
    else:
        assert graph.source.file == "fuzz.md"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=400))
def test_arbitrary_markdown_raises_only_runbook_errors(text: str) -> None:
    _parsed_or_refused(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_runbook_errors(text: str) -> None:
    _parsed_or_refused(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=400),
       st.sampled_from(["", "```", "変更前：\n\n", "スタンバイ9：\n\n", "$ x\n"]))
def test_seed_cut_or_spliced_raises_only_runbook_errors(cut: int, insert: str) -> None:
    lines = SEED_JA.read_text(encoding="utf-8").split("\n")
    text = "\n".join(lines[:cut] + [insert] + lines[cut:])
    _parsed_or_refused(text)
