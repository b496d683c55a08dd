"""``runbook export --to sh``: phases cut where the hosts change, secrets as references fitting their
quotes, one script per host with the guide's actions (shellcheck-clean), and the embedded file helper
editing files as the runner does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from export_support import ALL_GUIDES, GUIDE_IDS, GUIDES, PLAIN, SEED, _graph, _no_secret

from runbook.edit_rules import apply_edit
from runbook.export import Secrets, mask_shell, phases
from runbook.export.sh import HELPER, export_sh
from runner.cli import export as export_cli

# -- phases ---------------------------------------------------------------------------------------


def test_phases_follow_the_guide_and_cut_where_hosts_change() -> None:
    plan = phases(_graph(PLAIN["ja"]))
    assert [(p.hosts, [s.id for s in p.steps]) for p in plan][:4] == [
        (["primary", "standby1", "standby2"], ["install-postgresql"]),
        (["primary"], ["configure-replication-primary", "insert-primary", "create-index-primary"]),
        (["standby1", "standby2"], ["pg-basebackup-standbys"]),
        (["standby1"], ["pg-basebackup-standbys"]),
    ]
    assert [p.number for p in plan] == list(range(1, len(plan) + 1))


# -- secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("psql 'host=h password=passw0rd'", "psql 'host=h password='\"${RUNBOOK_SECRET_REPLICATION_PASSWORD}\"''"),
        ('psql --command "ALTER ROLE r PASSWORD \'passw0rd\'"',
         'psql --command "ALTER ROLE r PASSWORD \'${RUNBOOK_SECRET_REPLICATION_PASSWORD}\'"'),
        ("echo passw0rd", 'echo "${RUNBOOK_SECRET_REPLICATION_PASSWORD}"'),
    ],
)
def test_a_secret_in_a_command_becomes_a_reference_fitting_its_quotes(command: str, expected: str) -> None:
    secrets = Secrets.of(_graph(SEED["ja"]))
    masked, used = mask_shell(command, secrets)
    assert masked == expected
    assert used == ["RUNBOOK_SECRET_REPLICATION_PASSWORD"]
    out = subprocess.run(["bash", "-c", masked.replace("psql", "echo", 1)], capture_output=True, text=True,
                         env={**os.environ, "RUNBOOK_SECRET_REPLICATION_PASSWORD": "s3cret x"}, check=True)
    assert "s3cret x" in out.stdout


# -- shell ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_sh_writes_one_script_per_host_with_the_guides_actions(guide: Path) -> None:
    graph = _graph(guide)
    files = export_sh(graph)
    assert set(files) == {"primary.sh", "standby1.sh", "standby2.sh", "run-order.tsv"}
    _no_secret(files)
    primary, standby1 = files["primary.sh"], files["standby1.sh"]
    assert primary.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in primary
    # Step and guide line named in comments.
    assert re.search(r"^# Step \d+\. \[normal\] .* \{#configure-replication-primary\} \(.*:\d+\)$", primary,
                     re.MULTILINE)
    assert re.search(rf"# configure-replication-primary#1 \(file_edit\) {re.escape(str(guide))}:\d+", primary)
    # File edits through the helper, with the exact before/after text.
    assert "edit /etc/postgresql/16/main/postgresql.conf conf \"$before\" \"$after\"" in primary
    assert "\n#listen_addresses = 'localhost'\nRUNBOOK_TEXT\n" in primary
    assert "host    replication     all             192.168.0.0/24          scram-sha-256" in primary
    # The prompt answers come from the environment, never from the script.
    assert ('printf \'%s\\n\' "${RUNBOOK_SECRET_REPLICATION_PASSWORD}" "${RUNBOOK_SECRET_REPLICATION_PASSWORD}" '
            "| setsid -w sudo -u postgres -H createuser --pwprompt --replication replicator") in primary
    assert "| setsid -w sudo -u postgres -H pg_basebackup --create-slot --slot standby1 \\\n" in standby1
    # SQL through psql in the session's database, one here-document per block.
    assert "psql -X -v ON_ERROR_STOP=1 --dbname blog <<'SQL'\nCREATE TABLE entries (" in primary
    assert "SET enable_seqscan TO off;\nSELECT title FROM entries" in standby1
    # The interactive `psql blog` is not run as such.
    assert "\npsql blog\n" not in primary
    # Standbys do not run the primary's steps.
    assert "createuser --pwprompt" not in standby1
    order = files["run-order.tsv"].splitlines()[1:]
    assert order[0].split("\t")[:2] == ["1", "primary standby1 standby2"]


def test_sh_applies_bindings_but_never_binds_a_secret() -> None:
    graph = _graph(PLAIN["ja"])
    files = export_sh(graph, bindings={"pg_major": "15", "primary.address": "10.0.0.5",
                                       "network": "10.0.0.0/24", "replication_password": "Zq9-other-pw"})
    text = "".join(files.values())
    assert "/etc/postgresql/15/main/pg_hba.conf" in text and "/16/" not in text
    assert "--host 10.0.0.5" in files["standby1.sh"]
    assert "10.0.0.0/24          scram-sha-256" in files["primary.sh"]
    assert "Zq9-other-pw" not in text


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt install shellcheck)")
@pytest.mark.parametrize("guide", ALL_GUIDES, ids=lambda p: p.name)
def test_sh_scripts_pass_shellcheck(guide: Path, tmp_path: Path) -> None:
    files = export_sh(_graph(guide))
    _no_secret(files)
    export_cli.write_files(tmp_path, files)
    scripts = sorted(str(p) for p in tmp_path.glob("*.sh"))
    result = subprocess.run(["shellcheck", "--shell=bash", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    for script in scripts:
        assert subprocess.run(["bash", "-n", script]).returncode == 0


def test_sh_script_refuses_unknown_phase_and_lists_its_phases(tmp_path: Path) -> None:
    files = export_sh(_graph(PLAIN["ja"]))
    export_cli.write_files(tmp_path, files)
    listed = subprocess.run(["bash", str(tmp_path / "standby1.sh"), "list"], capture_output=True, text=True)
    assert listed.returncode == 0
    numbers = listed.stdout.split()
    expected = [line.split("\t")[0] for line in files["run-order.tsv"].splitlines()[1:]
                if "standby1" in line.split("\t")[1].split()]
    assert numbers == expected
    bad = subprocess.run(["bash", str(tmp_path / "standby1.sh"), "999"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no phase 999" in bad.stderr


def test_a_secret_in_a_file_edit_is_expanded_by_the_helper_from_the_environment() -> None:
    graph = _graph(GUIDES / "synchronous-replication.en.md")
    files = export_sh(graph)
    _no_secret(files)
    standby1 = files["standby1.sh"]
    assert "password=${RUNBOOK_SECRET_REPLICATION_PASSWORD}" in standby1
    assert "sudo --preserve-env=RUNBOOK_SECRET_REPLICATION_PASSWORD python3" in standby1
    assert '"$before" "$after" RUNBOOK_SECRET_REPLICATION_PASSWORD' in standby1


# -- the embedded file helper ---------------------------------------------------------------------

DEBIAN_CONF = """\
# - Connection Settings -

#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;
\t\t\t\t\t# comma-separated list of addresses;
port = 5432\t\t\t\t# (change requires restart)
#wal_level = replica\t\t\t# minimal, replica, or logical
"""


DEBIAN_HBA = """\
local   all             postgres                                peer
local   replication     all                                     peer
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""


EDITS = [
    ("postgresql.conf", DEBIAN_CONF, "#listen_addresses = 'localhost'\n",
     "listen_addresses = 'localhost,127.0.0.30'\n"),
    ("pg_hba.conf", DEBIAN_HBA,
     "local   replication     all                                     peer\n"
     "host    replication     all             127.0.0.1/32            scram-sha-256\n"
     "host    replication     all             ::1/128                 scram-sha-256\n",
     "local   replication     all                                     peer\n"
     "host    replication     all             127.0.0.1/32            scram-sha-256\n"
     "host    replication     all             ::1/128                 scram-sha-256\n"
     "host    replication     all             127.0.0.0/24          scram-sha-256\n"),
    ("postgresql.conf", DEBIAN_CONF, "#wal_level = replica\n", "wal_level = logical\n"),
]


def _helper(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HELPER, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("name", "content", "before", "after"), EDITS, ids=["replace", "insert", "comment"])
def test_helper_edits_as_the_runner_does_and_is_idempotent(tmp_path: Path, name: str, content: str, before: str,
                                                           after: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    path.chmod(0o640)
    expected = apply_edit(content, before, after, conf=True)
    assert expected.status == "applied"
    result = _helper("edit", str(path), "1", before, after)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == expected.content
    assert (tmp_path / f"{name}.runbook-bak").read_text() == content
    assert path.stat().st_mode & 0o777 == 0o640
    # Again: already applied, nothing changes.
    again = _helper("edit", str(path), "1", before, after)
    assert again.returncode == 0 and "already applied" in again.stderr
    assert path.read_text() == expected.content


def test_helper_fails_loudly_and_leaves_the_file_when_the_before_text_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "postgresql.conf"
    path.write_text(DEBIAN_CONF)
    result = _helper("edit", str(path), "1", "#max_wal_senders = 10\n", "max_wal_senders = 20\n")
    assert result.returncode == 1
    assert "before text is not in the file" in result.stderr and "#max_wal_senders = 10" in result.stderr
    assert path.read_text() == DEBIAN_CONF
    assert not (tmp_path / "postgresql.conf.runbook-bak").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["postgresql.conf"]


def test_helper_writes_files_and_expands_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "conf.d" / "replication.conf"
    path.parent.mkdir()
    text = "primary_conninfo = 'password=${RUNBOOK_SECRET_X}'"
    assert _helper("write", str(path), text, "RUNBOOK_SECRET_X", env={"RUNBOOK_SECRET_X": "pw"}).returncode == 0
    assert path.read_text() == "primary_conninfo = 'password=pw'\n"
    missing = _helper("write", str(path), text, "RUNBOOK_SECRET_UNSET")
    assert missing.returncode != 0 and "RUNBOOK_SECRET_UNSET is not set" in missing.stderr
