from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs" / "guides"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_JA = GUIDES / "streaming-replication-wal-resource-manager.ja.md"
SEED_EN = GUIDES / "streaming-replication-wal-resource-manager.en.md"


@pytest.fixture(scope="session")
def seed_ja():  # type: ignore[no-untyped-def]
    from runbook.parse import parse_file

    return parse_file(SEED_JA)


@pytest.fixture(scope="session")
def seed_en():  # type: ignore[no-untyped-def]
    from runbook.parse import parse_file

    return parse_file(SEED_EN)


@pytest.fixture(scope="module")
def sb_root() -> Iterator[Path]:
    """A sandbox root of the module's own (a temporary folder), every sandbox in it torn down after."""
    import os
    import shutil
    import tempfile

    from runner.sandbox import cleanup_all

    root = Path(tempfile.mkdtemp(prefix="runbook-sandbox-test-"))
    try:
        yield root
    finally:
        if os.geteuid() == 0:
            cleanup_all(root)
        shutil.rmtree(root, ignore_errors=True)
