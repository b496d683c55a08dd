"""Targets other than the sandbox: `local`, and `ssh` to a real OpenSSH server on loopback whose
password prompt is answered from a secret."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES

from runner.cli import main as run

GUIDE = FIXTURES / "guides" / "remote-demo.ja.md"
DEMO = Path("/tmp/runbook-remote-demo")
USER = "rbsshtest"

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("sudo") is None,
                                reason="needs root and sudo (scripts/setup)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, str]]:
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("openssh-server is not installed (scripts/setup installs it)")
    password = secrets.token_urlsafe(12)
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], check=False, capture_output=True)
    subprocess.run(["chpasswd"], input=f"{USER}:{password}", text=True, check=True)
    sudoers = Path("/etc/sudoers.d/runbook-test-ssh")
    sudoers.write_text(f"{USER} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    key = tmp_path / "hostkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    port = _free_port()
    conf = tmp_path / "sshd_config"
    conf.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\nPasswordAuthentication yes\n"
                    "KbdInteractiveAuthentication no\nPubkeyAuthentication no\nUsePAM no\n"
                    f"PidFile {tmp_path}/sshd.pid\nAllowUsers {USER}\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(conf), "-E", str(tmp_path / "sshd.log")])
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, password
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        sudoers.unlink(missing_ok=True)
        subprocess.run(["pkill", "-u", USER], check=False)
        subprocess.run(["userdel", "-r", USER], check=False, capture_output=True)
        shutil.rmtree(DEMO, ignore_errors=True)


def _inventory(tmp_path: Path, body: str) -> Path:
    inv = tmp_path / "hosts.toml"
    inv.write_text(body + '\n[secrets]\npassword = "RB_TEST_DEMO_SECRET"\n')
    return inv


def _ssh_inventory(tmp_path: Path, port: int, option: str) -> Path:
    """An inventory reaching the test sshd as USER, its password in $RB_TEST_SSH_PW."""
    return _inventory(tmp_path, f'[defaults]\nkind = "ssh"\n[hosts.primary]\naddress = "127.0.0.1"\nport = {port}\n'
                                f'user = "{USER}"\npassword_env = "RB_TEST_SSH_PW"\n'
                                'ssh_options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",'
                                f' "-o", {option}]')


@needs_root
def test_ssh_target_answers_the_login_password_from_a_secret(
    sshd: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port, password = sshd
    monkeypatch.setenv("RB_TEST_SSH_PW", password)
    monkeypatch.setenv("RB_TEST_DEMO_SECRET", "passw0rd")
    inv = _ssh_inventory(tmp_path, port, '"LogLevel=ERROR"')
    report = tmp_path / "r.json"
    status = run(["run", str(GUIDE), "--inventory", str(inv), "--json", str(report),
                  "--transcripts", str(tmp_path / "t"), "--timeout", "30"])
    err = capsys.readouterr().err
    assert status == 0, err[-3000:]
    data = json.loads(report.read_text())
    assert data["target"] == "ssh"
    edit = next(a for s in data["steps"] for a in s["actions"] if a["kind"] == "file_edit")
    assert edit["status"] == "passed"
    assert (DEMO / "app.conf").read_text() == "# demo\ngreeting = bonjour\n"
    assert (DEMO / "app.conf.runbook-bak").exists()
    transcript = (tmp_path / "t" / "remote-demo.ja" / "primary.log").read_text()
    assert "login: answered the password prompt" in transcript
    assert "length 8" in transcript
    everything = transcript + report.read_text() + err
    assert password not in everything and "passw0rd" not in everything


@needs_root
def test_ssh_target_with_a_wrong_password_fails_clearly(
    sshd: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port, _ = sshd
    monkeypatch.setenv("RB_TEST_SSH_PW", "not-the-password")
    monkeypatch.setenv("RB_TEST_DEMO_SECRET", "passw0rd")
    inv = _ssh_inventory(tmp_path, port, '"NumberOfPasswordPrompts=1"')
    report = tmp_path / "r.json"
    status = run(["run", str(GUIDE), "--inventory", str(inv), "--json", str(report),
                  "--transcripts", str(tmp_path / "t"), "--timeout", "20"])
    assert status == 1
    data = json.loads(report.read_text())
    failed = next(a for s in data["steps"] for a in s["actions"] if a["status"] == "failed")
    assert "primary" in failed["message"]
    assert "not-the-password" not in report.read_text()


@needs_root
def test_local_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RB_TEST_DEMO_SECRET", "passw0rd")
    inv = _inventory(tmp_path, '[defaults]\nkind = "local"\n')
    report = tmp_path / "r.json"
    try:
        status = run(["run", str(GUIDE), "--inventory", str(inv), "--json", str(report),
                      "--transcripts", str(tmp_path / "t")])
        err = capsys.readouterr().err
        assert status == 0, err[-3000:]
        assert (DEMO / "app.conf").read_text() == "# demo\ngreeting = bonjour\n"
        # a second run: the file edit is already in place (step 1 rewrites the file, so run step 2 only)
        status = run(["run", str(GUIDE), "--inventory", str(inv), "--json", str(report), "--only", "configure",
                      "--transcripts", str(tmp_path / "t")])
        assert status == 0
        data = json.loads(report.read_text())
        edit = next(a for s in data["steps"] for a in s["actions"] if a["kind"] == "file_edit")
        assert edit["status"] == "already-applied"
    finally:
        shutil.rmtree(DEMO, ignore_errors=True)


def test_non_sandbox_run_needs_its_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RB_TEST_DEMO_SECRET", raising=False)
    inv = _inventory(tmp_path, '[defaults]\nkind = "local"\n')
    assert run(["run", str(GUIDE), "--inventory", str(inv)]) == 2
    assert "$RB_TEST_DEMO_SECRET" in capsys.readouterr().err
