"""The example pages' databases on the shared example server: created ahead, in the pages' order,
over ``CREATORS`` psql sessions taking turns while earlier pages run, and on demand over another
kept session (a second run's, an example group's, a run again after a crash); each a clone of its
site's template database (or an empty one with the prelude run in it). A crash of the server ends
a session: the database is asked for again once the server recovers.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.errors import EnvironmentLimit, RunbookError
from runbook.site_pages import Page, SiteSettings

if TYPE_CHECKING:
    from .server import ExampleServer

_DONE = "__runbook_database_created__"
CREATORS = 2
"""psql sessions creating the pages' databases ahead at the same time (one falls behind the pages:
a CREATE DATABASE copies its template, about 8 MB)."""
_CRASH_RE = re.compile(r"crash of another server process|server closed the connection unexpectedly|"
                       r"unexpected postmaster exit|"
                       r"the database system is (?:in recovery mode|not yet accepting connections|starting up)|"
                       r"connection to server .* failed|no connection to the server|psql ended")



class DatabaseMaker:
    """The databases of one example server's pages (:meth:`prepare` ahead, :meth:`new_database`)."""

    def __init__(self, server: ExampleServer) -> None:
        self.server = server
        self._count = 0
        self._lock = threading.Lock()
        self.made: dict[Path, threading.Event] = {}
        """Page -> set once its database is created ahead (or could not be)."""
        self._results: dict[Path, tuple[str, str]] = {}
        self._creators: list[threading.Thread] = []
        self._procs: list[subprocess.Popen[str]] = []
        self._kept: subprocess.Popen[str] | None = None
        """The session creating databases on demand (a second run's, an example group's)."""
        self._kept_lock = threading.Lock()
        self.create_timeout = 300.0
        """Seconds a page waits for its database (the queue of CREATE DATABASE)."""

    def statement(self, page: Page, s: SiteSettings, suffix: str = "") -> tuple[str, str]:
        with self._lock:
            self._count += 1
            n = self._count
        slug = re.sub(r"[^a-z0-9]+", "_", page.rel.lower().removesuffix(".md")).strip("_")
        name = f"p{n:03d}{suffix}_{slug}"[:63]
        template = self.server.templates[s.root] if s.prelude_template else "template1"
        return name, f"CREATE DATABASE {name} TEMPLATE {template} OWNER {ident(self.server.sandbox.user)}"

    def prepare(self, pages: list[tuple[Page, SiteSettings]]) -> None:
        """Create the pages' databases ahead, in this order (named in it), over ``CREATORS`` psql
        sessions of threads of their own taking turns, while earlier pages run (``new_database`` then
        waits for its page's)."""
        planned = []
        for page, s in pages:
            self.made[page.path] = threading.Event()
            planned.append((page, s, *self.statement(page, s)))
        self._creators = [threading.Thread(target=self._create_all, args=(planned[k::CREATORS],), daemon=True)
                          for k in range(max(1, min(CREATORS, len(planned))))]
        for thread in self._creators:
            thread.start()

    def _creator_session(self) -> subprocess.Popen[str]:
        proc = self._session()
        self._procs.append(proc)
        return proc

    def _session(self) -> subprocess.Popen[str]:
        argv = self.server.as_postgres([*self.server.psql_argv(), "-X", "-q", "-d", "postgres"])
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)

    def _create_now(self, sql: str) -> str:
        """Run one CREATE DATABASE over the kept session of databases made on demand; its error."""
        with self._kept_lock:
            if self.server.stopping.is_set():
                return "psql ended: the example server is being stopped"
            if self._kept is None or self._kept.poll() is not None:
                self._kept = self._session()
            error = self._create_one(self._kept, sql)
            if error and _CRASH_RE.search(error):  # the server's crash ended this session: a new one next time
                self.end(self._kept)
                self._kept = None
            return error

    def _create_one(self, proc: subprocess.Popen[str], sql: str) -> str:
        """Run one CREATE DATABASE over the creator's session; its error ("" if none)."""
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{sql};\n\\echo {_DONE}\n")
            proc.stdin.flush()
            lines = []
            for line in proc.stdout:
                if line.strip() == _DONE:
                    break
                lines.append(line.rstrip("\n"))
            else:
                lines.append("psql ended")
            return " ".join(x.strip() for x in lines if x.strip())
        except OSError as exc:
            return f"psql ended: {exc}"

    def _create_all(self, pages: list[tuple[Page, SiteSettings, str, str]]) -> None:
        proc = self._creator_session()
        try:
            for page, s, name, sql in pages:
                for attempt in range(3):  # a crash of the server (another page's) ends this session too
                    self.server.ready.wait()
                    if attempt:
                        name, sql = self.statement(page, s)
                    error = self._create_one(proc, sql)
                    if not error or not _CRASH_RE.search(error):
                        break
                    self.server.recover()
                    if self.server.stopping.is_set() or self.server.stopped:
                        return  # (the pages not reached say so: below)
                    self.end(proc)
                    proc = self._creator_session()
                self._results[page.path] = (name, error)
                self.made[page.path].set()
        finally:
            for page, *_ in pages:  # pages not reached (psql ended): they say so instead of waiting
                if not self.made[page.path].is_set():
                    self._results[page.path] = ("", self.server.stopped or "the example server's psql session ended")
                    self.made[page.path].set()
            self.end(proc)

    @staticmethod
    def end(proc: subprocess.Popen[str]) -> None:
        if proc.stdin:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    def new_database(self, page: Page, s: SiteSettings, *, suffix: str = "", fresh: bool = False) -> str:
        """A fresh database for ``page``: a clone of the site's template, or an empty one with the
        prelude run in it (``prelude_template = false``); the one ``prepare`` made, if it did (unless
        ``fresh``: another for an example group, a second run, a run again after a crash)."""
        made = None if fresh else self.made.get(page.path)
        if made is not None:
            if not made.wait(self.create_timeout):
                raise RunbookError(f"the example server did not create the database of {page.rel} within "
                                   f"{self.create_timeout:g}s")
            name, error = self._results[page.path]
        else:
            for _ in range(3):
                self.server.ready.wait()
                name, sql = self.statement(page, s, suffix)
                error = self._create_now(sql)
                if not error or not _CRASH_RE.search(error):
                    break
                self.server.recover()
                self.server.check_running()
        if error and self.server.stopped:
            raise RunbookError(self.server.stopped)
        if error:
            raise EnvironmentLimit(f"the example server: cannot create the database of {page.rel}: {error}")
        if s.prelude.strip() and not s.prelude_template:
            failed = self.server.run_prelude(name, s)
            if failed:
                raise RunbookError(failed)
        return name

    def stop(self) -> None:
        """End the sessions (the server is being stopped: ``server.stopping`` is set)."""
        for proc in [*self._procs, self._kept]:
            if proc is not None and proc.poll() is None:
                proc.kill()
        for thread in self._creators:
            thread.join(timeout=30)
        with self._kept_lock:
            if self._kept is not None:
                self.end(self._kept)


def ident(name: str) -> str:
    """``name`` as an SQL identifier (quoted)."""
    return '"' + name.replace('"', '""') + '"'
