"""The pytest plugin's collection (no run, no sandbox): which files become guides, steps as items."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES, GUIDES
from helpers import line_of

pytest_plugins = ["pytester"]

STEPS = ["install-postgresql", "configure-publisher", "create-table", "insert-publisher", "create-publication",
         "create-subscription", "check-replication", "row-filter-replica-identity"]


def _tree(pytester: pytest.Pytester) -> None:
    (pytester.path / "guides").mkdir()
    shutil.copy(GUIDES / "logical-replication.en.md", pytester.path / "guides")
    shutil.copy(GUIDES / "README.md", pytester.path / "guides")
    pytester.makepyfile(test_code="def test_code():\n    pass\n")


def test_nothing_is_collected_without_the_option(pytester: pytest.Pytester) -> None:
    _tree(pytester)
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.outlines[:1] == ["test_code.py::test_code"] and "1 test collected" in result.stdout.str()


def test_option_collects_each_step_in_document_order(pytester: pytest.Pytester) -> None:
    _tree(pytester)
    result = pytester.runpytest_subprocess("--runbook", "--collect-only", "-q", "-p", "no:cacheprovider", "guides")
    assert [ln for ln in result.outlines if "::" in ln] == [f"guides/logical-replication.en.md::{s}" for s in STEPS]
    result = pytester.runpytest_subprocess("--runbook", "--collect-only", "-q", "-p", "no:cacheprovider", "guides",
                                           "-k", "create-table or check-replication")
    assert [ln for ln in result.outlines if "::" in ln] == [
        "guides/logical-replication.en.md::create-table", "guides/logical-replication.en.md::check-replication"]
    assert "2/8 tests collected (6 deselected)" in result.stdout.str()


def test_ini_paths_are_collected_besides_testpaths(pytester: pytest.Pytester) -> None:
    _tree(pytester)
    pytester.makeini("[pytest]\ntestpaths = test_code.py\nrunbook_paths = guides\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert [ln for ln in result.outlines if "::" in ln] == (
        ["test_code.py::test_code"] + [f"guides/logical-replication.en.md::{s}" for s in STEPS])


def test_unreadable_guide_is_a_collection_error_with_its_line(pytester: pytest.Pytester) -> None:
    shutil.copy(FIXTURES / "bad" / "missing-anchor.md", pytester.path)
    result = pytester.runpytest_subprocess("--runbook", "-p", "no:cacheprovider", "missing-anchor.md")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    n = line_of(FIXTURES / "bad" / "missing-anchor.md", "(#insert-primry)")
    result.stdout.fnmatch_lines([f"*missing-anchor.md:{n}: missing-anchor: overview links to #insert-primry*"])
    assert "Traceback" not in result.stdout.str()


def test_a_guide_that_cannot_start_fails_once_and_skips_the_rest(pytester: pytest.Pytester) -> None:
    """An inventory that cannot be read: the first step fails with the message, the others are skipped."""
    _tree(pytester)
    (pytester.path / "hosts.toml").write_text("[hosts.publisher\n", encoding="utf-8")
    result = pytester.runpytest_subprocess("--runbook", "-p", "no:cacheprovider", "-rs", "guides",
                                           "--runbook-inventory", "hosts.toml")
    result.assert_outcomes(failed=1, skipped=7)
    result.stdout.fnmatch_lines(["*hosts.toml:1:*", "*not run: the run of logical-replication.en.md broke or could "
                                 "not start*"])
    assert "Traceback" not in result.stdout.str()
