"""Load a guide from Markdown or a saved step graph (JSON), whichever the path holds."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import GuideError
from .kinds import Severity
from .model import Finding, Graph, Span
from .parse import parse_text, read_guide
from .read.liquid import site_for
from .validate import graph_from_json


def load_graph(path: Path | str, lang: str | None = None, text: str | None = None, display: str | None = None, *,
               site_config: Path | str | None = None, allow_not_executable: bool = False) -> Graph:
    """A step graph from ``path``: parsed if Markdown (its Liquid rendered with ``site_config``, else
    the ``_config.yml`` found above it), validated against the schema if JSON."""
    path = Path(path)
    name = display or str(path)
    if text is None:
        text = read_guide(path, name)
    if path.suffix == ".json":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"not JSON: {exc.msg}"
            finding = Finding("not-json", Severity.ERROR, msg, Span(name, exc.lineno, exc.lineno))
            raise GuideError(msg, [finding]) from exc
        return graph_from_json(obj, name)
    site = site_for(path, Path(site_config) if site_config is not None else None)
    return parse_text(text, name, lang, site=site, allow_not_executable=allow_not_executable)
