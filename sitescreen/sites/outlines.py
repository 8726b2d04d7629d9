"""Identical outlines stacked by several polygon sites (BLM claims are mapped to their aliquot part,
so many claims share one quarter-quarter section): each site keeps its row; the run counts them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely


def outline_keys(geoms: np.ndarray) -> np.ndarray:
    """A 64-bit key per geometry, equal for geometries with the same outline (vertices in any
    order or starting point: compared in shapely's normal form; identical
    outlines stay identical when projected, so any one CRS will do)."""
    wkb = shapely.to_wkb(shapely.normalize(np.asarray(geoms, dtype=object)))
    return pd.util.hash_array(np.asarray(wkb, dtype=object)).astype(np.uint64)


def shared_outlines(keys: np.ndarray) -> tuple[int, int]:
    """(sites whose outline another site also has, outlines held by more than one site)."""
    _, counts = np.unique(np.asarray(keys, dtype=np.uint64), return_counts=True)
    stacked = counts[counts > 1]
    return int(stacked.sum()), int(len(stacked))
