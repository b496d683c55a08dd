"""A sandbox's two folders on the machine, what ties them, and the sandboxes whose records are gone.

* ``ROOT/NAME`` (``Sandbox.dir``): its records (``state.json``), its network namespace files
  (``ns/``, nsfs mounts) and crun's state;
* ``RUN_DIR/KEY`` (``Sandbox.run_dir``; KEY is NAME-HASH, HASH of the resolved ``ROOT/NAME``, so two
  roots never clash): its hosts' folders (``RUN_DIR/KEY/HOST``) and mounts (writable layers, data
  and socket tmpfs), and the template cache (:data:`CACHE_FOLDER`).  ``ROOT/NAME/hosts`` links
  there, and its file :data:`FOLDER_FILE` names ``ROOT/NAME``.  It is a folder every id can reach,
  whatever ROOT is (crun makes a host's root folder private from inside its user namespace, so every
  folder above it must be searchable by the host's ids).

Teardown starts from the records, and a sandbox whose ``ROOT/NAME`` was deleted while it was up (a
user's ``rm -rf``, a CI cleanup) has none left: :func:`orphans` finds it from the machine's side.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .state import SANDBOX_NAME_RE, SANDBOX_STATE_FILE

if TYPE_CHECKING:
    from .core import Sandbox

RUN_DIR = Path("/run/runbook-sandbox/hosts")
FOLDER_FILE = ".sandbox"
"""In ``RUN_DIR/KEY``: the sandbox's folder ``ROOT/NAME`` (resolved), written by ``up`` (no host is
named so: a host name starts with a letter or digit)."""
CACHE_FOLDER = "_cache"
"""In ``RUN_DIR/KEY``: the sandbox's own cluster templates (a tmpfs), beside the hosts' folders under
a name no host can have (``cache`` was a guide's host's too)."""


def key_of(folder: Path) -> str:
    """KEY of the sandbox whose folder is ``folder`` (``ROOT/NAME``): its run folder's and cgroups' name."""
    return f"{folder.name}-{hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]}"


def make(sb: Sandbox) -> None:
    """``ROOT/NAME``, ``RUN_DIR/KEY`` (and the folders above it), the link from the first to the second
    and :data:`FOLDER_FILE`.  Called by ``up`` under the root's lock."""
    sb.dir.mkdir(exist_ok=True)
    os.chmod(sb.dir, 0o755)
    for d in (*reversed(sb.run_dir.parents[:-1]), sb.run_dir):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o755)
    marker = sb.run_dir / FOLDER_FILE
    if not marker.is_file():
        marker.write_text(f"{sb.dir.resolve()}\n")
    if not (sb.dir / "hosts").is_symlink():
        (sb.dir / "hosts").symlink_to(sb.run_dir)


def folder_of(key: str, root: Path) -> Path | None:
    """The sandbox folder whose run folder is ``RUN_DIR/KEY``, when it is ``root``'s: the one its
    :data:`FOLDER_FILE` names, or (a run folder made before there was one) ``root/NAME``; only if KEY
    is that folder's key.  None otherwise: such a run folder is never touched."""
    candidates = []
    try:
        candidates.append(Path((RUN_DIR / key / FOLDER_FILE).read_text().strip()))
    except OSError:
        pass
    candidates.append(Path(root) / key.rpartition("-")[0])
    for c in candidates:
        if c.is_absolute() and SANDBOX_NAME_RE.match(c.name) and c.parent.resolve() == Path(root).resolve() \
                and key_of(c) == key:
            return c
    return None


def orphans(root: Path) -> list[str]:
    """Names of the sandboxes of ``root`` whose folder ``root/NAME`` was deleted while they were up.

    What is recognised as such, and only that: a run folder ``RUN_DIR/KEY`` whose sandbox folder is
    known (named by its :data:`FOLDER_FILE`, or ``root/NAME`` for a run folder older than that file),
    is in ``root``, has KEY as its key (KEY is NAME and a hash of the folder's path: no other
    sandbox's), and holds no ``state.json``.  The caller holds ``root``'s lock (:func:`.state.root_lock`),
    under which every ``up`` writes the state before it leaves its run folder and ``down`` removes
    the run folder before the state: so a sandbox that is up, being brought up or being taken down
    (its state is there), another root's, or one whose folder cannot be told for sure, is never
    among them."""
    if not RUN_DIR.is_dir():
        return []
    out = []
    for d in sorted(RUN_DIR.iterdir()):
        folder = folder_of(d.name, root) if d.is_dir() else None
        if folder is not None and not (folder / SANDBOX_STATE_FILE).exists():
            out.append(folder.name)
    return out
