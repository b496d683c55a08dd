"""Dataclasses to plain JSON values and back: the step graph's ``to_dict``/``from_dict`` (and the
graph's findings'), the fields' types read from their annotations."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

OMIT_DEFAULT = {"omit_default": True}
"""Field metadata: the field is left out of the JSON while it holds its default, so the graphs of
guides that do not use it stay byte-identical."""

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """Dataclasses to plain JSON values (fields in declaration order, see :func:`_json_fields`)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in _json_fields(type(obj)) if not _omitted(f, obj)}
    if isinstance(obj, list):
        return [to_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Enum):
        return obj.value
    return obj


_JSON_FIELDS: dict[type, list[dataclasses.Field[Any]]] = {}


def _json_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """A dataclass's fields in declaration order (a base's first), except that a field whose metadata
    says ``json_after`` comes right after the field it names (:class:`runbook.model.Expected`'s ``span`` after
    ``kind``)."""
    if cls not in _JSON_FIELDS:
        fields = list(dataclasses.fields(cls))
        for f in [f for f in fields if "json_after" in f.metadata]:
            fields.remove(f)
            fields.insert(next(i for i, g in enumerate(fields) if g.name == f.metadata["json_after"]) + 1, f)
        _JSON_FIELDS[cls] = fields
    return _JSON_FIELDS[cls]


def _omitted(f: dataclasses.Field[Any], obj: Any) -> bool:
    """True for a field marked :data:`OMIT_DEFAULT` that holds its default."""
    if not f.metadata.get("omit_default"):
        return False
    value = getattr(obj, f.name)
    if f.default is not dataclasses.MISSING:
        return bool(value == f.default)
    if f.default_factory is not dataclasses.MISSING:
        return bool(value == f.default_factory())
    return False


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return _convert(args[0], value) if len(args) == 1 else value
    if origin is list:
        (inner,) = get_args(tp)
        return [_convert(inner, v) for v in value]
    if origin is dict:
        _, inner = get_args(tp)
        return {k: _convert(inner, v) for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Plain JSON values back to dataclasses (the inverse of :func:`to_dict`)."""
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)
