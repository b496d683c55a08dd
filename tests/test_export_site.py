"""Every page translates, and a whole site in one command (issue 20, point 1).

PGroonga's sample (../shared/corpus-sample/): every ja page, with its catalog, gives its published en
page byte for byte, page by page and in one site command; the index page (nothing to run) too, as
far as its published page can be made from the ja page and the catalog at all.  A small site of the
tests' own shows each detail of the site's catalogs: msgids with spaces at the end of a line,
link reference definitions with and without a space after the colon, per-language ``_config.yml``
values in links, front matter, ``{#id}``, a ja page still in English, missing catalogs, untranslated
paragraphs by line.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from runbook.errors import EXIT_OK
from runbook.export.blocks import paragraphs, translate_page
from runbook.export.catalog import Catalog
from runner.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus-sample"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")
PAGES = sorted(p.relative_to(CORPUS / "ja").as_posix() for p in (CORPUS / "ja").glob("**/*.md")
               ) if CORPUS.is_dir() else []
STALE = {"how-to/index.md"}
"""Published en pages edited after their ja page and catalog were last made: the en page has blocks
that neither the ja page nor the catalog holds (checked below), so no tool can make them."""


def _stale_blocks(rel: str) -> list[str]:
    """Paragraphs of the published en page that are neither a msgid of the catalog nor in the ja page."""
    catalog = Catalog.from_po((CORPUS / "_po" / "ja" / rel).with_suffix(".po").read_text(encoding="utf-8"))
    known = {en for en, _ in catalog.pairs} | set(catalog.same)
    ja = {p.text for p in paragraphs((CORPUS / "ja" / rel).read_text(encoding="utf-8"))[1]}
    en = paragraphs((CORPUS / rel).read_text(encoding="utf-8"))[1]
    return [p.text for p in en if p.text not in known and p.text not in ja]


@needs_corpus
def test_the_sample_has_twelve_ja_pages_with_an_index_page() -> None:
    assert len(PAGES) == 12 and "how-to/index.md" in PAGES
    assert _stale_blocks("how-to/index.md")  # what makes the index page's published version unreachable
    assert [p for p in PAGES if p not in STALE and _stale_blocks(p)] == []


@needs_corpus
def test_a_site_in_one_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    status = cli(["export", str(CORPUS / "ja"), "--to", "markdown", "--lang", "en",
                  "--po-dir", str(CORPUS / "_po" / "ja"), "-o", str(out)])
    assert status == EXIT_OK
    report = capsys.readouterr().out.splitlines()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.md"))
    assert written == PAGES  # folder structure kept
    for rel in PAGES:
        line = next(x for x in report if x.startswith(rel + ":"))
        if rel in STALE:
            assert "differs from" in line
            continue
        assert (out / rel).read_bytes() == (CORPUS / rel).read_bytes(), rel
        assert f"identical to {CORPUS / rel}" in line
    assert report[-1].startswith("12 page(s): 11 identical, 1 different")
    # The index page: everything the ja page and the catalog hold is translated, in the en page's order.
    index = (out / "how-to/index.md").read_text(encoding="utf-8")
    published = (CORPUS / "how-to/index.md").read_text(encoding="utf-8")
    stale = _stale_blocks("how-to/index.md")
    assert "ハウツー" not in index and "\n# How to\n" in index
    same = set(Catalog.from_po((CORPUS / "_po/ja/how-to/index.po").read_text(encoding="utf-8")).same)
    ours, theirs = [p.text for p in paragraphs(index)[1]], [p.text for p in paragraphs(published)[1]]
    changes = [op for op in difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert changes
    for _, i1, i2, j1, j2 in changes:  # only the stale blocks, and what the ja page has in their place
        assert set(theirs[j1:j2]) <= set(stale) and set(ours[i1:i2]) <= same


@needs_corpus
@pytest.mark.parametrize("rel", PAGES)
def test_each_page_on_its_own(rel: str, tmp_path: Path) -> None:
    po = (CORPUS / "_po" / "ja" / rel).with_suffix(".po")
    status = cli(["export", str(CORPUS / "ja" / rel), "--to", "markdown", "--lang", "en", "--po", str(po),
                  "-o", str(tmp_path)])
    assert status == EXIT_OK  # the index page, with nothing to run, was refused (no-steps)
    (out,) = tmp_path.iterdir()
    if rel in STALE:
        text = out.read_text(encoding="utf-8")
        assert "# How to\n" in text and "## How to tune PGroonga" in text
        return
    assert out.read_bytes() == (CORPUS / rel).read_bytes()


# -- the site's catalogs, detail by detail -------------------------------------------------------------

CONFIG = """postgresql_doc_base_url:
  en: https://www.postgresql.org/docs/17
  ja: https://www.postgresql.jp/document/16/html
"""

PO = r'''msgid ""
msgstr ""
"Language: ja\n"
"Content-Type: text/plain; charset=UTF-8\n"

msgid "# Settings"
msgstr "# 設定"

msgid "## Write-ahead log {#wal}"
msgstr "## ログ先行書き込み {#wal}"

msgid ""
"The first line ends with two spaces  \n"
"so it breaks here."
msgstr ""
"一行目はスペース二つで終わります  \n"
"ここで改行します。"

msgid "The translator ended this one with a space."
msgstr "翻訳者はこれをスペースで終えました。 "

msgid "See [WAL][postgresql-wal]."
msgstr "[WAL][postgresql-wal]を参照してください。"

msgid "[postgresql-wal]: {{ site.postgresql_doc_base_url.en }}/wal.html"
msgstr "[postgresql-wal]:{{ site.postgresql_doc_base_url.ja }}/wal.html"

msgid "[postgresql-config]: {{ site.postgresql_doc_base_url.en }}/runtime-config.html"
msgstr ""
'''

EN = """---
title: Settings
---

# Settings

## Write-ahead log {#wal}

The first line ends with two spaces␣␣
so it breaks here.

The translator ended this one with a space.

See [WAL][postgresql-wal].

[postgresql-wal]: {{ site.postgresql_doc_base_url.en }}/wal.html

[postgresql-config]: {{ site.postgresql_doc_base_url.en }}/runtime-config.html

[postgresql-archive]:{{ site.postgresql_doc_base_url.en }}/continuous-archiving.html
""".replace("␣", " ")

JA = """---
title: 設定
---

# 設定

## ログ先行書き込み {#wal}

一行目はスペース二つで終わります␣␣
ここで改行します。

翻訳者はこれをスペースで終えました。␣

[WAL][postgresql-wal]を参照してください。

[postgresql-wal]: {{ site.postgresql_doc_base_url.ja }}/wal.html

[postgresql-config]:{{ site.postgresql_doc_base_url.ja }}/runtime-config.html

[postgresql-archive]:{{ site.postgresql_doc_base_url.ja }}/continuous-archiving.html

この段落はカタログにありません。
""".replace("␣", " ")
"""The ja page as a translator left it: the link definitions edited by hand (a space added or removed
after the colon, the ja variable where the catalog has none), one paragraph the catalog lacks."""


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "ja" / "admin").mkdir(parents=True)
    (site / "_po" / "ja" / "admin").mkdir(parents=True)
    (site / "admin").mkdir()
    (site / "_config.yml").write_text(CONFIG)
    (site / "_po" / "ja" / "admin" / "settings.po").write_text(PO)
    (site / "ja" / "admin" / "settings.md").write_text(JA)
    (site / "admin" / "settings.md").write_text(EN + "\nThis paragraph is not in the catalog.\n")
    # A ja page whose text is still English, with a catalog that translates nothing yet.
    (site / "_po" / "ja" / "english.po").write_text('msgid ""\nmsgstr ""\n\nmsgid "# English"\nmsgstr ""\n\n'
                                                   'msgid "Not translated yet."\nmsgstr ""\n')
    (site / "ja" / "english.md").write_text("# English\n\nNot translated yet.\n")
    (site / "english.md").write_text("# English\n\nNot translated yet.\n")
    (site / "ja" / "orphan.md").write_text("# 孤児\n\nカタログがありません。\n")
    return site


def test_the_site_catalogs_details(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    out = tmp_path / "out"
    assert cli(["export", str(site / "ja"), "--to", "markdown", "--lang", "en", "--po-dir", str(site / "_po" / "ja"),
                "-o", str(out)]) == EXIT_OK
    report = capsys.readouterr().out
    text = (out / "admin" / "settings.md").read_text(encoding="utf-8")
    # Everything but the paragraph the catalog lacks is the English page, byte for byte.
    assert text == EN + "\nこの段落はカタログにありません。\n"
    line = JA.split("\n").index("この段落はカタログにありません。") + 1
    assert f"{site / 'ja' / 'admin' / 'settings.md'}:{line}: untranslated paragraph" in report
    assert "admin/settings.md: differs from" in report
    # Still English: not refused, identical to the published page, nothing untranslated.
    assert (out / "english.md").read_text() == "# English\n\nNot translated yet.\n"
    assert f"english.md: identical to {site / 'english.md'}; 0 untranslated" in report
    # No catalog: reported, not written.
    assert f"orphan.md: missing catalog {site / '_po' / 'ja' / 'orphan.po'} (not written)" in report
    assert not (out / "orphan.md").exists()


def test_page_by_page_the_same_details(tmp_path: Path) -> None:
    site = _site(tmp_path)
    po = site / "_po" / "ja" / "admin" / "settings.po"
    assert cli(["export", str(site / "ja" / "admin" / "settings.md"), "--to", "markdown", "--lang", "en",
                "--po", str(po), "-o", str(tmp_path / "one")]) == EXIT_OK
    (out,) = (tmp_path / "one").iterdir()
    assert out.read_text(encoding="utf-8") == EN + "\nこの段落はカタログにありません。\n"
    english = site / "ja" / "english.md"
    assert cli(["export", str(english), "--to", "markdown", "--lang", "en", "--po",
                str(site / "_po" / "ja" / "english.po"), "-o", str(tmp_path / "two")]) == EXIT_OK


def test_front_matter_and_heading_ids_the_catalog_lacks() -> None:
    catalog = Catalog([("# Settings", "# 設定"), ("## Write-ahead log", "## ログ先行書き込み")])
    ja = "---\ntitle: 設定\nlayout: ja\n---\n\n# 設定\n\n## ログ先行書き込み {#wal}\n"
    done = translate_page(ja, "en", catalog, "ja")
    assert done.text == "---\ntitle: Settings\nlayout: ja\n---\n\n# Settings\n\n## Write-ahead log {#wal}\n"
    assert done.untranslated == []


def test_blank_lines_are_lines_of_whitespace_and_paragraphs_keep_inner_spaces() -> None:
    text = "\nA line  \nnext\n   \n\nB \n"
    head, parts = paragraphs(text)
    assert head == "\n"
    assert [(p.text, p.tail, p.line) for p in parts] == [("A line  \nnext", "\n   \n\n", 2), ("B", " \n", 6)]
    assert head + "".join(p.text + p.tail for p in parts) == text


@needs_corpus
def test_the_other_way_round_english_root_to_ja(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ja"
    assert cli(["export", str(CORPUS), "--to", "markdown", "--lang", "ja", "--po-dir", str(CORPUS / "_po" / "ja"),
                "-o", str(out)]) == EXIT_OK
    report = capsys.readouterr().out
    for rel in PAGES:
        if rel not in STALE:
            assert (out / rel).read_bytes() == (CORPUS / "ja" / rel).read_bytes(), rel
    # The index page's blocks the catalog lacks are the untranslated paragraphs, each at its line.
    en = (CORPUS / "how-to/index.md").read_text(encoding="utf-8")
    stale = set(_stale_blocks("how-to/index.md"))
    lines = [p.line for p in paragraphs(en)[1] if p.text in stale]
    assert lines and all(f"{CORPUS / 'how-to/index.md'}:{n}: untranslated paragraph" in report for n in lines)
    assert "README.md: missing catalog" in report  # the sample's own README has no catalog
    assert not (out / "README.md").exists() and not (out / "ja").exists()  # ja/ is not a page of the root


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    page = site / "ja" / "english.md"
    assert cli(["export", str(site / "ja"), "--to", "markdown", "--lang", "en", "-o", str(tmp_path / "o")]) == 2
    assert "needs --po-dir" in capsys.readouterr().err
    assert cli(["export", str(site / "ja"), "--to", "markdown", "--lang", "en", "--po-dir",
                str(site / "_po" / "ja")]) == 2
    assert "give -o DIR" in capsys.readouterr().err
    assert cli(["export", str(site / "ja"), "--to", "markdown", "--lang", "ja", "--po-dir", str(site / "_po" / "ja"),
                "-o", str(tmp_path / "o")]) == 2
    assert "give the other language with --lang" in capsys.readouterr().err
    assert cli(["export", str(page), "--to", "markdown", "--lang", "en", "--po-dir", str(site / "_po" / "ja")]) == 2
    assert "--po-dir is for a site's folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_msgids_with_trailing_spaces() -> None:
    # The English page's paragraph ends with a space; its msgid keeps it, the Japanese page may or may not.
    catalog = Catalog([("Ends with a space. ", "スペースで終わります。"), ("Both end so. ", "両方です。 ")])
    en = "Ends with a space. \n\nBoth end so. \n"
    for ja in ("スペースで終わります。\n\n両方です。 \n", "スペースで終わります。 \n\n両方です。 \n"):
        done = translate_page(ja, "en", catalog, "ja")
        assert done.text == en and done.untranslated == []
