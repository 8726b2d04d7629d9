"""Where a watershed drains: the name of the unit its ``drains_to`` code (WBD ``tohuc``) names,
looked up in the whole layer (the unit downstream may lie outside the part read around the sites)."""

from __future__ import annotations

import warnings
from functools import lru_cache

import pandas as pd
import pyogrio

from sitescreen.errors import LayerDataError
from sitescreen.inputs.probe import field_names, file_stamp, layer_where, quiet_measures
from sitescreen.inputs.schemas import Schema
from sitescreen.inputs.spec import LayerSpec


def with_downstream(attrs: pd.DataFrame, spec: LayerSpec, schema: Schema) -> pd.DataFrame:
    """``attrs`` with ``drains_to_name`` (the name of the unit ``drains_to`` codes; missing where the
    file has none, e.g. OCEAN or CLOSED BASIN) when the definition maps ``drains_to`` and the file has it."""
    if "drains_to" not in attrs or not attrs["drains_to"].notna().any() or spec.path.suffix.lower() == ".csv":
        return attrs
    where = layer_where(spec)
    by_lower = {c.lower(): c for c in field_names(spec, where)}
    code = next((by_lower[a.lower()] for a in schema.fields.get("huc", ()) if a.lower() in by_lower), None)
    name = next((by_lower[a.lower()] for a in schema.fields.get("name", ()) if a.lower() in by_lower), None)
    if code is None or name is None:
        return attrs
    names = dict(_names(str(spec.path), spec.layer, code, name, file_stamp(spec.path)))
    out = attrs.copy()
    out["drains_to_name"] = out["drains_to"].astype("string").str.strip().map(names).astype("string")
    return out


@lru_cache(maxsize=8)
def _names(path: str, layer: str | None, code: str, name: str, stamp: tuple) -> tuple:
    try:
        with warnings.catch_warnings(), quiet_measures():
            warnings.simplefilter("ignore", RuntimeWarning)
            df = pyogrio.read_dataframe(path, layer=layer, columns=[code, name], read_geometry=False)
    except Exception as exc:
        raise LayerDataError(f"{path}: cannot read its fields {code!r} and {name!r}: {exc}") from None
    df = df.dropna(subset=[code]).drop_duplicates(subset=[code])
    return tuple(zip(df[code].astype(str).str.strip(), df[name].astype("string").fillna("")))
