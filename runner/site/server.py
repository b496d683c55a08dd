"""The shared example server of a site run (docs/site.md, "The example server").

One sandbox host and one PostgreSQL server for every example page of a run: a template database per
site holding its prelude, a database per page (and per example group of a page) cloned from it,
created ahead over one psql session while earlier pages run (the others, a second run's or an
example group's, over another kept session). When a page crashes the server, the server recovers
(PostgreSQL restarts its processes; when its postmaster is gone, the runner restarts the cluster in
the host; when that fails, every page still to run fails at once) and pages wait for it before they
go on (:meth:`ExampleServer.recover`, :attr:`ExampleServer.ready`).

Speed (docs/site.md): the host and its cluster come up while the pages are read (:class:`EarlyServer`);
the example pages' shells are kept from page to page (:class:`runner.site.shells.ShellPool`), and
psql is the client program Debian's ``pg_wrapper`` would run, started directly with the environment
the wrapper would give it (:meth:`ExampleServer.psql_env`): the wrapper, a Perl program, takes about
as long again as psql's own start.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.errors import EnvironmentLimit, RunbookError
from runbook.read.sql import WATCH_REFUSED, watch_line
from runbook.site_pages import Page, SiteSettings

from ..planning.versions import VERSIONS_SQL, parse_versions
from ..status import ServerEventKind
from .databases import DatabaseMaker, ident

if TYPE_CHECKING:
    from .shells import ShellPool

SERVER_SANDBOX = "runbook-site"
"""The shared example server's sandbox (one host, ``server``)."""
SERVER_HOST = "server"
SERVER_ADDRESS = "127.0.0.250"
TEMPLATE_DB = "runbook_template"
_ENV_MARK = "__runbook_psql_environment__"
_WRAPPER_ENV = re.compile(r"^(PG[A-Z]*|LD_PRELOAD|PATH)=(.*)$")
"""What Debian's pg_wrapper sets for the client it runs (and PATH, to put the client's folder first)."""
EXAMPLE_SPEED = ("fsync = off", "synchronous_commit = off", "full_page_writes = off", "max_wal_size = '32MB'")
"""Settings of the example server (reloadable; a page sees them only through SHOW): nothing on it
needs to survive a crash, and each page's CREATE DATABASE takes a third of the time. Each database
created writes its template to the WAL (about 5 MB): with at most 32 MB of WAL between checkpoints,
the WAL takes little of the host's memory (its data folder is in memory) and a crash recovery
replays little (0.2 s after 30 databases instead of 0.8 s)."""
RECOVERY_WAIT = 30.0
"""Seconds to wait for the server to accept connections again after a crash (its postmaster alive)."""
PSQL_WAIT = 300.0
"""Seconds a psql of the runner's own in the server's host (the site's prelude, template databases)
may take before it is ended and named."""
CONNECT_WAIT = 10
"""Seconds a page's psql (``PGCONNECT_TIMEOUT``) and the runner's own wait for a connection to the
server: a hung server (its postmaster stopped) accepts it in the kernel and never answers."""
RESTART_TRIES = 5
RESTART_WAIT = 10.0
"""Tries to start the cluster again once its postmaster is gone, and seconds each waits for it."""
_DATA_MARK = "__runbook_data_directory__"


def _prelude_at(s: SiteSettings, line: int) -> str:
    """The site's prelude at ``line`` of its runbook.toml, as its errors begin."""
    return f"{s.file or 'runbook.toml'}:{line}: the prelude"


def prelude_refused(s: SiteSettings) -> str | None:
    """Why the site's prelude is not run (a ``\\watch`` in it would never end), with runbook.toml's
    line; None when it may run."""
    line = watch_line(s.prelude, s.prelude_line or 1)
    return None if line is None else f"{_prelude_at(s, line)}: {WATCH_REFUSED}"


@dataclass
class ServerEvent:
    """What happened to the example server during the run (the site report's ``server_events``)."""

    kind: ServerEventKind
    seconds: float
    detail: str


class ExampleServer:
    """The one sandbox host and PostgreSQL server every example page of a run shares."""

    def __init__(self, settings: list[SiteSettings], pg_version: str, *, speed: bool = True) -> None:
        from ..sandbox import Sandbox, SandboxHost

        self.settings = settings
        self.pg_version = pg_version
        self.sandbox = Sandbox(SERVER_SANDBOX, [SandboxHost(SERVER_HOST, SERVER_ADDRESS)], speed=speed)
        self.templates: dict[Path, str] = {}
        """Site root -> its template database (prelude in it)."""
        self.prelude_errors: dict[Path, str] = {}
        self.versions: dict[Path, dict[str, str]] = {}
        """Site root -> installed versions (``postgresql``, each available extension) in its template."""
        self.ready = threading.Event()
        """Set while the server accepts connections (cleared while it recovers from a crash)."""
        self.ready.set()
        self.recoveries = 0
        self.events: list[ServerEvent] = []
        """Recoveries, restarts and a stop of the server, in order."""
        self.stopped: str | None = None
        """Why the server stopped for good during the run ("the example server stopped: ..."), or None."""
        from .examples import Turns

        self.turns = Turns()
        """Example pages' runs at the same time, or one alone (a page run again after its postmaster died)."""
        self.data_directory = ""
        """The cluster's data directory in the host (its postmaster.pid tells whether a postmaster runs)."""
        self.slots: threading.Semaphore | None = None
        """``-j`` slots of the run: each page running holds one; example groups run at the same time
        in the free ones (runner/site/groups.py)."""
        self._recovering = threading.Lock()
        self.stopping = threading.Event()
        """Set once the server is being stopped (no recovery, no database made any more)."""
        self.databases = DatabaseMaker(self)
        """The pages' databases, made ahead and on demand (runner/site/databases.py)."""
        self.client: tuple[str, dict[str, str]] | None = None
        """psql as pg_wrapper runs it in the host (its path, the environment the wrapper sets); None: not known."""
        from .shells import ShellPool

        self.shells: ShellPool = ShellPool()
        """The example pages' shells, kept from page to page."""
        self._up = False

    def _psql(self, database: str, sql: str, *, single: bool = False,
              options: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        argv = [*self.psql_argv(), "-X", "-q", "-v", "ON_ERROR_STOP=1", *options, "-d", database]
        argv += ["-c", sql] if single else ["-f", "-"]
        try:
            return subprocess.run(self.sandbox.exec_argv(SERVER_HOST, argv, user="postgres"),
                                  input=None if single else sql, capture_output=True, text=True,
                                  timeout=PSQL_WAIT, check=False)
        except subprocess.TimeoutExpired as exc:  # (subprocess.run killed it)
            raise RunbookError(f"psql did not finish within {PSQL_WAIT:g}s in the example server's "
                               f"database {database.split()[0]}") from exc

    def as_postgres(self, argv: list[str]) -> list[str]:
        """``argv`` run in the server's host as the ``postgres`` user."""
        return self.sandbox.exec_argv(SERVER_HOST, argv, user="postgres")

    def psql_argv(self) -> list[str]:
        """argv of psql in the host: the client itself with the wrapper's environment, once known."""
        if self.client is None:
            return ["psql"]
        path, env = self.client
        return ["env", *(f"{k}={v}" for k, v in env.items() if k != "PATH"), path]

    def shell_argv(self) -> list[str]:
        """The example pages' shell: the user's, with the wrapper's environment and the client's folder
        first in PATH, so that the page's ``psql`` is the program the wrapper would run."""
        argv = self.sandbox.shell_argv(SERVER_HOST)
        if self.client is None or "bash" not in argv:
            return argv
        path, env = self.client
        i = len(argv) - 1 - argv[::-1].index("bash")
        extra = {"PGCONNECT_TIMEOUT": str(CONNECT_WAIT), **env,
                 "PATH": str(Path(path).parent) + ":" + env.get("PATH", "/usr/local/bin:/bin:/usr/bin")}
        return [*argv[:i], *(f"{k}={v}" for k, v in extra.items()), *argv[i:]]

    @staticmethod
    def _read_client(stdout: str) -> tuple[str, dict[str, str]] | None:
        """The client and the wrapper's environment, from what psql's ``\\!`` printed after the mark."""
        _, mark, after = stdout.partition(_ENV_MARK)
        lines = [x.strip() for x in after.splitlines() if x.strip()]
        if not mark or not lines or not lines[-1].startswith("/") or not lines[-1].endswith("/psql"):
            return None
        env = {m.group(1): m.group(2) for x in lines[:-1] if (m := _WRAPPER_ENV.match(x))}
        return lines[-1], env

    def start(self) -> None:
        self.boot()
        self.setup()

    def boot(self) -> None:
        """Bring the host and its cluster up in a sandbox of this run's own: ``runbook-site``, or
        ``runbook-site-N`` while other runs use the first ones (each owned by its run; one left by a
        run that died is removed first).  On the loopback fallback the N-th uses 127.0.0.(251-N), or
        the next address down where nothing outside listens on PostgreSQL's port (another program's server)."""
        from ..sandbox import SandboxError, SandboxHost, cleanup_abandoned, up_unused

        netns = self.sandbox.network == "netns"
        try:
            cleanup_abandoned(self.sandbox.root)
            self.sandbox = up_unused(self.sandbox, fresh=True, hosts=lambda n: [
                SandboxHost(SERVER_HOST, SERVER_ADDRESS if netns else _free_address(n))])
            self._up = True
            self.sandbox.create_cluster(SERVER_HOST, self.pg_version)
        except SandboxError as exc:
            raise EnvironmentLimit(f"the example server: {exc}") from exc

    def setup(self) -> None:
        """The server's settings, the user's role, a template database per site (``settings``)."""
        user = self.sandbox.user
        setup = [f"ALTER SYSTEM SET {setting};" for setting in EXAMPLE_SPEED] if self.sandbox.speed else []
        if setup:
            setup.append("SELECT pg_reload_conf();")
        setup.append(f"CREATE ROLE {ident(user)} SUPERUSER LOGIN;")
        names = [f"{TEMPLATE_DB}_{i}" for i in range(len(self.settings))]
        setup += [f"CREATE DATABASE {name} OWNER {ident(user)};" for name in names]
        setup += ["SELECT current_setting('data_directory') AS runbook_data \\gset",  # (its postmaster.pid)
                  f"\\echo {_DATA_MARK} :runbook_data"]
        # psql's environment as the wrapper sets it and the client it runs (psql's parent process)
        setup += [f"\\echo {_ENV_MARK}", "\\! env; readlink /proc/$PPID/exe"]
        cp = self._psql("postgres", "\n".join(setup) + "\n")  # one session: about 40 ms less per statement
        if cp.returncode != 0:
            raise EnvironmentLimit(f"the example server: cannot set it up: {cp.stderr.strip()}")
        self.client = self._read_client(cp.stdout)
        found = re.search(rf"^{_DATA_MARK} (/.*)$", cp.stdout, re.MULTILINE)
        self.data_directory = found.group(1).strip() if found else ""
        for name, s in zip(names, self.settings, strict=True):
            self.templates[s.root] = name
            if s.prelude.strip() and s.prelude_template:
                error = self.run_prelude(name, s)
                if error:
                    self.prelude_errors[s.root] = error
            if s.root not in self.prelude_errors:
                self.versions[s.root] = self._versions(name, s)

    def _versions(self, database: str, s: SiteSettings) -> dict[str, str]:
        """What is installed, as a page of the site sees it (with the prelude run where it is not
        in the template: the extension's version ``CREATE EXTENSION`` would install)."""
        cp = self._psql(database, VERSIONS_SQL, single=True, options=("-A", "-t"))
        return parse_versions(cp.stdout) if cp.returncode == 0 else {}

    def run_prelude(self, database: str, s: SiteSettings) -> str | None:
        """Run the site's prelude in ``database``; the error (with runbook.toml's line), or None."""
        refused = prelude_refused(s)
        if refused:
            return refused
        try:
            cp = self._psql(database, s.prelude)
        except RunbookError as exc:  # (a statement that never ends: the prelude's first line)
            return f"{_prelude_at(s, s.prelude_line)} failed: {exc.message}"
        if cp.returncode == 0:
            return None
        m = re.search(r"psql:<stdin>:(\d+): (.*)", cp.stderr)
        line = s.prelude_line + int(m.group(1)) - 1 if m else s.prelude_line
        text = m.group(2) if m else cp.stderr.strip()
        return f"{_prelude_at(s, line)} failed: {text}"

    def recover(self) -> float:
        """After a crash: pages wait (``ready`` cleared) until the server accepts connections again,
        one recovery at a time (the others wait for it), none once the server is being stopped or
        has stopped; the seconds waited. PostgreSQL restarts its processes by itself
        (``restart_after_crash``): that is waited for, ``RECOVERY_WAIT`` seconds at most, by one
        command in the host that also ends at once when no postmaster runs (:meth:`_wait_accepting`).
        Then the runner restarts the cluster itself, in the host, as the host's start did
        (:meth:`_restart`). A postmaster so started cannot outlive the sandbox: ``crun exec`` runs it
        inside the host's cgroups, which no process inside can leave, and the sandbox's teardown
        freezes them and SIGKILLs every task in them (runner/sandbox/cgroups.py, ``kill_hosts``).
        When the server does not come back (a restart failed, or it still did not accept connections
        after ``RECOVERY_WAIT``), :attr:`stopped` says why and every page still to run fails at once
        with it; no recovery is tried again."""
        t0 = time.monotonic()
        if self.stopping.is_set() or self.stopped is not None:
            return 0.0
        if not self._recovering.acquire(blocking=False):
            with self._recovering:  # another thread recovers the server: wait for it
                return time.monotonic() - t0
        try:
            self.ready.clear()
            state = self._wait_accepting(RECOVERY_WAIT)
            if state != "up":
                self.recoveries += 1
            if state == "gone":
                self._restart(t0)
            elif state == "waiting" and not self.stopping.is_set() and not self._accepts():
                self.stopped = (f"the example server stopped: it did not accept connections within "
                                f"{RECOVERY_WAIT:g}s after a crash")
                self._event(ServerEventKind.STOPPED, t0, self.stopped)
            elif state != "up":
                self._event(ServerEventKind.RECOVERED, t0, "PostgreSQL restarted its processes after a crash")
            return time.monotonic() - t0
        finally:
            self.ready.set()
            self._recovering.release()

    @property
    def restarts(self) -> int:
        """Times the runner restarted the cluster (its postmaster gone)."""
        return sum(e.kind == ServerEventKind.RESTARTED for e in self.events)

    def _event(self, kind: ServerEventKind, t0: float, detail: str) -> None:
        self.events.append(ServerEvent(kind, time.monotonic() - t0, detail))

    def _restart(self, t0: float) -> None:
        """The postmaster is gone (killed, or by the host's memory limit): start the cluster again in
        the host (as the host's start did: the systemctl shim, runner/data/systemctl; its stale
        postmaster.pid removed first, which lets the shim return as soon as the server is ready rather
        than after pg_ctlcluster's probes, about 2 s), a few tries while the old server processes end;
        :attr:`stopped` set when it does not come back."""
        why = self._trouble() or "its postmaster was gone"
        error = ""
        for _ in range(RESTART_TRIES):
            if self.stopping.is_set():
                return
            argv = self.sandbox.exec_argv(SERVER_HOST, ["bash", "-c", f'{self._dead_postmaster()}rm -f "$1"; '
                                                        'exec systemctl start "$2"', "-", self._pid_file(),
                                                        f"postgresql@{self.pg_version}-main"])
            try:
                cp = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
                error = " ".join((cp.stderr or cp.stdout).split())
                error = error if len(error) <= 300 else "…" + error[-300:].split(" ", 1)[-1]
                # (a failed start may have met a server started meanwhile: it counts if it accepts)
                if self._wait_accepting(RESTART_WAIT if cp.returncode == 0 else 0) in ("up", "accepting"):
                    self._event(ServerEventKind.RESTARTED, t0, f"{why}: the runner restarted the cluster")
                    return
            except subprocess.TimeoutExpired:
                error = "systemctl start did not return within 60s"
            time.sleep(0.3)  # (the old server processes still hold its shared memory)
        self.stopped = f"the example server stopped: {why}, and restarting it failed: {error or 'it did not start'}"
        self._event(ServerEventKind.STOPPED, t0, self.stopped)

    def _trouble(self) -> str:
        """What the sandbox finds (the postmaster gone, a limit of the host reached), or ""."""
        try:
            return self.sandbox.diagnose(SERVER_HOST) or ""
        except Exception:  # noqa: BLE001 (a diagnosis only; the restart is what matters)
            return ""

    def check_running(self) -> None:
        """Raise the reason the server stopped (a page still to run fails with it at once)."""
        if self.stopped is not None:
            raise RunbookError(self.stopped)

    def _pid_file(self) -> str:
        return self.data_directory + "/postmaster.pid"

    def _dead_postmaster(self) -> str:
        """Shell text going on (``&&``) only when the process postmaster.pid names is not alive in the
        host (none, or a zombie)."""
        return (f'p=$(head -n1 {shlex.quote(self._pid_file())} 2>/dev/null); '
                '{ [ -n "$p" ] && grep -qs "^State:[[:space:]]*[^Z]" "/proc/$p/status"; } || ')

    def _wait_accepting(self, seconds: float) -> str:
        """Wait until the server accepts connections, ``seconds`` at most, by one command in the host
        asking ``pg_isready`` every 20 ms (a command in the host per try took longer than PostgreSQL's
        recovery itself): ``up`` when it did at the first try (another recovery is over), ``accepting``
        after a wait; ``gone`` at once when it does not while the process of
        postmaster.pid is not alive (no postmaster: nothing will recover it); else ``waiting`` (the
        caller then asks with psql)."""
        if self.stopping.is_set():
            return "waiting"
        isready = ["pg_isready"]
        if self.client is not None:
            isready = [*self.psql_argv()[:-1], str(Path(self.client[0]).with_name("pg_isready"))]
        gone = f"{self._dead_postmaster()}exit 3; " if self.data_directory else ""
        script = (f'"$@" -q && exit 0; end=$((SECONDS+{int(seconds) + 1})); '
                  f'until "$@" -q; do {gone}[ $SECONDS -ge $end ] && exit 1; sleep 0.02; done; exit 4')
        argv = self.sandbox.exec_argv(SERVER_HOST, ["bash", "-c", script, "-", *isready], user="postgres")
        try:
            cp = subprocess.run(argv, capture_output=True, timeout=seconds + 10, check=False)
        except subprocess.TimeoutExpired:
            return "waiting"
        return {0: "up", 4: "accepting", 3: "gone"}.get(cp.returncode, "waiting")

    def _accepts(self) -> bool:
        """Whether a session starts and runs ``SELECT 1`` (``CONNECT_WAIT`` seconds at most to connect)."""
        try:
            cp = self._psql(f"dbname=postgres connect_timeout={CONNECT_WAIT}", "SELECT 1", single=True)
        except RunbookError:  # (connected, never answered: PSQL_WAIT)
            return False
        return cp.returncode == 0

    def prepare(self, pages: list[tuple[Page, SiteSettings]]) -> None:
        """Create the pages' databases ahead, in this order, while earlier pages run."""
        self.databases.prepare(pages)

    def new_database(self, page: Page, s: SiteSettings, *, suffix: str = "", fresh: bool = False) -> str:
        """A fresh database for ``page`` (:meth:`DatabaseMaker.new_database`)."""
        return self.databases.new_database(page, s, suffix=suffix, fresh=fresh)

    def stop(self) -> None:
        self.stopping.set()
        self.databases.stop()
        self.shells.close_all()
        if self._up:  # (never another run's server: only the sandbox this one brought up)
            self.sandbox.down(fast=self.sandbox.speed)
            self._up = False


def _free_address(n: int) -> str:
    """The loopback address of the n-th example server: 127.0.0.(251-n), or the next one down where
    nothing listens on PostgreSQL's port (a server outside any sandbox of this run's)."""
    import socket

    for k in range(n, 100):
        address = f"127.0.0.{251 - k}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.3)
            if sock.connect_ex((address, 5432)) != 0:
                return address
    return f"127.0.0.{251 - n}"


class EarlyServer:
    """The example server's host and cluster brought up in a thread of their own from the first page
    read that needs them, while the other pages are read (their sites' templates come after: :meth:`finish`)."""

    def __init__(self, pg_version: str | None, speed: bool) -> None:
        self.pg_version = pg_version
        self.speed = speed
        self.server: ExampleServer | None = None
        self.took = 0.0
        """Seconds spent starting the server (host, cluster, then templates)."""
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def begin(self) -> None:
        if self.server is not None or self.pg_version is None:
            return
        self.server = ExampleServer([], self.pg_version, speed=self.speed)
        self._thread = threading.Thread(target=self._boot, daemon=True)
        self._thread.start()

    def _boot(self) -> None:
        assert self.server is not None
        t0 = time.monotonic()
        try:
            self.server.boot()
        except BaseException as exc:  # raised again where the run waits for the server
            self._error = exc
        self.took += time.monotonic() - t0

    def wait(self) -> None:
        """The host and cluster are up (or their error is raised)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def finish(self, settings: list[SiteSettings]) -> None:
        """Once the host is up: the templates of ``settings`` (the sites whose pages use the server)."""
        assert self.server is not None
        self.wait()
        t0 = time.monotonic()
        self.server.settings = settings
        self.server.setup()
        self.took += time.monotonic() - t0

    def abandon(self) -> None:
        """The run ends before it used the server (an error, a signal): the server is stopped whole."""
        if self.server is None:
            return
        if self._thread is not None:
            self._thread.join()
        self.server.stop()
