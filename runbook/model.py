"""The step graph: a plain data model of a guide that round-trips to JSON.

Every node carries a :class:`Span` (file, first line, last line; lines are 1-based) so that every
message about it can say ``guide.md:123``.  Nothing here knows about Markdown or about running:
``parse`` builds a :class:`Graph`, everything else (lint, drift, export, the runner) reads one.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from typing import Any

from .jsonable import OMIT_DEFAULT, from_dict, to_dict
from .kinds import (
    ActionKind,
    BlockRole,
    EditKind,
    ExpectedKind,
    ProseRole,
    Severity,
    Shape,
    TargetSource,
    VariableKind,
)

SCHEMA_VERSION = "1"


@dataclass(slots=True)
class Span:
    """Where a node comes from."""

    file: str
    """Path of the guide as given to the parser."""
    line: int
    """First line, 1-based."""
    end_line: int
    """Last line, 1-based, inclusive."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class Finding:
    """A problem or remark about a guide, with its place."""

    rule: str
    """Stable rule id, e.g. ``overview-title-mismatch``."""
    severity: Severity
    message: str
    span: Span

    def format(self) -> str:
        return f"{self.span}: {self.rule}: {self.message}"


IMPLICIT_HOST = "server"
"""Id (and role) of the one host a page that names no host is run on (``inferred`` is true)."""


@dataclass(slots=True)
class Host:
    """A host of the guide's environment section."""

    id: str
    """Stable id built from the role and number: ``primary``, ``standby1``."""
    label: str
    """The label as the guide writes it: ``スタンバイ1``."""
    role: str
    """Role from the lexicon: ``primary``, ``standby``, ``publisher`` …"""
    number: int | None
    address: str | None
    os: str | None
    span: Span
    fields: dict[str, str] = field(default_factory=dict)
    """Every field of the environment entry, by lexicon field name."""
    inferred: bool = field(default=False, metadata=OMIT_DEFAULT)
    """True when the page names no host: the graph assumes one database server (id ``server``)."""


@dataclass(slots=True)
class Group:
    """Several hosts named together (``スタンバイ`` = every standby)."""

    id: str
    label: str
    members: list[str]


@dataclass(slots=True)
class Variable:
    """A value the guide repeats, which a run may bind to another value."""

    name: str
    """``replication_password``, ``pg_major``, ``primary.address`` …"""
    value: str
    """The value as the guide writes it."""
    kind: VariableKind
    secret: bool
    """Secrets are never printed; a run reads them from the environment."""
    span: Span | None = None
    host: str | None = None
    patterns: list[str] = field(default_factory=list)
    """Regular expressions (group ``v`` = the value) finding the value's occurrences in code."""


@dataclass(slots=True)
class Answer:
    """What is typed at a prompt: a reference to a variable, or literal text."""

    var: str | None = None
    literal: str | None = None


@dataclass(slots=True)
class Turn:
    """One prompt of a console dialog and the answer typed at it."""

    prompt: str
    answer: Answer
    span: Span


@dataclass(slots=True)
class Command:
    """One shell command line (continuation lines joined as written)."""

    text: str
    span: Span
    dialog: list[Turn] = field(default_factory=list)
    """Console blocks only: prompts the command shows, in order."""
    output: list[str] = field(default_factory=list)
    """Console blocks only: output lines the guide shows."""
    opens_session: str | None = None
    """Id of the psql session this command opens (``psql blog``)."""
    root: bool = field(default=False, metadata=OMIT_DEFAULT)
    """Typed at a root prompt (``# `` in a console block): run as root."""


def as_root(text: str) -> str:
    """A root prompt's command as the guide's regular user (with passwordless sudo) runs it."""
    return "sudo -H bash -c " + shlex.quote(text)


@dataclass(slots=True)
class Output:
    """psql output, parsed (:func:`runbook.psql_output.parse_output`): what a statement printed, or
    what a guide shows (:class:`Expected`)."""

    kind: ExpectedKind
    lines: list[str]
    """The lines as read: psql's, or the guide's with their ``-- `` removed, as written."""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    row_count: int | None = None
    tag: str | None = None
    error: dict[str, str] | None = None
    """``severity``, ``message`` and, when given, ``detail``, ``hint``, ``sqlstate``."""
    notices: list[str] = field(default_factory=list, metadata=OMIT_DEFAULT)
    """``NOTICE:``/``WARNING:``/``INFO:`` lines shown before the result (runs of spaces made one; a
    notice's ``DETAIL:``/``HINT:`` lines joined to it with ``\n``)."""
    expanded: bool = field(default=False, metadata=OMIT_DEFAULT)
    """True for psql's expanded display (``-[ RECORD 1 ]``); columns and rows hold the same values as
    for the aligned display."""


@dataclass(slots=True)
class Expected(Output):
    """Expected output of a SQL statement: the :class:`Output` the guide shows, and where and how."""

    span: Span = field(kw_only=True, metadata={"json_after": "kind"})
    """Where the guide shows it (in the graph's JSON, right after ``kind``)."""
    pasted: bool = field(default=False, kw_only=True, metadata=OMIT_DEFAULT)
    """True when the guide pastes the output as psql prints it, without ``-- `` (inside the ``sql``
    block, after its statement); ``lines`` are then the lines as written."""

    @classmethod
    def shown(cls, output: Output, span: Span) -> Expected:
        """``output`` as the guide shows it at ``span``."""
        return cls(**{f.name: getattr(output, f.name) for f in dataclasses.fields(Output)}, span=span)


@dataclass(slots=True)
class Statement:
    """One SQL statement (or psql meta-command) of a SQL block."""

    sql: str
    span: Span
    expected: Expected | None = None
    comments: list[Prose] = field(default_factory=list, metadata=OMIT_DEFAULT)
    """``-- `` lines inside or after the statement that are not shaped like psql output: prose inside
    SQL (role ``comment``), neither checked nor dropped.  They stay in ``sql`` as written."""


@dataclass(slots=True)
class Session:
    """An interactive psql session on one host."""

    id: str
    host: str
    database: str | None
    user: str | None
    inferred: bool
    """True when no ``psql`` line opens it: the graph assumes one, as a reader would."""
    opened_by: str | None
    """Id of the action whose ``psql`` command opens it."""
    span: Span


@dataclass(slots=True)
class Action:
    """What one fenced block asks for."""

    id: str
    """``<step id>#<n>``, n counting the step's actions from 1."""
    kind: ActionKind
    lang: str
    targets: list[str]
    target_source: TargetSource
    span: Span
    code: str
    """The block's text as written (for edits: the after block)."""
    commands: list[Command] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    """SQL blocks: host id -> session id."""
    closes_sessions: list[str] = field(default_factory=list)
    """Sessions left before this action runs (a shell block after ``psql``)."""
    path: str | None = None
    path_span: Span | None = None
    before: str | None = None
    before_span: Span | None = None
    after: str | None = None
    after_span: Span | None = None
    edit: EditKind | None = field(default=None, metadata=OMIT_DEFAULT)
    """File edits with no before text: ``settings`` (each ``name = value`` line of ``after``
    replaces the setting's active line, or is appended) or ``append`` (``after``'s lines are added at
    the end of the file); None for a before/after edit."""
    example_group: int | None = field(default=None, metadata=OMIT_DEFAULT)
    """On a page of independent examples: the number (from 1) of the example group this action
    belongs to (see :class:`ExampleGroup`); None where the page is one group."""
    requires: list[Requirement] = field(default_factory=list, metadata=OMIT_DEFAULT)
    """Version notes of the page that apply to this action ("4.0.5で追加。"): the run blocks the
    action where the installed software is older."""


@dataclass(slots=True)
class Requirement:
    """A version note: the feature an action shows exists from ``version`` of ``software`` on."""

    software: str
    """``postgresql`` or an extension's name (``pgroonga``)."""
    version: str
    """The first version that has the feature, as written (``4.0.5``)."""
    text: str
    """The note as the page words it."""
    span: Span


@dataclass(slots=True)
class ExampleGroup:
    """Where an independent example of a page begins (a block that creates again an object an
    earlier block created, or that drops and recreates it): the runner gives it a fresh database."""

    number: int
    """From 1, in page order; the group's actions carry it as ``example_group``."""
    span: Span
    """The block that begins the group."""
    reason: str
    """Why a new group begins there (``creates memos again (first created at line 12)``)."""


@dataclass(slots=True)
class Prose:
    """A paragraph, list item or heading of prose, kept for drift and export."""

    text: str
    span: Span
    role: ProseRole = ProseRole.PARAGRAPH
    links: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Step:
    """A step: a tagged level-2 heading and what follows it."""

    id: str
    number: int | None
    tag: str | None
    title: str
    overview_title: str | None
    span: Span
    overview_span: Span | None = None
    actions: list[Action] = field(default_factory=list)
    prose: list[Prose] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    """Hosts the heading names, if it names any."""


@dataclass(slots=True)
class Block:
    """Inventory of every fenced block, so none goes unaccounted for."""

    line: int
    end_line: int
    lang: str
    role: BlockRole
    """``action``: executable, an action's code; ``before``: a file edit's before text; ``note``: kept,
    not run (tagged guides' diagrams).  Pages of the other shapes say why a block is not run:
    ``output`` (what a command printed), ``syntax`` (a statement's form, e.g. ``column LIKE pattern``),
    ``illustration`` (``text``, ``json``, other languages), ``configuration`` (a file's content with
    no path to write it to)."""
    action: str | None


@dataclass(slots=True)
class Source:
    file: str
    lang: str
    title: str
    sha256: str
    lines: int


@dataclass(slots=True)
class Graph:
    """A guide, read."""

    source: Source
    hosts: list[Host]
    groups: list[Group]
    variables: list[Variable]
    steps: list[Step]
    sessions: list[Session]
    notes: list[Action]
    """Non-executable blocks (mermaid …) outside any step or inside one."""
    blocks: list[Block]
    prose: list[Prose]
    """Prose outside the steps (introduction, overview, environment)."""
    findings: list[Finding]
    """Defects the parser recovered from (reported by ``lint``)."""
    schema_version: str = SCHEMA_VERSION
    shape: Shape = field(default=Shape.GUIDE, metadata=OMIT_DEFAULT)
    """``guide`` (tagged steps), ``untagged-guide`` (steps are headings holding executable blocks),
    ``examples`` (a single-host page of SQL examples), ``not-executable`` (nothing to run)."""
    example_groups: list[ExampleGroup] = field(default_factory=list, metadata=OMIT_DEFAULT)
    """Independent examples of the page (empty where the page is one group)."""

    # -- look-ups -----------------------------------------------------------------------------
    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def host(self, host_id: str) -> Host:
        for h in self.hosts:
            if h.id == host_id:
                return h
        raise KeyError(host_id)

    def variable(self, name: str) -> Variable | None:
        for v in self.variables:
            if v.name == name:
                return v
        return None

    def session(self, session_id: str) -> Session:
        for s in self.sessions:
            if s.id == session_id:
                return s
        raise KeyError(session_id)

    def actions(self) -> list[Action]:
        return [a for s in self.steps for a in s.actions]

    def secrets(self) -> list[str]:
        return [v.value for v in self.variables if v.secret and v.value]

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        return from_dict(cls, data)
