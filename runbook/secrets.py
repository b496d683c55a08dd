"""Secrets masked: the one function every message, report, transcript and export goes through.

A :class:`Masker` holds the secret values (a guide's secret variables, an inventory's secrets,
ssh passwords) and replaces each occurrence with ``********``, or with a replacement of its own
(the exporters put ``${RUNBOOK_SECRET_…}`` where a secret stood). Longer secrets win where one
contains another; the text is scanned once (a regular expression of the values, longest first), so
masking a long output costs one pass whatever the number of secrets.

:func:`secret_env_name` names the environment variable a secret is read from, for the runner's
inventories and the exporters alike.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

MASK = "********"
MIN_LENGTH = 1
"""Secrets at least this long are masked (every non-empty one): the runner, drift and the exporters alike."""


def secret_env_name(variable: str) -> str:
    """``replication_password`` -> ``RUNBOOK_SECRET_REPLICATION_PASSWORD``: where the runner reads a
    secret variable's value from, and what the exporters write in its place."""
    return "RUNBOOK_SECRET_" + "".join(ch if ch.isalnum() else "_" for ch in variable).upper()


class Masker:
    """Replaces every secret in a text (``masker(text)``) or in a whole structure (:meth:`deep`)."""

    def __init__(self, values: Iterable[str] | Mapping[str, str] = ()) -> None:
        replacements = dict(values) if isinstance(values, Mapping) else dict.fromkeys(values, MASK)
        self.replacements = {v: r for v, r in replacements.items() if len(v) >= MIN_LENGTH}
        self.values = sorted(self.replacements, key=len, reverse=True)
        """The secret values, longest first."""
        self._re = re.compile("|".join(re.escape(v) for v in self.values)) if self.values else None

    def __bool__(self) -> bool:
        return bool(self.values)

    def __call__(self, text: str) -> str:
        if self._re is None or not text:
            return text
        return self._re.sub(lambda m: self.replacements[m.group(0)], text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Each secret found in ``text``, left to right (the longest where several start at one place)."""
        return iter(()) if self._re is None else self._re.finditer(text)

    def match_at(self, text: str, pos: int) -> re.Match[str] | None:
        """The secret that starts at ``pos`` in ``text`` (the longest), or None."""
        return None if self._re is None else self._re.match(text, pos)

    def found(self, text: str) -> list[str]:
        """The secret values ``text`` holds, longest first."""
        return [v for v in self.values if v in text]

    def extended(self, values: Iterable[str]) -> Masker:
        """A masker of these secrets and ``values`` (all replaced by ``********``)."""
        return Masker({**dict.fromkeys(values, MASK), **self.replacements})

    def deep(self, value: Any) -> Any:
        """``value`` with every string in it masked: lists, tuples and dicts copied, dataclasses
        changed in place (a run's results, masked once before any report reads them)."""
        if isinstance(value, str):
            return self(value)
        if self._re is None:
            return value
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.deep(v) for v in value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                setattr(value, f.name, self.deep(getattr(value, f.name)))
        return value


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by ``********``."""
    return Masker(secrets)(text)
