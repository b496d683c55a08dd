"""What every comparer reads: the two graphs, their aligned steps and actions, places, secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..model import Action, Graph, Step
from ..secrets import Masker
from .align import Pairs, align_actions, align_steps, pair_by_position
from .report import Change, Where


@dataclass(slots=True)
class StepPair:
    """A step of the old graph and the same step in the new one, their actions aligned."""

    old: Step
    new: Step
    actions: Pairs
    """Positions of ``old.actions`` and ``new.actions``, None where one side lacks the action."""

    def matched_actions(self) -> Iterator[tuple[Action, Action]]:
        """The actions both sides have, in order."""
        for i, j in self.actions:
            if i is not None and j is not None:
                yield self.old.actions[i], self.new.actions[j]


@dataclass(slots=True)
class Context:
    """The two graphs as the comparers see them; built once per comparison by :meth:`of`."""

    old: Graph
    new: Graph
    matched: dict[str, str]
    """Old step id -> new step id, for the steps both graphs have (renamed ones included)."""
    renamed: list[tuple[str, str]]
    """(old id, new id) of the steps whose id changed, most similar first."""
    steps: list[StepPair]
    """The matched steps: same ids in the old order, then the renamed ones."""
    changed_values: list[tuple[str, str]] = field(default_factory=list)
    """(old value, new value) of the variables whose value changed (secrets left out)."""
    secrets: list[str] = field(default_factory=list)
    """Secret values of both graphs, longest first, masked in every change."""
    masker: Masker = field(default_factory=Masker)

    @classmethod
    def of(cls, old: Graph, new: Graph) -> Context:
        matched, renamed = align_steps(old.steps, new.steps)
        if old.source.lang != new.source.lang:  # translated headings: slugs differ, positions do not
            renamed += pair_by_position(old.steps, new.steps, matched)
        old_by_id = {s.id: s for s in old.steps}
        new_by_id = {s.id: s for s in new.steps}
        steps = []
        for oid, nid in matched.items():
            a, b = old_by_id[oid], new_by_id[nid]
            steps.append(StepPair(a, b, align_actions(a, b)))
        masker = Masker(old.secrets() + new.secrets())
        return cls(old, new, matched, renamed, steps, _changed_values(old, new), list(masker.values), masker)

    @property
    def same_lang(self) -> bool:
        return self.old.source.lang == self.new.source.lang

    def where_old(self, line: int, absent: bool = False) -> Where:
        return Where(self.old.source.file, line, absent)

    def where_new(self, line: int, absent: bool = False) -> Where:
        return Where(self.new.source.file, line, absent)

    def old_end(self) -> int:
        return max(self.old.source.lines, 1)

    def new_end(self) -> int:
        return max(self.new.source.lines, 1)

    def explained_by_variables(self, old: str, new: str) -> bool:
        """True when ``new`` is ``old`` with changed variable values substituted (a version bump)."""
        if not self.changed_values:
            return False
        text = old
        for a, b in self.changed_values:
            text = re.sub(rf"(?<![\w.]){re.escape(a)}(?![\w])", b, text)
        return text == new

    def mask(self, text: str) -> str:
        return self.masker(text)

    def masked(self, change: Change) -> Change:
        """``change`` with every secret value in its summary, diff and details replaced by ``********``."""
        change.summary = self.mask(change.summary)
        change.diff = [self.mask(d) for d in change.diff]
        change.details = self.masker.deep(change.details)
        return change


def _changed_values(old: Graph, new: Graph) -> list[tuple[str, str]]:
    before = {v.name: v for v in old.variables}
    after = {v.name: v for v in new.variables}
    out = []
    for name in [*before, *(n for n in after if n not in before)]:
        a, b = before.get(name), after.get(name)
        if a is not None and b is not None and a.value != b.value and not (a.secret or b.secret):
            out.append((a.value, b.value))
    return out
