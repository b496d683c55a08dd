"""Every host's login shell of a run (:class:`HostShell`): started at a host's first command or all at
once (speed), closed together at the end, killed at once when a signal cut the run short."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .session import HostShell, Masker, SessionError, Transcript
from .signals import Interrupted
from .transport import Transport


class HostShells:
    def __init__(self, transport: Transport, mask: Masker, transcripts: Path | None,
                 timeout: float) -> None:
        self.transport = transport
        self.mask = mask
        self.transcripts = transcripts
        """Folder of the transcripts (``HOST.log``); None: none written."""
        self.timeout = timeout
        self.shells: dict[str, HostShell] = {}
        self.start_errors: dict[str, SessionError] = {}
        """Hosts whose shell failed to start in :meth:`start_all` (raised at the host's first use)."""

    def get(self, host: str) -> HostShell:
        """The host's shell, started at its first use (a start that failed in :meth:`start_all` raises here)."""
        if host in self.start_errors:
            raise self.start_errors.pop(host)
        if host not in self.shells:
            path = self.transcripts / f"{host}.log" if self.transcripts else None
            sh = HostShell(host, self.transport.shell_argv(host), Transcript(path, self.mask), timeout=self.timeout,
                           login=self.transport.login(host), namespaces=self.transport.namespaces(host))
            sh.start()
            self.shells[host] = sh
        return self.shells[host]

    def start_all(self, hosts: list[str], get: Callable[[str], HostShell] | None = None) -> None:
        """Start the shells of ``hosts`` in parallel (each with ``get``, the runner's way to a host's shell;
        None: :meth:`get`); a failure is reported by the first action on its host."""

        def one(host: str) -> None:
            try:
                (get or self.get)(host)
            except SessionError as exc:
                self.start_errors[host] = exc

        if hosts:
            pool = ThreadPoolExecutor(max_workers=len(hosts))
            try:
                list(pool.map(one, hosts))
            finally:
                pool.shutdown(wait=False, cancel_futures=True)

    def close(self, interrupted: Interrupted | None) -> None:
        """Close every session and transcript, in parallel (killed at once after an interruption)."""

        def one(sh: HostShell) -> None:
            if interrupted is not None:
                sh.transcript.write("note", f"interrupted ({interrupted}): the session was ended")
                sh.kill()
            else:
                sh.close()
            sh.transcript.close()

        pool = ThreadPoolExecutor(max_workers=max(1, len(self.shells)))
        try:
            list(pool.map(one, self.shells.values()))
        except Interrupted:
            self.kill()  # the closing threads' sessions end now, so they return at once
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()

    def kill(self) -> None:
        for sh in list(self.shells.values()):
            sh.kill()

    def end_now(self) -> None:
        """What :meth:`close` leaves undone when a signal cuts it short: every session killed, every
        transcript closed."""
        for sh in list(self.shells.values()):
            with contextlib.suppress(Exception):
                sh.kill()
            with contextlib.suppress(Exception):
                sh.transcript.close()
