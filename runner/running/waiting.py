"""A program on a host's terminal that waits for terminal input nobody will type (psql's ``\\prompt``
or ``\\password``, ``read x``, ``passwd``, "Do you want to continue? [Y/n]"): known at once from the
kernel, not after the timeout, and the session put back at its prompt.

When no sentinel prompt came and the output has gone quiet, :func:`terminal_reader` looks at the
terminal's foreground process group (``/proc``: the sandbox's hosts are namespaces of this machine,
whose processes the runner sees) and whether one of its processes is blocked in ``read()`` on that
terminal. A program at its own prompt (bash, psql) is blocked reading too, but has printed its
sentinel prompt, which the reader finds first. A host reached over ssh is out of sight (its terminal
is remote): there only the timeout ends such a wait.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import HostShell

_READ = {"x86_64": 0, "aarch64": 63, "riscv64": 63, "ppc64le": 3, "s390x": 3, "i686": 3}.get(os.uname().machine)
"""The ``read`` system call's number (``/proc/PID/syscall``), by architecture."""

WAITING = -1
"""The index :meth:`runner.running.capture.Reader.expect` gives (with ``idle``) when a program of the
terminal waits for input."""

_DEV_TTY = os.makedev(5, 0)
"""``/dev/tty``: a process's controlling terminal, whichever it is (psql's ``\\prompt`` reads it)."""


@dataclass(frozen=True)
class Reader:
    """A process blocked reading its terminal."""

    pid: int
    comm: str


@dataclass(frozen=True)
class _Stat:
    pid: int
    comm: str
    state: str
    pgrp: int
    session: int
    tty: int
    tpgid: int


def _stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    head, _, rest = text.rpartition(")")
    f = rest.split()
    if len(f) < 6:
        return None
    # fields after the name: state ppid pgrp session tty_nr tpgid …
    return _Stat(pid, head.split("(", 1)[-1], f[0], int(f[2]), int(f[3]), int(f[4]), int(f[5]))


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                out += [int(x) for x in fh.read().split()]
    return out


def _tree(root: int) -> list[_Stat]:
    """``root`` and its descendants (their ``/proc`` stat), parents before children."""
    out: list[_Stat] = []
    todo = [root]
    while todo and len(out) < 200:
        st = _stat(todo.pop(0))
        if st is None:
            continue
        out.append(st)
        todo += _children(st.pid)
    return out


def _reads_terminal(st: _Stat) -> bool:
    """``st`` sleeps in ``read()`` on its controlling terminal (or ``/dev/tty``)."""
    if st.state != "S" or _READ is None:
        return False
    try:
        with open(f"/proc/{st.pid}/syscall", encoding="ascii") as fh:
            words = fh.read().split()
        if len(words) < 2 or words[0] != str(_READ):
            return False
        rdev = os.stat(f"/proc/{st.pid}/fd/{int(words[1], 16)}").st_rdev
    except (OSError, ValueError):
        return False
    return rdev in (st.tty, _DEV_TTY)


def terminal_reader(root: int) -> Reader | None:
    """The process of the foreground of ``root``'s terminal that waits for terminal input, if any.
    ``root`` is the program pexpect started (bash, or ``crun exec`` whose bash has a terminal of its
    own in the host, as ``sudo``'s ``use_pty`` gives its command one): terminals inside terminals are
    followed to the innermost one whose foreground runs."""
    tree = _tree(root)
    # each terminal's session leader, outermost first (terminal numbers are no help: the host's
    # devpts and the machine's each have a pts/0)
    leaders = [st for st in tree if st.session == st.pid and st.tty != 0 and st.tpgid > 0]
    for leader in leaders[:4]:
        for st in tree:
            if st.pgrp == leader.tpgid and _reads_terminal(st):
                return Reader(st.pid, st.comm)
    return None


@dataclass
class InputWait:
    """What :meth:`HostShell._expect` learnt when the output went quiet: who waits for input."""

    what: str = ""
    """The command or statement sent (for the message)."""
    reader: Reader | None = None


def stop_waiting(sh: HostShell, wait: InputWait, before: str, *, sql: bool, message: str | None = None) -> str:
    """A program waits for terminal input: the session put back at its prompt (else given up) and the
    message saying who waits (or ``message``), for :class:`~runner.running.session.WaitsForInput`."""
    before = before.replace("\r\n", "\n")
    sh.transcript.write("out", before)
    message = message or waits_message(wait.reader, wait.what, before)
    sh.transcript.write("note", message)
    if not recover(sh, sql, wait.reader):
        sh.transcript.write("note", "the session did not come back: it is given up")
        sh._interrupt()
    return message


def waits_message(reader: Reader | None, what: str, output: str) -> str:
    """``psql waits for input (\\prompt 'Your name: ' name; it printed 'Your name: '): …``."""
    who = reader.comm if reader is not None else "the program"
    first = what.strip().splitlines()[0] if what.strip() else what
    if len(first) > 80:
        first = first[:77] + "..."
    lines = [x for x in output.replace("\r", "").split("\n") if x.strip()]
    printed = f"; it printed {lines[-1].strip()[-80:]!r}" if lines else ""
    return f"{who} waits for terminal input ({first}{printed}): a guide run cannot answer it"


def recover(sh: HostShell, sql: bool, reader: Reader | None) -> bool:
    """Put the session back at its prompt after :func:`terminal_reader` found a program waiting: Ctrl-C
    first (it ends ``read``, ``passwd``, a ``[Y/n]`` question, psql's ``\\prompt`` and ``\\password``,
    without answering them); a program that ignores it (``trap '' INT``) gets the end of input
    (Ctrl-D) instead, for each question it asks, never an answer (an empty line would say yes to
    ``[Y/n]``). Then a mark echoed back makes sure no prompt of before is read for the next command.
    True when the session is in step again."""
    assert sh.child is not None
    patterns = [sh.sql_prompt_re, sh.sql_more_re, sh.prompt_re] if sql else [sh.prompt_re]
    wait = InputWait()
    for k in range(5):
        if k == 0 or reader is None:
            sh.transcript.write("note", "Ctrl-C: ending the wait for input")
            sh.child.sendintr()
        else:
            sh.transcript.write("note", f"{reader.comm} still waits: Ctrl-D (end of input)")
            sh.child.sendeof()
        idx, _, _ = sh._expect(patterns, 5, idle=wait)
        if idx == WAITING:
            reader = wait.reader
            continue
        if idx != 0:
            return False
        return _in_step(sh, sql)
    return False


def _in_step(sh: HostShell, sql: bool) -> bool:
    """Echo a mark and read up to the prompt after it: the prompts of before are behind."""
    assert sh.child is not None
    mark = f"__RBW_{sh.nonce}__"
    sh.child.sendline(("\\echo " if sql else "echo ") + mark)
    idx, _, _ = sh._expect([re.compile(re.escape(mark) + r"\r?\n")], 5)
    if idx != 0:
        return False
    idx, _, _ = sh._expect([sh.sql_prompt_re if sql else sh.prompt_re], 5)
    if idx == 0:
        sh.transcript.write("note", "back at the prompt")
    return idx == 0
