"""``runbook run``: run guides on hosts (the embedded sandbox by default) and check every result."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runbook.errors import EXIT_BLOCKED, EXIT_FAILED, EXIT_OK, UsageError
from runbook.model import Graph
from runner.launch import GuideRun, RunOptions
from runner.orchestrate import GuideReports, run_guide
from runner.reports.annotations import append_summary, enabled, summary_markdown
from runner.reports.console import progress
from runner.reports.progress import PageProgress
from runner.running.results import BLOCKED, FAILED, PASSED, RunResult
from runner.running.signals import Interrupted
from runner.untrusted import commands_stopped, safe_line, safe_lines

from ..outputs import folder_ready, write_atomic
from .options import add_lang, add_mkdir, language_note

HELP = """\
Run each guide on hosts and check every result against the guide.

With no --inventory the guide runs on the embedded sandbox: one Linux namespace host per host of the
guide's environment list, on this machine (root needed), with real PostgreSQL servers. Each host has
a network namespace of its own carrying the guide's own address (192.168.0.30 stays 192.168.0.30),
linked only to the other hosts; where the machine cannot create network namespaces the addresses
are bound to loopback ones (192.168.0.30 -> 127.0.0.30), and the run says so. The guide's PostgreSQL
major version is bound to the installed one; commands that cannot work here (the apt repository
set-up) are substituted, each with its reason. The sandbox is torn down after the run unless --keep is given;
a later run on a kept sandbox skips the steps already completed.

A GUIDE may be a directory: a documentation site (or a folder of one). Every page in it is read
and classified (docs/site.md): example pages (single host, SQL only) share one sandbox server, each
on a database of its own, -j at a time; guides run one after the other, each on its own sandbox;
skipped and non-executable pages are listed with their reason. The site's runbook.toml says what the
pages assume (a prelude, extensions, pages to skip, volatile patterns). A single example page runs
the same way.
"""


def configure(p: argparse.ArgumentParser) -> None:
    """The ``run`` sub-command's options: add a new one here (and to docs/run.md)."""
    p.description = HELP
    p.add_argument("guides", nargs="+", metavar="GUIDE", help="guide(s) (Markdown or graph JSON) or directories")
    p.add_argument("--inventory", metavar="FILE", help="TOML inventory naming other targets (ssh, local), "
                   "bindings and secrets (see docs/run.md)")
    p.add_argument("--plan", action="store_true", help="print, per step and host, the bound commands, edits, "
                   "expected output and how it is compared, substitutions with reasons; run nothing")
    p.add_argument("--json", metavar="FILE", help="write the report (with --plan: the plan) as JSON, '-' for "
                   "standard output (schema: runbook schema report|site-report|plan)")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML for CI")
    p.add_argument("--html", metavar="FILE|DIR", help="a guide: write a self-contained HTML report (the guide's "
                   "language; expected and actual side by side, transcripts folded) to FILE; a site: DIR/index.html "
                   "and a report per page at its path in the site; see docs/ci.md")
    add_mkdir(p)
    p.add_argument("--transcripts", metavar="DIR", default="runbook-out",
                   help="folder for one transcript per host (default: runbook-out/GUIDE/)")
    p.add_argument("--from", dest="from_step", metavar="STEP", help="start at this step (resume)")
    p.add_argument("--until", metavar="STEP", help="stop after this step")
    p.add_argument("--only", metavar="STEP", action="append", help="run only this step (repeatable)")
    p.add_argument("--keep", action="store_true", help="leave the sandbox up after the run")
    p.add_argument("--fresh", action="store_true", help="tear down a sandbox left by an earlier run first")
    p.add_argument("--no-speed", action="store_true",
                   help="everything as the guide would do it: no speed settings (cluster template, "
                        "data in memory, ready-at-once starts, per-host variants at once, "
                        "checkpoint_completion_target = 0 …); see docs/sandbox.md")
    p.add_argument("--timeout", type=float, default=120, help="seconds a command may take (default 120)")
    p.add_argument("--settle", type=float, default=20,
                   help="seconds a read-only check is retried until it matches (default 20)")
    p.add_argument("--update-expected", action="store_true",
                   help="rewrite the guide's '-- ' expected output where the actual output differed")
    add_lang(p)
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="example pages of a site run at the same time (default: the number of cores)")
    p.add_argument("--site-config", metavar="FILE",
                   help="the site's _config.yml (Liquid variables, exclude); default: found above the pages")
    p.add_argument("--shard", metavar="K/N", help="a site: run only the K-th of N stable shards of its pages "
                   "(one CI job each; `runbook report merge` joins their JSON reports)")
    p.add_argument("--shard-by", metavar="REPORT.json", help="with --shard: balance the shards by the pages' "
                   "durations in an earlier run's JSON report")


def _guides(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(x for x in path.glob("*.md") if x.name.lower() != "readme.md")
            if not found:
                raise UsageError(f"{p}: no guide (*.md) in this folder")
            out.extend(found)
        elif not path.exists():
            raise UsageError(f"{p}: no such file or folder")
        else:
            out.append(path)
    return out


def _select(graph: Graph, args: argparse.Namespace) -> list[str] | None:
    ids = [s.id for s in graph.steps]

    def check(step: str) -> str:
        if step not in ids:
            from . import _hint

            raise UsageError(f"runbook run: {graph.source.file}: no step {step!r}{_hint(step, ids)} (steps: "
                             f"{', '.join(ids)})")
        return step

    if args.only:
        return [check(s) for s in args.only]
    if args.from_step is None and args.until is None:
        return None
    start = ids.index(check(args.from_step)) if args.from_step else 0
    end = ids.index(check(args.until)) if args.until else len(ids) - 1
    return ids[start : end + 1]


def _check_outputs(args: argparse.Namespace, site: bool) -> None:
    """Every output's folder exists (or ``--mkdir``) before anything runs: a long run never ends
    unable to write its report."""
    outputs = [(args.json, "--json"), (args.junit, "--junit")] + ([] if site else [(args.html, "--html")])
    for value, name in outputs:
        if value and value != "-":
            folder_ready(Path(value).parent, args.mkdir, f" for {name} {value}")
    if site and args.html:
        html = Path(args.html)
        if html.suffix.lower() in (".html", ".htm"):
            raise UsageError(f"runbook run: --html {args.html}: a site's report is a folder (DIR/index.html and a "
                             "page per page of the site): give a folder, e.g. --html site-report/")
        if not html.is_dir():
            folder_ready(html.parent, args.mkdir, f" for --html {args.html}")
    if (args.shard or args.shard_by) and not site:
        raise UsageError("runbook run: --shard applies to a site (a folder), not to guides given one by one")
    if args.shard and args.plan:
        raise UsageError("runbook run: --shard applies to a site run, not to --plan")
    if args.shard_by and not args.shard:
        raise UsageError("runbook run: --shard-by needs --shard K/N")


def main(args: argparse.Namespace) -> int:
    # in a GitHub Actions job, nothing the guides make runbook print runs as a workflow command
    with commands_stopped(enabled()):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from .run_site import example_pages, plan_site, run_site

    paths = [Path(p) for p in args.guides]
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or folder")
    site = any(p.is_dir() for p in paths) or (not args.plan and example_pages(paths, args))
    _check_outputs(args, site)
    if args.plan and any(p.is_dir() for p in paths):
        return plan_site(paths, args)
    if site:
        try:
            return run_site(paths, args)
        except Interrupted as exc:  # a guide of the site was interrupted: its sandbox is down
            return exc.exit_status
    if args.plan and args.json and len(paths) > 1:
        raise UsageError("runbook run: --plan --json FILE takes one guide")
    guides = _guides(args.guides)
    statuses: list[str] = []
    results: list[RunResult] = []
    pages = PageProgress(total=len(guides)) if len(guides) > 1 and not args.plan else None
    try:
        for path in guides:
            if pages is not None:
                pages.page_started(str(path))
            try:
                status, result = execute_guide(path, args, multiple=len(guides) > 1)
            except Interrupted as exc:  # its reports are written, its sandbox is down; the rest is not run
                return exc.exit_status
            statuses.append(status)
            results += [result] if result is not None else []
            if pages is not None:
                pages.page_finished(str(path), status)
    finally:
        if pages is not None:
            pages.close()
    if len(guides) > 1 and not args.plan:
        _overall(guides, statuses)
    if results and enabled():
        append_summary(summary_markdown(results))
    if FAILED in statuses:
        return EXIT_FAILED
    if BLOCKED in statuses:
        return EXIT_BLOCKED
    return EXIT_OK


def _overall(guides: list[Path], statuses: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text

    from runner.reports.console import STYLE, console

    table = Table(title="all guides")
    table.add_column("guide")
    table.add_column("result")
    for g, st in zip(guides, statuses, strict=True):
        table.add_row(Text(safe_line(str(g))), Text(st, style=STYLE.get(st, "")))
    out = console()
    out.print(table)
    counts = {k: statuses.count(k) for k in (PASSED, FAILED, BLOCKED)}
    out.print(f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[BLOCKED]} blocked by the environment",
              markup=False)


def execute_guide(path: Path, args: argparse.Namespace, *, multiple: bool, graph: Graph | None = None,
                  reports: bool = True, html: Path | None = None) -> tuple[str, RunResult | None]:
    """Run one guide on its own sandbox (or the inventory's hosts): its status and result (None with
    ``--plan``). ``reports=False``: no --json/--junit of its own (a site run writes one for all); its
    GitHub annotations either way, and its --html page (at ``html`` when given)."""
    if args.update_expected and path.suffix == ".json":
        raise UsageError(f"{path}: --update-expected rewrites a guide's Markdown, not a step graph")
    options = RunOptions(inventory=args.inventory, lang=args.lang, transcripts=args.transcripts, fresh=args.fresh,
                         keep=args.keep, speed=not args.no_speed, timeout=args.timeout, settle=args.settle,
                         keep_going_checks=args.update_expected, site_config=args.site_config)
    run = GuideRun(path, options, graph)
    selected = _select(run.graph, args)
    if args.plan:
        _plan(path, args, run, selected)
        return PASSED, None
    chosen = args.only or ([args.from_step] if args.from_step else None)
    return run_guide(run, selected, GuideReports(
        json=args.json, junit=args.junit, html=args.html, html_at=html, mkdir=args.mkdir, multiple=multiple,
        own=reports, update_expected=args.update_expected, chosen=chosen,
        language=language_note(path, run.graph, args.lang)))


def _plan(path: Path, args: argparse.Namespace, run: GuideRun, selected: list[str] | None) -> None:
    """``--plan``: the plan for people on stdout, or as JSON (``--json FILE``, ``-`` for stdout)."""
    from runner.planning.plan_view import plan_data, render_plan

    if run.network_note:
        progress(f"runbook: {run.network_note}")
    data = plan_data(run.plan, run.mask, selected=selected, target=run.target, variants=run.options.speed,
                     language=language_note(path, run.graph, args.lang))
    if args.json == "-":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    sys.stdout.write(safe_lines(render_plan(data)))
    if args.json:
        write_atomic(Path(args.json), json.dumps(data, indent=2, ensure_ascii=False) + "\n", mkdir=args.mkdir)
        progress(f"runbook: plan as JSON in {args.json}")


