"""``runbook run``: run guides on hosts (the embedded sandbox by default) and check every result."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from runbook.errors import EXIT_BLOCKED, EXIT_FAILED, EXIT_INVALID, EXIT_OK, UsageError
from runbook.load import load_graph
from runbook.model import Graph
from runner.annotations import append_summary, emit, enabled, formatted_commands, run_commands, summary_markdown
from runner.execute import BLOCKED, DONE_EARLIER, FAILED, INTERRUPTED, PASSED, Interrupted, RunResult, SignalGuard
from runner.html_report import render_html
from runner.launch import GuideRun, RunOptions, sandbox_name
from runner.plan import Plan, format_plan
from runner.report import PageProgress, ProgressPrinter, print_summary, to_json, to_junit
from runner.session import Masker
from runner.untrusted import commands_stopped, safe_line, safe_lines

from .files import write_atomic

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
    p.add_argument("--plan", action="store_true", help="print the bound commands per host; run nothing")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON (schema: runbook schema report)")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML for CI")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report (the guide's language; "
                   "expected and actual side by side, transcripts folded), one per guide; see docs/ci.md")
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
    p.add_argument("--lang", help="lexicon to read the guide with (default: detected)")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="example pages of a site run at the same time (default: the number of cores)")
    p.add_argument("--site-config", metavar="FILE",
                   help="the site's _config.yml (Liquid variables, exclude); default: found above the pages")


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
            raise UsageError(f"{p}: no such file")
        else:
            out.append(path)
    return out


def _select(graph: Graph, args: argparse.Namespace) -> list[str] | None:
    ids = [s.id for s in graph.steps]

    def check(step: str) -> str:
        if step not in ids:
            raise UsageError(f"{graph.source.file}: no step {step!r} (steps: {', '.join(ids)})")
        return step

    if args.only:
        return [check(s) for s in args.only]
    if args.from_step is None and args.until is None:
        return None
    start = ids.index(check(args.from_step)) if args.from_step else 0
    end = ids.index(check(args.until)) if args.until else len(ids) - 1
    return ids[start : end + 1]


def main(args: argparse.Namespace) -> int:
    # in a GitHub Actions job, nothing the guides make runbook print runs as a workflow command
    with commands_stopped(enabled()):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.guides]
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file")
    if args.plan and any(p.is_dir() for p in paths):
        return _plan_site(paths, args)
    if not args.plan and (any(p.is_dir() for p in paths) or _example_pages(paths, args)):
        try:
            return _run_site(paths, args)
        except Interrupted as exc:  # a guide of the site was interrupted: its sandbox is down
            return exc.exit_status
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


def _plan_site(paths: list[Path], args: argparse.Namespace) -> int:
    """``--plan`` on folders: every page found, as a site run would classify it; the plan of each
    page that would run, the reason for each that would not.  Exit status 4 when a page is invalid."""
    from runner.plan import installed_pg_versions
    from runner.site import INVALID, read_page, site_pages

    items, _ = site_pages(paths, args.site_config)
    versions = installed_pg_versions()
    invalid = False
    for page, settings, site in items:
        _, pr = read_page(page, settings, site, args.lang, versions[-1] if versions else None)
        if pr is not None:
            invalid = invalid or pr.status == INVALID
            sys.stdout.write(f"# {page.path}: {pr.status} ({pr.reason})\n\n")
            continue
        execute_guide(page.path, args, multiple=True)
        sys.stdout.write("\n")
    return EXIT_INVALID if invalid else EXIT_OK


def _example_pages(paths: list[Path], args: argparse.Namespace) -> bool:
    """True when one of the pages given is an example page (it then runs as a page of its site)."""
    from runbook.site import page_shape

    return any(p.suffix in (".md", ".json") and page_shape(load_graph(p, args.lang)) == "examples" for p in paths)


_SITE_STATUS = {FAILED: EXIT_FAILED, "invalid": EXIT_INVALID, BLOCKED: EXIT_BLOCKED, PASSED: EXIT_OK,
                INTERRUPTED: EXIT_FAILED}


def _run_site(paths: list[Path], args: argparse.Namespace) -> int:
    """``runbook run DIR``: every page of the site(s) (runner/site.py), one report for all of them."""
    from runner.site import SiteOptions, run_site

    for given, name in ((args.inventory, "--inventory"), (args.keep, "--keep"), (args.from_step, "--from"),
                        (args.until, "--until"), (args.only, "--only")):
        if given:
            raise UsageError(f"{name} applies to one guide, not to a site (a folder or an example page)")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j/--jobs must be 1 or more")
    options = SiteOptions(jobs=args.jobs or os.cpu_count() or 1, timeout=args.timeout, settle=args.settle,
                          transcripts=Path(args.transcripts), lang=args.lang, update_expected=args.update_expected,
                          site_config=Path(args.site_config) if args.site_config else None, speed=not args.no_speed)

    def guide(path: Path, graph: Graph) -> RunResult | None:
        html = _page_report_path(args.html, path) if args.html else None
        return execute_guide(path, args, multiple=True, graph=graph, reports=False, html=html)[1]

    guard = SignalGuard(_site_signal, lambda sig: f"runbook: interrupted again ({signal.Signals(sig).name}): "
                        "stopping at once; the example server may be left up (`runbook sandbox down --name "
                        "runbook-site`); reports may be missing")
    with guard:
        try:
            result = run_site(paths, options, guide, rewrite=rewrite_expected if args.update_expected else None,
                              guard=guard)
        finally:
            if PageProgress.active is not None:  # the run broke off: the live line goes
                PageProgress.active.close()
        with guard.shield():
            status = _site_reports(result, args)
    return 128 + result.interrupted if result.interrupted else status


def _site_signal(signum: int) -> str:
    return (f"runbook: interrupted by {signal.Signals(signum).name}: stopping the example server, writing the "
            "reports (interrupt again to stop at once)")


def _site_reports(result: Any, args: argparse.Namespace) -> int:
    from runner.site_report import print_site_summary, site_to_json, site_to_junit

    print_site_summary(result)
    if enabled():  # the guides' commands were printed as they ended; now the example and unreadable pages'
        emit([c for p in result.pages if p.shape == "examples" and p.result is not None for c in run_commands(p.result)]
             + formatted_commands(f for p in result.pages for f in p.findings))
        append_summary(summary_markdown([p.result for p in result.pages if p.result is not None]))
    if args.html:  # the guides' pages were written as they ended; now the example pages'
        for p in result.pages:
            if p.shape == "examples" and p.result is not None:
                graph = load_graph(Path(p.page), args.lang)
                write_atomic(_page_report_path(args.html, Path(p.page)),
                             render_html(p.result, lang=graph.source.lang, title=graph.source.title,
                                         transcripts=Path(args.transcripts) / Path(p.rel).with_suffix(""),
                                         mask=Masker(graph.secrets())))
    if args.json:
        write_atomic(Path(args.json), json.dumps(site_to_json(result), indent=2, ensure_ascii=False) + "\n")
    if args.junit:
        write_atomic(Path(args.junit), site_to_junit(result))
    sys.stderr.write(f"runbook: transcripts in {args.transcripts}/\n")
    return _SITE_STATUS[result.status]


def _overall(guides: list[Path], statuses: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from runner.report import STYLE

    table = Table(title="all guides")
    table.add_column("guide")
    table.add_column("result")
    for g, st in zip(guides, statuses, strict=True):
        table.add_row(Text(safe_line(str(g))), Text(st, style=STYLE.get(st, "")))
    console = Console(file=sys.stderr, highlight=False, width=120)
    console.print(table)
    counts = {k: statuses.count(k) for k in (PASSED, FAILED, BLOCKED)}
    console.print(f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[BLOCKED]} blocked by the environment",
                  markup=False)


def _page_report_path(base: str, page: Path) -> Path:
    """A site page's own report: ``report.html`` -> ``report.docs.site.ja.index.html`` (its path from
    here, so that pages of the same name in other folders do not overwrite each other)."""
    p, full = Path(base), page.resolve()
    rel = full.relative_to(Path.cwd()) if full.is_relative_to(Path.cwd()) else Path(full.name)
    return p.with_name(f"{p.stem}.{'.'.join(rel.with_suffix('').parts)}{p.suffix}")


def _report_path(base: str, path: Path, multiple: bool) -> Path:
    p = Path(base)
    if not multiple:
        return p
    return p.with_name(f"{p.stem}.{path.name.removesuffix('.md')}{p.suffix}")


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
    graph, plan = run.graph, run.plan
    if args.plan:
        if run.network_note:
            sys.stderr.write(f"runbook: {run.network_note}\n")
        sys.stdout.write(safe_lines(format_plan(plan, run.mask, variants=run.options.speed)))
        return PASSED, None
    selected = _select(graph, args)
    guard = SignalGuard(lambda sig: _first_signal(sig, run), lambda sig: _second_signal(sig, run))
    with guard:
        return _execute(path, args, multiple, run, selected, guard, reports, html)


def _first_signal(signum: int, run: GuideRun) -> str:
    what = "stopping the servers and tearing the sandbox down" if run.sandbox is not None and not \
        run.options.keep else "stopping"
    return (f"runbook: interrupted by {signal.Signals(signum).name}: {what}, writing the reports "
            "(interrupt again to stop at once)")


def _second_signal(signum: int, run: GuideRun) -> str:
    msg = f"runbook: interrupted again ({signal.Signals(signum).name}): stopping at once"
    sb: Any = run.sandbox
    if sb is not None:
        msg += (f"; sandbox {sb.name} may be left up (servers, mounts, namespaces under {sb.dir}): "
                f"`runbook sandbox down --name {sb.name}` or the next `runbook run` removes it")
    return msg + "; reports may be missing"


def _execute(path: Path, args: argparse.Namespace, multiple: bool, run: GuideRun, selected: list[str] | None,
             guard: SignalGuard, reports: bool, html: Path | None) -> tuple[str, RunResult | None]:
    graph, plan = run.graph, run.plan
    printer = ProgressPrinter(total=len(graph.steps))
    if run.network_note:
        sys.stderr.write(f"runbook: {run.network_note}\n")
    try:
        runner = run.start(selected, printer)
    except BaseException:  # nothing ran: a kept sandbox stays as it was
        printer.close()
        raise
    try:
        net = ""
        if run.sandbox is not None:
            default = run.sandbox.name == sandbox_name(path)
            net = f", network {run.sandbox.network}" + ("" if default else f" {run.sandbox.name}")
        sys.stderr.write(f"runbook: {path} on {run.target} ({len(graph.steps)} steps, hosts: "
                         f"{', '.join(h.id for h in graph.hosts)}{net})\n")
        _print_substitutions(plan, run.mask)
        result = runner.run()
    finally:
        with guard.shield():
            printer.close()
            run.finish(runner, interrupted=guard.signum is not None)
    if guard.signum is not None and result.status != INTERRUPTED:
        result.status = INTERRUPTED  # the signal came after the last step
    with guard.shield():
        status = _reports(path, args, multiple, run, result, reports, html)
    if guard.signum is not None:
        raise Interrupted(guard.signum)
    return status, result


def _reports(path: Path, args: argparse.Namespace, multiple: bool, run: GuideRun, result: RunResult,
             reports: bool, html: Path | None) -> str:
    graph = run.graph
    if run.done and all(s.status == DONE_EARLIER for s in result.steps):
        sys.stderr.write(f"runbook: nothing to do: all {len(result.steps)} steps of {path} were completed by an "
                         "earlier run on this sandbox; nothing was changed (use --fresh to run again)\n")
    print_summary(result)
    status = result.status
    if args.update_expected and status != INTERRUPTED:
        status = _update_expected(path, graph, result, status)
    if enabled():
        emit(run_commands(result))
    if args.json and reports:
        write_atomic(_report_path(args.json, path, multiple), json.dumps(to_json(result), indent=2,
                                                                         ensure_ascii=False) + "\n")
    if args.junit and reports:
        write_atomic(_report_path(args.junit, path, multiple), to_junit(result))
    if args.html:
        write_atomic(html or _report_path(args.html, path, multiple),
                     render_html(result, lang=graph.source.lang, title=graph.source.title,
                                 transcripts=run.transcripts, mask=run.mask))
    sys.stderr.write(f"runbook: transcripts in {run.transcripts}/\n")
    if run.sandbox is not None and args.keep:
        sys.stderr.write(f"runbook: sandbox left up; `runbook sandbox down --name {run.sandbox.name}` removes it\n")
    return status


def _print_substitutions(plan: Plan, mask: Masker) -> None:
    seen: set[str] = set()
    for (action_id, i), sub in plan.substitutions.items():
        cmd = next(a for a in plan.graph.actions() if a.id == action_id).commands[i]
        if sub.kind == "block":
            continue
        key = f"{sub.kind}:{cmd.text}"
        if key in seen:
            continue
        seen.add(key)
        first = mask(sub.text or "").split(" && ")[0].splitlines()[0] if sub.text else ""
        what = f"-> {first} …" if sub.kind == "replace" else "(skipped)"
        sys.stderr.write(safe_line(f"  substituted {cmd.span}: {mask(cmd.text.splitlines()[0])} {what}") + "\n"
                         f"      because {sub.reason}\n")
    for action_id, (old, sub) in plan.paths.items():
        action = next(a for a in plan.graph.actions() if a.id == action_id)
        sys.stderr.write(safe_line(f"  substituted {action.path_span or action.span}: {old} -> {sub.text}") + "\n"
                         f"      because {sub.reason}\n")
    for w in plan.warnings:  # settings the target's PostgreSQL does not take (runner/settings_check.py)
        sys.stderr.write(safe_line(f"  warning: {mask(w.format())}") + "\n")


def _update_expected(path: Path, graph: Graph, result: RunResult, status: str) -> str:
    """Rewrite the guide's expected output of the checks that ran and differed (volatile-only
    differences pass, so they are never rewritten; checks a run did not reach are left alone)."""
    rewritten = rewrite_expected(path, graph, result)
    if not rewritten:
        sys.stderr.write("runbook: --update-expected: no expected output to rewrite\n")
        return status
    return FAILED if any(a.status == FAILED for s in result.steps for a in s.actions) else PASSED


def rewrite_expected(path: Path, graph: Graph, result: RunResult) -> int:
    """Rewrite, in the page's Markdown, the expected output of the SQL checks that ran and differed;
    how many were rewritten."""
    from runbook.model import Span
    from runbook.parse import decode_guide
    from runbook.update_expected import Replacement, update_expected

    replacements = []
    pasted = {st.expected.span.line for x in graph.actions() for st in x.statements  # written without "-- "
              if st.expected is not None and st.expected.pasted}
    for step in result.steps:
        for a in step.actions:
            for c in a.checks:
                if c.status == "failed" and c.statement_span and c.expected_span and a.kind == "sql":
                    replacements.append(Replacement(
                        Span(graph.source.file, c.statement_span[0], c.statement_span[1]),
                        Span(graph.source.file, c.expected_span[0], c.expected_span[1]),
                        list(c.actual), pasted=c.expected_span[0] in pasted))
    if not replacements:
        return 0
    raw = path.read_bytes()
    text = decode_guide(raw, str(path))
    new, diff = update_expected(text, replacements)
    if new != text:
        bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
        tmp = path.with_name(f".{path.name}.runbook-tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(bom + new)
        os.replace(tmp, path)
        sys.stdout.write(diff)
        sys.stderr.write(f"runbook: rewrote {len(replacements)} expected output(s) in {path}\n")
    return len(replacements)
