"""The typed reader of the run record: a dataclass of :mod:`sitescreen.record.manifest` built from JSON
data, every value checked against the field's type (:func:`read_value`; :func:`build` for
:func:`sitescreen.record.manifest.read_record`). ``legacy``: fields with a default may be missing
(a schema 1 manifest)."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Union


class Bad(Exception):
    """A value that does not fit the layout: (where, what)."""


def union_args(tp: Any) -> tuple | None:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return None


def _read_value(tp: Any, value: Any, where: str, legacy: bool) -> Any:
    if tp is Any:
        return value
    args = union_args(tp)
    if args is not None:
        if value is None and type(None) in args:
            return None
        tp = next(a for a in args if a is not type(None))
    if is_dataclass(tp):
        return build(tp, value, where, legacy)
    origin = typing.get_origin(tp)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise Bad(where, f"expected a list, got {value!r}")
        item = typing.get_args(tp)[0]
        return tuple(_read_value(item, v, f"{where}[{i}]", legacy) for i, v in enumerate(value))
    if origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise Bad(where, f"expected an object, got {value!r}")
        item = typing.get_args(tp)[1]
        return {str(k): _read_value(item, v, f"{where}.{k}", legacy) for k, v in value.items()}
    ok = {str: isinstance(value, str), bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, (int, float)) and not isinstance(value, bool)}[tp]
    if not ok:
        raise Bad(where, f"expected {_WORDS[tp]}, got {value!r}")
    return value


_WORDS = {str: "text", bool: "true or false", int: "a whole number", float: "a number"}


def build(cls: type, data: Any, where: str, legacy: bool) -> Any:
    if not isinstance(data, Mapping):
        raise Bad(where, f"expected an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    known: set[str] = set()
    flat = None
    for f in fields(cls):
        if f.metadata.get("skip"):
            continue
        if f.metadata.get("flatten"):
            flat = f.name
            continue
        known.add(f.name)
        at = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            kwargs[f.name] = _read_value(hints[f.name], data[f.name], at, legacy)
        elif not f.metadata.get("omit") and not (legacy and (f.default is not MISSING or f.default_factory is not MISSING)):
            raise Bad(at, "is missing")
    unknown = [k for k in data if k not in known]
    if flat is not None:
        kwargs[flat] = {k: data[k] for k in unknown}
    elif unknown:
        raise Bad(f"{where}.{unknown[0]}" if where else str(unknown[0]),
                   f"is not a key of this record; allowed: {', '.join(sorted(known))}")
    return cls(**kwargs)


def read_value(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """A part of a record (e.g. an :class:`InputRecord`) from the run's own data, in this schema."""
    try:
        return build(cls, data, where, False)
    except Bad as exc:
        raise ValueError(f"{exc.args[0]}: {exc.args[1]}") from None


__all__ = ["Bad", "union_args", "build", "read_value"]
