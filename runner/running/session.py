"""Interactive sessions on a host, driven through pexpect as a person would type.

A :class:`HostShell` is one login shell per host with a sentinel prompt (a random nonce, new for
each page that uses the shell, plus the exit status), no echo, no line editing, ``PAGER=cat``, no
colours. Inside it, ``psql`` sessions are opened the way the guide opens them (``psql blog``), with
their own sentinel prompt carrying the last statement's error state and SQLSTATE, set on psql's input
once it has started (its command line, which every process of the host can read in /proc, holds
none). Output matches a sentinel by chance never, but on purpose it can: a guide can learn its own
(``\\echo :PROMPT1``, ``$PS1``) and print it, and so misreport its own results (its author writes its
expected output anyway). A program a page starts cannot do so on a later page's terminal: a shell is
kept for another page only where nothing but psql ran in it (runner/site/shells.py).
"""

from __future__ import annotations

import os
import re
import secrets as _secrets
import shlex
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pexpect

from runbook.errors import RunbookError
from runbook.secrets import Masker
from runner.running.capture import SEARCH_WINDOW, Capture, Reader

from .namespaces import check_namespaces
from .unterminated import clear_input, why_open, why_shell_open
from .waiting import WAITING, InputWait, stop_waiting

__all__ = ["CommandResult", "HostShell", "Masker", "SessionError", "SqlResult", "Transcript"]


class SessionError(RunbookError):
    """The session broke: a timeout, the program ended, a prompt never came."""

    exit_status = 1

    def __init__(self, message: str, last_output: str = "") -> None:
        super().__init__(message)
        self.last_output = last_output


@dataclass
class CommandResult:
    status: int
    output: str
    duration: float
    dropped: int = 0
    """Bytes of the output dropped over the cap (runner/running/capture.py): ``output`` holds its head and tail."""


@dataclass
class SqlResult:
    output: str
    error: bool
    sqlstate: str | None
    duration: float
    dropped: int = 0


class Transcript:
    """A host's transcript file: what was typed and what came back, secrets masked."""

    def __init__(self, path: Path | None, mask: Masker) -> None:
        self.mask = mask
        self._fh: TextIO | None = None
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("w", encoding="utf-8")

    def write(self, kind: str, text: str) -> None:
        if self._fh is None:
            return
        with self._lock:
            stamp = time.strftime("%H:%M:%S")
            prefix = {"in": "$ ", "sql": "=> ", "out": "", "note": "# "}.get(kind, "")
            for line in self.mask(text).rstrip("\n").split("\n"):
                self._fh.write(f"{stamp} {prefix}{line}\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _tail(text: str, n: int = 1000) -> str:
    return text[-n:]


class HostShell:
    """One interactive shell on a host."""

    def __init__(self, host: str, argv: list[str], transcript: Transcript, *, timeout: float = 120,
                 login: list[tuple[str, str]] | None = None, namespaces: dict[str, int] | None = None) -> None:
        self.login = login or []
        """(regular expression, answer) pairs answered before the shell is set up (ssh's password)."""
        self.namespaces = namespaces or {}
        """{kind: inode} (``net``, ``mnt`` …) the shell must be inside before it runs anything."""
        self.host = host
        self.argv = argv
        self.transcript = transcript
        self.timeout = timeout
        self._new_sentinel()
        self.child: pexpect.spawn | None = None
        self.psql_session: str | None = None
        self.psql_opened = ""
        """What psql printed as its session opened (a server's message before its banner)."""
        self.reader = Reader()

    def _new_sentinel(self) -> None:
        self.nonce = _secrets.token_hex(6)
        self.prompt_re = re.compile(rf"__RB_{self.nonce}_(\d+)__> ")
        self.sql_prompt_re = re.compile(rf"__RBQ_{self.nonce}_(true|false|)_([0-9A-Z]*)__> ")
        self.sql_more_re = re.compile(rf"__RBC_{self.nonce}_(.)__> ")
        """psql's continuation prompt (PROMPT2; PROMPT3 for COPY data, ``C``): it waits for more input;
        ``%R`` says why."""
        self.shell_more = f"__RBM_{self.nonce}__> "
        """bash's continuation prompt (PS2): printed for each line that leaves the command unfinished,
        removed from the output."""

    def prompts_setting(self) -> str:
        """The shell command that sets bash's sentinel prompts (PS1 with the last status, PS2)."""
        return f"PS2='{self.shell_more}'; PS1='__RB_{self.nonce}_$?__> '"

    def _expect(self, patterns: list[re.Pattern[str]], timeout: float, into: Capture | None = None,
                idle: InputWait | None = None) -> tuple[int, re.Match[str] | None, str]:
        """Read until one of ``patterns`` (``len(patterns)``: end of file; ``+1``: timeout; with ``idle``,
        ``WAITING``: a program waits for terminal input); the output before it (capped; fed ``into`` a
        capture that spans several reads when given)."""
        assert self.child is not None
        capture = into if into is not None else Capture()
        idx, m = self.reader.expect(self.child, patterns, timeout, capture, idle)
        return idx, m, capture.text() if into is None else ""

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        # Reading stays linear in the output's size and its memory bounded: runner/running/capture.py reads
        # in large chunks, looks for a prompt only near what it just read, and keeps of a command's
        # output its head and tail (OUTPUT_CAP), never pexpect's whole buffer.
        self.reader = Reader()
        self.child = pexpect.spawn(
            self.argv[0], self.argv[1:], encoding="utf-8", codec_errors="replace", timeout=self.timeout,
            echo=False, dimensions=(50, 400), maxread=SEARCH_WINDOW, searchwindowsize=SEARCH_WINDOW,
        )
        # pexpect sleeps 50 ms before every send by default (for slow terminals); a sentinel prompt
        # makes that unnecessary, and over a guide's dozens of commands it adds up.
        self.child.delaybeforesend = None
        self.child.delayafterclose = 0.01
        self.child.delayafterterminate = 0.01
        # the closing itself is ptyprocess's, whose own pause (0.1 s) the two above do not reach
        self.child.ptyproc.delayafterclose = 0.01
        self.child.ptyproc.delayafterterminate = 0.01
        for pattern, answer in self.login:
            idx, _, before = self._expect([re.compile(pattern)], 30)
            if idx != 0:
                raise SessionError(f"{self.host}: the login prompt /{pattern}/ did not come", _tail(before))
            self.transcript.write("note", "login: answered the password prompt with ********")
            self.child.sendline(answer)
        setup = (
            "stty -echo -onlcr 2>/dev/null; unset PROMPT_COMMAND HISTFILE; "
            "export PAGER=cat PSQL_PAGER=cat SYSTEMD_PAGER=cat NO_COLOR=1 TERM=dumb LC_MESSAGES=C.UTF-8; "
            "bind 'set enable-bracketed-paste off' 2>/dev/null; "
            + self.prompts_setting()
        )
        self.child.sendline(setup)
        self._expect_prompt(30, "starting the shell")
        if self.namespaces:
            check_namespaces(self)
        self.transcript.write("note", f"shell on {self.host} ready")

    def close(self) -> None:
        if self.child is None:
            return
        try:
            if self.psql_session:
                self.child.sendline("\\q")
            self.child.sendline("exit")
            self.child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=5)
        except (OSError, pexpect.ExceptionPexpect):
            pass
        finally:
            if self.child.isalive():
                self.child.terminate(force=True)
            self.child = None

    def kill(self) -> None:
        """End the session at once (after an interruption): the shell and what runs in it."""
        child = self.child
        if child is None:
            return
        for sig in (signal.SIGHUP, signal.SIGKILL):
            try:
                os.kill(child.pid, sig)
            except OSError:
                break
        try:
            child.close(force=True)
        except (OSError, pexpect.ExceptionPexpect):
            pass
        self.child = None

    # -- shell commands ---------------------------------------------------------------------
    def _expect_prompt(self, timeout: float, what: str) -> tuple[int, str]:
        status, before, _ = self._expect_prompt_capped(timeout, what)
        return status, before

    def _expect_prompt_capped(self, timeout: float, what: str, into: Capture | None = None,
                              idle: InputWait | None = None, lines: int = 0) -> tuple[int, str, int]:
        """The status the shell's prompt shows, the output before it (capped) and the bytes dropped
        (with ``idle``: :class:`WaitsForInput` when the command waits for terminal input, or
        :class:`Unterminated` when bash waits for more of its ``lines`` lines)."""
        capture = into or Capture()
        idx, m, _ = self._expect([self.prompt_re], timeout, capture, idle)
        before = self._output(capture)
        if idx == 0:
            return int(m.group(1)) if m is not None else 0, before, capture.dropped
        if idx == WAITING and idle is not None:
            raise _shell_waits(self, idle, capture, lines)
        if idx == 1:
            raise SessionError(f"{self.host}: the shell ended while {what}", _tail(before))
        raise SessionError(f"{self.host}: no prompt after {timeout:g}s while {what}", _tail(before))

    def _output(self, capture: Capture) -> str:
        """A command's output, without bash's continuation prompts."""
        return capture.text().replace(self.shell_more, "")

    def _interrupt(self) -> None:
        """After a timeout: interrupt the command and get the prompt back (or give up on the shell)."""
        if self.child is None:
            return
        try:
            for _ in range(3):
                self.child.sendintr()
                time.sleep(0.2)
            self.child.sendline("")
            self._expect_prompt(5, "recovering after a timeout")
            self.psql_session = None
        except SessionError:
            self.close()

    def run(self, command: str, dialog: list[tuple[str, str]] | None = None, *, timeout: float | None = None,
            display: str | None = None) -> CommandResult:
        """Type ``command``; answer each (prompt, answer) of ``dialog`` when it appears."""
        if self.child is None:
            self.start()
        assert self.child is not None
        timeout = timeout or self.timeout
        t0 = time.monotonic()
        self.transcript.write("in", display or command)
        self.child.sendline(command)
        lines = command.count("\n") + 1
        capture = Capture()
        try:
            wait = InputWait(what=display or command)
            for prompt, answer in dialog or []:
                pat = re.compile(re.escape(prompt.rstrip()) + r"\s*")
                idx, m, _ = self._expect([pat, self.prompt_re], timeout, capture, wait)
                if idx == 0:
                    capture.add(prompt + " \n")
                    self.transcript.write("out", f"{prompt} ********")
                    self.child.sendline(answer)
                    continue
                if idx == 1:
                    status = int(m.group(1)) if m is not None else 0
                    raise SessionError(
                        f"{self.host}: the prompt {prompt!r} never came (the command ended with status {status})")
                if idx == 2:
                    raise SessionError(f"{self.host}: the shell ended before the prompt {prompt!r}")
                if idx == WAITING:
                    raise _shell_waits(self, wait, capture, lines)
                raise SessionError(f"{self.host}: the prompt {prompt!r} did not come within {timeout:g}s")
            status, output, dropped = self._expect_prompt_capped(
                timeout, f"running {(display or command).splitlines()[0]!r}", capture, wait, lines)
        except (WaitsForInput, Unterminated) as exc:
            exc.last_output = _tail(self._output(capture))
            raise
        except SessionError as exc:
            exc.last_output = _tail(self._output(capture))
            self.transcript.write("out", exc.last_output)
            self.transcript.write("note", exc.message)
            self._interrupt()
            raise
        output = output.replace("\r\n", "\n")
        self.transcript.write("out", output)
        self.transcript.write("note", f"exit status {status}")
        return CommandResult(status, output, time.monotonic() - t0, dropped)

    # -- psql -------------------------------------------------------------------------------
    def psql_argv_options(self, opening: str) -> str:
        """Options the runner adds to the guide's ``psql`` so that it can be driven: no readline
        (``-n``: typed statements are not echoed), no psqlrc (``-X``), a prompt for its start only
        (``opening``, used once: the sentinel prompts are set on its input, :meth:`_set_prompts`, so
        psql's command line, which every process of the host reads in /proc, holds none), no pager."""
        return " ".join(["-n", "-X", "-v", shlex.quote(f"PROMPT1=__RBO_{opening}__> "), "-P", "pager=off", "-v",
                         "VERBOSITY=default"])

    def _set_prompts(self) -> None:
        """psql (started, at its opening prompt) takes its sentinel prompts from its input."""
        assert self.child is not None
        prompts = {"PROMPT1": f"__RBQ_{self.nonce}_%:ERROR:_%:LAST_ERROR_SQLSTATE:__> ",
                   "PROMPT2": f"__RBC_{self.nonce}_%R__> ", "PROMPT3": f"__RBC_{self.nonce}_C__> "}
        self.child.sendline(" ".join(f"\\set {k} '{v}'" for k, v in prompts.items()))
        idx, _, before = self._expect([self.sql_prompt_re, self.prompt_re], 10)
        if idx != 0:
            raise SessionError(f"{self.host}: psql did not take its prompts", _tail(before))

    def open_psql(self, session_id: str, command: str, *, timeout: float | None = None) -> None:
        """Open ``command`` (``psql blog``, as the guide writes it) as an interactive session."""
        if self.child is None:
            self.start()
        assert self.child is not None
        if self.psql_session:
            self.close_psql()
        words = command.split()
        i = next((n for n, w in enumerate(words) if w == "psql" or w.endswith("/psql")), None)
        if i is None:
            raise SessionError(f"{self.host}: cannot open psql with {command!r} (no psql command in it)")
        opening = _secrets.token_hex(6)
        full = " ".join(words[: i + 1] + [self.psql_argv_options(opening)] + words[i + 1 :])
        self.transcript.write("in", command)
        self.child.sendline(full)
        wait = InputWait(what=command)
        idx, _, before = self._expect([re.compile(rf"__RBO_{opening}__> "), self.prompt_re, _PASSWORD_RE],
                                      timeout or 30, idle=wait)
        if idx == WAITING:  # (sudo's password prompt, say)
            raise WaitsForInput(stop_waiting(self, wait, before, sql=False), _tail(before))
        before = before.replace("\r\n", "\n")
        if idx == 0:
            self._set_prompts()
            self.psql_session = session_id
            self.psql_opened = before
            self.transcript.write("out", before)
            return
        self.transcript.write("out", before)
        if idx == 1:
            raise SessionError(f"{self.host}: psql did not start: {before.strip()[-500:]}", _tail(before))
        if idx == 2:  # psql waits for a password nobody gives: known at once, not after the timeout
            self._interrupt()
            raise SessionError(f"{self.host}: psql did not start: it asks for a password ({command})", _tail(before))
        self._interrupt()
        raise SessionError(f"{self.host}: psql gave no prompt", _tail(before))

    def close_psql(self) -> None:
        if self.child is None or not self.psql_session:
            return
        self.transcript.write("sql", "\\q")
        self.child.sendline("\\q")
        self.psql_session = None
        self._expect_prompt(15, "leaving psql")

    def sql(self, statement: str, *, timeout: float | None = None) -> SqlResult:
        """Send ``statement`` (one or more lines). psql prints one prompt per line it reads: after the
        last line, its main prompt (the statement ran) or its continuation prompt (it waits for more
        input: :class:`Unterminated`, known at once, never by a timeout)."""
        if self.child is None or not self.psql_session:
            raise SessionError(f"{self.host}: no psql session is open")
        t0 = time.monotonic()
        timeout = timeout or self.timeout
        deadline = t0 + timeout
        self.transcript.write("sql", statement)
        self.child.sendline(_error_reset(statement))
        lines = statement.count("\n") + 1
        capture = Capture()
        wait = InputWait(what=statement)
        for seen in range(1, lines + 1):
            idx, m, _ = self._expect([self.sql_prompt_re, self.sql_more_re, self.prompt_re],
                                     max(0.0, deadline - time.monotonic()), capture, wait)
            if idx in (0, 1) and m is not None and seen == lines:
                before = capture.text().replace("\r\n", "\n")
                self.transcript.write("out", before)
                if idx == 1:
                    raise _psql_unterminated(self, m.group(1), before)
                error = m.group(1) == "true"
                return SqlResult(before, error, m.group(2) if error and m.group(2) else None, time.monotonic() - t0,
                                 capture.dropped)
            if idx == WAITING:
                raise WaitsForInput(stop_waiting(self, wait, capture.text(), sql=True), _tail(capture.text()))
            if idx >= 2:
                break
        before = capture.text().replace("\r\n", "\n")
        self.transcript.write("out", before)
        self.psql_session = None
        if idx == 2:
            raise SessionError(f"{self.host}: psql ended while running the statement", _tail(before))
        self._interrupt()
        raise SessionError(f"{self.host}: the statement did not finish within {timeout:g}s", _tail(before))



_PASSWORD_RE = re.compile(r"Password(?: for user [^:\r\n]*)?: ")
"""psql's password prompt (no ``-w``): it waits for input."""


class Unterminated(SessionError):
    """What was sent leaves psql waiting for more input (no ``;``, an open quote, parenthesis, comment),
    or bash (an open quote, ``do`` without ``done``)."""


class WaitsForInput(SessionError):
    """A program on the host's terminal (psql's ``\\prompt``, ``read x``) waits for input nobody types."""


def _shell_waits(sh: HostShell, wait: InputWait, capture: Capture, lines: int) -> SessionError:
    """The shell back at its prompt after a wait for terminal input, and why: bash itself waits for more
    of the command (a continuation prompt after each of its ``lines`` lines) or a program waits."""
    before = sh._output(capture)
    if lines and capture.text().count(sh.shell_more) >= lines:
        message = f"command not terminated: bash waits for more input ({why_shell_open(wait.what)})"
        stop_waiting(sh, wait, before, sql=False, message=message)
        return Unterminated(message, _tail(before))
    return WaitsForInput(stop_waiting(sh, wait, before, sql=False), _tail(before))


def _psql_unterminated(sh: HostShell, state: str, before: str) -> Unterminated:
    """psql waits for more input: clear its query buffer (Ctrl-C, as a person would) and say why."""
    if not clear_input(sh, state):
        sh.psql_session = None
        sh._interrupt()
    return Unterminated(f"statement not terminated: psql waits for more input ({why_open(state)})", _tail(before))


def _error_reset(statement: str) -> str:
    """``statement`` as sent to psql: a meta-command (``\\x off``) does not set psql's ``ERROR``, so
    after a statement that failed the prompt would still say it failed; ``\\set ERROR false`` first,
    on the same line (psql runs a line's meta-commands in turn), makes the prompt this line's."""
    return "\\set ERROR false " + statement if statement.lstrip().startswith("\\") else statement
