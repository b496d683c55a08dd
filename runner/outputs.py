"""Writing the commands' output files whole or not at all (a temporary name, then a rename), with the
permissions the user's umask gives a new file; a missing folder is an error unless ``--mkdir``."""

from __future__ import annotations

import os
from pathlib import Path

from runbook import atomic
from runbook.atomic import umask
from runbook.errors import UsageError

__all__ = ["folder_ready", "umask", "write_atomic", "write_files"]


def folder_ready(folder: Path, mkdir: bool, what: str = "") -> None:
    """``folder`` exists (created with ``mkdir``); else a usage error that says how to have it made."""
    if folder.is_dir():
        return
    if folder.exists():
        raise UsageError(f"{folder}: not a folder{what}")
    if not mkdir:
        raise UsageError(f"{folder}/: no such folder{what} (create it, or give --mkdir)")
    folder.mkdir(parents=True, exist_ok=True)


def write_atomic(path: Path, text: str, *, mkdir: bool = False, mode: int = 0o666) -> None:
    """Write a whole file or nothing (:func:`runbook.atomic.write_atomic`) into a folder that exists
    (or is made with ``mkdir``); the file gets ``mode`` less the umask, as ``open()`` would give it."""
    path = Path(path)
    folder_ready(path.parent if str(path.parent) else Path("."), mkdir, f" for {path.name}")
    atomic.write_atomic(path, text, mode=mode)


def write_files(folder: Path, files: dict[str, str], executable: tuple[str, ...] = (".sh",), *,
                make_folders: bool = False, mkdir: bool = False) -> None:
    """Write every file or none: temporaries first (same folder), then rename them all.  ``folder``
    itself is made when its parent exists (it is the output named), its missing parents only with
    ``mkdir``.  With ``make_folders``, names may hold folders (a site's pages), made as needed and
    removed again on failure."""
    folder = Path(folder)
    if not folder.is_dir():
        folder_ready(folder.parent if str(folder.parent) else Path("."), mkdir, f" for {folder.name}/")
        folder.mkdir(exist_ok=True)
    temps: list[tuple[str, Path]] = []
    made: list[Path] = []
    try:
        for name, text in files.items():
            final = folder / name
            if make_folders:
                for parent in reversed(final.relative_to(folder).parents[:-1]):
                    if not (folder / parent).is_dir():
                        (folder / parent).mkdir()
                        made.append(folder / parent)
            tmp = atomic.write_temp(str(final), text, mode=0o777 if name.endswith(executable) else 0o666)
            temps.append((tmp, final))
        for tmp, final in temps:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        for made_folder in reversed(made):
            try:
                made_folder.rmdir()
            except OSError:
                pass
        raise
