"""What the ``runbook run`` end-to-end tests (tests/test_run_*e2e.py) share: the fixture guides, the
secret that must appear nowhere, a run with its JSON report, the first failed action."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES

from runner.cli import main as run

PLAIN = FIXTURES / "guides" / "streaming-replication-plain.ja.md"
SINGLE = FIXTURES / "guides" / "single-host.ja.md"


SECRET = "passw0rd"


def _all_text(*paths: Path) -> str:
    out = []
    for p in paths:
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        out += [f.read_text(encoding="utf-8", errors="replace") for f in files]
    return "\n".join(out)


def _report(tmp_path: Path, guide: Path, *extra: str, fresh: bool = True) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """Run ``guide`` (on a fresh sandbox unless ``fresh`` is False: a kept one is then reused)."""
    report = tmp_path / f"{guide.stem}.json"
    status = run(["run", str(guide), "--json", str(report), "--transcripts", str(tmp_path / "t"), *extra,
                  *(["--fresh"] if fresh else [])])
    return status, json.loads(report.read_text()), ""


def _failed(data: dict) -> dict:  # type: ignore[type-arg]
    return next(a for s in data["steps"] for a in s["actions"] if a["status"] == "failed")
