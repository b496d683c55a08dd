"""YAML read with a bound on what aliases expand to (a site's ``_config.yml``, a page's front matter).

PyYAML shares an aliased node instead of copying it, so a "billion laughs" file loads small; but
everything that walks the data afterwards (Liquid rendering ``{{ site.x }}``, the values put on one
line) expands every alias, and a few lines become billions of values.  :func:`load` counts, while
composing, how many values each node stands for once expanded, and refuses a document above
:data:`MAX_VALUES` (or an alias to the node that holds it) with the line of the alias.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, SequenceNode

MAX_VALUES = 100_000
"""Values a document may stand for once its aliases are expanded (a real ``_config.yml`` has hundreds)."""


class AliasBomb(yaml.YAMLError):
    """The document's aliases expand beyond :data:`MAX_VALUES` or refer to themselves."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line
        """1-based."""


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        """id(collection node) -> values it stands for once expanded (set when it is complete)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.peek_event() if self.check_event(AliasEvent) else None
        node = super().compose_node(parent, index)
        if isinstance(alias, AliasEvent) and isinstance(node, (SequenceNode, MappingNode)):
            line = alias.start_mark.line + 1 if alias.start_mark is not None else 1
            if id(node) not in self._sizes:  # still being composed: the alias is inside its own anchor
                raise AliasBomb(f"the alias *{alias.anchor} refers to the value that holds it", line)
        return node

    def compose_sequence_node(self, anchor: Any) -> Any:
        line = self.peek_event().start_mark.line + 1
        return self._sized(super().compose_sequence_node(anchor), line)

    def compose_mapping_node(self, anchor: Any) -> Any:
        line = self.peek_event().start_mark.line + 1
        return self._sized(super().compose_mapping_node(anchor), line)

    def _sized(self, node: Any, line: int) -> Any:
        items = node.value if isinstance(node, SequenceNode) else [v for kv in node.value for v in kv]
        size = 1 + sum(self._sizes.get(id(child), 1) for child in items)
        self._sizes[id(node)] = size
        if size > MAX_VALUES:
            raise AliasBomb(f"its aliases make this value stand for more than {MAX_VALUES} values (an alias bomb)",
                            line)
        return node


def load(text: str) -> Any:
    """``yaml.safe_load(text)`` with expanded aliases bounded; :class:`AliasBomb` (a ``YAMLError``
    with ``problem`` and ``line``) otherwise."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
