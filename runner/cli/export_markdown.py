"""``runbook export --to markdown``: a page, or a whole site (a language folder with ``--po-dir``).

A page that does not read as a guide (an index page with nothing to run, a page the reader refuses)
still translates, paragraph by paragraph from its catalog (docs/export.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.errors import EXIT_OK, GuideError, UsageError
from runbook.export import export
from runbook.export.catalog import Catalog
from runbook.load import load_graph
from runbook.model import Graph
from runbook.parse import read_guide
from runbook.read.liquid import find_site_config, load_site_config

from ..outputs import write_files


def _catalog(path: str | None) -> Catalog | None:
    if not path:
        return None
    try:
        return Catalog.from_po(Path(path).read_text(encoding="utf-8"), path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def markdown_files(args: argparse.Namespace) -> dict[str, str]:
    """One page in the other language: ``{file name: text}``."""
    if not args.lang:
        raise UsageError("runbook export: --to markdown needs --into LANG, the language to write (en or ja)")
    path = Path(args.guide)
    if path.suffix == ".json":
        raise UsageError("export --to markdown needs the guide's Markdown, not a step graph")
    if getattr(args, "po_dir", None):
        raise UsageError(f"--po-dir is for a site's folder ({path} is a page): give the page's catalog with --po FILE")
    catalog = _catalog(args.po)
    text = read_guide(path, str(path))
    graph: Graph | None
    try:
        graph = load_graph(path, args.guide_lang, text=text, site_config=args.site_config, allow_not_executable=True)
    except GuideError:
        if catalog is None:
            raise
        graph = None  # a page of a site that is no guide: its catalog still translates it
    config_path = Path(args.site_config) if args.site_config else find_site_config(path)
    config = load_site_config(config_path).data if config_path is not None else None
    return export(graph, "markdown", lang=args.lang, source_text=text, catalog=catalog, file=str(path),  # type: ignore[arg-type]
                  site_config=config)


def site_main(args: argparse.Namespace) -> int:
    """Translate every page of a site's language folder; one report line per page (standard output)."""
    from runbook.export.site import export_site, report

    if not args.lang:
        raise UsageError("runbook export: --to markdown needs --into LANG, the language to write (en or ja)")
    if not args.po_dir:
        raise UsageError(f"{args.guide} is a folder: translating a site needs --po-dir (SITE/_po/ja)")
    if args.po:
        raise UsageError("--po is one page's catalog: a site's pages take theirs from --po-dir")
    if not args.output:
        raise UsageError("translating a site writes a page per page: give -o DIR")
    results = export_site(Path(args.guide), args.lang, Path(args.po_dir),
                          Path(args.site_config) if args.site_config else None)
    files = {r.rel: r.text for r in results if r.text is not None}
    write_files(Path(args.output), files, make_folders=True)
    for line in report(results):
        sys.stdout.write(line + "\n")
    return EXIT_OK
