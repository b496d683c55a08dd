"""Interruption: SIGINT (Ctrl-C) and SIGTERM end a run cleanly (reports written, hosts down); a second
signal ends the process at once."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any


class Interrupted(BaseException):
    """The run was interrupted by a signal (SIGINT from Ctrl-C, SIGTERM from kill)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class SignalGuard:
    """While active: the first SIGINT/SIGTERM prints ``first(signum)`` and raises
    :class:`Interrupted` (or, inside :meth:`shield`, only records it); a second one prints
    ``second(signum)`` and ends the process at once with status 128 + signal."""

    def __init__(self, first: Callable[[int], str], second: Callable[[int], str]) -> None:
        self.first = first
        self.second = second
        self.signum: int | None = None
        self._shielded = 0
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            try:
                sys.stderr.write("\n" + self.second(signum) + "\n")
                sys.stderr.flush()
            finally:
                os._exit(128 + signum)
        self.signum = signum
        sys.stderr.write("\n" + self.first(signum) + "\n")
        sys.stderr.flush()
        if not self._shielded:
            raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        self._old = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        """A first signal inside only records itself (clean-up must not be cut short)."""
        self._shielded += 1
        try:
            yield
        finally:
            self._shielded -= 1

