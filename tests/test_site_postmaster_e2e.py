"""The site's example server when its postmaster dies (issue 17 point 4): one page kills it with
SIGKILL (as the host's OOM killer would), at ``-j 2`` with other pages. The runner knows at once that
no postmaster runs (no wait for PostgreSQL's own recovery, which never comes), restarts the cluster
in the host, runs again the pages that lost their connection; the killing page fails at its
statement; nothing is left after the run. When the cluster cannot start again, every page still to
run fails at once with why."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e import needs_sandbox
from site_support import ONE, SLOW_PAGE, _line, _site, _watched, example_page

pytestmark = [needs_sandbox, pytest.mark.sandbox]

KILL = "COPY (SELECT pg_sleep(5)) TO PROGRAM 'kill -9 $(head -n 1 postmaster.pid)"
"""Run by the server process, whose working folder is the data directory: SIGKILL to the postmaster
(first line of postmaster.pid) while the statement sleeps; the sleep ends as the server process sees
its postmaster gone."""

KILL_PAGE = example_page("Kills its postmaster", ONE, f"{KILL}';", "SELECT 2 AS two;", section="Examples {#examples}")


def _page(n: int) -> str:
    return f"""---
title: Page {n}
---

# Page {n}

## Examples {{#examples}}

```sql
CREATE TABLE memos (id integer, content text);
INSERT INTO memos VALUES ({n}, 'page {n}');
```

```sql
SELECT id, content FROM memos;
--  id | content @@
-- ----+---------
--   {n} | page {n}
-- (1 row)
```

```sql
SELECT count(*) AS n FROM memos;
--  n @@
-- ---
--  1
-- (1 row)
```
""".replace(" @@", " ")


def _run(site: Path, tmp_path: Path) -> tuple[str, dict[str, Any], dict[str, dict[str, Any]]]:
    """``runbook run SITE -j 2``, which exits 1 (the killing page fails) and leaves no sandbox
    (:func:`_watched`): what it printed, its JSON report, and the report's pages by their path."""
    status, out, _ = _watched([sys.executable, "-m", "runner.cli", "run", str(site), "-j", "2", "--json",
                               str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")])
    assert status == 1, out[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    return out, report, {p["rel"]: p for p in report["pages"]}


SLEEPER_PAGE = SLOW_PAGE.replace("pg_sleep(1.5)", "pg_sleep(2)")


def test_a_killed_postmaster_is_restarted_and_the_other_pages_pass(tmp_path: Path) -> None:
    """The killing page runs with a page sleeping in the server (psql prints the same for both:
    "server closed the connection unexpectedly") and others: the cluster is restarted, each of the
    two runs again alone, and only the killer kills it again, so only the killer fails."""
    pages = ({"a-kill.md": KILL_PAGE, "b-sleeper.md": SLEEPER_PAGE}
             | {f"{c}-page.md": _page(n) for n, c in enumerate("cdefg", start=1)})
    site = _site(tmp_path / "site", "", pages)
    out, report, by_page = _run(site, tmp_path)
    assert "Traceback" not in out
    line = _line(site / "a-kill.md", "COPY (SELECT pg_sleep(5))")
    assert by_page["a-kill.md"]["status"] == "failed"
    assert by_page["a-kill.md"]["reason"].startswith(f"line {line}: server closed the connection unexpectedly")
    for rel in pages.keys() - {"a-kill.md"}:
        assert by_page[rel]["status"] == "passed", (rel, by_page[rel]["reason"])
    # what the run reports: the postmaster was found gone and the cluster restarted, twice (the killer
    # ran again alone and killed it again); no wait for a recovery PostgreSQL would never make (that
    # would be a "recovered" or "stopped" event)
    events = report["server_events"]
    assert [e["kind"] for e in events] == ["restarted", "restarted"], events
    assert (tmp_path / "t" / "a-kill" / "run-2" / "server.log").is_file()  # its run alone
    assert (tmp_path / "t" / "b-sleeper" / "run-2" / "server.log").is_file()  # (it slept through the kill)
    assert "postmaster" in events[0]["detail"] and "restarted the cluster" in events[0]["detail"]
    assert "example server restarted after" in out


def test_a_cluster_that_cannot_start_again_fails_the_remaining_pages_at_once(tmp_path: Path) -> None:
    """The killing page also removes the cluster's control file: the restart fails; the pages still
    to run fail at once with "the example server stopped: ..." (none waits for the server)."""
    broken = KILL_PAGE.replace("kill -9 $(head -n 1 postmaster.pid)",
                               "rm global/pg_control; kill -9 $(head -n 1 postmaster.pid)")
    pages = {"a-kill.md": broken} | {f"{c}-page.md": _page(n) for n, c in enumerate("bcdefghij", start=1)}
    site = _site(tmp_path / "site", "", pages)
    out, report, by_page = _run(site, tmp_path)
    assert "Traceback" not in out
    line = _line(site / "a-kill.md", "COPY (SELECT pg_sleep(5))")
    assert by_page["a-kill.md"]["reason"].startswith(f"line {line}: server closed the connection unexpectedly")
    events = report["server_events"]
    assert [e["kind"] for e in events] == ["stopped"], events
    assert events[0]["detail"].startswith("the example server stopped: ") and "postmaster" in events[0]["detail"]
    assert "restarting it failed: " in events[0]["detail"] and "pg_control" in events[0]["detail"]
    stopped = [p for p in report["pages"] if p["rel"] != "a-kill.md" and p["status"] != "passed"]
    assert stopped, "no page was still to run when the server stopped"
    for p in stopped:
        assert p["status"] == "failed" and p["reason"] == events[0]["detail"], p


def test_a_kill_whose_statement_returns_fails_its_page_only(tmp_path: Path) -> None:
    """The killing statement returns (its server process sees the postmaster gone only when it next
    waits): the page's next statement, waiting in the server, loses its connection. The pages that
    lost theirs run again alone; only the killer kills the restarted server again and fails."""
    plain = KILL_PAGE.replace("COPY (SELECT pg_sleep(5))", "COPY (SELECT 1)").replace(
        "SELECT 2 AS two;", "SELECT 2 AS two FROM pg_sleep(1);")
    pages = {"a-kill.md": plain} | {f"{c}-page.md": _page(n) for n, c in enumerate("bcde", start=1)}
    site = _site(tmp_path / "site", "", pages)
    _, report, by_page = _run(site, tmp_path)
    # psql says so at the killing statement (the FATAL read with its result) or at the next one
    reason = by_page["a-kill.md"]["reason"]
    kill, after = _line(site / "a-kill.md", "COPY (SELECT 1)"), _line(site / "a-kill.md", "SELECT 2 AS two")
    assert reason.startswith((f"line {kill}: ", f"line {after}: ")), reason
    assert ("unexpected postmaster exit" in reason or "server closed the connection unexpectedly" in reason), reason
    for rel in pages.keys() - {"a-kill.md"}:
        assert by_page[rel]["status"] == "passed", (rel, by_page[rel]["reason"])
    assert [e["kind"] for e in report["server_events"]] == ["restarted", "restarted"], report["server_events"]
