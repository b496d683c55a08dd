"""``runbook drift``: two revisions or two translations of a guide, compared as step graphs.

Line numbers in the assertions are found by searching the files' text, never taken from the
report itself.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, GUIDES, SEED_EN, SEED_JA

from runbook.drift import compare, render
from runbook.history import history
from runbook.parse import parse_text
from runner.cli import main as run

PAIRS = [
    (folder / f"{name}.ja.md", folder / f"{name}.en.md")
    for folder, name in [
        (GUIDES, "streaming-replication-wal-resource-manager"),
        (GUIDES, "logical-replication"),
        (GUIDES, "synchronous-replication"),
        (FIXTURES / "guides", "streaming-replication-plain"),
    ]
]

# Two lines of prose at the top of every English copy, so that its line numbers differ from the
# Japanese guide's (the published translations are aligned line by line).
SHIFT = 2


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based number of the line where ``needle`` occurs for the ``nth`` time."""
    seen = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    raise AssertionError(f"{needle!r} not found {nth} time(s) in {path}")


def fence_after(path: Path, needle: str, nth: int = 1) -> int:
    """Line of the first code fence after the ``nth`` line containing ``needle``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    start = line_of(path, needle, nth)
    return next(n for n in range(start + 1, len(lines) + 1) if lines[n - 1].startswith("```"))


def en_copy(tmp_path: Path, edit: Any = None, name: str = "guide.en.md") -> Path:
    """A copy of the English seed guide, shifted by SHIFT lines, with ``edit(text) -> text`` applied."""
    text = SEED_EN.read_text(encoding="utf-8")
    text = text.replace("\n# Streaming replication by WAL resource manager\n",
                        "\n# Streaming replication by WAL resource manager\n\nAn extra paragraph.\n", 1)
    if edit is not None:
        text = edit(text)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def drift_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = run(["drift", *argv, "--json"])
    return status, json.loads(capsys.readouterr().out)


def only(changes: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [c for c in changes if c["kind"] == kind]
    assert len(found) == 1, changes
    return found[0]


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


# -- git -------------------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True).stdout


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "--short", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose guide goes through one commit per kind of change."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "commit.gpgsign", "false")
    seed = SEED_EN.read_text(encoding="utf-8")
    commit(repo, "Add README", {"README.md": "hello\n"})
    commit(repo, "Add the guide", {"guide.md": seed})
    seed = seed.replace("This makes the operation", "This makes the operations")
    commit(repo, "Fix a typo", {"guide.md": seed})
    seed = seed.replace("rm -f groonga-apt-source-latest-$(lsb_release --codename --short).deb\n", "")
    commit(repo, "Keep the .deb", {"guide.md": seed})
    commit(repo, "Touch another file", {"README.md": "hello again\n"})
    seed = re.sub(r"\b16\b", "17", seed)
    commit(repo, "PostgreSQL 17", {"guide.md": seed})
    commit(repo, "Break the guide", {"guide.md": seed + "\n```bash\necho unclosed\n"})
    commit(repo, "Repair the guide", {"guide.md": seed.replace("This makes", "This make")})
    return repo


EXPECTED_HISTORY = [  # newest first
    ("Repair the guide", "prose"),
    ("Break the guide", "unreadable"),
    ("PostgreSQL 17", "executable"),
    ("Touch another file", "none"),
    ("Keep the .deb", "executable"),
    ("Fix a typo", "prose"),
    ("Add the guide", "added"),
]


def test_history_verdicts(repo: Path) -> None:
    entries = history(repo, "guide.md")
    assert [(e.subject, e.verdict) for e in entries] == EXPECTED_HISTORY
    by_subject = {e.subject: e for e in entries}
    broken = by_subject["Break the guide"]
    assert broken.reason is not None and "unclosed-fence" in broken.reason
    bump = by_subject["PostgreSQL 17"].report
    assert bump is not None
    assert [c.details["name"] for c in bump.executable if c.kind == "variable"] == ["pg_major"]
    deb = by_subject["Keep the .deb"].report
    assert deb is not None and [c.kind for c in deb.executable] == ["command"]
    # after the broken commit, the repair is compared with the last readable version
    assert by_subject["Repair the guide"].compared_with == by_subject["PostgreSQL 17"].short


def test_history_cli_lines_and_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drift", "--history", "guide.md", "--repo", str(repo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(EXPECTED_HISTORY)
    log = git(repo, "log", "--date=short", "--format=%h %ad %s").splitlines()
    for line, (subject, verdict), logline in zip(lines, EXPECTED_HISTORY, log, strict=False):
        short, date, _ = logline.split(" ", 2)
        prefix = f"{short}  {date}  {subject}"
        assert line.startswith(prefix)
        assert line[len(prefix):].strip().startswith(verdict)
    assert "unreadable: 1:guide.md" not in lines[1] and "unclosed-fence" in lines[1]

    assert run(["drift", "--history", "guide.md", "--repo", str(repo), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["subject"], c["verdict"]) for c in data["commits"]] == EXPECTED_HISTORY
    assert {"commit", "short", "date", "subject", "verdict"} <= set(data["commits"][0])


def test_rev_path_sides(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # HEAD~5 is "Fix a typo", HEAD~4 "Keep the .deb"
    status, report = drift_json(capsys, "HEAD~5:guide.md", "HEAD~4:guide.md", "--repo", str(repo))
    assert status == 1
    change = only(report["executable"], "command")
    assert change["old"]["file"] == "HEAD~5:guide.md" and change["new"]["file"] == "HEAD~4:guide.md"
    assert change["action"] == "install-pgroonga#1"
    status, report = drift_json(capsys, "HEAD~6:guide.md", "HEAD~5:guide.md", "--repo", str(repo))
    assert (status, report["verdict"]) == (0, "prose")
    # a revision against a working-tree file
    status, report = drift_json(capsys, "HEAD~6:guide.md", str(SEED_EN), "--repo", str(repo))
    assert (status, report["verdict"]) == (0, "none")


@needs_git
def test_git_errors_are_usage_errors(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drift", "nosuchrev:guide.md", "HEAD:guide.md", "--repo", str(repo)]) == 2
    assert "unknown revision 'nosuchrev'" in capsys.readouterr().err
    assert run(["drift", "HEAD:missing.md", "HEAD:guide.md", "--repo", str(repo)]) == 2
    assert "'missing.md' is not in revision 'HEAD'" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert run(["drift", "HEAD:guide.md", "HEAD:guide.md", "--repo", str(plain)]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
    assert run(["drift", "--history", "missing.md", "--repo", str(repo)]) == 2
    assert run(["drift", "--history", "guide.md", "--repo", str(plain)]) == 2
    assert run(["drift", "--history", "guide.md", "--rev", "nosuchrev", "--repo", str(repo)]) == 2
    assert "Traceback" not in capsys.readouterr().err
