"""A profile written back as TOML: the parsed rules of a profile file, with chosen numbers replaced.

:func:`profile_toml` writes what :func:`sitescreen.rules.profile.load_profile` reads. Comments and
layout of the original file are not kept (the rules are); numbers and strings round-trip exactly.
A :class:`Token` is written verbatim in place of a value, so a template can leave a value for
someone else (the map's re-weighting) to fill in; tokens are framed by NUL characters, which never
occur elsewhere in the text (strings escape every control character).
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from typing import Any, Mapping

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


class Token(str):
    """A value left for later: written as ``\\x00NAME\\x00`` (not valid TOML until replaced)."""

    def framed(self) -> str:
        return f"\x00{self}\x00"


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def value_text(v: Any) -> str:
    """One TOML value (inline form for tables and arrays)."""
    if isinstance(v, Token):
        return v.framed()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)  # the shortest text that reads back as the same float
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {value_text(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as a TOML value")


def _is_table(v: Any, depth: int) -> bool:
    """Tables of the first two levels ([verdicts], [criteria.NAME]) get a [header], so the order
    of criteria is kept; deeper ones only when they hold tables themselves (else inline)."""
    return isinstance(v, Mapping) and (depth <= 1 or any(isinstance(x, Mapping) for x in v.values()))


def _table(lines: list[str], path: tuple[str, ...], data: Mapping[str, Any]) -> None:
    plain = [(k, v) for k, v in data.items() if not _is_table(v, len(path))]
    tables = [(k, v) for k, v in data.items() if _is_table(v, len(path))]
    if path and (plain or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    lines.extend(f"{_key(str(k))} = {value_text(v)}" for k, v in plain)
    for k, v in tables:
        _table(lines, path + (str(k),), v)


def toml_text(data: Mapping[str, Any], header: str = "") -> str:
    """``data`` (as :mod:`tomllib` parses it) as TOML text, after ``header`` comment lines."""
    lines = [f"# {line}" for line in header.splitlines()]
    _table(lines, (), data)
    return "\n".join(lines).lstrip("\n") + "\n"


def profile_toml(data: Mapping[str, Any], weights: Mapping[str, Any], favorable: Any, review: Any,
                 header: str = "") -> str:
    """The profile ``data`` with each named criterion's weight, and the verdict thresholds, replaced
    (values may be numbers or :class:`Token`); every other rule is kept as it was."""
    out = copy.deepcopy(dict(data))
    criteria = out.get("criteria", {})
    unknown = sorted(set(weights) - set(criteria))
    if unknown:
        raise KeyError(f"no criteria {', '.join(unknown)} in the profile")
    for name, w in weights.items():
        criteria[name]["weight"] = w
    verdicts = dict(out.get("verdicts", {}))
    verdicts["favorable"], verdicts["review"] = favorable, review
    out["verdicts"] = verdicts
    return toml_text(out, header)
