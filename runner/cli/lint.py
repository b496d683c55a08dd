"""``runbook lint GUIDE.md…``: list findings about guides as ``file:line: rule: message``."""

from __future__ import annotations

import argparse
import json
import sys

from runbook.errors import EXIT_FAILED, EXIT_OK

from .options import add_site_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", nargs="+", help="guide(s) (Markdown) to check")
    p.add_argument("--lang", help="lexicon to read it with (default: detected)")
    add_site_config(p)
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="skip a rule (repeatable)")


def main(args: argparse.Namespace) -> int:
    from runbook.errors import GuideError
    from runbook.lint import lint
    from runbook.load import load_graph
    from runbook.model import to_dict

    status = EXIT_OK
    all_findings = []
    for guide in args.guide:
        try:
            findings = lint(load_graph(guide, args.lang, site_config=args.site_config), set(args.disable))
        except GuideError as exc:
            findings = exc.findings
            status = max(status, exc.exit_status)
        all_findings.extend(findings)
        if any(f.severity == "error" for f in findings):
            status = max(status, EXIT_FAILED)
    from runner.annotations import emit, enabled, lint_commands
    from runner.untrusted import safe_line

    if enabled():  # GitHub Actions: a workflow command per finding, at its line (docs/ci.md)
        emit(lint_commands(all_findings))
    if args.json:
        sys.stdout.write(json.dumps([to_dict(f) for f in all_findings], ensure_ascii=False, indent=2) + "\n")
    else:
        for f in all_findings:
            sys.stdout.write(safe_line(f"{f.format()}  [{f.severity}]" if f.severity != "error" else f.format()) + "\n")
        errors = sum(f.severity == "error" for f in all_findings)
        sys.stderr.write(f"{len(all_findings)} finding(s), {errors} error(s)\n")
    return status
