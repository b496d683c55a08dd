"""The comparers, one per level of the graph, in report order, with the kinds of change each reports.

Adding a comparer: a module with ``compare(ctx: Context) -> Iterator[Change]`` and one line here,
naming its kinds (each with the report section it is listed under) and whether they are executable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import actions, comments, expected, hosts, links, localized, prose, steps, variables
from .context import Context
from .report import Change

_STEPS = "Steps added, removed, moved or renamed"
_ACTIONS = "Actions added or removed"
_FILES = "File edits and writes changed"
_TITLES = "Titles"


@dataclass(frozen=True, slots=True)
class Comparer:
    """One level of the comparison."""

    compare: Callable[[Context], Iterable[Change]]
    """Every change of this level between the two graphs of the context."""
    sections: dict[str, str]
    """Kind of change -> the report section it is listed under, in report order."""
    executable: bool
    """Whether these changes alter what runs (exit status 1) or only how the guide reads."""


COMPARERS: tuple[Comparer, ...] = (
    Comparer(steps.compare, {"step-added": _STEPS, "step-removed": _STEPS, "step-moved": _STEPS,
                             "step-renamed": _STEPS}, executable=True),
    Comparer(hosts.compare, {"host": "Hosts"}, executable=True),
    Comparer(variables.compare, {"variable": "Variables"}, executable=True),
    Comparer(actions.compare, {"action-added": _ACTIONS, "action-removed": _ACTIONS, "targets": "Targets changed",
                               "command": "Commands changed", "edit": _FILES, "write": _FILES}, executable=True),
    Comparer(expected.compare, {"expected": "Expected output changed"}, executable=True),
    Comparer(localized.compare, {"localized-data": "Example data localized"}, executable=True),
    Comparer(prose.compare, {"guide-title": _TITLES, "title": _TITLES, "overview-title": _TITLES, "tag": "Tags",
                             "paragraph": "Paragraphs"}, executable=False),
    Comparer(comments.compare, {"comment": "SQL comments"}, executable=False),
    Comparer(links.compare, {"link": "Link targets"}, executable=False),
)

SECTIONS: dict[str, str] = {kind: section for c in COMPARERS for kind, section in c.sections.items()}
"""Every kind of change -> its section of the human report, in report order."""

EXECUTABLE_KINDS = frozenset(kind for c in COMPARERS if c.executable for kind in c.sections)
