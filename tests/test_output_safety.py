"""The formatting functions that keep a hostile guide's text harmless (issue 18 point 5): one masker,
visible control characters, no workflow command, Markdown cells that are only text."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runbook.secrets import Masker
from runner.untrusted import CommandsStopped, markdown_cell, markdown_code, no_commands, safe_line, visible


def test_one_masker_longest_first_everywhere() -> None:
    m = Masker(["pw", "pw-long"])
    assert m("a pw-long b pw c") == "a ******** b ******** c"
    assert Masker([])("pw") == "pw" and not Masker([""])
    export = Masker({"s3cret": "${RUNBOOK_SECRET_X}"})
    assert export("echo s3cret") == "echo ${RUNBOOK_SECRET_X}"


@dataclass
class _Check:
    expected: list[str]
    problems: list[str] = field(default_factory=list)
    span: tuple[int, int] | None = (1, 2)


def test_deep_masking_reaches_every_text_of_a_result() -> None:
    check = _Check(["  pw  | 1"], ["row 1: expected 'pw', got 'x'"])
    got = Masker(["pw"]).deep({"checks": [check], "n": 3, "t": ("pw",)})
    assert check.expected == ["  ********  | 1"] and check.problems == ["row 1: expected '********', got 'x'"]
    assert got["n"] == 3 and got["t"] == ("********",) and check.span == (1, 2)


def test_the_drift_and_export_maskers_are_the_one() -> None:
    import runbook.drift.context as drift
    import runbook.export as export
    import runner.running.session as session

    assert session.Masker is Masker and drift.Masker is Masker and export.Masker is Masker


def test_control_sequences_made_visible() -> None:
    assert visible("a\x1b[31mred\x07\rb\u202ec") == "a\\x1b[31mred\\x07\\rb\\u202ec"
    assert visible("one\ntwo") == "one\\ntwo" and visible("one\ntwo", lines=True) == "one\ntwo"
    assert visible("tab\tstays and 日本語") == "tab\tstays and 日本語"


def test_no_line_starts_a_workflow_command() -> None:
    text = "ok\n::warning::x\n   ::error::y\nmid::dle\n##[error]old"
    got = no_commands(text)
    assert not any(ln.lstrip().startswith("::") or "##[" in ln for ln in got.splitlines())
    assert "mid::dle" in got
    assert not safe_line("a\n::stop-commands::t").splitlines()[1:]


def test_markdown_cell_is_only_text() -> None:
    cell = markdown_cell("[x](https://e.example) ![i](http://e/i.png) <img src=x> a|b *e* `c`\nrow")
    assert re.search(r"(?<!\\)[\[\]<>|*`]", cell) is None and "\n" not in cell
    assert markdown_code("a`b|c") == "``a`b\\|c``"


def test_stop_commands_wrap_output_and_resume_for_own_commands() -> None:
    out = io.StringIO()
    wrap = CommandsStopped(out)
    wrap.stop()
    first = wrap.token
    wrap.emit(["::error file=g.md,line=1::x"])
    wrap.resume()
    lines = out.getvalue().splitlines()
    assert first and re.fullmatch("[0-9a-f]{32}", first)
    assert lines[0] == f"::stop-commands::{first}" and lines[1] == f"::{first}::"
    assert lines[2] == "::error file=g.md,line=1::x"
    second = lines[3].removeprefix("::stop-commands::")
    assert second != first and lines[4] == f"::{second}::"


def test_junit_holds_control_characters_as_text() -> None:
    from runner.reports.guide import junit_text

    root = ET.Element("testsuites")
    ET.SubElement(root, "failure", message="a\x1bb").text = "x\x00y\nz"
    failure = ET.fromstring(junit_text(root).split("\n", 1)[1]).find("failure")  # well-formed XML 1.0
    assert failure is not None  # the control characters are written as visible text, the rest kept
    assert (failure.get("message"), failure.text) == ("a\\x1bb", "x\\x00y\nz")


def test_plan_masks_secrets_and_shows_no_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--plan` prints the guide's commands: the secret masked, escapes visible, no workflow command."""
    from conftest import FIXTURES

    from runner.cli import main

    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    env = "    * データベース名：`shop`\n"
    text = text.replace(env, env + "\n    * パスワード：`Zq8s3cretPW`\n", 1)
    text = text.replace("sudo -H systemctl restart postgresql",
                        "sudo -H systemctl restart postgresql\necho 'Zq8s3cretPW' \\\n"
                        "::warning::x$(printf '\\033[2J')", 1)
    guide = tmp_path / "plan-secret.ja.md"
    guide.write_text(text, encoding="utf-8")
    assert main(["run", str(guide), "--plan"]) == 0
    out = capsys.readouterr()
    assert "Zq8s3cretPW" not in out.out + out.err and "echo '********'" in out.out
    assert not any(ln.lstrip().startswith("::") for ln in out.out.splitlines())


def test_drift_report_shows_escapes_and_starts_no_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`runbook drift` prints the guides' changed lines: escape sequences shown, no workflow command."""
    from conftest import FIXTURES

    from runner.cli import main

    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    old, new = tmp_path / "old.ja.md", tmp_path / "new.ja.md"
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("sudo -H systemctl restart postgresql",
                                "sudo -H systemctl restart postgresql\necho '\x1b[2Jx' \\\n::warning::injected", 1),
                   encoding="utf-8")
    assert main(["drift", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2Jx" in out
    assert not any(ln.lstrip().startswith("::") for ln in out.splitlines()) and "+::warning::injected" in out
