"""Sharding for CI (issue 21, point 7): ``runbook run SITE --shard K/N`` (stable, balanced by an earlier
report's durations), ``runbook report merge`` (one site report, JUnit and HTML index from the shards),
and the pytest plugin under pytest-xdist (``-n 2``: a guide's steps on one worker, a sandbox each)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import FIXTURES
from e2e import needs_sandbox
from helpers import line_of

from runbook.errors import UsageError
from runner.reports.guide import to_json
from runner.running.results import RunResult
from runner.site.shard import durations_from, parse_shard, shard_pages

ROOT = Path(__file__).resolve().parent.parent
PAGES = [f"site/p{i}.md" for i in range(7)]


def test_shards_cover_every_page_once_whatever_the_order() -> None:
    shards = [shard_pages(PAGES, k, 3) for k in (1, 2, 3)]
    assert sorted(p for s in shards for p in s) == sorted(PAGES)
    assert [len(s) for s in shards] == [3, 2, 2]
    assert [shard_pages(list(reversed(PAGES)), k, 3) for k in (1, 2, 3)] == [list(reversed(s)) for s in shards]


def test_durations_balance_the_shards() -> None:
    durations = {"site/p0.md": 60.0, "site/p1.md": 10.0, "site/p2.md": 10.0, "site/p3.md": 10.0,
                 "site/p4.md": 10.0, "site/p5.md": 10.0, "site/p6.md": 10.0}
    first, second = (shard_pages(PAGES, k, 2, durations) for k in (1, 2))
    assert first == ["site/p0.md"] and len(second) == 6  # 60 s against 60 s
    unknown = shard_pages([*PAGES, "site/new.md"], 2, 2, durations)  # a new page weighs the mean
    assert sorted(unknown + shard_pages([*PAGES, "site/new.md"], 1, 2, durations)) == sorted([*PAGES, "site/new.md"])


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="expected K/N"):
        parse_shard(bad)


def test_shard_applies_to_a_site_only(capsys: pytest.CaptureFixture[str]) -> None:
    from runner.cli import main as cli

    assert cli(["run", "--shard", "1/2", str(FIXTURES / "guides" / "hello.en.md")]) == 2
    assert "--shard applies to a site" in capsys.readouterr().err


def _runbook(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([Path(sys.executable).parent / "runbook", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})


@needs_sandbox
@pytest.mark.sandbox
def test_two_shards_merged_are_one_site_report(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "ja").mkdir(parents=True)
    for rel in ("_config.yml", "runbook.toml", "stale.md", "ja/stale.md", "tutorial.md"):
        shutil.copyfile(ROOT / "docs" / "site" / rel, site / rel)
    shards = []
    for k in (1, 2):
        proc = _runbook(tmp_path, "run", "site", "--shard", f"{k}/2", "--json", f"shard-{k}.json",
                        "--transcripts", f"t{k}")
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert f"runbook: shard {k}/2: " in proc.stderr
        shards.append(json.loads((tmp_path / f"shard-{k}.json").read_text()))
    ran = [sorted(p["rel"] for p in s["pages"]) for s in shards]
    assert sorted(ran[0] + ran[1]) == ["ja/stale.md", "stale.md", "tutorial.md"] and all(ran)
    merged = _runbook(tmp_path, "report", "merge", "shard-1.json", "shard-2.json", "--json", "site.json",
                      "--junit", "site.xml", "--html", "report")
    assert merged.returncode == 1, merged.stderr  # the stale pages fail
    data = json.loads((tmp_path / "site.json").read_text())
    assert [p["rel"] for p in data["pages"]] == ["ja/stale.md", "stale.md", "tutorial.md"]
    # when each page began, as its shard wrote it (to the millisecond)
    began = {p["rel"]: p["started"] for s in shards for p in s["pages"]}
    assert {p["rel"]: p["started"] for p in data["pages"]} == began
    assert all(p["started"] for p in data["pages"])
    assert data["summary"]["pages"]["failed"] == 2 and data["status"] == "failed"
    stale = line_of(site / "stale.md", "SELECT length('runbook');")
    assert f"site/stale.md:{stale}: row 1, length: expected '8', got '7'" in merged.stdout
    suites = ET.parse(tmp_path / "site.xml").getroot().findall("testsuite")
    assert sorted(s.get("name") or "" for s in suites) == ["site/ja/stale.md", "site/stale.md", "site/tutorial.md"]
    index = (tmp_path / "report" / "index.html").read_text()
    assert sorted(set(re.findall(r'href="([^"]+)"', index))) == ["ja/stale.html", "stale.html", "tutorial.html"]
    assert (tmp_path / "report" / "ja" / "stale.html").is_file()
    # the next run balances its shards by these durations
    again = _runbook(tmp_path, "run", "site", "--shard", "1/2", "--shard-by", "site.json", "--plan")
    assert again.returncode == 2 and "--shard applies to a site run, not to --plan" in again.stderr


def test_merge_refuses_overlapping_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.cli import main as cli

    report = {"schema_version": "1", "sites": ["site"], "status": "passed", "started": "2026-01-01T00:00:00Z",
              "duration": 1.0, "server_start": 0.0, "summary": {"pages": {}, "checks": {}}, "slowest": [],
              "pages": [{"page": "site/a.md", "rel": "a.md", "site": "site", "shape": "not-executable",
                         "status": "not-executable", "reason": "no steps", "duration": 0.0, "database": None,
                         "findings": [], "checks": {}, "rewritten": 0, "report": None}]}
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(report))
    assert cli(["report", "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert "site/a.md is in two reports (the shards overlap)" in capsys.readouterr().err
    (tmp_path / "c.json").write_text("{}")
    assert cli(["report", "merge", str(tmp_path / "c.json")]) == 2
    assert "not a site report (runbook schema site-report)" in capsys.readouterr().err



def test_shard_by_reads_a_site_or_a_guide_report_and_refuses_anything_else(tmp_path: Path) -> None:
    """``--shard-by``'s report is read as ``runbook report merge`` reads its shards (one reader, the
    reports' schemas): a guide's report gives its guide's duration; a missing file, a file that is not
    JSON and JSON that is no report are usage errors naming the file."""
    guide = to_json(RunResult("docs/guides/a.md", "sandbox", "passed", 1.7e9, 12.5, [], {}))
    (tmp_path / "guide.json").write_text(json.dumps(guide))
    assert durations_from(tmp_path / "guide.json") == {"docs/guides/a.md": 12.5}
    with pytest.raises(UsageError, match=r"missing.json: no such file \(--shard-by needs an earlier run's JSON"):
        durations_from(tmp_path / "missing.json")
    (tmp_path / "text.json").write_text("pages: 3\n")
    with pytest.raises(UsageError, match=r"text.json: not a JSON report \(Expecting value"):
        durations_from(tmp_path / "text.json")
    (tmp_path / "other.json").write_text(json.dumps({"pages": [{"page": "a.md"}]}))
    with pytest.raises(UsageError, match=r"other.json: not a site or guide report \(runbook schema site-report or "
                       r"runbook schema report\): at the top: 'schema_version' is a required property"):
        durations_from(tmp_path / "other.json")

THREE_STEPS = """
## [normal] Write a file on primary {#write}

This is a normal step.

```console
$ echo NAME > /tmp/runbook-xdist-probe; echo written
written
```

## [normal] Read it on primary {#read}

This is a normal step.

```console
$ cat /tmp/runbook-xdist-probe
NAME
```
"""


@needs_sandbox
@pytest.mark.sandbox
def test_the_pytest_plugin_under_xdist_keeps_a_guides_steps_on_one_worker(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    hello = (FIXTURES / "guides" / "hello.en.md").read_text()
    hello = hello.replace("  1. [normal] [Say hello on primary](#say-hello)",
                          "  1. [normal] [Say hello on primary](#say-hello)\n\n  2. [normal] [Write](#write)\n\n"
                          "  3. [normal] [Read](#read)")
    for name in ("alpha", "beta"):
        (tmp_path / f"{name}.en.md").write_text(hello + THREE_STEPS.replace("NAME", name))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--runbook", "-n", "2", "-v",
                           "--runbook-transcripts", str(tmp_path / "t"), "alpha.en.md", "beta.en.md"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    workers: dict[str, set[str]] = {}
    for gw, guide in re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\w+)\.en\.md::", proc.stdout):
        workers.setdefault(guide, set()).add(gw)
    assert sorted(workers) == ["alpha", "beta"] and all(len(w) == 1 for w in workers.values()), proc.stdout
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["alpha.en", "beta.en"]
