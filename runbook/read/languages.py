"""What a fenced block's language says it is for: run (shell, console, SQL) or shown (and why)."""

from __future__ import annotations

import re

from ..kinds import BlockRole

SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh"})
CONSOLE_LANGS = frozenset({"console", "shell-session", "terminal"})
SQL_LANGS = frozenset({"sql", "psql", "postgresql"})
EXECUTABLE = SHELL_LANGS | CONSOLE_LANGS | SQL_LANGS
NON_EXECUTABLE = frozenset({"mermaid", "text", "plantuml", "dot", "graphviz", "json", "yaml", "output", "diff"})
"""Languages that are shown, never run nor written to a file (no ``block-not-run`` warning)."""
CONFIGURATION_LANGS = frozenset({"conf", "ini", "toml", "yaml", "yml", "properties", "cfg", "nginx", "apache",
                                 "apacheconf", "systemd", "pgsql-conf", "postgresql-conf", "xml"})
"""A file's content: written when a path paragraph comes before it, else shown as configuration."""
OUTPUT_LANGS = frozenset({"text", "output", "plain", "txt", ""})
"""Languages a page shows a command's output in, right after the command's block."""


CONSOLE_PROMPT_RE = re.compile(r"^(?P<prompt>[$%#])(?: |$)")
"""A console prompt: ``$ `` and ``% `` a regular user's, ``# `` root's.  A console block with none is a
script."""


PROSE_LINE_RE = re.compile(r"^\s*(?:[A-Z][a-z]+(?: [\w'’,()/-]+)*[.:!?]|[^\x00-\x7f].*)\s*$")
"""A line of prose in a console block without prompts (``How to install:``, ``インストール方法：``): a
capitalized sentence ending with ``.``/``:``/``!``/``?``, or a line starting with a letter outside ASCII.
No command reads so: it is not run (``How`` is no program)."""


def is_prose(line: str) -> bool:
    return PROSE_LINE_RE.match(line) is not None


def has_commands(lang: str, code: str) -> bool:
    """A shell block (or a console block without prompts: a script) with a line that is not blank nor
    a comment; a console block with a prompt line that types something.  Any other block of a
    language that runs says yes (SQL is judged by :func:`runbook.read.sql.is_syntax`)."""
    lines = code.split("\n")
    prompts = [ln for ln in lines if CONSOLE_PROMPT_RE.match(ln)]
    if lang in SHELL_LANGS:
        return any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines)
    if lang in CONSOLE_LANGS and not prompts:
        return any(ln.strip() and not ln.lstrip().startswith("#") and not is_prose(ln) for ln in lines)
    if lang in CONSOLE_LANGS:
        return any(ln[2:].strip() for ln in prompts)
    return True


def shown_role(lang: str, after_executable: bool) -> BlockRole:
    """Why a block that is not run is on the page (pages other than tagged guides say so)."""
    if after_executable and lang in OUTPUT_LANGS:
        return BlockRole.OUTPUT
    if lang in CONFIGURATION_LANGS:
        return BlockRole.CONFIGURATION
    return BlockRole.ILLUSTRATION
