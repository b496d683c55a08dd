"""Example groups: where a page of SQL examples starts over.

Reference pages show several independent examples, each building its own tables
(``CREATE TABLE memos (...)`` again).  A block begins a new group when it creates an object that an
earlier block of the current group created (and did not drop in a block of its own), or when it
drops and creates such an object itself.  Only objects that live in a database count (tables, indexes,
functions, extensions, views, types, sequences, schemas …), not roles or databases; ``CREATE OR
REPLACE`` and ``IF NOT EXISTS`` never fail and begin nothing.

A new group gets a fresh database, so it must not need an object only an earlier group made: a block
that drops and recreates an index on a table of the earlier example (``DROP INDEX …; CREATE INDEX …
ON memos``) goes on in the same group.  A group whose statements name such an object is no group,
unless the blocks that make what it needs come after the first making of the object it makes again:
the example begins at the first of them (``CREATE TABLE names``, then ``synonym_groups`` again).

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

from ..kinds import ActionKind
from ..model import Action, ExampleGroup, Span
from .sql import scan

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
_RELATION_RE = re.compile(r"\b(?:JOIN|INTO|UPDATE|TABLE|ON|REFERENCES|USING|INDEX)\s+(?:ONLY\s+)?(?P<name>[\w$.\"]+)",
                          re.IGNORECASE)
_FROM_RE = re.compile(r"\bFROM\s+(?P<list>.+?)(?=\b(?:WHERE|GROUP|ORDER|LIMIT|HAVING|WINDOW|JOIN|LEFT|RIGHT|INNER|"
                      r"FULL|CROSS|UNION|EXCEPT|INTERSECT|RETURNING)\b|;|\)|$)", re.IGNORECASE | re.DOTALL)
_CALL_RE = re.compile(r"(?P<name>[\w$.\"]+)\s*\(")


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
    """Objects its statements name (:func:`_references`)."""
    prelude: bool = False


def _read(action: Action) -> _Block:
    block = _Block(action)
    sql = [st.sql for st in action.statements]
    block.prelude = bool(sql) and all(_PRELUDE_RE.match(s) for s in sql)
    for text in sql:
        block.words |= _references(text)
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


def _references(sql: str) -> set[str]:
    """Objects a statement names where a relation, an index or a function goes (``FROM memos``, ``ON
    memos``, ``INTO tags``, ``f(``), outside strings and comments: a column ``synonyms`` or a string
    ``'synonyms'`` is no reference to a table ``synonyms``."""
    bare = " ".join(line.bare for line in scan(sql, 1))
    names = [m.group("name") for m in _RELATION_RE.finditer(bare)]
    names += [m.group("name") for m in _CALL_RE.finditer(bare)]
    for m in _FROM_RE.finditer(bare):
        names += [item.split()[0] for item in m.group("list").split(",") if item.split()]
    return {_key("TABLE", n)[1] for n in names}


def _starts(blocks: list[_Block], refused: set[int]) -> dict[int, tuple[str, int]]:
    """Block index -> why a group begins there, and the block that first made the object made again
    (the first block excluded, ``refused`` ones skipped)."""
    starts: dict[int, tuple[str, int]] = {}
    made: dict[tuple[str, str], int] = {}  # objects of the current group -> block that first made it
    for i, block in enumerate(blocks):
        before = dict(made)
        found: tuple[str, int] | None = None
        dropped: set[tuple[str, str]] = set()
        for event, key in block.events:
            if event == "drop":
                dropped.add(key)
                made.pop(key, None)
            elif key in before and found is None and i not in refused:
                verb = "drops and creates" if key in dropped else "creates"
                first = before[key]
                found = (f"{verb} {key[1]} again (first created at line {blocks[first].action.span.line})", first)
        if found is not None:
            starts[i] = found
            made = {}
            for event, key in block.events:
                if event == "create":
                    made.setdefault(key, i)
                else:
                    made.pop(key, None)
            continue
        for event, key in block.events:
            if event == "create":
                made.setdefault(key, i)
    return starts


def _created(blocks: list[_Block]) -> set[str]:
    return {key[1] for b in blocks for event, key in b.events if event == "create"}


def _missing(blocks: list[_Block], start: int, end: int) -> set[str]:
    """Objects the candidate group ``blocks[start:end]`` names that only blocks before it made, named
    before the group makes them itself (a block's own creations count for the whole block)."""
    earlier = _created(blocks[:start])
    own: set[str] = set()
    missing: set[str] = set()
    for b in blocks[start:end]:
        own |= {key[1] for event, key in b.events if event == "create"}
        missing |= b.words & (earlier - own)
    return missing


def _earlier_start(blocks: list[_Block], start: int, end: int, first: int, missing: set[str]) -> int | None:
    """Where the example really begins when the blocks it needs come right before the block that makes
    an object again (``CREATE TABLE names`` …, then ``CREATE TABLE synonym_groups`` again): the
    first of the blocks after ``first`` (the object's first making) that make what it needs; None
    when one of them is not there or that longer group needs more."""
    makers = []
    for name in missing:
        found = [i for i in range(first + 1, start)
                 if any(event == "create" and key[1] == name for event, key in blocks[i].events)]
        if not found:
            return None
        makers.append(found[-1])
    begin = min(makers)
    return None if _missing(blocks, begin, end) else begin


def example_groups(actions: list[Action], span_file: str) -> list[ExampleGroup]:
    """Find the page's example groups; set each action's ``example_group`` (see the module's text)."""
    blocks = [_read(a) for a in actions if a.kind == ActionKind.SQL]
    if not blocks:
        return []
    lead = 0
    while lead < len(blocks) and blocks[lead].prelude:
        lead += 1
    body = blocks[lead:]
    refused: set[int] = set()
    moved: dict[int, int] = {}  # a candidate -> the block its example begins at
    while True:
        starts = {moved.get(i, i): (reason, i) for i, (reason, _) in _starts(body, refused).items()}
        firsts = {i: first for i, (_, first) in _starts(body, refused).items()}
        bounds = [0, *sorted(starts), len(body)]
        bad = None
        for k in range(1, len(bounds) - 1):
            missing = _missing(body, bounds[k], bounds[k + 1])
            if missing:
                bad = (bounds[k], bounds[k + 1], missing)
                break
        if bad is None:
            break
        begin, end, missing = bad
        candidate = starts[begin][1]
        earlier = (None if candidate in moved or candidate != begin
                   else _earlier_start(body, begin, end, firsts[candidate], missing))
        if earlier is None:
            refused.add(candidate)
        else:
            moved[candidate] = earlier
    if not starts:
        return []
    groups = [ExampleGroup(1, Span(span_file, body[0].action.span.line, body[0].action.span.end_line),
                           "the page's first example")]
    for i in sorted(starts):
        a = body[i].action
        reason, candidate = starts[i]
        if candidate != i:
            reason = f"the example whose block at line {body[candidate].action.span.line} {reason}"
        groups.append(ExampleGroup(len(groups) + 1, Span(span_file, a.span.line, a.span.end_line), reason))
    first_lines = [g.span.line for g in groups]
    prelude_ids = {b.action.id for b in blocks[:lead]}
    for action in actions:
        if action.id in prelude_ids:
            continue
        number = sum(1 for line in first_lines if line <= action.span.line)
        action.example_group = max(number, 1)
    return groups
