"""Example groups: where a page of SQL examples starts over.

Reference pages show several independent examples, each building its own tables
(``CREATE TABLE memos (...)`` again).  A block begins a new group when it creates an object that an
earlier block of the current group created (and did not drop in a block of its own), or when it
drops and creates such an object itself.  Only objects that live in a database count (tables, indexes,
functions, extensions, views, types, sequences, schemas …), not roles or databases; ``CREATE OR
REPLACE`` and ``IF NOT EXISTS`` never fail and begin nothing.

A new group gets a fresh database, so it must not need an object only an earlier group made: a block
that drops and recreates an index on a table of the earlier example (``DROP INDEX …; CREATE INDEX …
ON memos``) goes on in the same group.  A group whose statements name such an object is no group.

The page's prelude, the leading blocks that only prepare the database (``CREATE EXTENSION``,
``CREATE SCHEMA``, ``SET``, ``LOAD``, psql meta-commands) before the first example, belongs to every
group: its actions keep ``example_group`` None on a grouped page, and the runner runs them at the
start of each group's database.  Every other action of a grouped page has its group's number; the
blocks before the first new beginning are group 1.  Pages read as a single group (the most common)
get no groups at all.  Only pages of the ``examples`` shape are grouped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..model import Action, ExampleGroup, Span

_OBJECT = (r"TABLE|INDEX|FUNCTION|PROCEDURE|AGGREGATE|EXTENSION|MATERIALIZED\s+VIEW|VIEW|TYPE|DOMAIN|SEQUENCE|"
           r"SCHEMA|TRIGGER|OPERATOR\s+CLASS|OPERATOR|TEXT\s+SEARCH\s+CONFIGURATION|TEXT\s+SEARCH\s+DICTIONARY")
_NAME = r"(?P<name>(?:\"[^\"]+\"|[\w$]+)(?:\.(?:\"[^\"]+\"|[\w$]+))?)"
_CREATE_RE = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?"
    r"(?:TEMP\s+|TEMPORARY\s+|UNLOGGED\s+)?(?P<kind>" + _OBJECT + r")\s+(?:CONCURRENTLY\s+)?"
    r"(?P<ine>IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.IGNORECASE)
_DROP_RE = re.compile(r"^\s*DROP\s+(?P<kind>" + _OBJECT + r")\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?"
                      r"(?P<names>[\w$\".,\s]+?)\s*(?:\(|CASCADE|RESTRICT|;|$)", re.IGNORECASE)
_PRELUDE_RE = re.compile(r"^\s*(?:\\|CREATE\s+EXTENSION\b|CREATE\s+SCHEMA\b|SET\b|LOAD\b|SELECT\s+set_config\b)",
                         re.IGNORECASE)
_WORD_RE = re.compile(r"[\w$]+")


def _key(kind: str, name: str) -> tuple[str, str]:
    kind = " ".join(kind.upper().split())
    if kind == "MATERIALIZED VIEW":
        kind = "VIEW"
    parts = [p[1:-1] if p.startswith('"') else p.lower() for p in re.findall(r'"[^"]+"|[^.]+', name)]
    return kind, parts[-1]


@dataclass(slots=True)
class _Block:
    action: Action
    creates: list[tuple[str, str]] = field(default_factory=list)
    """Objects created (not idempotently), in order, with the objects dropped before them."""
    events: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    words: set[str] = field(default_factory=set)
    prelude: bool = False


def _read(action: Action) -> _Block:
    block = _Block(action)
    sql = [st.sql for st in action.statements]
    block.prelude = bool(sql) and all(_PRELUDE_RE.match(s) for s in sql)
    for text in sql:
        block.words.update(w.lower() for w in _WORD_RE.findall(text))
        m = _CREATE_RE.match(text)
        if m and not m.group("replace") and not m.group("ine"):
            block.events.append(("create", _key(m.group("kind"), m.group("name"))))
            continue
        d = _DROP_RE.match(text)
        if d:
            for name in d.group("names").split(","):
                if name.strip():
                    block.events.append(("drop", _key(d.group("kind"), name.strip())))
    return block


def _starts(blocks: list[_Block], refused: set[int]) -> dict[int, str]:
    """Block index -> why a group begins there (the first block excluded, ``refused`` ones skipped)."""
    starts: dict[int, str] = {}
    made: dict[tuple[str, str], int] = {}  # objects of the current group -> line first created
    for i, block in enumerate(blocks):
        before = dict(made)
        reason = None
        dropped: set[tuple[str, str]] = set()
        for event, key in block.events:
            if event == "drop":
                dropped.add(key)
                made.pop(key, None)
            elif key in before and reason is None and i not in refused:
                verb = "drops and creates" if key in dropped else "creates"
                reason = f"{verb} {key[1]} again (first created at line {before[key]})"
        if reason is not None:
            starts[i] = reason
            made = {}
            for event, key in block.events:
                if event == "create":
                    made.setdefault(key, block.action.span.line)
                else:
                    made.pop(key, None)
            continue
        for event, key in block.events:
            if event == "create":
                made.setdefault(key, block.action.span.line)
    return starts


def _needs_earlier(blocks: list[_Block], start: int, end: int, earlier: set[str]) -> bool:
    """The candidate group ``blocks[start:end]`` names an object only an earlier group made before it
    makes the object itself (a block's own creations count for the whole block)."""
    own: set[str] = set()
    for b in blocks[start:end]:
        own |= {key[1] for event, key in b.events if event == "create"}
        if b.words & (earlier - own):
            return True
    return False


def example_groups(actions: list[Action], span_file: str) -> list[ExampleGroup]:
    """Find the page's example groups; set each action's ``example_group`` (see the module's text)."""
    blocks = [_read(a) for a in actions if a.kind == "sql"]
    if not blocks:
        return []
    lead = 0
    while lead < len(blocks) and blocks[lead].prelude:
        lead += 1
    body = blocks[lead:]
    refused: set[int] = set()
    while True:
        starts = _starts(body, refused)
        bounds = [0, *sorted(starts), len(body)]
        bad = None
        for k in range(1, len(bounds) - 1):
            earlier = {key[1] for b in body[: bounds[k]] for event, key in b.events if event == "create"}
            if _needs_earlier(body, bounds[k], bounds[k + 1], earlier):
                bad = bounds[k]
                break
        if bad is None:
            break
        refused.add(bad)
    if not starts:
        return []
    groups = [ExampleGroup(1, Span(span_file, body[0].action.span.line, body[0].action.span.end_line),
                           "the page's first example")]
    for i in sorted(starts):
        a = body[i].action
        groups.append(ExampleGroup(len(groups) + 1, Span(span_file, a.span.line, a.span.end_line), starts[i]))
    first_lines = [g.span.line for g in groups]
    prelude_ids = {b.action.id for b in blocks[:lead]}
    for action in actions:
        if action.id in prelude_ids:
            continue
        number = sum(1 for line in first_lines if line <= action.span.line)
        action.example_group = max(number, 1)
    return groups
