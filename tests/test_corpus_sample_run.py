"""PGroonga's sample pages, run as a site where PGroonga is installed (skipped here, with the reason).

The pages assume ``CREATE EXTENSION pgroonga;`` (they never write it): a copy of the sample gets a
``runbook.toml`` saying so.  Every page must be run (none invalid or blocked), and every expected
output of every page, counted from the Markdown, must have been checked.
"""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path

import pytest
from e2e import needs_sandbox
from markdown_count import expected_output_lines

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus-sample"
PGROONGA = sorted(glob.glob("/usr/share/postgresql/*/extension/pgroonga.control"))

pytestmark = [
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone"),
    pytest.mark.skipif(not PGROONGA, reason="PGroonga is not installed (no /usr/share/postgresql/*/extension/"
                       "pgroonga.control): the sample pages need it; an environment limit, not a failure"),
    pytest.mark.sandbox,
    pytest.mark.slow,
]

TOML = '''prelude = """
CREATE EXTENSION pgroonga;
"""
extensions = ["pgroonga"]
'''


@needs_sandbox
def test_the_sample_site_runs_where_pgroonga_is(tmp_path: Path) -> None:
    from runner.cli import main

    site = tmp_path / "corpus-sample"
    shutil.copytree(CORPUS, site)
    (site / "runbook.toml").write_text(TOML, encoding="utf-8")
    report = tmp_path / "site.json"
    status = main(["run", str(site), "-j", "2", "--json", str(report), "--transcripts", str(tmp_path / "out")])
    assert status in (0, 1)  # 1: an example the software no longer prints alike, each named with its line
    data = json.loads(report.read_text(encoding="utf-8"))
    pages = data["pages"]
    assert len(pages) == 18
    assert {p["status"] for p in pages} <= {"passed", "failed"}
    want = sum(len(expected_output_lines(Path(p["page"]).read_text(encoding="utf-8"))) for p in pages)
    assert sum(sum(p["checks"].values()) for p in pages) == want
