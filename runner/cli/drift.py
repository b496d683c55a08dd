"""``runbook drift``: compare two revisions or two translations of a guide, or walk its history.

``runbook drift OLD NEW``: each side is a file (Markdown guide or step graph JSON) or ``REV:PATH``
read from git (``--repo DIR``, default: the current directory).  Exit status 1 when executable
content drifted, 0 when only prose changed or nothing did.

``runbook drift --history PATH``: one line per commit of the current branch (newest first, like
``git log``) with a verdict for the guide: ``executable``, ``prose``, ``none``, ``unreadable``
(with the reason) and, where the file appears or disappears, ``added`` / ``deleted``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runbook.drift import compare, render
from runbook.errors import EXIT_FAILED, EXIT_OK, UsageError
from runbook.git import read_side
from runbook.history import history, render_history
from runbook.shown import safe_lines

from .options import add_lang, add_site_config


def configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Compare two revisions or two translations of a guide as step graphs (not as text).\n\n"
        "OLD and NEW are files (Markdown or step graph JSON) or REV:PATH in a git repository\n"
        "(PATH relative to the repository's top, e.g. HEAD~3:docs/guides/guide.ja.md).\n"
        "Exit status 1 when executable content drifted, 0 when only prose changed or nothing did."
    )
    p.epilog = (
        "examples:\n"
        "  runbook drift guide.ja.md guide.en.md\n"
        "  runbook drift HEAD~1:docs/guides/guide.md docs/guides/guide.md\n"
        "  runbook drift --history docs/guides/guide.md --json\n"
    )
    p.add_argument("old", nargs="?", help="the old side: FILE or REV:PATH")
    p.add_argument("new", nargs="?", help="the new side: FILE or REV:PATH")
    p.add_argument("--history", metavar="PATH", help="walk the git history of one guide, one verdict per commit")
    p.add_argument("--rev", default="HEAD", help="with --history: the commit to start from (default HEAD)")
    p.add_argument("--repo", metavar="DIR", default=None, help="git repository for REV:PATH and --history "
                   "(default: the current directory)")
    add_lang(p, what="both sides")
    add_lang(p, "--lang-old", what="the old side (overrides --lang)")
    add_lang(p, "--lang-new", what="the new side (overrides --lang)")
    p.add_argument("--site", action="store_true", help="OLD and NEW are two language folders of a site "
                   "(SITE/ja SITE): pair their pages, one line per pair, then the pairs with executable drift")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_site_config(p)


def main(args: argparse.Namespace) -> int:
    repo = Path(args.repo) if args.repo else Path.cwd()
    if args.history:
        if args.old or args.new:
            raise UsageError("runbook drift: give either OLD NEW or --history PATH, not both")
        entries = history(repo, args.history, args.rev, args.lang)
        if args.json:
            _write(json.dumps({"path": args.history, "commits": [e.to_dict() for e in entries]},
                              ensure_ascii=False, indent=2) + "\n")
        else:
            _write(safe_lines(render_history(entries)))  # commit subjects: shown, never interpreted
        return EXIT_OK
    if not args.old or not args.new:
        raise UsageError("runbook drift: give two guides (OLD NEW) or --history PATH")
    if args.site:
        return _site(args)
    old = read_side(args.old, repo, args.lang_old or args.lang, args.site_config)
    new = read_side(args.new, repo, args.lang_new or args.lang, args.site_config)
    report = compare(old, new)
    if args.json:
        _write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        from runner.reports.console import color

        _write(render(report, color=color(sys.stdout)))
    return EXIT_FAILED if report.executable else EXIT_OK


def _site(args: argparse.Namespace) -> int:
    """``--site``: every page pair of two language folders (runbook/drift/site.py)."""
    from runbook.drift.site import compare_sites, render_site, site_has_drift

    pairs = compare_sites(Path(args.old), Path(args.new), Path(args.site_config) if args.site_config else None)
    if args.json:
        _write(json.dumps({"pairs": [{"page": p.rel, "state": p.state, "problem": p.problem,
                                      "report": p.report.to_dict() if p.report else None} for p in pairs]},
                          ensure_ascii=False, indent=2) + "\n")
    else:
        _write(safe_lines(render_site(pairs)))
    return EXIT_FAILED if site_has_drift(pairs) else EXIT_OK


def _write(text: str) -> None:
    sys.stdout.write(text)
