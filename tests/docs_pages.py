"""What the tests of docs pages share: the page's graph, and facts read from the page's own text.

Each ``test_docs_*.py`` states, for the pages it covers, the shape and the few facts the page exists
to show (issue 19 point 5: pins only for fixtures and shared pages). Expected values come from the
page's text (a heading, a fence, a pasted psql table), never from the reader's output: a test fails
if the reader got the fact wrong. ``Pages`` records which pages a module covers, so that
``test_docs_coverage.py`` can tell that every page of docs/ is covered by something.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runbook.model import Action, Graph, Statement
from runbook.parse import parse_file

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


class Pages:
    """The docs pages (paths relative to the repository) one test module states facts of.

    ``@PAGES("docs/a.md", "docs/b.md")`` parametrizes a test over ``page`` and records the pages."""

    def __init__(self) -> None:
        self.covered: set[str] = set()

    def __call__(self, *pages: str) -> Callable[[Any], Any]:
        self.covered.update(pages)
        return pytest.mark.parametrize("page", pages)


@functools.cache
def graph(page: str) -> Graph:
    """The page's graph as a site run reads it (a page with nothing to run is ``not-executable``)."""
    return parse_file(ROOT / page, display=page, allow_not_executable=True)


def path(page: str) -> Path:
    return ROOT / page


def text(page: str) -> str:
    return path(page).read_text(encoding="utf-8")


# -- fences --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fence:
    """A fenced block as the page writes it."""

    line: int
    """Line of the opening fence."""
    lang: str
    body: list[str]


def fences(page: str) -> list[Fence]:
    """Every fenced block of the page, in order (a plain scan of ``` lines)."""
    out: list[Fence] = []
    open_at: tuple[int, str, str] | None = None
    body: list[str] = []
    for n, line in enumerate(text(page).split("\n"), 1):
        stripped = line.lstrip()
        if open_at is None:
            m = re.match(r"(`{3,})\s*([\w+-]*)", stripped)
            if m:
                open_at, body = (n, m.group(2), m.group(1)), []
        elif stripped.startswith(open_at[2]) and not stripped.strip("`"):
            out.append(Fence(open_at[0], open_at[1], body))
            open_at = None
        else:
            body.append(line)
    return out


def fence_at(page: str, needle: str) -> Fence:
    """The fenced block whose body holds ``needle``."""
    found = [f for f in fences(page) if any(needle in line for line in f.body)]
    assert len(found) == 1, f"{len(found)} blocks of {page} hold {needle!r}"
    return found[0]


# -- the graph's parts, by where the page writes them --------------------------------------------

def action_at(g: Graph, line: int) -> Action:
    """The action whose block opens at ``line``."""
    found = [a for a in g.actions() if a.span.line == line]
    assert len(found) == 1, f"{len(found)} actions at line {line} of {g.source.file}"
    return found[0]


def statement_at(g: Graph, line: int) -> Statement:
    """The SQL statement that begins at ``line``."""
    found = [s for a in g.actions() for s in a.statements if s.span.line == line]
    assert len(found) == 1, f"{len(found)} statements at line {line} of {g.source.file}"
    return found[0]


# -- psql output as the page writes it -----------------------------------------------------------

@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    count: int


def table_after(page: str, line: int) -> Table:
    """The psql table the page shows after ``line`` (with or without ``-- `` in front): its header,
    its rows (cells stripped) and the ``(N rows)`` count. Read with a plain split on ``|``."""
    lines = text(page).split("\n")[line:]
    cut = [re.sub(r"^-- ?", "", x) for x in lines]
    rule = next(i for i, x in enumerate(cut) if re.fullmatch(r"-+(\+-+)*-*\s*", x))
    header = [c.strip() for c in cut[rule - 1].split("|")]
    rows: list[list[str]] = []
    for x in cut[rule + 1:]:
        m = re.fullmatch(r"\((\d+) rows?\)\s*", x)
        if m:
            return Table(header, rows, int(m.group(1)))
        rows.append([c.strip() for c in x.split("|")])
    raise AssertionError(f"no (N rows) after line {line} of {page}")


def rows_of(s: Statement) -> list[list[str]]:
    """The expected rows the reader found, cells stripped as :func:`table_after` strips them."""
    assert s.expected is not None, f"no expected output for {s.sql!r}"
    return [[c.strip() for c in r] for r in s.expected.rows]


# -- tagged guides -------------------------------------------------------------------------------

STEP_HEADING = re.compile(r"^## \[(?P<tag>[^\]]+)\] (?P<title>.*?) \{#(?P<id>[^}]+)\}\s*$")


@dataclass(frozen=True)
class Heading:
    line: int
    tag: str
    title: str
    id: str


def step_headings(page: str) -> list[Heading]:
    """The page's ``## [tag] title {#id}`` headings, in order."""
    return [Heading(n, m["tag"], m["title"], m["id"]) for n, line in enumerate(text(page).split("\n"), 1)
            if (m := STEP_HEADING.match(line))]


def summary_ids(page: str) -> list[str]:
    """The step ids the summary's numbered list links to, in order."""
    return re.findall(r"^\s*\d+\.\s*\[[^\]]+\]\s*\[.*\]\(#([\w-]+)\)\s*$", text(page), flags=re.M)


@dataclass(frozen=True)
class EnvHost:
    label: str
    line: int
    address: str | None


def environment(page: str) -> list[EnvHost]:
    """The hosts of the environment list (before the first step): its least indented ``* Label``
    items that have items under them, each with the first IPv4 address of those."""
    first_step = step_headings(page)[0].line
    items = [(n, len(m[1]), m[2].strip()) for n, line in enumerate(text(page).split("\n")[:first_step], 1)
             if (m := re.match(r"^(\s*)\* (.+)$", line))]
    top = min(indent for _, indent, _ in items)
    hosts: list[EnvHost] = []
    for i, (n, indent, item) in enumerate(items):
        if indent != top:
            continue
        under = []
        for _, child_indent, child in items[i + 1:]:
            if child_indent == top:
                break
            under.append(child)
        if not under:  # a list item of prose, not a host entry
            continue
        address = next((m[0] for c in under if (m := re.search(r"\b\d+\.\d+\.\d+\.\d+\b", c))), None)
        hosts.append(EnvHost(re.sub(r"\s*[:：]\s*$", "", item), n, address))
    return hosts


def path_paragraphs(page: str) -> list[tuple[int, str]]:
    """(line, path) of every paragraph that is only a file's path: `` `/etc/…/postgresql.conf`: ``."""
    return [(n, m[1]) for n, line in enumerate(text(page).split("\n"), 1)
            if (m := re.fullmatch(r"`(/[^`]+)`\s*[:：]\s*", line))]


def psql_lines(page: str) -> list[tuple[int, str]]:
    """(line, database) of every ``psql DATABASE`` command line in the page's shell blocks."""
    out = []
    for f in fences(page):
        if f.lang not in ("bash", "sh", "console", "text"):
            continue
        for i, line in enumerate(f.body):
            m = re.fullmatch(r"(?:[$%#] )?psql (\w+)\s*", line)
            if m:
                out.append((f.line + 1 + i, m[1]))
    return out
