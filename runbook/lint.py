"""Static findings about a guide: what a careful reviewer would point out before running it.

Every rule works on the step graph (plus the parser's recovered defects) and reports
``file:line: rule-id: message``.  Rules are listed in docs/lint.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator

from .kinds import ActionKind, Severity
from .model import Finding, Graph, Statement
from .read.sql import WATCH_REFUSED, sent_by

Rule = Callable[[Graph], Iterator[Finding]]
RULES: dict[str, Rule] = {}


def rule(fn: Rule) -> Rule:
    RULES[fn.__name__.replace("_", "-")] = fn
    return fn


@rule
def overview_title_mismatch(graph: Graph) -> Iterator[Finding]:
    """An overview item's text differs from the heading it links to."""
    for step in graph.steps:
        if step.overview_title is not None and step.overview_span is not None and step.overview_title != step.title:
            yield Finding(
                "overview-title-mismatch",
                Severity.ERROR,
                f"overview item says {step.overview_title!r} but the heading of #{step.id} "
                f"({graph.source.file}:{step.span.line}) says {step.title!r}",
                step.overview_span,
            )


@rule
def step_not_in_overview(graph: Graph) -> Iterator[Finding]:
    """A step heading no overview item links to."""
    if not any(s.overview_span for s in graph.steps):
        return
    for step in graph.steps:
        if step.overview_span is None:
            yield Finding("step-not-in-overview", Severity.WARNING, f"step #{step.id} is missing from the overview",
                          step.span)


_SETTING_RE = re.compile(r"`(?P<name>[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)(?:\s*=[^`]*)?`")
_CONF_LINE_RE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*=", re.MULTILINE)
_ALTER_RE = re.compile(r"ALTER\s+SYSTEM\s+SET\s+(?P<name>[A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE)
_SET_OPTION_RE = re.compile(r"(?:-c\s+|--set[= ])(?P<name>[A-Za-z_][A-Za-z0-9_.]*)=")


def _settings_set(graph: Graph) -> set[str]:
    names: set[str] = set()
    for a in graph.actions():
        if a.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE) and a.after:
            names.update(m.group("name") for m in _CONF_LINE_RE.finditer(a.after))
        for st in a.statements:
            names.update(m.group("name") for m in _ALTER_RE.finditer(st.sql))
        for c in a.commands:
            names.update(m.group("name") for m in _SET_OPTION_RE.finditer(c.text))
    return names


@rule
def unknown_setting(graph: Graph) -> Iterator[Finding]:
    """Prose names an extension setting (``name.name``) that no block of the guide sets."""
    known = _settings_set(graph)
    for step in graph.steps:
        for p in step.prose:
            for m in _SETTING_RE.finditer(p.text):
                name = m.group("name")
                if name in known or "/" in name:
                    continue
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
                if close:
                    yield Finding("unknown-setting", Severity.ERROR,
                                  f"prose mentions {name!r}, which no block sets; the blocks set {close[0]!r} "
                                  "(a typo?)", p.span)
                elif name.split(".")[0] in {k.split(".")[0] for k in known if "." in k}:
                    yield Finding("unknown-setting", Severity.WARNING, f"prose mentions {name!r}, which no block sets",
                                  p.span)


@rule
def basebackup_spread_checkpoint(graph: Graph) -> Iterator[Finding]:
    """``pg_basebackup`` without ``--checkpoint=fast`` waits for a spread checkpoint on the primary."""
    for a in graph.actions():
        for c in a.commands:
            words = c.text.replace("\\\n", " ")
            if re.search(r"\bpg_basebackup\b", words) and not re.search(
                r"(--checkpoint[= ]fast|-c\s*fast)\b", words
            ):
                yield Finding(
                    "basebackup-spread-checkpoint",
                    Severity.HINT,
                    "pg_basebackup without --checkpoint=fast waits for a spread checkpoint on the primary "
                    "(about 50 s on an idle server, up to 90% of checkpoint_timeout on a busy one)",
                    c.span,
                )


@rule
def edit_no_change(graph: Graph) -> Iterator[Finding]:
    """A file edit whose after text is its before text changes nothing."""
    for a in graph.actions():
        if a.kind == ActionKind.FILE_EDIT and a.before is not None and a.before.strip() == (a.after or "").strip():
            yield Finding("edit-no-change", Severity.WARNING, "the after block is the same as the before block", a.span)


@rule
def select_without_expected(graph: Graph) -> Iterator[Finding]:
    """A SELECT on a standby whose output the guide does not show cannot be checked."""
    for st in _sql_statements(graph):
        if re.match(r"^\s*SELECT\b", st.sql, re.IGNORECASE) and st.expected is None:
            yield Finding("select-without-expected", Severity.HINT,
                          "this SELECT shows no expected output, so a run cannot check its result", st.span)


@rule
def psql_watch(graph: Graph) -> Iterator[Finding]:
    """A statement sent by psql's ``\\watch``, which repeats it until interrupted: a run refuses it."""
    for st in _sql_statements(graph):
        if sent_by(st.sql) == "watch":
            yield Finding("psql-watch", Severity.WARNING, f"a run refuses it: {WATCH_REFUSED}", st.span)


def _sql_statements(graph: Graph) -> Iterator[Statement]:
    """The statements of the guide's SQL blocks, in order."""
    for a in graph.actions():
        if a.kind == ActionKind.SQL:
            yield from a.statements


def lint(graph: Graph, disabled: set[str] | None = None) -> list[Finding]:
    """Parser defects plus every rule's findings, sorted by line."""
    disabled = disabled or set()
    findings = [f for f in graph.findings if f.rule not in disabled]
    for name, fn in RULES.items():
        if name in disabled:
            continue
        findings.extend(fn(graph))
    order = {"error": 0, "warning": 1, "hint": 2}
    return sorted(findings, key=lambda f: (f.span.line, order[f.severity], f.rule))
