"""What makes a site run fast (issue 17 point 12), end to end on the shared example server (real
psql 15): example pages take turns on one kept shell, psql is the client Debian's pg_wrapper would
run, with the environment it would give, and nothing a page sets in psql reaches the next page.
Timings are in scripts/bench_site.py, never here."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from e2e import needs_sandbox
from site_support import ONE, example_page

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def page(n: int) -> str:
    """Example page ``n`` (SQL only: it runs no program, so its shell may be kept): it prints the parent
    (its shell) of each psql running in the host, as the server reads them in /proc, checks a result in
    psql's default format, then turns expanded output on (which the next page must not inherit)."""
    probe = (f"SELECT 'page{n} shell=' || string_agg(split_part(pg_read_file('/proc/' || p || '/stat', 0, 512, "
             "true), ' ', 4), ',')\n  AS probe FROM pg_ls_dir('/proc') p\n WHERE p ~ '^[0-9]+$' AND "
             "pg_read_file('/proc/' || p || '/comm', 0, 64, true) = E'psql\\n';")
    return example_page(f"Page {n}", probe, ONE, "\\x on")


CLIENT_PAGE = """---
title: Client
---

# Client

## Usage {#usage}

```sql
\\! echo "page0 client=$(readlink /proc/$PPID/exe)"
\\! echo "page0 found=$(command -v psql) cluster=$PGCLUSTER host=$PGHOST"
```
"""
"""An example page that prints, from psql (it runs programs: a shell of its own), the client program
(psql itself) and what pg_wrapper sets."""


def _run_site(tmp_path: Path, pages: int, jobs: int, *, client: bool = False
              ) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "runbook.toml").write_text("", encoding="utf-8")
    for n in range(1, pages + 1):
        (site / f"p{n}.md").write_text(page(n), encoding="utf-8")
    if client:
        (site / "p0.md").write_text(CLIENT_PAGE, encoding="utf-8")
    cp = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(site), "-j", str(jobs), "--json",
                         str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")],
                        capture_output=True, text=True, check=False, cwd=ROOT)
    assert cp.returncode == 0, (cp.stdout + cp.stderr)[-3000:]
    seen: dict[str, dict[str, str]] = {}
    for n in range(0 if client else 1, pages + 1):
        log = (tmp_path / "t" / f"p{n}" / "server.log").read_text(encoding="utf-8")
        lines = [x.split(f"page{n} ", 1)[1] for x in log.splitlines() if re.search(rf"\d +page{n} \w+=", x)]
        assert len(lines) == (2 if n == 0 else 1), log
        seen[f"p{n}"] = dict(re.findall(r"(\w+)=(\S*)", " ".join(lines)))
    return seen, json.loads((tmp_path / "r.json").read_text())


def _shells(seen: dict[str, str]) -> set[str]:
    """The parents of the psqls a page saw, but 0: a psql whose parent is outside the host (runbook's
    own, making the next pages' databases)."""
    return set(seen["shell"].split(",")) - {"0"}


def test_example_pages_take_turns_on_one_shell_with_the_wrappers_psql(tmp_path: Path) -> None:
    """-j 1: four example pages running psql only, one shell (the same bash process is the parent of
    the one psql running, on each); psql is found in PATH as /usr/lib/postgresql/VERSION/bin/psql (not
    Debian's /usr/bin/psql, the wrapper), with PGCLUSTER and PGHOST as pg_wrapper sets them for the
    host's one cluster; each page passes, the ``\\x on`` of the page before it notwithstanding."""
    from runner.planning.environment import installed_pg_versions

    version = installed_pg_versions()[-1]
    seen, data = _run_site(tmp_path, 4, 1, client=True)
    client = seen.pop("p0")
    assert {p["status"] for p in data["pages"]} == {"passed"}
    shells = {x for s in seen.values() for x in _shells(s)}
    assert all(_shells(s) for s in seen.values()) and len(shells) == 1 and all(x.isdigit() for x in shells), seen
    assert client["client"] == client["found"] == f"/usr/lib/postgresql/{version}/bin/psql", client
    assert (client["cluster"], client["host"]) == (f"{version}/main", "/var/run/postgresql"), client


def test_pages_at_the_same_time_have_shells_of_their_own(tmp_path: Path) -> None:
    """-j 2: a shell is kept for one page at a time; six pages use at most two shells (the parents of
    every psql any of them saw), and every page's transcript still begins with its shell's namespaces
    and readiness."""
    seen, data = _run_site(tmp_path, 6, 2)
    assert {p["status"] for p in data["pages"]} == {"passed"}
    shells = {x for s in seen.values() for x in _shells(s)}
    assert all(x.isdigit() for x in shells) and 1 <= len(shells) <= 2, seen
    for n in range(1, 7):
        head = (tmp_path / "t" / f"p{n}" / "server.log").read_text(encoding="utf-8").splitlines()[:2]
        assert "# inside the host's namespaces: " in head[0] and head[1].endswith("# shell on server ready"), head


def test_a_run_that_ends_while_its_pages_are_read_stops_the_server_coming_up() -> None:
    """The example server's host comes up while the pages are read; a run that ends meanwhile (an
    invalid site, a signal) stops it whole: no sandbox of this process is left."""
    import os

    from runner.planning.environment import installed_pg_versions
    from runner.sandbox import DEFAULT_ROOT, list_sandboxes
    from runner.site.server import EarlyServer

    def owned() -> list[str]:
        names = []
        for name in list_sandboxes(DEFAULT_ROOT):
            try:
                owner = json.loads((DEFAULT_ROOT / name / "state.json").read_text()).get("owner")
            except (OSError, ValueError):
                continue
            if owner and owner[0] == os.getpid():
                names.append(name)
        return names

    early = EarlyServer(installed_pg_versions()[-1], speed=True)
    early.begin()
    early.wait()  # the host and its cluster are up, owned by this process
    assert early.server is not None and early.server.sandbox.name in owned()
    early.abandon()
    assert owned() == []
    early = EarlyServer(installed_pg_versions()[-1], speed=True)
    early.begin()
    early.abandon()  # while it is still coming up
    assert owned() == []
