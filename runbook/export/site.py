"""A whole site translated (``runbook export SITE/ja --to markdown --lang en --po-dir SITE/_po/ja -o OUT``).

Every Markdown page under the source folder is translated paragraph by paragraph with its own
catalog (``PO_DIR/REL.po``, as jekyll-task-i18n lays them out; :mod:`runbook.export.blocks`), and
written under ``OUT`` at the same relative path.  For each page the report says whether the result
is identical to the page the site already publishes in the target language (``SITE/REL`` for a
source folder ``SITE/ja``; ``SITE/ja/REL`` the other way round), the first line where it differs,
which paragraphs were left untranslated (``file:line``), and which pages have no catalog (those are
not written).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..lexicon import available, detect_language
from ..parse import read_guide
from ..read.liquid import find_site_config, load_site_config
from .blocks import translate_page
from .catalog import Catalog


@dataclass
class PageResult:
    rel: str
    """The page's path under the source folder (and under the output folder)."""
    source: Path
    catalog: Path
    text: str | None = None
    """The translation (None: no catalog)."""
    untranslated: list[int] = field(default_factory=list)
    published: Path | None = None
    """The site's existing page in the target language, if any."""
    differs_at: int | None = None
    """First differing line (1-based) against the published page; None when identical or absent."""

    @property
    def identical(self) -> bool:
        return self.text is not None and self.published is not None and self.differs_at is None


def source_language(folder: Path) -> str:
    """A site's language folder (``ja/``) names its language; the site's root is English."""
    return folder.name if folder.name in available() and folder.name != "en" else "en"


def published_root(folder: Path, source: str, target: str) -> Path:
    """Where the site keeps its pages in ``target``: the root for English, ``ROOT/LANG`` otherwise."""
    root = folder.parent if source != "en" else folder
    return root if target == "en" else root / target


def site_pages(folder: Path, source: str) -> list[Path]:
    """Markdown pages of the source folder, without Jekyll's ``_*`` folders and, for the English root,
    without the language folders."""
    out = []
    for path in sorted(folder.rglob("*.md")):
        parts = path.relative_to(folder).parts
        if any(p.startswith(("_", ".")) for p in parts):
            continue
        if source == "en" and len(parts) > 1 and parts[0] in available():
            continue
        out.append(path)
    return out


def _first_difference(a: str, b: str) -> int | None:
    if a == b:
        return None
    left, right = a.split("\n"), b.split("\n")
    for n, (x, y) in enumerate(zip(left, right, strict=False), 1):
        if x != y:
            return n
    return min(len(left), len(right)) + 1


def export_site(folder: Path, target: str, po_dir: Path, site_config: Path | None = None) -> list[PageResult]:
    """Translate every page of ``folder`` into ``target`` (nothing is written here)."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    if not po_dir.is_dir():
        raise UsageError(f"{po_dir}: no such folder (--po-dir)")
    source = source_language(folder)
    if source == target:
        raise UsageError(f"{folder} is the site's {target!r} pages: give the other language with --lang")
    config_path = site_config or find_site_config(folder / "index.md")
    config = load_site_config(config_path).data if config_path is not None else {}
    published = published_root(folder, source, target)
    results = []
    for path in site_pages(folder, source):
        rel = path.relative_to(folder).as_posix()
        po = (po_dir / rel).with_suffix(".po")
        result = PageResult(rel, path, po)
        results.append(result)
        if not po.is_file():
            continue
        try:
            catalog = Catalog.from_po(po.read_text(encoding="utf-8"), str(po))
        except OSError as exc:
            raise UsageError(f"{po}: cannot read: {exc.strerror or exc}") from exc
        text = read_guide(path, str(path))
        lang = source if source != "en" else detect_language(text, path.name)
        done = translate_page(text, target, catalog, lang, config)
        result.text, result.untranslated = done.text, done.untranslated
        existing = published / rel
        if existing.is_file():
            result.published = existing
            result.differs_at = _first_difference(done.text, existing.read_text(encoding="utf-8"))
    return results


def report(results: list[PageResult]) -> list[str]:
    """One line per page, a line per untranslated paragraph, and a total."""
    lines = []
    for r in results:
        if r.text is None:
            lines.append(f"{r.rel}: missing catalog {r.catalog} (not written)")
            continue
        if r.published is None:
            state = "written (no published page to compare)"
        elif r.differs_at is None:
            state = f"identical to {r.published}"
        else:
            state = f"differs from {r.published} at line {r.differs_at}"
        lines.append(f"{r.rel}: {state}; {len(r.untranslated)} untranslated paragraph(s)")
        lines += [f"  {r.source}:{n}: untranslated paragraph" for n in r.untranslated]
    written = [r for r in results if r.text is not None]
    lines.append(
        f"{len(results)} page(s): {sum(r.identical for r in results)} identical, "
        f"{sum(r.differs_at is not None for r in results)} different, "
        f"{sum(r.published is None for r in written)} without a published page, "
        f"{len(results) - len(written)} missing catalog; "
        f"{sum(len(r.untranslated) for r in results)} untranslated paragraph(s)")
    return lines
