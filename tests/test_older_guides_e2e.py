"""The project's older-style guides run on the embedded sandbox: a logical replication guide written
for AlmaLinux (RHEL family: `dnf`, `postgresql-16-setup initdb`, `postgresql-16`, `%` and `#`
prompts, labels without a colon, settings as a list, a pg_hba.conf append) on Debian's clusters
through the substitutions, and a streaming replication guide with loosely written hosts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import GUIDES
from e2e import needs_sandbox
from helpers import bound_pg_version

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]

SECRET = "passw0rd"


def _run(guide: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    report = tmp_path / f"{guide.stem}.json"
    status = run(["run", str(guide), "--fresh", "--json", str(report), "--transcripts", str(tmp_path / "t")])
    data = json.loads(report.read_text())
    assert status == 0, json.dumps([s for s in data["steps"] if s["status"] != "passed"], ensure_ascii=False)[:3000]
    assert data["status"] == "passed"
    assert SECRET not in report.read_text()
    return data  # type: ignore[no-any-return]


def _actions(data: dict) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    return {(a["action"], a["host"]): a for s in data["steps"] for a in s["actions"]}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_rhel_guide_runs_on_debian_clusters_with_every_substitution_reported(
        lang: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _run(GUIDES / f"rhel-logical-replication.{lang}.md", tmp_path)
    err = capsys.readouterr().err
    # the speed settings create clusters from a cached template (runbook-createcluster), else pg_createcluster
    v = bound_pg_version()  # the guide's version, bound to the newest installed
    assert re.search(rf"postgresql-{v}-setup initdb -> sudo (runbook-|pg_)createcluster", err)
    assert f": /var/lib/pgsql/{v}/data/pg_hba.conf -> /etc/postgresql/{v}/main/pg_hba.conf\n      because " in err
    actions = _actions(data)
    install = actions[("install-postgresql#1", "subscriber")]
    subs = install["substitutions"]
    assert [s["kind"] for s in subs] == ["skip", "skip", "skip", "replace"]
    assert all(s["reason"] for s in subs)
    assert "initdb" in subs[3]["command"] and f"createcluster {v} main" in subs[3]["with"]
    # The settings and the pg_hba.conf line went into Debian's files, named by the prose alone.
    settings = actions[("configure-publisher#1", "publisher")]
    assert settings["substitutions"][0]["with"] == f"/etc/postgresql/{v}/main/postgresql.conf"
    assert "wal_level = logical" in settings["details"]
    hba = actions[("configure-publisher#2", "publisher")]
    assert hba["substitutions"][0]["with"] == f"/etc/postgresql/{v}/main/pg_hba.conf"
    # Root commands ran, and the service name was rewritten but its output still compared.
    start = actions[("start-subscriber#1", "subscriber")]
    assert [c["status"] for c in start["checks"]] == ["passed"]
    assert start["substitutions"][0]["with"].startswith(f"systemctl enable --now postgresql@{v}-main")
    # wal_level = logical took effect: the subscription copied and keeps receiving rows.
    assert actions[("check-replication#2", "subscriber")]["status"] == "passed"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_streaming_guide_with_loose_hosts_runs(lang: str, tmp_path: Path) -> None:
    data = _run(GUIDES / f"basic-streaming-replication.{lang}.md", tmp_path)
    actions = _actions(data)
    assert {h for (aid, h) in actions if aid == "check-replication#3"} == {"standby1", "standby2"}
    assert all(a["status"] == "passed" for a in actions.values())
