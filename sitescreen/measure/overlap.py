"""Overlap and area kernels: footprints against the polygonal parts of a feature layer.

How the areas avoid the per-pair overlay and per-site union that make ``gpd.overlay`` slow:
intersection areas and covered (union) areas come from Green's theorem, evaluated per site by a
compiled kernel (:mod:`sitescreen.measure._areakernel`, numba) on the edges of the footprint and of its
candidate features that lie in each other's bounding boxes: crossings, winding numbers and the
inside fraction of every edge, without building any geometry. The layer's rings are read once
from the coordinate buffers. Every orientation sign the kernel relies on is certified (Shewchuk's
error bound); pairs or sites in a configuration it cannot decide exactly (touching or collinear
edges, duplicated features, slivers thinner than rounding, non-polygonal footprints) go to GEOS,
where a site's union is built by vectorized rounds of ``difference`` (round *k* subtracts every
such site's *k*-th feature, largest first).

Inputs, layers and chunking are :mod:`sitescreen.measure.geomops`'s.
A missing or empty footprint gets NaN for fractions and areas, -1 for indices.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from sitescreen.measure._areakernel import build_rings, green_sites
from sitescreen.measure.geomops import (
    MULTIPOLYGON,
    POLYGON,
    WORKERS,
    Layer,
    as_features,
    as_geom_array,
    chunks,
    layer_of,
)
from sitescreen.measure.majority import majority_codes

__all__ = [
    "overlap_fraction",
    "largest_overlap",
    "overlap_and_largest",
    "area_weighted",
    "AREA_WEIGHTED_METHODS",
]

log = logging.getLogger(__name__)

#: Methods accepted by :func:`area_weighted`.
AREA_WEIGHTED_METHODS = ("majority", "max", "mean")

#: Sites per chunk of the compiled area kernel (a chunk is one task of the thread pool).
GREEN_CHUNK_SITES = 4_000
#: Crossings one site may have in the compiled kernel (its buffers) before GEOS measures it.
MAX_CROSSINGS = 1 << 16


# --------------------------------------------------------------------------------------------
# pair machinery (polygonal layer)
# --------------------------------------------------------------------------------------------


@dataclass
class _Pairs:
    """Candidate pairs of one chunk of footprints (site indices local to the chunk)."""

    site: np.ndarray
    part: np.ndarray  # index into layer.geoms
    inside: np.ndarray  # footprint lies inside the feature (intersection = footprint)
    contained: np.ndarray  # feature lies inside the footprint (intersection = feature)


def _query_pairs(fp: np.ndarray, layer: Layer) -> _Pairs:
    site, part = layer.tree.query(fp, predicate="intersects")
    if site.size == 0:
        empty = np.zeros(0, dtype=bool)
        return _Pairs(site, part, empty, empty)
    inside = shapely.contains(layer.geoms[part], fp[site])
    contained = np.zeros(site.size, dtype=bool)
    rest = ~inside
    contained[rest] = shapely.contains(fp[site[rest]], layer.geoms[part[rest]])
    return _Pairs(site, part, inside, contained)


def _covered_area(
    fp: np.ndarray,
    fp_area: np.ndarray,
    layer: Layer,
    p: _Pairs,
    pair_area: np.ndarray | None = None,
) -> np.ndarray:
    """Area of footprint ∩ union(features) per site of the chunk, overlaps counted once."""
    n = fp.size
    covered = np.zeros(n, dtype=np.float64)
    if p.site.size == 0:
        return covered
    full = np.zeros(n, dtype=bool)
    full[p.site[p.inside]] = True
    covered[full] = fp_area[full]

    keep = ~full[p.site]
    site, part, contained = p.site[keep], p.part[keep], p.contained[keep]
    npairs = np.bincount(site, minlength=n)
    single = npairs[site] == 1
    if single.any():
        s1, f1 = site[single], part[single]
        if pair_area is not None:
            a1 = pair_area[keep][single]
        else:
            a1 = np.empty(s1.size, dtype=np.float64)
            c1 = contained[single]
            a1[c1] = shapely.area(layer.geoms[f1[c1]])
            if (~c1).any():
                a1[~c1] = shapely.area(shapely.intersection(fp[s1[~c1]], layer.geoms[f1[~c1]]))
        covered[s1] = a1

    multi = ~single
    if multi.any():
        sm, fm = site[multi], part[multi]
        # Largest features first: the remainder empties early and later rounds are cheap.
        order = np.lexsort((-shapely.area(layer.geoms[fm]), sm))
        sm, fm = sm[order], fm[order]
        first = np.r_[True, sm[1:] != sm[:-1]]
        start = np.flatnonzero(first)
        rank = np.arange(sm.size) - np.repeat(start, np.diff(np.r_[start, sm.size]))
        sites = sm[first]
        remainder = np.empty(n, dtype=object)
        remainder[sites] = fp[sites]
        alive = np.zeros(n, dtype=bool)
        alive[sites] = True
        for k in range(int(rank.max()) + 1):  # rounds, each vectorized over sites
            sel = rank == k
            sk, fk = sm[sel], fm[sel]
            live = alive[sk]
            sk, fk = sk[live], fk[live]
            if sk.size == 0:
                break
            remainder[sk] = shapely.difference(remainder[sk], layer.geoms[fk])
            alive[sk[shapely.is_empty(remainder[sk])]] = False
        rem_area = shapely.area(remainder[sites])
        covered[sites] = np.maximum(fp_area[sites] - rem_area, 0.0)
    return np.minimum(covered, fp_area)


# --------------------------------------------------------------------------------------------
# exact areas without building geometries (Green's theorem, compiled: see _areakernel)
# --------------------------------------------------------------------------------------------


def _wsum(idx: np.ndarray, weights: np.ndarray, minlength: int = 0) -> np.ndarray:
    """np.bincount with weights, always float64 (numpy returns int64 for empty input)."""
    return np.bincount(idx, weights=weights, minlength=minlength).astype(np.float64, copy=False)


# --------------------------------------------------------------------------------------------
# public kernels
# --------------------------------------------------------------------------------------------


def _green_chunk(fp: np.ndarray, layer: Layer, union: bool):
    """Worker part: candidate pairs and the Green's-theorem measurements (NaN = undecided).

    Touches no prepared geometry, so chunks can run in parallel threads (GEOS releases the GIL,
    the compiled kernel too)."""
    site, part = layer.tree.query(fp)  # bounding-box candidates; disjoint pairs get area 0
    if site.size > 1 and (np.diff(site) < 0).any():
        order = np.argsort(site, kind="stable")
        site, part = site[order], part[order]
    pstart = np.searchsorted(site, np.arange(fp.size + 1)).astype(np.int64)
    tid = shapely.get_type_id(fp)
    site_ok = (tid == POLYGON) | (tid == MULTIPOLYGON)  # others: GEOS decides
    R = build_rings(fp)
    L = layer.rings
    pair_area = np.empty(site.size, dtype=np.float64)
    covered = np.empty(fp.size, dtype=np.float64)
    green_sites(R.xy, R.ring_off, R.geom_ring, shapely.bounds(fp), site_ok,
                L.xy, L.ring_off, L.geom_ring, layer.bounds, layer.nedge,
                pstart, part.astype(np.int64), union, MAX_CROSSINGS, pair_area, covered)
    return site, part, pair_area, covered


def _measure(fps: np.ndarray, layer: Layer, *, union: bool):
    """Yield (start, stop, site, part, pair_area, covered) per chunk of footprints, in order.

    Chunks are measured in a thread pool; pairs or sites the Green kernel cannot decide
    exactly are finished with GEOS overlay in the calling thread.
    """
    bounds = list(chunks(fps.size, GREEN_CHUNK_SITES))
    workers = max(1, min(WORKERS, len(bounds)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda ab: _green_chunk(fps[ab[0]:ab[1]], layer, union), bounds)
        for (a, b), (site, part, pair_area, covered) in zip(bounds, results):
            fp = fps[a:b]
            bad = np.isnan(pair_area)
            if bad.any():
                log.debug("GEOS intersection for %d of %d pairs", bad.sum(), bad.size)
                pair_area[bad] = shapely.area(
                    shapely.intersection(fp[site[bad]], layer.geoms[part[bad]])
                )
            if union:
                todo = np.flatnonzero(np.isnan(covered))
                if todo.size:
                    log.debug("GEOS union for %d of %d sites", todo.size, fp.size)
                    sub = fp[todo]
                    covered[todo] = _covered_area(sub, shapely.area(sub), layer, _query_pairs(sub, layer))
            yield a, b, site, part, pair_area, covered


def overlap_fraction(footprints: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Per footprint: area(footprint ∩ union(features)) / area(footprint), float64 in [0, 1].

    Overlapping features are not double-counted. NaN for a missing or empty footprint.
    """
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    out = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return out
    layer = layer_of(feats, True)
    for a, b, _, _, _, cov in _measure(fps, layer, union=True):
        fp_area = shapely.area(fps[a:b])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a:b] = np.where(fp_area > 0, cov / fp_area, np.nan)
    return np.clip(out, 0.0, 1.0)


def largest_overlap(footprints: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per footprint: (index into features of the feature with the largest intersection area, or -1;
    that area in m²).

    Only positive-area intersections count (a feature merely touching gives -1, 0.0). Ties go to
    the lowest feature index.
    """
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    best = np.full(fps.size, -1, dtype=np.int64)
    best_area = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return best, best_area
    layer = layer_of(feats, True)
    for a, b, site, part, area, _ in _measure(fps, layer, union=False):
        _largest_chunk(site, part, area, layer, best[a:b], best_area[a:b])
    return best, best_area


def overlap_and_largest(footprints: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`overlap_fraction` and :func:`largest_overlap` in one pass over the candidate pairs
    (the union pass computes every pair's area anyway): (fraction, feature index or -1, its area)."""
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    out = np.zeros(fps.size, dtype=np.float64)
    best = np.full(fps.size, -1, dtype=np.int64)
    best_area = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return out, best, best_area
    for _ in union_chunks(fps, layer_of(feats, True), out, best, best_area):
        pass
    return np.clip(out, 0.0, 1.0), best, best_area


def union_chunks(fps: np.ndarray, layer, out: np.ndarray, best: np.ndarray, best_area: np.ndarray):
    """The union pass over the candidate pairs, chunk by chunk: fills ``out`` (the covered share),
    ``best`` and ``best_area`` (the largest feature) and yields each chunk's ``(a, b, site, part,
    area, cov, fp_area)`` for callers that need the pairs too (:mod:`sitescreen.measure.parts`)."""
    for a, b, site, part, area, cov in _measure(fps, layer, union=True):
        fp_area = shapely.area(fps[a:b])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a:b] = np.where(fp_area > 0, cov / fp_area, np.nan)
        _largest_chunk(site, part, area, layer, best[a:b], best_area[a:b])
        yield a, b, site, part, area, cov, fp_area


def _largest_chunk(site, part, area, layer, best, best_area):
    if site.size:
        site, owner, area = _sum_by_owner(site, layer.owner[part], area)
        pos = area > 0
        site, owner, area = site[pos], owner[pos], area[pos]
        order = np.lexsort((owner, -area, site))
        site, owner, area = site[order], owner[order], area[order]
        first = np.r_[True, site[1:] != site[:-1]] if site.size else np.zeros(0, bool)
        best[site[first]] = owner[first]
        best_area[site[first]] = area[first]


def _sum_by_owner(site, owner, area):
    """Sum pair areas of parts belonging to the same feature (collections exploded into parts)."""
    if site.size == 0:
        return site, owner, area
    key = site.astype(np.int64) * (int(owner.max()) + 1) + owner
    uniq, inv = np.unique(key, return_inverse=True)
    if uniq.size == key.size:
        return site, owner, area
    summed = _wsum(inv, weights=area)
    first = np.zeros(uniq.size, dtype=np.int64)
    first[inv[::-1]] = np.arange(key.size)[::-1]
    return site[first], owner[first], summed


def area_weighted(
    footprints: np.ndarray, features: np.ndarray, values: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per footprint: the feature attribute weighted by intersection area, and the covered fraction.

    ``method``:

    * ``"majority"``: the value with the largest total intersection area (object array, None
      where nothing intersects; ties go to the value met first in ``values``);
    * ``"max"``: the largest value among features with a positive intersection area (float, NaN
      where none);
    * ``"mean"``: the area-weighted mean of the values (float, NaN where none). Where features
      overlap, each one weighs with its own intersection area.

    Missing values (None/NaN) are ignored for the attribute but still count as coverage.
    The covered fraction is area(footprint ∩ union(features)) / area(footprint).
    """
    if method not in AREA_WEIGHTED_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(AREA_WEIGHTED_METHODS)}; got {method!r}"
        )
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    values = np.asarray(values)
    if values.shape != feats.shape:
        raise ValueError(
            f"values must have one entry per feature: {values.shape[0] if values.ndim else 0} "
            f"values for {feats.size} features"
        )
    n = fps.size
    frac = np.zeros(n, dtype=np.float64)
    if method == "majority":
        result = np.full(n, None, dtype=object)
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
        attr = codes.astype(np.int64)  # -1 for missing values
        labels = np.asarray(uniques, dtype=object)
    else:
        result = np.full(n, np.nan, dtype=np.float64)
        try:
            attr = values.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"method {method!r} needs numeric values: {exc}") from None
        labels = None
    if n == 0:
        return result, frac
    layer = layer_of(feats, True)
    for a, b, site, part, pair_area, cov in _measure(fps, layer, union=True):
        res, fr = _area_weighted_chunk(fps[a:b], layer, method, attr, labels, site, part, pair_area, cov)
        result[a:b] = res
        frac[a:b] = fr
    return result, np.clip(frac, 0.0, 1.0)


def _area_weighted_chunk(fp, layer, method, attr, labels, site, part, pair_area, cov):
    n = fp.size
    fp_area = shapely.area(fp)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(fp_area > 0, cov / fp_area, np.nan)
    site, owner, area = _sum_by_owner(site, layer.owner[part], pair_area)
    pos = area > 0
    site, owner, area = site[pos], owner[pos], area[pos]
    if method == "majority":
        result = np.full(n, None, dtype=object)
        k = attr[owner]
        ok = k >= 0
        site, k, area = site[ok], k[ok], area[ok]
        top_site, top_k = majority_codes(site, k, area)
        result[top_site] = labels[top_k]
        return result, frac
    result = np.full(n, np.nan)
    v = attr[owner]
    ok = ~np.isnan(v)
    site, v, area = site[ok], v[ok], area[ok]
    if site.size:
        if method == "max":
            mx = np.full(n, -np.inf)
            np.maximum.at(mx, site, v)
            has = np.bincount(site, minlength=n) > 0
            result[has] = mx[has]
        else:
            w = _wsum(site, weights=area, minlength=n)
            wv = _wsum(site, weights=area * v, minlength=n)
            has = w > 0
            result[has] = wv[has] / w[has]
    return result, frac

