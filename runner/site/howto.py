"""Single-host how-to pages that use "the PostgreSQL you have" (docs/site.md).

An untagged page on one host whose shell steps are ``createdb api``, ``psql api`` and SQL is written
for a machine where PostgreSQL is installed and running and the reader's user may create
databases. Such a page runs on the shared example server's host, where that holds (its user is a
superuser there), one such page at a time; the databases and roles it made are dropped after it.
A page that installs or initializes PostgreSQL itself is a guide of its own, on its own sandbox.
"""

from __future__ import annotations

import re
import subprocess

from runbook.kinds import ActionKind, Shape
from runbook.model import Graph

_SETS_UP_POSTGRESQL = re.compile(
    r"\b(?:initdb|pg_createcluster|pg_ctlcluster|postgresql-\d*-?setup|pg_ctl)\b|"
    r"\b(?:apt|apt-get|yum|dnf|zypper|brew|port|pkg)\b.*\binstall\b.*\bpostgres|"
    r"\bsystemctl\b.*\b(?:start|enable|restart)\b.*\bpostgresql|\bservice\s+postgresql\b")
_OWN = re.compile(r"^(?:p\d{3}|runbook_template|postgres$|template[01]$)")
"""Databases that are the example server's own (a page's, a template, PostgreSQL's)."""


def uses_running_server(graph: Graph | None, shape: str) -> bool:
    """An untagged single-host page with shell steps that does not install or initialize
    PostgreSQL itself: it expects one installed and running."""
    if graph is None or shape != Shape.UNTAGGED_GUIDE or len(graph.hosts) > 1:
        return False
    commands = [c.text for a in graph.actions() for c in a.commands]
    if not commands or any(_SETS_UP_POSTGRESQL.search(text) for text in commands):
        return False
    return any(a.kind in (ActionKind.SHELL, ActionKind.CONSOLE) for a in graph.actions())


def snapshot(psql: list[str]) -> tuple[set[str], set[str]]:
    """The server's databases and roles (``psql``: argv of a psql as postgres, without ``-c``)."""
    dbs = subprocess.run([*psql, "-A", "-t", "-c", "SELECT datname FROM pg_database"], capture_output=True,
                         text=True, timeout=60, check=False).stdout.split()
    roles = subprocess.run([*psql, "-A", "-t", "-c", "SELECT rolname FROM pg_roles"], capture_output=True,
                           text=True, timeout=60, check=False).stdout.split()
    return set(dbs), set(roles)


def clean_up(psql: list[str], before: tuple[set[str], set[str]]) -> None:
    """Drop the databases and roles made since ``before`` (not the example pages' own)."""
    dbs, roles = snapshot(psql)
    for db in sorted(dbs - before[0]):
        if not _OWN.match(db):
            subprocess.run([*psql, "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], capture_output=True,
                           timeout=60, check=False)
    for role in sorted(roles - before[1]):
        subprocess.run([*psql, "-c", f'DROP OWNED BY "{role}"; DROP ROLE IF EXISTS "{role}"'], capture_output=True,
                       timeout=60, check=False)
