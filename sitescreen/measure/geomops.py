"""Feature layers for the vectorized geometry kernels (:mod:`sitescreen.measure.overlap`,
:mod:`sitescreen.measure.nearest`): input checks, the prepared layer and the chunking.

Every kernel takes numpy arrays of shapely geometries in one projected CRS (metres) and
returns one value per footprint. No Python loop runs over sites or pairs: candidate pairs come
from one bulk :class:`shapely.STRtree` query, areas from a compiled per-site loop and the rest
from vectorized shapely calls on those pairs only, and per-site reductions use ``np.bincount`` /
``np.maximum.at`` / sorting.

Overlap and area functions see only the polygonal parts of features (lines and points have no
area); ``nearest`` and ``count_within`` see every non-empty geometry.

Footprints are processed in chunks of sites, on a small thread pool, so that memory stays
bounded for millions of sites and both cores work (GEOS, numpy and the compiled kernel release
the GIL).
A missing or empty footprint gets NaN for fractions and areas, -1 for indices, 0 for counts.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely

from sitescreen.measure._areakernel import Rings, build_rings

__all__ = ["FeatureLayer"]

#: Sites per chunk: bounds the number of intermediate geometries alive at once.
CHUNK_SITES = 50_000
#: Threads measuring chunks in parallel.
WORKERS = min(2, os.cpu_count() or 1)

POLYGON = 3
MULTIPOLYGON = 6
_COLLECTION = 7



# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def as_geom_array(geoms, name: str) -> np.ndarray:
    if hasattr(geoms, "values") and hasattr(geoms, "crs"):  # GeoSeries
        geoms = geoms.values
    arr = np.asarray(geoms, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of shapely geometries, got shape {arr.shape}")
    ok = shapely.is_geometry(arr) | np.equal(arr, None)
    if not ok.all():
        bad = arr[~ok][0]
        raise TypeError(f"{name} must hold shapely geometries, found {type(bad).__name__}")
    return arr


@dataclass(frozen=True)
class Layer:
    """Feature layer ready for querying: tree over `geoms`, `owner` maps back to features."""

    geoms: np.ndarray  # tree geometries
    owner: np.ndarray  # int64 index into the caller's feature array
    tree: shapely.STRtree
    bounds: np.ndarray | None = None  # (n, 4) bounds of each tree geometry
    rings: Rings | None = None  # oriented rings (polygonal layers)
    nedge: np.ndarray | None = None  # edges of each tree geometry (polygonal layers)


def polygonal_layer(features: np.ndarray) -> Layer:
    """Polygons and multipolygons as they are; polygonal parts of collections exploded."""
    tid = shapely.get_type_id(features)
    nonempty = ~shapely.is_empty(features) & (tid >= 0)
    direct = np.flatnonzero(nonempty & ((tid == POLYGON) | (tid == MULTIPOLYGON)))
    geoms = [features[direct]]
    owner = [direct]
    coll = np.flatnonzero(nonempty & (tid == _COLLECTION))
    if coll.size:
        parts, idx = shapely.get_parts(features[coll], return_index=True)
        idx = coll[idx]
        while True:  # flatten nested collections/multipolygons, a bounded number of levels
            ptid = shapely.get_type_id(parts)
            nested = (ptid == MULTIPOLYGON) | (ptid == _COLLECTION)
            if not nested.any():
                break
            sub, sidx = shapely.get_parts(parts[nested], return_index=True)
            parts = np.concatenate([parts[~nested], sub])
            idx = np.concatenate([idx[~nested], idx[nested][sidx]])
        keep = (shapely.get_type_id(parts) == POLYGON) & ~shapely.is_empty(parts)
        geoms.append(parts[keep])
        owner.append(idx[keep])
    g = np.concatenate(geoms).astype(object)
    o = np.concatenate(owner).astype(np.int64)
    rings = build_rings(g, polygonal=True)
    return Layer(g, o, shapely.STRtree(g), shapely.bounds(g), rings, rings.nedges)


def _any_layer(features: np.ndarray) -> Layer:
    """Every non-empty geometry (for distances and counts)."""
    idx = np.flatnonzero(~shapely.is_empty(features) & ~np.equal(features, None))
    g = features[idx]
    return Layer(g, idx.astype(np.int64), shapely.STRtree(g))


class FeatureLayer:
    """Features prepared once for many calls (the chunks of a run): the tree and the rings of
    each view (polygonal parts; every geometry) are built on first use, under a lock, and kept.
    Every function here takes one in place of an array."""

    def __init__(self, features):
        self.features = as_geom_array(features, "features")
        self._lock = threading.Lock()
        self._views: dict[str, Layer] = {}

    @property
    def size(self) -> int:
        return self.features.size

    @property
    def shape(self) -> tuple:
        return self.features.shape

    def view(self, polygonal: bool) -> Layer:
        key = "polygonal" if polygonal else "any"
        with self._lock:
            if key not in self._views:
                self._views[key] = (polygonal_layer if polygonal else _any_layer)(self.features)
            return self._views[key]


def as_features(features) -> np.ndarray | FeatureLayer:
    return features if isinstance(features, FeatureLayer) else as_geom_array(features, "features")


def layer_of(feats, polygonal: bool) -> Layer:
    if isinstance(feats, FeatureLayer):
        return feats.view(polygonal)
    return polygonal_layer(feats) if polygonal else _any_layer(feats)


def chunks(n: int, size: int = CHUNK_SITES):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def in_threads(fn, n: int, size: int) -> None:
    """Call fn(start, stop) for every chunk of range(n), WORKERS chunks at a time. Chunks write
    disjoint slices of the outputs; GEOS and numpy release the GIL."""
    bounds = list(chunks(n, size))
    if WORKERS <= 1 or len(bounds) <= 1:
        for a, b in bounds:
            fn(a, b)
        return
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in pool.map(lambda ab: fn(*ab), bounds):
            pass
