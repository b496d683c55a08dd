"""Edits stage (with blocks): prose that describes an edit without a before block -> the edit.

Settings given in a paragraph or in the list after it (``wal_level = logical`` …), lines a paragraph
says to add to a file (``追記します`` / ``add``); the file the prose names (a typo resolved when one
file is close) and its path (the guide's own, else the platform's of the hosts' ``OS`` field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import lexicon as lexicons
from ..kinds import EditKind, Severity, VariableKind
from ..lexicon import Lexicon
from ..model import Action, Host, Span, Variable
from .outline import Node
from .problems import Problems

PG_MAJOR = "{pg_major}"
"""Stands for the guide's PostgreSQL major version in a path a platform gives (``common.toml``), until
the variables stage knows it (:func:`fill_paths`)."""
APPEND_LANGS = {"", "conf", "text", "ini", "cfg", "pgconf", "properties"}
"""Blocks that hold lines to add to a file."""

_CODE_RE = re.compile(r"`([^`\n]+)`")
_FILE_RE = re.compile(r"^(?P<dir>/[^\s`]*/)?(?P<name>[A-Za-z0-9_.\-]+\.[A-Za-z]{2,5})$")
_SETTING_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<value>\S.*)$")
_CONF_LINE_RE = r"(?m)^\s*{name}\s*="


@dataclass(slots=True)
class Mention:
    """A file named in a paragraph."""

    written: str
    """As the prose writes it (``postresql.conf``, or a whole path)."""
    name: str | None
    """The known file it names (``postgresql.conf``); None when no known file, or several, are close."""
    close: list[str]
    """The known files close to it."""
    directory: str | None = None
    """The directory, when the prose writes a whole path."""


@dataclass(slots=True)
class Intro:
    """A paragraph that describes an edit."""

    kind: EditKind
    mention: Mention
    settings: list[str]
    """``settings``: the ``name = value`` lines, in order."""
    span: Span
    """The paragraph, and for a list of settings the list too."""


@cache
def _known() -> tuple[str, ...]:
    return tuple(lexicons.common().get("files", {}).get("names", []))


@cache
def _platforms() -> list[dict[str, Any]]:
    return list(lexicons.common().get("platforms", []))


def mention(raw: str) -> Mention | None:
    """The first inline code of ``raw`` that names a file: a known one, one close to a known one, or
    any ``*.conf``."""
    if "`" not in raw:
        return None
    for code in _CODE_RE.findall(raw):
        m = _FILE_RE.match(code.strip())
        if not m:
            continue
        written = m.group("name")
        close = _close(written)
        if close or written.endswith(".conf"):
            return Mention(code.strip(), close[0] if len(close) == 1 else None, close, m.group("dir"))
    return None


@cache
def _close(written: str) -> list[str]:
    """The known files ``written`` names: itself, or those within two edits of it."""
    known = _known()
    if written in known:
        return [written]
    return [k for k in known if abs(len(k) - len(written)) <= 2 and _distance(written, k) <= 2]


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from ``a`` to ``b``: a typo is one or two."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


def settings_in(raw: str) -> list[str]:
    """The ``name = value`` inline codes of a paragraph, in order."""
    return [c.strip() for c in _CODE_RE.findall(raw) if _SETTING_RE.match(c.strip())]


def intro(nodes: list[Node], i: int, end: int, lex: Lexicon) -> Intro | None:
    """What the paragraph ``nodes[i]`` of a step (that ends before ``end``) describes: settings
    (inline, or the items of the list right after it, each starting with a setting), or lines to
    add from the block right after it; None for anything else.  A list of settings that a later block
    of the step sets again is a summary of that edit, not an edit."""
    node = nodes[i]
    inline = node.inline
    if inline is None:
        return None
    found = mention(inline.raw)
    if found is None:
        return None
    nxt = nodes[i + 1] if i + 1 < end else None
    settings = settings_in(inline.raw)
    span = node.span
    if not settings and nxt is not None and nxt.kind == "list" and not nxt.ordered:
        j = i + 1
        while True:
            items = _list_settings(nodes, j, end)
            if items is None:
                return None
            found_here, last = items
            settings += found_here
            span = Span(span.file, span.line, nodes[last].span.end_line)
            # Explanations between the items: a paragraph, then the list goes on with a setting.
            gap = last + 1
            between = nodes[gap].inline if gap + 1 < end and nodes[gap].kind == "paragraph" else None
            if not (found_here and between is not None and nodes[gap].depth == 0 and mention(between.raw) is None
                    and nodes[gap + 1].kind == "list" and not nodes[gap + 1].ordered):
                break
            more = _list_settings(nodes, gap + 1, end)
            if more is None or not more[0]:
                break
            j = gap + 1
    if settings:
        if _shown_later(settings, nodes[i + 1:end]):
            return None
        return Intro(EditKind.SETTINGS, found, settings, span)
    if (nxt is not None and nxt.kind == "fence" and nxt.lang in APPEND_LANGS and lex.says_append(inline.plain)):
        return Intro(EditKind.APPEND, found, [], span)
    return None


def named(node: Node) -> Intro | None:
    """The file a heading or paragraph names (``マスターの`postgresql.con`に…``, a typo resolved later):
    the file a before/after edit with no path paragraph edits."""
    found = mention(node.inline.raw) if node.inline is not None else None
    return Intro(EditKind.SETTINGS, found, [], node.span) if found is not None else None


def _list_settings(nodes: list[Node], j: int, end: int) -> tuple[list[str], int] | None:
    """The settings the items of the list ``nodes[j]`` start with, and the list's last node; None when
    the list holds a block (then it is no list of settings)."""
    settings: list[str] = []
    last = j
    for k in range(j + 1, end):
        item = nodes[k]
        if item.list != nodes[j].list:
            break
        last = k
        if item.kind == "fence":
            return None
        if item.depth == 1 and item.inline is not None:
            first = re.match(r"^\s*`([^`]+)`", item.inline.raw)
            if first and _SETTING_RE.match(first.group(1).strip()):
                settings.append(first.group(1).strip())
    return settings, last


def _shown_later(settings: list[str], rest: list[Node]) -> bool:
    names = [m.group("name") for s in settings if (m := _SETTING_RE.match(s))]
    return any(node.kind == "fence" and any(re.search(_CONF_LINE_RE.format(name=re.escape(n)), node.code)
                                            for n in names) for node in rest)


@cache
def _path_re() -> re.Pattern[str] | None:
    names = "|".join(re.escape(n) for n in _known())
    return re.compile(rf"(/[\w.\-/]*/)({names})(?![\w.])") if names else None


def guide_paths(nodes: list[Node], lex: Lexicon) -> dict[str, str]:
    """Known file name -> the path the guide itself writes for it (a path paragraph, or code)."""
    found: dict[str, str] = {}
    pattern = _path_re()
    if pattern is None:
        return found
    for node in nodes:
        texts = [node.code] if node.kind == "fence" else []
        if node.inline is not None:
            texts.append(node.inline.raw)
        for text in texts:
            if ".conf" not in text:
                continue
            for m in pattern.finditer(text):
                found.setdefault(m.group(2), m.group(1) + m.group(2))
    return found


def resolve(intro_: Intro, hosts: list[Host], targets: list[str], known_paths: dict[str, str],
            problems: Problems) -> str | None:
    """The path of the file an edit's prose names, or None (a fatal problem says what would settle it)."""
    m = intro_.mention
    span = intro_.span
    first = Span(span.file, span.line, span.line)
    if m.name is None:
        known = ", ".join(f"`{k}`" for k in _known())
        options = " or ".join(f"`{c}`" for c in m.close) if m.close else f"no file this reader knows ({known})"
        example = m.close[0] if m.close else "FILE"
        problems.fail("edit-file-unknown", f"`{m.written}` names {options}: write a file path paragraph "
                      f"(`/…/{example}`:) before the settings or lines to add", first)
        return None
    if m.name != m.written.rsplit("/", 1)[-1]:
        problems.defect("file-name-typo", Severity.WARNING,
                        f"`{m.written}` is read as `{m.name}` (a typo?): write `{m.name}`", first)
    if m.directory:
        return m.directory + m.name
    if m.name in known_paths:
        return known_paths[m.name]
    by_id = {h.id: h for h in hosts}
    systems = [by_id[t].os for t in targets if t in by_id and by_id[t].os] or [h.os for h in hosts if h.os]
    for os_name in systems:
        for platform in _platforms():
            if re.search(platform["os"], os_name or "") and m.name in platform.get("files", {}):
                return str(platform["files"][m.name])
    default = _platforms()[0] if _platforms() else None
    if default is None or m.name not in default.get("files", {}):
        problems.fail("edit-path-unknown", f"cannot tell where `{m.name}` is: write a file path paragraph "
                      f"(`/…/{m.name}`:) before the settings or lines to add", first)
        return None
    path = str(default["files"][m.name])
    problems.defect("edit-path-assumed", Severity.WARNING,
                    f"no host's OS field names a known platform: `{m.name}` is read as {default['name']}'s "
                    f"{path.replace(PG_MAJOR, 'VERSION')}; add the OS to the environment or write a file path "
                    "paragraph before it", first)
    return path


SERVER_PATHS = {"postgresql.conf": "{server:config_file}", "pg_hba.conf": "{server:hba_file}",
                "pg_ident.conf": "{server:ident_file}",
                "postgresql.auto.conf": "{server:data_directory}/postgresql.auto.conf"}
"""Where a file is when the guide says neither its path nor the PostgreSQL version: the runner asks the
host's server (``SHOW config_file`` …) when the edit runs."""


def fill_paths(actions: list[Action], variables: list[Variable], problems: Problems) -> None:
    """Put the guide's PostgreSQL major version into the paths the platform gave; without one, the
    path is the server's own, asked at run time (``SHOW config_file``), and a finding says so."""
    version = next((v.value for v in variables if v.kind == VariableKind.PG_MAJOR), None)
    for a in actions:
        if a.path is None or PG_MAJOR not in a.path:
            continue
        if version is None:
            name = a.path.rsplit("/", 1)[-1]
            where = a.path_span or a.span
            server = SERVER_PATHS.get(name)
            if server is None:
                problems.fail("edit-path-unknown",
                              f"the prose names `{name}`, whose path holds the PostgreSQL version, but no command of "
                              f"the guide names one: write a file path paragraph (`{a.path.replace(PG_MAJOR, '16')}`:) "
                              "before it", where)
                continue
            query = server.split("}", 1)[0].removeprefix("{server:")
            problems.defect("edit-path-unknown", Severity.WARNING,
                            f"the prose names `{name}` without its path and no command of the guide names the "
                            f"PostgreSQL version: the path is asked from the server when the edit runs "
                            f"(SHOW {query}); write a file path paragraph (`{a.path.replace(PG_MAJOR, '16')}`:) "
                            "before it to say it", where)
            problems.defects = [d for d in problems.defects if not (d.rule == "edit-path-assumed" and d.span == where)]
            a.path = server
            continue
        a.path = a.path.replace(PG_MAJOR, version)
