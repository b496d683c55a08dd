"""The exported Ansible playbook, run for real: on fresh sandbox hosts, each reached through an
OpenSSH server started inside its namespace (on its own loopback address)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIXTURES
from e2e import needs_sandbox
from helpers import bound_pg_version

from runbook.export import export
from runbook.load import load_graph
from runner.cli.export import sandbox_graph

pytestmark = [needs_sandbox, pytest.mark.sandbox, pytest.mark.slow]

PLAIN = FIXTURES / "guides" / "streaming-replication-plain.ja.md"
PORT = 2222


def _free_addresses(n: int, start: int = 200) -> list[str]:
    out: list[str] = []
    for last in range(start, 250):
        busy = False
        for port in (5432, PORT):
            with socket.socket() as s:
                s.settimeout(0.2)
                busy = busy or s.connect_ex((f"127.0.0.{last}", port)) == 0
        if not busy:
            out.append(f"127.0.0.{last}")
        if len(out) == n:
            return out
    pytest.skip("no free loopback addresses")


def _ansible_playbook() -> str | None:
    venv = Path(os.environ.get("VIRTUAL_ENV", Path(__file__).resolve().parent.parent / ".venv")) / "bin"
    candidate = venv / "ansible-playbook"
    return str(candidate) if candidate.exists() else shutil.which("ansible-playbook")


@pytest.mark.skipif(_ansible_playbook() is None or not Path("/usr/sbin/sshd").exists(),
                    reason="needs ansible-core and openssh-server (scripts/setup installs both)")
def test_playbook_runs_on_sandbox_hosts(tmp_path: Path) -> None:
    from runner.sandbox import Sandbox, SandboxHost

    graph = load_graph(PLAIN)
    addresses = dict(zip([h.id for h in graph.hosts], _free_addresses(len(graph.hosts)), strict=True))
    files = export(sandbox_graph(graph, addresses), "ansible")
    assert "passw0rd" not in files["playbook.yml"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    box = Sandbox(f"ansible-{os.getpid()}", [SandboxHost(h, a) for h, a in addresses.items()],
                  root=tmp_path / "sandboxes")
    try:
        box.up()
        for host, address in addresses.items():
            setup = (
                "set -e; mkdir -p /run/sshd; ssh-keygen -q -t ed25519 -N '' -f /tmp/sshd_host_key; "
                f"printf '%s\\n' 'Port {PORT}' 'ListenAddress {address}' 'HostKey /tmp/sshd_host_key' "
                "'PasswordAuthentication no' 'KbdInteractiveAuthentication no' 'UsePAM yes' 'StrictModes no' "
                f"'PidFile /tmp/sshd.pid' 'AllowUsers {box.user}' > /tmp/sshd_config; "
                f"install -d -m 700 -o {box.user} -g {box.user} ~{box.user}/.ssh; "
                f"cat > ~{box.user}/.ssh/authorized_keys; chown {box.user}: ~{box.user}/.ssh/authorized_keys; "
                "/usr/sbin/sshd -f /tmp/sshd_config"
            )
            res = subprocess.run(box.exec_argv(host, ["bash", "-c", setup]),
                                 input=(tmp_path / "id_ed25519.pub").read_text(), text=True, capture_output=True)
            assert res.returncode == 0, res.stderr
        env = {**os.environ, "RUNBOOK_SECRET_REPLICATION_PASSWORD": "passw0rd", "ANSIBLE_HOST_KEY_CHECKING": "False",
               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"), "ANSIBLE_NOCOLOR": "1"}
        extra = (f"ansible_port={PORT} ansible_user={box.user} ansible_ssh_private_key_file={key} "
                 "ansible_python_interpreter=/usr/bin/python3 "
                 "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'")
        t0 = time.monotonic()
        res = subprocess.run([_ansible_playbook() or "ansible-playbook", "-i", str(tmp_path / "inventory.yml"),
                              str(tmp_path / "playbook.yml"), "-e", extra], env=env, capture_output=True,
                             text=True, timeout=900)
        assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
        assert "failed=0" in res.stdout and "unreachable=0" in res.stdout
        assert "passw0rd" not in res.stdout
        print(f"ansible-playbook on 3 sandbox hosts: {time.monotonic() - t0:.1f}s")
        query = "SELECT title FROM entries WHERE title LIKE '%replication%' ORDER BY title;"
        for standby in ("standby1", "standby2"):
            deadline = time.monotonic() + 30
            while True:
                out = box.run(standby, ["psql", "-X", "-At", "--dbname", "blog", "-c", query], user=box.user)
                lines = out.stdout.splitlines()
                if lines == ["PGroonga and replication", "PostgreSQL 15 and replication"] or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert lines == ["PGroonga and replication", "PostgreSQL 15 and replication"], out
        # the edits were made by ansible.builtin.replace on the real files
        conf = box.run("primary", ["cat", f"/etc/postgresql/{bound_pg_version()}/main/postgresql.conf"]).stdout
        assert f"listen_addresses = 'localhost,{addresses['primary']}'" in conf
    finally:
        box.down()
