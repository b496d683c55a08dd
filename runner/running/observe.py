"""The observer: a psycopg connection that does what a careful operator does by hand.

Before a check on a standby it waits until the standby has replayed the primary's current WAL
position; it reads ``pg_is_in_recovery()`` and ``pg_settings``.  On the sandbox it connects over
each host's Unix socket as ``postgres`` (peer authentication): a forked worker process drops to the
``postgres`` user first (in the sandbox: the uid that is ``postgres`` inside the hosts), so nothing
is added to the guide's pg_hba.conf.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import pwd
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the runner dies (even by kill -9)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _load_before_chroot() -> None:
    """Import what a connection needs while the machine's files are still there (after the chroot only
    the host's are): psycopg, and what its connect imports (a connection attempt that fails at once)."""
    import ctypes  # noqa: F401  (_die_with_parent)

    import psycopg

    try:
        psycopg.connect(host="/nonexistent-runbook-observer", port=5432, connect_timeout=1)
    except Exception:  # (expected: no such socket)
        pass


def _preload() -> None:
    with contextlib.suppress(ImportError):  # (a worker says it, importing psycopg itself)
        _load_before_chroot()


def _worker(conn: multiprocessing.connection.Connection, parent_end: multiprocessing.connection.Connection,
            parent: int, user: str | tuple[int, int], root: str | None = None) -> None:
    # Ctrl-C reaches the whole foreground process group: the runner handles it and closes the pipe,
    # which ends this loop; the worker itself never reacts to it (no traceback of its own).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent_end.close()  # else the pipe never reports the runner's end closed
    try:
        if root is not None:  # a sandbox host's own root: its socket (and any link there) is resolved inside
            _load_before_chroot()
            os.chroot(root)
            os.chdir("/")
        _serve(conn, user, parent)
    except (EOFError, OSError, KeyboardInterrupt):
        pass


def _serve(conn: multiprocessing.connection.Connection, user: str | tuple[int, int], parent: int) -> None:
    # (loaded in the runner before it forked this worker: _load_before_chroot)
    import psycopg

    if isinstance(user, tuple):  # (uid, gid) outside of the hosts' postgres (the sandbox's id range)
        uid, gid = user
        user = "postgres"
    else:
        pw = pwd.getpwnam(user)
        uid, gid = pw.pw_uid, pw.pw_gid
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    _die_with_parent()  # after setuid, which clears it
    if os.getppid() != parent:  # the runner died before that
        return
    cache: dict[str, psycopg.Connection[Any]] = {}
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            break
        if req is None:
            break
        sock, sql = req
        try:
            c = cache.get(sock)
            if c is not None and not c.closed:
                try:
                    conn.send(("ok", _rows(c, sql)))
                    continue
                except psycopg.OperationalError:
                    if not c.broken:
                        raise
                    # the server ended the connection (restarted since: a standby after its base backup):
                    # asked again on a new one, not taken for a server that cannot be reached
            c = psycopg.connect(host=sock, port=5432, dbname="postgres", user=user, autocommit=True,
                                connect_timeout=3, options="-c statement_timeout=10000")
            cache[sock] = c
            conn.send(("ok", _rows(c, sql)))
        except Exception as exc:  # reported to the parent, which decides
            cache.pop(sock, None)
            conn.send(("error", f"{type(exc).__name__}: {exc}".strip()))
    for c in cache.values():
        c.close()


def _rows(c: psycopg.Connection[Any], sql: str) -> list[tuple[str | None, ...]]:
    with c.cursor() as cur:
        cur.execute(sql)
        return [tuple(str(x) if x is not None else None for x in r) for r in cur.fetchall()]


QUERY_TIMEOUT = 15.0
"""Seconds the observer waits for a server's answer (then it stops observing: checks go on unsettled)."""


def _pause(since: float) -> None:
    """Between two looks at a server that is catching up: 10 ms in the first second (a standby
    replays a statement's WAL in a few ms), 50 ms after it."""
    time.sleep(0.01 if time.monotonic() - since < 1 else 0.05)


_RECOVERY_OR_LSN = ("SELECT pg_is_in_recovery(), "
                    "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END")
"""A server in recovery (a standby), or its current WAL position (a primary)."""


class Observer:
    """Queries hosts' PostgreSQL servers beside the guide's own sessions."""

    def __init__(self, sockets: dict[str, Path], user: str | tuple[int, int] = "postgres",
                 roots: dict[str, tuple[str, str]] | None = None) -> None:
        """``roots``: per host, (its root folder, its socket folder inside): a worker of its own runs
        chrooted there (sandbox hosts: nothing the guide puts in its socket folder leads outside)."""
        self.sockets = sockets
        self.roots = roots or {}
        self._user = user
        self._workers: dict[str, tuple[multiprocessing.connection.Connection, Any]] = {}
        self._lock = threading.Lock()  # one pipe per worker, several threads (multi-host actions)
        self._loading: threading.Thread | None = None
        if not self.roots:
            self._start("")
        else:
            # a worker per sandbox host, each forked from the runner at its host's first query: psycopg is
            # loaded here once, beside the run's first steps, and every worker inherits it (imported in
            # each worker, it cost ~0.15 s per host before a standby's first check)
            self._loading = threading.Thread(target=_preload, name="observer-load", daemon=True)
            self._loading.start()

    def _start(self, key: str) -> None:
        if self._loading is not None:  # never fork while a thread of this process is importing
            self._loading.join()
        ctx = multiprocessing.get_context("fork")
        conn, child = ctx.Pipe()
        root = self.roots[key][0] if key else None
        proc = ctx.Process(target=_worker, args=(child, conn, os.getpid(), self._user, root), daemon=True)
        proc.start()
        child.close()
        self._workers[key] = (conn, proc)

    def stop(self) -> None:
        """Tell every worker to end (:meth:`close` waits for them): they end while the caller does more."""
        for conn, _ in self._workers.values():
            with contextlib.suppress(OSError):
                conn.send(None)

    def close(self) -> None:
        self.stop()
        if self._loading is not None:  # (a run over before its first query: not left importing at exit)
            self._loading.join()
        for _, proc in self._workers.values():
            proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()

    def query(self, host: str, sql: str) -> list[tuple[Any, ...]] | None:
        """Rows, or None when the host's server cannot be reached."""
        return self.query_many([host], sql)[host]

    def query_many(self, hosts: list[str], sql: str) -> dict[str, list[tuple[Any, ...]] | None]:
        """:meth:`query` on each of ``hosts``, asked at once (sandbox hosts have a worker each: their
        connections and answers overlap): per host, rows or None."""
        out: dict[str, list[tuple[Any, ...]] | None] = dict.fromkeys(hosts)
        with self._lock:
            asked = []
            for host in hosts:
                sock = self.sockets.get(host)
                if sock is None or not (sock / ".s.PGSQL.5432").exists():  # no server listening: nothing to ask
                    continue
                if self.roots and host not in self.roots:  # a sandbox host without its root (not up): not from outside
                    continue
                key = host if host in self.roots else ""
                if key not in self._workers:
                    self._start(key)
                conn, proc = self._workers[key]
                try:
                    conn.send((self.roots[host][1] if key else str(sock), sql))
                except OSError:  # the worker is gone (the run is ending, or it timed out)
                    continue
                asked.append((host, conn, proc))
            for host, conn, proc in asked:  # (one worker answers in the order it was asked)
                try:
                    if not conn.poll(QUERY_TIMEOUT):  # a server that does not answer: no more observing
                        proc.kill()
                        conn.close()
                        continue
                    status, payload = conn.recv()
                except (EOFError, OSError):  # the worker is gone (the run is ending, or it timed out)
                    continue
                out[host] = payload if status == "ok" else None
        return out

    def in_recovery(self, host: str) -> bool | None:
        rows = self.query(host, "SELECT pg_is_in_recovery()")
        return None if not rows else rows[0][0] == "True"

    def wait_replayed(self, standby: str, timeout: float = 30) -> str | None:
        """Wait until ``standby`` has replayed every up primary's current WAL position.
        Returns a note for the report, or None when there was nothing to wait for."""
        if self.in_recovery(standby) is not True:
            return None
        # the other hosts asked at once: in recovery, else their current WAL position (a primary)
        state = self.query_many([h for h in self.sockets if h != standby], _RECOVERY_OR_LSN)
        targets = [(host, rows[0][1]) for host, rows in state.items() if rows and rows[0][0] == "False" and rows[0][1]]
        if not targets:
            return None
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        while True:
            pending = []
            for host, lsn in targets:
                rows = self.query(standby, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")
                if not rows or rows[0][0] != "True":
                    pending.append((host, lsn))
            if not pending:
                return f"{standby} replayed {', '.join(f'{h} WAL up to {lsn}' for h, lsn in targets)} " \
                       f"({time.monotonic() - t0:.2f}s)"
            if time.monotonic() > deadline:
                return f"{standby} had not replayed {pending[0][0]}'s WAL up to {pending[0][1]} after {timeout:g}s"
            _pause(t0)

    def conf_load_time(self, host: str) -> str | None:
        rows = self.query(host, "SELECT pg_conf_load_time()")
        return rows[0][0] if rows else None

    def wait_reloaded(self, host: str, before: str | None, timeout: float = 10) -> str | None:
        """After a reload: wait until the server has re-read its configuration."""
        if before is None:
            return None
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            now = self.conf_load_time(host)
            if now is not None and now != before:
                return f"{host} re-read its configuration"
            _pause(t0)
        return f"{host} did not re-read its configuration within {timeout:g}s"
