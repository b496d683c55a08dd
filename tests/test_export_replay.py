"""The exported shell scripts replay the guide on fresh sandbox hosts (real PostgreSQL servers)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest
from export_support import PLAIN, SECRET, _graph, _no_secret
from helpers import bound_pg_version

from runbook.export.sh import export_sh

# -- end to end on the sandbox --------------------------------------------------------------------


def _sandbox_skip() -> str | None:
    try:
        from runner.planning import plan as _plan  # noqa: F401
    except ImportError:
        return "runner.planning.plan (the sandbox's bindings and substitutions) is not available"
    if os.geteuid() != 0:
        return "the embedded sandbox needs root"
    for tool in ("unshare", "nsenter", "setpriv", "setsid"):
        if not shutil.which(tool):
            return f"{tool} (util-linux) is missing"
    if not shutil.which("pg_createcluster") or not Path("/usr/lib/postgresql").is_dir():
        return "PostgreSQL (Debian's postgresql-common + postgresql-NN) is not installed"
    return None


def _free_addresses(n: int, start: int = 170) -> list[str]:
    """n loopback addresses on which nothing listens on 5432 (other sandboxes may be running)."""
    out: list[str] = []
    for last in range(start, 250):
        with socket.socket() as s:
            s.settimeout(0.3)
            if s.connect_ex((f"127.0.0.{last}", 5432)) != 0:
                out.append(f"127.0.0.{last}")
        if len(out) == n:
            return out
    pytest.skip("no free 127.0.0.x addresses for the test sandbox")


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.skipif(_sandbox_skip() is not None, reason=_sandbox_skip() or "")
def test_exported_scripts_replay_the_guide_on_fresh_sandbox_hosts(tmp_path: Path) -> None:
    """Export the runnable guide with the sandbox's bindings and substitutions, run every phase on its
    hosts in run-order.tsv's order, then check the guide's SQL results on the standbys."""
    from runner.planning.inventory import default_inventory
    from runner.planning.plan import build_plan
    from runner.sandbox import Sandbox, SandboxHost

    graph = _graph(PLAIN["en"])
    name = f"export-{os.getpid()}"
    addresses = _free_addresses(len(graph.hosts))
    hosts = [SandboxHost(h.id, a) for h, a in zip(graph.hosts, addresses, strict=True)]
    box = Sandbox(name, hosts, root=tmp_path / "sandboxes")
    version = bound_pg_version()
    inventory = default_inventory(graph)
    inventory.bindings.update({f"{h.id}.address": a for h, a in zip(graph.hosts, addresses, strict=True)})
    plan = build_plan(graph, inventory, create_cluster=box.create_cluster_command(version), pg_version=version)
    bound = plan.graph
    for action in bound.actions():  # the sandbox's substitutions (install step -> pg_createcluster)
        kept = []
        for i, cmd in enumerate(action.commands):
            text, _ = plan.command_text(action.id, i, cmd.text)
            if text is not None:
                cmd.text = text
                kept.append(cmd)
        action.commands = kept
    files = export_sh(bound)
    _no_secret(files)
    try:
        box.up()
        for host in graph.hosts:
            target = box.host_root(host.id) / "tmp"
            for file_name, text in files.items():
                (target / file_name).write_text(text)
                (target / file_name).chmod(0o755)
        env = "RUNBOOK_SECRET_REPLICATION_PASSWORD=" + SECRET
        for line in files["run-order.tsv"].splitlines()[1:]:
            number, host_list, _ = line.split("\t")
            for host_id in host_list.split():
                result = box.run(host_id, ["env", env, "bash", f"/tmp/{host_id}.sh", number], user=box.user,
                                 timeout=300)
                assert result.returncode == 0, f"{host_id} phase {number}:\n{result.stdout}\n{result.stderr}"
        query = "SELECT title FROM entries WHERE title LIKE '%replication%' ORDER BY title;"
        for standby in ("standby1", "standby2"):
            deadline = time.monotonic() + 30
            while True:
                out = box.run(standby, ["psql", "-X", "-At", "--dbname", "blog", "-c", query], user=box.user)
                if out.stdout.split("\n")[:2] == ["PGroonga and replication", "PostgreSQL 15 and replication"] \
                        or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert out.stdout.splitlines() == ["PGroonga and replication", "PostgreSQL 15 and replication"], out
            feedback = box.run(standby, ["psql", "-X", "-At", "--dbname", "blog", "-c", "SHOW hot_standby_feedback;"],
                               user=box.user)
            assert feedback.stdout.strip() == "on"
    finally:
        box.down()
