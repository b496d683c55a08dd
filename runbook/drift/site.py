"""Drift between the translations of a whole site (``runbook drift SITE/ja SITE --site``).

The pages of the two folders are paired by their path under each (``SITE/ja/REL.md`` with
``SITE/REL.md``; the English root's language folders left out), each pair compared as two pages
(:func:`runbook.drift.compare`), and each pair put in one class:

* ``identical``: nothing differs that is compared;
* ``prose only``: only prose (titles, paragraphs, comments, links);
* ``localized data``: the only executable changes are example data in each page's own language;
* ``executable drift``: anything else that would run differently.

Pages on one side only are ``only in OLD`` / ``only in NEW``; a page that cannot be read is
``unreadable`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import GuideError, UsageError
from ..lexicon import available
from ..load import load_graph
from . import compare
from .render import render
from .report import Report

CLASSES = ("identical", "prose only", "localized data", "executable drift")


@dataclass
class PagePair:
    rel: str
    old: Path | None
    new: Path | None
    report: Report | None = None
    problem: str | None = None

    @property
    def state(self) -> str:
        if self.old is None:
            return "only in new"
        if self.new is None:
            return "only in old"
        if self.problem is not None or self.report is None:
            return "unreadable"
        if not self.report.executable:
            return "prose only" if self.report.prose else "identical"
        if all(c.kind == "localized-data" for c in self.report.executable):
            return "localized data"
        return "executable drift"


def folder_language(folder: Path) -> str:
    """A site's language folder (``ja/``) names its language; any other folder is the English root."""
    return folder.name if folder.name in available() else "en"


def _pages(folder: Path) -> dict[str, Path]:
    lang_root = folder_language(folder) == "en"
    out = {}
    for path in sorted(folder.rglob("*.md")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        if lang_root and len(parts) > 1 and parts[0] in available():
            continue
        out[path.relative_to(folder).as_posix()] = path
    return out


def compare_sites(old: Path, new: Path, site_config: Path | None = None) -> list[PagePair]:
    """Every page of ``old`` and ``new`` paired by relative path, compared."""
    for folder in (old, new):
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder (--site compares two folders of pages)")
    old_pages, new_pages = _pages(old), _pages(new)
    old_lang, new_lang = folder_language(old), folder_language(new)
    pairs = []
    for rel in sorted(set(old_pages) | set(new_pages)):
        pair = PagePair(rel, old_pages.get(rel), new_pages.get(rel))
        pairs.append(pair)
        if pair.old is None or pair.new is None:
            continue
        try:
            a = load_graph(pair.old, old_lang, site_config=site_config, allow_not_executable=True)
            b = load_graph(pair.new, new_lang, site_config=site_config, allow_not_executable=True)
        except GuideError as exc:
            pair.problem = str(exc).splitlines()[0] if str(exc) else "cannot be read"
            continue
        pair.report = compare(a, b)
    return pairs


def render_site(pairs: list[PagePair]) -> str:
    """A line per pair, a count per class, then the details of the pairs with executable drift."""
    width = max((len(p.rel) for p in pairs), default=0)
    lines = []
    for p in pairs:
        state = p.state
        if p.report is not None and p.report.executable:
            state += f" ({len(p.report.executable)} change(s))"
        elif p.report is not None and p.report.prose:
            state += f" ({len(p.report.prose)} change(s))"
        if p.problem:
            state += f": {p.problem}"
        lines.append(f"{p.rel.ljust(width)}  {state}")
    counts = {c: sum(p.state == c for p in pairs) for c in (*CLASSES, "only in old", "only in new", "unreadable")}
    lines.append("")
    lines.append(f"{len(pairs)} pair(s): " + ", ".join(f"{n} {c}" for c, n in counts.items() if n or c in CLASSES))
    for p in pairs:
        if p.state == "executable drift" and p.report is not None:
            lines += ["", f"== {p.rel} ==", render(p.report).rstrip("\n")]
    return "\n".join(lines) + "\n"


def site_has_drift(pairs: list[PagePair]) -> bool:
    """Exit status 1: a pair drifted executably beyond localized data, or a page is unreadable."""
    return any(p.state in ("executable drift", "unreadable") for p in pairs)
