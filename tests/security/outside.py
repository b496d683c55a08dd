"""The machine's side of the escape tests: canaries the test sets up (a process, listeners, files),
`runbook run` in a subprocess, and what is left on the machine afterwards.

Every canary carries the run's unique tag (``rbesc`` + 8 hex digits) in its name, command line or
environment, and :meth:`Machine.clean` removes whatever carries it, whatever the tests found."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostile import Targets

RUNBOOK = Path(sys.executable).parent / "runbook"
WRITABLE = (Path("/etc"), Path("/root"), Path("/var/tmp"), Path("/home"), Path("/tmp"))
NS_KINDS = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup")


def state_root() -> Path:
    """Where the sandbox keeps the state of each sandbox (runner.sandbox's DEFAULT_ROOT)."""
    try:
        from runner import sandbox
    except ImportError:
        return Path("/var/lib/runbook/sandboxes")
    return Path(getattr(sandbox, "DEFAULT_ROOT", "/var/lib/runbook/sandboxes"))


class Listener:
    """A listening socket served by a thread that records every connection (and its first bytes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        sock.listen(64)
        sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(200))
                except OSError:
                    self.hits.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def _root_device() -> tuple[str | None, tuple[int, int] | None]:
    """The block device the machine's / is mounted from, and its numbers (None when not a device)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            source = fields[fields.index("-") + 2]
            with contextlib.suppress(OSError):
                st = os.stat(source)
                if stat.S_ISBLK(st.st_mode):
                    return source, (os.major(st.st_rdev), os.minor(st.st_rdev))
            return None, None
    return None, None


@dataclass
class Machine:
    """The canaries: a process, a Unix socket (path and abstract), a TCP listener on 127.0.0.1 and
    files in /etc and /var/tmp; a secret in runbook's environment; the shadow file's content."""

    tag: str = field(default_factory=lambda: "rbesc" + secrets.token_hex(4))
    secret: str = field(default_factory=lambda: secrets.token_hex(16))
    canary: subprocess.Popen[bytes] | None = None
    victim: subprocess.Popen[bytes] | None = None
    listeners: dict[str, Listener] = field(default_factory=dict)
    tcp_port: int = 0
    existing: dict[Path, str] = field(default_factory=dict)
    shadow: bytes = b""
    identity: tuple[str, str] = ("", "")
    """The machine's host name and NIS domain name before the runs."""
    more_places: set[Path] = field(default_factory=set)
    """Folders of the machine where a guide may have written a tagged file (cleaned too)."""
    root_uuid: str = ""
    """The UUID of the machine's root file system, read from its device (empty if it has none)."""

    def start(self) -> None:
        self.identity = identity()
        self.shadow = Path("/etc/shadow").read_bytes()
        device, _ = _root_device()
        if device:
            self.root_uuid = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", device], capture_output=True,
                                            text=True, check=False).stdout.strip()
        self.canary, self.victim = (
            subprocess.Popen(["bash", "-c", f"exec -a {self.tag}-{name} sleep 600"], stdin=subprocess.DEVNULL,
                             start_new_session=True) for name in ("canary", "victim"))
        for name, path in (("unix", self.unix_path), ("deputy", Path(f"/var/tmp/{self.tag}-deputy.sock"))):
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.bind(str(path))
            os.chmod(path, 0o777)  # anyone may connect: only the sandbox's walls keep a host out
            self.listeners[name] = Listener(unix)
        abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        abstract.bind("\0" + self.tag)
        self.listeners["abstract"] = Listener(abstract)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        self.tcp_port = tcp.getsockname()[1]
        self.listeners["tcp"] = Listener(tcp)
        for path in (Path(f"/etc/{self.tag}-existing"), Path(f"/var/tmp/{self.tag}-keep")):
            path.write_text(f"planted by the escape test {self.tag}\n")
            self.existing[path] = path.read_text()

    @property
    def ipc_key(self) -> int:
        return int(self.tag.removeprefix("rbesc"), 16) & 0x7FFFFFFF or 1

    def sysv_objects(self) -> list[str]:
        """The machine's System V IPC objects (shared memory, queues, semaphores) with the test's key."""
        found = []
        for kind in ("shm", "msg", "sem"):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields and int(fields[0]) == self.ipc_key:
                        found.append(f"{kind} id {fields[1]}")
        return found

    @property
    def unix_path(self) -> Path:
        return Path(f"/var/tmp/{self.tag}.sock")

    def targets(self) -> Targets:
        assert self.canary is not None and self.victim is not None
        device, numbers = _root_device()
        root = os.stat("/")
        ns = own_namespaces()
        return Targets(self.tag, self.canary.pid, str(self.unix_path), self.tag, self.tcp_port, self.victim.pid,
                       (root.st_dev, root.st_ino), ns["mnt"], ns["net"], self.ipc_key,
                       f"{os.major(root.st_dev)}:{os.minor(root.st_dev)}", device, numbers)

    def tagged_processes(self, mark: str | None = None) -> list[tuple[int, str]]:
        """Processes (but the canaries and this one) naming ``mark`` (default: the tag) in their command
        line or environment: (pid, command line)."""
        needle = (mark or self.tag).encode()
        skip = {os.getpid(), *(p.pid for p in (self.canary, self.victim) if p is not None)}
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in skip:
                continue
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{d}/cmdline").read_bytes()
                if needle in cmd or needle in Path(f"/proc/{d}/environ").read_bytes():
                    found.append((int(d), cmd.replace(b"\0", b" ").decode(errors="replace").strip()))
        return found

    def clean(self) -> None:
        """Remove every trace of the tag: processes, sandboxes, mounts, files, the listeners."""
        for _ in range(3):
            for pid, _cmd in self.tagged_processes():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for proc in (self.canary, self.victim):
            if proc is not None:
                proc.kill()
                proc.wait()
        for d in state_root().glob(f"{self.tag}-*"):
            subprocess.run([str(RUNBOOK), "sandbox", "down", "--name", d.name], capture_output=True, check=False)
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            if self.tag in line.split()[4]:
                subprocess.run(["umount", "-l", line.split()[4]], capture_output=True, check=False)
        for listener in self.listeners.values():
            listener.close()
        for kind, flag in (("shm", "-M"), ("msg", "-Q"), ("sem", "-S")):
            if any(o.startswith(kind) for o in self.sysv_objects()):
                subprocess.run(["ipcrm", flag, str(self.ipc_key)], capture_output=True, check=False)
        if self.identity[0] and identity() != self.identity:
            Path("/proc/sys/kernel/hostname").write_text(self.identity[0])
            Path("/proc/sys/kernel/domainname").write_text(self.identity[1])
        for folder in (*WRITABLE, *self.more_places):
            for path in folder.glob(f"{self.tag}*"):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        for d in state_root().glob(f"{self.tag}-*"):
            shutil.rmtree(d, ignore_errors=True)


@dataclass
class Run:
    """One `runbook run` of a hostile guide and everything it wrote."""

    stem: str
    folder: Path
    returncode: int = -1
    stdout: str = ""
    stderr: str = ""
    veths_before: set[str] = field(default_factory=set)
    ended: float = 0.0
    """When runbook ended (seconds after boot)."""
    peak_kb: int = 0
    """runbook's peak resident memory (VmHWM), watched while it ran."""

    @property
    def guide(self) -> Path:
        return self.folder / f"{self.stem}.md"

    def start(self, text: str, secret: str) -> subprocess.Popen[str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.guide.write_text(text, encoding="utf-8")
        self.veths_before = machine_veths()
        f = self.folder
        proc = subprocess.Popen(
            [str(RUNBOOK), "run", str(self.guide), "--fresh", "--timeout", "60", "--json", str(f / "r.json"),
             "--junit", str(f / "r.xml"), "--html", str(f / "r.html"), "--transcripts", str(f / "t")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, "RB_ESCAPE_SECRET": secret})
        threading.Thread(target=self._watch_memory, args=(proc,), daemon=True).start()
        return proc

    def _watch_memory(self, proc: subprocess.Popen[str]) -> None:
        while proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.1)

    def finish(self, proc: subprocess.Popen[str], timeout: float = 240) -> None:
        try:
            self.stdout, self.stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            self.stdout, self.stderr = proc.communicate()
        self.returncode = proc.returncode
        self.ended = uptime()

    def transcript(self) -> str:
        """The host's transcript without its time stamps."""
        path = self.folder / "t" / self.stem / "primary.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return re.sub(r"(?m)^\d\d:\d\d:\d\d ", "", text)

    def everything(self) -> str:
        """Every output of the run: stdout, stderr, the reports, the transcripts (raw and without
        time stamps)."""
        out = [self.stdout, self.stderr, self.transcript()]
        out += [p.read_text(errors="replace") for p in sorted(self.folder.rglob("*"))
                if p.is_file() and p != self.guide]
        return "\n".join(out)

    def report(self) -> dict[str, Any]:
        path = self.folder / "r.json"
        return json.loads(path.read_text()) if path.exists() else {"steps": []}

    def status(self, step: str) -> str | None:
        return next((s["status"] for s in self.report()["steps"] if s["id"] == step), None)

    def namespaces(self) -> dict[str, int]:
        """The host's namespaces as its shell saw them (``ns-net=net:[4026532…]``)."""
        return {k: int(i) for k, i in re.findall(r"(?m)^ns-(\w+)=\w+:\[(\d+)\]$", self.transcript())}

    def machine_mounts(self) -> list[tuple[Path, str]]:
        """Mounts of the machine's disk in the host, as it listed them: (folder of the machine, where)."""
        return [(Path(root), point) for root, point in re.findall(r"(?m)^machine-mount=(/\S*) at (\S+)$",
                                                                    self.transcript())]

    def cgroups(self) -> list[tuple[str, str]]:
        """The host's cgroups as its shell saw them: (controllers, path)."""
        return re.findall(r"(?m)^cgroup-line=\d+:([^:\n]*):(/\S*)$", self.transcript())


class DiskWatch:
    """While the runs go: the largest size each file of the sandboxes' folders on the machine's own disk
    reached (files of 1 MiB and more)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.dev = os.stat("/").st_dev
        self.sizes: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for d in state_root().glob(f"{self.tag}-*"):
                for top, _dirs, files in os.walk(d):
                    for name in files:
                        with contextlib.suppress(OSError):
                            path = os.path.join(top, name)
                            st = os.lstat(path)
                            if st.st_dev == self.dev and st.st_blocks * 512 >= 1 << 20:
                                self.sizes[path] = max(self.sizes.get(path, 0), st.st_blocks * 512)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def identity() -> tuple[str, str]:
    """The machine's host name and NIS domain name."""
    kernel = Path("/proc/sys/kernel")
    return (kernel / "hostname").read_text().strip(), (kernel / "domainname").read_text().strip()


def own_namespaces() -> dict[str, int]:
    return {k: os.stat(f"/proc/self/ns/{k}").st_ino for k in NS_KINDS if os.path.exists(f"/proc/self/ns/{k}")}


def machine_veths() -> set[str]:
    cp = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True, check=False)
    return {line.split(":")[1].strip() for line in cp.stdout.splitlines() if ":" in line}


def _started(pid: str) -> float:
    """Seconds after boot at which process ``pid`` started."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _of_another_sandbox(pid: str, stem: str) -> bool:
    """Whether process ``pid`` is in the cgroup of a host of another sandbox (``…/runbook/NAME-KEY/HOST``):
    its namespace has the number one of the run's had, but it is not the run's."""
    text = Path(f"/proc/{pid}/cgroup").read_text()
    return "/runbook/" in text and f"/runbook/{stem}" not in text


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def leftovers(run: Run, machine: Machine) -> list[str]:
    """What the run left on the machine: processes naming its guide or living in its host's
    namespaces, mounts, namespaces, state, cgroups, veth links.

    Namespace inode numbers are reused at once: a process in a namespace with one of the host's
    numbers counts only if it started before the run ended, is in no other sandbox's cgroup and
    carries no marker of the test's guides (a survivor of another run may have got the number;
    survivors have a test of their own); mounts (namespace files too) count when they name the run's
    sandbox."""
    found = [f"process {pid}: {cmd}" for pid, cmd in machine.tagged_processes(run.stem)]
    ours = own_namespaces()
    inodes = {ino for kind, ino in run.namespaces().items() if ours.get(kind) != ino}
    marked = {pid for pid, _ in machine.tagged_processes()}  # the guides' own markers: judged by their tests
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) not in marked:
            for kind in NS_KINDS:
                with contextlib.suppress(OSError):
                    if (os.stat(f"/proc/{d}/ns/{kind}").st_ino in inodes and _started(d) <= run.ended
                            and not _of_another_sandbox(d, run.stem)):
                        cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        found.append(f"process {d} in the host's {kind} namespace (started {_started(d):.2f} s after"
                                     f" boot, the run ended at {run.ended:.2f} s): {cmd}")
    found += [f"mount: {line}" for line in Path("/proc/self/mountinfo").read_text().splitlines() if run.stem in line]
    found += [f"state: {p}" for p in state_root().glob(f"{run.stem}*")]
    for base in (Path("/run"), Path("/var/run")):
        with contextlib.suppress(OSError):
            found += [f"runtime state: {p}" for p in base.glob(f"*/{run.stem}*")]
            found += [f"runtime state: {p}" for p in base.glob(f"*/*/{run.stem}*")]
    for top, _dirs, files in os.walk("/run/runbook-sandbox"):  # the sandbox's runtime records (id ranges …)
        for name in files:
            with contextlib.suppress(OSError):
                record = Path(top, name)
                st = record.lstat()  # regular files only: a FIFO (crun's exec.fifo) would block a read
                if stat.S_ISREG(st.st_mode) and st.st_size < 4096 and run.stem in record.read_text(errors="replace"):
                    found.append(f"runtime record: {record}")
    found += [f"cgroup: {p}" for p in cgroup_dirs(run.stem)]
    for controllers, path in run.cgroups():
        if path.strip("/") and own_cgroup(controllers) != path:
            for ctl in controllers.split(","):
                folder = Path("/sys/fs/cgroup") / (ctl.removeprefix("name=") or "unified") / path.lstrip("/")
                if folder.is_dir():
                    found.append(f"cgroup of the host: {folder}")
    found += [f"veth appeared in the machine's network namespace during the run: {v}"
              for v in machine_veths() - run.veths_before]
    return found


def own_cgroup(controllers: str) -> str | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctl, path = line.split(":", 2)
        if ctl == controllers:
            return path
    return None


def cgroup_dirs(name: str) -> list[Path]:
    """Cgroup folders (any hierarchy, any depth) whose name contains ``name``."""
    found = []
    for top, dirs, _files in os.walk("/sys/fs/cgroup"):
        found += [Path(top) / d for d in dirs if name in d]
    return found
