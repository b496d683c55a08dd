"""A site's HTML report (``runbook run SITE --html DIR``, issue 21 point 6): an index page (pages by
status, totals, the slowest, links) and one report per page at its path in the site, whatever the
current folder; opened in a real headless Chromium, a Japanese page included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e import needs_sandbox
from test_report_browser import CHROMIUM, _browser, _Dom

from runner.reports.site_html import render_index
from runner.running.results import ActionResult, CheckResult, RunResult, StepResult
from runner.site.model import PageResult, SiteResult

ROOT = Path(__file__).resolve().parent.parent


def _page(page: str, rel: str, status: str, duration: float, checks: int = 1) -> PageResult:
    actions = [ActionResult("s#1", "s", "sql", "server", 3, status,
                            checks=[CheckResult(4, "SELECT 1;", status, ["1"], ["1"]) for _ in range(checks)])]
    result = RunResult(page, "sandbox", status, 0.0, duration, [StepResult("s", 1, "S", None, 2, status,
                                                                           actions=actions)])
    return PageResult(page, rel, "site", "examples", status, "why" if status != "passed" else "",
                      duration, result=result)


def test_the_index_lists_pages_by_status_failed_first_with_links_totals_and_the_slowest() -> None:
    pages = [_page("site/a.md", "a.md", "passed", 1.0), _page("site/ja/stale.md", "ja/stale.md", "failed", 3.0),
             _page("site/stale.md", "stale.md", "failed", 2.0),
             PageResult("site/index.md", "index.md", "site", "not-executable", "not-executable", "no steps")]
    html = render_index(SiteResult(["site"], "failed", 0.0, 6.0, pages), Path("out"))
    dom = _Dom()
    dom.feed(html)
    sections = [a["id"] for a, _ in dom.find("section", "status")]
    assert sections == ["failed", "passed", "not-executable"]
    links = [a["href"] for a, _ in dom.find("a")]
    assert links[:3] == ["ja/stale.html", "stale.html", "a.html"]
    assert "index.html" not in links  # a page with no report is not a link
    figures = [t for g, a, t in dom.elements if g == "div" and a.get("class", "").startswith(("n", "label"))]
    assert figures == ["1", "passed", "2", "failed", "1", "not-executable",
                       "3", "checks: 1 passed, 0 volatile, 2 failed"]
    slowest = html.split('class="slowest"')[1]
    assert slowest.index("site/ja/stale.md") < slowest.index("site/stale.md") < slowest.index("site/a.md")


class SiteRun:
    """The example site's two stale pages (English, Japanese), run from another folder."""

    def __init__(self, tmp: Path) -> None:
        site = tmp / "site"
        (site / "ja").mkdir(parents=True)
        for rel in ("_config.yml", "runbook.toml", "stale.md", "ja/stale.md"):
            shutil.copyfile(ROOT / "docs" / "site" / rel, site / rel)
        self.cwd = tmp / "elsewhere" / "deeper"
        self.cwd.mkdir(parents=True)
        self.out = tmp / "report"
        proc = subprocess.run([Path(sys.executable).parent / "runbook", "run", "../../site", "--html", "../../report",
                               "--transcripts", "t"], cwd=self.cwd, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.status, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def site_run(tmp_path_factory: pytest.TempPathFactory) -> SiteRun:
    return SiteRun(tmp_path_factory.mktemp("site-html"))


@needs_sandbox
@pytest.mark.sandbox
def test_each_page_has_its_report_at_its_path_and_the_run_says_where(site_run: SiteRun) -> None:
    assert site_run.status == 1, site_run.stderr[-2000:]
    files = sorted(p.relative_to(site_run.out).as_posix() for p in site_run.out.rglob("*") if p.is_file())
    assert files == ["index.html", "ja/stale.html", "stale.html"]  # ja/stale.md's was overwritten by stale.md's
    assert "runbook: HTML report in ../../report/index.html (2 page report(s) under ../../report/)" in \
        site_run.stderr
    ja = (site_run.out / "ja" / "stale.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in ja and "failed" in ja


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
def test_the_index_and_a_japanese_page_in_a_real_browser(site_run: SiteRun, tmp_path: Path) -> None:
    dumped = _browser(tmp_path, "--dump-dom", (site_run.out / "index.html").as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _Dom()
    dom.feed(dumped.stdout)
    assert [a["id"] for a, _ in dom.find("section", "status")] == ["failed"]
    links = [a["href"] for a, _ in dom.find("a")]
    assert sorted(set(links)) == ["ja/stale.html", "stale.html"]
    for href in set(links):
        assert (site_run.out / href).is_file()  # every link of the index leads to a report
    refs = [a.get("src") or "" for _, a, _ in dom.elements if a.get("src")]
    assert refs == []  # nothing fetched
    page = _browser(tmp_path, "--dump-dom", (site_run.out / "ja" / "stale.html").as_uri())
    jdom = _Dom()
    jdom.feed(page.stdout)
    assert [t.strip() for _, t in jdom.find("td", "diff")][:2] == ["8", "7"]
    fonts = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True, check=False).stdout
    assert fonts.strip(), "no Japanese font: scripts/setup installs fonts-noto-cjk"
    shot = tmp_path / "ja.png"
    taken = _browser(tmp_path, "--window-size=1000,800", "--hide-scrollbars", f"--screenshot={shot}",
                     (site_run.out / "ja" / "stale.html").as_uri())
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
