"""Fault paths of site runs (issue 17 point 4, issue 18 point 8) for real, on PostgreSQL and psql: an
example server that does not come back after a crash (its postmaster alive, refusing connections or
not answering them: every page still to run fails at once with why, nothing is left), and a Ctrl-C
that psql misses while the runner clears an unterminated statement (sent again, the session put back
in step).

The second is shown on a real psql driven as a page's, not by a page: the runner sends its Ctrl-C
only once psql has printed the prompt after the statement's last line, and psql is then busy only for
the instant before it reads again, so a page cannot make psql miss it at will (in a run it is a
scheduling race of a loaded machine)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e import needs_sandbox
from helpers import bound_pg_version
from site_support import ERR_PAGE, ONE, SLOW_PAGE, _line, _site, _watched, example_page

from runner.site.server import CONNECT_WAIT

pytestmark = [needs_sandbox, pytest.mark.sandbox]

STUCK_PAGE = example_page("A crash the server does not recover from", ONE, """DO $$ BEGIN
  EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'mkfifo backup_label; kill -SEGV ' || pg_backend_pid());
END $$;""", section="Examples {#examples}")
"""Its second statement crashes its server process (as docs/site/crash.md does), having made
``backup_label`` in the data directory (the program's working folder) a FIFO: after the crash the
postmaster (alive) starts its crash recovery, whose startup process opens ``backup_label`` and waits
there for a writer that never comes. The server so refuses connections ("the database system is
starting up") for good, as one whose recovery does not end."""

PASSING_PAGE = ERR_PAGE.replace("SELECT no_such_function();", "SELECT 2;")

HUNG_PAGE = STUCK_PAGE.replace("mkfifo backup_label;", "kill -STOP $(head -n 1 postmaster.pid);")
"""Its second statement stops the postmaster (SIGSTOP: a hung server, alive) and crashes its server
process: nothing reaps it or recovers; a connection is accepted by the kernel and never answered."""

WAIT = 2.0
"""``RECOVERY_WAIT`` of the runs (30 s in the code): the seconds the runner waits for the server after
a crash before it calls it stopped. The servers here never come back, so a shorter wait changes only
how long the run waits, not what it finds."""

WHY = f"the example server stopped: it did not accept connections within {WAIT:g}s after a crash"

_SHORT_WAIT = ("import runpy, sys; import runner.site.server as server; "
               "server.RECOVERY_WAIT = float(sys.argv.pop(1)); server.CONNECT_WAIT = int(sys.argv.pop(1)); "
               "runpy.run_module('runner.cli', run_name='__main__', alter_sys=True)")
"""``python -m runner.cli`` with ``RECOVERY_WAIT`` and ``CONNECT_WAIT`` set to the first two arguments."""


def _run_waiting(site: Path, tmp_path: Path, *options: str,
                 connect: int = CONNECT_WAIT) -> tuple[int, str, dict[str, Any]]:
    """``runbook run SITE`` waiting ``WAIT`` seconds for the server after a crash (``connect``
    seconds for a connection): its exit status, what it printed and its JSON report; nothing of the
    run is left after it, no sandbox, no process in its host (:func:`_watched`)."""
    status, out, _ = _watched([sys.executable, "-c", _SHORT_WAIT, str(WAIT), str(connect), "run", str(site), *options,
                               "--json", str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")])
    assert status == 1, out[-3000:]  # (failed pages)
    assert "Traceback" not in out
    return status, out, json.loads((tmp_path / "r.json").read_text())


def _stopped(report: dict[str, Any], site: Path, crasher: str, still: str, tmp_path: Path) -> None:
    """The server stopped (one ``stopped`` event: no recovery, no restart, its postmaster alive), the
    crashing page failed at its statement, and each page of ``still`` (their first letters) failed at
    once with why, without starting a psql (no transcript)."""
    assert [(e["kind"], e["detail"]) for e in report["server_events"]] == [("stopped", WHY)]
    pages = {p["rel"]: p for p in report["pages"]}
    line = _line(site / crasher, "DO $$")
    assert (pages[crasher]["status"], pages[crasher]["reason"]) == (
        "failed", f"line {line}: server closed the connection unexpectedly")
    for rel in (f"{c}-page.md" for c in still):
        assert (pages[rel]["status"], pages[rel]["reason"]) == ("failed", WHY), rel
        assert not (tmp_path / "t" / Path(rel).stem).exists(), rel


def test_a_server_that_does_not_come_back_fails_the_pages_still_to_run(tmp_path: Path) -> None:
    """The crashing page fails at its statement; the server still refuses connections after the
    wait, so the run calls it stopped and every page still to run fails at once with why; exit status
    1; nothing is left (the postmaster and the startup process stuck in the recovery included)."""
    site = _site(tmp_path / "site", "", {"a-stuck.md": STUCK_PAGE} | {f"{c}-page.md": PASSING_PAGE for c in "bcd"})
    _, out, report = _run_waiting(site, tmp_path, "-j", "1")
    _stopped(report, site, "a-stuck.md", "bcd", tmp_path)
    assert "example server stopped after " in out  # (the console's line for the event)


def test_a_hung_server_fails_the_pages_still_to_run(tmp_path: Path) -> None:
    """A server that neither answers nor refuses (its postmaster stopped) after a crash: the crashing
    page's psql gives up reconnecting after ``CONNECT_WAIT`` (``PGCONNECT_TIMEOUT``), the runner's own
    connection too, and the run goes on as for a server that refuses: stopped, the pages still to run
    fail at once with why, nothing left. (Without a connection timeout each page waited its
    ``--timeout``, and the runner's own psql 300 s.)"""
    site = _site(tmp_path / "site", "", {"a-hung.md": HUNG_PAGE} | {f"{c}-page.md": PASSING_PAGE for c in "bc"})
    _, _, report = _run_waiting(site, tmp_path, "-j", "1", connect=5)
    _stopped(report, site, "a-hung.md", "bc", tmp_path)


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
    _, _, report = _run_waiting(site, tmp_path, "-j", "2")
    _stopped(report, site, "a-stuck.md", "cde", tmp_path)
    sleeper = {p["rel"]: p for p in report["pages"]}["b-sleeper.md"]
    said = (tmp_path / "t" / "b-sleeper" / "server.log").read_text().split("Attempting reset:")[0]
    assert "server closed the connection unexpectedly" in said  # (it was running at the crash)
    assert not (tmp_path / "t" / "b-sleeper" / "run-2").exists()  # not run again
    if "crash of another server process" in said:
        assert (sleeper["status"], sleeper["reason"]) == ("failed", WHY)
    else:
        slept = _line(site / "b-sleeper.md", "SELECT 1 AS slept")
        assert (sleeper["status"], sleeper["reason"]) == ("failed", f"line {slept}: server closed the connection "
                                                                    "unexpectedly")


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
