"""One run of a guide with one failing check, and what CI sees of it: the HTML report opened in a
real headless Chromium (DOM and screenshot), GitHub annotations and the job summary.

``RUNBOOK_SCREENSHOT=docs/report-screenshot.png`` keeps the screenshot (the README shows it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import GUIDES
from e2e import needs_sandbox

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SECRET = "passw0rd"
CHROMIUM = shutil.which("chromium")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# synchronous-replication.en.md, step 6 (start-standbys): the guide now says standby2 is "sync"
OLD, NEW = "--  standby2         | async", "--  standby2         | sync"


class Run:
    def __init__(self, tmp: Path) -> None:
        text = (GUIDES / "synchronous-replication.en.md").read_text(encoding="utf-8")
        assert text.count(OLD) == 1
        self.guide = tmp / "synchronous-replication.en.md"
        self.guide.write_text(text.replace(OLD, NEW), encoding="utf-8")
        lines = self.guide.read_text(encoding="utf-8").split("\n")
        self.row_line = lines.index(NEW) + 1
        self.html = tmp / "report.html"
        self.summary = tmp / "summary.md"
        env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(self.summary)}
        proc = subprocess.run([Path(sys.executable).parent / "runbook", "run", self.guide.name, "--fresh",
                               "--settle", "2", "--html", str(self.html), "--transcripts", str(tmp / "t")],
                              cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        self.status, self.out, self.err = proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return Run(tmp_path_factory.mktemp("report"))


def _browser(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([str(CHROMIUM), *BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


class _Dom(HTMLParser):
    """Elements (tag, attributes, own text) of the DOM Chromium dumped."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[int] = []
        self.elements: list[tuple[str, dict[str, str], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "meta", "img", "link"):
            self.elements.append((tag, {k: v or "" for k, v in attrs}, ""))
            return
        self.stack.append(len(self.elements))
        self.elements.append((tag, {k: v or "" for k, v in attrs}, ""))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.elements[self.stack.pop()][0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.stack:
            tag, attrs, text = self.elements[self.stack[-1]]
            self.elements[self.stack[-1]] = (tag, attrs, text + data)

    def find(self, tag: str, cls: str = "") -> list[tuple[dict[str, str], str]]:
        return [(a, t) for g, a, t in self.elements if g == tag and (not cls or cls in a.get("class", "").split())]


def test_run_fails_at_the_changed_check(run: Run) -> None:
    assert run.status == 1, run.err[-3000:]
    assert "start-standbys: failed" in run.err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
def test_html_report_in_a_real_browser(run: Run, tmp_path: Path) -> None:
    page = run.html.read_text(encoding="utf-8")
    assert SECRET not in page
    # the computed style of the first differing cell, written into the DOM by a probe script
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", "<script>var d = document.querySelector('td.diff');"
                                  "document.body.setAttribute('data-diff-bg', getComputedStyle(d).backgroundColor);"
                                  "var shown = function () { return Array.from(document.querySelectorAll('.step'))"
                                  ".filter(function (s) { return s.offsetParent !== null; }).length; };"
                                  "document.body.setAttribute('data-shown', shown());"
                                  "document.getElementById('only-failures').click();"
                                  "document.body.setAttribute('data-shown-failures', shown());"
                                  "</script></body>"), encoding="utf-8")
    dumped = _browser(tmp_path, "--dump-dom", probe.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)
    (body, _), = dom.find("body")
    assert body["data-diff-bg"] == "rgb(255, 215, 213)"  # --diff-bg: the cell is highlighted
    # the page's own script: "show only failed and blocked steps" hides the 7 others
    assert (body["data-shown"], body["data-shown-failures"]) == ("8", "1")
    assert body["class"].split() == ["run-failed", "only-failures"]
    # the steps and their status; the failing step is marked
    sections = {a["id"]: a["data-status"] for a, _ in dom.find("section", "step")}
    assert sections == {"step-install-postgresql": "passed", "step-configure-replication-primary": "passed",
                        "step-insert-primary": "passed", "step-pg-basebackup-standbys": "passed",
                        "step-configure-standbys": "passed", "step-start-standbys": "failed",
                        "step-configure-first-primary": "not-run", "step-configure-any-primary": "not-run"}
    assert [a["class"] for a, _ in dom.find("section", "failed")] == ["step failed"]
    # expected and actual side by side: the differing cells, on each side, and nothing else
    diff = [t.strip() for _, t in dom.find("td", "diff")]
    assert diff == ["sync", "async"]
    expected_heads = [t for _, t in dom.find("h4") if t.startswith("Expected (guide, line ")]
    assert f"Expected (guide, line {run.row_line - 3})" in expected_heads
    failed_checks = dom.find("details", "failed")
    assert len(failed_checks) == 1 and "open" in failed_checks[0][0]
    # pg_basebackup's progress line differs from the guide's, and is shown as volatile
    volatile = [t for _, t in dom.find("div", "volatile")]
    assert len(volatile) >= 2 and all("kB (100%)" in t for t in volatile)
    assert "158949/158949 kB (100%), 1/1 tablespace" in volatile
    # summary figures
    figures = {a["data-figure"]: t for a, t in dom.find("div", "figure")}
    assert set(figures) == {"steps", "checks", "actions", "duration"}
    steps_figure = [text for _, attrs, text in dom.elements if attrs.get("class") == "n failed"]
    assert steps_figure[0] == "8"
    # each host's transcript, folded, secrets masked
    transcripts = {a["data-host"]: ("open" in a) for a, _ in dom.find("details", "transcript")}
    assert transcripts == {"primary": False, "standby1": False, "standby2": False}
    assert "********" in dumped.stdout
    assert SECRET not in dumped.stdout
    # self-contained: nothing in the DOM points outside the page
    refs = [a.get("src") or a.get("href") for _, a, _ in dom.elements if a.get("src") or a.get("href")]
    assert [r for r in refs if not r.startswith("#")] == []
    # the screenshot
    shot = tmp_path / "report.png"
    taken = _browser(tmp_path, "--window-size=1200,1000", "--hide-scrollbars", f"--screenshot={shot}",
                     run.html.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 1200
    keep = os.environ.get("RUNBOOK_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


def test_github_annotations_and_summary(run: Run) -> None:
    errors = [line for line in run.out.splitlines() if line.startswith("::error ")]
    start = run.row_line - 3  # the expected output starts with its header, two rows above standby2's row
    assert errors == [f"::error file={run.guide.name},line={start},endLine={start + 4},"
                      "title=runbook%3A start-standbys failed::primary: result differs from the guide: "
                      "row 2, sync_state: expected 'sync', got 'async'"]
    summary = run.summary.read_text(encoding="utf-8")
    assert summary.startswith(f"### ❌ `{run.guide.name}`: failed (")
    assert "| 6 | `start-standbys` | failed | " in summary
    assert "| 7 | `configure-first-primary` | not-run | 0 | 0.0s | not run: step start-standbys failed |" in summary
    assert SECRET not in run.out + run.err + summary
