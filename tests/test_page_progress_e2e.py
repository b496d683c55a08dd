"""Progress over many pages, end to end: `runbook run` on three tiny guides given as files (one host, one step each:
``sleep 2; echo``), run on this machine (a ``local`` inventory: nothing is installed or started), with
plain lines in a log and a live line on a terminal (tmux)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES

RUNBOOK = Path(sys.executable).parent / "runbook"


def _pages(tmp: Path) -> list[Path]:
    text = (FIXTURES / "guides" / "hello.en.md").read_text(encoding="utf-8")
    pages = []
    for i in (1, 2, 3):
        page = tmp / "site" / f"page{i}.en.md"
        page.parent.mkdir(exist_ok=True)
        page.write_text(text, encoding="utf-8")
        pages.append(page)
    (tmp / "local.toml").write_text('[defaults]\nkind = "local"\n', encoding="utf-8")
    return pages


def test_page_progress_in_a_log(tmp_path: Path) -> None:
    pages = _pages(tmp_path)
    proc = subprocess.run([RUNBOOK, "run", *map(str, pages), "--inventory", str(tmp_path / "local.toml"),
                           "--transcripts", str(tmp_path / "t")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("[pages ")]
    site = tmp_path / "site"
    assert len(lines) == 3, proc.stderr
    assert re.fullmatch(rf"\[pages 1/3\] {site}/page1\.en\.md: passed in \d+\.\ds · elapsed \d+s · about \d+s left",
                        lines[0])
    assert re.fullmatch(rf"\[pages 2/3\] {site}/page2\.en\.md: passed in \d+\.\ds · elapsed \d+s · about \d+s left",
                        lines[1])
    assert re.fullmatch(rf"\[pages 3/3\] {site}/page3\.en\.md: passed in \d+\.\ds · elapsed \d+s", lines[2])
    # each page took at least the 2 s its step sleeps; the elapsed time counts every page so far (the
    # pages ran one after the other); the estimate is the mean time of a page times the pages left.
    # Relations between the printed figures, rounded (elapsed to 1 s, a page's time to 0.1 s): none
    # depends on how fast the machine is.
    took = [float(re.search(r"in (\d+\.\d)s", ln).group(1)) for ln in lines]  # type: ignore[union-attr]
    elapsed = [int(re.search(r"elapsed (\d+)s", ln).group(1)) for ln in lines]  # type: ignore[union-attr]
    left = [int(m.group(1)) for ln in lines if (m := re.search(r"about (\d+)s left", ln))]
    assert all(t >= 2 for t in took) and elapsed[0] < elapsed[1] < elapsed[2]
    assert all(elapsed[i] >= sum(took[:i + 1]) - 1 for i in range(3)), (elapsed, took)
    assert len(left) == 2 and abs(left[0] - 2 * elapsed[0]) <= 1 and abs(left[1] - elapsed[1] / 2) <= 1, (left, elapsed)
    assert "\x1b[" not in proc.stderr  # no terminal codes in a log


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup installs it)")
def test_page_progress_live_on_a_terminal(tmp_path: Path) -> None:
    pages = " ".join(map(str, _pages(tmp_path)))
    session = f"rb-pages-{os.getpid()}"
    done = tmp_path / "done"
    # the pane is 200 columns wide: COLUMNS/LINES a shell may export (80x24) would narrow rich's output
    cmd = (f"env -u COLUMNS -u LINES {RUNBOOK} run {pages} --inventory {tmp_path / 'local.toml'} "
           f"--transcripts {tmp_path / 't'}; echo $? > {done}; sleep 60")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", cmd], check=True)
    try:
        live: set[str] = set()
        panes: list[str] = []
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout
            panes += [ln for ln in pane.splitlines() if "pages " in ln and ln not in panes]
            for m in re.finditer(r"pages (\d)/3 · elapsed \d+s · (estimate after the first page|about \d+s left)"
                                 r"(?: · now: \S+page(\d)\.en\.md)?", pane):
                live.add(f"{m.group(1)}/{'estimate' if m.group(2).startswith('estimate') else 'about'}/{m.group(3)}")
            time.sleep(0.2)
        assert done.read_text().strip() == "0"
        pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        # live: before the first page ended, no estimate yet; then an estimate, while page 2 and 3 ran
        assert "0/estimate/1" in live and "1/about/2" in live and "2/about/3" in live, (live, panes)
        # transient: the live line is gone at the end; the finished pages' lines stay
        assert "· now:" not in pane
        assert re.search(r"\[pages 3/3\] \S+page3\.en\.md: passed in \d+\.\ds · elapsed \d+s", pane)
        assert "all guides" in pane
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
