"""One guide's run from path to reports, the one entry point of ``runbook run`` (each guide, and each
guide of a site) and of the pytest plugin: the hosts up (:class:`runner.launch.GuideRun`), the runner,
the state for a later run, the hosts down, reports written, the guide rewritten with its expected output.

    run = GuideRun(path, RunOptions())        # reads and binds; starts nothing (``run.plan`` can be shown)
    status, result = run_guide(run, selected, GuideReports(json="r.json"))  # the CLI: reports, signals
    status, result = run_guide(run, selected, None, progress=feed, signals=False)  # the pytest plugin
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.atomic import write_atomic
from runbook.kinds import ActionKind
from runbook.model import Graph

from .launch import GuideRun, sandbox_name
from .outputs import write_atomic as write_output
from .planning.model import Plan
from .reports import console
from .reports.annotations import emit, enabled, run_commands
from .reports.guide import to_json, to_junit
from .reports.html import render_html
from .reports.progress import ProgressPrinter
from .reports.summary import mark_updated, print_failures, print_summary
from .running.results import DONE_EARLIER, INTERRUPTED, Progress, RunResult
from .running.session import Masker
from .running.signals import Interrupted, SignalGuard
from .running.steps import Runner
from .status import CheckStatus, RunStatus, SubstitutionKind
from .untrusted import safe_line


@dataclass
class GuideReports:
    """What ``runbook run`` writes and prints about one guide's run (the pytest plugin: none)."""

    json: str | None = None
    """The JSON report's file (``-``: standard output)."""
    junit: str | None = None
    html: str | None = None
    """The HTML report's file (``html_at`` for a site's page)."""
    html_at: Path | None = None
    """A site's page: its HTML report's own path (written even with ``own`` False)."""
    mkdir: bool = False
    multiple: bool = False
    """One of several guides of one command: ``--json r.json`` writes ``r.GUIDE.json``."""
    own: bool = True
    """False: no JSON or JUnit report of its own (a site run writes one for all its pages)."""
    update_expected: bool = False
    """Rewrite the guide's expected output of the checks that ran and differed."""
    chosen: list[str] | None = None
    """The steps named by ``--only`` (or ``--from``): a failure then says which steps never ran before."""
    language: str = ""
    """Which lexicon read the guide and why (printed when the run begins)."""


def run_guide(run: GuideRun, selected: list[str] | None, reports: GuideReports | None, *,
              progress: Progress | None = None, signals: bool = True, runner: Runner | None = None
              ) -> tuple[str, RunResult]:
    """Run the guide (``selected`` steps; None: all) and land it: its status and result. With
    ``reports`` the run is shown on the console as it goes and its reports are written, even when a
    signal ends it (``signals``: SIGINT/SIGTERM stop it cleanly, then :class:`Interrupted` is raised);
    ``progress`` replaces the console's live progress. ``runner``: the hosts are up already
    (``run.start``: the pytest plugin brings them up when the guide's file is set up)."""
    guard = SignalGuard(lambda sig: _first_signal(sig, run), lambda sig: _second_signal(sig, run))
    with guard if signals else contextlib.nullcontext(guard):
        result = _run(run, selected, reports, progress, guard, runner)
        status: str = result.status
        if reports is not None:
            with guard.shield():
                status = _land(run, result, reports)
    if guard.signum is not None:
        raise Interrupted(guard.signum)
    return status, result


def _run(run: GuideRun, selected: list[str] | None, reports: GuideReports | None, progress: Progress | None,
         guard: SignalGuard, runner: Runner | None) -> RunResult:
    """Hosts up, the runner's run, hosts down (and the completed steps recorded) whatever happens."""
    printer = ProgressPrinter(total=len(run.graph.steps), file=str(run.path)) if progress is None else None
    if reports is not None and run.network_note:
        console.progress(f"runbook: {run.network_note}")
    try:
        runner = runner or run.start(selected, progress or printer)
    except BaseException:  # nothing ran: a kept sandbox stays as it was
        if printer is not None:
            printer.close()
        raise
    try:
        if reports is not None:
            _begin(run, reports)
        result = runner.run()
    finally:
        with guard.shield():
            if printer is not None:
                printer.close()
            run.finish(runner, interrupted=guard.signum is not None)
    if guard.signum is not None and result.status != RunStatus.INTERRUPTED:
        result.status = RunStatus.INTERRUPTED  # the signal came after the last step
    return result


def _begin(run: GuideRun, reports: GuideReports) -> None:
    """What the run is about to do: where, how many steps, bindings, hosts, substitutions."""
    path, graph, plan = run.path, run.graph, run.plan
    net = ""
    if run.sandbox is not None:
        default = run.sandbox.name == sandbox_name(path)
        net = f", network {run.sandbox.network}" + ("" if default else f" {run.sandbox.name}")
    console.progress(f"runbook: {path} on {run.target} ({len(graph.steps)} steps, hosts: "
                     f"{', '.join(h.id for h in graph.hosts)}{net}); read as {reports.language}")
    console.detail("runbook: bindings: " + ", ".join(f"{k} = {run.mask(v)}" for k, v in sorted(plan.binding.items())))
    if run.sandbox is not None:
        console.detail("runbook: hosts: " + ", ".join(f"{h.name} {h.address}" for h in run.sandbox.hosts))
    print_substitutions(plan, run.mask)


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


def _land(run: GuideRun, result: RunResult, reports: GuideReports) -> str:
    """After the run: the guide rewritten (``update_expected``), the summary and failures on stdout,
    the reports written; the guide's status."""
    path, graph = run.path, run.graph
    if run.done and all(s.status == DONE_EARLIER for s in result.steps):
        console.progress(f"runbook: nothing to do: all {len(result.steps)} steps of {path} were completed by an "
                         "earlier run on this sandbox; nothing was changed (use --fresh to run again)")
    status: str = result.status
    if reports.update_expected and status != INTERRUPTED:  # (volatile-only differences pass: never rewritten)
        if rewrite_expected(path, graph, result):
            status = result.status
        else:
            console.progress("runbook: --update-expected: no expected output to rewrite")
    print_summary(result)
    print_failures(result, str(path))
    _selection_hint(run, result, reports.chosen)
    if enabled():
        emit(run_commands(result))
    if reports.json and reports.own:
        _write_report(reports.json, path, reports, json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n",
                      "JSON report")
    if reports.junit and reports.own:
        _write_report(reports.junit, path, reports, to_junit(result), "JUnit report")
    if reports.html:
        out = reports.html_at or _report_path(reports.html, path, reports.multiple)
        write_output(out, render_html(result, lang=graph.source.lang, title=graph.source.title,
                                      transcripts=run.transcripts, mask=run.mask),
                     mkdir=reports.mkdir or reports.html_at is not None)
        console.progress(f"runbook: HTML report in {out}")
    console.progress(f"runbook: transcripts in {run.transcripts}/")
    if run.sandbox is not None and run.options.keep:
        console.progress(f"runbook: sandbox left up; `runbook sandbox down --name {run.sandbox.name}` removes it")
    return status


def _report_path(base: str, path: Path, multiple: bool) -> Path:
    p = Path(base)
    if not multiple:
        return p
    return p.with_name(f"{p.stem}.{path.name.removesuffix('.md')}{p.suffix}")


def _write_report(given: str, path: Path, reports: GuideReports, text: str, what: str) -> None:
    if given == "-":
        sys.stdout.write(text)
        return
    out = _report_path(given, path, reports.multiple)
    write_output(out, text, mkdir=reports.mkdir)
    console.progress(f"runbook: {what} in {out}")


def _selection_hint(run: GuideRun, result: RunResult, chosen: list[str] | None) -> None:
    """A step chosen with --only/--from failed on a sandbox where the steps before it never ran: say so."""
    if result.status != RunStatus.FAILED or not chosen or run.sandbox is None:
        return
    ids = [s.id for s in run.graph.steps]
    first = min(ids.index(s) for s in chosen)
    missing = [i for i in ids[:first] if i not in run.done]
    if missing:
        sys.stderr.write(
            f"runbook: note: the steps before {ids[first]} ({', '.join(missing)}) never ran on this sandbox, so what "
            f"{ids[first]} relies on may be missing: run them first and keep the sandbox (`runbook run {run.path} "
            f"--until {missing[-1]} --keep`), then `--from {ids[first]}`; or run without --only/--from\n")


def print_substitutions(plan: Plan, mask: Masker) -> None:
    """What the target runs instead of the guide's commands and paths, and why; the settings warnings."""
    seen: set[str] = set()
    for (action_id, i), sub in plan.substitutions.items():
        cmd = next(a for a in plan.graph.actions() if a.id == action_id).commands[i]
        if sub.kind == SubstitutionKind.BLOCK:
            continue
        key = f"{sub.kind}:{cmd.text}"
        if key in seen:
            continue
        seen.add(key)
        first = mask(sub.text or "").split(" && ")[0].splitlines()[0] if sub.text else ""
        what = f"-> {first} …" if sub.kind == SubstitutionKind.REPLACE else "(skipped)"
        console.progress(safe_line(f"  substituted {cmd.span}: {mask(cmd.text.splitlines()[0])} {what}") + "\n"
                 f"      because {sub.reason}")
    for action_id, (old, sub) in plan.paths.items():
        action = next(a for a in plan.graph.actions() if a.id == action_id)
        console.progress(safe_line(f"  substituted {action.path_span or action.span}: {old} -> {sub.text}") + "\n"
                 f"      because {sub.reason}")
    for w in plan.warnings:  # settings the target's PostgreSQL does not take (runner/planning/settings_check.py)
        console.progress(safe_line(f"  warning: {mask(w.format())}"))


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
                if c.status == CheckStatus.FAILED and c.statement_span and c.expected_span and a.kind == ActionKind.SQL:
                    replacements.append(Replacement(
                        Span(graph.source.file, c.statement_span[0], c.statement_span[1]),
                        Span(graph.source.file, c.expected_span[0], c.expected_span[1]),
                        list(c.actual), pasted=c.expected_span[0] in pasted))
    if not replacements:
        return 0
    mark_updated(result)
    raw = path.read_bytes()
    text = decode_guide(raw, str(path))
    new, diff = update_expected(text, replacements)
    if new != text:
        bom = "\ufeff" if raw.startswith(b"\xef\xbb\xbf") else ""
        write_atomic(path, bom + new, keep=True)
        sys.stdout.write(diff)
        console.progress(f"runbook: rewrote {len(replacements)} expected output(s) in {path}")
    return len(replacements)
