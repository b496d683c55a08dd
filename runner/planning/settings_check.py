"""Settings a guide writes, checked against the target's PostgreSQL before a run (and in ``--plan``).

What is checked: every ``name = value`` a guide writes into a PostgreSQL configuration file (an edit
or an append of ``postgresql.conf``, ``postgresql.auto.conf`` or a ``conf.d`` file, settings given in
prose), every ``ALTER SYSTEM SET`` and ``SET``, and every configuration file a guide writes, edits or
names in a command (``recovery.conf``).

Against what: the parameters the target's ``postgres --describe-config`` prints, and the
``pg_settings`` of a scratch cluster of the same PostgreSQL started with the libraries the guide
loads (``shared_preload_libraries``, ``CREATE EXTENSION``) in ``shared_preload_libraries``: that is
where an extension's parameters (``pgroonga.enable_wal``), enum values and units come from.  The
scratch cluster listens on a Unix socket only, runs once per PostgreSQL binary and set of libraries,
and its answer is cached (``/var/cache/runbook/settings``).

Findings (lint rules, and ``# warning:`` lines of the plan), each at the guide's line:
``setting-unknown`` (with the closest known name), ``setting-removed`` and ``config-file-obsolete``
(from ``runner/data/settings.toml``: the version and what replaces it), ``setting-value`` (a value of
the wrong type, not one of an enum's values, or out of range).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.atomic import write_atomic
from runbook.kinds import ActionKind, Severity
from runbook.model import Action, Finding, Graph, Span
from runbook.secrets import Masker

CACHE = Path(os.environ.get("RUNBOOK_SETTINGS_CACHE", "/var/cache/runbook/settings"))
_CONF_RE = re.compile(r"(^|/)(postgresql(\.auto)?\.conf|conf\.d/[^/]+\.conf)$|^\{server:config_file\}$")
_LINE_RE = re.compile(r"^\s*(?P<name>[A-Za-z_][\w.]*)\s*(?:=\s*|\s+)(?P<value>.*?)\s*$")
_SQL_SET_RE = re.compile(r"^\s*(?:ALTER\s+SYSTEM\s+)?SET\s+(?:SESSION\s+|LOCAL\s+)?(?P<name>[A-Za-z_][\w.]*)\s*"
                         r"(?:=|\bTO\b)\s*(?P<value>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_SHELL_ALTER_RE = re.compile(r"ALTER\s+SYSTEM\s+SET\s+(?P<name>[A-Za-z_][\w.]*)\s*(?:=|\bTO\b)\s*"
                             r"(?P<value>'(?:[^']|'')*'|[^;\s\"]+)", re.IGNORECASE)
"""``ALTER SYSTEM SET`` inside a shell command (``psql --command "ALTER SYSTEM SET …"``)."""
_CREATE_EXTENSION_RE = re.compile(r"CREATE\s+EXTENSION\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(?P<name>\w+)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)"
                        r"\s*(?P<unit>[A-Za-z]*)")
_MEMORY = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    vartype: str
    """``bool``, ``integer``, ``real``, ``string``, ``enum``."""
    unit: str = ""
    min_val: str = ""
    max_val: str = ""
    enumvals: tuple[str, ...] = ()


@dataclass(slots=True)
class Setting:
    name: str
    value: str | None
    line: int
    where: str
    """What wrote it: ``postgresql.conf``, ``ALTER SYSTEM``, ``SET``."""


# -- what the target knows ------------------------------------------------------------------------------


def _bin(version: str) -> Path:
    return Path(f"/usr/lib/postgresql/{version}/bin")


def describe_config(version: str) -> dict[str, Parameter]:
    """Parameters ``postgres --describe-config`` prints (name, type, range; no enum values)."""
    postgres = _bin(version) / "postgres"
    out = subprocess.run(_as_postgres([str(postgres), "--describe-config"]), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    found = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) >= 7:
            kind = {"BOOLEAN": "bool", "INTEGER": "integer", "REAL": "real", "ENUM": "enum"}.get(f[3], "string")
            found[f[0]] = Parameter(f[0], kind, "", f[5], f[6])
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL's programs refuse to run as root: run them as ``postgres`` then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def scratch_settings(version: str, libraries: tuple[str, ...]) -> dict[str, Parameter]:
    """``pg_settings`` of a scratch cluster started with ``libraries`` preloaded (Unix socket only)."""
    work = Path(tempfile.mkdtemp(prefix="runbook-settings-"))
    data, bin_dir = work / "data", _bin(version)
    try:
        if os.geteuid() == 0:
            shutil.chown(work, "postgres")
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "--no-sync",
                                     "-U", "postgres"]), capture_output=True, timeout=120, check=True)
        options = f"-c listen_addresses= -k {work} -p 5432 -c shared_preload_libraries={','.join(libraries)}"
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-s", "-l", str(work / "log"),
                                     "-o", options, "start"]), capture_output=True, timeout=120, check=True)
        try:
            query = ("SELECT name, vartype, coalesce(unit, ''), coalesce(min_val, ''), coalesce(max_val, ''), "
                     "array_to_string(enumvals, ',') FROM pg_settings")
            out = subprocess.run(_as_postgres([str(bin_dir / "psql"), "-X", "-h", str(work), "-p", "5432", "-At",
                                               "-F", "\t", "-c", query, "postgres"]),
                                 capture_output=True, text=True, timeout=60, check=True).stdout
        finally:
            subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-s", "stop"]),
                           capture_output=True, timeout=60, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = {}
    for line in out.splitlines():
        name, kind, unit, lo, hi, enums = (line.split("\t") + [""] * 6)[:6]
        found[name] = Parameter(name, kind, unit, lo, hi, tuple(e for e in enums.split(",") if e))
    return found


def known_parameters(version: str, libraries: tuple[str, ...] = ()) -> tuple[dict[str, Parameter], str]:
    """The target's parameters and a note on where they came from (cached per binary and libraries)."""
    postgres = _bin(version) / "postgres"
    libdir = Path(f"/usr/lib/postgresql/{version}/lib")
    # Only plain names of libraries installed here: a guide's text never names a path to load.
    libraries = tuple(sorted({lib for lib in libraries if re.fullmatch(r"[A-Za-z0-9_-]+", lib)
                              and (libdir / f"{lib}.so").exists()}))
    stamp = [str(postgres.stat().st_mtime_ns)] + [f"{lib}:{(libdir / f'{lib}.so').stat().st_mtime_ns}"
                                                  for lib in libraries]
    key = hashlib.sha256("\n".join([version, *stamp]).encode()).hexdigest()[:16]
    cached = CACHE / f"{version}-{key}.json"
    if cached.is_file():
        data = json.loads(cached.read_text(encoding="utf-8"))
        return {n: Parameter(**{**p, "enumvals": tuple(p["enumvals"])}) for n, p in data.items()}, \
            _note(version, libraries)
    try:
        found = describe_config(version)
    except (OSError, subprocess.SubprocessError) as exc:
        return {}, f"settings not checked: postgres --describe-config of PostgreSQL {version} failed ({exc})"
    try:
        found.update(scratch_settings(version, libraries))
    except (OSError, subprocess.SubprocessError) as exc:  # describe-config alone: no extension's, no enums
        return found, (f"settings checked against PostgreSQL {version}'s --describe-config only "
                       f"(scratch cluster failed: {exc})")
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, json.dumps({n: _as_dict(p) for n, p in found.items()}))
    except OSError:
        pass  # no cache here: asked again next time
    return found, _note(version, libraries)


def _as_dict(p: Parameter) -> dict[str, Any]:
    return {"name": p.name, "vartype": p.vartype, "unit": p.unit, "min_val": p.min_val, "max_val": p.max_val,
            "enumvals": list(p.enumvals)}


def _note(version: str, libraries: tuple[str, ...]) -> str:
    loaded = f" with {', '.join(libraries)} loaded" if libraries else ""
    return f"settings checked against PostgreSQL {version}{loaded}"


@cache
def _data() -> dict[str, Any]:
    return tomllib.loads((resources.files("runner") / "data" / "settings.toml").read_text(encoding="utf-8"))


def _major(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


# -- what the guide writes ---------------------------------------------------------------------------------


def _lines(graph: Graph) -> list[str]:
    try:
        return Path(graph.source.file).read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return []


def _line_of(source: list[str], text: str, span: Span | None, default: int) -> int:
    """The guide's line of ``text`` inside ``span`` (the block or paragraph it came from)."""
    if span is None:
        return default
    for n in range(span.line, min(span.end_line, len(source)) + 1):
        if text in source[n - 1]:
            return n
    return default


def _conf_lines(action: Action) -> list[tuple[str, str]]:
    out = []
    for raw in (action.after or "").splitlines():
        text = raw.split("#", 1)[0] if "'" not in raw.split("#", 1)[0] or raw.count("'") % 2 == 0 else raw
        m = _LINE_RE.match(text)
        if m and not raw.lstrip().startswith(("#", "include")):
            out.append((m.group("name"), m.group("value")))
    return out


def guide_settings(graph: Graph) -> tuple[list[Setting], list[tuple[str, int]], tuple[str, ...]]:
    """``(settings, (configuration file named, line), libraries loaded)`` of a guide."""
    source = _lines(graph)
    settings: list[Setting] = []
    files: list[tuple[str, int]] = []
    libraries: list[str] = []
    obsolete = set(_data().get("files", {}))
    for action in graph.actions():
        path = action.path or ""
        base = "postgresql.conf" if path == "{server:config_file}" else path.rsplit("/", 1)[-1]
        if base in obsolete and action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
            files.append((base, (action.path_span or action.span).line))
        if action.kind in (ActionKind.FILE_EDIT, ActionKind.FILE_WRITE) and _CONF_RE.search(path):
            for name, value in _conf_lines(action):
                line = _line_of(source, name, action.after_span or action.span, action.span.line)
                settings.append(Setting(name, value, line, base))
        for cmd in action.commands:
            settings += [Setting(m.group("name"), m.group("value"), cmd.span.line, "ALTER SYSTEM")
                         for m in _SHELL_ALTER_RE.finditer(cmd.text)]
            for name in obsolete:
                if re.search(rf"(^|[/\s]){re.escape(name)}\b", cmd.text):
                    files.append((name, cmd.span.line))
        for st in action.statements:
            sql = "\n".join(x for x in st.sql.split("\n") if not x.lstrip().startswith("--"))
            m = _SQL_SET_RE.match(sql)
            if m:
                where = "ALTER SYSTEM" if sql.lstrip().upper().startswith("ALTER") else "SET"
                settings.append(Setting(m.group("name"), m.group("value"), st.span.line, where))
            libraries += [m.group("name") for m in _CREATE_EXTENSION_RE.finditer(sql)]
    for s in settings:
        if s.name == "shared_preload_libraries" and s.value:
            libraries += [x.strip() for x in s.value.strip("'\"").split(",") if x.strip()]
    return settings, files, tuple(dict.fromkeys(libraries))


# -- the checks -------------------------------------------------------------------------------------------


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _bool(value: str) -> bool:
    v = value.lower()
    if v in ("1", "0", "on", "off"):
        return True
    prefix = bool(v) and any(w.startswith(v) for w in ("true", "false", "yes", "no"))
    return prefix or (len(v) >= 2 and "off".startswith(v))


def _number(value: str, p: Parameter) -> tuple[float | None, str | None]:
    """The value in the parameter's unit, or None and why not."""
    m = _NUMBER_RE.fullmatch(value)
    if not m:
        return None, f"not a number ({p.vartype})"
    num = float(int(m.group("num"), 16)) if m.group("num").lower().startswith("0x") else float(m.group("num"))
    whole = re.fullmatch(r"[+-]?\d+|0[xX][0-9a-fA-F]+", m.group("num"))
    if p.vartype == "integer" and not m.group("unit") and not whole:
        return None, "not an integer"
    unit = m.group("unit")
    if not unit:
        return num, None
    base = re.fullmatch(r"(?P<n>\d*)(?P<u>[A-Za-z]+)", p.unit or "")
    table = _MEMORY if unit in _MEMORY else _TIME if unit in _TIME else None
    if table is None or base is None or base.group("u") not in table:
        return None, f"unit {unit!r} is not one {p.name} takes" + (f" (its unit: {p.unit})" if p.unit else "")
    return num * table[unit] / (table[base.group("u")] * int(base.group("n") or 1)), None


def value_problem(p: Parameter, raw: str) -> str | None:
    """Why ``raw`` is not a value ``p`` takes, or None."""
    value = _unquote(raw)
    if value.upper() == "DEFAULT" or "," in value and p.vartype not in ("string",):
        return None
    if p.vartype == "bool":
        return None if _bool(value) else f"{value!r} is not a boolean (on/off, true/false, yes/no, 1/0)"
    if p.vartype == "enum":
        if not p.enumvals or value.lower() in {e.lower() for e in p.enumvals}:
            return None
        return f"{value!r} is not one of {', '.join(p.enumvals)}"
    if p.vartype in ("integer", "real"):
        num, why = _number(value, p)
        if num is None:
            return f"{value!r}: {why}"
        lo, hi = (float(x) if x else None for x in (p.min_val, p.max_val))
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            unit = f" {p.unit}" if p.unit else ""
            return f"{value!r} is out of range ({p.min_val} .. {p.max_val}{unit})"
    return None


def check_graph(graph: Graph, version: str) -> tuple[list[Finding], str]:
    """Findings for every setting and configuration file of ``graph`` against PostgreSQL ``version``
    installed here, and a note on what was checked against (empty: nothing to check)."""
    settings, files, libraries = guide_settings(graph)
    if not settings and not files:
        return [], ""
    data = _data()
    file = graph.source.file
    findings = []
    for name, line in files:
        gone = data["files"][name]
        if _major(version) >= _major(gone["since"]):
            findings.append(Finding("config-file-obsolete", Severity.WARNING,
                                    f"{name} is not read since PostgreSQL {gone['since']} (PostgreSQL {version} "
                                    f"here): use {gone['use']}", Span(file, line, line)))
    if not settings:
        return findings, f"configuration files checked against PostgreSQL {version}"
    if not (_bin(version) / "postgres").exists():
        return findings, f"settings not checked: PostgreSQL {version} is not installed here"
    known, note = known_parameters(version, libraries)
    if not known:
        return findings, note
    for s in settings:
        findings += _check_setting(s, known, version, file)
    mask = Masker(graph.secrets())  # a value may hold a password
    for f in findings:
        f.message = mask(f.message)
    return sorted(findings, key=lambda f: f.span.line), note


def plan_warnings(graph: Graph, version: str | None) -> tuple[list[Finding], str]:
    """:func:`check_graph` for a plan: nothing when the version is unknown; never raises."""
    if version is None:
        return [], ""
    try:
        return check_graph(graph, version)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return [], f"settings not checked: {exc}"


def _check_setting(s: Setting, known: dict[str, Parameter], version: str, file: str) -> list[Finding]:
    span = Span(file, s.line, s.line)
    p = known.get(s.name) or next((q for n, q in known.items() if n.lower() == s.name.lower()), None)
    if p is not None:
        why = value_problem(p, s.value) if s.value is not None else None
        why_not = f"{s.name} = {s.value} ({s.where}): {why}"
        return [Finding("setting-value", Severity.WARNING, why_not, span)] if why else []
    gone = _data()["removed"].get(s.name)
    if gone is not None and _major(version) >= _major(gone["since"]):
        use = f", use {gone['use']}" if gone["use"] else ""
        return [Finding("setting-removed", Severity.WARNING, f"{s.name} ({s.where}) was removed in PostgreSQL "
                        f"{gone['since']}{use} (PostgreSQL {version} here)", span)]
    close = difflib.get_close_matches(s.name, list(known), n=1, cutoff=0.8)
    prefix = s.name.split(".", 1)[0] + "." if "." in s.name else None
    defined = prefix is not None and any(n.startswith(prefix) for n in known)
    if prefix is not None and not defined and not close:
        return []  # a custom placeholder (myapp.x) that no loaded library claims, like no known name
    hint = f": did you mean {close[0]}?" if close else ""
    return [Finding("setting-unknown", Severity.WARNING, f"{s.name} ({s.where}) is not a parameter of PostgreSQL "
                    f"{version}{' or of the libraries it loads' if prefix else ''}{hint}", span)]
