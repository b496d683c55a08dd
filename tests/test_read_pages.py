"""Page shapes beyond tagged guides: untagged steps, single-host example pages, block roles, Liquid."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_count import checks, expected_output_lines

from runbook.errors import GuideError
from runbook.parse import parse_file, parse_text
from runbook.validate import graph_to_json

EXAMPLES = """\
---
title: LIKE
---

# `LIKE` operator

## Syntax

```sql
column LIKE pattern
```

```text
text pgroonga_escape(value)
```

## Usage

### Sample data {#sample}

```sql
CREATE TABLE memos (id integer, content text);
INSERT INTO memos VALUES (1, 'PostgreSQL');
```

### Search

```sql
SET enable_seqscan = off;

SELECT * FROM memos WHERE content LIKE '%SQL%';
--  id |  content
-- ----+------------
--   1 | PostgreSQL
-- (1 row)
```

```json
{"id": 1}
```

## Search

```sql
SELECT count(*) FROM memos;
--  count
-- -------
--      1
-- (1 row)
```
"""


def test_an_example_page_runs_on_one_inferred_server_in_one_session() -> None:
    graph = parse_text(EXAMPLES, "like.md", "en")
    data = graph_to_json(graph)
    assert data["shape"] == "examples"
    assert data["hosts"] == [{"id": "server", "label": "server", "role": "server", "number": None, "address": None,
                              "os": None, "span": {"file": "like.md", "line": 1, "end_line": 1}, "fields": {},
                              "inferred": True}]
    # level 2 "Usage" holds no block itself: its level-3 headings are the steps; ids from {#id} or a slug
    assert [(s.id, s.title, s.span.line) for s in graph.steps] == [
        ("sample", "Sample data", 19), ("search", "Search", 26), ("search-2", "Search", 42)]
    actions = graph.actions()
    assert [a.kind for a in actions] == ["sql", "sql", "sql"]
    assert all(a.targets == ["server"] and a.target_source == "single-host" for a in actions)
    assert {a.sessions["server"] for a in actions} == {"s1@server"}
    assert [(s.id, s.database, s.inferred) for s in graph.sessions] == [("s1@server", None, True)]
    assert [st.expected.span.line for a in actions for st in a.statements if st.expected] == [32, 46]
    # every block has a role: nothing dropped
    assert [(b.line, b.role) for b in graph.blocks] == [
        (9, "syntax"), (13, "illustration"), (21, "action"), (28, "action"), (38, "illustration"), (44, "action")]
    assert graph.findings == []


def test_untagged_level_two_steps_and_blocks_before_any() -> None:
    text = "# Tutorial\n\n```bash\necho intro\n```\n\n## First {#first}\n\n```bash\necho 1\n```\n\n" \
           "### Details\n\n```bash\necho 1b\n```\n\n## No blocks\n\ntext\n\n## 第二の手順\n\n```bash\necho 2\n```\n"
    graph = parse_text(text, "tutorial.md", "en")
    assert graph.shape == "untagged-guide"  # shell blocks: not a page of SQL examples
    assert [s.id for s in graph.steps] == ["tutorial", "first", "第二の手順"]
    assert [len(s.actions) for s in graph.steps] == [1, 2, 1]  # level 3 stays inside its level-2 step
    assert graph.hosts[0].inferred


def test_a_page_with_nothing_to_run() -> None:
    text = "# Index\n\nSee the reference.\n\n## Pages\n\n```text\nreference/\n```\n"
    with pytest.raises(GuideError) as info:
        parse_text(text, "index.md", "en")
    assert [f.rule for f in info.value.findings] == ["no-steps"]
    graph = parse_text(text, "index.md", "en", allow_not_executable=True)
    data = graph_to_json(graph)
    assert data["shape"] == "not-executable" and data["steps"] == [] and data["hosts"] == []
    assert [b["role"] for b in data["blocks"]] == ["illustration"]


def test_tagged_guides_keep_their_shape_and_json() -> None:
    seed = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "guides" / "single-host.ja.md"
    data = graph_to_json(parse_file(seed))
    assert "shape" not in data and all("inferred" not in h for h in data["hosts"])


def test_liquid_renders_from_the_site_config_above_the_page(tmp_path: Path) -> None:
    (tmp_path / "_config.yml").write_text("table: memos\nversions:\n  latest: 18\n", encoding="utf-8")
    page = tmp_path / "ja" / "page.md"
    page.parent.mkdir()
    page.write_text("# Page\n\n## Use {{ site.versions.latest }}\n\n```sql\nSELECT * FROM {{ site.table }};\n"
                    "--  id\n-- ----\n-- (0 rows)\n```\n\n{% raw %}\n```sql\nSELECT '{{1,2}}' AS a;\n```\n"
                    "{% endraw %}\n\n{{ site.missing }}\n", encoding="utf-8")
    graph = parse_file(page)
    statements = [st for a in graph.actions() for st in a.statements]
    assert [(st.sql, st.span.line) for st in statements] == [("SELECT * FROM memos;", 6),
                                                             ("SELECT '{{1,2}}' AS a;", 14)]
    assert graph.steps[0].title == "Use 18"
    assert [(f.rule, f.span.line) for f in graph.findings] == [("liquid-unknown-variable", 18)]
    # the source's digest is the file's, as written
    import hashlib
    assert graph.source.sha256 == hashlib.sha256(page.read_bytes()).hexdigest()
    # --site-config names another configuration
    other = tmp_path / "other.yml"
    other.write_text("table: notes\nversions: {latest: 17}\nmissing: x\n", encoding="utf-8")
    graph = parse_file(page, site_config=other)
    assert graph.actions()[0].statements[0].sql == "SELECT * FROM notes;" and graph.findings == []


SITE = Path(__file__).resolve().parents[1] / "docs" / "site"
SITE_PAGES = sorted(p for p in SITE.glob("**/*.md") if p.name != "README.md")


@pytest.mark.parametrize("page", SITE_PAGES, ids=[p.relative_to(SITE).as_posix() for p in SITE_PAGES])
def test_the_example_site_reads_as_its_pages_are_written(page: Path) -> None:
    """docs/site: each page's checks are its expected outputs, counted from its Markdown."""
    data = graph_to_json(parse_file(page, allow_not_executable=True))
    assert checks(data) == expected_output_lines(page.read_text(encoding="utf-8"))
    shape = data.get("shape", "guide")
    if checks(data):  # SQL examples, or a single-host how-to ("createdb api", "psql api", then SQL)
        assert shape in ("examples", "untagged-guide") and data["hosts"][0]["inferred"] is True
    else:
        assert shape in ("not-executable", "untagged-guide")
