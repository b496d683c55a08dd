"""``runbook drift --history`` and ``REV:PATH`` sides in a git repository made by the test: the
verdict of each commit, its lines and JSON, git's errors as usage errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SEED_EN
from drift_support import drift_json, only

from runbook.history import history
from runner.cli import main as run

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "--short", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose guide goes through one commit per kind of change."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    seed = SEED_EN.read_text(encoding="utf-8")
    commit(repo, "Add README", {"README.md": "hello\n"})
    commit(repo, "Add the guide", {"guide.md": seed})
    seed = seed.replace("This makes the operation", "This makes the operations")
    commit(repo, "Fix a typo", {"guide.md": seed})
    seed = seed.replace("rm -f groonga-apt-source-latest-$(lsb_release --codename --short).deb\n", "")
    commit(repo, "Keep the .deb", {"guide.md": seed})
    commit(repo, "Touch another file", {"README.md": "hello again\n"})
    seed = re.sub(r"\b16\b", "17", seed)
    commit(repo, "PostgreSQL 17", {"guide.md": seed})
    commit(repo, "Break the guide", {"guide.md": seed + "\n```bash\necho unclosed\n"})
    commit(repo, "Repair the guide", {"guide.md": seed.replace("This makes", "This make")})
    return repo


EXPECTED_HISTORY = [  # newest first
    ("Repair the guide", "prose"),
    ("Break the guide", "unreadable"),
    ("PostgreSQL 17", "executable"),
    ("Touch another file", "none"),
    ("Keep the .deb", "executable"),
    ("Fix a typo", "prose"),
    ("Add the guide", "added"),
]


def test_history_verdicts(repo: Path) -> None:
    entries = history(repo, "guide.md")
    assert [(e.subject, e.verdict) for e in entries] == EXPECTED_HISTORY
    by_subject = {e.subject: e for e in entries}
    broken = by_subject["Break the guide"]
    assert broken.reason is not None and "unclosed-fence" in broken.reason
    bump = by_subject["PostgreSQL 17"].report
    assert bump is not None
    assert [c.details["name"] for c in bump.executable if c.kind == "variable"] == ["pg_major"]
    deb = by_subject["Keep the .deb"].report
    assert deb is not None and [c.kind for c in deb.executable] == ["command"]
    # after the broken commit, the repair is compared with the last readable version
    assert by_subject["Repair the guide"].compared_with == by_subject["PostgreSQL 17"].short


def test_history_cli_lines_and_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drift", "--history", "guide.md", "--repo", str(repo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXPECTED_HISTORY)
    log = git(repo, "log", "--date=short", "--format=%h %ad %s").splitlines()
    for line, (subject, verdict), logline in zip(lines, EXPECTED_HISTORY, log, strict=False):
        short, date, _ = logline.split(" ", 2)
        prefix = f"{short}  {date}  {subject}"
        assert line.startswith(prefix)
        assert line[len(prefix):].strip().startswith(verdict)
    assert "unreadable: 1:guide.md" not in lines[1] and "unclosed-fence" in lines[1]

    assert run(["drift", "--history", "guide.md", "--repo", str(repo), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["subject"], c["verdict"]) for c in data["commits"]] == EXPECTED_HISTORY
    assert {"commit", "short", "date", "subject", "verdict"} <= set(data["commits"][0])


def test_rev_path_sides(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # HEAD~5 is "Fix a typo", HEAD~4 "Keep the .deb"
    status, report = drift_json(capsys, "HEAD~5:guide.md", "HEAD~4:guide.md", "--repo", str(repo))
    assert status == 1
    change = only(report["executable"], "command")
    assert change["old"]["file"] == "HEAD~5:guide.md" and change["new"]["file"] == "HEAD~4:guide.md"
    assert change["action"] == "install-pgroonga#1"
    status, report = drift_json(capsys, "HEAD~6:guide.md", "HEAD~5:guide.md", "--repo", str(repo))
    assert (status, report["verdict"]) == (0, "prose")
    # a revision against a working-tree file
    status, report = drift_json(capsys, "HEAD~6:guide.md", str(SEED_EN), "--repo", str(repo))
    assert (status, report["verdict"]) == (0, "none")


@needs_git
def test_git_errors_are_usage_errors(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drift", "nosuchrev:guide.md", "HEAD:guide.md", "--repo", str(repo)]) == 2
    assert "unknown revision 'nosuchrev'" in capsys.readouterr().err
    assert run(["drift", "HEAD:missing.md", "HEAD:guide.md", "--repo", str(repo)]) == 2
    assert "'missing.md' is not in revision 'HEAD'" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert run(["drift", "HEAD:guide.md", "HEAD:guide.md", "--repo", str(plain)]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
    assert run(["drift", "--history", "missing.md", "--repo", str(repo)]) == 2
    assert run(["drift", "--history", "guide.md", "--repo", str(plain)]) == 2
    assert run(["drift", "--history", "guide.md", "--rev", "nosuchrev", "--repo", str(repo)]) == 2
    assert "Traceback" not in capsys.readouterr().err
