"""Site pages that fail, block or compare in their own way, end to end on small sites written by the
tests: --update-expected, a failing prelude, a missing extension, a download the sandbox cannot make,
a psql asking for a password, plans written by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from e2e import needs_sandbox
from helpers import line_of
from site_support import ERR_PAGE, SITE, _line, _runbook, _site

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_update_expected_prelude_errors_missing_extensions(tmp_path: Path) -> None:
    stale_text = (SITE / "stale.md").read_text(encoding="utf-8")
    a = _site(tmp_path / "a", (SITE / "runbook.toml").read_text(), {"stale.md": stale_text, "err.md": ERR_PAGE})
    shutil.copy(SITE / "_config.yml", a / "_config.yml")
    b = _site(tmp_path / "b", 'prelude = """\nCREATE EXTENSION no_such_extension;\n"""\n',
              {"p.md": ERR_PAGE.replace("SELECT no_such_function();", "SELECT 2;")})
    c = _site(tmp_path / "c", 'extensions = ["no_such_extension"]\n', {"p.md": ERR_PAGE})
    report = tmp_path / "r.json"
    status, err = _runbook(str(a), str(b), str(c), "--update-expected", "--json", str(report),
                           "--transcripts", str(tmp_path / "t"))
    assert status == 1, err[-3000:]
    pages = {p["page"]: p for p in json.loads(report.read_text())["pages"]}
    # a: the stale page is rewritten where it differed, and only there
    updated = (a / "stale.md").read_text(encoding="utf-8")
    changed = [(x, y) for x, y in zip(stale_text.split("\n"), updated.split("\n"), strict=True) if x != y]
    assert changed == [("--       8", "--       7"), ("--  f", "--  t")]
    assert pages[str(a / "stale.md")]["rewritten"] == 2
    # a: a statement that errors where the page expects no error stops the page
    stopped = pages[str(a / "err.md")]
    assert stopped["status"] == "failed"
    assert stopped["reason"].startswith(f"line {_line(a / 'err.md', 'SELECT no_such_function();')}: ERROR:")
    steps = stopped["report"]["steps"]
    assert [s["status"] for s in steps] == ["failed", "not-run"] or steps[-1]["actions"][-1]["status"] == "not-run"
    # b: the prelude fails, naming its line in runbook.toml
    assert pages[str(b / "p.md")]["status"] == "failed"
    assert pages[str(b / "p.md")]["reason"].startswith(f"{b / 'runbook.toml'}:2: the prelude failed: ERROR:")
    # c: a missing extension blocks the page, it does not fail it
    assert pages[str(c / "p.md")]["status"] == "blocked"
    assert "the no_such_extension extension is not installed for PostgreSQL" in pages[str(c / "p.md")]["reason"]
    # the rewritten page now passes
    status, err = _runbook(str(a / "stale.md"), "--transcripts", str(tmp_path / "t2"))
    assert status == 0, err[-3000:]


DOWNLOAD_PAGE = """---
title: Load sample data
---

# Load sample data

## Download {#download}

```console
$ wget https://example.com/memos.sql
$ psql -f memos.sql
```

## Search {#search}

```console
$ psql
```

```sql
SELECT count(*) FROM memos;
--  count @@
-- -------
--    100
-- (1 row)
```
""".replace(" @@", " ")


def test_examples_that_need_a_download_are_blocked(tmp_path: Path) -> None:
    """A how-to whose data comes from a download the sandbox cannot make: blocked with that reason,
    its query not failed on `relation "memos" does not exist` (nothing is sent to example.com)."""
    site = _site(tmp_path / "a", "", {"load.md": DOWNLOAD_PAGE})
    status, out = _runbook(str(site), "--json", str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t"))
    assert status == 3, out[-3000:]
    (page,) = json.loads((tmp_path / "r.json").read_text())["pages"]
    assert page["status"] == "blocked"
    assert page["reason"].startswith("downloads from the network, which the sandbox hosts do not reach: "
                                     "wget https://example.com/memos.sql")
    actions = [a for s in page["report"]["steps"] for a in s["actions"]]
    assert [a["status"] for a in actions] == ["blocked", "not-run", "not-run"]
    assert "does not exist" not in out


def test_a_psql_that_asks_for_a_password_fails_at_once(tmp_path: Path) -> None:
    """psql waiting for a password nobody gives is psql waiting for input: the page fails with that
    reason at once, not after --timeout."""
    text = (ERR_PAGE.replace("SELECT no_such_function();", "SELECT 2;")
            .replace("## Usage {#usage}\n", "## Usage {#usage}\n\n```console\n$ psql -h localhost postgres\n```\n"))
    site = _site(tmp_path / "a", "", {"tcp.md": text})
    status, out = _runbook(str(site), "--timeout", "60", "--json", str(tmp_path / "r.json"),
                           "--transcripts", str(tmp_path / "t"))
    assert status == 1, out[-3000:]
    (page,) = json.loads((tmp_path / "r.json").read_text())["pages"]
    # (after the timeout, the reason would be "psql gave no prompt"); the place is the guide's psql command
    line = line_of(text, "$ psql -h localhost postgres")
    assert page["reason"] == (f"line {line}: server: psql did not start: it asks for a password "
                              "(psql -h localhost postgres)")


PLAN_PAGE = """---
title: Plans
---

# Plans

## Usage {#usage}

```sql
CREATE TABLE memos (id integer, content text);
CREATE INDEX memos_content_index ON memos USING gin (content gin_trgm_ops);
SET enable_seqscan = off;
```

```sql
EXPLAIN (COSTS OFF) SELECT * FROM memos WHERE content LIKE '%groonga%' ORDER BY id;
-- QUERY PLAN
-- Sort
--   ->  Bitmap Heap Scan on memos
--         ->  Bitmap Index Scan on memos_content_index
```

```sql
EXPLAIN SELECT * FROM memos WHERE content LIKE '%groonga%';
--                     QUERY PLAN
-- ...
--   ->  Bitmap Index Scan on memos_content_index
-- ...
```
"""


def test_plans_written_by_hand_compare_by_shape_end_to_end(tmp_path: Path) -> None:
    """EXPLAIN output written by hand (no rule line) and abbreviated (``...``) as the reader reads
    them, against PostgreSQL's real plans: both pass, by the plan's shape."""
    page = PLAN_PAGE
    site = _site(tmp_path / "a", (SITE / "runbook.toml").read_text(encoding="utf-8"), {"plan.md": page})
    status, out = _runbook(str(site), "--json", str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t"))
    assert status == 0, out[-3000:]
    (result,) = json.loads((tmp_path / "r.json").read_text())["pages"]
    checks = {c["line"]: c for s in result["report"]["steps"] for a in s["actions"] for c in a["checks"]}
    assert checks[_line(site / "plan.md", "EXPLAIN (COSTS OFF)")]["status"] in ("passed", "volatile")
    abbreviated = checks[_line(site / "plan.md", "EXPLAIN SELECT")]
    assert abbreviated["volatile"] == ["plan: abbreviated on the page (its nodes appear in the plan, in order)"]
