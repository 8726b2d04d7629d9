"""How a value is written, the same in every file and page: missing is empty, infinity is infinity.

A value can reach a writer as None, float NaN, a float32 NaN, pandas' NA or NaT, ±inf, a numpy
scalar or (under pandas 3) a NaN kept in a text column. Every writer takes it through this
module: :func:`plain` for one value, :func:`text_values` for a column shown as text, and
:func:`strict_json` for JSON (the manifest, the map's payload, ``--json`` output). JSON is always
strict (no ``NaN``/``Infinity`` tokens): missing → ``null``; ±inf → ``1e999``/``-1e999``, a valid
JSON number that ``json.loads`` and the browser's ``JSON.parse`` read back as ±infinity (the
map's number arrays use the same form). CSV, GeoPackage and GeoParquet write missing as an
empty/null cell and infinity as ``inf`` (Arrow's own forms).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: Any) -> bool:
    """True for None, NaN (any float type) and pandas' NA/NaT; False for anything else."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    """One value as a writer takes it: missing → None, numpy scalars → Python scalars (±inf stays
    a float)."""
    if is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def text(value: Any) -> str:
    """One value shown as text: missing → ``""``."""
    v = plain(value)
    return "" if v is None else str(v)


def text_values(values: Any) -> np.ndarray:
    """A column shown as text: strings, missing → ``""`` (pandas 3's ``astype(str)`` keeps NaN)."""
    arr = np.asarray(pd.Series(values, dtype=object).to_numpy(), dtype=object)
    out = arr.copy()
    out[pd.isna(arr)] = ""
    return out.astype(str)


def json_default(o: Any) -> Any:
    """The ``default`` of :func:`strict_json`: numpy scalars, pandas' NA/NaT, paths, arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if is_missing(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


#: A JSON string (kept as is) or a non-finite number token Python's encoder writes.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|-?Infinity|NaN')
_STRICT = {"NaN": "null", "Infinity": "1e999", "-Infinity": "-1e999"}


def strict_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)`` that never fails on a non-finite number and never writes one:
    NaN and missing values → ``null``, ±inf → ``±1e999``."""
    text = json.dumps(obj, allow_nan=True, default=json_default, **kwargs)
    if "NaN" not in text and "Infinity" not in text:
        return text
    return _TOKENS.sub(lambda m: _STRICT.get(m.group(0), m.group(0)), text)


__all__ = ["is_missing", "plain", "text", "text_values", "strict_json", "json_default"]
