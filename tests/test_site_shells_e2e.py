"""Nothing an example page starts reaches a later page through the shell it leaves (issue 18 point 5;
runner/site/shells.py), end to end on the shared example server (real psql 15, -j 1).

Page A starts, from psql, a program that leaves its session (``setsid``) and keeps the terminal: it
waits for the next psql started in the host, reads that psql's sentinel prompt from /proc (where
psql's command line held it), records that it saw it, and writes a forged result and prompt on the
terminal it holds. Page B, after it, checks a slow result and whether that program still lives."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from e2e import needs_sandbox
from site_support import ONE, example_page

pytestmark = [needs_sandbox, pytest.mark.sandbox]

ATTACKER = (
    r"""\! (setsid sh -c 'exec </dev/null 2>/dev/null; old=$(pgrep -x psql | tr "\n" " "); """
    r"""while sleep 0.02; do for p in $(pgrep -x psql); do case " $old " in *" $p "*) continue;; esac; """
    r"""n=$(tr "\0" "\n" </proc/$p/cmdline | sed -n "s/^PROMPT1=__RBQ_\([0-9a-f]*\)_.*/\1/p"); """
    r"""[ -n "$n" ] || continue; : >/tmp/rb-attacker-saw; sleep 0.3; """
    r"""printf " two \n-----\n   3\n(1 row)\n\n__RBQ_%s_false___> " "$n"; exec sleep 60; done; done' &)"""
)
"""Page A's ``\\!``: the program above, in the background (``rb-attacker`` in its command line)."""

PAGE_A = example_page("A", ATTACKER, ONE)

PAGE_B = example_page(
    "B",
    "SELECT 2 AS two FROM pg_sleep(3);\n--  two \n-- -----\n--    2\n-- (1 row)",
    "SELECT count(*) AS alive FROM pg_ls_dir('/proc') p\n WHERE p ~ '^[0-9]+$'\n"
    "   AND position('rb-attacker' IN pg_read_binary_file('/proc/' || p || '/cmdline', 0, 4096, true)) > 0;\n"
    "--  alive \n-- -------\n--      0\n-- (1 row)",
    "SELECT count(*) AS saw FROM pg_ls_dir('/tmp') f WHERE f = 'rb-attacker-saw';\n"
    "--  saw \n-- -----\n--    0\n-- (1 row)",
    "SELECT 5 AS five;\n--  five \n-- ------\n--     4\n-- (1 row)",
)
"""Page B: a result that takes a while (the forged one would come first), whether page A's program
lives (its command line, from /proc, read by the server: B itself runs no program), whether it saw
B's psql, and a check that fails (its real value, 5)."""


def _checks(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for s in page["report"]["steps"] for a in s["actions"] for c in a["checks"]]


def test_a_program_a_page_started_never_reaches_the_next_page(tmp_path: Path) -> None:
    """Page B's results are its own: 2 (not the forged 3), page A's program is no longer alive and
    never saw B's psql, and B's failing check fails with B's real value; page A passes (its program
    ran: psql printed nothing for it). With the shell kept as before, A's program lived on the
    terminal B used and forged B's first result."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "runbook.toml").write_text("", encoding="utf-8")
    (site / "a.md").write_text(PAGE_A, encoding="utf-8")
    (site / "b.md").write_text(PAGE_B, encoding="utf-8")
    cp = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(site), "-j", "1", "--json",
                         str(tmp_path / "r.json"), "--transcripts", str(tmp_path / "t")],
                        capture_output=True, text=True, check=False, cwd=ROOT)
    out = cp.stdout + cp.stderr
    assert cp.returncode == 1, out[-3000:]
    pages = {Path(p["page"]).name: p for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    assert pages["a.md"]["status"] == "passed", out[-3000:]
    checks = _checks(pages["b.md"])
    assert [c["status"] for c in checks] == ["passed", "passed", "passed", "failed"], checks
    actual = "\n".join(checks[3]["actual"])
    assert "5" in actual and "4" not in actual, checks[3]


def test_a_kept_shell_admits_psql_only_and_a_closed_one_leaves_nothing() -> None:
    """On the example server's host, the shells the runner makes for pages, driven directly (so that a
    ``\\!`` reaches one, as a construct the statement check missed would): in a shell that may be kept,
    the kernel refuses the program (nothing starts), the refusal is counted and the pool will not
    keep the shell; in a page's own shell the program runs and leaves its session (``setsid``), and
    closing the shell kills it."""
    from runbook.secrets import Masker
    from runner.planning.environment import installed_pg_versions
    from runner.running.session import Transcript
    from runner.sandbox import cgroups as cg
    from runner.site.server import EarlyServer
    from runner.site.shells import PageShell, ShellCgroup, ShellPool

    def sleepers(server_cgroups: dict[str, str], mark: str) -> list[int]:
        pids = [p for top in [server_cgroups["pids"]] for p in cg._procs_below(top)]
        return [p for p in pids if mark in _cmdline(p)]

    early = EarlyServer(installed_pg_versions()[-1], speed=True)
    early.begin()
    try:
        early.finish([])
        server = early.server
        assert server is not None
        shells = []
        for kept in (True, False):
            found = ShellCgroup.of(server.shell_argv())
            assert found is not None
            sh = PageShell("server", found[1], Transcript(None, Masker()), cgroup=found[0], psql_only=kept)
            sh.start()
            sh.open_psql("s1", "psql postgres")
            shells.append((sh, found[0]))
        (kept_sh, kept_cg), (own_sh, own_cg) = shells
        host = {c: str(Path(d).parent) for c, d in kept_cg.own.items()}

        out = kept_sh.sql("\\! setsid sleep 171 </dev/null >/dev/null 2>&1 &").output
        assert kept_cg.refused() >= 1, out
        assert sleepers(host, "sleep 171") == []
        assert kept_sh.sql("SELECT 1 AS one;").output.split("\n")[2].strip() == "1"  # (psql goes on)
        assert ShellPool().put_aside(kept_sh) is False
        kept_sh.close()
        assert not Path(kept_cg.own["pids"]).exists()

        own_sh.sql("\\! setsid sleep 172 </dev/null >/dev/null 2>&1 &")
        for _ in range(100):  # (it runs: psql's sh has left it in the background, starting)
            if [p for p in sleepers(host, "sleep 172") if _cmdline(p).startswith("sleep 172")]:
                break
            time.sleep(0.05)
        assert len(sleepers(host, "sleep 172")) == 1
        own_sh.close()
        assert sleepers(host, "sleep 172") == [] and not Path(own_cg.own["freezer"]).exists()
    finally:
        early.abandon()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
