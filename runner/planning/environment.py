"""The host environment: what this machine (whose Debian system the sandbox hosts share) has installed,
and the steps it blocks: a feature missing (PGroonga), a program the hosts lack."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from runbook.read.commands import programs

from ..sandbox.state import SECURE_PATH
from ..status import SubstitutionKind
from .model import Substitution


def installed_pg_versions() -> list[str]:
    base = Path("/usr/lib/postgresql")
    if not base.is_dir():
        return []
    return sorted((p.name for p in base.iterdir() if (p / "bin" / "postgres").exists()), key=lambda v: float(v))


def pgroonga_installed(version: str) -> bool:
    return extension_installed("pgroonga", version)


def extension_installed(name: str, version: str) -> bool:
    return Path(f"/usr/share/postgresql/{version}/extension/{name}.control").exists()


FEATURES: dict[str, Any] = {
    "pgroonga": (pgroonga_installed,
                 "PGroonga is not installed for PostgreSQL {version}",
                 "install PGroonga for PostgreSQL {version} on this machine (package "
                 "postgresql-{version}-pgdg-pgroonga from packages.groonga.org), then run again"),
}


def extension_block(name: str, version: str | None) -> Substitution | None:
    """Why a page that needs extension ``name`` is blocked here (and what would lift it), or None."""
    if version is not None and extension_installed(name, version):
        return None
    feature = FEATURES.get(name)
    if feature is not None:
        _, message, lift = feature
        return Substitution(SubstitutionKind.BLOCK, None, message.format(version=version), lift.format(version=version))
    return Substitution(SubstitutionKind.BLOCK, None, f"the {name} extension is not installed for PostgreSQL {version}",
                        f"install the {name} extension for PostgreSQL {version} on this machine, then run again")


@cache
def shell_words() -> frozenset[str]:
    """bash's builtins and keywords (``cd``, ``for`` …): they need no program."""
    try:
        out = subprocess.run(["bash", "-c", "compgen -b -k"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return frozenset(out.split()) | {"[", "[[", "]]", "{", "}", "!"}


def unavailable(text: str) -> Substitution | None:
    """A block when a program of the command does not exist on the sandbox hosts (this machine's
    Debian system, which they share) and no substitution covers it."""
    for prog in programs(text):
        if prog in shell_words():
            continue
        exists = Path(prog).exists() if "/" in prog else shutil.which(prog, path=SECURE_PATH) is not None
        if not exists:
            return Substitution(
                SubstitutionKind.BLOCK, None,
                f"`{prog}` does not exist on the sandbox hosts (Debian) and no substitution covers this command: "
                f"{text.splitlines()[0]}",
                "add a substitution for it to runner/data/substitutions.toml, or run the guide on a target of "
                "its own platform (an inventory)")
    return None

