from __future__ import annotations

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
