"""The embedded sandbox's checks before anything starts (no root needed): addresses and names
refused, the cluster command with and without the speed settings, the shims."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sandbox_support import REPO, _uname

from runner.sandbox import SPEED_CONF_NAME, SPEED_SETTINGS, Sandbox, SandboxError, SandboxHost

# ----------------------------------------------------------------------------- no root needed


@pytest.mark.parametrize(
    "address", ["192.168.0.30", "10.0.0.5", "172.16.1.1", "8.8.8.8", "127.0.0.1", "nonsense"]
)
def test_up_refuses_non_loopback_address(address: str, tmp_path: Path) -> None:
    sb = Sandbox(_uname("bad"), [SandboxHost("primary", address)], root=tmp_path)
    with pytest.raises(SandboxError, match="address"):
        sb.up()
    assert not (tmp_path / sb.name).exists()


@pytest.mark.parametrize("address", ["8.8.8.8", "127.0.0.30", "169.254.1.1", "224.0.0.1", "192.168.0.255", "x"])
def test_netns_refuses_public_loopback_and_special_addresses(address: str, tmp_path: Path) -> None:
    sb = Sandbox(_uname("bad"), [SandboxHost("primary", address)], root=tmp_path, network="netns")
    with pytest.raises(SandboxError, match="address"):
        sb.up()
    assert not (tmp_path / sb.name).exists()


def test_invalid_names_refused(tmp_path: Path) -> None:
    with pytest.raises(SandboxError):
        Sandbox("bad/name", [SandboxHost("a", "127.0.0.30")], root=tmp_path)
    with pytest.raises(SandboxError):
        Sandbox("ok", [SandboxHost("a b", "127.0.0.30")], root=tmp_path)
    with pytest.raises(SandboxError, match="share"):
        Sandbox("ok", [SandboxHost("a", "127.0.0.30"), SandboxHost("b", "127.0.0.30")], root=tmp_path).up()


def test_create_cluster_command_and_speed_switch(tmp_path: Path) -> None:
    hosts = [SandboxHost("primary", "127.0.0.30")]
    fast = Sandbox("s", hosts, root=tmp_path).create_cluster_command("15")
    assert fast.startswith("sudo runbook-createcluster 15 main 5432 && ")  # the cached template
    assert f"/etc/postgresql/15/main/conf.d/{SPEED_CONF_NAME}" in fast
    for s in SPEED_SETTINGS:
        assert f"{s.name} = {s.value}" in fast
    assert fast.rstrip().endswith("sudo systemctl start postgresql@15-main")  # the shim's fast start
    slow = Sandbox("s", hosts, root=tmp_path, speed=False).create_cluster_command("15")
    assert SPEED_CONF_NAME not in slow
    assert slow.startswith("sudo pg_createcluster --port 5432 15 main && ")
    assert "runbook-createcluster" not in slow
    assert slow.rstrip().endswith("sudo pg_ctlcluster 15 main start")
    with pytest.raises(SandboxError):
        Sandbox("s", hosts, root=tmp_path).create_cluster_command("15; rm -rf /")


def test_docs_list_every_speed_setting() -> None:
    doc = (REPO / "docs" / "sandbox.md").read_text()
    for s in SPEED_SETTINGS:
        assert s.name in doc


@pytest.mark.parametrize("shim", ["systemctl", "runbook-createcluster"])
def test_shims_are_valid_bash(shim: str) -> None:
    path = REPO / "runner" / "data" / shim
    assert os.access(path, os.X_OK)
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_orphans_are_only_run_folders_of_this_root_without_state(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``cleanup_abandoned`` / ``down --all`` take for a sandbox whose folder was deleted while it
    was up (runner/sandbox/folders.py): a run folder whose sandbox folder is in the root, has the run
    folder's key and holds no state; never a sandbox with its state, another root's, a run folder
    whose ``.sandbox`` names a folder of another key, or one whose folder cannot be told."""
    from runner.sandbox import folders

    run_dir, root, other = tmp_path / "run", tmp_path / "root", tmp_path / "other"
    for d in (run_dir, root, other):
        d.mkdir()
    monkeypatch.setattr(folders, "RUN_DIR", run_dir)

    def run_folder(folder: Path, *, marker: Path | None = None, key: str | None = None) -> None:
        d = run_dir / (key or folders.key_of(folder))
        d.mkdir()
        if marker is not None:
            (d / folders.FOLDER_FILE).write_text(f"{marker}\n")

    (root / "up").mkdir()
    (root / "up" / "state.json").write_text("{}")
    run_folder(root / "up", marker=root / "up")  # up: its state is there
    run_folder(root / "gone", marker=root / "gone")  # deleted while up
    run_folder(root / "old", marker=None)  # deleted while up, made before .sandbox: root/NAME has its key
    run_folder(other / "elsewhere", marker=other / "elsewhere")  # another root's
    # another root's run folder whose .sandbox names a folder of this root (not of its key): that root's
    run_folder(other / "x", marker=root / "x", key=folders.key_of(other / "x"))
    (run_dir / "nameless-0123abcd").mkdir()  # no .sandbox, and root/nameless has another key
    assert folders.orphans(root) == ["gone", "old"]
    assert folders.orphans(other) == ["elsewhere", "x"]
    assert folders.key_of(root / "gone") != folders.key_of(other / "gone")  # two roots never clash
