"""One rule set for file edits (issue 19 point 2): the runner, the sh export and the Ansible export
apply ``runbook/edit_rules.py``; random edits of random files give the same file through all three,
and applying an edit twice gives what applying it once gives."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from runbook import edit_rules
from runbook.edit_rules import EditResult, EditStatus, apply_file_edit, helper_source, holds_before_again, is_conf
from runbook.export.ansible import HELPER_FILE, export_ansible
from runbook.export.sh import HELPER, export_sh
from runbook.model import Action, Graph, Span, Variable

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "tests/fixtures/graphs/tests__fixtures__guides__hello.en.md.json"
SECRET, SECRET_ENV = "s3cr3t-pw", "RUNBOOK_SECRET_REPLICATION_PASSWORD"
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"

# Lines of conf files, pg_hba.conf and scripts, with what a shell, YAML or Jinja could take for its own.
LINES = [
    "#listen_addresses = 'localhost'", "listen_addresses = '*'", "port = 5432", "#port = 5432", "port = 5433",
    "wal_level = replica", "#wal_level = replica", "wal_level = logical", "max_wal_senders = 10",
    "shared_preload_libraries = 'pg_stat_statements'", "host all all 127.0.0.1/32 scram-sha-256",
    "local replication all peer", "# - Connection Settings -", "archive_command = 'cp %p /a/%f'",
    "echo \"$HOME\" {{ x }} `id` \\", "名前 = '日本語'", f"primary_conninfo = 'password={SECRET}'",
    "- item: yes", "a=1 #b",
]
SETTINGS = ["port = 5433", "port=5434", "wal_level = logical", "max_wal_senders = 10", "listen_addresses = '*'",
            "#port = 1", f"primary_conninfo = 'password={SECRET}'"]
COMMENTS = ["", "", "\t\t# note", "  # why, and how", "\t#"]


@st.composite
def written(draw: st.DrawFn, line: str) -> str:
    """``line`` as a file or a guide may write it: other whitespace runs, maybe a trailing comment."""
    words = line.split(" ")
    seps = [draw(st.sampled_from([" ", " ", "  ", "\t", " \t"])) for _ in words[1:]]
    text = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
    return draw(st.sampled_from(["", "", " ", "\t"])) + text + draw(st.sampled_from(COMMENTS))


@dataclass
class Case:
    name: str
    lang: str
    mode: str | None
    content: str
    before: str
    after: str

    def runner(self, content: str | None = None) -> EditResult:
        """What the runner does (runner/running/files.py calls this with the host's path and the block's language)."""
        return apply_file_edit(self.content if content is None else content, self.mode, self.before or None,
                               self.after, path=self.name, lang=self.lang)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # a file's lines differ from each other (blank lines aside), as in the files guides edit
    templates = draw(st.lists(st.sampled_from(LINES), min_size=0, max_size=8, unique=True))
    for _ in range(draw(st.integers(0, 2))):
        templates.insert(draw(st.integers(0, len(templates))), "")
    lines = [draw(written(t)) if t else "" for t in templates]
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    content = newline.join(lines) + draw(st.sampled_from([newline, newline, ""]))
    name = draw(st.sampled_from(["postgresql.conf", "pg_hba.conf", "my.cnf", "setup.sh", "notes.txt"]))
    lang = draw(st.sampled_from(["conf", "", "", "bash", "ini"]))
    mode = draw(st.sampled_from([None, None, None, "settings", "append"]))
    before = ""
    if mode == "settings":
        after = [draw(written(s)) for s in draw(st.lists(st.sampled_from(SETTINGS), min_size=1, max_size=4))]
    else:
        after = [draw(written(t)) for t in draw(st.lists(st.sampled_from(LINES), min_size=0, max_size=3))]
    if mode is None:
        present = [t for t in templates if t]
        if draw(st.booleans()) and present:  # lines of the file, written the guide's way
            start = draw(st.integers(0, len(present) - 1))
            chosen = present[start : start + draw(st.integers(1, 3))]
        else:
            chosen = draw(st.lists(st.sampled_from(LINES), min_size=1, max_size=2))
        b = [draw(written(t)) for t in chosen]
        before = "\n".join(b) + "\n"
        if draw(st.booleans()):  # an after block that repeats the before lines and adds some: an insertion
            after = b + (after or [draw(written(draw(st.sampled_from(LINES))))])
    return Case(name, lang, mode, content, before, "\n".join(after) + "\n")


def _graph(items: list[Case], folder: Path) -> Graph:
    """A one-step guide of file edits on host ``primary``, each of its own file in ``folder`` (k/NAME)."""
    g = Graph.from_dict(json.loads(HELLO.read_text()))
    step = g.steps[0]
    step.actions = [Action(id=f"{step.id}#{k + 1}", kind="file_edit", lang=c.lang, targets=["primary"],
                           target_source="prose", span=Span("g.md", 10 * k + 1, 10 * k + 5), code=c.after,
                           path=str(folder / str(k) / c.name), before=c.before or None, after=c.after, edit=c.mode)
                    for k, c in enumerate(items)]
    g.steps = [step]
    g.variables.append(Variable("replication_password", SECRET, "password", True))
    return g


def _files(items: list[Case], folder: Path) -> list[Path]:
    paths = []
    for k, c in enumerate(items):
        path = folder / str(k) / c.name
        path.parent.mkdir(parents=True)
        path.write_bytes(c.content.encode())
        paths.append(path)
    return paths


def _read(path: Path) -> str:
    return path.read_bytes().decode()


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, SECRET_ENV: SECRET, "HOME": str(tmp), "ANSIBLE_LOCAL_TEMP": str(tmp / ".ansible-local"),
            "ANSIBLE_REMOTE_TEMP": str(tmp / ".ansible-remote"), "ANSIBLE_NOCOLOR": "1"}


DRIFTED = Case("postgresql.conf", "conf", None, "#wal_level = replica\nport = 5432\n",
               "#wal_level = replica   # what the guide says\n", "wal_level = logical\n")
"""A trailing comment on the guide's before line that the file's line has not (the drift issue 19 names)."""
DEBIAN = [
    DRIFTED,
    Case("pg_hba.conf", "", None, "local   replication     all                                     peer\n",
         "local replication all peer\n", "local replication all peer\nhost replication all 10.0.0.0/8 md5\n"),
    Case("postgresql.conf", "conf", None, "#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;\n",
         "#listen_addresses = 'localhost'\n", "listen_addresses = '*'\n"),
    Case("postgresql.conf", "", "settings", "port = 5432\t\t\t\t# (change requires restart)\n", "",
         "port = 5433\nwal_level = logical\n"),
    Case("pg_hba.conf", "", "append", "local all all peer\n", "", "host all all 10.0.0.0/8 md5\n"),
    Case("postgresql.conf", "conf", None, "port = 5432\n", "#max_wal_senders = 10\n", "max_wal_senders = 20\n"),
]


# -- the rules, in-process ------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(cases())
def test_applying_an_edit_twice_gives_what_applying_it_once_gives(case: Case) -> None:
    once = case.runner()
    # (an edit whose result holds its before text again is applied again: apply_edit's docstring)
    assume(once.status != EditStatus.APPLIED or case.mode is not None
           or not holds_before_again(once.content, case.before, case.after, conf=is_conf(case.name, case.lang)))
    twice = case.runner(once.content)
    assert twice.content == once.content
    if once.status == EditStatus.APPLIED:
        assert twice.status == EditStatus.ALREADY_APPLIED
    if once.status != EditStatus.APPLIED:
        assert once.content == case.content


def test_a_trailing_comment_on_the_guides_line_and_not_in_the_file_matches() -> None:
    """The drift issue 19 names: the runner applied it, Ansible's ``replace`` changed nothing."""
    assert DRIFTED.runner().content == "wal_level = logical\nport = 5432\n"


def test_is_conf_decides_by_the_path_or_the_blocks_language() -> None:
    assert is_conf("/etc/postgresql/15/main/pg_hba.conf") and is_conf("/etc/my.cnf", "")
    assert is_conf("/etc/default/x", "conf") and is_conf("/etc/x.INI".lower())
    assert not is_conf("/etc/hosts", "") and not is_conf("setup.sh", "bash")
    line = "a=1 #b"
    assert apply_file_edit(f"{line}\n", None, "a=1\n", "a=2\n", path="x.conf").status == EditStatus.APPLIED
    assert apply_file_edit(f"{line}\n", None, "a=1\n", "a=2\n", path="x.sh").status == EditStatus.BEFORE_MISSING


# -- the helper is this module's text ------------------------------------------------------------------------

def test_the_exports_helper_is_built_from_the_modules_text() -> None:
    assert HELPER == helper_source()
    for module in ("atomic.py", "edit_rules.py"):
        body = (ROOT / "runbook" / module).read_text().split("from __future__ import annotations\n", 1)[1]
        kept = "\n".join(ln for ln in body.split("\n") if not ln.startswith("from .atomic "))
        assert kept.strip("\n") in HELPER
    ast.parse(HELPER, feature_version=(3, 8))  # the hosts' python3 may be older than runbook's
    sh = export_sh(_graph([Case("a.conf", "conf", "append", "", "", "x = 1\n")], Path("/nonexistent")))
    assert HELPER.strip("\n") in sh["primary.sh"]
    # No other copy of the rules: the exports hold no regular expression or matching of their own.
    for name in ("sh.py", "ansible.py"):
        text = (ROOT / "runbook/export" / name).read_text()
        assert "def norm" not in text and "lineinfile" not in text and "ansible.builtin.replace" not in text


def test_the_helper_says_how_to_call_it() -> None:
    run = subprocess.run([sys.executable, "-c", HELPER, "edit", "only-a-path"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("usage: helper")
    assert edit_rules.main([]) == 2


# -- through the three -------------------------------------------------------------------------------------

def _sh(case: Case, tmp: Path) -> tuple[list[int], list[str]]:
    """Run the exported script twice on the case's file: exit statuses and the file after each run."""
    [path] = _files([case], tmp)
    script = tmp / "primary.sh"
    script.write_text(export_sh(_graph([case], tmp))["primary.sh"])
    codes, texts = [], []
    for _ in range(2):
        run = subprocess.run(["bash", str(script), "1"], capture_output=True, text=True, env=_env(tmp))
        codes.append(run.returncode)
        texts.append(_read(path))
    return codes, texts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
@example(case=DRIFTED)
def test_the_sh_export_edits_as_the_runner_does(case: Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("sh")
    expected = case.runner()
    codes, texts = _sh(case, tmp)
    if expected.status == EditStatus.BEFORE_MISSING:
        assert codes == [1, 1] and texts == [case.content, case.content]
        assert not list(tmp.glob("0/*.runbook-bak"))
    else:
        assert codes == [0, 0] and texts == [expected.content, expected.content]


def _ansible_run(folder: Path, playbook: Path) -> tuple[int, dict[str, int]]:
    inventory = folder / "hosts.ini"
    inventory.write_text(f"primary ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    run = subprocess.run([str(ANSIBLE), "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                         env=_env(folder))
    recap = re.search(r"^primary\s*:(.*)$", run.stdout, re.MULTILINE)
    assert recap is not None, run.stdout + run.stderr
    return run.returncode, {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}


@pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible-playbook is not installed in the venv")
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: a playbook run is slow
@given(items=st.lists(cases(), min_size=6, max_size=12))
@example(items=DEBIAN)
def test_the_ansible_export_edits_as_the_runner_does(items: list[Case],
                                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every edit a task of one playbook (``ignore_errors`` added, so one missing before text stops no
    other); run twice with ``ansible-playbook`` in local connection mode."""
    tmp = tmp_path_factory.mktemp("ansible")
    paths = _files(items, tmp)
    files = export_ansible(_graph(items, tmp))
    assert files[HELPER_FILE] == HELPER
    (tmp / HELPER_FILE).write_text(files[HELPER_FILE])
    playbook = tmp / "playbook.yml"
    playbook.write_text(re.sub(r"^(    - name: .*\n)", r"\1      ignore_errors: true\n", files["playbook.yml"],
                               flags=re.MULTILINE))
    expected = [c.runner() for c in items]
    missing = sum(r.status == EditStatus.BEFORE_MISSING for r in expected)
    applied = sum(r.status == EditStatus.APPLIED for r in expected)
    for changed in (applied, 0):
        status, recap = _ansible_run(tmp, playbook)
        assert status == 0 and recap["ignored"] == missing and recap["changed"] == changed, recap
        assert [_read(p) for p in paths] == [r.content for r in expected]
