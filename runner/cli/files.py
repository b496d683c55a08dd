"""Writing the commands' output files whole or not at all (a temporary name, then a rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(folder: Path, files: dict[str, str], executable: tuple[str, ...] = (".sh",), *,
                make_folders: bool = False) -> None:
    """Write every file or none: temporaries first (same folder), then rename them all.  With
    ``make_folders``, names may hold folders (a site's pages), made as needed and removed again on failure."""
    folder.mkdir(parents=True, exist_ok=True)
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
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
            temps.append((tmp, final))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o755 if name.endswith(executable) else 0o644)
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
