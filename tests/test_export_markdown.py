"""``runbook export --to markdown``: the guide in the other language, its structure from the
lexicons and its prose from a PO catalog (PGroonga's format), read back to the same step graph."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from export_support import GUIDES, PLAIN, PO, SEED, _graph

from runbook import lexicon as lexicons
from runbook.drift import compare
from runbook.errors import UsageError
from runbook.export.catalog import Catalog, parse_po
from runbook.export.markdown import export_markdown, rebuild
from runbook.load import load_graph
from runbook.model import Graph
from runbook.parse import parse_text

# -- Markdown in the other language --------------------------------------------------------------


def _fences(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n.*?^```$", text, re.MULTILINE | re.DOTALL)


def _executable(graph: Graph) -> list[object]:
    return [
        (s.id, s.tag, s.number, [
            (a.id, a.kind, a.targets, [(c.text, [(t.prompt, t.answer.var, t.answer.literal) for t in c.dialog],
                                        c.output) for c in a.commands],
             [(st.sql, st.expected.lines if st.expected else None) for st in a.statements],
             a.path, a.before, a.after)
            for a in s.actions])
        for s in graph.steps
    ] + [[(h.id, h.address, h.role, h.number) for h in graph.hosts]]


@pytest.mark.parametrize(("source", "target"), [(SEED["ja"], "en"), (SEED["en"], "ja"), (PLAIN["ja"], "en"),
                                                (PLAIN["en"], "ja")], ids=["seed-ja-en", "seed-en-ja", "plain-ja-en",
                                                                           "plain-en-ja"])
def test_markdown_round_trip_gives_the_same_step_graph(source: Path, target: str) -> None:
    graph = _graph(source)
    text, untranslated = rebuild(graph, source.read_text(encoding="utf-8"), target,
                                 Catalog.from_po(PO.read_text(encoding="utf-8")))
    again = parse_text(text, f"exported.{target}.md", target)
    assert again.source.lang == target
    assert _executable(again) == _executable(graph)
    report = compare(graph, again)
    assert report.executable == [], report.verdict_line()
    assert _fences(text) == _fences(source.read_text(encoding="utf-8"))  # code blocks unchanged
    assert untranslated > 0


def test_markdown_takes_structure_from_lexicons_and_prose_from_the_po_catalog() -> None:
    catalog = Catalog.from_po(PO.read_text(encoding="utf-8"))
    en, _ = rebuild(_graph(SEED["ja"]), SEED["ja"].read_text(encoding="utf-8"), "en", catalog)
    ja, _ = rebuild(_graph(SEED["en"]), SEED["en"].read_text(encoding="utf-8"), "ja", catalog)
    # From the catalog, in both directions.
    assert en.startswith("---\ntitle: Streaming replication by WAL resource manager\n---\n")
    assert "\n## [normal] Install PostgreSQL on both primary and standbys {#install-postgresql}\n" in en
    assert "\nCreate the user for replication on only primary:\n" in en
    assert "\n  * `standby1` is an example. It is better to use a name that is easy to understand.\n" in en
    assert "\nThis is a PGroonga specific step.\n" in en
    assert "\n## [通常] プライマリーとスタンバイでPostgreSQLをインストールする {#install-postgresql}\n" in ja
    assert "\nスタンバイでPostgreSQLを起動します。\n" in ja
    # From the lexicons.
    assert "\n## Summary\n" in en and "\n## 概要\n" in ja
    assert "\n  * Standby1:\n" in en and "\n    * IP address: 192.168.0.31\n" in en
    assert "\n    * IPアドレス：192.168.0.31\n" in ja
    assert "\nBefore:\n" in en and "\n変更後：\n" in ja
    assert "\nStandbys:\n" in en and "\nスタンバイ2：\n" in ja
    assert "\nThis is a normal step.\n" in en and "\nこれは通常の手順です。\n" in ja
    assert "  5. [normal] [" in en and "  6. [固有] [" in ja
    # Untranslated paragraphs are kept and marked; fuzzy and empty entries do not count.
    assert "\nConfirm the index: <!-- runbook: 未翻訳 -->\n" in ja
    assert "\nConnect to the created `blog` database: <!-- runbook: 未翻訳 -->\n" in ja
    assert "これによりWALベースのストリーミングレプリケーションの運用が楽になります。 <!--" not in en


def test_po_parser_reads_pgroongas_format() -> None:
    pairs = parse_po(PO.read_text(encoding="utf-8"))
    assert ("# Streaming replication by WAL resource manager",
            "# WALリソースマネージャーを使ったストリーミングレプリケーション") in pairs
    assert ("  * `standby1` is an example. It is better to use a name that is easy to understand.",
            "  * `standby1`は例です。わかりやすい名前を設定してください") in pairs
    assert all(en != "Confirm the index:" for en, _ in pairs)  # fuzzy
    assert all(en != "Connect to the created `blog` database:" for en, _ in pairs)  # untranslated


SMALL_PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgctxt "heading"
msgid "Set up"
msgstr "設定"

msgid "A long "
"paragraph"
msgstr "長い"
"段落"

#, fuzzy
msgid "Guessed"
msgstr "推測"

msgid "One file"
msgid_plural "Files"
msgstr[0] "ファイル"

#~ msgid "Gone"
#~ msgstr "削除済み"

msgid "Quote \\"q\\""
msgstr "引用「q」"
"""


def test_po_entries_that_count_and_those_that_do_not() -> None:
    assert parse_po(SMALL_PO) == [("Set up", "設定"), ("A long paragraph", "長い段落"), ('Quote "q"', "引用「q」")]


@pytest.mark.parametrize(("text", "line"), [('msgid "a"\nmsgstr "b"\n\nmsgid "c\n', 4),
                                            ('msgid "a"\nmsgstr "b"\nnonsense here\n', 3),
                                            ('msgid "a"\nmsgstr "b" "c"\n', 2)])
def test_a_broken_po_file_is_a_usage_error_naming_its_line(text: str, line: int) -> None:
    with pytest.raises(UsageError, match=rf"^bad\.po:{line}: not a PO file: "):
        parse_po(text, "bad.po")


@pytest.mark.parametrize("source", sorted(GUIDES.glob("*.*.md")),
                         ids=lambda p: p.name)
def test_markdown_export_without_a_catalog_parses_back_to_the_same_graph(source: Path, tmp_path: Path) -> None:
    """With no PO, every prose block stays as written (marked untranslated); the page written as
    ``GUIDE.LANG.md`` is read with LANG's lexicon (from its name) and gives the same graph."""
    graph = _graph(source)
    target = "en" if graph.source.lang == "ja" else "ja"
    files = export_markdown(graph, lang=target, source_text=source.read_text(encoding="utf-8"))
    (name, text), = files.items()
    assert name.endswith(f".{target}.md")
    assert str(lexicons.load(target).text["untranslated"]) in text
    out = tmp_path / name
    out.write_text(text, encoding="utf-8")
    again = load_graph(out)  # no --lang: the file name says the language
    assert again.source.lang == target
    assert _executable(again) == _executable(graph)
    assert compare(graph, again).executable == []
    assert _fences(text) == _fences(source.read_text(encoding="utf-8"))
