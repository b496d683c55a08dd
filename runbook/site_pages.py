"""A documentation site: its configuration (``runbook.toml``, ``_config.yml``), its pages, their shapes.

A site is a folder of Markdown pages laid out as a Jekyll site publishes them (PGroonga's site:
English pages at the top, Japanese ones under ``ja/``). ``runbook.toml`` at the site root says what
the pages assume but do not write (docs/site.md): SQL run in every page's database first (the
prelude), extensions the pages need, pages to skip (with a reason), extra volatile patterns. Pages
are found under a folder, honouring ``_config.yml``'s ``exclude`` and leaving out ``_site/``,
``vendor/``, ``_po/``, hidden folders and ``README.md`` files. Reading only: running a site is
``runner/site.py``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from .errors import GuideError
from .kinds import Severity, Shape
from .model import Finding, Graph, Span

SITE_CONFIG = "runbook.toml"
JEKYLL_CONFIG = "_config.yml"
SKIPPED_DIRS = frozenset({"_site", "vendor", "_po"})
"""Folders that never hold pages: Jekyll's output, bundled gems, gettext catalogs."""


@dataclass
class SkipRule:
    """Pages not run (``[[skip]]``)."""

    paths: list[str]
    """Site-relative paths: a page, a folder (``ja/install/``) or a glob (``*/install.md``)."""
    reason: str
    """Shown in the report for every page it skips."""
    line: int


@dataclass
class PageRule:
    """What some pages need besides what every page needs (``[[pages]]``)."""

    paths: list[str]
    extensions: list[str]
    line: int


@dataclass
class VolatilePattern:
    """A value that differs from run to run (``[[volatile]]``), besides runner/data/volatile.toml."""

    name: str
    pattern: str
    line: int


@dataclass
class SiteSettings:
    """A site's ``runbook.toml`` (empty when it has none) and its ``_config.yml``'s ``exclude``."""

    root: Path
    """The site root: the folder of runbook.toml or _config.yml."""
    file: Path | None = None
    """runbook.toml, when there is one."""
    prelude: str = ""
    """SQL run in every example page's database before its first block."""
    prelude_line: int = 0
    """The line of runbook.toml holding the prelude's first line."""
    prelude_template: bool = True
    """True: the prelude runs once in a template database, each page's database is a clone of it.
    False: each page's database is created empty and the prelude runs in it."""
    extensions: list[str] = field(default_factory=list)
    """Extensions every page needs: where one is not installed, pages are blocked."""
    extensions_line: int = 0
    skip: list[SkipRule] = field(default_factory=list)
    pages: list[PageRule] = field(default_factory=list)
    volatile: list[VolatilePattern] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    """``_config.yml``'s ``exclude`` (site-relative names or globs)."""
    jekyll: Path | None = None
    """``_config.yml``, when there is one."""

    def skip_reason(self, rel: str) -> str | None:
        """Why the page at site-relative ``rel`` is skipped (``runbook.toml:LINE: reason``), or None."""
        for rule in self.skip:
            if any(_matches(rel, p) for p in rule.paths):
                return f"{rule.reason} ({self.file.name if self.file else SITE_CONFIG}:{rule.line})"
        return None

    def extensions_for(self, rel: str) -> list[str]:
        """Extensions the page at ``rel`` needs: the site's, then those of every rule naming it."""
        out = list(self.extensions)
        for rule in self.pages:
            if any(_matches(rel, p) for p in rule.paths):
                out += [e for e in rule.extensions if e not in out]
        return out


@dataclass
class Page:
    """A page found in a site."""

    path: Path
    """The file, as found under the folder given."""
    rel: str
    """Its path relative to the site root, with ``/``."""
    skip: str | None = None
    """Why it is not run (a ``[[skip]]`` rule), or None."""


def _matches(rel: str, pattern: str) -> bool:
    pattern = pattern.strip("/") + ("/" if pattern.endswith("/") else "")
    if pattern.endswith("/"):
        return rel.startswith(pattern) or fnmatch.fnmatchcase(rel, pattern + "*")
    return rel == pattern or fnmatch.fnmatchcase(rel, pattern) or rel.startswith(pattern + "/")


# -- runbook.toml -----------------------------------------------------------------------------------

_TOP_KEYS = {"prelude", "prelude_template", "extensions", "skip", "pages", "volatile"}
_TABLE_KEYS = {"skip": {"path", "reason"}, "pages": {"path", "extensions"}, "volatile": {"name", "pattern"}}
_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _key_lines(text: str) -> dict[tuple[str, int, str], int]:
    """(table, index, key) -> line of ``key =`` (table ``""`` is the top level; index counts an array
    of tables' entries from 0). Enough to name the line of a bad key or value."""
    out: dict[tuple[str, int, str], int] = {}
    table, index = "", 0
    counts: dict[str, int] = {}
    in_string = False
    for n, line in enumerate(text.split("\n"), start=1):
        if in_string:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_string = False
            continue
        m = _HEADER_RE.match(line)
        if m:
            table = m.group(2)
            index = counts.get(table, -1) + 1 if m.group(1) == "[[" else 0
            counts[table] = index
            out.setdefault((table, index, ""), n)
            continue
        k = _KEY_RE.match(line)
        if k:
            out.setdefault((table, index, k.group(1)), n)
            rest = line[k.end():]
            if rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1:
                in_string = True
    return out


class _Reader:
    """Checks one runbook.toml, collecting every problem with its line."""

    def __init__(self, path: Path, text: str) -> None:
        self.name = str(path)
        self.lines = _key_lines(text)
        self.findings: list[Finding] = []

    def line(self, table: str, index: int, key: str) -> int:
        return self.lines.get((table, index, key)) or self.lines.get((table, index, "")) or 1

    def bad(self, table: str, index: int, key: str, message: str) -> None:
        n = self.line(table, index, key)
        self.findings.append(Finding("site-config", Severity.ERROR, message, Span(self.name, n, n)))

    def string(self, data: dict[str, Any], table: str, index: int, key: str, *, required: bool = False) -> str:
        value = data.get(key)
        if value is None:
            if required:
                where = f"[[{table}]]" if table else "the top level"
                self.bad(table, index, "", f"{where} needs {key} = \"...\"")
            return ""
        if not isinstance(value, str):
            self.bad(table, index, key, f"{key} must be a string, not {type(value).__name__}")
            return ""
        return value

    def strings(self, data: dict[str, Any], table: str, index: int, key: str, *, required: bool = False) -> list[str]:
        value = data.get(key)
        if value is None:
            if required:
                self.bad(table, index, "", f"[[{table}]] needs {key} = \"...\" (or a list of them)")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.bad(table, index, key, f"{key} must be a string or a list of non-empty strings")
            return []
        return list(value)

    def keys(self, data: dict[str, Any], allowed: set[str], table: str, index: int) -> None:
        for key in data:
            if key not in allowed:
                where = f"in [[{table}]]" if table else "at the top level"
                self.bad(table, index, key, f"unknown key {key!r} {where} (known: {', '.join(sorted(allowed))})")

    def tables(self, data: dict[str, Any], name: str) -> list[tuple[int, dict[str, Any]]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.bad("", 0, name, f"{name} must be an array of tables ([[{name}]])")
            return []
        for i, entry in enumerate(value):
            self.keys(entry, _TABLE_KEYS[name], name, i)
        return list(enumerate(value))


def load_site_settings(root: Path, file: Path | None = None) -> SiteSettings:
    """The configuration of the site at ``root``: its runbook.toml (or ``file``), its _config.yml's
    ``exclude``. Raises :class:`GuideError` (exit status 4) naming file:line for every bad key."""
    config = SiteSettings(root)
    jekyll = root / JEKYLL_CONFIG
    if jekyll.is_file():
        config.jekyll = jekyll
        config.exclude = _jekyll_exclude(jekyll)
    path = file or root / SITE_CONFIG
    if not path.is_file():
        if file is not None:
            raise GuideError(f"{file}: no such file")
        return config
    config.file = path
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        n = int(m.group(1)) if m else 1
        msg = f"not valid TOML: {exc}"
        raise GuideError(msg, [Finding("site-config", Severity.ERROR, msg, Span(str(path), n, n))]) from exc
    r = _Reader(path, text)
    r.keys(data, _TOP_KEYS, "", 0)
    config.prelude = r.string(data, "", 0, "prelude")
    if "prelude" in data:  # the line of the prelude's first line of SQL (for its errors)
        n = r.line("", 0, "prelude")
        opening = text.split("\n")[n - 1].rstrip()
        config.prelude_line = n + 1 if opening.endswith(('"""', "'''")) else n
    template = data.get("prelude_template", True)
    if not isinstance(template, bool):
        r.bad("", 0, "prelude_template", "prelude_template must be true or false")
    else:
        config.prelude_template = template
    config.extensions = r.strings(data, "", 0, "extensions")
    config.extensions_line = r.line("", 0, "extensions") if "extensions" in data else 0
    for name in config.extensions:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            r.bad("", 0, "extensions", f"not an extension name: {name!r}")
    _read_tables(r, data, config)
    if r.findings:
        r.findings.sort(key=lambda f: f.span.line)
        raise GuideError(f"{path}: {len(r.findings)} problem(s)", r.findings)
    return config


def _read_tables(r: _Reader, data: dict[str, Any], config: SiteSettings) -> None:
    """runbook.toml's tables: ``[[skip]]``, ``[[pages]]``, ``[[volatile]]`` into ``config`` (bad
    entries become ``r``'s findings)."""
    for i, entry in r.tables(data, "skip"):
        paths = r.strings(entry, "skip", i, "path", required=True)
        reason = r.string(entry, "skip", i, "reason", required=True)
        if paths and reason:
            config.skip.append(SkipRule(paths, reason, r.line("skip", i, "")))
    for i, entry in r.tables(data, "pages"):
        paths = r.strings(entry, "pages", i, "path", required=True)
        exts = r.strings(entry, "pages", i, "extensions", required=True)
        if paths and exts:
            config.pages.append(PageRule(paths, exts, r.line("pages", i, "")))
    for i, entry in r.tables(data, "volatile"):
        name = r.string(entry, "volatile", i, "name", required=True)
        pattern = r.string(entry, "volatile", i, "pattern", required=True)
        if name and pattern:
            try:
                regex.compile(pattern)  # the runner runs it with the regex module (a time limit)
            except regex.error as exc:
                r.bad("volatile", i, "pattern", f"pattern is not a regular expression: {exc}")
                continue
            config.volatile.append(VolatilePattern(name, pattern, r.line("volatile", i, "")))


def _jekyll_exclude(path: Path) -> list[str]:
    from .read.liquid import load_site_config

    exclude = load_site_config(path).data.get("exclude")
    if exclude is None:
        return []
    if not isinstance(exclude, list):
        msg = "exclude must be a list of names"
        raise GuideError(f"{path}: {msg}", [Finding("site-config", Severity.ERROR, msg, Span(str(path), 1, 1))])
    return [str(x) for x in exclude]


# -- the site's pages -------------------------------------------------------------------------------


def find_site_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` holding runbook.toml or _config.yml (else ``path``'s folder)."""
    start = path.resolve() if path.is_dir() else path.resolve().parent
    for d in (start, *start.parents):
        if is_site_root(d):
            return d
    return start


def _excluded(rel: str, exclude: list[str]) -> bool:
    return any(_matches(rel, p) or fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], p) for p in exclude)


def is_site_root(folder: Path) -> bool:
    """True when ``folder`` holds a site's configuration (runbook.toml or _config.yml)."""
    return (folder / SITE_CONFIG).is_file() or (folder / JEKYLL_CONFIG).is_file()


def discover(folder: Path, config: SiteSettings, nested: list[Path] | None = None) -> list[Page]:
    """Every page under ``folder`` (a site or a part of one), in path order, each with its skip reason.

    A subfolder holding a configuration of its own is a site of its own: its pages are not this
    site's; it is appended to ``nested`` (when given) to be discovered with its own settings."""
    root = config.root.resolve()
    pages: list[Page] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        rel_dir = here.resolve().relative_to(root).as_posix() if here.resolve() != root else ""
        keep = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if d in SKIPPED_DIRS or d.startswith(".") or _excluded(rel, config.exclude):
                continue
            if is_site_root(here / d):
                if nested is not None:
                    nested.append(here / d)
                continue
            keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            if not f.endswith((".md", ".markdown")) or f.lower() == "readme.md":
                continue
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if _excluded(rel, config.exclude):
                continue
            pages.append(Page(here / f, rel, config.skip_reason(rel)))
    pages.sort(key=lambda p: p.rel)
    return pages


def page_shape(graph: Graph) -> Shape:
    """The page's shape (the parser's ``shape``; a graph with no action has nothing to run)."""
    if not graph.actions():
        return Shape.NOT_EXECUTABLE
    return graph.shape
