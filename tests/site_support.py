"""What the site end-to-end tests (tests/test_site_*_e2e.py) share: the project's example site and
its pages, ``runbook run`` as a subprocess, small sites written by the tests, the sandboxes a run left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ROOT
from helpers import bound_pg_version

SITE = ROOT / "docs" / "site"
EXAMPLES = ["tutorial.md", "reference/full-text-search.md", "reference/jsonb.md", "reference/like.md",
            "reference/example-groups.md", "reference/psql-output.md", "reference/row-order.md",
            "reference/volatile-values.md"]


"""Example pages that pass (the new shapes of issue 17 among them)."""


BROKEN = ["stale.md", "unterminated.md", "crash.md"]


"""Pages broken on purpose (docs/site/README.md): each fails, for its own reason only."""


def _runbook(*args: str) -> tuple[int, str]:
    """Exit status, and what runbook printed: its results (stdout) and its progress (stderr)."""
    cp = subprocess.run([sys.executable, "-m", "runner.cli", "run", *args], capture_output=True, text=True,
                        check=False, cwd=ROOT)
    return cp.returncode, cp.stdout + cp.stderr


def _left_by(pids: set[int]) -> list[str]:
    """Sandboxes still recorded whose owner is one of ``pids`` (runs of this test, now ended): other
    engineers' and CI jobs' sandboxes may come and go meanwhile, so the test looks at its own only."""
    from runner.sandbox import DEFAULT_ROOT, list_sandboxes

    left = []
    for name in list_sandboxes(DEFAULT_ROOT):
        try:
            owner = json.loads((DEFAULT_ROOT / name / "state.json").read_text()).get("owner")
        except (OSError, ValueError):
            continue
        if owner and owner[0] in pids:
            left.append(name)
    return left


def _line(page: Path, text: str) -> int:
    """The line of ``page`` that starts with ``text`` (found in the Markdown, not in runbook's output)."""
    lines = page.read_text(encoding="utf-8").split("\n")
    (n,) = [i for i, x in enumerate(lines, start=1) if x.startswith(text)]
    return n


def _pg_major() -> int:
    return int(bound_pg_version().split(".")[0])


def _checks(page: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["line"]: c for s in page["report"]["steps"] for a in s["actions"] for c in a["checks"]}


def _actions(page: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {a["line"]: a for s in page["report"]["steps"] for a in s["actions"]}


ERR_PAGE = """---
title: An error
---

# An error

## Usage {#usage}

```sql
SELECT no_such_function();
```

```sql
SELECT 1 AS one;
--  one @@
-- -----
--    1
-- (1 row)
```
""".replace(" @@", " ")


def _site(folder: Path, toml: str, pages: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "runbook.toml").write_text(toml, encoding="utf-8")
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


SLOW_PAGE = """---
title: Slow
---

# Slow

## Usage {#usage}

```sql
SELECT 1 AS slept FROM pg_sleep(1.5);
--  slept @@
-- -------
--      1
-- (1 row)
```
""".replace(" @@", " ")
