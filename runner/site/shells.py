"""The example pages' shells on the shared server's host (docs/site.md, "The example server").

Every example page's shell runs in cgroups of its own (``pids``, ``freezer``) below the server
host's (:class:`ShellCgroup`): no process can leave them, so when a page's shell closes, everything
the page started is killed with it, also what left its terminal and session (``setsid``, ``sudo``).

A page whose blocks are all SQL and run no program from psql (:func:`runs_programs`) runs nothing in
its shell but psql: when it ends, its shell (psql ended, at the shell's own prompt) is put aside for
the next page, which sets a new sentinel prompt in it instead of starting a shell of its own (``crun
exec``, the shell's setup, its namespaces checked, and its closing: about 45 ms a page). Such a shell
may hold the shell and one psql, no more (``pids.max``): the kernel refuses any other program (a
``\\!`` the statements hid), and a shell where one was refused is closed, never kept. So nothing a page
started outlives it to write a forged prompt on the next page's terminal or read its input, nor
changes the kept shell (through its terminal or ``ptrace``) while the page runs.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pexpect

from ..running.namespaces import inside_note
from ..running.session import HostShell, SessionError, Transcript
from ..running.steps import Runner
from ..running.transport import SandboxTransport
from ..sandbox import cgroups as cg
from ..sandbox.state import parent_pid
from .server import SERVER_HOST

PROGRAMS = re.compile(
    r"`"  # a meta-command's argument in backticks runs a shell command (\set x `cmd`, \echo `cmd`)
    r"|\\(?:!|(?:e|edit|ef|ev|i|ir|include|include_relative|setenv)(?![A-Za-z_]))"  # shell, editor, a file's \!
    r"|\\(?:o|out|g|gx|w|write)\s*(?:\([^)]*\)\s*)?['\"]?[|:]"  # output to a program (or from a variable: \o :v)
    r"|\\(?i:copy\b[^\n]*\bprogram)\b"
    r"|\\pset\s+pager"  # the pager program
)
"""What in an SQL block makes psql start a program (checked before the page runs, kept on the side of
caution: a page it names gets a shell of its own, not a kept one)."""


def runs_programs(code: str) -> bool:
    """Whether psql would start a program for ``code`` (an SQL block): :data:`PROGRAMS`."""
    return PROGRAMS.search(code) is not None


class ShellCgroup:
    """The cgroups of one example page's shell: ``pids`` and ``freezer`` of its own below the host's
    (``shell-RANDOM``), the host's ``memory``; its processes count against the host's limits too.
    A process inside cannot leave them (the cgroup file systems are not writable from a host)."""

    def __init__(self, host: dict[str, str]) -> None:
        name = f"shell-{secrets.token_hex(4)}"
        self.own: dict[str, str] = {c: str(Path(host[c]) / name) for c in ("pids", "freezer") if c in host}
        self.joined: dict[str, str] = {**host, **self.own}

    @classmethod
    def of(cls, argv: list[str]) -> tuple[ShellCgroup, list[str]] | None:
        """A new shell cgroup and ``argv`` (a host's shell, joining the host's cgroups first,
        :func:`runner.sandbox.cgroups.join_argv`) joining it instead; None when ``argv`` joins none."""
        if len(argv) < 5 or argv[3] != "runbook-join" or "--" not in argv[4:]:
            return None
        end = argv.index("--", 4)
        try:
            host = {Path(f).relative_to(cg.CGROUP_FS).parts[0]: f for f in argv[4:end]}
        except (ValueError, IndexError):
            return None
        if "pids" not in host or "freezer" not in host:
            return None
        shell = cls(host)
        return shell, [*cg.join_argv(shell.joined), *argv[end + 1:]]

    def create(self) -> None:
        for d in self.own.values():
            Path(d).mkdir(exist_ok=True)

    def tasks(self) -> list[int]:
        return cg.tasks(self.own)

    def limit_to_psql(self, shell: int) -> set[int] | None:
        """From now on, the shell's processes now (``shell``, the pid of ``crun exec``, and its child,
        the shell) and one psql, nothing more: those processes; None (no limit) when anything else is
        in the cgroup."""
        tasks = set(self.tasks())
        if not tasks or any(p != shell and parent_pid(p) != shell for p in tasks):
            return None
        now = int(Path(self.own["pids"], "pids.current").read_text())  # (threads count too)
        Path(self.own["pids"], "pids.max").write_text(str(now + 1))
        return tasks

    def refused(self) -> int:
        """Forks refused at the limit so far."""
        with contextlib.suppress(OSError, ValueError):
            for line in Path(self.own["pids"], "pids.events").read_text().splitlines():
                k, _, v = line.partition(" ")
                if k == "max":
                    return int(v)
        return 0

    def kill(self) -> None:
        """Every process in it killed (frozen first: none can fork meanwhile), its folders removed."""
        if any(Path(d).is_dir() for d in self.own.values()):
            cg.kill_all(self.own)


class PageShell(HostShell):
    """An example page's shell in a :class:`ShellCgroup` of its own (None: where the host's shell
    joins no cgroups); closing or killing it kills every process in it. ``psql_only``: a shell that
    may be kept for other pages, limited to itself and one psql once it has started."""

    def __init__(self, *args: Any, cgroup: ShellCgroup | None, psql_only: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cgroup = cgroup
        self.psql_only = psql_only and cgroup is not None
        self.generation = -1
        """:attr:`ShellPool.generation` when it started."""
        self.base: set[int] | None = None
        """Its processes once it has started (``psql_only``)."""

    def start(self) -> None:
        if self.cgroup is not None:
            self.cgroup.create()
        super().start()
        if self.psql_only and self.cgroup is not None and self.child is not None:
            self.base = self.cgroup.limit_to_psql(self.child.pid)
            self.psql_only = self.base is not None

    def ran_psql_only(self) -> bool:
        """At its own prompt (psql ended): nothing but the shell left in its cgroup, no program refused."""
        if self.cgroup is None or not self.psql_only:
            return False
        if self.cgroup.refused():
            self.transcript.write("note", "a program psql started was refused (a shell kept for other pages runs "
                                          "psql only): the shell is closed")
            return False
        return set(self.cgroup.tasks()) == self.base  # (crun exec and the shell, as they were)

    def put_aside(self) -> bool:
        """Leave psql (if open) and check that the shell is at its own prompt, not psql's, so that
        another page may use it (:meth:`reuse`). False when it is not (the caller closes it)."""
        if self.child is None or not self.child.isalive():
            return False
        try:
            if self.psql_session:
                self.child.sendline("\\q")
                self.psql_session = None
            self.child.sendline("")  # bash prints its prompt again; a psql still reading, its own
            idx, _, _ = self._expect([self.prompt_re, self.sql_prompt_re, self.sql_more_re], 5)
        except (OSError, pexpect.ExceptionPexpect):
            return False
        return idx == 0

    def reuse(self, transcript: Transcript) -> None:
        """A shell put aside, for another page: its transcript, a new sentinel (a prompt of its earlier
        use still buffered matches no more). Its namespaces were checked when it started (bash never
        leaves them: a program it runs could, not the shell itself)."""
        assert self.child is not None
        self.transcript = transcript
        self._new_sentinel()
        self.child.sendline(self.prompts_setting())
        self._expect_prompt(10, "setting the shell up again")
        if self.namespaces:
            self.transcript.write("note", inside_note(self.namespaces))
        self.transcript.write("note", f"shell on {self.host} ready")

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.cgroup is not None:
                self.cgroup.kill()

    def kill(self) -> None:
        try:
            super().kill()
        finally:
            if self.cgroup is not None:
                self.cgroup.kill()


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
    only: its shell runs nothing but psql, :class:`PageShell` ``psql_only``) takes one an earlier page
    put aside, or starts its own, and puts it aside when it ends. Starting a shell in the host and
    closing it cost about 45 ms a page.

    A page that runs programs in the host (shell steps, psql's ``\\!``, a how-to page) runs under
    :meth:`programs`: the shells put aside are closed first, and a shell whose life overlapped such a
    page is not kept (its programs, the host's user, could have changed it: ``ptrace``)."""

    def __init__(self) -> None:
        self._idle: list[PageShell] = []
        self._lock = threading.Lock()
        self._closed = False
        self._programs = 0
        """Pages running programs now."""
        self.generation = 0
        """Counts the starts and ends of pages running programs: a shell is kept only where it has
        not changed since the shell started."""

    @contextlib.contextmanager
    def programs(self) -> Iterator[None]:
        """A page running programs in the host runs inside (its shells closed, everything in them
        killed, before it ends)."""
        with self._lock:
            self._programs += 1
            self.generation += 1
            shells, self._idle = self._idle, []
        for sh in shells:
            sh.close()
        try:
            yield
        finally:
            with self._lock:
                self._programs -= 1
                self.generation += 1

    def take(self, transcript: Callable[[], Transcript]) -> PageShell | None:
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

    def _may_keep(self, sh: PageShell) -> bool:
        return not self._closed and not self._programs and sh.generation == self.generation

    def put_aside(self, sh: HostShell) -> bool:
        """Keep ``sh`` for another page (its transcript closed); False when it cannot be kept: not at
        its own prompt, anything but psql ran in it (:meth:`PageShell.ran_psql_only`), or a page
        running programs ran meanwhile."""
        if not isinstance(sh, PageShell) or not sh.psql_only:
            return False
        with self._lock:
            if not self._may_keep(sh):
                return False
        if not sh.put_aside() or not sh.ran_psql_only():
            return False
        sh.transcript.close()
        sh.transcript = Transcript(None, sh.transcript.mask)
        with self._lock:
            if self._may_keep(sh):
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
    """The runner of an example page: its shell a :class:`PageShell`, from ``pool`` and back to it (a
    page that runs psql only), else of its own, closed with everything in it when the page ends. A
    page that lost its server or was interrupted closes its shell."""

    def __init__(self, *args: Any, pool: ShellPool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool

    def shell(self, host: str) -> HostShell:
        hosts = self.hosts
        if host not in hosts.shells and host not in hosts.start_errors:
            path = hosts.transcripts / f"{host}.log" if hosts.transcripts else None
            sh = self.pool.take(lambda: Transcript(path, self.mask)) if self.pool is not None else None
            hosts.shells[host] = sh or self._new_shell(host, Transcript(path, self.mask))
        return super().shell(host)

    def _new_shell(self, host: str, transcript: Transcript) -> PageShell:
        argv = self.transport.shell_argv(host)
        found = ShellCgroup.of(argv)
        generation = self.pool.generation if self.pool is not None else -1
        sh = PageShell(host, found[1] if found else argv, transcript, timeout=self.hosts.timeout,
                       login=self.transport.login(host), namespaces=self.transport.namespaces(host),
                       cgroup=found[0] if found else None, psql_only=self.pool is not None)
        sh.generation = generation
        try:
            sh.start()
        except BaseException:
            sh.close()
            raise
        return sh

    def close(self) -> None:
        if self.pool is not None and self.interrupted is None and self.lost_server is None:
            for host, sh in list(self.hosts.shells.items()):
                if self.pool.put_aside(sh):
                    del self.hosts.shells[host]
        super().close()
