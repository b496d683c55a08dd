"""How the runner reaches a host outside its interactive shell (files, the observer): the embedded
sandbox's hosts, this machine, or hosts over OpenSSH."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path


class Transport:
    """How the runner reaches a host outside its interactive shell (files, the observer)."""

    def shell_argv(self, host: str) -> list[str]:
        raise NotImplementedError

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        raise NotImplementedError

    def sockets(self) -> dict[str, Path]:
        return {}

    def login(self, host: str) -> list[tuple[str, str]]:
        return []

    def namespaces(self, host: str) -> dict[str, int]:
        """{kind: inode} of the namespaces a shell on ``host`` must be inside (sandbox hosts)."""
        return {}

    def observer_user(self) -> str | tuple[int, int]:
        """Who the observer connects to the hosts' Unix sockets as: ``postgres``, or the (uid, gid)
        that is ``postgres`` inside sandbox hosts."""
        return "postgres"

    def observer_roots(self) -> dict[str, tuple[str, str]]:
        """Per host, (root folder, socket folder inside) the observer connects from (sandbox hosts)."""
        return {}

    def diagnose(self, host: str) -> str | None:
        """After a failure on ``host``: what went wrong with the host itself, if it can tell."""
        return None

    def run_root(self, host: str, argv: list[str], data: bytes | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.root_argv(host, argv), input=data, capture_output=True, timeout=timeout,
                              check=False)


class SandboxTransport(Transport):
    def __init__(self, sandbox: object) -> None:
        from ..sandbox import Sandbox

        assert isinstance(sandbox, Sandbox)
        self.sandbox = sandbox

    def shell_argv(self, host: str) -> list[str]:
        return self.sandbox.shell_argv(host)

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return self.sandbox.exec_argv(host, argv)

    def sockets(self) -> dict[str, Path]:
        return {h.name: self.sandbox.socket_dir(h.name) for h in self.sandbox.hosts}

    def namespaces(self, host: str) -> dict[str, int]:
        return self.sandbox.namespace_inodes(host)

    def observer_user(self) -> str | tuple[int, int]:
        return self.sandbox.postgres_ids()

    def observer_roots(self) -> dict[str, tuple[str, str]]:
        return self.sandbox.observer_roots()

    def diagnose(self, host: str) -> str | None:
        return self.sandbox.diagnose(host)


class LocalTransport(Transport):
    def shell_argv(self, host: str) -> list[str]:
        return ["bash", "--noediting", "--noprofile", "--norc", "-i"]

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["sudo", "-n", *argv]


class SshTransport(Transport):
    """Hosts reached with OpenSSH. The interactive session logs in first (answering the password
    prompt from a secret when the inventory names one) and becomes the master of a shared connection,
    which file edits then reuse (``ControlMaster``), so the password is typed once per host."""

    def __init__(self, targets: dict[str, tuple[str, str | None, int | None]], *,
                 passwords: dict[str, str] | None = None, options: dict[str, list[str]] | None = None,
                 control_dir: Path | None = None) -> None:
        import tempfile

        self.targets = targets
        self.passwords = passwords or {}
        self.options: dict[str, list[str]] = options or {}
        self._own_dir = control_dir is None
        self.control_dir = control_dir or Path(tempfile.mkdtemp(prefix="runbook-ssh-"))

    def _dest(self, host: str) -> list[str]:
        address, user, port = self.targets[host]
        dest = f"{user}@{address}" if user else address
        control = ["-o", f"ControlPath={self.control_dir}/%C", "-o", "ControlMaster=auto",
                   "-o", "ControlPersist=120"]
        return control + self.options.get(host, []) + (["-p", str(port)] if port else []) + [dest]

    def shell_argv(self, host: str) -> list[str]:
        return ["ssh", "-tt", *self._dest(host), "exec bash --noediting --noprofile --norc -i"]

    def root_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["ssh", "-o", "BatchMode=yes", *self._dest(host), "sudo -n " + shlex.join(argv)]

    def login(self, host: str) -> list[tuple[str, str]]:
        pw = self.passwords.get(host)
        return [(r"(?i)password:\s*$", pw)] if pw else []

    def stop(self) -> None:
        """End the shared connections; the folder of their sockets goes too (when it is this one's)."""
        for host in self.targets:
            subprocess.run(["ssh", "-O", "exit", *self._dest(host)], capture_output=True, check=False, timeout=10)
        if self._own_dir:
            import shutil

            shutil.rmtree(self.control_dir, ignore_errors=True)

