"""Every Markdown page of docs/ is covered: by the tests of the facts it exists to show
(test_docs_guides.py, test_docs_guide_facts.py, test_docs_site.py, test_docs_site_reference.py), or
it is one of the project's prose pages below, checked for its shape only. A new page of docs/
fails here until it is given one or the other."""

from __future__ import annotations

import pytest
import test_docs_guide_facts
import test_docs_guides
import test_docs_site
import test_docs_site_reference
from docs_pages import DOCS, ROOT, graph

from runbook.errors import GuideError
from runbook.parse import parse_file

PROSE = {
    "docs/architecture.md": ("not-executable", []),
    "docs/cli.md": ("not-executable", []),
    "docs/lint.md": ("not-executable", []),
    "docs/ci.md": ("untagged-guide", ["block-not-run", "block-not-run"]),
    "docs/drift.md": ("untagged-guide", []),
    "docs/export.md": ("untagged-guide", []),
    "docs/guide-format.md": ("untagged-guide", []),
    "docs/run.md": ("untagged-guide", []),
    "docs/sandbox.md": ("untagged-guide", []),
    "docs/site.md": ("untagged-guide", []),
}
"""The project's own documentation: (shape, the rules of its findings). Its shell examples
(``runbook run guide.md``) make most of them untagged guides; ci.md keeps an ``ini`` and a plain
block with no file path (``block-not-run``)."""

MODULES = [test_docs_guides, test_docs_guide_facts, test_docs_site, test_docs_site_reference]


def _facts() -> set[str]:
    return set().union(*(m.PAGES.covered for m in MODULES))


def test_every_docs_page_is_covered() -> None:
    pages = {p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md")}
    facts = _facts()
    assert facts <= pages, f"facts of pages that do not exist: {sorted(facts - pages)}"
    assert set(PROSE) <= pages, f"prose pages that do not exist: {sorted(set(PROSE) - pages)}"
    assert not facts & set(PROSE), f"pages both with facts and shape-only: {sorted(facts & set(PROSE))}"
    uncovered = pages - facts - set(PROSE)
    assert not uncovered, f"docs pages no test covers: {sorted(uncovered)} (add their facts or list them in PROSE)"
    assert len(facts) >= 45


@pytest.mark.parametrize("page", sorted(PROSE))
def test_prose_page_shape(page: str) -> None:
    shape, rules = PROSE[page]
    g = graph(page)
    assert (g.shape, [f.rule for f in g.findings]) == (shape, rules)
    if shape == "not-executable":
        assert g.steps == []
        # given as a guide (``runbook parse``), a page with nothing to run is an error, exit status 4
        with pytest.raises(GuideError) as raised:
            parse_file(ROOT / page, display=page)
        assert raised.value.exit_status == 4
        assert [f.rule for f in raised.value.findings] == ["no-steps"]
    else:
        assert g.steps and [(h.id, h.inferred) for h in g.hosts] == [("server", True)]
