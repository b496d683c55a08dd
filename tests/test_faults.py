"""Every fault is a named result (issue 18 point 8), where no sandbox is needed: one exit status per
kind of problem, every wait bounded, errors that are not a session's turned into an action's message."""

from __future__ import annotations

import os
import signal
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
    import runner.plan
    import runner.site

    for module in (runner.plan, runner.launch, runner.site):
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
    from runbook.site import Page
    from runner.site import ExampleServer

    server = ExampleServer([], "15")
    page = Page(Path("p.md"), "p.md", None)
    server._made[page.path] = threading.Event()  # queued, never created (a CREATE DATABASE that hangs)
    server.create_timeout = 0.3
    with pytest.raises(RunbookError, match=r"did not create the database of p\.md within 0\.3s"):
        server.new_database(page, None)  # type: ignore[arg-type]


def test_an_observer_that_gets_no_answer_stops_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.observe as observe

    monkeypatch.setattr(observe, "QUERY_TIMEOUT", 0.5)
    (tmp_path / ".s.PGSQL.5432").touch()  # a server seems to listen there
    obs = observe.Observer({"h": tmp_path})
    try:
        os.kill(obs._proc.pid, signal.SIGSTOP)  # the worker (and so the server's answer) never comes
        assert obs.query("h", "SELECT 1") is None
        assert obs.query("h", "SELECT 1") is None  # and it does not wait again
    finally:
        obs.close()


def test_a_volatile_pattern_that_backtracks_forever_is_stopped() -> None:
    import regex

    from runner.compare import PatternTimeout, compare_console

    with pytest.raises(PatternTimeout, match=r"'slow'.*took more than 1s"):
        compare_console(["a" * 40 + "!"], "a" * 40 + "?", [("slow", regex.compile(r"(a|aa)+$"))])


def test_errors_that_are_not_a_sessions_are_named() -> None:
    from runner.compare import PatternTimeout
    from runner.execute import fault_message

    msg = fault_message(subprocess.TimeoutExpired(["nsenter", "-t", "1", "--", "cat", "--", "/etc/x"], 4))
    assert msg == "a helper (nsenter -t 1 -- cat -- /etc/x) did not finish within 4s"
    assert fault_message(PatternTimeout("the volatile pattern took too long")) == "the volatile pattern took too long"
    assert "a bug in runbook" in fault_message(ValueError("'psql' is not in list"))
