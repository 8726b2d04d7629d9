"""Vectorized geometry kernels: footprints against a feature layer.

Every function takes numpy arrays of shapely geometries in one projected CRS (metres) and
returns one value per footprint. No Python loop runs over sites or pairs: candidate pairs come
from one bulk :class:`shapely.STRtree` query, measurements are vectorized shapely calls on those
pairs only, and per-site reductions use ``np.bincount`` / ``np.maximum.at`` / sorting.

Overlap and area functions see only the polygonal parts of features (lines and points have no
area); ``nearest`` and ``count_within`` see every non-empty geometry.

How the areas avoid the per-pair overlay and per-site union that make ``gpd.overlay`` slow:
intersection areas and covered (union) areas come from Green's theorem evaluated in numpy on
the edges of each candidate pair that lie in the other polygon's bounding box (see the section
"exact areas without building geometries" below); only pairs or sites in a configuration it
cannot decide exactly (touching or collinear edges, duplicated features) go to GEOS, where a
site's union is built by vectorized rounds of ``difference`` (round *k* subtracts every such
site's *k*-th feature, largest first). Distances use a bulk ``dwithin`` query at growing radii
with exact distances on the candidates only.

Footprints are processed in chunks of sites, on a small thread pool, so that memory stays
bounded for millions of sites and both cores work (GEOS and numpy release the GIL).
A missing or empty footprint gets NaN for fractions and areas, -1 for indices, 0 for counts.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "overlap_fraction",
    "largest_overlap",
    "overlap_and_largest",
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
#: Sites per chunk of the Green's-theorem kernel: small enough for its arrays to stay in cache.
GREEN_CHUNK_SITES = 4_000
#: Sites per chunk of the distance and count kernels.
NEAREST_CHUNK_SITES = 10_000
#: Threads measuring chunks in parallel.
WORKERS = min(2, os.cpu_count() or 1)

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
    bounds: np.ndarray | None = None  # (n, 4) bounds of each tree geometry
    edges: "_Edges | None" = None  # edge table (polygonal layers)


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
    return _Layer(g, o, shapely.area(g), shapely.STRtree(g), shapely.bounds(g), _edge_table(g))


def _any_layer(features: np.ndarray) -> _Layer:
    """Every non-empty geometry (for distances and counts)."""
    idx = np.flatnonzero(~shapely.is_empty(features) & ~np.equal(features, None))
    g = features[idx]
    return _Layer(g, idx.astype(np.int64), np.zeros(len(g)), shapely.STRtree(g))


def _chunks(n: int, size: int = CHUNK_SITES):
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _in_threads(fn, n: int, size: int) -> None:
    """Call fn(start, stop) for every chunk of range(n), WORKERS chunks at a time. Chunks write
    disjoint slices of the outputs; GEOS and numpy release the GIL."""
    bounds = list(_chunks(n, size))
    if WORKERS <= 1 or len(bounds) <= 1:
        for a, b in bounds:
            fn(a, b)
        return
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in pool.map(lambda ab: fn(*ab), bounds):
            pass


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
    inside = shapely.contains(layer.geoms[part], fp[site])
    contained = np.zeros(site.size, dtype=bool)
    rest = ~inside
    contained[rest] = shapely.contains(fp[site[rest]], layer.geoms[part[rest]])
    return _Pairs(site, part, inside, contained)


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


# --------------------------------------------------------------------------------------------
# exact areas without building geometries (Green's theorem)
# --------------------------------------------------------------------------------------------
#
# For polygons with rings oriented interior-on-the-left (exteriors counter-clockwise, holes
# clockwise), area(A ∩ B) = ½ Σ_{e ∈ ∂A} cross(e₀, e₁)·λ_e + ½ Σ_{f ∈ ∂B} cross(f₀, f₁)·μ_f,
# where λ_e is the fraction of edge e lying inside B and μ_f the fraction of f inside A: along a
# straight edge x·dy − y·dx is constant, so only the inside *fraction* of each edge matters.
# The fraction follows from winding numbers: start from the winding number at the ring's first
# vertex and add σ = ±1 at every crossing (entering/leaving), so λ_e = w(e₀) + Σ σ_c (1 − t_c).
# Only edges inside the other polygon's bounding box can cross it or lie inside it, so per pair
# a few dozen edge pairs are tested, in numpy, in coordinates relative to the footprint's centre.
#
# The union of several features over one footprint uses the same crossings plus those between
# the features themselves: along a footprint edge the integrand is [depth ≥ 1], along an edge of
# feature i it is [inside the footprint and outside every other feature] (sorting the crossings
# along each edge). Edges shared by two features in opposite directions (tilings) cancel and are
# dropped; where two features share a vertex the depth is re-anchored by a point-in-polygon test.
#
# Exactness: an orientation sign is trusted only beyond Shewchuk's error bound, and signs that
# are reused (a vertex shared by consecutive edges) come from identical arithmetic. Pairs or
# sites with an untrusted sign (a vertex on an edge, collinear overlaps, duplicate features) or
# an inconsistent winding number are computed by GEOS overlay instead.

_CCW_ERR = 3.3306690738754716e-16  # (3 + 16ε)ε, Shewchuk's ccwerrboundA


@dataclass(frozen=True)
class _Edges:
    """Edges of polygonal geometries, grouped by geometry (CSR) and ring, interior on the left."""

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    ring: np.ndarray  # ring id; edges of a ring are consecutive and in order
    offset: np.ndarray  # edges of geometry g: offset[g]:offset[g + 1]
    ring_first: np.ndarray  # first edge of each ring id


def _edge_table(geoms: np.ndarray, block: int = 20_000) -> _Edges:
    """Edge table of `geoms`, built in blocks of geometries (small temporaries are much
    cheaper than a few huge ones) and concatenated."""
    if geoms.size <= block:
        return _edge_table_block(geoms)
    parts = [_edge_table_block(geoms[a:a + block]) for a in range(0, geoms.size, block)]
    nedge = np.cumsum([0] + [p.x0.size for p in parts])
    nring = np.cumsum([0] + [p.ring_first.size for p in parts])
    return _Edges(
        np.concatenate([p.x0 for p in parts]),
        np.concatenate([p.y0 for p in parts]),
        np.concatenate([p.x1 for p in parts]),
        np.concatenate([p.y1 for p in parts]),
        np.concatenate([p.ring + r for p, r in zip(parts, nring)]),
        np.concatenate([parts[0].offset[:1]] + [p.offset[1:] + e for p, e in zip(parts, nedge)]),
        np.concatenate([p.ring_first + e for p, e in zip(parts, nedge)]),
    )


def _edge_table_block(geoms: np.ndarray) -> _Edges:
    """Edge table straight from the coordinate buffers.

    Simple polygons (no holes, the common case) go through one ``get_coordinates`` call; only
    multipolygons and polygons with holes are split into rings.
    """
    n = geoms.size
    tid = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms) | (tid < 0)
    simple = (tid == _POLYGON) & ~empty
    simple[simple] = shapely.get_num_interior_rings(geoms[simple]) == 0
    complex_ = np.isin(tid, (_POLYGON, _MULTIPOLYGON)) & ~empty & ~simple
    si = np.flatnonzero(simple)
    xy_s, gi = shapely.get_coordinates(geoms[si], return_index=True)
    geom_pt = [si[gi]]
    ringseq_pt = [np.zeros(gi.size, dtype=np.int64)]
    ext_pt = [np.ones(gi.size, dtype=bool)]
    xys = [xy_s]
    ci = np.flatnonzero(complex_)
    if ci.size:
        parts, pidx = shapely.get_parts(geoms[ci], return_index=True)
        rings, ridx = shapely.get_rings(parts, return_index=True)
        is_ext = np.r_[True, ridx[1:] != ridx[:-1]]  # first ring of each part
        xy_c, rid = shapely.get_coordinates(rings, return_index=True)
        geom_pt.append(ci[pidx[ridx[rid]]])
        ringseq_pt.append(rid.astype(np.int64) + 1)  # increasing within a geometry
        ext_pt.append(is_ext[rid])
        xys.append(xy_c)
    if len(xys) == 1:
        geom_pt, ringseq_pt, ext_pt, xy = geom_pt[0], ringseq_pt[0], ext_pt[0], xys[0]
    else:
        geom_pt = np.concatenate(geom_pt)
        ringseq_pt = np.concatenate(ringseq_pt)
        ext_pt = np.concatenate(ext_pt)
        xy = np.concatenate(xys)
        order = np.argsort(geom_pt, kind="stable")
        geom_pt, ringseq_pt, ext_pt, xy = geom_pt[order], ringseq_pt[order], ext_pt[order], xy[order]
    npt = geom_pt.size
    same = (geom_pt[1:] == geom_pt[:-1]) & (ringseq_pt[1:] == ringseq_pt[:-1])  # edge k -> k+1
    new_ring = np.r_[True, ~same] if npt else np.zeros(0, dtype=bool)
    ring_of_pt = np.cumsum(new_ring) - 1
    ring_start = np.flatnonzero(new_ring)
    nring = ring_start.size
    ring_len = np.diff(np.r_[ring_start, npt])
    exterior = ext_pt[ring_start]
    x = np.ascontiguousarray(xy[:, 0])
    y = np.ascontiguousarray(xy[:, 1])
    # signed area of each ring, relative to its first vertex: fix orientation where needed
    lx = x - np.repeat(x[ring_start], ring_len)
    ly = y - np.repeat(y[ring_start], ring_len)
    cross = lx[:-1] * ly[1:] - lx[1:] * ly[:-1]
    cross[~same] = 0.0
    twice = _wsum(ring_of_pt[:-1], weights=cross, minlength=nring)
    del lx, ly, cross
    flip = np.where(exterior, twice < 0, twice > 0)
    if flip.any():
        pts = np.flatnonzero(flip[ring_of_pt])
        r = ring_of_pt[pts]
        src = ring_start[r] + (ring_start[r] + ring_len[r] - 1 - pts)
        x[pts], y[pts] = x[src], y[src]
    ring = ring_of_pt[:-1][same]
    geom = geom_pt[:-1][same]
    offset = np.searchsorted(geom, np.arange(n + 1)).astype(np.int64)
    ring_first = np.searchsorted(ring, np.arange(nring)).astype(np.int64)
    return _Edges(x[:-1][same], y[:-1][same], x[1:][same], y[1:][same],
                  ring.astype(np.int64), offset, ring_first)


def _wsum(idx: np.ndarray, weights: np.ndarray, minlength: int = 0) -> np.ndarray:
    """np.bincount with weights, always float64 (numpy returns int64 for empty input)."""
    return np.bincount(idx, weights=weights, minlength=minlength).astype(np.float64, copy=False)


def _expand(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, index) for every index in start[i]:start[i] + count[i], owners in order."""
    owner = np.repeat(np.arange(start.size), count)
    first = np.cumsum(count) - count
    return owner, np.repeat(start, count) + (np.arange(owner.size) - first[owner])


def _orient(ax, ay, bx, by, cx, cy):
    """Orientation of c relative to the line a→b (> 0: left), and whether its sign is certain."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    return det, np.abs(det) > _CCW_ERR * (np.abs(detleft) + np.abs(detright))


class _Kept:
    """Edges of one geometry per context (a context = one footprint × feature pair) that lie in
    the context's box, in local coordinates (origin = the footprint's centre)."""

    def __init__(self, E: _Edges, geom_of_ctx, box, ox, oy):
        ctx, edge = _expand(E.offset[geom_of_ctx], E.offset[geom_of_ctx + 1] - E.offset[geom_of_ctx])
        x0, y0, x1, y1 = E.x0[edge], E.y0[edge], E.x1[edge], E.y1[edge]
        b = box[ctx]
        keep = ((np.maximum(x0, x1) >= b[:, 0]) & (np.minimum(x0, x1) <= b[:, 2])
                & (np.maximum(y0, y1) >= b[:, 1]) & (np.minimum(y0, y1) <= b[:, 3]))
        self.ctx = ctx[keep]
        self.edge = edge[keep]
        self.ox, self.oy = ox[self.ctx], oy[self.ctx]
        self.x0, self.y0 = x0[keep] - self.ox, y0[keep] - self.oy
        self.x1, self.y1 = x1[keep] - self.ox, y1[keep] - self.oy
        self.ring = E.ring[self.edge]
        self.bx0, self.bx1 = np.minimum(self.x0, self.x1), np.maximum(self.x0, self.x1)
        self.by0, self.by1 = np.minimum(self.y0, self.y1), np.maximum(self.y0, self.y1)
        self.E = E
        count = np.bincount(self.ctx, minlength=geom_of_ctx.size)
        self.start, self.count = np.cumsum(count) - count, count

    @property
    def size(self) -> int:
        return self.ctx.size

    def cross_term(self) -> np.ndarray:
        return self.x0 * self.y1 - self.x1 * self.y0


@dataclass
class _Crossings:
    coupling: np.ndarray  # index of the coupling of every proper crossing
    ix: np.ndarray
    iy: np.ndarray
    tx: np.ndarray  # parameter along the X edge
    ty: np.ndarray
    sx: np.ndarray  # +1 where the X edge enters the Y polygon
    sy: np.ndarray
    uncertain: np.ndarray  # couplings with an untrusted sign (not explained below)
    reversed_x: np.ndarray  # X entries identical to a Y entry reversed (shared edge)
    reversed_y: np.ndarray
    touch_x: np.ndarray  # X entries starting at a vertex shared with Y
    touch_y: np.ndarray


def _filter_entries(K: _Kept, ctx_of_coupling: np.ndarray, box: np.ndarray | None):
    """Entries of K for each coupling, optionally only those overlapping the coupling's box
    (local coordinates). Returns (coupling, entry) sorted by coupling, start and count."""
    kk, ent = _expand(K.start[ctx_of_coupling], K.count[ctx_of_coupling])
    if box is not None:
        b = box[kk]
        keep = ((K.bx1[ent] >= b[:, 0]) & (K.bx0[ent] <= b[:, 2])
                & (K.by1[ent] >= b[:, 1]) & (K.by0[ent] <= b[:, 3]))
        kk, ent = kk[keep], ent[keep]
    count = np.bincount(kk, minlength=ctx_of_coupling.size)
    return kk, ent, np.cumsum(count) - count, count


def _crossings(X: _Kept, Y: _Kept, cx: np.ndarray, cy: np.ndarray, ncoup_flags: int,
               classify: bool = False, box_x=None, box_y=None) -> _Crossings:
    """Proper crossings between the X edges of context cx[k] and the Y edges of context cy[k]
    (X edges only where they meet box_y[k], Y edges only where they meet box_x[k])."""
    kx, xs, _, _ = _filter_entries(X, cx, box_y)
    _, ys, ystart, ny = _filter_entries(Y, cy, box_x)
    # every X entry against the Y entries of its coupling (no integer division)
    rep = ny[kx]
    ix = np.repeat(xs, rep)
    k = np.repeat(kx, rep)
    off = np.arange(ix.size) - np.repeat(np.cumsum(rep) - rep, rep)
    iy = ys[np.repeat(ystart[kx], rep) + off]
    del off, rep
    # bounding boxes of the two edges, x first (cheap filters before any coordinate is read)
    ov = (X.bx1[ix] >= Y.bx0[iy]) & (X.bx0[ix] <= Y.bx1[iy])
    k, ix, iy = k[ov], ix[ov], iy[ov]
    ov = (X.by1[ix] >= Y.by0[iy]) & (X.by0[ix] <= Y.by1[iy])
    k, ix, iy = k[ov], ix[ov], iy[ov]
    ex0, ey0, ex1, ey1 = X.x0[ix], X.y0[ix], X.x1[ix], X.y1[ix]
    fx0, fy0, fx1, fy1 = Y.x0[iy], Y.y0[iy], Y.x1[iy], Y.y1[iy]
    o0, c0 = _orient(fx0, fy0, fx1, fy1, ex0, ey0)  # X's ends against the line of Y
    o1, c1 = _orient(fx0, fy0, fx1, fy1, ex1, ey1)
    p0, c2 = _orient(ex0, ey0, ex1, ey1, fx0, fy0)  # Y's ends against the line of X
    p1, c3 = _orient(ex0, ey0, ex1, ey1, fx1, fy1)
    certain = c0 & c1 & c2 & c3
    uncertain = np.zeros(ncoup_flags, dtype=bool)
    empty = np.zeros(0, dtype=np.int64)
    rx = ry = tx_ = ty_ = empty
    if not certain.all():
        u = ~certain
        if classify:
            s00 = (ex0[u] == fx0[u]) & (ey0[u] == fy0[u])
            s01 = (ex0[u] == fx1[u]) & (ey0[u] == fy1[u])
            s10 = (ex1[u] == fx0[u]) & (ey1[u] == fy0[u])
            s11 = (ex1[u] == fx1[u]) & (ey1[u] == fy1[u])
            rev = s01 & s10
            # exactly one shared endpoint and the two other ends certainly off the other line
            one = (s00.astype(int) + s01 + s10 + s11) == 1
            off_x = np.where(s00 | s01, c1[u] & (o1[u] != 0), c0[u] & (o0[u] != 0))
            off_y = np.where(s00 | s10, c3[u] & (p1[u] != 0), c2[u] & (p0[u] != 0))
            # or collinear but end to end: the free ends lie on opposite sides of the shared one
            vx = np.where(s00 | s01, ex0[u], ex1[u])
            vy = np.where(s00 | s01, ey0[u], ey1[u])
            ax = np.where(s00 | s01, ex1[u], ex0[u]) - vx
            ay = np.where(s00 | s01, ey1[u], ey0[u]) - vy
            bx = np.where(s00 | s10, fx1[u], fx0[u]) - vx
            by = np.where(s00 | s10, fy1[u], fy0[u]) - vy
            dot = ax * bx + ay * by
            end_to_end = (np.abs(dot) > _CCW_ERR * 4 * (np.abs(ax * bx) + np.abs(ay * by))) & (dot < 0)
            touch = one & ((off_x & off_y) | end_to_end)
            explained = rev | touch
            uncertain[k[u][~explained]] = True
            rx, ry = ix[u][rev], iy[u][rev]
            tx_ = ix[u][touch & (s00 | s01)]
            ty_ = iy[u][touch & (s00 | s10)]
        else:
            uncertain[k[u]] = True
    cross = certain & ((o0 > 0) != (o1 > 0)) & ((p0 > 0) != (p1 > 0))
    o0, o1, p0, p1 = o0[cross], o1[cross], p0[cross], p1[cross]
    return _Crossings(
        k[cross], ix[cross], iy[cross], o0 / (o0 - o1), p0 / (p0 - p1),
        np.where(o0 < 0, 1.0, -1.0),  # X goes from the right of Y's edge (outside) to its left
        np.where(p0 < 0, 1.0, -1.0),
        uncertain, rx, ry, tx_, ty_,
    )


def _pip(geoms: np.ndarray, x: np.ndarray, y: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """1.0 where (x, y) lies in the interior of the geometry (GEOS), else 0.0; `b`: the
    geometries' bounds when known (points outside them need no GEOS call)."""
    out = np.zeros(x.size)
    if x.size == 0:
        return out
    if b is None:
        b = shapely.bounds(geoms)
    maybe = (x > b[:, 0]) & (x < b[:, 2]) & (y > b[:, 1]) & (y < b[:, 3])
    if maybe.any():
        out[maybe] = shapely.contains_xy(geoms[maybe], x[maybe], y[maybe])
    return out


def _group_starts(*keys) -> np.ndarray:
    """Boolean: entry starts a new group (any key differs from the previous entry)."""
    n = keys[0].size
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for key in keys:
            new[1:] |= key[1:] != key[:-1]
    return new


def _ring_states(K: _Kept, S: np.ndarray, other_geoms: np.ndarray, other_bounds: np.ndarray) -> np.ndarray:
    """Winding number of the context's other geometry at the start of every kept edge:
    PIP at the ring's first vertex, then the crossings of the preceding kept edges."""
    n = K.size
    if n == 0:
        return np.zeros(0)
    new = _group_starts(K.ctx, K.ring)
    gid = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    csum = np.cumsum(S) - S
    before = csum - csum[first][gid]
    rfe = K.E.ring_first[K.ring[first]]
    c = K.ctx[first]
    w0 = _pip(other_geoms[c], K.E.x0[rfe], K.E.y0[rfe], other_bounds[c])
    return w0[gid] + before


@dataclass
class _GreenResult:
    pair_area: np.ndarray  # NaN where GEOS must decide
    covered: np.ndarray  # per site of the chunk; NaN where GEOS must decide


def _green(fp, fp_bounds, layer: _Layer, L: _Edges, site, part, *, union: bool) -> _GreenResult:
    """Pair areas (and, with `union`, covered areas per site) for the chunk's candidate pairs."""
    nsite = fp.size
    npair = site.size
    A = _edge_table(fp)
    fb = fp_bounds
    lb = layer.bounds
    ox = (fb[site, 0] + fb[site, 2]) * 0.5
    oy = (fb[site, 1] + fb[site, 3]) * 0.5
    ctx = np.arange(npair)
    KA = _Kept(A, site, lb[part], ox, oy)  # footprint edges in the feature's box
    KB = _Kept(L, part, fb[site], ox, oy)  # feature edges in the footprint's box
    X = _crossings(KA, KB, ctx, ctx, npair)
    bad_pair = X.uncertain.copy()
    SA = _wsum(X.ix, weights=X.sx, minlength=KA.size)
    TA = _wsum(X.ix, weights=X.sx * (1.0 - X.tx), minlength=KA.size)
    SB = _wsum(X.iy, weights=X.sy, minlength=KB.size)
    TB = _wsum(X.iy, weights=X.sy * (1.0 - X.ty), minlength=KB.size)
    wA = _ring_states(KA, SA, layer.geoms[part], lb[part])  # inside the feature, along footprint edges
    wB = _ring_states(KB, SB, fp[site], fb[site])  # inside the footprint, along feature edges
    for w, S, K in ((wA, SA, KA), (wB, SB, KB)):
        end = w + S
        odd = (w < -0.5) | (w > 1.5) | (end < -0.5) | (end > 1.5)
        bad_pair[K.ctx[odd]] = True
    area = 0.5 * (_wsum(KA.ctx, weights=KA.cross_term() * (wA + TA), minlength=npair)
                  + _wsum(KB.ctx, weights=KB.cross_term() * (wB + TB), minlength=npair))
    area[bad_pair] = np.nan
    covered = np.full(nsite, np.nan) if union else np.zeros(0)
    if union:
        _union(fp, layer, site, part, ox, oy, KA, KB, X, wA, wB, area, bad_pair, covered)
    return _GreenResult(area, covered)


def _integrate(n, start_state, ev_entry, ev_t, ev_delta, indicator):
    """Piecewise-constant states along n entries (parameter 0..1): each starts at start_state
    (rows) and changes by ev_delta at ev_t. Returns (∫ indicator per entry, state of every
    segment, entry of every segment)."""
    m = ev_entry.size
    seg_entry = np.concatenate([np.arange(n), ev_entry])
    seg_t0 = np.concatenate([np.zeros(n), ev_t])
    delta = np.concatenate([np.zeros((n, start_state.shape[1])), ev_delta])
    o = np.lexsort((np.r_[np.zeros(n), np.ones(m)], seg_t0, seg_entry))
    seg_entry, seg_t0, delta = seg_entry[o], seg_t0[o], delta[o]
    nxt_same = np.r_[seg_entry[1:] == seg_entry[:-1], False]
    seg_t1 = np.where(nxt_same, np.r_[seg_t0[1:], 1.0], 1.0)
    csum = np.cumsum(delta, axis=0)
    first = np.searchsorted(seg_entry, np.arange(n))
    base = csum[first] - delta[first]
    state = start_state[seg_entry] + csum - base[seg_entry]
    frac = _wsum(seg_entry, weights=(seg_t1 - seg_t0) * indicator(state), minlength=n)
    return frac, state, seg_entry


def _clip_params(x0, y0, x1, y1, box):
    """Parameter interval [ua, ub] of each segment inside its box (Liang–Barsky)."""
    ua = np.zeros(x0.size)
    ub = np.ones(x0.size)
    dx, dy = x1 - x0, y1 - y0
    with np.errstate(divide="ignore", invalid="ignore"):
        for d, lo, hi, p in ((dx, box[:, 0], box[:, 2], x0), (dy, box[:, 1], box[:, 3], y0)):
            t_lo = (lo - p) / d
            t_hi = (hi - p) / d
            t_in = np.where(d > 0, t_lo, t_hi)
            t_out = np.where(d > 0, t_hi, t_lo)
            moving = d != 0
            ua = np.where(moving, np.maximum(ua, t_in), ua)
            ub = np.where(moving, np.minimum(ub, t_out), ub)
    return np.clip(ua, 0.0, 1.0), np.clip(ub, 0.0, 1.0)


def _union(fp, layer, site, part, ox, oy, KA, KB, X, wA, wB, pair_area, bad_pair, covered):
    """Covered area per site: area(footprint ∩ union of its candidate features)."""
    nsite = covered.size
    bad_site = np.zeros(nsite, dtype=bool)
    bad_site[site[bad_pair]] = True
    # features that do not overlap the footprint's interior cannot change the union
    active = (pair_area > 0) & ~bad_site[site]
    nact = np.bincount(site[active], minlength=nsite)
    covered[:] = _wsum(site[active], weights=pair_area[active], minlength=nsite)
    if not (nact >= 2).any():
        covered[bad_site] = np.nan
        return
    # couples of active features of one site whose boxes meet within the footprint's box;
    # a site without any is covered by the plain sum of its pair areas
    mp = np.flatnonzero(active & (nact[site] >= 2))
    ms = site[mp]
    after = np.searchsorted(ms, ms, side="right") - (np.arange(mp.size) + 1)
    ci, cj = _expand(np.arange(mp.size) + 1, after)
    cp, cq = mp[ci], mp[cj]
    lb = layer.bounds[part]
    fbs = shapely.bounds(fp)[site[cp]]
    meet = ((np.maximum(np.maximum(lb[cp, 0], lb[cq, 0]), fbs[:, 0])
             <= np.minimum(np.minimum(lb[cp, 2], lb[cq, 2]), fbs[:, 2]))
            & (np.maximum(np.maximum(lb[cp, 1], lb[cq, 1]), fbs[:, 1])
               <= np.minimum(np.minimum(lb[cp, 3], lb[cq, 3]), fbs[:, 3])))
    cp, cq = cp[meet], cq[meet]
    need = np.zeros(nsite, dtype=bool)
    need[site[cp]] = True
    multi_pair = active & need[site]
    ms = site[multi_pair]
    if not multi_pair.any():
        covered[bad_site] = np.nan
        return
    # local boxes of the two features (same origin: both belong to the same footprint)
    org = np.c_[ox[cp], oy[cp], ox[cp], oy[cp]]
    Y = _crossings(KB, KB, cp, cq, cp.size, classify=True, box_x=lb[cp] - org, box_y=lb[cq] - org)
    bad_site[site[cp[Y.uncertain]]] = True

    # --- footprint edges: integrand [depth >= 1]
    sel_a = multi_pair[KA.ctx]
    pos_a = np.flatnonzero(sel_a)
    uniq_a, rep, inv_a = np.unique(KA.edge[pos_a], return_index=True, return_inverse=True)
    d0 = _wsum(inv_a, weights=wA[pos_a], minlength=uniq_a.size)
    ev = sel_a[X.ix]
    ev_e = np.searchsorted(uniq_a, KA.edge[X.ix[ev]])
    frac_a, state_a, seg_a = _integrate(uniq_a.size, d0[:, None], ev_e, X.tx[ev],
                                        X.sx[ev][:, None], lambda s: s[:, 0] >= 0.5)
    site_a = site[KA.ctx[pos_a[rep]]]
    odd = state_a[:, 0] < -0.5
    bad_site[site_a[seg_a[odd]]] = True
    acc = _wsum(site_a, weights=KA.cross_term()[pos_a[rep]] * frac_a, minlength=nsite)

    # --- feature edges: integrand [inside the footprint and outside every other feature]
    drop = np.zeros(KB.size, dtype=bool)
    drop[Y.reversed_x] = True  # shared edges in opposite directions cancel
    drop[Y.reversed_y] = True
    idx = np.flatnonzero(multi_pair[KB.ctx] & ~drop)
    nb = idx.size
    pos_of = np.full(KB.size, -1)
    pos_of[idx] = np.arange(nb)
    e1_sel = pos_of[X.iy] >= 0
    e1 = pos_of[X.iy[e1_sel]]
    t1 = X.ty[e1_sel]
    d1 = np.c_[X.sy[e1_sel], np.zeros(e1.size)]
    bx = pos_of[Y.ix] >= 0
    by = pos_of[Y.iy] >= 0
    e2 = np.r_[pos_of[Y.ix[bx]], pos_of[Y.iy[by]]]
    t2 = np.r_[Y.tx[bx], Y.ty[by]]
    s2 = np.r_[Y.sx[bx], Y.sy[by]]
    ctx_b = KB.ctx[idx]
    # where along each edge it is inside the footprint's box: crossings outside it may be
    # missing (the other edge need not be kept), so depth is anchored inside the box
    fb = shapely.bounds(fp)[site[ctx_b]]
    box = fb - np.c_[KB.ox[idx], KB.oy[idx], KB.ox[idx], KB.oy[idx]]
    ua, ub = _clip_params(KB.x0[idx], KB.y0[idx], KB.x1[idx], KB.y1[idx], box)
    prev_cont = np.r_[False, (ctx_b[1:] == ctx_b[:-1]) & (KB.edge[idx][1:] == KB.edge[idx][:-1] + 1)
                      & (KB.ring[idx][1:] == KB.ring[idx][:-1]) & (ub[:-1] >= 1.0)]
    touch = np.zeros(KB.size, dtype=bool)
    touch[Y.touch_x] = True  # starts at a vertex shared with another feature
    touch[Y.touch_y] = True
    anchor = ~prev_cont | touch[idx] | (ua > 0.0)
    # anchor point: halfway from where the edge enters the box to the next feature crossing
    nxt = ub.copy()
    later = t2 >= ua[e2]
    np.minimum.at(nxt, e2[later], t2[later])
    u_star = 0.5 * (ua + nxt)
    ai = np.flatnonzero(anchor)
    j = idx[ai]
    gx = KB.x0[j] + u_star[ai] * (KB.x1[j] - KB.x0[j]) + KB.ox[j]
    gy = KB.y0[j] + u_star[ai] * (KB.y1[j] - KB.y0[j]) + KB.oy[j]
    ap = ctx_b[ai]
    s_of = site[ap]
    # the other features taking part in the site's union (only those have known crossings)
    mpi = np.flatnonzero(multi_pair)
    lo = np.searchsorted(ms, s_of, side="left")
    hi = np.searchsorted(ms, s_of, side="right")
    own, other = _expand(lo, hi - lo)
    other = mpi[other]
    keep = other != ap[own]
    own, other = own[keep], other[keep]
    po = part[other]
    depth_anchor = _wsum(own, weights=_pip(layer.geoms[po], gx[own], gy[own], layer.bounds[po]),
                               minlength=ai.size)
    # depth at t = 0 of the anchored edge: anchor minus the known crossings before u*
    before = t2 < u_star[e2]
    pre = _wsum(e2[before], weights=s2[before], minlength=nb)
    Sd = _wsum(e2, weights=s2, minlength=nb)
    run = np.cumsum(anchor) - 1
    csum = np.cumsum(Sd) - Sd
    start_d = (depth_anchor - pre[ai])[run] + csum - csum[ai][run]
    start = np.c_[wB[idx], start_d]
    frac_b, state_b, seg_b = _integrate(
        nb, start, np.r_[e1, e2], np.r_[t1, t2], np.r_[d1, np.c_[np.zeros(e2.size), s2]],
        lambda s: (s[:, 0] >= 0.5) & (np.abs(s[:, 1]) < 0.5))
    odd = (state_b[:, 0] < -0.5) | (state_b[:, 0] > 1.5) | ((state_b[:, 0] >= 0.5) & (state_b[:, 1] < -0.5))
    bad_site[site[ctx_b[seg_b[odd]]]] = True
    acc += _wsum(site[ctx_b], weights=KB.cross_term()[idx] * frac_b, minlength=nsite)
    msites = np.unique(ms)
    covered[msites] = 0.5 * acc[msites]
    covered[bad_site] = np.nan


# --------------------------------------------------------------------------------------------
# public kernels
# --------------------------------------------------------------------------------------------


def _green_chunk(fp: np.ndarray, layer: _Layer, union: bool):
    """Worker part: candidate pairs and the Green's-theorem measurements (NaN = undecided).

    Touches no prepared geometry, so chunks can run in parallel threads (GEOS releases the GIL,
    numpy too)."""
    site, part = layer.tree.query(fp)  # bounding-box candidates; disjoint pairs get area 0
    res = _green(fp, shapely.bounds(fp), layer, layer.edges, site, part, union=union)
    return site, part, res.pair_area, res.covered


def _measure(fps: np.ndarray, layer: _Layer, *, union: bool):
    """Yield (start, stop, site, part, pair_area, covered) per chunk of footprints, in order.

    Chunks are measured in a thread pool; pairs or sites the Green kernel cannot decide
    exactly are finished with GEOS overlay in the calling thread.
    """
    bounds = list(_chunks(fps.size, GREEN_CHUNK_SITES))
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
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    out = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return out
    layer = _polygonal_layer(feats)
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
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    best = np.full(fps.size, -1, dtype=np.int64)
    best_area = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return best, best_area
    layer = _polygonal_layer(feats)
    for a, b, site, part, area, _ in _measure(fps, layer, union=False):
        _largest_chunk(site, part, area, layer, best[a:b], best_area[a:b])
    return best, best_area


def overlap_and_largest(footprints: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`overlap_fraction` and :func:`largest_overlap` in one pass over the candidate pairs
    (the union pass computes every pair's area anyway): (fraction, feature index or -1, its area)."""
    fps = _as_geom_array(footprints, "footprints")
    feats = _as_geom_array(features, "features")
    out = np.zeros(fps.size, dtype=np.float64)
    best = np.full(fps.size, -1, dtype=np.int64)
    best_area = np.zeros(fps.size, dtype=np.float64)
    if fps.size == 0:
        return out, best, best_area
    layer = _polygonal_layer(feats)
    for a, b, site, part, area, cov in _measure(fps, layer, union=True):
        fp_area = shapely.area(fps[a:b])
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a:b] = np.where(fp_area > 0, cov / fp_area, np.nan)
        _largest_chunk(site, part, area, layer, best[a:b], best_area[a:b])
    return np.clip(out, 0.0, 1.0), best, best_area


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
    _in_threads(lambda a, b: _nearest_chunk(fps[a:b], layer, max_distance, dist[a:b], idx[a:b]),
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
    def count(a, b):
        if distance > 0:
            site, _ = layer.tree.query(fps[a:b], predicate="dwithin", distance=distance)
        else:
            site, _ = layer.tree.query(fps[a:b], predicate="intersects")
        out[a:b] = np.bincount(site, minlength=b - a)

    _in_threads(count, fps.size, NEAREST_CHUNK_SITES)
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
            w = _wsum(site, weights=area, minlength=n)
            wv = _wsum(site, weights=area * v, minlength=n)
            has = w > 0
            result[has] = wv[has] / w[has]
    return result, frac

