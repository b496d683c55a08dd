"""A documentation site read: runbook.toml, the pages found, their shapes (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from helpers import line_of, lines_of

from runbook.errors import GuideError
from runbook.site_pages import discover, find_site_root, load_site_settings
from runner.cli import main as run

SITE = ROOT / "docs" / "site"
CORPUS = ROOT.parent / "shared" / "corpus-sample"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_example_site_settings() -> None:
    s = load_site_settings(SITE)
    assert s.prelude.strip() == "CREATE EXTENSION pg_trgm;"
    lines = (SITE / "runbook.toml").read_text().split("\n")
    assert lines[s.prelude_line - 1] == "CREATE EXTENSION pg_trgm;"  # the prelude's own line, for its errors
    assert s.prelude_template and s.extensions == ["pg_trgm"]
    toml = SITE / "runbook.toml"
    skips = lines_of(toml, "[[skip]]")
    assert [(r.paths, r.line) for r in s.skip] == [(["install.md"], skips[0]), (["ja/install.md"], skips[1])]
    assert [lines[n] for n in skips] == ['path = "install.md"', 'path = "ja/install.md"']  # the line after each
    assert [v.name for v in s.volatile] == ["uuid"]
    assert s.exclude == ["README.md", "drafts"]


def test_example_site_pages_and_skips() -> None:
    s = load_site_settings(SITE)
    pages = discover(SITE, s)
    rels = [p.rel for p in pages]
    own = ["crash.md", "how-to/createdb.md", "index.md", "install.md", "reference/example-groups.md",
           "reference/full-text-search.md", "reference/jsonb.md", "reference/like.md", "reference/psql-output.md",
           "reference/row-order.md", "reference/version-notes.md", "reference/volatile-values.md", "stale.md",
           "tutorial.md", "unterminated.md"]
    assert rels == sorted(own + [f"ja/{p}" for p in own])
    skipped = {p.rel: p.skip for p in pages if p.skip}
    assert set(skipped) == {"install.md", "ja/install.md"}
    assert skipped["install.md"] == ("installs PostgreSQL packages on the machine; the sandbox has them already "
                                     f"(runbook.toml:{line_of(SITE / 'runbook.toml', '[[skip]]')})")
    # a sub-folder of the site: same root, same rules, paths relative to the root
    assert find_site_root(SITE / "ja") == SITE.resolve()
    assert [p.rel for p in discover(SITE / "ja", s)] == [f"ja/{p}" for p in sorted(own)]


def test_discovery_honours_exclude_and_leaves_out_build_folders(tmp_path: Path) -> None:
    _write(tmp_path, {
        "_config.yml": "exclude:\n  - drafts\n  - \"*.tmp.md\"\n  - ja/old.md\n",
        "a.md": "# a\n", "README.md": "# readme\n", "ja/b.md": "# b\n", "ja/old.md": "# old\n",
        "x.tmp.md": "# tmp\n", "_site/a.md": "# built\n", "vendor/bundle/gem.md": "# gem\n",
        "_po/ja/a.md": "# po\n", ".git/x.md": "# git\n", "drafts/d.md": "# draft\n", "notes.txt": "text\n",
        "deep/er/c.markdown": "# c\n",
    })
    s = load_site_settings(tmp_path)
    assert [p.rel for p in discover(tmp_path, s)] == ["a.md", "deep/er/c.markdown", "ja/b.md"]


def test_skip_rules_match_pages_folders_and_globs(tmp_path: Path) -> None:
    _write(tmp_path, {"runbook.toml": '[[skip]]\npath = ["install/", "*/upgrade.md"]\nreason = "not here"\n'})
    s = load_site_settings(tmp_path)
    assert s.skip_reason("install/debian.md") == "not here (runbook.toml:1)"
    assert s.skip_reason("ja/upgrade.md") == "not here (runbook.toml:1)"
    assert s.skip_reason("installer.md") is None and s.skip_reason("upgrade.md") is None


def test_extensions_per_page(tmp_path: Path) -> None:
    _write(tmp_path, {"runbook.toml": 'extensions = ["pg_trgm"]\n\n[[pages]]\npath = "wal/"\n'
                                      'extensions = ["pgroonga", "pg_trgm"]\n'})
    s = load_site_settings(tmp_path)
    assert s.extensions_for("wal/x.md") == ["pg_trgm", "pgroonga"]
    assert s.extensions_for("other.md") == ["pg_trgm"]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the repository")
def test_corpus_sample_pages() -> None:
    s = load_site_settings(CORPUS)
    assert "vendor" in s.exclude
    pages = discover(CORPUS, s)
    assert len(pages) == 24 and sum(p.rel.startswith("ja/") for p in pages) == 12
    assert not any(p.rel.startswith("_po/") or p.rel == "README.md" for p in pages)


BAD = '''prelude = """
CREATE EXTENSION x;
"""
extension = ["a"]
prelude_template = "yes"

[[skip]]
path = "a.md"

[[skip]]
path = 3
reason = "r"
foo = 1

[[volatile]]
name = "x"
pattern = "("
'''


def test_bad_runbook_toml_names_every_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"runbook.toml": BAD, "a.md": "# a\n"})
    with pytest.raises(GuideError) as info:
        load_site_settings(tmp_path)
    found = [(f.span.line, f.message.split(":")[0]) for f in info.value.findings]
    assert found == [(line_of(BAD, "extension ="), "unknown key 'extension' at the top level (known"),
                     (line_of(BAD, "prelude_template ="), "prelude_template must be true or false"),
                     (line_of(BAD, "[[skip]]"), '[[skip]] needs reason = "..."'),
                     (line_of(BAD, "path = 3"), "path must be a string or a list of non-empty strings"),
                     (line_of(BAD, "foo = 1"), "unknown key 'foo' in [[skip]] (known"),
                     (line_of(BAD, 'pattern = "("'), "pattern is not a regular expression")]
    # the command line: exit status 4, every problem as file:line, before anything runs
    assert run(["run", str(tmp_path)]) == 4
    err = capsys.readouterr().err
    toml = tmp_path / "runbook.toml"
    assert f"{toml}:{line_of(BAD, 'extension =')}: site-config: unknown key 'extension'" in err
    assert f"{toml}:{line_of(BAD, 'pattern = ')}: site-config: pattern is not a regular expression" in err
    assert "Traceback" not in err


def test_runbook_toml_that_is_not_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"runbook.toml": 'extensions = ["a"]\nprelude = "unterminated\n', "a.md": "# a\n"})
    assert run(["run", str(tmp_path)]) == 4
    assert f"{tmp_path / 'runbook.toml'}:2: site-config: not valid TOML" in capsys.readouterr().err


def test_site_options_that_apply_to_one_guide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"a.md": "# a\n"})
    assert run(["run", str(tmp_path), "--only", "x"]) == 2
    assert "--only applies to one guide, not to a site" in capsys.readouterr().err
    assert run(["run", str(tmp_path / "empty")]) == 2
    (tmp_path / "none").mkdir()
    assert run(["run", str(tmp_path / "none")]) == 2
    assert "no page (*.md) in this folder" in capsys.readouterr().err


def test_a_folder_with_its_own_configuration_is_a_site_of_its_own(tmp_path: Path) -> None:
    """Discovery stops at a subfolder holding runbook.toml (or _config.yml): its pages are read with
    its own settings, not the outer site's."""
    from runner.site.pages import site_pages

    page = "# P\n\n## Usage {#usage}\n\n```sql\nSELECT 1;\n```\n"
    root = _write(tmp_path / "outer", {
        "runbook.toml": '[[skip]]\npath = ["a.md"]\nreason = "outer rule"\n',
        "a.md": page, "b.md": page,
        "inner/runbook.toml": 'prelude = "SELECT 42;"\n',
        "inner/a.md": page,
        "inner/deeper/c.md": page,
        "jekyll/_config.yml": "title: x\n",
        "jekyll/d.md": page,
    })
    outer = load_site_settings(root)
    nested: list[Path] = []
    assert [p.rel for p in discover(root, outer, nested)] == ["a.md", "b.md"]
    assert sorted(nested) == [root / "inner", root / "jekyll"]
    items, settings = site_pages([root])
    found = {(str(p.path.relative_to(root)), s.root.name, p.skip is not None) for p, s, _ in items}
    assert found == {("a.md", "outer", True), ("b.md", "outer", False), ("inner/a.md", "inner", False),
                     ("inner/deeper/c.md", "inner", False), ("jekyll/d.md", "jekyll", False)}
    assert settings[(root / "inner").resolve()].prelude.strip() == "SELECT 42;"


def test_plan_of_the_project_docs_lists_every_page(capsys: pytest.CaptureFixture[str]) -> None:
    """`runbook run docs/ --plan`: runbook's own documentation pages are skipped with docs/runbook.toml's
    reason (a new page there must be listed), the guides and the example site's pages are planned."""
    docs = ROOT / "docs"
    assert run(["run", str(docs), "--plan"]) == 0
    out = capsys.readouterr().out
    for page in sorted(docs.glob("*.md")):
        assert f"# {page}: skipped (runbook's own documentation" in out, page.name
    for page in sorted((docs / "guides").glob("*.md")):
        if page.name != "README.md":
            assert f"plan for {page} on the sandbox; read as " in out or f"# {page}: blocked" in out, page.name
    assert f"plan for {docs / 'site' / 'reference' / 'like.md'} on the sandbox; read as " in out
    assert f"# {docs / 'site' / 'install.md'}: skipped (installs PostgreSQL packages" in out
    assert "no-steps" not in out


def test_a_watch_in_the_site_prelude_is_refused_at_its_line(tmp_path: Path) -> None:
    """The site's prelude runs in one psql that would repeat a ``\\watch`` query until interrupted:
    it is not run, the reason given with runbook.toml's line."""
    from runner.site.server import prelude_refused

    toml = 'prelude = """\nCREATE EXTENSION pg_trgm;\nSELECT 1 AS x\n\\\\watch 2\n"""\n'
    root = _write(tmp_path / "a", {"runbook.toml": toml})
    s = load_site_settings(root)
    assert s.prelude.split("\n")[2] == "\\watch 2"  # (the TOML string's \\ is one backslash)
    line = (root / "runbook.toml").read_text().split("\n").index("\\\\watch 2") + 1
    assert prelude_refused(s) == (f"{root / 'runbook.toml'}:{line}: the prelude: psql's \\watch repeats the "
                                  "query until it is interrupted: not run (end the query with ';' to run it once)")
    fine = load_site_settings(_write(tmp_path / "b", {"runbook.toml": "prelude = \"SELECT '\\\\\\\\watch';\"\n"}))
    assert fine.prelude == "SELECT '\\\\watch';" and prelude_refused(fine) is None  # in quotes: no meta-command
