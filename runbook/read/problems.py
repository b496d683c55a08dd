"""Where the stages put what they find: fatal problems stop a guide from being read, defects do not."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kinds import Severity
from ..model import Finding, Span


@dataclass(slots=True)
class Problems:
    """The findings of one reading, in the order the stages made them."""

    fatal: list[Finding] = field(default_factory=list)
    """Problems that stop the guide from becoming a graph (raised together as one ``GuideError``)."""
    defects: list[Finding] = field(default_factory=list)
    """Problems the reader recovered from (the graph's ``findings``, reported by ``lint``)."""

    def fail(self, rule: str, message: str, span: Span) -> None:
        self.fatal.append(Finding(rule, Severity.ERROR, message, span))

    def defect(self, rule: str, severity: Severity, message: str, span: Span) -> None:
        self.defects.append(Finding(rule, severity, message, span))

    def extend(self, other: Problems) -> None:
        self.fatal.extend(other.fatal)
        self.defects.extend(other.defects)
