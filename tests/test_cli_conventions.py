"""The command line's conventions (docs/cli.md) and the newcomer's trip-ups of issue 21, each shown
through the command as a user types it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from conftest import FIXTURES
from helpers import bound_pg_version, line_of

from runner.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
HELLO = FIXTURES / "guides" / "hello.en.md"
SINGLE = FIXTURES / "guides" / "single-host.ja.md"
PLAIN_JA = FIXTURES / "guides" / "streaming-replication-plain.ja.md"
has_pg = pytest.mark.skipif(not Path("/usr/lib/postgresql").is_dir(), reason="the plan binds the installed PostgreSQL")


def _runbook(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner.cli", *args], capture_output=True, text=True, check=False,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


# -- usage errors: the sub-command, the closest option or command, the usage line -----------------

def test_an_unknown_option_names_the_sub_command_and_the_closest_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "--frm", "x", str(HELLO)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("runbook run: unknown option(s): --frm (did you mean '--from'?)")
    assert "usage: runbook run " in err


@pytest.mark.parametrize("name", list(__import__("runner.cli", fromlist=["COMMANDS"]).COMMANDS))
def test_every_command_takes_quiet_and_verbose(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli([name, "--help"])
    out = capsys.readouterr().out
    assert "-q, --quiet" in out and "-v, --verbose" in out


def test_a_usage_error_found_later_names_the_sub_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["parse", "/nonexistent/guide.md"]) == 2
    assert capsys.readouterr().err == "runbook parse: /nonexistent/guide.md: no such file\n"


def test_a_mistyped_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lnt", str(HELLO)]) == 2
    assert "(did you mean 'lint'?)" in capsys.readouterr().err


def test_an_unknown_step_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "--plan", "--only", "check-dta", str(SINGLE)]) == 2
    assert "no step 'check-dta' (did you mean 'check-data'?)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["lint", "parse", "run"])
def test_a_language_without_a_lexicon_is_a_usage_error_listing_the_languages(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([command, "--lang", "fr", str(HELLO)]) == 2
    err = capsys.readouterr().err
    assert f"runbook {command}: argument --lang: no lexicon for 'fr'; languages: en (English), ja (Japanese)" in err


def test_a_language_is_accepted_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["parse", "--lang", "EN", str(HELLO)]) == 0
    assert json.loads(capsys.readouterr().out)["source"]["lang"] == "en"


# -- -q / -v, stdout / stderr -------------------------------------------------------------------

def test_lint_results_on_stdout_the_count_on_stderr_and_quiet_silences_it(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Guides\n\nThe guides of this folder.\n")
    (tmp_path / "hello.en.md").write_text(HELLO.read_text())
    loud = _runbook("lint", str(tmp_path))
    assert loud.returncode == 0, loud.stderr  # was 4 with "0 finding(s), 0 error(s)" and no other word
    assert f"{tmp_path}/README.md:1: not-executable: " in loud.stdout and "[hint]" in loud.stdout
    assert loud.stderr == (f"runbook: {tmp_path}/hello.en.md read as English (file name .en.md)\n"
                           "2 page(s), 1 finding(s), 0 error(s)\n")
    quiet = _runbook("lint", "-q", str(tmp_path))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, loud.stdout, "")


def test_lint_of_the_projects_guides_folder_does_not_fail_on_its_readme() -> None:
    proc = _runbook("lint", "docs/guides/README.md", str(HELLO))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no-steps" not in proc.stdout


def test_lint_says_which_lexicon_read_each_guide() -> None:
    proc = _runbook("lint", str(HELLO))
    assert f"runbook: {HELLO} read as English (file name .en.md)" in proc.stderr


def test_the_summary_goes_to_stdout_the_progress_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from runner.reports.progress import ProgressPrinter
    from runner.reports.summary import print_summary
    from runner.running.results import ActionResult, RunResult, StepResult

    step = StepResult("s", 1, "S", None, 3, "passed", actions=[ActionResult("s#1", "s", "shell", "h", 4, "passed")])
    printer = ProgressPrinter(total=1)
    printer("step-end", step, None)
    print_summary(RunResult("g.md", "sandbox", "passed", 0.0, 1.0, [step]))
    out, err = capsys.readouterr()
    assert "g.md on sandbox: PASSED" in out and "g.md on sandbox" not in err
    assert "[ 1/1] s: passed" in err and "[ 1/1]" not in out


def test_a_failed_steps_line_names_the_guide_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    from runner.reports.progress import ProgressPrinter
    from runner.running.results import StepResult

    step = StepResult("check-data", 3, "Check", None, 59, "failed", reason="primary: result differs")
    ProgressPrinter(total=3, file="g.ja.md")("step-end", step, None)
    assert capsys.readouterr().err == "[ 3/3] check-data: failed at g.ja.md:59 (0.0s) - primary: result differs\n"


def test_quiet_silences_the_progress(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.reports import console
    from runner.reports.progress import ProgressPrinter
    from runner.running.results import StepResult

    monkeypatch.setattr(console, "verbosity", console.QUIET)
    ProgressPrinter(total=1)("step-start", StepResult("s", 1, "S", None, 3, "running"), None)
    assert capsys.readouterr().err == ""


# -- colour and width -------------------------------------------------------------------------------

def test_drift_honours_no_color_and_force_color() -> None:
    old, new = FIXTURES / "guides" / "streaming-replication-plain.ja.md", FIXTURES / "guides" / "single-host.ja.md"
    forced = _runbook("drift", str(old), str(new), env={"FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout  # a pipe, yet coloured: FORCE_COLOR
    plain = _runbook("drift", str(old), str(new), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout and plain.stdout


def _long_result() -> object:
    from runner.running.results import ActionResult, CheckResult, RunResult, StepResult

    check = CheckResult(25, "SELECT count(*) FROM memos;", "failed", ["25"], ["24"],
                        ["row 1, count: expected '25', got '24'"])
    action = ActionResult("check#1", "check", "sql", "primary", 24, "failed",
                          message="result differs from the guide: row 1, count: expected '25', got '24'; and a good "
                                  "deal more text that makes the note longer than any terminal is wide",
                          checks=[check])
    return RunResult("docs/guides/g.md", "sandbox", "failed", 0.0, 1.0,
                     [StepResult("check-replication-of-the-memos-table", 1, "Check", "normal", 20, "failed",
                                 actions=[action])])


@pytest.mark.parametrize("columns", [60, 80, 100, 140])
def test_the_summary_fits_the_terminal_and_cuts_notes_with_an_ellipsis(
        columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """COLUMNS is the width (the table was 160 wide on an 80-column terminal); a note too long for
    the line ends in an ellipsis (it was cut at 90 characters without one); no step name is lost."""
    from runner.reports.summary import print_summary

    monkeypatch.setenv("COLUMNS", str(columns))
    out = io.StringIO()
    print_summary(_long_result(), stream=out)  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert max(len(x) for x in lines) <= columns, lines
    if columns >= 100:
        assert "check-replication-of-the-memos-table" in out.getvalue()
        assert any(x.endswith("… │") for x in lines), lines
    if columns >= 140:
        assert any("result differs from the guide: row 1, count: expected '25'" in x for x in lines)


def test_a_guides_run_ends_with_a_closing_list_of_file_line_expected_got() -> None:
    from runner.reports.summary import print_failures

    out = io.StringIO()
    print_failures(_long_result(), "docs/guides/g.md", stream=out)  # type: ignore[arg-type]
    assert out.getvalue() == "docs/guides/g.md:25: row 1, count: expected '25', got '24'\n"


# -- files: atomic, the umask, no folder made unasked ----------------------------------------------

def test_output_files_get_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        from runner import outputs as files

        files.umask.cache_clear()
        files.write_atomic(tmp_path / "graph.json", "{}\n")
        assert (tmp_path / "graph.json").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
        files.umask.cache_clear()


def test_a_missing_output_folder_is_a_usage_error_unless_mkdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    target = tmp_path / "no" / "such" / "r.html"
    assert cli(["run", str(HELLO), "--html", str(target)]) == 2
    assert f"{tmp_path}/no/such/: no such folder for --html {target} (create it, or give --mkdir)" in \
        capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    assert cli(["parse", str(HELLO), "-o", str(tmp_path / "new" / "g.json")]) == 2
    assert cli(["parse", str(HELLO), "-o", str(tmp_path / "new" / "g.json"), "--mkdir"]) == 0
    assert json.loads((tmp_path / "new" / "g.json").read_text())["source"]["lang"] == "en"


def test_graph_to_a_mmd_file_is_the_bare_diagram(tmp_path: Path) -> None:
    assert cli(["graph", str(HELLO), "-o", str(tmp_path / "g.mmd")]) == 0
    text = (tmp_path / "g.mmd").read_text()
    assert text.startswith("flowchart ") and "```" not in text
    assert cli(["graph", str(HELLO), "-o", str(tmp_path / "g.md")]) == 0
    assert (tmp_path / "g.md").read_text().startswith("```mermaid\n")


# -- input the reader now names rightly ----------------------------------------------------------

def test_a_utf16_guide_is_named_utf16_not_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = tmp_path / "g.md"
    guide.write_text(HELLO.read_text(), encoding="utf-16")
    assert cli(["parse", str(guide)]) == 4
    err = capsys.readouterr().err
    assert f"{guide}:1: not-utf8: this file is UTF-16 text, not UTF-8" in err and "binary" not in err


def test_a_missing_folder_is_named_as_a_file_or_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "/nonexistent/guides/"]) == 2
    assert "/nonexistent/guides: no such file or folder" in capsys.readouterr().err


def test_an_unclosed_fence_in_the_middle_is_reported_at_its_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = SINGLE.read_text()
    lines = text.splitlines()
    opening = next(i for i, x in enumerate(lines) if "systemctl restart" in x) - 1
    assert lines[opening] == "```bash" and lines[opening + 2] == "```"
    del lines[opening + 2]
    guide = tmp_path / "g.ja.md"
    guide.write_text("\n".join(lines) + "\n")
    assert cli(["parse", str(guide)]) == 4
    assert f"{guide}:{opening + 1}: unclosed-fence: the code block opened here with '```' is not closed before " \
        in capsys.readouterr().err


# -- --update-expected says updated; --only says the earlier steps never ran -------------------------

def test_rewritten_checks_are_updated_not_passed() -> None:
    from runner.reports.guide import to_json
    from runner.reports.summary import mark_updated
    from runner.running.results import ActionResult, CheckResult, RunResult, StepResult

    check = CheckResult(9, "SELECT 1;", "failed", ["2"], ["1"], ["differs"], expected_span=(9, 10),
                        statement_span=(8, 8))
    result = RunResult("g.md", "sandbox", "failed", 0.0, 1.0, [StepResult("s", 1, "S", None, 3, "failed", actions=[
        ActionResult("s#1", "s", "sql", "h", 8, "failed", checks=[check])])])
    mark_updated(result)
    assert (check.status, result.steps[0].actions[0].status, result.steps[0].status, result.status) == \
        ("updated", "updated", "updated", "passed")
    assert to_json(result)["summary"] == {"updated": 1}  # schema-checked


def test_only_on_a_new_sandbox_says_the_earlier_steps_never_ran(capsys: pytest.CaptureFixture[str]) -> None:
    from runbook.parse import parse_file
    from runner.orchestrate import _selection_hint

    graph = parse_file(SINGLE)
    run = SimpleNamespace(graph=graph, done=set(), sandbox=object(), path=SINGLE)
    chosen = ["check-data"]  # --only check-data
    _selection_hint(run, SimpleNamespace(status="failed"), chosen)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "the steps before check-data (install-postgresql, configure-primary) never ran on this sandbox" in err
    assert "--until configure-primary --keep" in err
    _selection_hint(SimpleNamespace(**{**vars(run), "done": {"install-postgresql", "configure-primary"}}),
                    SimpleNamespace(status="failed"), chosen)  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""


# -- the plan ----------------------------------------------------------------------------------------

@has_pg
def test_the_plan_honours_only_and_shows_expected_output_and_how_it_is_compared(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "--plan", "--only", "check-data", str(SINGLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"plan for {SINGLE} on the sandbox; read as Japanese (file name .ja.md)\n")
    assert "steps selected: check-data" in out
    assert "install-postgresql" not in out and "configure-primary" not in out
    line = line_of(SINGLE, "--  name  | price")
    assert f"       expects (line {line}, compared exact):\n         |  name  | price \n" in out
    assert not re.search(r"\b[A-Z][a-z]+\([a-z_]+=", out)  # no Python repr


@has_pg
def test_the_plan_shows_substitutions_with_reasons_and_no_python_repr(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "--plan", "--from", "configure-primary", "--until", "configure-primary", str(SINGLE)]) == 0
    out = capsys.readouterr().out
    assert "steps selected: configure-primary\n" in out
    conf = f"/etc/postgresql/{bound_pg_version()}/main/postgresql.conf"
    assert f"     edit {conf}:\n       - #listen_addresses = 'localhost'\n" in out
    assert cli(["run", "--plan", str(PLAIN_JA)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n       substituted for `[^`]+` \(line \d+\)\n         because .{20,}", out)
    assert "Sandbox(" not in out


@has_pg
def test_the_plan_as_json_is_written_and_checked_against_its_schema(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert cli(["run", "--plan", "--until", "configure-primary", "--json", str(out), str(SINGLE)]) == 0
    data = json.loads(out.read_text())
    from runner.planning.plan_view import load_plan_schema

    jsonschema.validate(data, load_plan_schema())
    assert [s["id"] for s in data["steps"]] == ["install-postgresql", "configure-primary"]
    assert data["selected"] == ["install-postgresql", "configure-primary"]


def test_plan_only_nosuch_is_a_usage_error_as_without_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", "--plan", "--only", "nosuch", str(SINGLE)]) == 2
    assert "no step 'nosuch'" in capsys.readouterr().err


def test_export_lang_is_the_guides_language_and_into_the_one_to_write(capsys: pytest.CaptureFixture[str]) -> None:
    """One meaning per option name: --lang reads the guide (as in lint, run, parse, drift), --into writes."""
    assert cli(["export", str(PLAIN_JA), "--to", "markdown", "--lang", "ja", "--into", "en"]) == 0
    english = capsys.readouterr().out
    assert "\n## Summary\n" in english and "\n## 概要\n" not in english
    assert cli(["export", str(PLAIN_JA), "--to", "markdown", "--into", "en"]) == 0
    assert capsys.readouterr().out == english
    assert cli(["export", str(PLAIN_JA), "--to", "markdown", "--lang", "en"]) == 0  # the older command line
    out, err = capsys.readouterr()
    assert out == english and "write --into: --lang is the language a guide is read in" in err
    assert cli(["export", str(PLAIN_JA), "--to", "markdown", "--lang", "fr", "--into", "en"]) == 2


def test_how_each_check_is_compared() -> None:
    """The plan says how each result is compared, as runner/running/compare.py compares it."""
    from runbook.parse import parse_text
    from runner.planning.plan_view import how_compared

    extra = ("SELECT name FROM items;\n-- name\n-- -------\n-- apple\n-- pear\n-- (2 rows)\n"
             "EXPLAIN SELECT * FROM items;\n--                        QUERY PLAN\n"
             "-- ---------------------------------------------------------\n"
             "--  Seq Scan on items  (cost=0.00..22.70 rows=1270 width=36)\n-- (1 row)\n"
             "SELECT now() AS t;\n--               t\n-- -------------------------------\n"
             "--  2024-05-01 10:00:00.123456+09\n-- (1 row)\n")
    text = SINGLE.read_text().replace("```sql\nSHOW enable_seqscan;", "```sql\n" + extra + "SHOW enable_seqscan;")
    graph = parse_text(text, "g.ja.md")
    hows = {st.sql.split()[0] + " " + st.sql.split()[1]: how_compared(st.expected, st.sql)
            for a in graph.actions() for st in a.statements if st.expected is not None}
    assert hows["SELECT name,"] == "exact"  # ORDER BY name
    assert hows["SELECT name"] == "multiset"
    assert hows["EXPLAIN SELECT"] == "shape"
    assert hows["SELECT now()"].startswith("exact, volatile: ")


def test_a_sites_html_report_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--html site.html` on a site wrote one file per page named after the page's file name only and
    never site.html; a site's report is a folder (index page and a report per page)."""
    assert cli(["run", str(ROOT / "docs" / "site"), "--html", str(tmp_path / "site.html")]) == 2
    assert "--html " + str(tmp_path / "site.html") + ": a site's report is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
