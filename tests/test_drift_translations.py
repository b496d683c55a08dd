"""``runbook drift`` between the two languages of a guide: the published translations have no
executable drift; a changed command, a missing step, a label for another host, another before text
are found at their lines on both sides; titles and paragraphs are not compared, links are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_JA
from drift_support import PAIRS, SHIFT, drift_json, en_copy, only
from helpers import fence_after, line_of

from runbook.drift import compare, render
from runner.cli import main as run

# -- translations --------------------------------------------------------------------------------


@pytest.mark.parametrize("ja,en", PAIRS, ids=[p[0].name.removesuffix(".ja.md") for p in PAIRS])
def test_published_translations_have_no_executable_drift(ja: Path, en: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, report = drift_json(capsys, str(ja), str(en))
    assert status == 0
    assert report["executable"] == []
    assert report["verdict"] in ("none", "prose")
    # the prose language is ignored: only link targets can differ between the two languages
    assert {c["kind"] for c in report["prose"]} <= {"link"}
    assert run(["drift", str(ja), str(en)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("prose change(s))")


def test_seed_translation_reports_nothing(seed_ja: Any, seed_en: Any) -> None:
    report = compare(seed_ja, seed_en)
    assert report.verdict == "none"
    assert render(report) == "no executable drift (0 prose change(s))\n"


def test_shifted_english_copy_still_has_no_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    en = en_copy(tmp_path)
    assert line_of(en, "{#install-postgresql}") == line_of(SEED_JA, "{#install-postgresql}") + SHIFT
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert (status, report["verdict"]) == (0, "none")


def test_changed_command_in_english_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    en = en_copy(tmp_path, lambda t: t.replace("sudo -H systemctl restart postgresql",
                                               "sudo -H systemctl reload postgresql", 1))
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert (status, report["verdict"]) == (1, "executable")
    change = only(report["executable"], "command")
    assert change["step"] == "configure-pgroonga-primary"
    assert change["action"] == "configure-pgroonga-primary#3"
    assert change["old"] == {"file": str(SEED_JA), "line": line_of(SEED_JA, "systemctl restart postgresql")}
    assert change["new"] == {"file": str(en), "line": line_of(en, "systemctl reload postgresql")}
    assert "-sudo -H systemctl restart postgresql" in change["details"]["diff"]
    assert "+sudo -H systemctl reload postgresql" in change["details"]["diff"]
    assert len(report["executable"]) == 1

    assert run(["drift", str(SEED_JA), str(en)]) == 1
    out = capsys.readouterr().out
    assert (f"{SEED_JA}:{line_of(SEED_JA, 'systemctl restart')} → {en}:{line_of(en, 'systemctl reload')}  "
            "configure-pgroonga-primary#3  command(s) changed") in out
    assert "      +sudo -H systemctl reload postgresql" in out
    assert out.rstrip().endswith("executable drift: 1 change(s)")


def test_step_missing_from_english_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def drop_step(text: str) -> str:
        overview_item = "  7. [special] [Flush PGroonga related data on primary](#flush-pgroonga-data-primary)\n\n"
        assert overview_item in text
        text = text.replace(overview_item, "")
        start = text.index("## [special] Flush PGroonga related data on primary")
        end = text.index("## [normal] Run `pg_basebackup` on standbys")
        return text[:start] + text[end:]

    en = en_copy(tmp_path, drop_step)
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert status == 1
    change = only(report["executable"], "step-removed")
    assert change["step"] == "flush-pgroonga-data-primary"
    assert change["old"] == {"file": str(SEED_JA), "line": line_of(SEED_JA, "{#flush-pgroonga-data-primary}")}
    # in the English copy: where it would be, i.e. at the next step's heading
    assert change["new"] == {"file": str(en), "line": line_of(en, "{#pg-basebackup-standbys}"), "absent": True}
    # the overview still links to it: that is a link difference, and the graph says nothing else moved
    assert [c["kind"] for c in report["executable"]] == ["step-removed"]

    # the other way round: a step added
    status, report = drift_json(capsys, str(en), str(SEED_JA))
    change = only(report["executable"], "step-added")
    assert change["new"]["line"] == line_of(SEED_JA, "{#flush-pgroonga-data-primary}")
    assert change["old"] == {"file": str(en), "line": line_of(en, "{#pg-basebackup-standbys}"), "absent": True}


def test_label_targeting_another_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the first "Standby2:" label of the steps (pg_basebackup's, in the published guide) becomes "Standby1:"
    en = en_copy(tmp_path, lambda t: t.replace("\nStandby2:\n", "\nStandby1:\n", 1))
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert status == 1
    change = only(report["executable"], "targets")
    assert change["action"] == "pg-basebackup-standbys#3"
    assert change["summary"] == "targets changed: standby2 → standby1"
    assert change["details"]["old"] == ["standby2"] and change["details"]["new"] == ["standby1"]
    assert change["old"] == {"file": str(SEED_JA), "line": fence_after(SEED_JA, "スタンバイ2：", nth=2)}
    assert change["new"] == {"file": str(en), "line": fence_after(en, "--slot standby2`")}
    assert change["new"]["line"] == fence_after(SEED_JA, "スタンバイ2：", nth=2) + SHIFT
    assert len(report["executable"]) == 1


def test_different_before_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    en = en_copy(tmp_path, lambda t: t.replace("#listen_addresses = 'localhost'\n", "#listen_addresses = '*'\n", 1))
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert status == 1
    change = only(report["executable"], "edit")
    assert change["action"] == "configure-replication-primary#1"
    assert change["details"]["field"] == "before"
    assert change["details"]["path"] == "/etc/postgresql/16/main/postgresql.conf"
    assert change["old"] == {"file": str(SEED_JA), "line": line_of(SEED_JA, "#listen_addresses = 'localhost'")}
    assert change["new"] == {"file": str(en), "line": line_of(en, "#listen_addresses = '*'")}
    assert change["details"]["diff"][-2:] == ["-#listen_addresses = 'localhost'", "+#listen_addresses = '*'"]


def test_translation_ignores_titles_and_paragraphs_but_not_links(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    en = en_copy(tmp_path, lambda t: t.replace("This is a normal step.", "A step like any other.")
                 .replace("Install PostgreSQL on both primary and standbys {#", "Install PostgreSQL everywhere {#")
                 .replace("[crash-safe]:crash-safe.html", "[crash-safe]:crash-safety.html"))
    status, report = drift_json(capsys, str(SEED_JA), str(en))
    assert (status, report["verdict"]) == (0, "prose")
    (change,) = report["prose"]
    assert change["kind"] == "link" and change["step"] == "configure-pgroonga-primary"
    assert change["details"] == {"old": "crash-safe.html", "new": "crash-safety.html"}
