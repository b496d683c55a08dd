"""Git access for reading guides: ``REV:PATH`` sides and a file's first-parent history.

Every failure of git (not installed, not a repository, unknown revision, file not in a revision)
becomes a clear :class:`UsageError`, never a traceback.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import UsageError
from .load import load_graph
from .model import Graph
from .parse import decode_guide


def split_rev_path(spec: str) -> tuple[str, str] | None:
    """``REV:PATH`` -> (REV, PATH); None for a plain path (or an existing file whose name has a colon)."""
    if ":" not in spec or Path(spec).exists():
        return None
    rev, path = spec.split(":", 1)
    if not rev or not path:
        return None
    return rev, path


def read_side(spec: str, repo: Path, lang: str | None, site_config: str | None = None) -> Graph:
    """A step graph from a file or from ``REV:PATH`` in ``repo``."""
    rp = split_rev_path(spec)
    if rp is None:
        return load_graph(spec, lang, site_config=site_config)
    rev, path = rp
    git = Git(repo)
    data = git.show(rev, path)
    return load_graph(path, lang, text=decode_guide(data, spec), display=spec, site_config=site_config)


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
