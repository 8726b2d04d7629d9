"""Distance and count kernels: footprints against every non-empty geometry of a feature layer.

Distances use a bulk ``dwithin`` query at growing radii with exact distances on the candidates
only. Inputs, layers and chunking are :mod:`sitescreen.measure.geomops`'s.
A missing or empty footprint gets -1 for indices, 0 for counts.
"""

from __future__ import annotations

import numpy as np
import shapely

from sitescreen.measure.geomops import as_features, as_geom_array, in_threads, layer_of

__all__ = ["nearest", "count_within"]

#: Sites per chunk of the distance and count kernels.
NEAREST_CHUNK_SITES = 10_000


def nearest(footprints: np.ndarray, features: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Per footprint: (distance in m to the nearest feature — 0 when they intersect — or np.inf when
    none lies within max_distance; index of that feature or -1).

    Ties (several features at the same distance) go to the lowest feature index.
    """
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    max_distance = float(max_distance)
    if not max_distance >= 0:  # also rejects NaN
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    dist = np.full(fps.size, np.inf, dtype=np.float64)
    idx = np.full(fps.size, -1, dtype=np.int64)
    if fps.size == 0:
        return dist, idx
    layer = layer_of(feats, False)
    if layer.geoms.size == 0:
        return dist, idx
    in_threads(lambda a, b: _nearest_chunk(fps[a:b], layer, max_distance, dist[a:b], idx[a:b]),
               fps.size, NEAREST_CHUNK_SITES)
    return dist, idx


#: Search radii (m) tried in turn by :func:`nearest` before the bounded nearest-neighbour query.
NEAREST_RADII = (0.0, 250.0, 500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0)


def _nearest_chunk(fp, layer, max_distance, dist, idx) -> None:
    """Expanding search: a bulk ``dwithin`` query at growing radii (cheap, prepared) and exact
    distances on the candidates only; every site whose candidates are all found within a radius
    is settled there. Sites still open use STRtree.query_nearest bounded by max_distance."""
    open_ = np.flatnonzero(~(shapely.is_empty(fp) | np.equal(fp, None)))
    radii = [r for r in NEAREST_RADII if r < max_distance] + [max_distance]
    if np.isinf(max_distance):
        radii = radii[:-1]
    for r in radii:
        if open_.size == 0:
            return
        g = fp[open_]
        if r == 0:
            qi, ti = layer.tree.query(g, predicate="intersects")
            d = np.zeros(qi.size)
        else:
            qi, ti = layer.tree.query(g, predicate="dwithin", distance=r)
            d = shapely.distance(g[qi], layer.geoms[ti])
        _settle(open_, qi, layer.owner[ti], d, dist, idx)
        open_ = open_[~np.isin(open_, open_[qi])]
    if open_.size and np.isinf(max_distance):
        (qi, ti), d = layer.tree.query_nearest(fp[open_], return_distance=True, all_matches=True)
        _settle(open_, qi, layer.owner[ti], d, dist, idx)


def _settle(open_, qi, owner, d, dist, idx) -> None:
    """Per site (open_[qi]): the smallest distance, ties to the lowest feature index."""
    if qi.size == 0:
        return
    order = np.lexsort((owner, d, qi))
    qi, owner, d = qi[order], owner[order], d[order]
    first = np.r_[True, qi[1:] != qi[:-1]]
    tgt = open_[qi[first]]
    dist[tgt] = d[first]
    idx[tgt] = owner[first]


def count_within(footprints: np.ndarray, features: np.ndarray, distance: float) -> np.ndarray:
    """Per footprint: number of features within `distance` m (intersecting counts), int64."""
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    distance = float(distance)
    if not distance >= 0:
        raise ValueError(f"distance must be >= 0, got {distance}")
    out = np.zeros(fps.size, dtype=np.int64)
    if fps.size == 0:
        return out
    layer = layer_of(feats, False)
    if layer.geoms.size == 0:
        return out
    def count(a, b):
        if distance > 0:
            site, _ = layer.tree.query(fps[a:b], predicate="dwithin", distance=distance)
        else:
            site, _ = layer.tree.query(fps[a:b], predicate="intersects")
        out[a:b] = np.bincount(site, minlength=b - a)

    in_threads(count, fps.size, NEAREST_CHUNK_SITES)
    return out
