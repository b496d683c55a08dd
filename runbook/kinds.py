"""The enumerations of the step graph: every ``enum`` of ``runbook/schema/graph.schema.json`` and
the roles of prose.

Each is a ``StrEnum``: a member equals its string (``ActionKind.SQL == "sql"``) and is written as it
in JSON, so graphs read the same.  :mod:`runbook.model`'s fields use them; ``from_dict`` turns the
strings of a graph's JSON back into members.  ``tests/test_typed_results.py`` checks every enum of
the schema against these, both ways.
"""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    SHELL = "shell"
    CONSOLE = "console"
    """A shell block with prompts (``$ ``, ``# ``) and the output the guide shows."""
    SQL = "sql"
    FILE_EDIT = "file_edit"
    FILE_WRITE = "file_write"
    NOTE = "note"
    """Kept, not run (a diagram)."""


class TargetSource(StrEnum):
    """How an action's hosts were found."""

    LABEL = "label"
    PROSE = "prose"
    HEADING = "heading"
    SINGLE_HOST = "single-host"
    ANNOTATION = "annotation"


class ExpectedKind(StrEnum):
    TABLE = "table"
    TAG = "tag"
    ERROR = "error"
    TEXT = "text"


class BlockRole(StrEnum):
    """What a fenced block is (``Block.role``)."""

    ACTION = "action"
    BEFORE = "before"
    NOTE = "note"
    OUTPUT = "output"
    SYNTAX = "syntax"
    ILLUSTRATION = "illustration"
    CONFIGURATION = "configuration"


class Shape(StrEnum):
    """What kind of page a graph was read from (docs/guide-format.md, "Page shapes")."""

    GUIDE = "guide"
    UNTAGGED_GUIDE = "untagged-guide"
    EXAMPLES = "examples"
    NOT_EXECUTABLE = "not-executable"


class VariableKind(StrEnum):
    ADDRESS = "address"
    NETWORK = "network"
    DATABASE = "database"
    USER = "user"
    PASSWORD = "password"
    PG_MAJOR = "pg_major"
    TEXT = "text"


class EditKind(StrEnum):
    """A file edit with no before text (``Action.edit``)."""

    SETTINGS = "settings"
    APPEND = "append"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    HINT = "hint"


class ProseRole(StrEnum):
    """What a piece of prose is (``Prose.role``)."""

    PARAGRAPH = "paragraph"
    HEADING = "heading"
    LIST = "list"
    LABEL = "label"
    """Names the hosts of the next block (``プライマリーで:``)."""
    SCOPE = "scope"
    """A sentence naming the hosts of what follows."""
    PATH = "path"
    """Names the file the next block edits or writes."""
    MARKER = "marker"
    """``変更前:``/``変更後:``, before and after text of an edit."""
    SETTINGS = "settings"
    """Introduces an edit of settings with no before text."""
    APPEND = "append"
    """Introduces lines to add at the end of a file."""
    ENVIRONMENT = "environment"
    OVERVIEW = "overview"
    COMMENT = "comment"
    """A ``-- `` line inside SQL that is not psql output."""
    HTML = "html"
    """An HTML comment, kept as written."""
    ANNOTATION = "annotation"
    """An HTML comment naming the hosts of the next block (``<!-- runbook: hosts=standby1 -->``)."""
