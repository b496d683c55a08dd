"""Options several commands share: one name, one meaning, everywhere (docs/cli.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.model import Graph


def add_site_config(p: argparse.ArgumentParser) -> None:
    """``--site-config FILE``: the Jekyll ``_config.yml`` a page's ``{{ site.* }}`` is rendered from."""
    p.add_argument("--site-config", metavar="FILE", default=None,
                   help="the site's _config.yml for the pages' Liquid {{ site.KEY }} (default: the first "
                        "_config.yml in the page's folder or above it)")


def language(value: str) -> str:
    """An ``argparse`` type: a language with a lexicon, in any case (``EN`` is ``en``)."""
    from runbook.lexicon import LANGUAGE_NAMES, available

    lang = value.strip().lower()
    if lang not in available():
        known = ", ".join(f"{x} ({LANGUAGE_NAMES.get(x, x)})" for x in available())
        raise argparse.ArgumentTypeError(f"no lexicon for {value!r}; languages: {known}")
    return lang


def add_lang(p: argparse.ArgumentParser, *names: str, what: str = "the guide") -> None:
    """``--lang LANG``: the language ``what`` is read in (its lexicon); default: its file name, its
    front matter's ``lang``, or its text."""
    p.add_argument(*(names or ("--lang",)), type=language, metavar="LANG",
                   help=f"read {what} in this language (en, ja; default: from the file name guide.LANG.md, "
                        "the front matter's lang, or the text)")


def add_mkdir(p: argparse.ArgumentParser) -> None:
    """``--mkdir``: create the output files' missing folders (without it, a missing folder is an error)."""
    p.add_argument("--mkdir", action="store_true", help="create missing folders of the output files")


def language_note(path: Path, graph: Graph, lang: str | None) -> str:
    """Which lexicon read the guide and why (``--lang``, its file name, its front matter, its text)."""
    from runbook.errors import RunbookError
    from runbook.lexicon import LANGUAGE_NAMES, choose_language
    from runbook.parse import read_guide

    name = LANGUAGE_NAMES.get(graph.source.lang, graph.source.lang)
    if path.suffix == ".json":
        return f"{name} (the step graph says so)"
    try:
        _, why = choose_language(read_guide(path), str(path), lang)
    except RunbookError:
        return name
    return f"{name} ({why})"
