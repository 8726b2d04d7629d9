"""Vectorized geometry kernels: footprints against a feature layer.

Every function takes numpy arrays of shapely geometries in one projected CRS (metres) and
returns one value per footprint. No Python loop runs over sites or pairs: candidate pairs come
from one bulk :class:`shapely.STRtree` query, measurements are vectorized shapely calls on those
pairs only, and per-site reductions use ``np.bincount`` / ``np.maximum.at`` / sorting.

Overlap and area functions see only the polygonal parts of features (lines and points have no
area); ``nearest`` and ``count_within`` see every non-empty geometry.

How ``overlap_fraction`` avoids the per-site union that makes ``gpd.overlay`` slow:

* a footprint lying inside one feature is fully covered: fraction 1, no geometry built;
* a feature lying inside a footprint contributes its own area: no intersection built;
* a footprint with a single overlapping feature needs one intersection area, no union;
* only footprints with several overlapping features need the union; for those the uncovered
  remainder ``footprint - f1 - f2 - ...`` is built by vectorized rounds of ``difference``
  (round *k* subtracts every such site's *k*-th feature, largest first, and sites whose
  remainder is empty drop out), which is exact and much cheaper than a union of pieces.

Footprints are processed in chunks of sites so that memory stays bounded for millions of sites.
A missing or empty footprint gets NaN for fractions and areas, -1 for indices, 0 for counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "overlap_fraction",
    "largest_overlap",
    "nearest",
    "count_within",
    "area_weighted",
    "AREA_WEIGHTED_METHODS",
]

log = logging.getLogger(__name__)

#: Methods accepted by :func:`area_weighted`.
AREA_WEIGHTED_METHODS = ("majority", "max", "mean")

#: Sites per chunk: bounds the number of intermediate geometries alive at once.
CHUNK_SITES = 50_000

_POLYGON = 3
_MULTIPOLYGON = 6
_COLLECTION = 7


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------


def _as_geom_array(geoms, name: str) -> np.ndarray:
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
class _Layer:
    """Feature layer ready for querying: tree over `geoms`, `owner` maps back to features."""

    geoms: np.ndarray  # tree geometries
    owner: np.ndarray  # int64 index into the caller's feature array
    area: np.ndarray  # float64 area of each tree geometry
    tree: shapely.STRtree


def _polygonal_layer(features: np.ndarray) -> _Layer:
    """Polygons and multipolygons as they are; polygonal parts of collections exploded."""
    tid = shapely.get_type_id(features)
    nonempty = ~shapely.is_empty(features) & (tid >= 0)
    direct = np.flatnonzero(nonempty & ((tid == _POLYGON) | (tid == _MULTIPOLYGON)))
    geoms = [features[direct]]
    owner = [direct]
    coll = np.flatnonzero(nonempty & (tid == _COLLECTION))
    if coll.size:
        parts, idx = shapely.get_parts(features[coll], return_index=True)
        idx = coll[idx]
        while True:  # flatten nested collections/multipolygons, a bounded number of levels
            ptid = shapely.get_type_id(parts)
            nested = (ptid == _MULTIPOLYGON) | (ptid == _COLLECTION)
            if not nested.any():
                break
            sub, sidx = shapely.get_parts(parts[nested], return_index=True)
            parts = np.concatenate([parts[~nested], sub])
            idx = np.concatenate([idx[~nested], idx[nested][sidx]])
        keep = (shapely.get_type_id(parts) == _POLYGON) & ~shapely.is_empty(parts)
        geoms.append(parts[keep])
        owner.append(idx[keep])
    g = np.concatenate(geoms).astype(object)
    o = np.concatenate(owner).astype(np.int64)
    return _Layer(g, o, shapely.area(g), shapely.STRtree(g))


def _any_layer(features: np.ndarray) -> _Layer:
    """Every non-empty geometry (for distances and counts)."""
    idx = np.flatnonzero(~shapely.is_empty(features) & ~np.equal(features, None))
    g = features[idx]
    return _Layer(g, idx.astype(np.int64), np.zeros(len(g)), shapely.STRtree(g))


def _chunks(n: int, size: int = CHUNK_SITES):
    for start in range(0, n, size):
        yield start, min(n, start + size)


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


def _query_pairs(fp: np.ndarray, layer: _Layer) -> _Pairs:
    site, part = layer.tree.query(fp, predicate="intersects")
    if site.size == 0:
        empty = np.zeros(0, dtype=bool)
        return _Pairs(site, part, empty, empty)
    # Both sides are prepared by the caller, so the containment tests are cheap.
    inside = shapely.contains(layer.geoms[part], fp[site])
    contained = np.zeros(site.size, dtype=bool)
    rest = ~inside
    contained[rest] = shapely.contains(fp[site[rest]], layer.geoms[part[rest]])
    return _Pairs(site, part, inside, contained)


def _pair_areas(fp: np.ndarray, fp_area: np.ndarray, layer: _Layer, p: _Pairs) -> np.ndarray:
    """Intersection area of every pair; a geometry is built only for partial overlaps."""
    area = np.empty(p.site.size, dtype=np.float64)
    area[p.inside] = fp_area[p.site[p.inside]]
    area[p.contained] = layer.area[p.part[p.contained]]
    partial = ~(p.inside | p.contained)
    if partial.any():
        area[partial] = shapely.area(
            shapely.intersection(fp[p.site[partial]], layer.geoms[p.part[partial]])
        )
    return area


def _covered_area(
    fp: np.ndarray,
    fp_area: np.ndarray,
    layer: _Layer,
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
            a1[c1] = layer.area[f1[c1]]
            if (~c1).any():
                a1[~c1] = shapely.area(shapely.intersection(fp[s1[~c1]], layer.geoms[f1[~c1]]))
        covered[s1] = a1

    multi = ~single
    if multi.any():
        sm, fm = site[multi], part[multi]
        # Largest features first: the remainder empties early and later rounds are cheap.
        order = np.lexsort((-layer.area[fm], sm))
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


class _Prepared:
    """Prepare geometries for the duration of a block; undo only what this block prepared."""

    def __init__(self, geoms: np.ndarray):
        self.geoms = geoms

    def __enter__(self):
        ok = ~np.equal(self.geoms, None)
        self.mine = self.geoms[ok][~shapely.is_prepared(self.geoms[ok])]
        shapely.prepare(self.mine)
        return self

    def __exit__(self, *exc):
        shapely.destroy_prepared(self.mine)
        return False


# --------------------------------------------------------------------------------------------
# public kernels
# --------------------------------------------------------------------------------------------


def overlap_fraction(footprints: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Per footprint: area(footprint ∩ union(features)) / area(footprint), float64 in [0, 1].

    Overlapping features are not double-counted. NaN for a missing or empty footprint.
    """
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    out = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return out
    layer = _polygonal_layer(feats)
    with _Prepared(layer.geoms):
        for a, b in _chunks(fps.size):
            fp = fps[a:b]
            fp_area = shapely.area(fp)
            with _Prepared(fp):
                p = _query_pairs(fp, layer)
                cov = _covered_area(fp, fp_area, layer, p)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[a:b] = np.where(fp_area > 0, cov / fp_area, np.nan)
    return np.clip(out, 0.0, 1.0)


def largest_overlap(footprints: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per footprint: (index into features of the feature with the largest intersection area, or -1;
    that area in m²).

    Only positive-area intersections count (a feature merely touching gives -1, 0.0). Ties go to
    the lowest feature index.
    """
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    best = np.full(fps.size, -1, dtype=np.int64)
    best_area = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return best, best_area
    layer = _polygonal_layer(feats)
    with _Prepared(layer.geoms):
        for a, b in _chunks(fps.size):
            _largest_chunk(fps[a:b], layer, best[a:b], best_area[a:b])
    return best, best_area


def _largest_chunk(fp, layer, best, best_area):
    with _Prepared(fp):
        p = _query_pairs(fp, layer)
        area = _pair_areas(fp, shapely.area(fp), layer, p)
    if p.site.size:
        site, owner, area = _sum_by_owner(p.site, layer.owner[p.part], area)
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
    summed = np.bincount(inv, weights=area)
    first = np.zeros(uniq.size, dtype=np.int64)
    first[inv[::-1]] = np.arange(key.size)[::-1]
    return site[first], owner[first], summed


def nearest(footprints: np.ndarray, features: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Per footprint: (distance in m to the nearest feature — 0 when they intersect — or np.inf when
    none lies within max_distance; index of that feature or -1).

    Ties (several features at the same distance) go to the lowest feature index.
    """
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    max_distance = float(max_distance)
    if not max_distance >= 0:  # also rejects NaN
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    dist = np.full(fps.size, np.inf, dtype=np.float64)
    idx = np.full(fps.size, -1, dtype=np.int64)
    if fps.size == 0:
        return dist, idx
    layer = _any_layer(feats)
    if layer.geoms.size == 0:
        return dist, idx
    md = None if np.isinf(max_distance) else max_distance
    big = np.iinfo(np.int64).max
    for a, b in _chunks(fps.size):
        fp = fps[a:b]
        n = fp.size
        # Intersecting pairs first: the prepared bulk query is far cheaper than distances.
        site, part = layer.tree.query(fp, predicate="intersects")
        hit = np.full(n, big, dtype=np.int64)
        np.minimum.at(hit, site, layer.owner[part])
        has = hit != big
        dist[a:b][has] = 0.0
        idx[a:b][has] = hit[has]
        rest = np.flatnonzero(~has & ~shapely.is_empty(fp) & ~np.equal(fp, None))
        if rest.size == 0 or max_distance == 0:
            continue
        (qi, ti), d = layer.tree.query_nearest(
            fp[rest], max_distance=md, return_distance=True, all_matches=True
        )
        if qi.size == 0:
            continue
        own = layer.owner[ti]
        order = np.lexsort((own, qi))
        qi, own, d = qi[order], own[order], d[order]
        first = np.r_[True, qi[1:] != qi[:-1]]
        tgt = a + rest[qi[first]]
        dist[tgt] = d[first]
        idx[tgt] = own[first]
    return dist, idx


def count_within(footprints: np.ndarray, features: np.ndarray, distance: float) -> np.ndarray:
    """Per footprint: number of features within `distance` m (intersecting counts), int64."""
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    distance = float(distance)
    if not distance >= 0:
        raise ValueError(f"distance must be >= 0, got {distance}")
    out = np.zeros(fps.size, dtype=np.int64)
    if fps.size == 0:
        return out
    layer = _any_layer(feats)
    if layer.geoms.size == 0:
        return out
    for a, b in _chunks(fps.size):
        if distance > 0:
            site, _ = layer.tree.query(fps[a:b], predicate="dwithin", distance=distance)
        else:
            site, _ = layer.tree.query(fps[a:b], predicate="intersects")
        out[a:b] = np.bincount(site, minlength=b - a)
    return out


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
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
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
    layer = _polygonal_layer(feats)
    with _Prepared(layer.geoms):
        for a, b in _chunks(n):
            res, fr = _area_weighted_chunk(fps[a:b], layer, method, attr, labels)
            result[a:b] = res
            frac[a:b] = fr
    return result, np.clip(frac, 0.0, 1.0)


def _area_weighted_chunk(fp, layer, method, attr, labels):
    n = fp.size
    fp_area = shapely.area(fp)
    with _Prepared(fp):
        p = _query_pairs(fp, layer)
        pair_area = _pair_areas(fp, fp_area, layer, p)
        cov = _covered_area(fp, fp_area, layer, p, pair_area)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(fp_area > 0, cov / fp_area, np.nan)
    site, owner, area = _sum_by_owner(p.site, layer.owner[p.part], pair_area)
    pos = area > 0
    site, owner, area = site[pos], owner[pos], area[pos]
    if method == "majority":
        result = np.full(n, None, dtype=object)
        k = attr[owner]
        ok = k >= 0
        site, k, area = site[ok], k[ok], area[ok]
        if site.size:
            df = pd.DataFrame({"site": site, "k": k, "area": area})
            tot = df.groupby(["site", "k"], sort=False)["area"].sum().reset_index()
            tot = tot.sort_values(["site", "area", "k"], ascending=[True, False, True], kind="stable")
            top = tot.drop_duplicates("site")
            result[top["site"].to_numpy()] = labels[top["k"].to_numpy()]
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
            w = np.bincount(site, weights=area, minlength=n)
            wv = np.bincount(site, weights=area * v, minlength=n)
            has = w > 0
            result[has] = wv[has] / w[has]
    return result, frac
