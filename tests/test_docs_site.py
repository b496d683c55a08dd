"""The example site (docs/site/): every page's shape, which pages a site run finds, skips and leaves
out, that the Japanese pages give the English pages' graphs, and the facts of the pages that are not
reference pages (the tutorial, the how-to, install, the index, the deliberately broken pages). The
reference pages are test_docs_site_reference.py. Expected values come from the pages' text,
_config.yml and runbook.toml, and docs/site/README.md's table of what each page shows."""

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

from runbook.drift import compare
from runbook.site_pages import discover, load_site_settings

PAGES = Pages()
SITE = DOCS / "site"

SHAPES = {
    "index.md": "not-executable", "tutorial.md": "examples", "how-to/createdb.md": "untagged-guide",
    "install.md": "untagged-guide", "stale.md": "examples", "unterminated.md": "examples",
    "crash.md": "examples",
    **{f"reference/{name}.md": "examples" for name in (
        "example-groups", "full-text-search", "jsonb", "like", "psql-output", "row-order", "version-notes",
        "volatile-values")},
}
"""Every page of the site that has a Japanese twin under ja/, and its shape (docs/guide-format.md,
"Pages of a documentation site"): one without a block to run, untagged steps of shell blocks, or
SQL examples only."""
ALL = [f"docs/site/{rel}" for rel in SHAPES] + [f"docs/site/ja/{rel}" for rel in SHAPES]


def _config(key: str) -> str:
    """A top-level value of the site's _config.yml, as written."""
    m = re.search(rf"^{key}:\s*(\S+)\s*$", (SITE / "_config.yml").read_text(encoding="utf-8"), flags=re.M)
    assert m, key
    return m[1]


def _both(rel: str) -> list[str]:
    return [f"docs/site/{rel}", f"docs/site/ja/{rel}"]


@PAGES(*ALL)
def test_each_page_has_its_shape_and_reads_without_findings(page: str) -> None:
    g = graph(page)
    rel = page.removeprefix("docs/site/").removeprefix("ja/")
    assert g.shape == SHAPES[rel]
    assert g.findings == []
    assert g.source.lang == ("ja" if page.startswith("docs/site/ja/") else "en")
    if g.shape != "not-executable":
        assert [(h.id, h.inferred) for h in g.hosts] == [("server", True)]  # no page names a host


@PAGES(*[p for p in ALL if not p.startswith("docs/site/ja/")])
def test_the_japanese_page_gives_the_same_graph(page: str) -> None:
    """Up to prose and link targets; a page whose Japanese examples hold Japanese data differs in
    that data only (drift's ``localized-data``)."""
    report = compare(graph(page), graph(page.replace("docs/site/", "docs/site/ja/")))
    assert {c.kind for c in report.executable} <= {"localized-data"}
    assert {c.kind for c in report.prose} <= {"link", "comment"}
    if page.endswith(("jsonb.md", "like.md", "example-groups.md")):
        assert report.executable  # their ja examples are written with Japanese data
    else:
        assert report.executable == []


@PAGES("docs/site/README.md", "docs/site/drafts/unfinished.md")
def test_a_site_run_leaves_out_the_readme_and_drafts(page: str) -> None:
    """_config.yml's ``exclude`` names README.md and drafts; a site run finds every other page."""
    settings = load_site_settings(SITE)
    found = {p.rel for p in discover(SITE, settings)}
    assert found == set(SHAPES) | {f"ja/{rel}" for rel in SHAPES}
    assert page.removeprefix("docs/site/") not in found
    exclude = re.findall(r"^  - (\S+)$", (SITE / "_config.yml").read_text(encoding="utf-8"), flags=re.M)
    assert {"README.md", "drafts"} <= set(exclude)
    g = graph(page)
    if page.endswith("README.md"):
        assert (g.shape, g.steps) == ("not-executable", [])
        named = set(re.findall(r"`((?:[\w-]+/)*[\w-]+\.md)`", text(page)))
        assert named and all((SITE / n).is_file() for n in named if n != "drafts/")
    else:
        assert g.shape == "examples" and len(g.actions()) == len(fences(page))


@PAGES(*_both("install.md"))
def test_install_is_skipped_with_the_reason_runbook_toml_gives(page: str) -> None:
    rel = page.removeprefix("docs/site/")
    skips = tomllib.loads((SITE / "runbook.toml").read_text(encoding="utf-8"))["skip"]
    (reason,) = [s["reason"] for s in skips if s["path"] == rel]
    settings = load_site_settings(SITE)
    assert (settings.skip_reason(rel) or "").startswith(reason + " (runbook.toml:")
    assert {p.rel: p.skip for p in discover(SITE, settings)}[rel] == settings.skip_reason(rel)
    assert "installs PostgreSQL packages" in reason
    # what it would run: the packages of the site's PostgreSQL (Liquid), then the extension
    g = graph(page)
    apt = action_at(g, fence_at(page, "sudo apt install").line)
    assert [c.text for c in apt.commands] == [
        f"sudo apt install -y postgresql-{_config('postgresql_version')} postgresql-contrib"]
    assert [s.sql for s in action_at(g, fence_at(page, "CREATE EXTENSION").line).statements] == [
        "CREATE EXTENSION pg_trgm;"]


@PAGES(*_both("index.md"))
def test_the_index_has_nothing_to_run(page: str) -> None:
    g = graph(page)
    assert (g.steps, g.blocks, fences(page)) == ([], [], [])
    assert f"PostgreSQL {_config('postgresql_version')}" in " ".join(p.text for p in g.prose)


@PAGES(*_both("tutorial.md"))
def test_tutorial_steps_carry_state_over(page: str) -> None:
    g = graph(page)
    headings = re.findall(r"^## .* \{#([\w-]+)\}$", text(page), flags=re.M)
    assert [s.id for s in g.steps] == headings
    assert len({a.sessions["server"] for a in g.actions()}) == 1  # one psql session, page order
    p = path(page)
    begin, rollback = line_of(p, "BEGIN;"), line_of(p, "ROLLBACK;")
    opened, closed = (next(a for a in g.actions() if any(s.span.line == n for s in a.statements))
                      for n in (begin, rollback))
    assert g.actions().index(closed) == g.actions().index(opened) + 1  # a transaction across two blocks
    drop = statement_at(g, line_of(p, "DROP TABLE IF EXISTS notes;"))
    notice = text(page).split("\n")[line_of(p, "-- NOTICE:") - 1].removeprefix("-- ")
    assert drop.expected is not None and drop.expected.notices == [re.sub(r" +", " ", notice)]
    for n in lines_of(p, "SELECT title FROM memos WHERE id = 3;"):
        assert rows_of(statement_at(g, n)) == table_after(page, n).rows
    assert [rows_of(statement_at(g, n)) for n in lines_of(p, "SELECT title FROM memos WHERE id = 3;")] == [
        [["PGroonga extension"]], [["PGroonga"]]]


@PAGES(*_both("how-to/createdb.md"))
def test_createdb_how_to_on_the_server_you_have(page: str) -> None:
    g = graph(page)
    p = path(page)
    headings = re.findall(r"^## .* \{#([\w-]+)\}$", text(page), flags=re.M)
    assert [s.id for s in g.steps] == headings
    createdb = action_at(g, fence_at(page, "$ createdb api").line)
    assert (createdb.kind, [c.text for c in createdb.commands]) == ("console", ["createdb api"])
    psql = action_at(g, fence_at(page, "$ psql api").line)
    (session,) = g.sessions
    assert (session.host, session.database, session.opened_by) == ("server", "api", psql.id)
    assert {a.sessions["server"] for a in g.actions() if a.kind == "sql"} == {session.id}
    lookup = line_of(p, "SELECT expires FROM tokens")
    assert rows_of(statement_at(g, lookup)) == table_after(page, lookup).rows


# -- pages broken on purpose ------------------------------------------------------------------

@PAGES(*_both("stale.md"))
def test_stale_page_reads_its_out_of_date_outputs_as_written(page: str) -> None:
    """Two examples are stale: the page's value is not what the expression gives (7 letters;
    'runbook' starts with 'run'). They are read as written, so that the run finds them."""
    g = graph(page)
    p = path(page)
    length, like = line_of(p, "SELECT length('runbook');"), line_of(p, "SELECT 'runbook' LIKE 'run%'")
    assert rows_of(statement_at(g, length)) == table_after(page, length).rows != [[str(len("runbook"))]]
    truth = "t" if "runbook".startswith("run") else "f"
    assert rows_of(statement_at(g, like)) == table_after(page, like).rows != [[truth]]
    uuid = line_of(p, "SELECT gen_random_uuid()")
    pattern = tomllib.loads((SITE / "runbook.toml").read_text(encoding="utf-8"))["volatile"][0]["pattern"]
    assert re.search(pattern, rows_of(statement_at(g, uuid))[0][1])  # volatile, not stale
    after = line_of(p, "SELECT 1 + 1 AS two;")
    assert rows_of(statement_at(g, after)) == [["2"]] and statement_at(g, after) is g.actions()[-1].statements[-1]


@PAGES(*_both("unterminated.md"))
def test_unterminated_statement_is_read_whole_at_its_line(page: str) -> None:
    g = graph(page)
    block = fence_at(page, "CREATE TABLE memos (")
    statement = statement_at(g, block.line + 1)
    assert statement.sql == "\n".join(block.body)
    assert statement.sql.count("(") > statement.sql.count(")")  # what psql waits for
    assert statement.expected is None
    for needle in ("SELECT 1 AS one;", "SELECT 2 AS two;"):  # the examples around it are whole
        n = line_of(path(page), needle)
        assert rows_of(statement_at(g, n)) == table_after(page, n).rows


@PAGES(*_both("crash.md"))
def test_crash_statement_is_the_pages_last(page: str) -> None:
    g = graph(page)
    block = fence_at(page, "TO PROGRAM")
    statement = statement_at(g, block.line + 1)
    assert statement.sql == "\n".join(block.body)  # one DO statement: its inner `;` split nothing
    assert "kill -SEGV" in statement.sql and "pg_backend_pid()" in statement.sql
    assert statement.expected is None
    assert [s for a in g.actions() for s in a.statements][-1] is statement
    one = line_of(path(page), "SELECT 1 AS one;")
    assert rows_of(statement_at(g, one)) == table_after(page, one).rows


def test_shapes_cover_the_site() -> None:
    """The table above names every page of the site a run finds, and the Japanese twin exists."""
    for rel in SHAPES:
        assert (SITE / rel).is_file() and (SITE / "ja" / rel).is_file(), rel


def test_readme_table_names_each_page() -> None:
    """docs/site/README.md's table says what each page shows; every page of SHAPES is in it."""
    readme = text("docs/site/README.md")
    for rel in SHAPES:
        assert f"`{rel}`" in readme, rel
