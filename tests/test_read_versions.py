"""Version notes ("2.1.7で追加。", "It's available since 2.4.2.", "PostgreSQL 16以降"): the lexicons' phrases,
the actions each note governs, and the software it is about."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.parse import parse_file, parse_text
from runbook.validate import graph_to_json

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "tests" / "fixtures" / "pages"
CORPUS = ROOT.parent / "shared" / "corpus-sample"


def _requires(path: Path) -> dict[str, list[tuple[str, str]]]:
    """First statement of each action -> its (software, version) requirements."""
    graph = parse_file(path)
    graph_to_json(graph)  # the schema accepts them
    return {a.statements[0].sql: [(r.software, r.version) for r in a.requires] for a in graph.actions()}


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_each_note_governs_its_section_or_its_usage(lang: str) -> None:
    found = _requires(PAGES / f"version-notes.{lang}.md")
    page = ("pg_trgm", "9.6")  # under the title: the whole page; no product named: the page's extension
    assert found == {
        "SELECT 1 AS one;": [page],  # the first usage: not the second usage's note
        "SELECT 2 AS two;": [page, ("postgresql", "99")],
        "SELECT 3 AS three;": [page, ("postgresql", "98")],
        "SELECT 4 AS four;": [page, ("postgresql", "98")],  # a lower heading stays in the section
        "CREATE EXTENSION pg_trgm;": [page],  # "deprecated since" is no version note
    }


def test_a_note_keeps_its_text_and_line() -> None:
    path = PAGES / "version-notes.en.md"
    graph = parse_file(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    (two,) = [a for a in graph.actions() if a.statements[0].sql == "SELECT 2 AS two;"]
    note = two.requires[1]
    assert note.text == "The second signature is available since PostgreSQL 99."
    assert lines[note.span.line - 1] == note.text


def test_the_site_names_the_software_else_a_finding() -> None:
    text = "# T\n\nSince 2.0.0.\n\n## A\n\n```sql\nSELECT 1;\n```\n"
    graph = parse_text(text, "t.en.md", "en")
    assert graph.actions()[0].requires == []
    assert [f.rule for f in graph.findings] == ["version-note-software"]
    from runbook.read.liquid import SiteConfig
    graph = parse_text(text, "t.en.md", "en", site=SiteConfig(None, {"title": "PGroonga"}))
    assert [(r.software, r.version) for r in graph.actions()[0].requires] == [("pgroonga", "2.0.0")]
    graph = parse_text(text, "t.en.md", "en", site=SiteConfig(None, {"title": "runbook example site"}))
    assert graph.actions()[0].requires == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_corpus_notes(lang: str) -> None:
    base = CORPUS / "ja" if lang == "ja" else CORPUS
    # "4.0.5で追加。" / "Since 4.0.5." governs the last example of CREATE INDEX USING pgroonga only
    graph = parse_file(base / "reference" / "create-index-using-pgroonga.md")
    newest = [a for a in graph.actions() if any(r.version == "4.0.5" for r in a.requires)]
    assert len(newest) == 1 and all(r.software == "pgroonga" for r in newest[0].requires)
    assert "pgrn_index" in newest[0].code
    # "3.2.1で追加" (no 。) under the title: every block of the page
    graph = parse_file(base / "reference" / "functions" / "pgroonga-list-broken-indexes.md")
    assert all(("pgroonga", "3.2.1") in [(r.software, r.version) for r in a.requires] for a in graph.actions())
    # "PostgreSQL 9.5以降" / "since PostgreSQL 9.5" names PostgreSQL
    graph = parse_file(base / "reference" / "operators" / "script-jsonb-v2.md")
    assert ("postgresql", "9.5") in [(r.software, r.version) for a in graph.actions() for r in a.requires]
    # the third and fourth usages of pgroonga_highlight_html: from 2.4.3, not the first usage's block
    graph = parse_file(base / "reference" / "functions" / "pgroonga-highlight-html.md")
    versions = {a.span.line: {r.version for r in a.requires} for a in graph.actions()}
    assert sum("2.4.3" in v for v in versions.values()) == 1
    assert "2.4.3" not in versions[min(versions)]


def test_phrases_written_with_spaces() -> None:
    fence = "`" * 3
    text = (f"# 関数\n\n2.1.7で追加。\n\n## 構文\n\n2 つ目の使い方は 3.1.6 から使えます。\n\n"
            f"以下は 1 つ目の使い方の説明です。\n\n{fence}sql\nCREATE EXTENSION pgroonga;\n{fence}\n\n"
            f"以下は 2 つ目の使い方の説明です。\n\n{fence}sql\nSELECT 2;\n{fence}\n\n"
            f"## 使い方\n\nこれは 4.0.5 以降で使えます。\n\n{fence}sql\nSELECT 3;\n{fence}\n")
    graph = parse_text(text, "f.ja.md", "ja")
    assert [[(r.software, r.version) for r in a.requires] for a in graph.actions()] == [
        [("pgroonga", "2.1.7")],
        [("pgroonga", "2.1.7"), ("pgroonga", "3.1.6")],
        [("pgroonga", "2.1.7"), ("pgroonga", "4.0.5")],
    ]
