"""The words for the watershed a site lies in: its name and code, and where it drains (WBD's
``tohuc``, :mod:`sitescreen.inputs.downstream`), for the area-weighted majority of a field."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.rules.wording import watershed_texts


def described(feats: gpd.GeoDataFrame, field: str, value: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(text, layer) per site for its majority ``value`` of ``field``: the first feature holding that
    value, in words (one text per value, so counting by text is counting by value); None when the
    features say nowhere where they drain (no ``drains_to``), as before such layers existed."""
    if "drains_to" not in feats or not feats["drains_to"].notna().any() or field not in feats:
        return None
    first = feats.assign(_key=feats[field].astype("string")).dropna(subset=["_key"]).drop_duplicates("_key")
    to_name = first["drains_to_name"] if "drains_to_name" in first else pd.Series(pd.NA, index=first.index)
    words = pd.Series(watershed_texts(first["name"], first["_key"], to_name, first["drains_to"]),
                      index=first["_key"].to_numpy(dtype=object))
    layer = pd.Series(first["layer"].astype(str).to_numpy(dtype=object), index=words.index)
    keys = pd.Series(value, dtype="string")
    text = keys.map(words).fillna("").to_numpy(dtype=object)
    return text, np.where(text != "", keys.map(layer).fillna("").to_numpy(dtype=object), "").astype(object)
