"""Liquid stage: a page's ``{{ site.KEY }}`` rendered from its site's ``_config.yml``, lines kept.

Runs right after decoding, before Markdown is read.  Pages of a Jekyll site (PGroonga's) write
``{{ site.postgresql_doc_base_url.ja }}`` in links and code; ``{% raw %}`` … ``{% endraw %}``
keeps Liquid-looking text (``{{7,3}}``) as it is.  The site's configuration is found by walking up
from the page to the first ``_config.yml`` (or given with ``--site-config``).  ``page.KEY`` reads
the page's front matter.

Rendering never moves a line: a value is put on one line, and a tag that would remove or add lines
leaves the page unrendered with a finding.  What cannot be resolved is a finding with its line
(``liquid-unknown-variable``, ``liquid-syntax``), never an exception: an unknown variable renders
empty, as Jekyll renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import GuideError, UsageError
from ..kinds import Severity
from ..model import Finding, Span
from . import yaml_bounded

CONFIG_NAME = "_config.yml"
ROOTS = ("site", "page")
"""The variables a page may use: the site's configuration and the page's front matter."""

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?P<body>.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)

LOOP_LIMIT = 10_000
OUTPUT_LIMIT = 8_000_000


@cache
def _env() -> Any:
    """Liquid with limits: a page's loops and output cannot run away (``for`` over 1..10^8).  Made on
    first use: python-liquid takes a quarter of a second to import, and most guides hold no Liquid."""
    from liquid import Environment

    class BoundedEnvironment(Environment):
        loop_iteration_limit = LOOP_LIMIT
        output_stream_limit = OUTPUT_LIMIT
        local_namespace_limit = 1_000_000

    return BoundedEnvironment()


@dataclass
class SiteConfig:
    """A Jekyll site's ``_config.yml``, read."""

    path: Path | None
    """Where it was read from (None: given as data, in tests)."""
    data: dict[str, Any] = field(default_factory=dict)


def find_site_config(page: Path) -> Path | None:
    """The first ``_config.yml`` in the page's folder or a folder above it."""
    folder = page.resolve().parent
    for candidate in (folder, *folder.parents):
        found = candidate / CONFIG_NAME
        if found.is_file():
            return found
    return None


def load_site_config(path: Path) -> SiteConfig:
    """Read ``_config.yml``; a missing file is a usage error, bad YAML an input error with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such file (--site-config)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GuideError(f"{path}: cannot read the site configuration: {exc}") from exc
    try:
        data = yaml_bounded.load(text)  # aliases bounded: a bomb is an error with its line
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = exc.line if isinstance(exc, yaml_bounded.AliasBomb) else mark.line + 1 if mark is not None else 1
        msg = f"not YAML: {getattr(exc, 'problem', None) or exc}"
        finding = Finding("site-config", Severity.ERROR, msg, Span(str(path), line, line))
        raise GuideError(f"{path}:{line}: {msg}", [finding]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        msg = "the site configuration is not a mapping of keys to values"
        raise GuideError(f"{path}: {msg}", [Finding("site-config", Severity.ERROR, msg, Span(str(path), 1, 1))])
    return SiteConfig(path, data)


def site_for(page: Path, given: Path | None = None) -> SiteConfig | None:
    """The configuration a page is rendered with: ``given`` if any, else the one found above the page."""
    found = given if given is not None else find_site_config(page)
    return load_site_config(found) if found is not None else None


def _front_matter(text: str) -> dict[str, Any]:
    m = _FRONT_MATTER_RE.match(text)
    if not m:
        return {}
    try:
        data = yaml_bounded.load(m.group("body") or "")
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _one_line(value: Any) -> Any:
    """Values with every string on one line (a value never adds a line to the page)."""
    if isinstance(value, str):
        return " ".join(value.splitlines())
    if isinstance(value, dict):
        return {k: _one_line(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_one_line(v) for v in value]
    return value


def _resolve(data: Any, segments: list[Any]) -> bool:
    """True when ``segments`` (after the root) name a value in ``data``."""
    for seg in segments:
        if isinstance(data, dict) and seg in data:
            data = data[seg]
        elif isinstance(data, list) and isinstance(seg, int) and -len(data) <= seg < len(data):
            data = data[seg]
        elif isinstance(seg, str) and seg in ("size", "first", "last") and isinstance(data, (list, dict, str)):
            return True
        else:
            return False
    return True


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, max(index, 0)) + 1


def render(text: str, file: str, site: SiteConfig | None) -> tuple[str, list[Finding]]:
    """``text`` with its Liquid rendered (same number of lines), and findings with their lines.

    Without a site configuration the text is returned as it is: a page outside a Jekyll site
    holds no Liquid to render.
    """
    if site is None or ("{{" not in text and "{%" not in text):
        return text, []
    from liquid.exceptions import LiquidError

    findings: list[Finding] = []
    try:
        template = _env().from_string(text)
        analysis = template.analyze()
    except LiquidError as exc:
        line = _error_line(text, exc)
        msg = f"Liquid cannot read this: {getattr(exc, 'message', None) or exc}; the page is read unrendered"
        return text, [Finding("liquid-syntax", Severity.ERROR, msg, Span(file, line, line))]
    context = {"site": _one_line(site.data), "page": _one_line(_front_matter(text))}
    where = f" in {site.path}" if site.path is not None else ""
    for name, refs in analysis.globals.items():
        for ref in refs:
            segments = list(ref.segments)
            line = _line_of(text, ref.span.index)
            known = name in ROOTS and _resolve(context[name], segments[1:])
            if not known:
                dotted = ".".join(str(s) for s in segments)
                hint = f"no such key{where}" if name == "site" else (
                    "no such key in the page's front matter" if name == "page" else "only site.* and page.* are known")
                message = f"{{{{ {dotted} }}}} is not defined ({hint}); it renders empty"
                findings.append(Finding("liquid-unknown-variable", Severity.ERROR, message, Span(file, line, line)))
    try:
        out = template.render(**context)
    except LiquidError as exc:
        line = _error_line(text, exc)
        msg = f"Liquid cannot render this: {getattr(exc, 'message', None) or exc}; the page is read unrendered"
        return text, [*findings, Finding("liquid-syntax", Severity.ERROR, msg, Span(file, line, line))]
    if out.count("\n") != text.count("\n"):
        msg = ("rendering Liquid would move lines (a tag with whitespace control, or a multi-line value); "
               "the page is read unrendered")
        return text, [*findings, Finding("liquid-lines", Severity.ERROR, msg, Span(file, 1, 1))]
    return out, sorted(findings, key=lambda f: f.span.line)


def _error_line(text: str, exc: Exception) -> int:
    """The line a Liquid error points at (its token's offset in the page)."""
    token = getattr(exc, "token", None)
    index = getattr(token, "start_index", None)
    return _line_of(text, index) if isinstance(index, int) else 1
