"""Settings a guide writes, checked against the installed PostgreSQL (issue 20, point 3).

The fixture guide (tests/fixtures/settings/wrong-settings.md) writes one wrong thing per line; the
expected findings below are what PostgreSQL's documentation (15 and later) says of each (the closest names,
the version of the removals, the enum values, the range), not the module's output copied. They are
checked against the PostgreSQL a run binds (the newest installed), found by their text in the guide.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from helpers import installed_pg_versions, line_of

from runbook.parse import parse_file
from runner.cli import main as cli
from runner.planning import settings_check
from runner.planning.settings_check import Parameter, check_graph, guide_settings, value_problem

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "tests" / "fixtures" / "settings" / "wrong-settings.md"
PG = (installed_pg_versions() or ["15"])[-1]
"""The version a run binds (the newest installed; 15, Debian's, only names a missing one below)."""
needs_pg = pytest.mark.skipif(not Path(f"/usr/lib/postgresql/{PG}/bin/postgres").exists(),
                              reason=f"PostgreSQL {PG} is not installed (scripts/setup)")
needs_pgroonga = pytest.mark.skipif(not Path(f"/usr/share/postgresql/{PG}/extension/pgroonga.control").exists(),
                                    reason=f"PGroonga is not installed for PostgreSQL {PG} (/work/shared/pgroonga)")


SHELL_ALTER = 'sudo -u postgres psql --command "ALTER SYSTEM SET wal_levl = \'logical\';"'


def _line(text: str) -> int:
    return GUIDE.read_text(encoding="utf-8").split("\n").index(text) + 1


def _at(text: str) -> int:
    """The line of the guide that holds ``text``."""
    return line_of(GUIDE, text)


def test_values_by_type() -> None:
    flag = Parameter("fsync", "bool")
    assert value_problem(flag, "on") is None and value_problem(flag, "'off'") is None
    assert value_problem(flag, "tru") is None and value_problem(flag, "1") is None  # PostgreSQL takes prefixes
    assert "not a boolean" in (value_problem(flag, "maybe") or "")
    level = Parameter("wal_level", "enum", enumvals=("minimal", "replica", "logical"))
    assert value_problem(level, "Logical") is None
    assert "not one of minimal, replica, logical" in (value_problem(level, "logcal") or "")
    buffers = Parameter("shared_buffers", "integer", "8kB", "16", "1073741823")
    assert value_problem(buffers, "128MB") is None  # 16384 × 8kB
    assert "out of range" in (value_problem(buffers, "64kB") or "")  # 8 × 8kB < 16
    assert "unit 'XB'" in (value_problem(buffers, "128XB") or "")
    senders = Parameter("max_wal_senders", "integer", "", "0", "262143")
    assert "out of range" in (value_problem(senders, "1000000") or "")
    assert "not an integer" in (value_problem(senders, "1.5") or "")
    timeout = Parameter("statement_timeout", "integer", "ms", "0", "2147483647")
    assert value_problem(timeout, "'5min'") is None
    assert value_problem(Parameter("listen_addresses", "string"), "'*'") is None


def test_what_a_guide_writes() -> None:
    settings, files, libraries = guide_settings(parse_file(GUIDE))
    assert [(s.name, s.line, s.where) for s in settings] == [
        ("shared_preload_libraries", _at("shared_preload_libraries = "), "postgresql.conf"),
        ("pgronga.enable_wal", _at("pgronga.enable_wal = "), "postgresql.conf"),
        ("wal_keep_segments", _at("wal_keep_segments = "), "postgresql.conf"),
        ("wal_level", _at("wal_level = "), "postgresql.conf"),
        ("max_wal_senders", _at("max_wal_senders = "), "postgresql.conf"),
        ("shared_buffers", _at("shared_buffers = "), "postgresql.conf"),
        ("pgroonga.enable_wal", _at("ALTER SYSTEM SET pgroonga.enable_wal"), "ALTER SYSTEM"),
        ("enable_seqscan", _at("SET enable_seqscan"), "SET"),
        ("pgroonga.log_level", _at("SET pgroonga.log_level"), "SET"),
        ("wal_levl", _line(SHELL_ALTER), "ALTER SYSTEM")]
    assert files == [("recovery.conf", _line("`/var/lib/postgresql/15/main/recovery.conf`:"))]
    assert libraries == ("pgroonga",)  # shared_preload_libraries and CREATE EXTENSION


def test_removals_are_data() -> None:
    data = tomllib.loads((ROOT / "runner" / "data" / "settings.toml").read_text(encoding="utf-8"))
    assert data["removed"]["wal_keep_segments"]["since"] == "13"
    assert data["removed"]["wal_keep_segments"]["use"].startswith("wal_keep_size")
    assert data["files"]["recovery.conf"]["since"] == "12"


@needs_pg
def test_core_settings_against_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_check, "CACHE", tmp_path / "cache")
    findings, note = check_graph(parse_file(GUIDE), PG)
    by_line = {f.span.line: f for f in findings}
    removed = by_line[_at("wal_keep_segments = ")]
    assert removed.rule == "setting-removed" and "PostgreSQL 13" in removed.message
    assert "wal_keep_size" in removed.message
    level = by_line[_at("wal_level = ")]
    assert level.rule == "setting-value" and "minimal, replica, logical" in level.message
    senders = by_line[_at("max_wal_senders = ")]
    assert senders.rule == "setting-value" and "0 .. 262143" in senders.message
    buffers = by_line[_at("shared_buffers = ")]
    assert buffers.rule == "setting-value" and "'XB'" in buffers.message
    recovery = _line("`/var/lib/postgresql/15/main/recovery.conf`:")
    assert by_line[recovery].rule == "config-file-obsolete" and "since PostgreSQL 12" in by_line[recovery].message
    assert _at("shared_preload_libraries = ") not in by_line and _at("SET enable_seqscan") not in by_line  # fine
    shell = by_line[_line(SHELL_ALTER)]
    assert shell.rule == "setting-unknown" and shell.message.endswith("did you mean wal_level?")
    assert all(f.span.file == str(GUIDE) for f in findings)
    # The answer is cached: a second check starts no scratch cluster.
    assert list((tmp_path / "cache").glob(f"{PG}-*.json"))
    monkeypatch.setattr(settings_check, "scratch_settings", lambda *a: pytest.fail("not cached"))
    again, _ = check_graph(parse_file(GUIDE), PG)
    assert [f.format() for f in again] == [f.format() for f in findings]


@needs_pg
@needs_pgroonga
def test_extension_settings_come_from_the_loaded_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_check, "CACHE", tmp_path / "cache")
    findings, note = check_graph(parse_file(GUIDE), PG)
    assert note == f"settings checked against PostgreSQL {PG} with pgroonga loaded"
    by_line = {f.span.line: f for f in findings}
    typo = by_line[_at("pgronga.enable_wal = ")]
    assert typo.rule == "setting-unknown" and typo.message.endswith("did you mean pgroonga.enable_wal?")
    maybe = by_line[_at("ALTER SYSTEM SET pgroonga.enable_wal")]
    assert maybe.rule == "setting-value" and "'maybe' is not a boolean" in maybe.message
    assert _at("SET pgroonga.log_level") not in by_line  # pgroonga.log_level = debug is one of its enum values


@needs_pg
def test_plan_and_lint_name_the_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", str(GUIDE), "--plan"]) == 0
    out = capsys.readouterr().out
    assert f"wrong-settings.md:{_at('wal_keep_segments = ')}: setting-removed: wal_keep_segments" in out  # a warning
    assert f"wrong-settings.md:{_at('wal_level = ')}: setting-value: wal_level = logcal" in out
    assert f"settings checked against PostgreSQL {PG}" in out
    assert cli(["lint", str(GUIDE)]) == 0  # warnings only
    out = capsys.readouterr().out
    assert f"{GUIDE}:{_at('max_wal_senders = ')}: setting-value: max_wal_senders = 1000000" in out


@needs_pg
@pytest.mark.parametrize("guide", sorted((ROOT / "docs" / "guides").glob("*.md")), ids=lambda p: p.name)
def test_the_project_guides_write_only_settings_postgresql_takes(guide: Path) -> None:
    if guide.name == "README.md":
        return
    findings, _ = check_graph(parse_file(guide), PG)
    assert findings == []


def test_no_postgresql_no_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_check, "_bin", lambda v: Path("/nonexistent"))
    findings, note = check_graph(parse_file(GUIDE), PG)
    assert note == f"settings not checked: PostgreSQL {PG} is not installed here"
    assert [f.rule for f in findings] == ["config-file-obsolete"]  # a file needs no server to be named


@needs_pg
@pytest.mark.sandbox
def test_a_run_warns_before_its_first_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from e2e import needs_sandbox

    if needs_sandbox.args[0]:
        pytest.skip(needs_sandbox.kwargs["reason"])
    source = (ROOT / "docs" / "guides" / "slow-query-log.en.md").read_text(encoding="utf-8")
    guide = tmp_path / "typo.en.md"
    guide.write_text(source.replace("`log_min_duration_statement = 250`", "`log_min_duraton_statement = 250`"))
    cli(["run", str(guide), "--fresh", "--transcripts", str(tmp_path / "t")])
    err = capsys.readouterr().err
    warning = err.index(f"{guide}:{line_of(guide, 'log_min_duraton_statement')}: setting-unknown: "
                        "log_min_duraton_statement")
    assert "did you mean log_min_duration_statement?" in err
    assert warning < err.index("install#1")  # printed with the substitutions, before the first step runs


def test_only_installed_libraries_by_plain_name_are_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    loaded: list[tuple[str, ...]] = []
    monkeypatch.setattr(settings_check, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(settings_check, "describe_config", lambda version: {})
    monkeypatch.setattr(settings_check, "scratch_settings", lambda version, libs: loaded.append(libs) or {})
    if not Path(f"/usr/lib/postgresql/{PG}/bin/postgres").exists():
        pytest.skip(f"PostgreSQL {PG} is not installed")
    (tmp_path / "evil.so").write_bytes(b"")  # a file a guide could point at with a relative path
    evil = os.path.relpath(tmp_path / "evil", f"/usr/lib/postgresql/{PG}/lib")
    assert Path(f"/usr/lib/postgresql/{PG}/lib/{evil}.so").exists()
    settings_check.known_parameters(PG, (evil, "no_such_library", "plpgsql"))
    assert loaded == [("plpgsql",)]  # plpgsql.so is installed with PostgreSQL; the others are not loaded


@needs_pg
def test_a_secret_in_a_value_is_never_shown(tmp_path: Path) -> None:
    guide = ROOT / "docs" / "guides" / "basic-streaming-replication.en.md"
    text = guide.read_text(encoding="utf-8").replace("`wal_keep_size = 64MB`", "`wal_keep_size = passw0rd`")
    assert "wal_keep_size = passw0rd" in text and "passw0rd" in text.split("## [normal]")[0]  # the guide's secret
    page = tmp_path / "g.en.md"
    page.write_text(text, encoding="utf-8")
    findings, _ = check_graph(parse_file(page), PG)
    (bad,) = [f for f in findings if f.rule == "setting-value"]
    assert "wal_keep_size = ********" in bad.message and "passw0rd" not in bad.message
