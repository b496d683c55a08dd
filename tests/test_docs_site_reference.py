"""The reference pages of the example site (docs/site/reference/ and ja/reference/): what each one
exists to show (docs/site/README.md's table), read from the page's text: the outputs it expects,
the blocks it does not run, its example groups, its pasted output, its unordered results, its
version notes. Their shape and ja/en equality are test_docs_site.py."""

from __future__ import annotations

import re
import tomllib

from docs_pages import (
    DOCS,
    Pages,
    action_at,
    fence_at,
    fences,
    graph,
    path,
    rows_of,
    statement_at,
    table_after,
    text,
)
from helpers import line_of, lines_of

from runbook.model import Statement
from runbook.site_pages import load_site_settings
from runner.running.compare import has_order_by

PAGES = Pages()
SITE = DOCS / "site"
NAMES = ["example-groups", "full-text-search", "jsonb", "like", "psql-output", "row-order", "version-notes",
         "volatile-values"]


def _both(name: str) -> list[str]:
    return [f"docs/site/reference/{name}.md", f"docs/site/ja/reference/{name}.md"]


def _statements(page: str) -> list[Statement]:
    return [s for a in graph(page).actions() for s in a.statements]


@PAGES(*[p for name in NAMES for p in _both(name)])
def test_every_table_the_page_shows_is_its_statements_expected_output(page: str) -> None:
    """Each `(N rows)` of the page closes the expected output of one statement, with the rows the
    page shows (tables with multi-line cells are test_jsonb_*'s)."""
    lines = text(page).split("\n")
    counts = [n for n, line in enumerate(lines, 1) if re.fullmatch(r"(-- )?\(\d+ rows?\)\s*", line)]
    for n in counts:
        owners = [s for s in _statements(page) if s.expected and s.expected.span.line <= n <= s.expected.span.end_line]
        assert len(owners) == 1, f"{page}:{n}"
        expected = owners[0].expected
        assert expected is not None
        if any(x.rstrip().endswith("+") for x in lines[expected.span.line - 1:n]):
            continue
        shown = table_after(page, expected.span.line - 1)
        assert (rows_of(owners[0]), expected.row_count) == (shown.rows, shown.count), f"{page}:{n}"
    assert counts


@PAGES(*_both("full-text-search"))
def test_liquid_interleaved_outputs_and_a_syntax_block(page: str) -> None:
    g = graph(page)
    value = re.search(r"^search_config:\s*(\S+)", (SITE / "_config.yml").read_text(encoding="utf-8"), re.M)
    assert value
    liquid = lines_of(path(page), "{{ site.search_config }}")
    in_sql = [n for f in fences(page) if f.lang == "sql" for n in liquid if f.line < n <= f.line + len(f.body)]
    rendered = [s for s in _statements(page) if any(s.span.line <= n <= s.span.end_line for n in in_sql)]
    assert len(in_sql) >= 3 and len(rendered) == len(in_sql)  # one placeholder a statement
    assert all(f"'{value[1]}'" in s.sql and "{{" not in s.sql for s in rendered)
    pairs = action_at(g, fence_at(page, "SELECT to_tsvector(").line)
    assert [s.expected is not None for s in pairs.statements] == [True, True]  # two statement/output pairs
    syntax = fence_at(page, "tsvector @@ tsquery")
    assert [b.role for b in g.blocks if b.line == syntax.line] == ["syntax"]
    assert all(a.span.line != syntax.line for a in g.actions())


@PAGES(*_both("jsonb"))
def test_jsonb_expanded_display_and_multi_line_cells(page: str) -> None:
    g = graph(page)
    p = path(page)
    lines = text(page).split("\n")
    pretty = line_of(p, "SELECT jsonb_pretty(record)")
    shown = table_after(page, pretty)  # one row per line of the cell, each marked `+` but the last
    cell = [re.sub(r"\s*\+$", "", row[0]).strip() for row in shown.rows]
    (row,) = rows_of(statement_at(g, pretty))
    assert [x.strip() for x in row[0].split("\n")] == cell and shown.count == 1
    expanded = line_of(p, "\\x on") + 1
    records: list[dict[str, str]] = []
    for line in lines[expanded:]:
        body = line.removeprefix("-- ")
        if body.startswith("-[ RECORD"):
            records.append({})
        elif "|" in body and records:
            key, _, val = body.partition("|")
            records[-1][key.strip()] = val.strip()
        elif line.startswith("\\x off"):
            break
    s = statement_at(g, expanded)
    assert s.expected is not None and s.expected.expanded
    assert s.expected.columns == list(records[0])
    assert rows_of(s) == [list(r.values()) for r in records]


@PAGES(*_both("like"))
def test_like_prelude_syntax_block_and_an_expected_error(page: str) -> None:
    g = graph(page)
    sql = "\n".join(s.sql for s in _statements(page))
    assert "gin_trgm_ops" in sql and "show_trgm(" in sql and "CREATE EXTENSION" not in sql
    toml = tomllib.loads((SITE / "runbook.toml").read_text(encoding="utf-8"))
    settings = load_site_settings(SITE)
    assert "CREATE EXTENSION pg_trgm;" in toml["prelude"] and settings.prelude.strip() == toml["prelude"].strip()
    assert settings.extensions_for(page.removeprefix("docs/site/")) == toml["extensions"] == ["pg_trgm"]
    syntax = fence_at(page, "column LIKE pattern")
    assert [b.role for b in g.blocks if b.line == syntax.line] == ["syntax"]
    n = line_of(path(page), "SELECT 'runbook' LIKE 'run\\';")
    error = statement_at(g, n).expected
    assert error is not None and error.kind == "error" and error.error is not None
    assert error.error["message"] == text(page).split("\n")[n].removeprefix("-- ERROR:  ")


@PAGES(*_both("example-groups"))
def test_two_examples_each_in_a_fresh_database(page: str) -> None:
    g = graph(page)
    first, second = (n - 1 for n in lines_of(path(page), "CREATE TABLE memos ("))  # their fences
    assert [(x.number, x.span.line) for x in g.example_groups] == [(1, first), (2, second)]
    assert "memos" in g.example_groups[1].reason and f"line {first}" in g.example_groups[1].reason
    assert [a.example_group for a in g.actions()] == [1 if a.span.line < second else 2 for a in g.actions()]
    assert len(g.actions()) == len(fences(page))


@PAGES(*_both("psql-output"))
def test_pasted_output_is_expected_output_never_sent(page: str) -> None:
    g = graph(page)
    p = path(page)
    lines = text(page).split("\n")
    select = line_of(p, "SELECT id, content FROM memos ORDER BY id;")
    update = line_of(p, "UPDATE memos SET content = upper(content)")
    upper = line_of(p, "SELECT content FROM memos WHERE id = 2;")
    for n in (select, upper):
        s = statement_at(g, n)
        assert s.expected is not None and s.expected.pasted
        assert rows_of(s) == table_after(page, n).rows
        assert s.sql == lines[n - 1]  # the output is not part of the statement sent
    tag = statement_at(g, update).expected
    assert tag is not None and tag.pasted and (tag.kind, tag.tag) == ("tag", lines[update])
    both = next(a for a in g.actions() if statement_at(g, update) in a.statements)
    assert [s.span.line for s in both.statements] == [update, upper]  # two pairs in one block
    assert all("(2 rows)" not in s.sql and "UPDATE 1" not in s.sql.split("\n")[1:] for s in _statements(page))


@PAGES(*_both("row-order"))
def test_results_without_order_by_are_compared_unordered(page: str) -> None:
    """Without ORDER BY (or with GROUP BY only), rows are a multiset; with ORDER BY, the key's
    columns are those the clause names, so that rows tying on them may come in any order."""
    g = graph(page)
    p = path(page)
    unordered = [line_of(p, "WHERE price < 200;"), line_of(p, "GROUP BY color;")]
    ordered = [line_of(p, "ORDER BY color;"), line_of(p, "ORDER BY price DESC;")]
    for n in unordered:
        assert has_order_by(statement_at(g, n).sql) is False, f"{page}:{n}"
    for n in ordered:
        s = statement_at(g, n)
        key = re.search(r"ORDER BY (\w+)", s.sql)
        assert key
        columns = table_after(page, n).columns
        assert s.expected is not None and s.expected.columns == columns
        assert has_order_by(s.sql, columns) == [columns.index(key[1])], f"{page}:{n}"
    tied = table_after(page, ordered[0]).rows
    assert [r[1] for r in tied] == sorted(r[1] for r in tied) and len({r[1] for r in tied}) < len(tied)


@PAGES(*_both("version-notes"))
def test_the_gated_example_requires_postgresql_16(page: str) -> None:
    g = graph(page)
    lines = text(page).split("\n")
    note = next(n for n, line in enumerate(lines, 1) if re.search(r"PostgreSQL \d+", line) and "`" not in line)
    version = re.search(r"PostgreSQL (\d+)", lines[note - 1])
    assert version
    gated = action_at(g, fence_at(page, "pg_input_is_valid('42'").line)
    (req,) = gated.requires
    assert (req.software, req.version, req.span.line) == ("postgresql", version[1], note)
    assert req.text in lines[note - 1]
    cast = action_at(g, fence_at(page, "SELECT '42'::integer").line)
    assert cast.requires == []  # the note governs its own section only


@PAGES(*_both("volatile-values"))
def test_values_that_change_from_run_to_run_are_read_as_written(page: str) -> None:
    g = graph(page)
    p = path(page)
    for needle in ("'t'::regclass::oid", "txid_current() AS", "now() AS", "random() AS", "pg_backend_pid() AS"):
        n = line_of(p, needle)
        s = statement_at(g, n)
        assert rows_of(s) == table_after(page, n).rows, f"{page}:{n}"
        assert len(rows_of(s)) == 1
