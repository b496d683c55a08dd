"""A guide's drift along its git history: one verdict per first-parent commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .drift import Report, compare
from .errors import GuideError, RunbookError, UsageError
from .git import Git
from .load import load_graph
from .model import Graph
from .parse import decode_guide


@dataclass(slots=True)
class HistoryEntry:
    """One commit of a guide's history and its drift verdict."""

    commit: str
    short: str
    date: str
    subject: str
    verdict: str
    """``executable``, ``prose``, ``none``, ``unreadable``, ``added``, ``deleted``."""
    reason: str | None = None
    """Why the guide could not be read (``unreadable``)."""
    report: Report | None = None
    """The comparison with the last readable version (``executable`` and ``prose``)."""
    compared_with: str | None = None
    """Short hash of the version compared against, when it is not the parent's."""

    def describe(self) -> str:
        if self.verdict == "unreadable":
            return f"unreadable: {self.reason}"
        if self.report is not None and self.verdict in ("executable", "prose"):
            n = len(self.report.executable) if self.verdict == "executable" else len(self.report.prose)
            text = f"{self.verdict} ({n} change(s)"
            if self.verdict == "executable" and self.report.prose:
                text += f", {len(self.report.prose)} prose"
            text += ")"
            if self.compared_with:
                text += f" since {self.compared_with}"
            return text
        return self.verdict

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"commit": self.commit, "short": self.short, "date": self.date,
                               "subject": self.subject, "verdict": self.verdict}
        if self.reason is not None:
            out["reason"] = self.reason
        if self.compared_with is not None:
            out["compared_with"] = self.compared_with
        if self.report is not None:
            data = self.report.to_dict()
            out["executable"] = data["executable"]
            out["prose"] = data["prose"]
        return out


def history(repo: Path, path: str, rev: str = "HEAD", lang: str | None = None) -> list[HistoryEntry]:
    """Every first-parent commit from ``rev`` back to the guide's creation, newest first, with a verdict."""
    git = Git(repo)
    rel = path if git.blob(git.commit(rev), path) is not None else git.relative(path)
    commits = list(reversed(git.log(rev)))
    blobs = {c[0]: git.blob(c[0], rel) for c in commits}
    if not any(blobs.values()):
        raise UsageError(f"runbook drift: {path!r} is in no commit of {rev!r} in {git.top}")
    parsed: dict[str, Graph | GuideError] = {}

    def graph(blob: str, commit_short: str) -> Graph | GuideError:
        if blob not in parsed:
            display = f"{commit_short}:{rel}"
            try:
                parsed[blob] = load_graph(rel, lang, text=decode_guide(git.cat(blob), display), display=display)
            except GuideError as exc:
                parsed[blob] = exc
        return parsed[blob]

    entries: list[HistoryEntry] = []
    last_good: tuple[str, Graph] | None = None
    for full, short, date, subject, parent in commits:
        blob = blobs[full]
        before = blobs.get(parent) if parent else None
        if parent and parent not in blobs:
            before = git.blob(parent, rel)
        if blob is None and before is None:
            continue  # the guide does not exist yet (or any more)
        entry = HistoryEntry(full, short, date, subject, "none")
        if blob is None:
            entry.verdict = "deleted"
        elif blob == before:
            entry.verdict = "none"
        else:
            current = graph(blob, short)
            if isinstance(current, GuideError):
                entry.verdict = "unreadable"
                entry.reason = _reason(current)
            elif last_good is None:
                entry.verdict = "added"
                last_good = (short, current)
            else:
                report = compare(last_good[1], current)
                entry.verdict = report.verdict
                entry.report = report
                parent_graph = graph(before, "") if before else None
                if parent_graph is not last_good[1]:
                    entry.compared_with = last_good[0]
                last_good = (short, current)
        entries.append(entry)
    return list(reversed(entries))


def _reason(exc: RunbookError) -> str:
    if exc.findings:
        first = exc.findings[0].format()
        more = len(exc.findings) - 1
        return first + (f" (and {more} more)" if more else "")
    return exc.message


def render_history(entries: list[HistoryEntry]) -> str:
    width = min(max((len(e.subject) for e in entries), default=0), 60)
    lines = []
    for e in entries:
        subject = e.subject if len(e.subject) <= width else e.subject[: width - 1] + "…"
        lines.append(f"{e.short}  {e.date}  {subject:<{width}}  {e.describe()}")
    return "\n".join(lines) + ("\n" if lines else "")
