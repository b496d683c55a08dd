"""README's first screen and the guide format page, as a newcomer reads them (issue 21, point 8)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_SCREEN = 45
"""Lines a terminal or GitHub shows before one scrolls."""


def _first_screen() -> str:
    return "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN])


def test_the_first_screen_says_what_it_does_the_two_commands_and_why_status_1() -> None:
    top = _first_screen()
    intro = top.split("\n\n")[1]
    assert intro.startswith("`runbook` runs the operations guides you publish") and intro.count(". ") + 1 <= 3
    assert "bash scripts/setup && .venv/bin/runbook run docs/guides/ docs/site/" in top
    assert "bash scripts/test" in top
    assert "Python ≥ 3.11" in top
    why = top[top.index("exits with status 1 on purpose**"):]
    why = why[: why.index("\n\n")]
    # every page of the example site that fails on purpose is named where the README says why
    for page in ("stale.md", "unterminated.md", "crash.md"):
        assert (ROOT / "docs" / "site" / page).exists() and (ROOT / "docs" / "site" / "ja" / page).exists(), page
        assert f"`{page}`" in why, page
    for word in ("**blocked**", "**volatile**", "**bind**"):
        assert word in top, word


def test_write_your_own_guide_in_five_lines_pointing_to_the_guide_format() -> None:
    top = _first_screen()
    para = next(p for p in top.split("\n\n") if p.startswith("**Write your own guide:**"))
    assert len(para.splitlines()) <= 5
    assert para.rstrip().endswith("[docs/guide-format.md](docs/guide-format.md).")


def test_the_docs_newcomers_read_link_only_inside_the_repository() -> None:
    for page in ("README.md", "docs/guide-format.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if re.match(r"[a-z]+://", target):
                continue
            resolved = ((ROOT / page).parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), (page, target)
