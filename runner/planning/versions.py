"""Version notes against the installed software (docs/site.md, "Features newer than what is installed").

A page says from which version a feature exists ("4.0.5で追加。", "It's available since 2.4.2."); the
reader attaches such a note to the actions it applies to (``Action.requires``). Where the installed
PostgreSQL or extension is older, the action is *blocked* ("needs PGroonga ≥ 4.0.5, installed
3.2.5"), not failed: the page is right about a newer version.
"""

from __future__ import annotations

import re

from runbook.model import Action

NAMES = {"postgresql": "PostgreSQL", "pgroonga": "PGroonga", "groonga": "Groonga"}
"""How the report names software (else as the note writes it)."""

VERSIONS_SQL = ("SELECT 'postgresql', current_setting('server_version') UNION ALL "
                "SELECT name, coalesce(installed_version, default_version) FROM pg_available_extensions;")
"""The installed versions, in a database holding the site's prelude: an extension's installed
version there, else the version ``CREATE EXTENSION`` would install."""


def version_key(text: str) -> tuple[int, ...]:
    """``4.0.5`` -> (4, 0, 5); ``15.4 (Debian 15.4-1)`` -> (15, 4); ``3.2.5-dev`` -> (3, 2, 5)."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def parse_versions(output: str) -> dict[str, str]:
    """``name|version`` lines (``psql -A -t``) -> {name: version}, names in lower case."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        name, sep, version = line.partition("|")
        if sep and name.strip() and version.strip():
            found[name.strip().lower()] = version.strip().split()[0]
    return found


def requirement_block(action: Action, versions: dict[str, str] | None) -> str | None:
    """Why ``action`` is blocked by one of its version notes (``needs PGroonga ≥ 4.0.5, installed
    3.2.5 (line 40: “4.0.5で追加。”)``), or None (no note, or nothing known of that software)."""
    if not versions:
        return None
    for req in action.requires:
        key = req.software.lower()
        have = versions.get(key)
        if have is None or not version_key(req.version) or not version_key(have):
            continue
        if version_key(have) < version_key(req.version):
            name = NAMES.get(key, req.software)
            return (f"needs {name} ≥ {req.version}, installed {have} (line {req.span.line}: "
                    f"“{req.text.strip()}”)")
    return None
