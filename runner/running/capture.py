"""Reading a host's output with a bounded memory: the prompt searched in a window, the output capped.

runbook reads the hosts' output on the machine, outside the hosts' memory limits.  What it keeps
of one command's (or one SQL statement's) output is capped at :data:`OUTPUT_CAP` characters: the
first and the last half, the middle dropped as it arrives (read and discarded, never accumulated)
and replaced by a marker saying how many bytes were dropped.
"""

from __future__ import annotations

import re
import time
from collections import deque

import pexpect

from .waiting import WAITING, InputWait, terminal_reader

OUTPUT_CAP = 4 * 1024 * 1024
"""Characters kept of one command's (or one SQL statement's) output: the first and the last half."""

PROMPT_LOOKBACK = 4096
"""Characters before newly read output in which a prompt that ends in it may start."""

SEARCH_WINDOW = 65536
"""Characters of not yet consumed output kept for the prompt search (and read at once)."""

QUIET = 0.1
"""Seconds without output after which a read that looks for programs waiting for input
(runner/running/waiting.py) looks at the terminal; two looks in a row must agree."""


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def cap_note(dropped: int) -> str:
    return f"output over the {OUTPUT_CAP // (1024 * 1024)} MB cap: {dropped} bytes dropped"


class Capture:
    """One command's output: its head and its tail, the middle counted (``dropped``, in UTF-8 bytes)."""

    def __init__(self, cap: int = OUTPUT_CAP) -> None:
        self.head_max = cap // 2
        self.tail_max = cap - self.head_max
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        if self._head_len < self.head_max and text:
            take = text[: self.head_max - self._head_len]
            self._head.append(take)
            self._head_len += len(take)
            text = text[len(take):]
        if not text:
            return
        self._tail.append(text)
        self._tail_len += len(text)
        while self._tail_len - len(self._tail[0]) >= self.tail_max:
            gone = self._tail.popleft()
            self._tail_len -= len(gone)
            self.dropped += _nbytes(gone)
        if self._tail_len > 2 * self.tail_max:  # one large piece: cut it now
            tail = "".join(self._tail)
            self.dropped += _nbytes(tail[: -self.tail_max])
            self._tail = deque([tail[-self.tail_max:]])
            self._tail_len = self.tail_max

    def text(self) -> str:
        """What is kept: the head, the marker where the middle was dropped, the tail."""
        tail = "".join(self._tail)
        if len(tail) > self.tail_max:
            self.dropped += _nbytes(tail[: -self.tail_max])
            tail = tail[-self.tail_max:]
            self._tail = deque([tail])
            self._tail_len = len(tail)
        head = "".join(self._head)
        if not self.dropped:
            return head + tail
        return f"{head}\n[runbook: {cap_note(self.dropped)} here]\n{tail}"


class Reader:
    """Reads a pexpect child until one of its patterns, feeding a :class:`Capture`: the prompt is
    searched only near the newly read output (reading stays linear), and what follows a match is
    kept for the next read."""

    def __init__(self) -> None:
        self.pending = ""

    def expect(self, child: pexpect.spawn, patterns: list[re.Pattern[str]], timeout: float,
               into: Capture, idle: InputWait | None = None) -> tuple[int, re.Match[str] | None]:
        """The index of the pattern found (``len(patterns)``: end of file, ``+1``: timeout; with ``idle``,
        :data:`WAITING`: a program of the terminal waits for input, told in ``idle``) and its match; the
        output before it goes ``into`` the capture."""
        window, self.pending = self.pending, ""
        start = 0
        deadline = time.monotonic() + timeout
        looks = 0
        while True:
            found = _first(patterns, window, start)
            if found is not None:
                idx, m = found
                into.add(window[: m.start()])
                self.pending = window[m.end():]
                return idx, m
            if len(window) > SEARCH_WINDOW:
                into.add(window[:-SEARCH_WINDOW])
                window = window[-SEARCH_WINDOW:]
            start = max(0, len(window) - PROMPT_LOOKBACK)
            left = deadline - time.monotonic()
            if left < 0:  # output that never stops does not outlast the timeout
                into.add(window)
                return len(patterns) + 1, None
            wait = left if idle is None else min(left, QUIET)
            try:
                window += child.read_nonblocking(SEARCH_WINDOW, wait)
                looks = 0
            except pexpect.EOF:
                into.add(window)
                return len(patterns), None
            except pexpect.TIMEOUT:
                if idle is None or wait >= left:
                    into.add(window)
                    return len(patterns) + 1, None
                # quiet, no prompt: a program reading the terminal waits for input (seen twice, so that
                # output written just before it blocked has arrived)
                idle.reader = terminal_reader(child.pid)
                looks = looks + 1 if idle.reader is not None else 0
                if looks == 2:
                    into.add(window)
                    return WAITING, None


def _first(patterns: list[re.Pattern[str]], window: str, start: int) -> tuple[int, re.Match[str]] | None:
    """The match that starts first (the first pattern on a tie), as pexpect's own search."""
    best: tuple[int, re.Match[str]] | None = None
    for i, pattern in enumerate(patterns):
        m = pattern.search(window, start)
        if m is not None and (best is None or m.start() < best[1].start()):
            best = (i, m)
    return best
