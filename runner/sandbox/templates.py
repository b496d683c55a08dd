"""Cluster templates (a speed setting, docs/sandbox.md): ``runbook-createcluster`` in a host copies a
saved template instead of running initdb.

The machine's templates (``/var/cache/runbook/clusters``, shown read-only in every host) are made only
here, by the sandbox itself, in a host of a sandbox that has just come up, before any guide command ran
in it: a guide can never plant a cluster in another run's hosts.  What a host saves goes to its
sandbox's own cache, gone with the sandbox.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .state import PG_PORT, SECURE_PATH, SandboxError

if TYPE_CHECKING:
    from .core import Sandbox

MACHINE_CACHE = Path("/var/cache/runbook/clusters")
CLUSTER = "main"
UNUSED_DAYS = 30


def pg_versions() -> list[str]:
    """Installed PostgreSQL versions (Debian's /usr/lib/postgresql/VERSION/bin/initdb), oldest first."""
    root = Path("/usr/lib/postgresql")
    found = [p.name for p in root.iterdir() if (p / "bin" / "initdb").exists()] if root.is_dir() else []
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".") if x.isdigit()))


SESSION_LOCALE = ("LC_MESSAGES=C.UTF-8",)
"""What runner.session's shells export of the key's environment, besides LANG (sudo keeps LANG, LC_*)."""


def _locale(lang: str) -> list[str]:
    return [f"LANG={lang}", *SESSION_LOCALE]


def key(version: str, lang: str) -> str | None:
    """The template's key as ``sudo runbook-createcluster VERSION main 5432`` computes it in a guide's
    shell of a host (``LANG=lang`` and :data:`SESSION_LOCALE`)."""
    script = Path(str(resources.files("runner") / "data" / "runbook-createcluster"))
    cp = subprocess.run(["env", "-i", f"PATH={SECURE_PATH}", *_locale(lang), "bash", str(script), "--key", version,
                         CLUSTER, str(PG_PORT)], capture_output=True, text=True, timeout=30)
    out = cp.stdout.strip()
    return out if cp.returncode == 0 and out else None


def newest_key(lang: str) -> tuple[str, str] | None:
    """(version, key) of the template of the newest PostgreSQL installed."""
    versions = pg_versions()
    if not versions:
        return None
    k = key(versions[-1], lang)
    return (versions[-1], k) if k else None


def ensure(sb: Sandbox, host: str, lang: str, version_key: tuple[str, str] | None) -> str | None:
    """Make the machine's template ``version_key`` (:func:`newest_key`) if it is missing, in ``host``
    (fresh: no guide command ran in its sandbox yet).  Returns a note when it made one."""
    if version_key is None:
        return None
    version, k = version_key
    name = f"{version}-{CLUSTER}-{k}"
    if (MACHINE_CACHE / name / "done").is_file():
        return None
    t0 = time.monotonic()
    cp = sb.run(host, ["env", *_locale(lang), "runbook-createcluster", version, CLUSTER, str(PG_PORT)], timeout=120)
    made = sb.cache_dir / "clusters" / name
    if cp.returncode != 0 or not (made / "done").is_file():
        return None  # the guide's own step will run pg_createcluster and say why
    sb.run(host, ["bash", "-c", "rm -rf /etc/postgresql/* /var/lib/postgresql/* /var/log/postgresql/*"])
    base = sb.ids().base
    MACHINE_CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(MACHINE_CACHE, 0o700)
    tmp = MACHINE_CACHE / f".tmp.{os.getpid()}.{k}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(made, tmp, symlinks=True)
        for dirpath, dirnames, filenames in os.walk(made):  # owners as on the machine (the copy is root's)
            for n in [*dirnames, *filenames]:
                src = os.path.join(dirpath, n)
                st = os.lstat(src)
                os.lchown(tmp / os.path.relpath(src, made), st.st_uid - base if st.st_uid >= base else 0,
                          st.st_gid - base if st.st_gid >= base else 0)
        os.chown(tmp, 0, 0)
        try:
            os.rename(tmp, MACHINE_CACHE / name)
        except OSError:  # another sandbox made it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SandboxError(f"cannot save the cluster template {MACHINE_CACHE / name}: {e}") from e
    _prune(keep=name)
    return f"made the cluster template {MACHINE_CACHE / name} ({time.monotonic() - t0:.1f}s)"


def _prune(keep: str) -> None:
    """Remove the machine's templates made more than 30 days ago (other versions, binaries, settings)."""
    limit = time.time() - UNUSED_DAYS * 86400
    for p in MACHINE_CACHE.iterdir():
        if p.name == keep:
            continue
        with contextlib.suppress(OSError):
            done = p / "done"
            if (done.is_file() and done.stat().st_mtime < limit) or (p.name.startswith(".tmp.")
                                                                     and p.stat().st_mtime < time.time() - 86400):
                shutil.rmtree(p)
