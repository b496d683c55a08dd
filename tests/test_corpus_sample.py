"""PGroonga's published pages (../shared/corpus-sample/): they parse, their checks are the page's expected
outputs, ja and en drift only as they really differ, and the en page is rebuilt from the ja page and
its PO catalog byte for byte.

The expected outputs are counted from the Markdown with a few lines of code of the tests' own
(``tests/markdown_count.py``), not by the parser; the three kinds of ja/en pairs are the ones the
pages show (see each list).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_count import FENCE_RE, checks, expected_output_lines, sql_blocks

from runbook.drift import compare
from runbook.errors import EXIT_OK, GuideError
from runbook.parse import parse_file
from runbook.validate import graph_to_json
from runner.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus-sample"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")

PAGES = sorted(p.relative_to(CORPUS / "ja").as_posix() for p in (CORPUS / "ja").glob("**/*.md")
               ) if CORPUS.is_dir() else []

IDENTICAL = {
    "how-to/auto-complete.md",
    "reference/functions/pgroonga-command.md",
    "reference/functions/pgroonga-list-broken-indexes.md",
    "reference/functions/pgroonga-escape.md",
    "reference/functions/pgroonga-highlight-html.md",
    "reference/functions/pgroonga-match-positions-byte.md",
    "reference/operators/script-jsonb-v2.md",
}
"""Pairs whose code blocks are the same, byte for byte, in ja and en."""
COMMENTS_ONLY = {"reference/create-index-using-pgroonga.md"}
"""Pairs that differ only in ``-- `` comments inside a statement (translated prose)."""
LOCALIZED = {
    "reference/functions/pgroonga-query-expand.md",
    "reference/operators/like.md",
    "reference/operators/match-v2.md",
}
"""Pairs whose example data is Japanese in ja and English in en, with expected results to match."""
NOTHING_TO_RUN = {"how-to/index.md"}
"""An index page: links to other pages, translated like every other page."""
EXECUTABLE = sorted(set(PAGES) - NOTHING_TO_RUN)


def test_the_sample_is_the_one_described() -> None:
    assert len(PAGES) == 12 and set(PAGES) == IDENTICAL | COMMENTS_ONLY | LOCALIZED | NOTHING_TO_RUN
    assert len(EXECUTABLE) * 2 == 22  # ja and en
    for page in PAGES:
        assert (CORPUS / page).is_file() and (CORPUS / "_po" / "ja" / page).with_suffix(".po").is_file()


# -- every page ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("page", sorted(NOTHING_TO_RUN))
def test_index_page_has_nothing_to_run(page: str, lang: str) -> None:
    path = CORPUS / lang / page if lang == "ja" else CORPUS / page
    with pytest.raises(GuideError):
        parse_file(path)  # a guide given alone must have something to run
    data = graph_to_json(parse_file(path, allow_not_executable=True))  # as a site's page
    assert data["shape"] == "not-executable" and data["steps"] == []
    assert expected_output_lines(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("page", EXECUTABLE)
def test_page_parses_and_its_checks_are_the_pages_expected_outputs(page: str, lang: str) -> None:
    path = CORPUS / lang / page if lang == "ja" else CORPUS / page
    graph = parse_file(path)
    data = graph_to_json(graph)  # validated against the schema
    assert data["source"]["lang"] == lang  # English pages quote Japanese example data: their prose decides
    assert data["shape"] == "examples"
    assert [h["id"] for h in data["hosts"]] == ["server"] and data["hosts"][0]["inferred"] is True
    sql = [a for s in data["steps"] for a in s["actions"] if a["kind"] == "sql"]
    assert sql and all(a["targets"] == ["server"] for a in sql)
    assert len({a["sessions"]["server"] for a in sql}) == 1
    assert [s["database"] for s in data["sessions"]] == [None]
    want = expected_output_lines(path.read_text(encoding="utf-8"))
    assert want, "every sample page shows expected output"
    assert checks(data) == want
    # every block is accounted for, none is dropped
    fences = sum(1 for ln in path.read_text(encoding="utf-8").split("\n") if FENCE_RE.match(ln)) // 2
    assert len(data["blocks"]) == fences
    assert {b["role"] for b in data["blocks"]} <= {"action", "syntax", "illustration", "output", "configuration"}


def test_syntax_blocks_are_not_sent_to_psql() -> None:
    graph = parse_file(CORPUS / "ja" / "reference" / "operators" / "like.md")
    roles = {b.line: b.role for b in graph.blocks}
    text = (CORPUS / "ja" / "reference" / "operators" / "like.md").read_text(encoding="utf-8").split("\n")
    syntax_line = text.index("column LIKE pattern")  # 0-based line of the code = 1-based line of its fence
    assert roles[syntax_line] == "syntax"
    assert all("column LIKE pattern" not in st.sql for a in graph.actions() for st in a.statements)


def test_prose_inside_sql_is_kept_not_checked() -> None:
    path = CORPUS / "reference" / "functions" / "pgroonga-highlight-html.md"
    lines = path.read_text(encoding="utf-8").split("\n")
    graph = parse_file(path)
    statements = [st for a in graph.actions() for st in a.statements]
    comments = {c.span.line: c.text for st in statements for c in st.comments}
    for prose in ("-- Create PGroonga Index", "-- Insert some sample data", "-- Good Performance"):
        line = lines.index(prose) + 1
        assert comments.get(line) == prose[3:], prose
    assert all(st.expected is None or st.expected.span.line not in comments for st in statements)


# -- ja against en --------------------------------------------------------------------------------------------


def _pair(page: str) -> tuple[Path, Path]:
    return CORPUS / "ja" / page, CORPUS / page


def _code_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return ["\n".join(code) for _, code in sql_blocks(text)]


@pytest.mark.parametrize("page", sorted(IDENTICAL))
def test_identical_pairs_have_no_drift(page: str) -> None:
    ja, en = _pair(page)
    assert _code_blocks(ja) == _code_blocks(en)
    report = compare(parse_file(ja), parse_file(en))
    assert report.executable == []
    # no prose drift either: links to each language's own pages (Wikipedia's editions, the manual
    # the _config.yml names per language) are the same links
    assert report.prose == []


@pytest.mark.parametrize("page", sorted(COMMENTS_ONLY))
def test_translated_sql_comments_are_not_executable_drift(page: str) -> None:
    ja, en = _pair(page)
    report = compare(parse_file(ja), parse_file(en))
    assert report.executable == []
    comments = [c for c in report.prose if c.kind == "comment"]
    assert len(comments) == 2  # two statements, each with two comment lines translated
    ja_lines = ja.read_text(encoding="utf-8").split("\n")
    en_lines = en.read_text(encoding="utf-8").split("\n")
    for c in comments:
        assert c.old is not None and c.new is not None
        assert ja_lines[c.old.line - 1].strip().startswith("--") and en_lines[c.new.line - 1].strip().startswith("--")
        assert ja_lines[c.old.line - 1] != en_lines[c.new.line - 1]


@pytest.mark.parametrize("page", sorted(LOCALIZED))
def test_localized_example_data_is_drift_of_its_own_kind(page: str) -> None:
    ja, en = _pair(page)
    report = compare(parse_file(ja), parse_file(en))
    assert report.executable, "localized data is executable drift"
    assert {c.kind for c in report.executable} == {"localized-data"}
    ja_lines = ja.read_text(encoding="utf-8").split("\n")
    en_lines = en.read_text(encoding="utf-8").split("\n")
    japanese = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
    for c in report.executable:
        assert c.old is not None and c.new is not None
        old, new = ja_lines[c.old.line - 1], en_lines[c.new.line - 1]
        assert japanese.search(old) and not japanese.search(new), (c.old, c.new)
    # every localized statement of the page is named: the lines of ja that hold Japanese inside a
    # statement's string literal and differ from en
    named = {c.old.line for c in report.executable if c.old is not None}
    assert named


# -- export ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", EXECUTABLE)
def test_export_rebuilds_the_english_page_byte_for_byte(page: str, tmp_path: Path) -> None:
    ja, en = _pair(page)
    po = (CORPUS / "_po" / "ja" / page).with_suffix(".po")
    status = cli(["export", str(ja), "--to", "markdown", "--lang", "en", "--po", str(po), "-o", str(tmp_path)])
    assert status == EXIT_OK
    (out,) = tmp_path.iterdir()
    assert out.read_bytes() == en.read_bytes()


def test_export_of_the_index_page_shows_where_its_translation_lags(tmp_path: Path) -> None:
    """The en index page has two sections the ja page (and its PO catalog) do not have yet (BaaS,
    deployment platforms; ja still shows "..."): the export is the en page without them."""
    ja, en = _pair("how-to/index.md")
    po = (CORPUS / "_po" / "ja" / "how-to" / "index.po")
    assert "Supabase" not in ja.read_text(encoding="utf-8") and "Supabase" in en.read_text(encoding="utf-8")
    status = cli(["export", str(ja), "--to", "markdown", "--lang", "en", "--po", str(po), "-o", str(tmp_path)])
    assert status == EXIT_OK
    (out,) = tmp_path.iterdir()
    got, want = out.read_text(encoding="utf-8").split("\n"), en.read_text(encoding="utf-8").split("\n")
    import difflib
    changes = [op for op in difflib.SequenceMatcher(a=got, b=want, autojunk=False).get_opcodes() if op[0] != "equal"]
    assert len(changes) == 1
    _, a1, a2, b1, b2 = changes[0]
    assert [ln.strip() for ln in got[a1:a2]] == ["* ..."]
    assert "## How to use PGroonga with Backend-as-a-Service (BaaS)" in want[b1:b2]
    assert "## How to use PGroonga with a deployment platform" in want[b1:b2]
