"""The human drift report: grouped sections, one line per change, diffs indented, a verdict line."""

from __future__ import annotations

from ..shown import safe_line
from .report import Report
from .table import SECTIONS


def _paint(line: str) -> str:
    if line.startswith("+") and not line.startswith("+++"):
        return f"\x1b[32m{line}\x1b[0m"
    if line.startswith("-") and not line.startswith("---"):
        return f"\x1b[31m{line}\x1b[0m"
    if line.startswith("@@"):
        return f"\x1b[36m{line}\x1b[0m"
    return line


def render(report: Report, color: bool = False) -> str:
    """The human report: grouped sections, one line per change, diffs indented, a verdict line."""
    out: list[str] = []
    for title, changes in (("Executable changes", report.executable), ("Prose changes", report.prose)):
        if not changes:
            continue
        out.append(f"== {title} ==")
        section = None
        for c in changes:
            if SECTIONS[c.kind] != section:
                section = SECTIONS[c.kind]
                out.append("")
                out.append(f"{section}:")
            old = str(c.old) if c.old else "-"
            new = str(c.new) if c.new else "-"
            out.append(safe_line(f"  {old} → {new}  {c.action or c.step or '(guide)'}  {c.summary}"))
            # the guides' lines: escape sequences shown (never sent to the terminal), no workflow command
            out.extend("      " + (_paint(safe_line(d)) if color else safe_line(d)) for d in c.diff)
        out.append("")
    out.append(report.verdict_line())
    return "\n".join(out) + "\n"
