"""Markdown guide -> step graph: the public entry points of the reader (``runbook/read/``).

What prose means (tags, host labels, scope phrases, edit markers, the environment list) comes from
the language's lexicon; the stages know Markdown structure and shell/SQL/console syntax, never a
particular language.
"""

from __future__ import annotations

from pathlib import Path

from . import lexicon as lexicons
from .errors import GuideError
from .kinds import Severity
from .lexicon import Lexicon
from .model import Finding, Graph, Span
from .read.decode import decode_guide, read_guide
from .read.liquid import SiteConfig, site_for
from .read.outline import heading_id_plugin, make_parser
from .read.pipeline import read

__all__ = ["decode_guide", "heading_id_plugin", "make_parser", "parse_file", "parse_text", "read_guide"]


def parse_text(text: str, file: str = "guide.md", lang: str | None = None, lex: Lexicon | None = None, *,
               site: SiteConfig | None = None, allow_not_executable: bool = False) -> Graph:
    """Read a guide's text into a step graph (raises :class:`GuideError`).

    ``site``: the Jekyll site configuration its Liquid is rendered with (None: no Liquid stage).
    ``allow_not_executable``: a page with nothing to run reads as a graph of shape
    ``not-executable`` (for the pages of a site) instead of failing with ``no-steps``.
    """
    if not text.strip():
        raise GuideError("empty", [Finding("empty-file", Severity.ERROR, "the file is empty", Span(file, 1, 1))])
    why = "--lang"
    if lex is None:
        lang, why = lexicons.choose_language(text, file, lang)
        lex = lexicons.load(lang)
    try:
        return read(text, file, lex, site, allow_not_executable)
    except GuideError as exc:
        seems = lexicons.text_language(text)
        if seems != lex.language and seems in lexicons.available() and why != "--lang":
            name = lexicons.LANGUAGE_NAMES
            exc.findings.append(Finding(
                "language", Severity.HINT,
                f"read as {name.get(lex.language, lex.language)} ({why}), but its text reads as "
                f"{name.get(seems, seems)}: give --lang {seems} if that is its language", Span(file, 1, 1)))
        raise


def parse_file(path: Path | str, lang: str | None = None, display: str | None = None, *,
               site_config: Path | str | None = None, allow_not_executable: bool = False) -> Graph:
    """Read the guide at ``path``; ``display`` names it in spans and messages.  Its Liquid is rendered
    with ``site_config``, else with the first ``_config.yml`` in its folder or above."""
    path = Path(path)
    name = display or str(path)
    site = site_for(path, Path(site_config) if site_config is not None else None)
    return parse_text(read_guide(path, name), name, lang, site=site, allow_not_executable=allow_not_executable)
