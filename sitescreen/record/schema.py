"""The JSON Schema of the run record's layout, generated from the dataclasses of
:mod:`sitescreen.record.manifest` and committed as :data:`sitescreen.record.manifest.SCHEMA_FILE`
(``python -m sitescreen.record.schema`` rewrites it)."""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from sitescreen.record.manifest import SCHEMA_FILE, SCHEMA_VERSION, RunRecord
from sitescreen.record.read import union_args

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _schema_of(tp: Any, defs: dict) -> dict:
    if tp is Any:
        return {}
    args = union_args(tp)
    if args is not None:
        inner = _schema_of(next(a for a in args if a is not type(None)), defs)
        if set(inner) == {"type"} and isinstance(inner["type"], str):
            return {"type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    if is_dataclass(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}
            defs[tp.__name__] = _class_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    origin = typing.get_origin(tp)
    if origin is tuple:
        return {"type": "array", "items": _schema_of(typing.get_args(tp)[0], defs)}
    if origin in (Mapping, dict):
        return {"type": "object", "additionalProperties": _schema_of(typing.get_args(tp)[1], defs)}
    return {"type": _JSON_TYPES[tp]}


def _class_schema(cls: type, defs: dict) -> dict:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    open_ = False
    for f in fields(cls):
        if f.metadata.get("skip"):
            continue
        if f.metadata.get("flatten"):
            open_ = True
            continue
        props[f.name] = f.metadata.get("schema") or _schema_of(hints[f.name], defs)
        if f.metadata.get("schema") and "type" not in f.metadata["schema"] and "const" not in f.metadata["schema"]:
            props[f.name] = {**_schema_of(hints[f.name], defs), **f.metadata["schema"]}
        if not f.metadata.get("omit"):
            required.append(f.name)
    doc = " ".join((cls.__doc__ or "").split())
    return {**({"description": doc} if doc and not doc.startswith(cls.__name__ + "(") else {}),
            "type": "object", "properties": props, "required": required, "additionalProperties": open_}


def json_schema() -> dict:
    """The JSON Schema (2020-12) every manifest.json this version writes validates against."""
    defs: dict[str, Any] = {}
    top = _class_schema(RunRecord, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"sitescreen-manifest-schema-{SCHEMA_VERSION}",
            "title": "sitescreen run manifest (manifest.json)", **top,
            "$defs": {k: defs[k] for k in sorted(defs)}}


def schema_text() -> str:
    """The text of :data:`SCHEMA_FILE` (``python -m sitescreen.record.schema`` writes it)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


@functools.lru_cache(maxsize=1)
def validator():
    """A validator of the committed schema file (the one a reviewer's tools read), built once."""
    import jsonschema
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def schema_problems(data: Any) -> list[str]:
    """Where ``data`` (a manifest as JSON data) breaks the committed schema: "path: message", sorted."""
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator().iter_errors(data))


if __name__ == "__main__":  # pragma: no cover - regenerates the committed schema file
    SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")


__all__ = ["json_schema", "schema_text", "schema_problems", "validator"]
