"""The example pages' shells on the shared server's host (docs/site.md, "The example server").

A page whose blocks are all SQL runs nothing in its shell but psql: when it ends, its shell (psql
ended, at the shell's own prompt) is put aside for the next page, which sets a new sentinel prompt in
it instead of starting a shell of its own (``crun exec``, the shell's setup, its namespaces checked,
and its closing: about 45 ms a page).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..running.session import HostShell, SessionError, Transcript
from ..running.steps import Runner
from ..running.transport import SandboxTransport
from .server import SERVER_HOST


class SharedHostTransport(SandboxTransport):
    """Every host of an example page is the shared server's host; no observer (nothing replicates).
    ``argv``: the shell to start there (:meth:`ExampleServer.shell_argv`), else the user's."""

    def __init__(self, sandbox: object, argv: list[str] | None = None) -> None:
        super().__init__(sandbox)
        self.argv = argv

    def shell_argv(self, host: str) -> list[str]:
        return self.argv or self.sandbox.shell_argv(SERVER_HOST)

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return self.sandbox.exec_argv(SERVER_HOST, argv)

    def sockets(self) -> dict[str, Path]:
        return {}


class ShellPool:
    """The example pages' shells on the server's host, kept from one page to the next: a page (SQL
    only: its shell runs nothing but psql) takes one an earlier page put aside, or starts its own, and
    puts it aside when it ends. Starting a shell in the host and closing it cost about 45 ms a page."""

    def __init__(self) -> None:
        self._idle: list[HostShell] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self, transcript: Callable[[], Transcript]) -> HostShell | None:
        """A shell put aside, set up again with a new transcript; None when there is none."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                sh = self._idle.pop()
            t = transcript()
            try:
                sh.reuse(t)
                return sh
            except SessionError:  # it did not come back as it should: a page starts a shell of its own
                sh.close()
                t.close()

    def put_aside(self, sh: HostShell) -> bool:
        """Keep ``sh`` for another page (its transcript closed); False when it cannot be kept."""
        with self._lock:
            if self._closed:
                return False
        if not sh.put_aside():
            return False
        sh.transcript.close()
        sh.transcript = Transcript(None, sh.transcript.mask)
        with self._lock:
            if not self._closed:
                self._idle.append(sh)
                return True
        return False

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            shells, self._idle = self._idle, []
        for sh in shells:
            sh.close()


class ExampleRunner(Runner):
    """The runner of an example page whose shell comes from ``pool`` and goes back to it (None: as
    any runner's). A page that lost its server or was interrupted closes its shell."""

    def __init__(self, *args: Any, pool: ShellPool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool

    def shell(self, host: str) -> HostShell:
        hosts = self.hosts
        if self.pool is not None and host not in hosts.shells and host not in hosts.start_errors:
            path = hosts.transcripts / f"{host}.log" if hosts.transcripts else None
            sh = self.pool.take(lambda: Transcript(path, self.mask))
            if sh is not None:
                hosts.shells[host] = sh
        return super().shell(host)

    def close(self) -> None:
        if self.pool is not None and self.interrupted is None and self.lost_server is None:
            for host, sh in list(self.hosts.shells.items()):
                if self.pool.put_aside(sh):
                    del self.hosts.shells[host]
        super().close()
