"""Every fault is a named result (issue 18 point 8), where no sandbox is needed: one exit status per
kind of problem, every wait bounded, errors that are not a session's turned into an action's message."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES

from runner.cli import main

SINGLE = FIXTURES / "guides" / "single-host.ja.md"


@pytest.fixture
def no_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one without PostgreSQL (nothing under /usr/lib/postgresql)."""
    import runner.launch
    import runner.planning.environment
    import runner.planning.plan
    import runner.site.run

    for module in (runner.planning.environment, runner.planning.plan, runner.launch, runner.site.run):
        if hasattr(module, "installed_pg_versions"):
            monkeypatch.setattr(module, "installed_pg_versions", lambda: [])


@pytest.mark.parametrize("argv", [
    ["run", str(SINGLE), "--plan"],
    ["run", str(SINGLE)],
    ["export", str(SINGLE), "--to", "sh", "--sandbox", "-o", "{out}"],
])
def test_postgresql_missing_is_an_environment_limit_everywhere(
        argv: list[str], no_postgresql: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main([a.replace("{out}", str(tmp_path / "out")) for a in argv])
    err = capsys.readouterr().err
    assert status == 3, err
    assert "PostgreSQL is not installed" in err and "Traceback" not in err


def test_the_database_queue_of_the_example_server_has_a_timeout() -> None:
    from runbook.errors import RunbookError
    from runbook.site_pages import Page
    from runner.site.server import ExampleServer

    server = ExampleServer([], "15")
    page = Page(Path("p.md"), "p.md", None)
    server.databases.made[page.path] = threading.Event()  # queued, never created (a CREATE DATABASE that hangs)
    server.databases.create_timeout = 0.3
    with pytest.raises(RunbookError, match=r"did not create the database of p\.md within 0\.3s"):
        server.new_database(page, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("chrooted", [False, True], ids=["machine", "sandbox-host"])
def test_an_observer_that_gets_no_answer_stops_waiting(
        chrooted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that takes the connection and never answers: the observer gives up after its timeout
    and does not ask that server again (it gets exactly one connection, not one per query)."""
    import runner.running.observe as observe

    monkeypatch.setattr(observe, "QUERY_TIMEOUT", 0.5)  # below psycopg's connect_timeout (3 s)
    sock_dir = tmp_path / "run" / "postgresql"
    sock_dir.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_dir / ".s.PGSQL.5432"))  # a server listens there, and never answers
    listener.listen(8)
    roots = {"h": (str(tmp_path), "/run/postgresql")} if chrooted else None
    # the worker runs as this test's own user (the tuple form: a uid outside the hosts), so that it
    # may reach pytest's private tmp_path
    obs = observe.Observer({"h": sock_dir}, user=(os.getuid(), os.getgid()), roots=roots)
    accepted: list[socket.socket] = []
    try:
        assert obs.query("h", "SELECT 1") is None
        assert obs.query("h", "SELECT 1") is None
        listener.setblocking(False)
        while True:  # every connection made to the listener, also of a client gone since
            try:
                accepted.append(listener.accept()[0])
            except BlockingIOError:
                break
        # one: the first query's, given up on; a second would be a worker that got an error (its own
        # connect timeout) instead of the observer stopping to wait, then asked again
        assert len(accepted) == 1
    finally:
        obs.close()
        for c in accepted:
            c.close()
        listener.close()


def test_a_volatile_pattern_that_backtracks_forever_is_stopped() -> None:
    import regex

    from runner.running.compare import PatternTimeout, compare_console

    with pytest.raises(PatternTimeout, match=r"'slow'.*took more than 1s"):
        compare_console(["a" * 40 + "!"], "a" * 40 + "?", [("slow", regex.compile(r"(a|aa)+$"))])


def test_errors_that_are_not_a_sessions_are_named() -> None:
    from runner.running.compare import PatternTimeout
    from runner.running.steps import fault_message

    msg = fault_message(subprocess.TimeoutExpired(["nsenter", "-t", "1", "--", "cat", "--", "/etc/x"], 4))
    assert msg == "a helper (nsenter -t 1 -- cat -- /etc/x) did not finish within 4s"
    assert fault_message(PatternTimeout("the volatile pattern took too long")) == "the volatile pattern took too long"
    assert "a bug in runbook" in fault_message(ValueError("'psql' is not in list"))
