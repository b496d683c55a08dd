"""One of each (issue 19 point 3): one masker with one minimum length, one atomic write, one name for
a secret's environment variable, one secure PATH, and two record files with names of their own."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from runbook import atomic
from runbook.drift.context import Context
from runbook.export import Secrets
from runbook.model import Graph
from runbook.parse import parse_file
from runbook.secrets import MASK, Masker, secret_env_name

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs/guides/basic-streaming-replication.en.md"


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for d in ("runbook", "runner") for p in (ROOT / d).rglob("*.py")}


def _holding(pattern: str) -> list[str]:
    return sorted(name for name, text in _sources().items() if re.search(pattern, text))


def _graph_with_secret(value: str) -> Graph:
    g = parse_file(GUIDE)
    secret = next(v for v in g.variables if v.secret)
    secret.value = value
    return g


# -- masking ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["q", "pw", "passw0rd"])
def test_runner_drift_and_export_mask_the_same_secrets(value: str) -> None:
    g = _graph_with_secret(value)
    text = f"password={value} end"
    runner_mask = Masker(g.secrets())  # what runner/launch.py and runner/running/steps.py build
    assert runner_mask(text) == f"password={MASK} end"
    assert Context.of(g, g).mask(text) == runner_mask(text)  # drift: a one-character secret too
    env = secret_env_name(next(v.name for v in g.variables if v.secret))
    assert Secrets.of(g).placeholders(text) == "password=${" + env + "} end"


def test_the_minimum_length_is_written_once() -> None:
    assert _holding(r"min_length|len\(s\) >= \d") == []


# -- secret variable names ------------------------------------------------------------------------

def test_a_secrets_environment_variable_is_named_in_one_place() -> None:
    import runbook.export
    import runner.planning.inventory

    assert secret_env_name("replication-password") == "RUNBOOK_SECRET_REPLICATION_PASSWORD"
    assert runner.planning.inventory.secret_env_name is secret_env_name
    assert runbook.export.secret_env_name is secret_env_name
    assert _holding(r"def secret_env_name") == ["runbook/secrets.py"]
    assert _holding(r"\"RUNBOOK_SECRET_\" \+") == ["runbook/secrets.py"]


# -- secure PATH ------------------------------------------------------------------------------------

def test_the_secure_path_is_written_once() -> None:
    from runner.planning.environment import SECURE_PATH as plan_path
    from runner.sandbox.state import SECURE_PATH

    assert plan_path is SECURE_PATH
    assert _holding(r"/usr/local/sbin:/usr/local/bin") == ["runner/sandbox/state.py"]


# -- record files ------------------------------------------------------------------------------------

def test_the_two_record_files_have_names_of_their_own() -> None:
    from runner.launch import COMPLETED_STEPS_FILE
    from runner.sandbox.state import SANDBOX_STATE_FILE

    assert COMPLETED_STEPS_FILE != SANDBOX_STATE_FILE
    assert _holding(r"\bSTATE_FILE\b") == []
    for name in (COMPLETED_STEPS_FILE, SANDBOX_STATE_FILE):
        assert len(_holding(re.escape(f'"{name}"'))) == 1


# -- atomic write ------------------------------------------------------------------------------------

def test_temporary_files_are_made_in_one_module() -> None:
    assert _holding(r"mkstemp|NamedTemporaryFile") == ["runbook/atomic.py"]
    # os.replace: the one write, the file helper's (a backup first, a new file the folder's owner),
    # and the command line's set of files renamed together
    assert _holding(r"os\.replace\(|\.replace\(cached\)") == ["runbook/atomic.py", "runbook/edit_rules.py",
                                                                       "runner/outputs.py"]


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    f = tmp_path / "pg_hba.conf"
    f.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic.write_atomic(f, "new \ud800 half\n")  # fails in the middle of writing
    assert f.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pg_hba.conf"]


def test_keep_keeps_the_files_mode_and_a_new_file_gets_the_umask(tmp_path: Path) -> None:
    f = tmp_path / "guide.md"
    f.write_text("a\r\nb\n")
    f.chmod(0o600)
    atomic.write_atomic(f, "c\r\nd\n", keep=True)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and f.read_bytes() == b"c\r\nd\n"
    old = os.umask(0o027)
    atomic.umask.cache_clear()
    try:
        atomic.write_atomic(tmp_path / "new.json", "{}\n")
        atomic.write_atomic(f, "e\n")
    finally:
        os.umask(old)
        atomic.umask.cache_clear()
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(f.stat().st_mode) == 0o640  # not kept: the umask's
