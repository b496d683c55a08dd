"""Paths a guide does not give, asked from the host's PostgreSQL server when an edit runs.

A page that edits ``postgresql.conf`` without naming its path or the PostgreSQL version reads as an
edit of ``{server:config_file}`` (``runbook/read/edits.py``, ``SERVER_PATHS``): on the host, the
running server says where its file is (``SHOW config_file``, ``SHOW hba_file``, ``SHOW ident_file``,
``SHOW data_directory``), as a database administrator would ask it.
"""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER_RE = re.compile(r"^\{server:(?P<setting>config_file|hba_file|ident_file|data_directory)\}(?P<rest>.*)$")


def is_server_path(path: str | None) -> bool:
    return bool(path) and _PLACEHOLDER_RE.match(path or "") is not None


def server_path(transport: Any, host: str, path: str, timeout: float) -> tuple[str | None, str]:
    """``(the path on host, how it was found)``, or ``(None, why not)``."""
    m = _PLACEHOLDER_RE.match(path)
    if m is None:
        return path, ""
    setting = m.group("setting")
    res = transport.run_root(host, ["runuser", "-u", "postgres", "--", "psql", "-X", "-A", "-t", "-c",
                                    f"SHOW {setting}"], timeout=timeout)
    value = res.stdout.decode(errors="replace").strip()
    if res.returncode != 0 or not value.startswith("/"):
        why = res.stderr.decode(errors="replace").strip() or value or f"exit status {res.returncode}"
        return None, f"cannot ask the server where its file is (SHOW {setting}): {why}"
    return value + m.group("rest"), f"the guide names no path: the server says (SHOW {setting})"
