"""Compare two step graphs: what would run differently, and what only reads differently.

Works on :class:`~runbook.model.Graph` only (two revisions of a guide, or two languages of it).
Steps are aligned by heading id, then by content; actions inside a step by kind and code
(:mod:`.align`, once, in :class:`.context.Context`); then one comparer per level (:mod:`.table`:
steps, hosts, variables, actions, expected output, prose, links) reports its changes.  Every change
carries the place in both files, so a report line reads ``old.md:12 → new.md:14  step#2  command
changed``.

Executable changes (exit status 1): steps added, removed, moved or renamed; actions added or
removed; targets; commands; SQL; expected output; file edits and writes; variables; hosts.
Prose changes (exit status 0): titles, paragraphs, tags, link targets.  When the two graphs are in
different languages, titles and paragraph texts are not compared; link targets still are.
"""

from __future__ import annotations

from ..model import Graph
from .align import RENAME_SIMILARITY, pair
from .context import Context
from .render import render
from .report import Change, Report, Verdict, Where
from .table import COMPARERS, EXECUTABLE_KINDS, SECTIONS

__all__ = ["COMPARERS", "EXECUTABLE_KINDS", "RENAME_SIMILARITY", "SECTIONS", "Change", "Report", "Verdict", "Where",
           "compare", "pair", "render"]


def compare(old: Graph, new: Graph) -> Report:
    """Every difference between ``old`` and ``new``, executable first, each with both places."""
    ctx = Context.of(old, new)
    order = {kind: n for n, kind in enumerate(SECTIONS)}
    executable: list[Change] = []
    prose: list[Change] = []
    for comparer in COMPARERS:
        for change in comparer.compare(ctx):
            if change.kind not in comparer.sections:  # a comparer reports only the kinds its table line names
                raise ValueError(f"drift: {comparer.compare.__module__} reported an undeclared kind {change.kind!r}")
            (executable if comparer.executable else prose).append(ctx.masked(change))
    executable.sort(key=lambda c: order[c.kind])
    prose.sort(key=lambda c: order[c.kind])
    return Report(old.source.file, new.source.file, old.source.lang, new.source.lang, executable, prose)
