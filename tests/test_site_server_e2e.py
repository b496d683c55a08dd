"""The site's example server end to end, on small sites written by the tests: two runs at once each
with a server of its own, an address taken outside passed over, a page that lost its connection to
another page's crash run again after the server's recovery."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from e2e import needs_sandbox
from site_support import ERR_PAGE, SITE, SLOW_PAGE, _left_by, _line, _runbook, _site

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_two_site_runs_at_once_each_have_their_own_server(tmp_path: Path) -> None:
    """Two runs of example pages at the same time: neither replaces the other's server, both pass,
    and nothing is left after them."""
    sites = [_site(tmp_path / n, "", {"slow.md": SLOW_PAGE, "p.md": ERR_PAGE.replace(
        "SELECT no_such_function();", "SELECT 2;")}) for n in ("a", "b")]
    procs = [subprocess.Popen([sys.executable, "-m", "runner.cli", "run", str(s), "--json", str(s / "r.json"),
                               "--transcripts", str(s / "t")], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in sites]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    for s in sites:
        pages = json.loads((s / "r.json").read_text())["pages"]
        assert sorted((p["rel"], p["status"]) for p in pages) == [("p.md", "passed"), ("slow.md", "passed")]
    assert _left_by({p.pid for p in procs}) == []


def test_example_server_passes_over_an_address_taken_outside(tmp_path: Path) -> None:
    """On the loopback fallback, something outside the sandbox listening on the server's address
    (another program's PostgreSQL): the server takes the next address down, the page passes, and no
    sandbox is left."""
    import os
    import socket

    from runner.site.server import _free_address

    site = _site(tmp_path / "a", "", {"p.md": ERR_PAGE.replace("SELECT no_such_function();", "SELECT 2;")})
    taken = _free_address(1)  # the address the first server would take (127.0.0.250 on a quiet machine)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((taken, 5432))
        s.listen()
        proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "run", str(site), "--transcripts",
                                 str(tmp_path / "t")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, env={**os.environ, "RUNBOOK_SANDBOX_NETWORK": "loopback"})
        _, err = proc.communicate(timeout=300)
        assert _free_address(1) != taken
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert _left_by({proc.pid}) == []


CRASH_PAGE = (SITE / "crash.md").read_text(encoding="utf-8").replace(
    "```sql\nDO $$", "```sql\nSELECT pg_sleep(0.5);\nDO $$")


SLEEPER_PAGE = SLOW_PAGE.replace("pg_sleep(1.5)", "pg_sleep(3)")


def test_a_page_that_lost_its_connection_to_a_crash_runs_again(tmp_path: Path) -> None:
    """-j 2: one page crashes the server while the other sleeps in a statement; the sleeper loses its
    connection ("crash of another server process"), waits for the server's recovery, runs again in
    a fresh database and passes; only the crashing page fails."""
    site = _site(tmp_path / "a", "", {"a-crash.md": CRASH_PAGE, "b-sleeper.md": SLEEPER_PAGE})
    status, out = _runbook(str(site), "-j", "2", "--json", str(tmp_path / "r.json"), "--transcripts",
                           str(tmp_path / "t"))
    assert status == 1, out[-3000:]
    pages = {p["rel"]: p for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    line = _line(site / "a-crash.md", "DO $$")
    assert pages["a-crash.md"]["reason"] == f"line {line}: server closed the connection unexpectedly"
    assert pages["b-sleeper.md"]["status"] == "passed", pages["b-sleeper.md"]["reason"]
    first = (tmp_path / "t" / "b-sleeper" / "server.log").read_text()
    assert "crash of another server process" in first
    again = (tmp_path / "t" / "b-sleeper" / "run-2" / "server.log").read_text()
    assert "(1 row)" in again


# The killer waits for the sleeper's statement (up to 10 s: on a loaded machine the sleeper may start
# late), and its program reads COPY's row before it kills (a program that exits unread makes COPY fail
# with "Broken pipe", as it did in CI).
KILLER_PAGE = """---
title: Killer
---

# Killer

## Usage {#usage}

```sql
SELECT pg_sleep(0.5);
DO $$
DECLARE p int;
BEGIN
  FOR i IN 1..100 LOOP
    SELECT pid INTO p FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid();
    EXIT WHEN p IS NOT NULL;
    PERFORM pg_sleep(0.1), pg_stat_clear_snapshot();  -- (else each look sees the first one's snapshot)
  END LOOP;
  EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'cat >/dev/null; kill -9 ' || coalesce(p::text, 'none'));
END $$;
```
"""


def test_a_page_whose_own_process_seems_to_crash_runs_again_alone(tmp_path: Path) -> None:
    """-j 2: one page kills the other's server process outright (SIGKILL, as another page's crash can
    end a process before it says why): the sleeper's psql says only "server closed the connection
    unexpectedly", as if its own statement had crashed the server. It runs again alone and passes.
    (The killer passes, or, when the server's reset ended its process too, runs again, finds no
    sleeper and fails on its own statement.)"""
    site = _site(tmp_path / "a", "", {"a-killer.md": KILLER_PAGE, "b-sleeper.md": SLEEPER_PAGE})
    status, out = _runbook(str(site), "-j", "2", "--json", str(tmp_path / "r.json"), "--transcripts",
                           str(tmp_path / "t"))
    assert "Traceback" not in out
    pages = {p["rel"]: p for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    first = (tmp_path / "t" / "b-sleeper" / "server.log").read_text()
    said = first.split("Attempting reset:")[0]  # (psql's reconnection may hear the recovery's warning)
    assert "server closed the connection unexpectedly" in said and "crash of another server process" not in said
    assert pages["b-sleeper.md"]["status"] == "passed", pages["b-sleeper.md"]["reason"]
    assert "(1 row)" in (tmp_path / "t" / "b-sleeper" / "run-2" / "server.log").read_text()
    killer = pages["a-killer.md"]
    assert killer["status"] == "passed" or "kill -9 none" in killer["reason"], killer
    assert status == (0 if killer["status"] == "passed" else 1), out[-3000:]
