"""Small builders for the stage tests (tests/test_read_*.py): nodes and hosts written by hand."""

from __future__ import annotations

from runbook.model import Group, Host, Span
from runbook.read.hosts import Environment
from runbook.read.outline import Inline, Node

FILE = "t.md"


def span(line: int, end: int | None = None) -> Span:
    return Span(FILE, line, end if end is not None else line)


def para(text: str, line: int = 1, depth: int = 0, plain: str | None = None, raw: str | None = None,
         links: list[str] | None = None) -> Node:
    """A paragraph node; ``plain`` defaults to ``text`` without backticks."""
    inline = Inline(raw if raw is not None else text, text, plain if plain is not None else text.replace("`", ""),
                    links or [])
    return Node("paragraph", span(line), depth, 0 if depth else None, inline)


def replication_env() -> Environment:
    """プライマリー, スタンバイ1, スタンバイ2 and the group スタンバイ, as the ja lexicon labels them."""
    hosts = [
        Host("primary", "プライマリー", "primary", None, "192.168.0.30", None, span(10)),
        Host("standby1", "スタンバイ1", "standby", 1, "192.168.0.31", None, span(12)),
        Host("standby2", "スタンバイ2", "standby", 2, "192.168.0.32", None, span(14)),
    ]
    labels = {"プライマリー": ["primary"], "スタンバイ1": ["standby1"], "スタンバイ2": ["standby2"],
              "スタンバイ": ["standby1", "standby2"]}
    return Environment(hosts, [Group("standbys", "スタンバイ", ["standby1", "standby2"])], labels, [])
