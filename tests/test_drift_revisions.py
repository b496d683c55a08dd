"""``runbook drift`` between two revisions of a guide in one language: prose only (exit 0), overview
titles and tags, console answers, renamed and moved steps, a version bump, secrets never printed,
expected output and SQL, a host's address, a JSON graph, usage errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_EN, SEED_JA
from drift_support import drift_json, only
from helpers import line_of

from runbook.drift import compare, render
from runbook.parse import parse_text
from runner.cli import main as run

# -- revisions (same language) ---------------------------------------------------------------------


def revise(tmp_path: Path, edit: Any, name: str = "new.en.md") -> Path:
    path = tmp_path / name
    path.write_text(edit(SEED_EN.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def test_prose_only_revision_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("Most of steps are normal steps.", "Most steps are normal steps.")
                 .replace("[normal] Insert data on primary {#", "[normal] Insert some data on primary {#"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert (status, report["verdict"], report["executable"]) == (0, "prose", [])
    kinds = sorted(c["kind"] for c in report["prose"])
    assert kinds == ["paragraph", "title"]
    para = only(report["prose"], "paragraph")
    assert para["old"]["line"] == para["new"]["line"] == line_of(SEED_EN, "Most of steps are normal steps.")
    assert para["details"]["new"].startswith("This document describes how to configure")
    run(["drift", str(SEED_EN), str(new)])
    assert capsys.readouterr().out.rstrip().endswith("no executable drift (2 prose change(s))")


def test_overview_title_and_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("[Insert data on primary](#insert-primary)",
                                               "[Insert rows on primary](#insert-primary)")
                 .replace("## [normal] Insert data on primary", "## [special] Insert data on primary")
                 .replace("5. [normal] [Insert", "5. [special] [Insert"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert (status, report["verdict"]) == (0, "prose")
    assert sorted(c["kind"] for c in report["prose"]) == ["overview-title", "tag"]
    title = only(report["prose"], "overview-title")
    assert title["details"] == {"old": "Insert data on primary", "new": "Insert rows on primary"}
    assert title["old"]["line"] == title["new"]["line"] == line_of(SEED_EN, "(#insert-primary)")
    tag = only(report["prose"], "tag")
    assert tag["details"] == {"old": "normal", "new": "specific"}


def test_console_answer_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("Enter it again: (passw0rd)", "Enter it again: (typo)"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    change = only(report["executable"], "command")
    assert change["action"] == "configure-replication-primary#3"
    assert change["new"]["line"] == line_of(new, "Enter it again: (typo)")
    assert change["details"]["diff"][-2:] == ["-Enter it again: (${replication_password})", "+Enter it again: (typo)"]


def test_renamed_and_moved_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(text: str) -> str:
        text = text.replace("{#install-pgroonga}", "{#setup-pgroonga}").replace("(#install-pgroonga)",
                                                                                  "(#setup-pgroonga)")
        # move "Flush" after "Run pg_basebackup"
        a = text.index("## [special] Flush PGroonga")
        b = text.index("## [normal] Run `pg_basebackup`")
        c = text.index("## [special] Configure PostgreSQL for PGroonga on standbys")
        return text[:a] + text[b:c] + text[a:b] + text[c:]

    new = revise(tmp_path, edit)
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    renamed = only(report["executable"], "step-renamed")
    assert renamed["details"] == {"old_id": "install-pgroonga", "new_id": "setup-pgroonga"}
    assert renamed["old"]["line"] == line_of(SEED_EN, "{#install-pgroonga}")
    assert renamed["new"]["line"] == line_of(new, "{#setup-pgroonga}")
    moved = only(report["executable"], "step-moved")
    assert moved["step"] in ("flush-pgroonga-data-primary", "pg-basebackup-standbys")
    assert {c["kind"] for c in report["executable"]} == {"step-renamed", "step-moved"}


def test_version_bump_is_a_variable_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: re.sub(r"\b16\b", "17", t))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    var = only(report["executable"], "variable")
    assert var["details"] == {"name": "pg_major", "change": "value changed", "old": "16", "new": "17"}
    assert var["summary"] == "variable pg_major: 16 → 17"
    commands = [c for c in report["executable"] if c["kind"] in ("command", "edit")]
    assert commands and all(c["details"].get("follows_variables") for c in commands)


def test_secret_values_are_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("passw0rd", "s3cr3t-Pa55"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    var = only(report["executable"], "variable")
    assert var["summary"] == "variable replication_password: value changed"
    run(["drift", str(SEED_EN), str(new)])
    out = capsys.readouterr().out
    dumped = json.dumps(report)
    for secret in ("passw0rd", "s3cr3t-Pa55"):
        assert secret not in out and secret not in dumped


def test_expected_output_and_sql_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("--  [[0,1478446349.2241,0.1413860321044922],true]",
                                               "--  [[0,1478446349.2241,0.1413860321044922],false]")
                 .replace("CREATE INDEX entries_full_text_search ON entries USING pgroonga (title, body);",
                          "CREATE INDEX entries_full_text_search ON entries USING pgroonga (body);"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    exp = only(report["executable"], "expected")
    assert exp["action"] == "flush-pgroonga-data-primary#1"
    assert exp["old"]["line"] == line_of(SEED_EN, "--                     command")
    assert "+ [[0,1478446349.2241,0.1413860321044922],false]" in exp["details"]["diff"]
    cmd = only(report["executable"], "command")
    assert cmd["action"] == "create-pgroonga-index-primary#3"
    assert cmd["new"]["line"] == line_of(new, "USING pgroonga (body)")


def test_expected_output_spacing_is_not_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("--  [[0,1478446349.2241,0.1413860321044922],true]",
                                               "--    [[0,1478446349.2241,0.1413860321044922],true]   "))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert (status, report["verdict"]) == (0, "none")


def test_host_address_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = revise(tmp_path, lambda t: t.replace("192.168.0.32", "192.168.0.42"))
    status, report = drift_json(capsys, str(SEED_EN), str(new))
    assert status == 1
    host = only(report["executable"], "host")
    assert host["summary"] == "host standby2: address 192.168.0.32 → 192.168.0.42"
    assert host["old"]["line"] == line_of(SEED_EN, "* Standby2:")
    var = only(report["executable"], "variable")
    assert var["details"]["name"] == "standby2.address"


def test_json_graph_compares_like_its_guide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph = tmp_path / "graph.json"
    assert run(["parse", str(SEED_EN), "-o", str(graph)]) == 0
    status, report = drift_json(capsys, str(graph), str(SEED_EN))
    assert (status, report["verdict"]) == (0, "none")


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drift", str(SEED_EN)]) == 2
    assert run(["drift", str(SEED_EN), str(tmp_path / "missing.md")]) == 2
    assert run(["drift", "--history", str(SEED_EN), str(SEED_EN), str(SEED_EN)]) == 2
    broken = tmp_path / "broken.md"
    broken.write_text("# Title\n\nno steps\n", encoding="utf-8")
    assert run(["drift", str(SEED_EN), str(broken)]) == 4
    err = capsys.readouterr().err
    assert "no-steps" in err and "Traceback" not in err


def test_lang_override(tmp_path: Path) -> None:
    # the English lexicon cannot read the Japanese guide: a clear error, not a traceback
    assert run(["drift", str(SEED_JA), str(SEED_EN), "--lang-old", "en"]) == 4
    assert run(["drift", str(SEED_JA), str(SEED_EN), "--lang-old", "ja", "--lang-new", "en"]) == 0


def test_pair_helper_aligns_by_kind_inside_replaced_runs() -> None:
    from runbook.drift import pair

    old = [("shell", "a"), ("sql", "b"), ("shell", "c")]
    new = [("shell", "a"), ("sql", "B"), ("console", "c"), ("shell", "C")]
    assert pair(old, new, key=lambda x: x, kind=lambda x: x[0]) == [(0, 0), (1, 1), (None, 2), (2, 3)]


def test_in_memory_graphs_name_their_files() -> None:
    old = parse_text(SEED_EN.read_text(encoding="utf-8"), "old.md")
    new = parse_text(SEED_EN.read_text(encoding="utf-8").replace("rm -rf /var", "rm -r /var"), "new.md")
    text = render(compare(old, new))
    line = line_of(SEED_EN, "rm -rf /var")
    assert f"old.md:{line} → new.md:{line}  pg-basebackup-standbys#1  command(s) changed" in text
