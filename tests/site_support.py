"""What the site end-to-end tests (tests/test_site_*_e2e.py) share: the project's example site and
its pages, ``runbook run`` as a subprocess, small sites written by the tests, the sandboxes a run left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import ROOT
from e2e import pids_in
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


def _owned_by(pid: int) -> dict[str, set[int]]:
    """Sandboxes whose state names ``pid`` as their owner, with their hosts' namespace inodes."""
    from runner.sandbox import DEFAULT_ROOT

    out = {}
    for d in DEFAULT_ROOT.iterdir() if DEFAULT_ROOT.is_dir() else []:
        try:
            state = json.loads((d / "state.json").read_text())
        except (OSError, ValueError):
            continue
        if (state.get("owner") or [None])[0] == pid:
            out[d.name] = {h[k] for h in state["hosts"] for k in ("mnt_ino", "uts_ino", "net_ino") if h.get(k)}
    return out


def _watched(argv: list[str]) -> tuple[int, str, dict[str, set[int]]]:
    """Run ``argv`` (a ``runbook run`` of example pages): its exit status, what it printed, and the
    sandboxes it owned while it ran (with their hosts' namespaces), checked gone after it."""
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    owned: dict[str, set[int]] = {}
    try:
        while proc.poll() is None and not owned:  # the example server's sandbox, once it is up
            owned = _owned_by(proc.pid)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:  # (SIGTERM: the run tears its server down, docs/run.md)
            proc.terminate()
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert owned, "the run never brought its example server up"
    _nothing_left(owned, proc.pid)
    return proc.returncode, out + err, owned


def _nothing_left(owned: dict[str, set[int]], pid: int) -> None:
    """No sandbox of the run recorded any more, no process in its hosts' namespaces (no postmaster,
    the restarted one included)."""
    assert _owned_by(pid) == {}
    for name, inodes in owned.items():
        assert pids_in(inodes, name) == []


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


ONE = "SELECT 1 AS one;\n--  one \n-- -----\n--    1\n-- (1 row)"
"""A statement with its output as psql prints it (the row's header ends in a space)."""


def example_page(title: str, *blocks: str, section: str = "Usage {#usage}") -> str:
    """An example page of SQL blocks under one section, as the site's reference pages are written (a
    block that starts with its fence is taken as it is)."""
    fenced = "\n\n".join(b if b.startswith("```") else f"```sql\n{b}\n```" for b in blocks)
    return f"---\ntitle: {title}\n---\n\n# {title}\n\n## {section}\n\n{fenced}\n"


ERR_PAGE = example_page("An error", "SELECT no_such_function();", ONE)


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
