"""Every fault is a named result (issue 18 point 8), for real on the sandbox: a signal during a site
run, a root prompt's psql, a helper that does not finish."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from e2e import needs_sandbox
from e2e import variant as _variant
from helpers import bound_pg_version
from site_support import _nothing_left, _owned_by

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SLEEPY_PAGE = """---
title: Sleepy
---

# Sleepy

## Usage {#usage}

```sql
SELECT 1 AS slept FROM pg_sleep(120);
--  slept @@
-- -------
--      1
-- (1 row)
```
""".replace(" @@", " ")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_site_run_tears_down_the_example_server_and_writes_the_report(
        tmp_path: Path, sig: signal.Signals) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "runbook.toml").write_text("", encoding="utf-8")
    (site / "sleepy.md").write_text(SLEEPY_PAGE, encoding="utf-8")
    report, transcripts = tmp_path / "r.json", tmp_path / "t"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "run", str(site), "--json", str(report),
                             "--transcripts", str(transcripts)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        owned: dict[str, set[int]] = {}
        while time.monotonic() < deadline:  # the page's statement is running on the example server
            logs = list(transcripts.rglob("*.log")) if transcripts.is_dir() else []
            if any("pg_sleep" in f.read_text(errors="replace") for f in logs):
                owned = _owned_by(proc.pid)
                break
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.2)
        assert owned, "the example server never ran the page"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err[-3000:]
    assert f"interrupted by {sig.name}" in err and "Traceback" not in err
    data = json.loads(report.read_text())
    assert data["status"] == "interrupted"
    assert [(p["rel"], p["status"]) for p in data["pages"]] == [("sleepy.md", "interrupted")]
    _nothing_left(owned, proc.pid)  # the example server: its sandbox removed, no process of it left


def test_root_prompt_psql_fails_its_action_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "root-psql", "```bash\npsql shop\n```", "```console\n# psql shop\n```")
    report = tmp_path / "r.json"
    status = run(["run", str(guide), "--fresh", "--json", str(report), "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert status == 1, err[-3000:]  # the guide's step failed; not an internal error (5)
    data = json.loads(report.read_text())
    failed = [a for s in data["steps"] for a in s["actions"] if a["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["step"] == "check-data"
    assert "psql did not start" in failed[0]["message"] and 'role "root" does not exist' in failed[0]["message"]


def test_a_helper_that_does_not_finish_fails_its_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The file the guide edits is a FIFO nobody writes: reading it never ends; the edit fails after
    --timeout with a message, the run goes on to its report."""
    conf = f"/etc/postgresql/{bound_pg_version()}/main/postgresql.conf"
    guide = _variant(tmp_path, "fifo-edit", "sudo apt install -y postgresql-16",
                     f"sudo apt install -y postgresql-16\nsudo rm {conf} && sudo mkfifo {conf}")
    report = tmp_path / "r.json"
    status = run(["run", str(guide), "--fresh", "--timeout", "4", "--json", str(report),
                  "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert status == 1, err[-3000:]
    failed = [a for s in json.loads(report.read_text())["steps"] for a in s["actions"] if a["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["kind"] == "file_edit"
    assert "did not finish within 4s" in failed[0]["message"] and "cat -- " + conf in failed[0]["message"]


def test_signal_during_a_guide_of_a_site_writes_the_site_report(tmp_path: Path) -> None:
    """A site whose page is a guide (its own sandbox): SIGTERM while it runs ends the guide (its
    sandbox down), then the site's report is written with the page interrupted; exit 143."""
    from conftest import FIXTURES

    site = tmp_path / "site"
    site.mkdir()
    (site / "runbook.toml").write_text("", encoding="utf-8")
    text = (FIXTURES / "guides" / "single-host.ja.md").read_text(encoding="utf-8")
    (site / "guide.md").write_text(text.replace("sudo -H systemctl restart postgresql",
                                                "sudo -H systemctl restart postgresql\nsleep 120", 1),
                                   encoding="utf-8")
    report, transcripts = tmp_path / "r.json", tmp_path / "t"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "run", str(site), "--json", str(report),
                             "--transcripts", str(transcripts)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        owned: dict[str, set[int]] = {}
        while time.monotonic() < deadline:
            logs = list(transcripts.rglob("*.log")) if transcripts.is_dir() else []
            if any("sleep 120" in f.read_text(errors="replace") for f in logs):
                owned = _owned_by(proc.pid)
                break
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.2)
        assert owned, "the guide never ran"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    data = json.loads(report.read_text())
    assert data["status"] == "interrupted"
    assert [(p["rel"], p["status"]) for p in data["pages"]] == [("guide.md", "interrupted")]
    _nothing_left(owned, proc.pid)
