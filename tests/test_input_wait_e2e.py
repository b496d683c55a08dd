"""A program that waits for terminal input nobody will type (issue 17 point 3: "no path of the runner
waits for a timeout when psql is already waiting for input"): psql's ``\\prompt`` and ``\\password``,
a ``\\! read x``, a shell step's ``read``, a program that ignores Ctrl-C. Each fails its statement or
step at its line with who waits, the session is put back at its prompt (the transcript shows how),
and the next page runs on the same kept shell. The runs have a large --timeout: a reason that is not
the timeout's shows that none was waited for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from e2e import needs_sandbox
from e2e import variant as _variant
from site_support import ONE, _line, _runbook, _site, example_page

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]

TIMEOUT = "120"

SHELL_PID = ("SELECT 'bash ' || string_agg(ppid, ',') AS shell FROM (SELECT split_part(pg_read_file('/proc/' || p "
             "|| '/stat', 0, 512, true), ' ', 4) AS ppid FROM pg_ls_dir('/proc') p WHERE p ~ '^[0-9]+$' AND "
             "pg_read_file('/proc/' || p || '/comm', 0, 64, true) = E'psql\\n') s WHERE ppid <> '0';")
"""Prints the pid of the shell psql runs in (psql's parent, as the server reads it in /proc: the page
runs no program, so its shell may be kept; parent 0 is a psql of runbook's own, from outside the
host): the same in two pages, the same shell."""

BLOCKS = {
    "a-prompt.md": f"```sql\n{SHELL_PID}\n\\prompt 'Your name: ' name\n```",
    "b-password.md": f"```sql\n{SHELL_PID}\nSELECT 2;\n\\password\n```",
    "c-shell-escape.md": "```sql\n\\! read x\n```",
    "d-read.md": "```console\n$ read x\n```",
    "e-question.md": "```console\n$ read -p 'Do you want to continue? [Y/n] ' answer\n```",
    "f-no-ctrl-c.md": "```console\n$ bash -c 'trap \"\" INT; read a; read b'\n```",
    "g-open-quote.md": "```console\n$ echo \"abc\n```",
    "z-after.md": f"```sql\n{SHELL_PID}\n```",
}
"""Pages run one at a time (-j 1) in this order; a page running psql only (a, b, z) on the shell the page
before put aside, a page running programs (c to f) on a shell of its own (runner/site/shells.py)."""


@pytest.fixture(scope="module")
def waits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("waits")
    pages = {name: example_page(name, block, ONE) for name, block in BLOCKS.items()}
    site = _site(tmp / "site", "", pages)
    status, out = _runbook(str(site), "-j", "1", "--timeout", TIMEOUT, "--json", str(tmp / "r.json"),
                           "--transcripts", str(tmp / "t"))
    data = json.loads((tmp / "r.json").read_text())
    return {"status": status, "out": out, "site": site, "t": tmp / "t",
            "pages": {p["rel"]: p for p in data["pages"]}}


def _at(waits: dict[str, Any], page: str, text: str) -> int:
    return _line(waits["site"] / page, text)


def _transcript(waits: dict[str, Any], page: str) -> str:
    return (waits["t"] / page.removesuffix(".md") / "server.log").read_text(encoding="utf-8")


def _recovered(waits: dict[str, Any], page: str, *steps: str) -> None:
    """The page's transcript shows the wait ended as ``steps`` say, and the session back at its prompt."""
    notes = [x.split(" # ", 1)[1] for x in _transcript(waits, page).splitlines() if " # " in x]
    start = next(i for i, x in enumerate(notes) if "waits for terminal input" in x)
    assert notes[start + 1:start + 1 + len(steps) + 1] == [*steps, "back at the prompt"], notes


def test_psql_prompt_fails_at_its_line_and_the_session_comes_back(waits: dict[str, Any]) -> None:
    page = waits["pages"]["a-prompt.md"]
    assert page["status"] == "failed"
    line = _at(waits, "a-prompt.md", "\\prompt")
    # (after the timeout, the reason would be "server: the statement did not finish within 120s")
    assert page["reason"] == (f"line {line}: psql waits for terminal input (\\prompt 'Your name: ' name; "
                              "it printed 'Your name:'): a guide run cannot answer it")
    _recovered(waits, "a-prompt.md", "Ctrl-C: ending the wait for input")


def test_psql_password_fails_and_sets_nothing(waits: dict[str, Any]) -> None:
    page = waits["pages"]["b-password.md"]
    line = _at(waits, "b-password.md", "\\password")
    assert page["status"] == "failed"
    assert page["reason"].startswith(f"line {line}: psql waits for terminal input (\\password; it printed "
                                     "'Enter new password for user ")
    # Ctrl-C ended the question: no answer typed, so no password set (an empty one would clear it)
    _recovered(waits, "b-password.md", "Ctrl-C: ending the wait for input")


def test_a_program_psql_runs_that_waits_fails(waits: dict[str, Any]) -> None:
    page = waits["pages"]["c-shell-escape.md"]
    line = _at(waits, "c-shell-escape.md", "\\! read x")
    assert page["reason"] == f"line {line}: sh waits for terminal input (\\! read x): a guide run cannot answer it"
    _recovered(waits, "c-shell-escape.md", "Ctrl-C: ending the wait for input")


def test_shell_steps_that_wait_fail_at_their_line(waits: dict[str, Any]) -> None:
    read = waits["pages"]["d-read.md"]
    assert read["reason"] == (f"line {_at(waits, 'd-read.md', '$ read x')}: bash waits for terminal input "
                              "(read x): a guide run cannot answer it")
    _recovered(waits, "d-read.md", "Ctrl-C: ending the wait for input")
    question = waits["pages"]["e-question.md"]
    assert question["reason"] == (f"line {_at(waits, 'e-question.md', '$ read -p')}: bash waits for terminal "
                                  "input (read -p 'Do you want to continue? [Y/n] ' answer; it printed "
                                  "'Do you want to continue? [Y/n]'): a guide run cannot answer it")
    # Ctrl-C, not an empty line: an empty line would have answered "Y"
    _recovered(waits, "e-question.md", "Ctrl-C: ending the wait for input")


def test_a_program_that_ignores_ctrl_c_gets_the_end_of_input(waits: dict[str, Any]) -> None:
    page = waits["pages"]["f-no-ctrl-c.md"]
    assert page["reason"].startswith(f"line {_at(waits, 'f-no-ctrl-c.md', '$ bash -c')}: bash waits for "
                                     "terminal input (bash -c ")
    # (its two questions each get Ctrl-D, not an answer)
    _recovered(waits, "f-no-ctrl-c.md", "Ctrl-C: ending the wait for input",
               "bash still waits: Ctrl-D (end of input)", "bash still waits: Ctrl-D (end of input)")


def test_a_command_left_open_is_not_terminated(waits: dict[str, Any]) -> None:
    """bash waits for the rest of ``echo "abc``: its continuation prompt (a sentinel) says it is bash's
    own wait, not a program's: the step fails as an unterminated command, and the shell comes back."""
    page = waits["pages"]["g-open-quote.md"]
    # (before: "bash waits for terminal input (echo "abc): a guide run cannot answer it")
    assert page["reason"] == (f"line {_at(waits, 'g-open-quote.md', '$ echo')}: command not terminated: "
                              "bash waits for more input (an open quote)")
    notes = [x.split(" # ", 1)[1] for x in _transcript(waits, "g-open-quote.md").splitlines() if " # " in x]
    start = notes.index("command not terminated: bash waits for more input (an open quote)")
    assert notes[start + 1:start + 3] == ["Ctrl-C: ending the wait for input", "back at the prompt"], notes
    assert "__RBM_" not in _transcript(waits, "g-open-quote.md")


def test_the_page_after_them_passes_on_the_kept_shell(waits: dict[str, Any]) -> None:
    assert waits["status"] == 1, waits["out"][-3000:]
    assert waits["pages"]["z-after.md"]["status"] == "passed"
    assert waits["pages"]["z-after.md"]["checks"]["passed"] == 1
    assert "did not finish within" not in waits["out"] and "no prompt after" not in waits["out"]
    # the shell the \prompt page left at its prompt went on to the next page (SQL only)
    shells = [re.findall(r"^\S+ +(bash \d+) *$", _transcript(waits, p), re.MULTILINE)
              for p in ("a-prompt.md", "b-password.md")]
    assert len(shells[0]) == 1 and shells[0] == shells[1], shells


def test_a_guide_step_that_waits_fails_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A guide's shell step ``read x``: known at once; the step fails at its line with who waits."""
    guide = _variant(tmp_path, "read-step", "sudo -H systemctl restart postgresql",
                     "sudo -H systemctl restart postgresql\nread x")
    report = tmp_path / "r.json"
    transcripts = tmp_path / "t"
    status = run(["run", str(guide), "--fresh", "--timeout", TIMEOUT, "--json", str(report),
                  "--transcripts", str(transcripts)])
    err = capsys.readouterr().err
    assert status == 1, err[-3000:]
    failed = [a for s in json.loads(report.read_text())["steps"] for a in s["actions"] if a["status"] == "failed"]
    line = _line(guide, "read x")
    assert [a["message"] for a in failed] == [
        f"line {line}: bash waits for terminal input (read x): a guide run cannot answer it"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in transcripts.rglob("*.log"))
    assert "# Ctrl-C: ending the wait for input" in text and "# back at the prompt" in text
