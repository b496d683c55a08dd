"""``runbook lint GUIDE.md|DIR…``: list findings about guides as ``file:line: rule: message``.

A folder is linted page by page (its ``*.md``, as a site run finds them). A page with nothing to run
(a README, an index page) is not a guide: it is reported as ``not-executable`` (a notice), not as an
error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runbook.errors import EXIT_FAILED, EXIT_OK, UsageError
from runbook.kinds import Severity, Shape
from runbook.model import Finding, Graph

from .options import add_lang, add_site_config, language_note


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", nargs="+", metavar="GUIDE", help="guide(s) (Markdown) or folders of them to check")
    add_lang(p)
    add_site_config(p)
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="skip a rule (repeatable)")


def _settings(graph: Graph, disabled: set[str]) -> list[Finding]:
    """Settings checked against this machine's newest PostgreSQL (runner/planning/settings_check.py)."""
    from runner.planning.environment import installed_pg_versions
    from runner.planning.settings_check import plan_warnings

    versions = installed_pg_versions()
    found, _ = plan_warnings(graph, versions[-1] if versions else None)
    return [f for f in found if f.rule not in disabled]


def _pages(given: list[str]) -> list[Path]:
    out: list[Path] = []
    for g in given:
        path = Path(g)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.md") if not any(part.startswith((".", "_")) for part in
                                                                     p.relative_to(path).parts))
            if not found:
                raise UsageError(f"{g}: no page (*.md) in this folder")
            out += found
        elif not path.exists():
            raise UsageError(f"{g}: no such file or folder")
        else:
            out.append(path)
    return out


def main(args: argparse.Namespace) -> int:
    from runbook.errors import GuideError
    from runbook.jsonable import to_dict
    from runbook.lint import lint
    from runbook.load import load_graph
    from runbook.model import Span
    from runner.reports.console import progress

    status = EXIT_OK
    all_findings = []
    pages = _pages(args.guide)
    for page in pages:
        try:
            graph = load_graph(page, args.lang, site_config=args.site_config, allow_not_executable=True)
            if graph.shape == Shape.NOT_EXECUTABLE:
                findings = [Finding("not-executable", Severity.HINT, "nothing to run here (no steps): not a guide, "
                                    "nothing to check", Span(str(page), 1, 1))]
            else:
                findings = lint(graph, set(args.disable)) + _settings(graph, set(args.disable))
                progress(f"runbook: {page} read as {language_note(page, graph, args.lang)}")
        except GuideError as exc:
            findings = exc.findings or [Finding("unreadable", Severity.ERROR, exc.message, Span(str(page), 1, 1))]
            status = max(status, exc.exit_status)
        all_findings.extend(findings)
        if any(f.severity == Severity.ERROR for f in findings):
            status = max(status, EXIT_FAILED)
    from runner.reports.annotations import emit, enabled, lint_commands
    from runner.untrusted import safe_line

    if enabled():  # GitHub Actions: a workflow command per finding, at its line (docs/ci.md)
        emit(lint_commands(all_findings))
    if args.json:
        sys.stdout.write(json.dumps([to_dict(f) for f in all_findings], ensure_ascii=False, indent=2) + "\n")
    else:
        for f in all_findings:
            shown = f.format() if f.severity == Severity.ERROR else f"{f.format()}  [{f.severity}]"
            sys.stdout.write(safe_line(shown) + "\n")
        errors = sum(f.severity == Severity.ERROR for f in all_findings)
        progress(f"{len(pages)} page(s), {len(all_findings)} finding(s), {errors} error(s)")
    return status
