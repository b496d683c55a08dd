"""What the exporters' tests (tests/test_export_*.py) share: the guides they export (the seed, the
fully runnable fixture guide, the project's replication guides), the seed's PO catalog, the secret
that must appear nowhere."""

from __future__ import annotations

from pathlib import Path

from runbook.model import Graph
from runbook.parse import parse_file

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs" / "guides"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = {lang: GUIDES / f"streaming-replication-wal-resource-manager.{lang}.md" for lang in ("ja", "en")}
PLAIN = {lang: FIXTURES / "guides" / f"streaming-replication-plain.{lang}.md" for lang in ("ja", "en")}
PO = FIXTURES / "po" / "streaming-replication-wal-resource-manager.po"
ALL_GUIDES = [SEED["ja"], SEED["en"], PLAIN["ja"], PLAIN["en"], *sorted(GUIDES.glob("*-replication.*.md"))]
SECRET = "passw0rd"
GUIDE_IDS = ["seed", "plain"]


def _graph(path: Path) -> Graph:
    return parse_file(path)


def _no_secret(files: dict[str, str]) -> None:
    for name, text in files.items():
        assert SECRET not in text, f"{name} contains the guide's password"
