"""`runbook run` end to end when a SQL block's psql session cannot open (psql cannot connect: the
guide's database does not exist): the SQL action fails at the guide's line, ``line N:`` first, in the
JSON report and in what the run prints, as a statement's failure does."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from e2e import needs_sandbox
from helpers import line_of
from run_support import _failed, _report

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_session_that_cannot_open_fails_at_the_blocks_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # no `psql shop` in the guide: the SQL block's session is inferred, on the guide's database,
    # which here is one nobody creates
    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    for old, new in (("```bash\npsql shop\n```\n\n", ""), ("データベース名：`shop`", "データベース名：`nosuchdb`")):
        assert old in text
        text = text.replace(old, new, 1)
    guide = tmp_path / "session-open.md"
    guide.write_text(text, encoding="utf-8")
    status, data, _ = _report(tmp_path, guide, "--timeout", "120")
    printed = capsys.readouterr()
    assert status == 1
    failed = _failed(data)
    line = line_of(guide, "```sql")
    assert failed["kind"] == "sql" and failed["line"] == line
    assert failed["message"].startswith(f"line {line}: ")
    assert 'database "nosuchdb" does not exist' in failed["message"]
    # the progress line of the action shows the same message, its line first; the summary names the
    # place once (file:line), the message after it
    (progress,) = [x for x in printed.err.splitlines() if f"{failed['action']} " in x]
    assert "failed" in progress and f"line {line}: primary: psql did not start" in progress
    assert f"{guide}:{line}: primary: psql did not start" in printed.out
    assert f"line {line}: line {line}" not in printed.out + printed.err
    steps = {s["id"]: s["status"] for s in data["steps"]}
    assert steps == {"install-postgresql": "passed", "configure-primary": "passed", "check-data": "failed"}


def test_psql_typed_in_a_shell_block_that_cannot_open_fails_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The guide's own ``psql nosuchdb`` (a bash block that opens the session of the SQL blocks after
    it): the failure is the command's, at its line; the server refused the database, it was not lost."""
    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    assert "```bash\npsql shop\n```\n" in text
    guide = tmp_path / "shell-open.md"
    guide.write_text(text.replace("```bash\npsql shop\n```\n", "```bash\npsql nosuchdb\n```\n", 1), encoding="utf-8")
    status, data, _ = _report(tmp_path, guide, "--timeout", "120")
    printed = capsys.readouterr()
    assert status == 1
    failed = _failed(data)
    line = line_of(guide, "psql nosuchdb")
    assert failed["kind"] == "shell"
    assert failed["message"].startswith(f"line {line}: primary: psql did not start: ")
    assert 'database "nosuchdb" does not exist' in failed["message"]
    assert f"{guide}:{line}: primary: psql did not start" in printed.out
