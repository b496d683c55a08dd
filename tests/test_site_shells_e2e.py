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
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from e2e import needs_sandbox

pytestmark = [needs_sandbox, pytest.mark.sandbox]

ATTACKER = (
    r"""\! (setsid sh -c 'exec </dev/null 2>/dev/null; old=$(pgrep -x psql | tr "\n" " "); """
    r"""while sleep 0.02; do for p in $(pgrep -x psql); do case " $old " in *" $p "*) continue;; esac; """
    r"""n=$(tr "\0" "\n" </proc/$p/cmdline | sed -n "s/^PROMPT1=__RBQ_\([0-9a-f]*\)_.*/\1/p"); """
    r"""[ -n "$n" ] || continue; : >/tmp/rb-attacker-saw; sleep 0.3; """
    r"""printf " two \n-----\n   3\n(1 row)\n\n__RBQ_%s_false___> " "$n"; exec sleep 60; done; done' &)"""
)
"""Page A's ``\\!``: the program above, in the background (``rb-attacker`` in its command line)."""

PAGE_A = f"""---
title: A
---

# A

## Usage {{#usage}}

```sql
{ATTACKER}
```

```sql
SELECT 1 AS one;
--  one @@
-- -----
--    1
-- (1 row)
```
""".replace(" @@", " ")

PAGE_B = """---
title: B
---

# B

## Usage {#usage}

```sql
SELECT 2 AS two FROM pg_sleep(3);
--  two @@
-- -----
--    2
-- (1 row)
```

```sql
SELECT count(*) AS alive FROM pg_ls_dir('/proc') p
 WHERE p ~ '^[0-9]+$'
   AND position('rb-attacker' IN pg_read_binary_file('/proc/' || p || '/cmdline', 0, 4096, true)) > 0;
--  alive @@
-- -------
--      0
-- (1 row)
```

```sql
SELECT count(*) AS saw FROM pg_ls_dir('/tmp') f WHERE f = 'rb-attacker-saw';
--  saw @@
-- -----
--    0
-- (1 row)
```

```sql
SELECT 5 AS five;
--  five @@
-- ------
--     4
-- (1 row)
```
""".replace(" @@", " ")
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
