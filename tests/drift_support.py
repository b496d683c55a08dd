"""What the ``runbook drift`` tests (tests/test_drift_*.py) share: the published translation pairs,
an English copy of the seed shifted by two lines (so that its line numbers differ from the Japanese
guide's), the JSON report of a drift run, the one change of a kind.

Line numbers in the assertions are found by searching the files' text (tests/helpers.py), never
taken from the report itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, GUIDES, SEED_EN

from runner.cli import main as run

PAIRS = [
    (folder / f"{name}.ja.md", folder / f"{name}.en.md")
    for folder, name in [
        (GUIDES, "streaming-replication-wal-resource-manager"),
        (GUIDES, "logical-replication"),
        (GUIDES, "synchronous-replication"),
        (FIXTURES / "guides", "streaming-replication-plain"),
    ]
]


# Two lines of prose at the top of every English copy, so that its line numbers differ from the
# Japanese guide's (the published translations are aligned line by line).
SHIFT = 2


def en_copy(tmp_path: Path, edit: Any = None, name: str = "guide.en.md") -> Path:
    """A copy of the English seed guide, shifted by SHIFT lines, with ``edit(text) -> text`` applied."""
    text = SEED_EN.read_text(encoding="utf-8")
    text = text.replace("\n# Streaming replication by WAL resource manager\n",
                        "\n# Streaming replication by WAL resource manager\n\nAn extra paragraph.\n", 1)
    if edit is not None:
        text = edit(text)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def drift_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = run(["drift", *argv, "--json"])
    return status, json.loads(capsys.readouterr().out)


def only(changes: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [c for c in changes if c["kind"] == kind]
    assert len(found) == 1, changes
    return found[0]
