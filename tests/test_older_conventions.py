"""Older guide conventions, each read in ja and en, and the project's guides that show them run on
the sandbox (issue 20, point 2): host scopes given by a possessive or "only" (パブリッシャーの
`postgresql.conf`に…, …にのみ, on the publisher's `postgresql.conf`, only on X), master/slave for
primary/standby, commands in ``text`` fences at ``%`` prompts, file-name typos in headings, PGroonga's
RHEL install lines, and a page that edits postgresql.conf without its path (asked from the server).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GUIDES
from e2e import needs_sandbox

from runbook.errors import GuideError
from runbook.parse import parse_file, parse_text
from runner.cli import main as cli
from runner.planning import environment as plan_module
from runner.planning.inventory import default_inventory
from runner.planning.plan import build_plan

MASTER_SLAVE = {lang: GUIDES / f"master-slave-replication.{lang}.md" for lang in ("ja", "en")}
SLOW_LOG = {lang: GUIDES / f"slow-query-log.{lang}.md" for lang in ("ja", "en")}


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1) if text in line)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_master_and_slave_are_primary_and_standby(lang: str) -> None:
    graph = parse_file(MASTER_SLAVE[lang])
    assert [(h.id, h.role) for h in graph.hosts] == [("primary", "primary"), ("standby", "standby")]
    assert [h.label for h in graph.hosts] == (["マスター", "スレーブ"] if lang == "ja" else ["Master", "Slave"])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_possessive_and_only_scopes(lang: str) -> None:
    graph = parse_file(MASTER_SLAVE[lang])
    acts = {a.id: a for a in graph.actions()}
    # The heading "マスターの`postgresql.con`に…" / "… to the master's `postgresql.con`" scopes its edit.
    assert acts["configure-master#1"].targets == ["primary"] and acts["configure-master#1"].target_source == "heading"
    # "マスターの `pg_hba.conf` にのみ…" / "… only to the master's `pg_hba.conf`";
    # "マスターにのみ…" / "only on the master".
    for aid in ("configure-master#2", "configure-master#3", "check-replication#1"):
        assert acts[aid].targets == ["primary"] and acts[aid].target_source == "prose", aid
    assert acts["pg-basebackup-slave#1"].targets == ["standby"]  # スレーブの… / on the slave
    assert acts["check-replication#2"].targets == ["standby"]
    assert acts["install-postgresql#1"].targets == ["primary", "standby"]


SCOPES = {
    "ja": ("パブリッシャーの`postgresql.conf`にロジカルレプリケーションの設定を追加します。",
           "サブスクライバーの `pg_hba.conf` にのみ次の行を追加します。", "サブスクライバーにのみ実行します。"),
    "en": ("Add these settings on the publisher's `postgresql.conf`.",
           "Add this line only to the subscriber's `pg_hba.conf`.", "Run this only on the subscriber."),
}
ENV = {"ja": "このドキュメントでは次の環境を使います。\n\n* パブリッシャー：\n  * IPアドレス：10.0.0.1\n"
             "* サブスクライバー：\n  * IPアドレス：10.0.0.2\n",
       "en": "This document uses the following environment:\n\n* Publisher:\n  * IP address: 10.0.0.1\n"
             "* Subscriber:\n  * IP address: 10.0.0.2\n"}


def _page(lang: str, sentence: str) -> str:
    tag = "通常" if lang == "ja" else "normal"
    return (f"# T\n\n{ENV[lang]}\n## [{tag}] S {{#s}}\n\n{sentence}\n\n"
            "```bash\nsudo systemctl restart postgresql\n```\n")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_each_scope_phrase_alone(lang: str) -> None:
    for sentence, hosts in zip(SCOPES[lang], (["publisher"], ["subscriber"], ["subscriber"]), strict=True):
        (action,) = parse_text(_page(lang, sentence), f"p.{lang}.md", lang).actions()
        assert action.targets == hosts, sentence


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_undecided_scope_is_still_no_target(lang: str) -> None:
    text = _page(lang, "設定を反映します。" if lang == "ja" else "Apply the settings.")
    with pytest.raises(GuideError) as exc:
        parse_text(text, f"p.{lang}.md", lang)
    (finding,) = [f for f in exc.value.findings if f.rule == "no-target"]
    assert finding.span.line == text.split("\n").index("```bash") + 1  # names the block


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_commands_in_text_fences_and_typos_in_headings(lang: str) -> None:
    graph = parse_file(MASTER_SLAVE[lang])
    acts = {a.id: a for a in graph.actions()}
    install = acts["install-postgresql#1"]
    assert install.kind == "console" and [c.text for c in install.commands] == [
        "sudo apt install -y postgresql-common", "sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y",
        "sudo apt install -y postgresql-16"]
    basebackup = acts["pg-basebackup-slave#2"]
    assert [t.prompt for t in basebackup.commands[0].dialog] == ["Password:"]
    # The heading names `postgresql.con`: the before/after edit under it edits postgresql.conf.
    edit = acts["configure-master#1"]
    assert edit.kind == "file_edit" and edit.path == "/etc/postgresql/16/main/postgresql.conf"
    heading = _line(MASTER_SLAVE[lang], "## [通常] マスターの`postgresql.con`" if lang == "ja" else "## [normal] Add")
    typo = [f for f in graph.findings if f.rule == "file-name-typo"]
    assert [f.span.line for f in typo] == [heading]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_path_and_no_version_is_a_finding_not_a_refusal(lang: str) -> None:
    graph = parse_file(SLOW_LOG[lang])
    (edit,) = [a for a in graph.actions() if a.kind == "file_edit"]
    assert edit.path == "{server:config_file}" and edit.after == "log_min_duration_statement = 250\n"
    (finding,) = [f for f in graph.findings if f.rule == "edit-path-unknown"]
    assert finding.severity == "warning" and "SHOW config_file" in finding.message
    assert finding.span.line == _line(SLOW_LOG[lang], "log_min_duration_statement = 250")


RHEL_PGROONGA = """# PGroonga on CentOS

This document uses the following environment:

* Server:
  * OS: CentOS 7

## [normal] Install PGroonga {#install}

This is a normal step.

```console
% sudo -H yum install -y https://download.postgresql.org/pub/repos/yum/reporpms/EL-7-x86_64/pgdg-redhat-repo-latest.noarch.rpm
% sudo -H yum install -y https://packages.groonga.org/centos/groonga-release-latest.noarch.rpm
% sudo -H yum install -y postgresql16-pgroonga
```
"""


def test_pgroonga_rhel_lines_ask_whether_pgroonga_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook.lexicon import load

    lex = load("en")
    lex.roles["Server"] = "server"  # a one-host page of the tests' own
    graph = parse_text(RHEL_PGROONGA, "rhel.en.md", lex=lex)
    check, message, lift = plan_module.FEATURES["pgroonga"]
    monkeypatch.setitem(plan_module.FEATURES, "pgroonga", (lambda version: True, message, lift))
    plan = build_plan(graph, default_inventory(graph), pg_version="15")
    subs = [plan.substitutions[("install#1", i)] for i in range(3)]
    assert [s.kind for s in subs] == ["skip", "skip", "skip"] and not plan.blocked
    assert "PGroonga is installed" in subs[2].reason
    monkeypatch.setitem(plan_module.FEATURES, "pgroonga", (lambda version: False, message, lift))
    plan = build_plan(graph, default_inventory(graph), pg_version="15")
    assert plan.blocked["install"].reason == "PGroonga is not installed for PostgreSQL 15"  # not "`yum` does not exist"
    assert check is plan_module.pgroonga_installed


# -- on the sandbox ------------------------------------------------------------------------------------


def _run(guide: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    report = tmp_path / f"{guide.stem}.json"
    status = cli(["run", str(guide), "--fresh", "--json", str(report), "--transcripts", str(tmp_path / "t")])
    data = json.loads(report.read_text())
    assert status == 0, json.dumps([s for s in data["steps"] if s["status"] != "passed"], ensure_ascii=False)[:3000]
    return data  # type: ignore[no-any-return]


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_master_slave_guide_runs(lang: str, tmp_path: Path) -> None:
    data = _run(MASTER_SLAVE[lang], tmp_path)
    actions = {(a["action"], a["host"]): a for s in data["steps"] for a in s["actions"]}
    assert actions[("configure-master#1", "primary")]["status"] == "passed"  # the heading's postgresql.con
    assert "listen_addresses = 'localhost,192.168.0.50'" in actions[("configure-master#1", "primary")]["details"]
    assert [c["status"] for c in actions[("check-replication#2", "standby")]["checks"]] == ["passed"]
    assert ("configure-master#2", "standby") not in actions  # にのみ / only: the master alone


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_slow_query_log_guide_asks_the_server_for_its_file(lang: str, tmp_path: Path) -> None:
    data = _run(SLOW_LOG[lang], tmp_path)
    actions = {a["action"]: a for s in data["steps"] for a in s["actions"]}
    (edit,) = [a for a in actions.values() if a["substitutions"] and a["substitutions"][0]["command"].startswith("{")]
    assert edit["substitutions"][0]["with"] == "/etc/postgresql/15/main/postgresql.conf"
    assert "SHOW config_file" in edit["substitutions"][0]["reason"]
    last = data["steps"][-1]["actions"][-1]
    assert [c["status"] for c in last["checks"]] == ["passed"]  # SHOW log_min_duration_statement: 250ms


def test_exports_of_a_path_the_server_gives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import subprocess

    assert cli(["export", str(SLOW_LOG["ja"]), "--to", "sh", "-o", str(tmp_path / "sh")]) == 0
    script = (tmp_path / "sh" / "server.sh").read_text()
    assert "\"$(sudo -u postgres psql -X -A -t -c 'SHOW config_file')\"" in script and "{server:" not in script
    if shutil.which("shellcheck"):
        assert subprocess.run(["shellcheck", str(tmp_path / "sh" / "server.sh")], check=False).returncode == 0
    # Ansible's modules take a path, not a question to the server: the export says what would settle it.
    assert cli(["export", str(SLOW_LOG["ja"]), "--to", "ansible", "-o", str(tmp_path / "an")]) == 2
    err = capsys.readouterr().err
    assert f"{SLOW_LOG['ja']}:{_line(SLOW_LOG['ja'], 'log_min_duration_statement = 250')}:" in err
    assert "write a file path paragraph" in err and not (tmp_path / "an").exists()


@needs_sandbox
@pytest.mark.sandbox
@pytest.mark.skipif(not Path("/usr/share/postgresql/15/extension/pgroonga.control").exists(),
                    reason="PGroonga is not installed for PostgreSQL 15 (/work/shared/pgroonga)")
def test_pgroonga_rhel_lines_run_where_pgroonga_is_installed(tmp_path: Path) -> None:
    guide = Path(__file__).parent / "fixtures" / "older" / "centos-pgroonga.en.md"
    data = _run(guide, tmp_path)
    actions = {a["action"]: a for s in data["steps"] for a in s["actions"]}
    subs = actions["install#1"]["substitutions"]
    pgroonga = [s for s in subs if "groonga" in s["command"]]
    assert [s["kind"] for s in pgroonga] == ["skip", "skip"]
    assert all("PGroonga is installed" in s["reason"] for s in pgroonga)
    assert [c["status"] for c in actions["use#2"]["checks"]] == ["passed", "passed"]  # CREATE EXTENSION, SELECT
