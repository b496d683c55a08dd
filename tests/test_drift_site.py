"""Drift between the translations of a site (issue 20, point 4): ``runbook drift SITE/ja SITE --site``.

Each pair's class is held against the pages' own code blocks, read here with a few lines of the
tests' own: identical pairs have the same SQL, prose-only pairs differ at most in ``-- `` comments
that are not output, localized-data pairs differ in string literals.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_count import sql_blocks

from runbook.drift.site import compare_sites
from runbook.errors import EXIT_FAILED, EXIT_OK
from runner.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus-sample"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")


def _code(path: Path) -> list[str]:
    return ["\n".join(code) for _, code in sql_blocks(path.read_text(encoding="utf-8"))]


def _without_comments(code: list[str]) -> list[str]:
    return ["\n".join(x for x in block.split("\n") if not re.match(r"\s*-- [^-|(]", x)) for block in code]


def _without_literals(code: list[str]) -> list[str]:
    """Statements with their string literals (lists of them may differ in length) and output left out."""
    out = []
    for block in code:
        block = "\n".join(x for x in block.split("\n") if not x.lstrip().startswith("--"))
        block = re.sub(r"'(?:[^']|'')*'", "''", block)
        block = re.sub(r"(?:\(''\)\s*,\s*)*\(''\)", "('')", block)
        out.append(re.sub(r"(?:''\s*,\s*)*''", "''", block))
    return out


@needs_corpus
def test_the_sample_site(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli(["drift", str(CORPUS / "ja"), str(CORPUS), "--site"])
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith((" ", "=")) and
             not line[0].isdigit()}
    pages = sorted(p.relative_to(CORPUS / "ja").as_posix() for p in (CORPUS / "ja").rglob("*.md"))
    assert len(pages) == 12 and all(p in lines for p in pages)  # one line per pair
    assert "README.md" in lines and lines["README.md"].endswith("only in new")
    for page in pages:
        ja, en = _code(CORPUS / "ja" / page), _code(CORPUS / page)
        state = lines[page].split(None, 1)[1]
        if state == "identical":
            assert ja == en, page
        elif state.startswith("prose only"):
            assert _without_comments(ja) == _without_comments(en), page
        elif state.startswith("localized data"):
            assert ja != en and _without_literals(ja) == _without_literals(en), page
        else:
            pytest.fail(f"{page}: {state}")
    assert lines["how-to/index.md"].split(None, 1)[1].startswith("prose only")  # the index page, paired too
    assert sum(lines[p].split(None, 1)[1] == "identical" for p in pages) == 7
    assert sum("localized data" in lines[p] for p in pages) == 3
    assert status == EXIT_OK  # no executable drift beyond localized data


JA_MEMOS = """---
title: メモの検索
---

# メモの検索

## 使い方

サンプルのテーブルです。

```sql
CREATE TABLE memos (id integer, content text);
INSERT INTO memos VALUES (1, 'PostgreSQLはリレーショナル・データベース管理システムです。');
INSERT INTO memos VALUES (2, 'Groongaは日本語対応の高速な全文検索エンジンです。');
INSERT INTO memos VALUES (3, 'PGroongaはインデックスとしてGroongaを使うためのPostgreSQLの拡張機能です。');
```

## 検索

```sql
SELECT id FROM memos WHERE content LIKE '%全文検索%';
--  id
-- ----
--   2
-- (1 row)
```
"""

EN_MEMOS = """---
title: Searching memos
---

# Searching memos

## How to use

Here is a sample table.

```sql
CREATE TABLE memos (id integer, content text);
INSERT INTO memos VALUES (1, 'PostgreSQL is a relational database management system.');
INSERT INTO memos VALUES (2, 'Groonga is a fast full text search engine that supports all languages.');
INSERT INTO memos VALUES (3, 'PGroonga is a PostgreSQL extension that uses Groonga as index.');
```

## Search

```sql
SELECT id FROM memos WHERE content LIKE '%full text search%';
--  id
-- ----
--   2
-- (1 row)
```
"""

JA_RESTART = """# 再起動

## 設定の反映

設定を反映します。

```bash
sudo systemctl restart postgresql
```

## 確認

```sql
SHOW wal_level;
--  wal_level
-- -----------
--  replica
-- (1 row)
```
"""

EN_RESTART = JA_RESTART.replace("# 再起動", "# Restart").replace("## 設定の反映", "## Apply the settings").replace(
    "設定を反映します。", "Apply the settings.").replace("## 確認", "## Check").replace("restart postgresql",
                                                                                      "reload postgresql")


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "ja" / "how-to").mkdir(parents=True)
    (site / "how-to").mkdir()
    (site / "ja" / "how-to" / "memos.md").write_text(JA_MEMOS)
    (site / "how-to" / "memos.md").write_text(EN_MEMOS)
    (site / "ja" / "restart.md").write_text(JA_RESTART)
    (site / "restart.md").write_text(EN_RESTART)
    (site / "ja" / "only-ja.md").write_text("# 日本語だけ\n\n翻訳はまだです。\n")
    return site


def test_translated_slug_headings_pair_by_position_and_content(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (pair,) = [p for p in compare_sites(site / "ja", site) if p.rel == "how-to/memos.md"]
    assert pair.report is not None
    kinds = {c.kind for c in pair.report.executable}
    # 使い方 / how-to-use: their code differs too much to be a rename; by position and content, one step.
    assert kinds == {"localized-data"}, [c.summary for c in pair.report.executable]
    assert pair.state == "localized data"


def test_one_line_per_pair_then_the_executable_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    status = cli(["drift", str(site / "ja"), str(site), "--site"])
    out = capsys.readouterr().out
    head, _, details = out.partition("\n\n")
    assert [line.split()[0] for line in head.splitlines()] == ["how-to/memos.md", "only-ja.md", "restart.md"]
    assert "how-to/memos.md  localized data" in head
    assert head.splitlines()[1].endswith("only in old")
    assert "restart.md       executable drift (1 change(s))" in head
    assert "3 pair(s): 0 identical, 0 prose only, 1 localized data, 1 executable drift, 1 only in old" in details
    assert "== restart.md ==" in details and "-sudo systemctl restart postgresql" in details \
        and "+sudo systemctl reload postgresql" in details
    assert "== how-to/memos.md ==" not in details  # details only for executable drift
    assert status == EXIT_FAILED


def test_site_needs_two_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = _site(tmp_path)
    assert cli(["drift", str(site / "ja" / "restart.md"), str(site), "--site"]) == 2
    assert "not a folder" in capsys.readouterr().err
