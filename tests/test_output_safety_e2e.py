"""Hostile guides run for real (issue 18 point 5): a secret in a failed check's expected value,
escape sequences, rich markup and GitHub workflow commands in a guide and in its commands' output.
Every output is read from outside: stdout, stderr, JSON, JUnit, HTML, the job summary, transcripts."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from e2e import needs_sandbox
from e2e import variant as _variant

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SECRET = "Zq8s3cretPW"
ENV_LINE = "    * データベース名：`shop`\n"


def _with_secret(tmp_path: Path, name: str, old: str, new: str) -> Path:
    guide = _variant(tmp_path, name, old, new)
    text = guide.read_text(encoding="utf-8")
    assert ENV_LINE in text
    guide.write_text(text.replace(ENV_LINE, ENV_LINE + f"\n    * パスワード：`{SECRET}`\n", 1), encoding="utf-8")
    return guide


HOSTILE_COMMAND = (
    "sudo -H systemctl restart postgresql\n"
    "printf '\\033]0;pwned\\007\\033[2Jcleared\\n::warning::from-output\\n  ::error::indented\\n##[error]old\\n'"
    " && false [/x] [link=https://evil.example/] \\\n"
    "::stop-commands::guidetoken"
)


def _texts(*paths: Path) -> str:
    out = []
    for p in paths:
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        out += [f.read_text(encoding="utf-8", errors="replace") for f in files]
    return "\n".join(out)


def test_hostile_guides_cannot_turn_output_against_its_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # a password in a failed SQL check's expected value; a failing command full of escapes and commands
    check = _with_secret(tmp_path, "hostile-secret", "--  pear  |   150", f"--  {SECRET}  |   150")
    command = _variant(tmp_path, "hostile-command", "sudo -H systemctl restart postgresql", HOSTILE_COMMAND)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    status = run(["run", str(check), str(command), "--fresh", "--json", str(out_dir / "r.json"),
                  "--junit", str(out_dir / "r.xml"), "--html", str(out_dir / "r.html"),
                  "--transcripts", str(out_dir / "t")])
    out = capsys.readouterr()
    assert status == 1, out.err[-3000:]  # failed checks, not a crash of the summary (5)
    reports = _texts(out_dir, summary)
    # the secret: in none of stdout, stderr, JSON, JUnit, HTML, job summary, transcripts
    assert SECRET not in out.out + out.err + reports
    data = json.loads((out_dir / "r.hostile-secret.json").read_text())
    failed = [c for s in data["steps"] for a in s["actions"] for c in a["checks"] if c["status"] == "failed"]
    assert failed and any("********" in x for c in failed for x in c["expected"])
    assert any("********" in p for c in failed for p in c["problems"])
    # escape sequences shown, never sent to the terminal
    assert "\x1b" not in out.out + out.err and "\x07" not in out.out + out.err
    assert "\\x1b]0;pwned\\x07" in out.err or "\\x1b[2J" in out.err
    # rich markup shown as written
    assert "false [/x] [link=https://evil.example/]" in out.err
    # GitHub workflow commands: only runbook's own, output wrapped in stop-commands with a random token
    lines = (out.out + out.err).splitlines()
    commands = [ln.strip() for ln in lines if ln.strip().startswith("::") or "##[" in ln]
    own = re.compile(r"^::(stop-commands::[0-9a-f]{32}|[0-9a-f]{32}::|(error|warning|notice) file=[^:]*::.*)$")
    assert commands and all(own.match(c) for c in commands), [c for c in commands if not own.match(c)]
    assert out.out.splitlines()[0].startswith("::stop-commands::")
    tokens = [c.removeprefix("::stop-commands::") for c in commands if c.startswith("::stop-commands::")]
    resumed = [c.strip(":") for c in commands if re.fullmatch(r"::[0-9a-f]{32}::", c)]
    assert tokens == resumed and len(set(tokens)) == len(tokens)
    assert "::error file=" in out.out  # runbook's own annotations still come
    # JUnit stays well-formed XML; the job summary holds no link, image or HTML from the guide
    for xml in out_dir.glob("*.xml"):
        ET.parse(xml)
    md = summary.read_text()
    assert "\\[link=https\\://evil.example/\\]" in md  # shown, escaped
    assert re.search(r"(?<!\\)[\[\]<>]", md) is None  # no link, image or HTML the guide wrote
