"""Which SQL blocks make psql start a program (runner/site/shells.py ``runs_programs``): such a page
gets a shell of its own; the others share kept shells, where the kernel refuses any program anyway
(tests/test_site_shells_e2e.py)."""

from __future__ import annotations

import pytest

from runner.site.shells import runs_programs

PROGRAMS = [
    "\\! ls", "SELECT 1;\n\\!ls", "\\set x `date`", "\\echo `id`", "\\o |cat", "\\o|cat", "\\o '|cat'", "\\o :v",
    "\\out |cat", "SELECT 1 \\g |cat", "SELECT 1 \\g (format=csv) |cat", "SELECT 1 \\gx :target", "\\w |cat",
    "\\copy t to program 'cat'", "\\COPY t FROM PROGRAM 'x'", "\\e", "\\edit f.sql", "\\ef f", "\\ev v",
    "\\i f.sql", "\\ir f.sql", "\\include f.sql", "\\include_relative f.sql", "\\setenv PAGER x",
    "\\pset pager always",
]
"""Each starts a program (the shell, an editor, a pager, a pipe, a file's own ``\\!``)."""

PSQL_ONLY = [
    "SELECT 1;", "\\x on", "\\echo hi", "\\set x 1", "\\if :x\n\\endif", "\\o out.txt", "\\o", "SELECT 1 \\g",
    "SELECT 1 \\gx", "SELECT 1 AS a \\gset", "SELECT 1 \\g out.csv", "\\copy t from 'f.csv'", "\\pset format csv",
    "SELECT E'a\\nb';", "\\d+ t", "\\prompt 'x' v", "\\getenv h HOME",
]


@pytest.mark.parametrize("code", PROGRAMS)
def test_blocks_that_start_programs(code: str) -> None:
    assert runs_programs(code)


@pytest.mark.parametrize("code", PSQL_ONLY)
def test_blocks_that_run_psql_only(code: str) -> None:
    assert not runs_programs(code)
