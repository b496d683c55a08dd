"""A file written whole or not at all: a temporary file in the same folder, then a rename over it.

The one way runbook writes a file that must never be seen half-written: the command line's output
files (reports, graphs, exports), a guide rewritten with its expected output, the sandbox's records,
and the file edits on a guide's hosts.  The edits run there as a helper made of this module's text
and :mod:`runbook.edit_rules`' (:func:`runbook.edit_rules.helper_source`), so this module uses the
standard library only, imports nothing else from runbook and runs on Python 3.8.
"""

from __future__ import annotations

import functools
import os
import tempfile


@functools.lru_cache(maxsize=None)  # noqa: UP033 (functools.cache: Python 3.9; this runs on 3.8)
def umask() -> int:
    """The process's umask (read once, without changing it where /proc tells it)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def write_temp(path: str, text: str, *, mode: int | None = None, like: str | None = None, sync: bool = False) -> str:
    """A temporary file next to ``path`` holding ``text`` (UTF-8, newlines as they are, bytes read
    with ``surrogateescape`` given back); its name is returned and the caller renames it over
    ``path`` (or removes it).  Its permissions: those
    of the file ``like`` names when it exists (and its owner), else ``mode`` (default 0666) less the
    umask, as ``open()`` would give a new file.  ``sync``: on the disk before the rename."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        old = os.stat(like) if like is not None and os.path.exists(like) else None
        if old is not None:
            os.chmod(tmp, old.st_mode & 0o7777)
            mine = os.stat(tmp)
            if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
                os.chown(tmp, old.st_uid, old.st_gid)
        else:
            os.chmod(tmp, (0o666 if mode is None else mode) & ~umask())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: str | os.PathLike[str], text: str, *, mode: int | None = None, keep: bool = False,
                 sync: bool = False) -> None:
    """Replace ``path`` with ``text`` at once: readers see the old file or the new one, never a part.
    ``keep``: the file keeps its permissions and owner (a new file gets ``mode``, as below); else it
    gets ``mode`` (default 0666) less the umask."""
    path = os.fspath(path)
    tmp = write_temp(path, text, mode=mode, like=path if keep else None, sync=sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
