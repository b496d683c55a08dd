"""The HTML report, CI annotations, page progress and the pre-commit hook, without a sandbox."""

from __future__ import annotations

import io
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, GUIDES, ROOT
from helpers import line_of

from runner.reports.annotations import append_summary, command, enabled, lint_commands, run_commands, summary_markdown
from runner.reports.html import render_html
from runner.reports.progress import PageProgress
from runner.running.results import ActionResult, CheckResult, RunResult, StepResult
from runner.running.session import Masker

SECRET = "s3cr3t-pw"


def _result() -> RunResult:
    """A run as the runner reports it: one passed step with a volatile console line, one failed SQL check."""
    console = CheckResult(30, "sudo -u postgres pg_basebackup --progress", "volatile",
                          ["158949/158949 kB (100%), 1/1 tablespace"],
                          ["Password: ", "23456/23456 kB (100%), 1/1 tablespace"], [],
                          ["progress differ ('158949/158949 kB (100%), 1/1 tablespace' vs '23456/23456 kB (100%), "
                           "1/1 tablespace')"])
    sql = CheckResult(41, "SELECT name, price, at FROM items ORDER BY name;", "failed",
                      [" name  | price |         at", "-------+-------+---------------------",
                       " apple |   100 | 2024-01-01 10:00:00", " pear  |   170 | 2024-01-01 10:00:00", "(2 rows)"],
                      [" name  | price |         at", "-------+-------+---------------------",
                       " apple |   100 | 2026-12-01 07:00:01", " pear  |   150 | 2026-12-01 07:00:01", "(2 rows)"],
                      ["row 2, price: expected '170', got '150'"], ["row 1 at: timestamp differ"], 3,
                      (42, 47), (41, 41))
    steps = [
        StepResult("copy", 1, "データをコピーする", "通常", 20, "passed", 1.5, [
            ActionResult("copy#1", "copy", "console", "standby1", 28, "passed", 1.4, checks=[console])]),
        StepResult("check", 2, "データを確認する", "通常", 35, "failed", 2.0, [
            ActionResult("check#1", "check", "sql", "primary", 39, "failed", 2.0,
                         "line 41: result differs from the guide (expected at line 42): row 2, price: expected "
                         "'170', got '150'", checks=[sql])]),
        StepResult("cleanup", 3, "片付ける", "通常", 50, "not-run", reason="not run: step check failed", actions=[
            ActionResult("cleanup#1", "cleanup", "shell", "primary", 52, "not-run")]),
    ]
    return RunResult("docs/guide.ja.md", "sandbox", "failed", 0.0, 3.5, steps)


class _Cells(HTMLParser):
    """(tag, classes, own text) of every element, and every attribute (to look for fetches)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[int] = []
        self.elements: list[tuple[str, str, str]] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [(k, v or "") for k, v in attrs]
        if tag in ("br", "input", "meta"):
            return
        self.stack.append(len(self.elements))
        self.elements.append((tag, dict(attrs).get("class") or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.elements[self.stack[-1]][0] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack:
            tag, cls, text = self.elements[self.stack[-1]]
            self.elements[self.stack[-1]] = (tag, cls, text + data)


def test_html_report_marks_cells_in_the_guide_language(tmp_path: Path) -> None:
    (tmp_path / "primary.log").write_text(f"07:00:01 $ psql -c \"ALTER ROLE r PASSWORD '{SECRET}'\"\n")
    page = render_html(_result(), lang="ja", title="一台で確認する", transcripts=tmp_path, mask=Masker([SECRET]))
    assert page.startswith("<!DOCTYPE html>") and '<html lang="ja">' in page
    assert "期待する結果（ガイド 42行目）" in page and "実際の結果（primary）" in page and "3回試行" in page
    cells = _Cells()
    cells.feed(page)
    diff = [(t, x.strip()) for t, c, x in cells.elements if "diff" in c.split() and t in ("td", "th")]
    assert diff == [("td", "170"), ("td", "150")]
    volatile_cells = [x.strip() for t, c, x in cells.elements if "volatile" in c.split() and t == "td"]
    assert volatile_cells == ["2024-01-01 10:00:00", "2024-01-01 10:00:00", "2026-12-01 07:00:01",
                              "2026-12-01 07:00:01"]
    volatile_lines = [x.strip() for t, c, x in cells.elements if t == "div" and c == "volatile"]
    assert volatile_lines == ["158949/158949 kB (100%), 1/1 tablespace", "23456/23456 kB (100%), 1/1 tablespace"]
    sections = {c: x for t, c, x in cells.elements if t == "section"}
    assert [c for c in sections] == ["step passed", "step failed", "step not-run"]
    transcript = [x for t, c, x in cells.elements if t == "pre" and "ALTER ROLE" in x]
    assert transcript == ["07:00:01 $ psql -c \"ALTER ROLE r PASSWORD '********'\"\n"]
    assert SECRET not in page
    # self-contained: no attribute points outside the page
    assert not [v for k, v in cells.attrs if k in ("src", "href") and not v.startswith("#")]
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_html_report_in_english_and_fallback() -> None:
    for lang in ("en", "fr"):
        page = render_html(_result(), lang=lang)
        assert "Expected (guide, line 42)" in page and "Actual (primary)" in page and "3 tries" in page
        assert "期待" not in page


def test_github_annotations_at_the_guide_lines(tmp_path: Path) -> None:
    assert enabled({"GITHUB_ACTIONS": "true"}) and not enabled({"CI": "true"})
    lines = run_commands(_result())
    assert lines == ["::error file=docs/guide.ja.md,line=42,endLine=47,title=runbook%3A check failed::primary: "
                     "result differs from the guide: row 2, price: expected '170', got '150'"]
    assert command("error", "a,b.md", 3, "50% done\nnext") == "::error file=a%2Cb.md,line=3::50%25 done%0Anext"
    from runbook.lint import lint
    from runbook.load import load_graph

    guide = GUIDES / "streaming-replication-wal-resource-manager.ja.md"
    commands = lint_commands(lint(load_graph(guide)))
    n = line_of(guide, "  5. [")
    assert f"::error file={guide},line={n},title=runbook lint%3A overview-title-mismatch::overview-title-mismatch: " \
           "overview item says 'プライマリーでデータを追加する' but the heading of #insert-primary" in commands[0]
    hint = line_of(guide, "$ sudo -u postgres -H pg_basebackup")
    assert any(x.startswith(f"::notice file={guide},line={hint},") for x in commands)  # a hint
    from runner.reports.annotations import formatted_commands

    assert formatted_commands(["docs/site/x.md:12: unclosed-fence: the fence opened here is never closed",
                               "not a located message"]) == [
        "::error file=docs/site/x.md,line=12,title=runbook%3A unreadable page::unclosed-fence: the fence opened "
        "here is never closed"]
    summary = tmp_path / "summary.md"
    md = summary_markdown([_result()])
    assert append_summary(md, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert not append_summary(md, {})
    text = summary.read_text()
    assert text.startswith("### ❌ `docs/guide.ja.md`: failed (3.5s)\n")
    assert "| 2 | `check` | failed | 1 | 2.0s | line 41: result differs" in text
    assert "| 3 | `cleanup` | not-run | 0 | 0.0s | not run: step check failed |" in text


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_page_progress_plain_lines() -> None:
    clock, out = _Clock(), io.StringIO()
    progress = PageProgress(total=3, stream=out, clock=clock, live=False)
    assert progress.line() == "pages 0/3 · elapsed 0s · estimate after the first page"
    progress.page_started("a.md")
    clock.now += 30
    progress.page_finished("a.md", "passed")
    progress.page_started("b.md")
    clock.now += 60
    progress.page_finished("b.md", "failed")
    assert progress.line() == "pages 2/3 · elapsed 1m30s · about 45s left"
    progress.page_started("c.md")
    clock.now += 3600
    progress.page_finished("c.md", "blocked")
    progress.close()
    assert out.getvalue().splitlines() == [
        "[pages 1/3] a.md: passed in 30.0s · elapsed 30s · about 1m00s left",
        "[pages 2/3] b.md: failed in 60.0s · elapsed 1m30s · about 45s left",
        "[pages 3/3] c.md: blocked in 3600.0s · elapsed 1h01m",
    ]


def test_site_runs_feed_page_progress() -> None:
    """A site run's line per page goes through PageProgress: skipped pages do not shorten the estimate."""
    from runner.site.model import PageResult
    from runner.site.run import _Lines

    out = io.StringIO()
    lines = _Lines(4, out)
    clock = _Clock()
    lines.progress.clock = clock
    lines.progress.t0 = lines.progress.page_t0 = lines.progress.finished_at = clock.now
    lines.page(PageResult("site/drafts/x.md", "drafts/x.md", "site", "", "skipped", "excluded by runbook.toml"),
               timed=False)
    clock.now += 10
    lines.page(PageResult("site/a.md", "a.md", "site", "examples", "passed", duration=4.0))
    clock.now += 10
    lines.page(PageResult("site/b.md", "b.md", "site", "examples", "failed", "line 3: differs", duration=9.5))
    clock.now += 5
    lines.page(PageResult("site/c.md", "c.md", "site", "guide", "passed", duration=5.0))
    assert out.getvalue().splitlines() == [
        "[pages 1/4] site/drafts/x.md: skipped in 0.0s · elapsed 0s - excluded by runbook.toml",
        "[pages 2/4] site/a.md: passed in 4.0s · elapsed 10s · about 20s left",
        "[pages 3/4] site/b.md: failed in 9.5s · elapsed 20s · about 10s left - line 3: differs",
        "[pages 4/4] site/c.md: passed in 5.0s · elapsed 25s",
    ]


def test_pre_commit_hook_runs_lint(tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "runbook-lint"]
    assert hook["language"] == "python" and hook["types"] == ["markdown"]
    assert {"id", "name", "entry", "language"} <= set(hook)
    import re

    assert re.search(hook["exclude"], "docs/README.md") and not re.search(hook["exclude"], "docs/guide.md")
    # pre-commit runs the entry with the changed files appended; the entry is installed by the package
    argv = hook["entry"].split()
    exe = Path(sys.executable).parent / argv[0]
    good = subprocess.run([exe, *argv[1:], str(GUIDES / "logical-replication.en.md")], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = subprocess.run([exe, *argv[1:], str(GUIDES / "logical-replication.en.md"),
                          str(FIXTURES / "bad" / "missing-anchor.md")], capture_output=True, text=True)
    where = line_of(FIXTURES / "bad" / "missing-anchor.md", "(#insert-primry)")
    assert bad.returncode == 4 and f"missing-anchor.md:{where}: missing-anchor:" in bad.stdout


def test_lint_prints_workflow_commands_in_github_actions(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from runner.cli import main as run

    guide = FIXTURES / "bad" / "missing-anchor.md"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert run(["lint", str(guide)]) == 4
    assert "::error" not in capsys.readouterr().out
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run(["lint", str(guide)]) == 4
    out = capsys.readouterr().out.splitlines()
    n = line_of(guide, "(#insert-primry)")
    assert out[0].startswith(f"::error file={guide},line={n},title=runbook lint%3A missing-anchor::missing-anchor: ")
    assert out[1].startswith(f"{guide}:{n}: missing-anchor: ")


def test_site_summary_prints_every_page_status() -> None:
    """Each status a site page can have has a style: none breaks the summary table's markup."""
    from runner.reports.site import print_site_summary
    from runner.site.model import PageResult, SiteResult

    statuses = ["passed", "failed", "blocked", "not-executable", "skipped", "invalid"]
    pages = [PageResult(f"site/{s}.md", f"{s}.md", "site", "", s, f"because {s}") for s in statuses]
    out = io.StringIO()
    print_site_summary(SiteResult(["site"], "invalid", 0.0, 1.0, pages, 0.0), stream=out)
    text = out.getvalue()
    assert all(f"site/{s}.md" in text for s in statuses)


def test_cells_of_a_passed_check_are_never_marked_as_differing() -> None:
    """A site's own volatile pattern (a uuid) let the check pass: its differing cell shows as volatile."""
    check = CheckResult(5, "SELECT id FROM t;", "volatile", ["                  id", "-" * 38,
                                                              " 0b5a3c1e-2f4d-4e6a-8b9c-0d1e2f3a4b5c", "(1 row)"],
                        ["                  id", "-" * 38, " 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "(1 row)"],
                        [], ["row 1 id: uuid differ"])
    step = StepResult("s", 1, "S", None, 1, "passed", actions=[
        ActionResult("s#1", "s", "sql", "server", 4, "passed", checks=[check])])
    cells = _Cells()
    cells.feed(render_html(RunResult("p.md", "sandbox", "passed", 0.0, 1.0, [step])))
    marked = [(c, x.strip()) for t, c, x in cells.elements if t == "td" and c]
    assert marked == [("volatile", "0b5a3c1e-2f4d-4e6a-8b9c-0d1e2f3a4b5c"),
                      ("volatile", "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")]


def test_site_page_reports_are_at_their_path_in_the_site_whatever_the_current_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``--html DIR``: ``ja/stale.md`` and ``stale.md`` get reports of their own (issue 21: the first
    was overwritten by the second), named by their path in the site, not from the current folder."""
    from runner.cli.run_site import _rel_in_site, page_html

    site = Path(__file__).resolve().parent.parent / "docs" / "site"
    for cwd in (tmp_path, site / "ja"):
        monkeypatch.chdir(cwd)
        assert page_html(Path("out"), _rel_in_site(site / "ja" / "stale.md")) == Path("out/ja/stale.html")
        assert page_html(Path("out"), _rel_in_site(site / "stale.md")) == Path("out/stale.html")
