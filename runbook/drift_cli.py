"""``runbook drift``: compare two revisions or two translations of a guide, or walk its history.

``runbook drift OLD NEW``: each side is a file (Markdown guide or step graph JSON) or ``REV:PATH``
read from git (``--repo DIR``, default: the current directory).  Exit status 1 when executable
content drifted, 0 when only prose changed or nothing did.

``runbook drift --history PATH``: one line per commit of the current branch (newest first, like
``git log``) with a verdict for the guide: ``executable``, ``prose``, ``none``, ``unreadable``
(with the reason) and, where the file appears or disappears, ``added`` / ``deleted``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .drift import Report, compare, render
from .errors import EXIT_FAILED, EXIT_OK, GuideError, RunbookError, UsageError
from .load import load_graph
from .model import Graph
from .parse import decode_guide


def configure(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Compare two revisions or two translations of a guide as step graphs (not as text).\n\n"
        "OLD and NEW are files (Markdown or step graph JSON) or REV:PATH in a git repository\n"
        "(PATH relative to the repository's top, e.g. HEAD~3:docs/guides/guide.ja.md).\n"
        "Exit status 1 when executable content drifted, 0 when only prose changed or nothing did."
    )
    p.epilog = (
        "examples:\n"
        "  runbook drift guide.ja.md guide.en.md\n"
        "  runbook drift HEAD~1:docs/guides/guide.md docs/guides/guide.md\n"
        "  runbook drift --history docs/guides/guide.md --json\n"
    )
    p.add_argument("old", nargs="?", help="the old side: FILE or REV:PATH")
    p.add_argument("new", nargs="?", help="the new side: FILE or REV:PATH")
    p.add_argument("--history", metavar="PATH", help="walk the git history of one guide, one verdict per commit")
    p.add_argument("--rev", default="HEAD", help="with --history: the commit to start from (default HEAD)")
    p.add_argument("--repo", metavar="DIR", default=None, help="git repository for REV:PATH and --history "
                   "(default: the current directory)")
    p.add_argument("--lang", help="lexicon for both sides (default: detected from each text)")
    p.add_argument("--lang-old", help="lexicon for the old side (overrides --lang)")
    p.add_argument("--lang-new", help="lexicon for the new side (overrides --lang)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def main(args: argparse.Namespace) -> int:
    repo = Path(args.repo) if args.repo else Path.cwd()
    if args.history:
        if args.old or args.new:
            raise UsageError("runbook drift: give either OLD NEW or --history PATH, not both")
        entries = history(repo, args.history, args.rev, args.lang)
        if args.json:
            _write(json.dumps({"path": args.history, "commits": [e.to_dict() for e in entries]},
                              ensure_ascii=False, indent=2) + "\n")
        else:
            _write(render_history(entries))
        return EXIT_OK
    if not args.old or not args.new:
        raise UsageError("runbook drift: give two guides (OLD NEW) or --history PATH")
    old = read_side(args.old, repo, args.lang_old or args.lang)
    new = read_side(args.new, repo, args.lang_new or args.lang)
    report = compare(old, new)
    if args.json:
        _write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _write(render(report, color=sys.stdout.isatty()))
    return EXIT_FAILED if report.executable else EXIT_OK


def _write(text: str) -> None:
    sys.stdout.write(text)


# -- reading a side ----------------------------------------------------------------------------


def split_rev_path(spec: str) -> tuple[str, str] | None:
    """``REV:PATH`` -> (REV, PATH); None for a plain path (or an existing file whose name has a colon)."""
    if ":" not in spec or Path(spec).exists():
        return None
    rev, path = spec.split(":", 1)
    if not rev or not path:
        return None
    return rev, path


def read_side(spec: str, repo: Path, lang: str | None) -> Graph:
    """A step graph from a file or from ``REV:PATH`` in ``repo``."""
    rp = split_rev_path(spec)
    if rp is None:
        return load_graph(spec, lang)
    rev, path = rp
    git = Git(repo)
    data = git.show(rev, path)
    return load_graph(path, lang, text=decode_guide(data, spec), display=spec)


# -- git ---------------------------------------------------------------------------------------


class Git:
    """The few git commands drift needs, each failure turned into a clear :class:`UsageError`."""

    def __init__(self, repo: Path) -> None:
        if shutil.which("git") is None:
            raise UsageError("runbook drift: git is not installed (needed for REV:PATH and --history)")
        self.repo = repo
        if not repo.is_dir():
            raise UsageError(f"runbook drift: --repo {repo}: no such directory")
        top = self._run(["rev-parse", "--show-toplevel"], check=False)
        if top.returncode != 0:
            raise UsageError(f"runbook drift: {repo} is not inside a git repository (use --repo DIR)")
        self.top = Path(top.stdout.decode().strip())

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(["git", "-C", str(self.repo), *argv], capture_output=True, check=False)
        if check and proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise UsageError(f"runbook drift: git {' '.join(argv)}: {msg[-1] if msg else 'failed'}")
        return proc

    def commit(self, rev: str) -> str:
        proc = self._run(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False)
        if proc.returncode != 0:
            raise UsageError(f"runbook drift: unknown revision {rev!r} in {self.top}")
        return proc.stdout.decode().strip()

    def blob(self, commit: str, path: str) -> str | None:
        """The blob id of ``path`` at ``commit``, None when the file is not there."""
        proc = self._run(["rev-parse", "--verify", "--quiet", f"{commit}:{path}"], check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def show(self, rev: str, path: str) -> bytes:
        commit = self.commit(rev)
        if self.blob(commit, path) is None:
            raise UsageError(f"runbook drift: {path!r} is not in revision {rev!r} of {self.top} "
                             "(PATH is relative to the repository's top; ./PATH is relative to --repo)")
        return self._run(["show", f"{commit}:{path}"]).stdout

    def cat(self, blob: str) -> bytes:
        return self._run(["cat-file", "blob", blob]).stdout

    def log(self, rev: str) -> list[tuple[str, str, str, str, str | None]]:
        """(commit, short hash, date, subject, first parent) of each first-parent commit, newest first."""
        commit = self.commit(rev)
        out = self._run(["log", "--first-parent", "--date=short", "--format=%H%x1f%h%x1f%ad%x1f%s%x1f%P%x1e",
                         commit]).stdout.decode(errors="replace")
        entries = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            full, short, date, subject, parents = record.split("\x1f")
            entries.append((full, short, date, subject, parents.split()[0] if parents.split() else None))
        return entries

    def relative(self, path: str) -> str:
        """``path`` (as given on the command line, relative to the current directory) from the top."""
        p = Path(path)
        absolute = p if p.is_absolute() else Path.cwd() / p
        try:
            return absolute.resolve().relative_to(self.top.resolve()).as_posix()
        except ValueError:
            return path


# -- history -----------------------------------------------------------------------------------


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
