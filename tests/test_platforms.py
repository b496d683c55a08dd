"""Other platforms' commands on the sandbox's Debian hosts (runner/data/substitutions.toml): every
substitution has its reason, PGroonga's install and repository lines need PGroonga, and a command
nothing covers that cannot run there blocks its step instead of failing the guide."""

from __future__ import annotations

import pytest

from runbook.model import Graph
from runbook.parse import parse_text
from runner.planning.environment import pgroonga_installed, programs
from runner.planning.inventory import default_inventory
from runner.planning.model import Plan
from runner.planning.plan import build_plan
from runner.planning.plan_view import format_plan

CREATE = "CREATE-CLUSTER"


def _guide(install: str, extra: str = "") -> str:
    return f"""---
title: t
---

# t

## 概要

  1. [通常] [プライマリーでPostgreSQLをインストールする](#install-postgresql)

  2. [通常] [プライマリーでPostgreSQLを設定する](#configure-primary)

このドキュメントでは次の環境を使います。

  * プライマリー：

    * OS: AlmaLinux 9

    * IPアドレス：192.168.0.50

## [通常] プライマリーでPostgreSQLをインストールする {{#install-postgresql}}

これは通常の手順です。

```bash
{install}
```

## [通常] プライマリーでPostgreSQLを設定する {{#configure-primary}}

これは通常の手順です。

`/var/lib/pgsql/15/data/postgresql.conf`:

変更前：

```conf
#listen_addresses = 'localhost'
```

変更後：

```conf
listen_addresses = 'localhost,192.168.0.50'
```

```bash
sudo systemctl restart postgresql-15
{extra}
```
"""


RHEL_INSTALL = """\
sudo dnf install -y https://download.postgresql.org/pub/repos/yum/reporpms/EL-9-x86_64/pgdg-redhat-repo-latest.noarch.rpm
sudo dnf -qy module disable postgresql
sudo dnf install -y postgresql15-server
sudo /usr/pgsql-15/bin/postgresql-15-setup initdb
sudo systemctl enable --now postgresql-15
sudo firewall-cmd --permanent --add-service=postgresql"""


def _plan(text: str) -> tuple[Graph, Plan]:
    graph = parse_text(text, "rhel.ja.md")
    return graph, build_plan(graph, default_inventory(graph), create_cluster=CREATE, pg_version="15")


def _runs(plan: Plan, action_id: str) -> list[str | None]:
    action = next(a for a in plan.graph.actions() if a.id == action_id)
    return [plan.command_text(action.id, i, c.text)[0] for i, c in enumerate(action.commands)]


def test_rhel_install_runs_as_debian_cluster_creation_with_a_reason_each() -> None:
    graph, plan = _plan(_guide(RHEL_INSTALL))
    assert _runs(plan, "install-postgresql#1") == [
        None, None, None,  # the PGDG yum repository, the module stream, the packages: skipped
        f"{CREATE} && sudo pg_ctlcluster 15 main stop",  # initdb leaves the server stopped
        "sudo systemctl enable --now postgresql@15-main",
        None,  # no firewall between sandbox hosts
    ]
    reasons = [s.reason for (aid, _), s in sorted(plan.substitutions.items()) if aid == "install-postgresql#1"]
    assert len(reasons) == 6 and all(reasons)
    assert "yum repository" in reasons[0] and "module" in reasons[1] and "firewall" in reasons[5]
    assert "postgresql@VERSION-main" in reasons[4]
    assert plan.blocked == {}


def test_rhel_paths_and_service_names_are_rewritten_in_commands_and_edits() -> None:
    _, plan = _plan(_guide(RHEL_INSTALL, "sudo -u postgres /usr/pgsql-15/bin/pg_controldata /var/lib/pgsql/15/data"))
    edit = plan.graph.step("configure-primary").actions[0]
    assert edit.path == "/etc/postgresql/15/main/postgresql.conf"
    old, sub = plan.paths[edit.id]
    assert old == "/var/lib/pgsql/15/data/postgresql.conf" and "/etc/postgresql/VERSION/main" in sub.reason
    assert _runs(plan, "configure-primary#2") == [
        "sudo systemctl restart postgresql@15-main",
        "sudo -u postgres /usr/lib/postgresql/15/bin/pg_controldata /var/lib/postgresql/15/main",
    ]
    text = format_plan(plan)
    assert "#   substituted path: /var/lib/pgsql/15/data/postgresql.conf -> /etc/postgresql/15/main/postgresql.conf" \
        in text
    # Every substituted command is shown with its reason, under its host.
    assert text.count("#   substituted (") == text.count("#     reason: ") - 1  # + the path's reason
    assert "### configure-primary#2 shell on primary" in text


PGROONGA_LINES = [
    # Ubuntu (PPA) and its apt source
    "sudo add-apt-repository -y ppa:groonga/ppa",
    "sudo apt install -y -V postgresql-16-pgdg-pgroonga",
    "wget https://packages.groonga.org/ubuntu/groonga-apt-source-latest-$(lsb_release --codename --short).deb",
    # Debian
    "wget https://apache.jfrog.io/artifactory/arrow/debian/apache-arrow-apt-source-latest-"
    "$(lsb_release --codename --short).deb",
    "sudo apt install -y -V ./groonga-apt-source-latest-$(lsb_release --codename --short).deb",
    # RHEL family
    "sudo dnf install -y https://packages.groonga.org/almalinux/9/groonga-release-latest.noarch.rpm",
    "sudo dnf install -y postgresql16-pgdg-pgroonga",
    "sudo yum install -y pgroonga_15",
]


@pytest.mark.parametrize("line", PGROONGA_LINES)
def test_pgroonga_install_and_repository_lines_need_pgroonga(line: str) -> None:
    _, plan = _plan(_guide(line))
    sub = plan.substitutions[("install-postgresql#1", 0)]
    if pgroonga_installed("15"):
        assert sub.kind == "skip" and "PGroonga is installed" in sub.reason
    else:
        assert sub.kind == "block" and sub.reason == "PGroonga is not installed for PostgreSQL 15"
        assert list(plan.blocked) == ["install-postgresql"]


def test_sql_naming_pgroonga_is_not_an_install_line() -> None:
    _, plan = _plan(_guide('sudo -u postgres -H psql blog --command "CREATE EXTENSION pgroonga;"'))
    assert ("install-postgresql#1", 0) not in plan.substitutions


def test_a_command_nothing_covers_that_cannot_run_blocks_its_step_with_the_command() -> None:
    _, plan = _plan(_guide("sudo zypper install -y postgresql15-server\nsudo -u postgres psql --version"))
    sub = plan.substitutions[("install-postgresql#1", 0)]
    assert sub.kind == "block"
    assert "`zypper`" in sub.reason and "sudo zypper install -y postgresql15-server" in sub.reason
    assert sub.lift and "substitutions.toml" in sub.lift
    assert list(plan.blocked) == ["install-postgresql"]  # blocked, not failed; the rest can still run
    assert ("install-postgresql#1", 1) not in plan.substitutions  # psql exists
    assert "BLOCKED: `zypper` does not exist" in format_plan(plan)


def test_commands_of_the_project_guides_need_no_block_but_pgroonga(seed_ja: Graph) -> None:
    plan = build_plan(seed_ja, default_inventory(seed_ja), create_cluster=CREATE, pg_version="15")
    assert set(plan.blocked) <= {"install-pgroonga"}


@pytest.mark.parametrize(("line", "found"), [
    ("sudo -u postgres -H psql blog", ["psql"]),
    ('echo "deb x $(lsb_release -cs)-pgdg main" | sudo tee /etc/apt/x.list', ["echo", "tee"]),
    ("PGDATA=/x FOO=1 env pg_ctl start", ["pg_ctl"]),
    ("cd /tmp && ls -l; zypper in x", ["cd", "ls", "zypper"]),
    ("if true; then zypper x; fi", ["true", "zypper", "fi"]),
    ("cat <<EOF > /tmp/x\nnot a command\nEOF", ["cat"]),
    ("${EDITOR} /etc/x", []),
    ("sudo --preserve-env=A -u postgres python3 -c x", ["python3"]),
])
def test_programs_of_a_command_line(line: str, found: list[str]) -> None:
    assert programs(line) == found


def test_installing_other_packages_on_the_sandbox_is_blocked_not_run() -> None:
    _, plan = _plan(_guide("sudo apt install -y postgresql-common\nsudo apt install -y -V nginx"))
    assert plan.substitutions[("install-postgresql#1", 0)].kind == "skip"
    sub = plan.substitutions[("install-postgresql#1", 1)]
    assert sub.kind == "block" and "would change the machine" in sub.reason and "nginx" in sub.reason
    assert list(plan.blocked) == ["install-postgresql"]
