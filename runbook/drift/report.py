"""What a comparison reports: a change with its place in both files, and the report of them all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["executable", "prose", "none"]


@dataclass(slots=True)
class Where:
    """A place in one of the two files."""

    file: str
    line: int
    absent: bool = False
    """True when the thing is missing on this side: ``line`` is where it would be."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" + (" (absent)" if self.absent else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "line": self.line}
        if self.absent:
            out["absent"] = True
        return out


@dataclass(slots=True)
class Change:
    """One difference between the two graphs."""

    kind: str
    """A kind a comparer reports (``runbook.drift.table``): ``command``, ``targets``, ``step-removed`` …"""
    summary: str
    """What changed, in a few words (never a secret's value)."""
    old: Where | None
    new: Where | None
    step: str | None = None
    """Step id (the new one when it was renamed)."""
    action: str | None = None
    """Action id (``step#n``, the new side's when both exist)."""
    diff: list[str] = field(default_factory=list)
    """Unified diff lines (``-``/``+``/`` `` prefixed, ``@@`` hunks), when text changed."""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary, "step": self.step}
        if self.action is not None:
            out["action"] = self.action
        out["old"] = self.old.to_dict() if self.old else None
        out["new"] = self.new.to_dict() if self.new else None
        details = dict(self.details)
        if self.diff:
            details["diff"] = list(self.diff)
        out["details"] = details
        return out


@dataclass(slots=True)
class Report:
    """Every change between two graphs, executable ones apart from prose ones."""

    old_file: str
    new_file: str
    old_lang: str
    new_lang: str
    executable: list[Change]
    prose: list[Change]

    @property
    def verdict(self) -> Verdict:
        if self.executable:
            return "executable"
        return "prose" if self.prose else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "old": {"file": self.old_file, "lang": self.old_lang},
            "new": {"file": self.new_file, "lang": self.new_lang},
            "executable": [c.to_dict() for c in self.executable],
            "prose": [c.to_dict() for c in self.prose],
        }

    def verdict_line(self) -> str:
        if self.executable:
            return f"executable drift: {len(self.executable)} change(s)"
        return f"no executable drift ({len(self.prose)} prose change(s))"
