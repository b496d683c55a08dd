"""Fault paths of site runs (issue 17 point 4, issue 18 point 8) for real, on PostgreSQL and psql: an
example server that does not come back after a crash (its postmaster alive, refusing connections:
every page still to run fails at once with why, nothing is left), and a Ctrl-C that psql misses while
the runner clears an unterminated statement (sent again, the session put back in step)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from e2e import needs_sandbox
from helpers import bound_pg_version
from site_support import ERR_PAGE, SLOW_PAGE, _line, _site, _watched

pytestmark = [needs_sandbox, pytest.mark.sandbox]

STUCK_PAGE = """---
title: A crash the server does not recover from
---

# A crash the server does not recover from

## Examples {#examples}

```sql
SELECT 1 AS one;
--  one @@
-- -----
--    1
-- (1 row)
```

```sql
DO $$ BEGIN
  EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'mkfifo backup_label; kill -SEGV ' || pg_backend_pid());
END $$;
```
""".replace(" @@", " ")
"""Its second statement crashes its server process (as docs/site/crash.md does), having made
``backup_label`` in the data directory (the program's working folder) a FIFO: after the crash the
postmaster (alive) starts its crash recovery, whose startup process opens ``backup_label`` and waits
there for a writer that never comes. The server so refuses connections ("the database system is
starting up") for good, as one whose recovery does not end."""

PASSING_PAGE = ERR_PAGE.replace("SELECT no_such_function();", "SELECT 2;")

WAIT = 2.0
"""``RECOVERY_WAIT`` of the run (30 s in the code): the seconds the runner waits for the server after
the crash before it calls it stopped. The server here never comes back, so a shorter wait changes
only how long the run waits, not what it finds."""

_SHORT_WAIT = ("import runpy, sys; import runner.site.server as server; server.RECOVERY_WAIT = float(sys.argv.pop(1)); "
               "runpy.run_module('runner.cli', run_name='__main__', alter_sys=True)")
"""``python -m runner.cli`` with ``RECOVERY_WAIT`` set to the first argument."""


def test_a_server_that_does_not_come_back_fails_the_pages_still_to_run(tmp_path: Path) -> None:
    """The crashing page fails at its statement; the server still refuses connections after the
    wait, so the run calls it stopped (``server_events``: ``stopped``, no recovery, no restart: its
    postmaster runs) and every page still to run fails at once with why, without starting a psql
    (no transcript); exit status 1 (failed pages); nothing is left (no sandbox, no process of its host:
    the postmaster and the startup process stuck in the recovery included)."""
    site = _site(tmp_path / "site", "", {"a-stuck.md": STUCK_PAGE} | {f"{c}-page.md": PASSING_PAGE for c in "bcd"})
    status, out, _ = _watched([sys.executable, "-c", _SHORT_WAIT, str(WAIT), "run", str(site), "-j", "1",
                               "--json", str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")])
    assert status == 1, out[-3000:]
    assert "Traceback" not in out
    report = json.loads((tmp_path / "r.json").read_text())
    why = f"the example server stopped: it did not accept connections within {WAIT:g}s after a crash"
    assert [(e["kind"], e["detail"]) for e in report["server_events"]] == [("stopped", why)]
    pages = {p["rel"]: p for p in report["pages"]}
    line = _line(site / "a-stuck.md", "DO $$")
    assert pages["a-stuck.md"]["status"] == "failed"
    assert pages["a-stuck.md"]["reason"] == f"line {line}: server closed the connection unexpectedly"
    for rel in ("b-page.md", "c-page.md", "d-page.md"):
        assert (pages[rel]["status"], pages[rel]["reason"]) == ("failed", why), rel
        assert not (tmp_path / "t" / Path(rel).stem).exists(), rel  # failed at once: no psql started
    assert "example server stopped after " in out  # (the console's line for the event)


SLEEPER_PAGE = SLOW_PAGE.replace("pg_sleep(1.5)", "pg_sleep(3)")

STUCK_AFTER_SLEEPER = STUCK_PAGE.replace("DO $$ BEGIN\n", """DO $$ BEGIN
  FOR i IN 1..300 LOOP  -- (up to 30 s: on a loaded machine the sleeper may start late)
    EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid());
    PERFORM pg_sleep(0.1), pg_stat_clear_snapshot();  -- (else the first look is seen again)
  END LOOP;
""")


def test_a_page_that_lost_its_connection_to_a_crash_not_recovered_from_fails_with_why(tmp_path: Path) -> None:
    """-j 2: the crashing page waits for another page's statement to run in the server, then crashes
    it; the other page loses its connection, and does not run again (the server stopped): it fails
    with why, as the pages still to run do. (psql may say only "server closed the connection
    unexpectedly" for it, as for a crash of its own, when the crash ended its process before it could
    say why: no run again can tell then, and it fails at its statement: docs/site.md.)"""
    pages = {"a-stuck.md": STUCK_AFTER_SLEEPER, "b-sleeper.md": SLEEPER_PAGE} | {
        f"{c}-page.md": PASSING_PAGE for c in "cde"}
    site = _site(tmp_path / "site", "", pages)
    status, out, _ = _watched([sys.executable, "-c", _SHORT_WAIT, str(WAIT), "run", str(site), "-j", "2",
                               "--json", str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")])
    assert status == 1, out[-3000:]
    assert "Traceback" not in out
    report = json.loads((tmp_path / "r.json").read_text())
    why = f"the example server stopped: it did not accept connections within {WAIT:g}s after a crash"
    assert [(e["kind"], e["detail"]) for e in report["server_events"]] == [("stopped", why)]
    by_page = {p["rel"]: p for p in report["pages"]}
    line = _line(site / "a-stuck.md", "DO $$")
    assert by_page["a-stuck.md"]["reason"] == f"line {line}: server closed the connection unexpectedly"
    sleeper = by_page["b-sleeper.md"]
    said = (tmp_path / "t" / "b-sleeper" / "server.log").read_text().split("Attempting reset:")[0]
    assert "server closed the connection unexpectedly" in said  # (it was running at the crash)
    assert not (tmp_path / "t" / "b-sleeper" / "run-2").exists()  # not run again
    if "crash of another server process" in said:
        assert (sleeper["status"], sleeper["reason"]) == ("failed", why)
    else:
        slept = _line(site / "b-sleeper.md", "SELECT 1 AS slept")
        assert (sleeper["status"], sleeper["reason"]) == ("failed", f"line {slept}: server closed the connection "
                                                                    "unexpectedly")
    for rel in ("c-page.md", "d-page.md", "e-page.md"):
        assert (by_page[rel]["status"], by_page[rel]["reason"]) == ("failed", why), rel
        assert not (tmp_path / "t" / Path(rel).stem).exists(), rel


def test_a_ctrl_c_psql_misses_is_sent_again_and_the_session_stays_in_step(tmp_path: Path) -> None:
    """:func:`clear_input` on a real psql (in the example server's host, as a page's) holding an
    unterminated statement, while psql is busy at the first Ctrl-C: it runs a shell command (``\\!``),
    during which psql ignores SIGINT (the Ctrl-C ends the command only) and then prints its
    continuation prompt again, its input not cleared, as when a Ctrl-C comes after psql printed its
    prompt but before it reads. The runner sends Ctrl-C again (the transcript says so), psql clears
    its input, and the session is in step: the next statement's result is its own, and the shell
    serves the next page's psql."""
    from runbook.secrets import Masker
    from runner.running.session import HostShell, Transcript
    from runner.running.unterminated import clear_input
    from runner.site.server import SERVER_HOST, ExampleServer

    server = ExampleServer([], bound_pg_version())
    log = tmp_path / "server.log"
    sh: HostShell | None = None
    try:
        server.start()
        sh = HostShell(SERVER_HOST, server.shell_argv(), Transcript(log, Masker([])), timeout=30)
        sh.start()
        sh.open_psql("s1", "psql postgres")
        assert sh.child is not None
        sh.child.sendline("CREATE TABLE memos (")
        assert sh._expect([sh.sql_more_re], 30)[0] == 0  # psql waits for more input
        sh.child.sendline("\\! echo __busy__; sleep 60")
        assert sh._expect([re.compile("__busy__")], 30)[0] == 0  # psql runs the command
        assert clear_input(sh, "(")
        result = sh.sql("SELECT 2 AS two;")  # (with the input not cleared: a syntax error)
        assert not result.error and result.output.split() == ["two", "-----", "2", "(1", "row)"], result.output
        sh.close_psql()
        sh.open_psql("s2", "psql postgres")  # the next page's psql, in the same shell
        assert sh.sql("SELECT 3 AS three;").output.split() == ["three", "-------", "3", "(1", "row)"]
    finally:
        if sh is not None:
            sh.close()
            sh.transcript.close()
        server.stop()
    notes = [x.split(" # ", 1)[1] for x in log.read_text().splitlines() if " # " in x]
    ctrl_c = [x for x in notes if x.startswith("Ctrl-C")]
    assert ctrl_c[0] == "Ctrl-C: clearing psql's input"
    assert ctrl_c[1] == "Ctrl-C again (2): psql printed no prompt within 1s"
    assert any(x.startswith("psql in step again") for x in notes)
