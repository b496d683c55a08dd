"""The observer (runner/running/observe.py) on a real sandbox host's server: a server restarted since
the observer's last query is asked again on a new connection (a standby restarted after its base
backup is not taken for one that cannot be reached), and several hosts are asked at once."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import bound_pg_version

from runner.running.observe import Observer
from runner.sandbox import Sandbox, SandboxHost, cleanup_all, missing

SKIP = None if os.geteuid() == 0 and not missing() else f"the sandbox cannot run here: {missing() or 'not root'}"
pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@pytest.fixture(scope="module")
def host() -> Iterator[Sandbox]:
    """A one-host sandbox (``h``) whose PostgreSQL server runs."""
    root = Path(tempfile.mkdtemp(prefix="runbook-observe-test-"))
    sb = Sandbox(f"observe-{uuid.uuid4().hex[:6]}", [SandboxHost("h", "127.0.0.238")], root=root, network="loopback")
    try:
        sb.up()
        sb.create_cluster("h", bound_pg_version())
        yield sb
    finally:
        sb.down(fast=True)
        cleanup_all(root)
        shutil.rmtree(root, ignore_errors=True)


def _pid(observer: Observer) -> str:
    rows = observer.query("h", "SELECT pg_backend_pid()")
    assert rows is not None
    return str(rows[0][0])


def test_a_restarted_server_is_asked_again_on_a_new_connection(host: Sandbox) -> None:
    observer = Observer({"h": host.socket_dir("h")}, host.postgres_ids(), host.observer_roots())
    try:
        first = _pid(observer)
        assert _pid(observer) == first  # one connection, kept between queries
        cp = host.run("h", ["pg_ctlcluster", bound_pg_version(), "main", "restart"], timeout=60)
        assert cp.returncode == 0, cp.stderr
        # the kept connection was ended by the restart: the observer still gets an answer
        assert observer.in_recovery("h") is False
        assert _pid(observer) != first
    finally:
        observer.close()


def test_several_hosts_are_asked_at_once(host: Sandbox) -> None:
    """query_many: each host's answer, None for a host whose server cannot be reached (here: a
    host of the guide that is not up); a host that is no standby has nothing to wait for."""
    missing_dir = Path(tempfile.mkdtemp(prefix="runbook-observe-none-"))
    observer = Observer({"h": host.socket_dir("h"), "gone": missing_dir}, host.postgres_ids(),
                        host.observer_roots())
    try:
        got = observer.query_many(["h", "gone"], "SELECT current_user, pg_is_in_recovery()")
        assert got == {"h": [("postgres", "False")], "gone": None}
        assert observer.wait_replayed("h") is None
    finally:
        observer.close()
        shutil.rmtree(missing_dir, ignore_errors=True)


def test_a_reload_is_waited_for(host: Sandbox) -> None:
    """After ``reload``: the observer waits until the server has re-read its configuration, and says
    so when it does not within its timeout."""
    observer = Observer({"h": host.socket_dir("h")}, host.postgres_ids(), host.observer_roots())
    try:
        before = observer.conf_load_time("h")
        assert before is not None
        assert observer.wait_reloaded("h", before, timeout=0.3) == "h did not re-read its configuration within 0.3s"
        cp = host.run("h", ["pg_ctlcluster", bound_pg_version(), "main", "reload"], timeout=60)
        assert cp.returncode == 0, cp.stderr
        assert observer.wait_reloaded("h", before) == "h re-read its configuration"
        assert observer.conf_load_time("h") != before
    finally:
        observer.close()
