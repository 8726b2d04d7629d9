"""Compiled (numba) per-site kernel of :mod:`sitescreen.measure.geomops`: exact intersection and union
areas by Green's theorem, without building any geometry.

Rings are held as oriented vertex arrays (:class:`Rings`): exteriors counter-clockwise, holes
clockwise, so the interior is on the left of every edge. For one footprint F and one feature f

    area(F ∩ f) = ½ Σ_{e ∈ ∂F} cross(e₀, e₁)·λ_e + ½ Σ_{g ∈ ∂f} cross(g₀, g₁)·μ_g

where λ_e is the fraction of the edge e inside f and μ_g the fraction of g inside F (along a
straight edge x·dy − y·dx is constant). Fractions follow winding numbers: the state at the first
vertex of a ring comes from a point-in-polygon test, then every proper crossing adds ±1.
Only edges inside the other polygon's bounding box can cross it or lie inside it.

The area covered by several features over F, area(F ∩ ∪ fᵢ), integrates the same way over the
boundary of F ∩ ∪ fᵢ: along an edge of F the integrand is [inside at least one feature], along
an edge of fᵢ it is [inside F and inside no other feature]. Features whose boxes do not meet
inside F's box cannot overlap there (the covered area is then the sum of the pair areas). Edges
shared by two features in opposite directions (tilings) cancel and are dropped. Only the part of
a feature edge inside F's box matters, and there every crossing with another feature is between
two edges kept for that box (each couple of features is tested once); so the depth of the other
features along an edge is anchored by a point-in-polygon test inside the box (halfway from where
the edge enters the box to its next crossing) at the start of every run of consecutive edges,
and wherever an edge starts at a vertex it shares with another feature, then carried by the
crossings.

Exactness: every orientation sign is trusted only beyond Shewchuk's error bound, as is every
sign inside the point-in-polygon tests; an anchor point is computed (rounded), so its test also
fails where an edge passes within a few ulps of it (a sliver between nearly collinear edges). A
pair or a site with an untrusted sign that is not explained (shared reversed edge, touching at
one vertex), an inconsistent winding number, or more crossings than the buffers hold, is
reported as NaN and the caller decides it with GEOS.

Coordinates are made relative to the footprint's bounding-box centre before any cross term or
crossing parameter is formed (the subtraction is exact for nearby points), so the sums keep their
precision far from the origin.

The kernels are compiled with ``nogil=True``: the caller runs chunks of sites on several threads.
:func:`green_sites` allocates its scratch buffers once, then its site loop runs named stages,
inlined into it: load the footprint's edges; per pair keep the edges inside the other's box, find
the crossings, the winding numbers and the pair area; with the union pass, find which features
meet, integrate the footprint edges, record the feature x feature crossings and shared vertices,
and integrate the feature edges from their anchored depths.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numba as nb
import numpy as np
import shapely

_CCW_ERR = 3.3306690738754716e-16  # (3 + 16ε)ε, Shewchuk's ccwerrboundA

_POLYGON = 3
_MULTIPOLYGON = 6

_JIT = {"cache": True, "nogil": True}
#: The site loop of green_sites and its stages (inlined into it) allocate nothing, so they need no
#: reference counting of the buffers they are handed (an atomic operation per array per access).
_NO_NRT = {"cache": True, "nogil": True, "_nrt": False}


@dataclass(frozen=True)
class Rings:
    """Polygonal geometries as oriented closed rings (interior on the left).

    Points (rows of ``xy``) of ring r: ``ring_off[r]:ring_off[r + 1]`` (first point repeated
    last); edge k of the ring joins points k and k + 1. Rings of geometry g:
    ``geom_ring[g]:geom_ring[g + 1]``. Geometries that are not (multi)polygons, or are empty,
    have no rings."""

    xy: np.ndarray  # (npoints, 2) float64
    ring_off: np.ndarray
    geom_ring: np.ndarray

    @property
    def nedges(self) -> np.ndarray:
        """Edges per geometry."""
        nedge = np.maximum(np.diff(self.ring_off) - 1, 0)
        cum = np.r_[0, np.cumsum(nedge)]
        return cum[self.geom_ring[1:]] - cum[self.geom_ring[:-1]]


def build_rings(geoms: np.ndarray, polygonal: bool = False) -> Rings:
    """Oriented rings of an array of geometries, straight from the coordinate buffers: simple
    polygons (no holes, the common case) in one ``get_coordinates`` call, the others split into
    rings; orientation fixed in compiled code. `polygonal`: every geometry is known to be a
    non-empty polygon or multipolygon."""
    n = geoms.size
    tid = shapely.get_type_id(geoms)
    poly = (tid == _POLYGON) | (tid == _MULTIPOLYGON)
    if not polygonal:
        poly &= ~shapely.is_empty(geoms)
    simple = poly & (tid == _POLYGON)
    simple[simple] = shapely.get_num_interior_rings(geoms[simple]) == 0
    si = np.flatnonzero(simple)
    all_simple = si.size == n
    gs = geoms if all_simple else geoms[si]
    xy = shapely.get_coordinates(gs)
    len_s = shapely.get_num_coordinates(gs).astype(np.int64)
    ci = np.flatnonzero(poly & ~simple)
    if ci.size == 0:
        nring = np.zeros(n, dtype=np.int64)
        nring[si] = 1
        geom_ring = np.r_[0, np.cumsum(nring)].astype(np.int64)
        ring_off = np.r_[0, np.cumsum(len_s)].astype(np.int64)
        ext = np.ones(si.size, dtype=np.bool_)
    else:
        parts, pidx = shapely.get_parts(geoms[ci], return_index=True)
        rings, ridx = shapely.get_rings(parts, return_index=True)
        ext_c = np.r_[True, ridx[1:] != ridx[:-1]] if ridx.size else np.zeros(0, np.bool_)
        xy_c = shapely.get_coordinates(rings)
        len_c = shapely.get_num_coordinates(rings).astype(np.int64)
        # merge the two ring lists in geometry order (simple polygons: one ring each)
        ring_geom = np.concatenate([si, ci[pidx[ridx]]])
        order = np.argsort(ring_geom, kind="stable").astype(np.int64)
        lens = np.concatenate([len_s, len_c])
        ext = np.concatenate([np.ones(si.size, np.bool_), ext_c])[order]
        src_off = np.r_[0, np.cumsum(lens)].astype(np.int64)
        xy, ring_off = _gather_rings(np.concatenate([xy, xy_c]), src_off, order)
        nring = np.bincount(ring_geom, minlength=n)
        geom_ring = np.r_[0, np.cumsum(nring)].astype(np.int64)
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    _orient_rings(xy, ring_off, ext)
    return Rings(xy, ring_off, geom_ring)


@nb.njit(**_JIT)
def _gather_rings(xy, src_off, order):
    nring = order.size
    ring_off = np.empty(nring + 1, dtype=np.int64)
    ring_off[0] = 0
    for r in range(nring):
        s = order[r]
        ring_off[r + 1] = ring_off[r] + src_off[s + 1] - src_off[s]
    out = np.empty((ring_off[nring], 2))
    for r in range(nring):
        a = src_off[order[r]]
        for k in range(ring_off[r + 1] - ring_off[r]):
            out[ring_off[r] + k, 0] = xy[a + k, 0]
            out[ring_off[r] + k, 1] = xy[a + k, 1]
    return out, ring_off


@nb.njit(**_JIT)
def _orient_rings(xy, ring_off, exterior):
    """Reverse, in place, exteriors that are clockwise and holes that are counter-clockwise
    (signed area relative to the ring's first vertex)."""
    for r in range(ring_off.size - 1):
        a, b = ring_off[r], ring_off[r + 1]
        if b - a < 2:
            continue
        x0, y0 = xy[a, 0], xy[a, 1]
        twice = 0.0
        for k in range(a, b - 1):
            twice += ((xy[k, 0] - x0) * (xy[k + 1, 1] - y0)
                      - (xy[k + 1, 0] - x0) * (xy[k, 1] - y0))
        if (twice < 0) if exterior[r] else (twice > 0):
            i, j = a, b - 1
            while i < j:
                for c in range(2):
                    xy[i, c], xy[j, c] = xy[j, c], xy[i, c]
                i += 1
                j -= 1


# --------------------------------------------------------------------------------------------
# primitives
# --------------------------------------------------------------------------------------------


@nb.njit(inline="always")
def _orient(ax, ay, bx, by, cx, cy):
    """Orientation of c relative to the line a→b (> 0: left), and whether its sign is certain."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    return det, abs(det) > _CCW_ERR * (abs(detleft) + abs(detright))


@nb.njit(inline="always")
def _crossing_orients(ex0, ey0, ex1, ey1, fx0, fy0, fx1, fy1):
    """Orientations of edge e's ends against edge f (o0, o1) and of f's ends against e (q0, q1),
    each with whether its sign is certain (c0, c1, c2, c3): e and f cross properly where all four
    are certain and both pairs differ in sign."""
    o0, c0 = _orient(fx0, fy0, fx1, fy1, ex0, ey0)
    o1, c1 = _orient(fx0, fy0, fx1, fy1, ex1, ey1)
    q0, c2 = _orient(ex0, ey0, ex1, ey1, fx0, fy0)
    q1, c3 = _orient(ex0, ey0, ex1, ey1, fx1, fy1)
    return o0, o1, q0, q1, c0, c1, c2, c3


@nb.njit(**_JIT)
def _pip(px, py, xy, ring_off, r0, r1, b0, b1, b2, b3, tol):
    """1 where (px, py) lies in the interior of the polygon made of rings r0:r1, 0 outside or
    on its boundary, -1 where that is not certain: a sign within Shewchuk's error bound, or an
    edge passing within `tol` of the point (`tol`: how far the point may be from the one meant,
    0 for an exact vertex). (b0, b1, b2, b3): the polygon's bounds."""
    if tol == 0.0:
        if not (px > b0 and px < b2 and py > b1 and py < b3):
            return 0
    elif px < b0 - tol or px > b2 + tol or py < b1 - tol or py > b3 + tol:
        return 0
    wn = 0
    for r in range(r0, r1):
        for k in range(ring_off[r], ring_off[r + 1] - 1):
            ax = xy[k, 0]
            ay = xy[k, 1]
            bx = xy[k + 1, 0]
            by = xy[k + 1, 1]
            up = ay <= py
            straddle = up != (by <= py)
            near = (min(ax, bx) - tol <= px <= max(ax, bx) + tol
                    and min(ay, by) - tol <= py <= max(ay, by) + tol)
            if straddle or near:
                det, ok = _orient(ax, ay, bx, by, px, py)
                if not ok:
                    return -1  # on (or too close to) the edge
                if near and abs(det) <= tol * (abs(bx - ax) + abs(by - ay)):
                    return -1  # the edge passes within tol of the point
                if straddle:
                    if up:
                        if det > 0:
                            wn += 1
                    elif det < 0:
                        wn -= 1
    return 1 if wn != 0 else 0


#: Position error allowed for a computed anchor point, relative to |x| + |y| (a few ulps).
_ANCHOR_TOL = 4e-15


@nb.njit(inline="always")
def _boxes_meet(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
    return ax1 >= bx0 and ax0 <= bx1 and ay1 >= by0 and ay0 <= by1


@nb.njit(inline="always")
def _sort_events(t, d, k, n):
    """Insertion sort of the first n events by t (stable)."""
    for i in range(1, n):
        ti, di, ki = t[i], d[i], k[i]
        j = i - 1
        while j >= 0 and t[j] > ti:
            t[j + 1], d[j + 1], k[j + 1] = t[j], d[j], k[j]
            j -= 1
        t[j + 1], d[j + 1], k[j + 1] = ti, di, ki


@nb.njit(inline="always")
def _clip(x0, y0, x1, y1, b0, b1, b2, b3):
    """Parameter interval [ua, ub] of the segment inside the box (Liang-Barsky), in [0, 1]."""
    ua = 0.0
    ub = 1.0
    dx = x1 - x0
    dy = y1 - y0
    if dx != 0:
        t_lo = (b0 - x0) / dx
        t_hi = (b2 - x0) / dx
        if dx > 0:
            ua = max(ua, t_lo); ub = min(ub, t_hi)
        else:
            ua = max(ua, t_hi); ub = min(ub, t_lo)
    if dy != 0:
        t_lo = (b1 - y0) / dy
        t_hi = (b3 - y0) / dy
        if dy > 0:
            ua = max(ua, t_lo); ub = min(ub, t_hi)
        else:
            ua = max(ua, t_hi); ub = min(ub, t_lo)
    return min(max(ua, 0.0), 1.0), min(max(ub, 0.0), 1.0)


# --------------------------------------------------------------------------------------------
# the per-site kernel: scratch buffers, then per site its footprint edges, the pair areas and
# (with `union`) the covered area
# --------------------------------------------------------------------------------------------

#: Footprint edges of the current site (global and local coordinates, cross term, ring), and per
#: (pair, edge): kept (inside the feature's box), winding number at its start, crossing sums.
_Edges = namedtuple("_Edges", "gx0 gy0 gx1 gy1 ax0 ay0 ax1 ay1 acr aring akept aw aS aT")
#: Kept feature edges of all pairs of the site (local coordinates, local and global boxes, point
#: index and ring in the layer, winding number, crossing sums), pair starts, union-pass flags.
_Kept = namedtuple("_Kept", "bx0 by0 bx1 by1 bcr bbx0 bbx1 bby0 bby1 gbx0 gbx1 gby0 gby1 bk bring "
                            "bw bS bT bstart hlist drop touch_end")
#: Footprint x feature crossings of the site (edges, pair, parameters, signs), pair starts.
_Cross = namedtuple("_Cross", "a b j ta tb sa sb start")
#: Feature x feature records of the union pass (edge, other pair, kind, t, ±1), bucketed by edge.
_Records = namedtuple("_Records", "b j kind t d idx count off")
#: Events along one edge (t, ±1, which: 0 the footprint, j + 1 pair j), and per-pair union state.
_Union = namedtuple("_Union", "et ed ek active meets dj touch0")


@nb.njit(**_JIT)
def _scratch_sizes(s_roff, s_gring, pstart, part, l_nedge):
    """Largest footprint (edges), largest candidate set (pairs), most feature edges of one site."""
    maxE = 1
    maxP = 1
    maxB = 1
    for s in range(pstart.size - 1):
        ne = 0
        for r in range(s_gring[s], s_gring[s + 1]):
            ne += s_roff[r + 1] - s_roff[r] - 1
        maxE = max(maxE, ne)
        maxP = max(maxP, pstart[s + 1] - pstart[s])
        nbk = 0
        for j in range(pstart[s], pstart[s + 1]):
            nbk += l_nedge[part[j]]
        maxB = max(maxB, nbk)
    return maxE, maxP, maxB


@nb.njit(**_JIT)
def _scratch(maxE, maxP, maxB, max_crossings):
    """Fixed buffers for every site (growing arrays inside the loop would cost reference counting
    on every access; a site with more crossings than they hold goes to GEOS)."""
    E = _Edges(np.empty(maxE), np.empty(maxE), np.empty(maxE), np.empty(maxE),
               np.empty(maxE), np.empty(maxE), np.empty(maxE), np.empty(maxE), np.empty(maxE),
               np.empty(maxE, dtype=np.int64), np.zeros(maxP * maxE, dtype=np.bool_),
               np.zeros(maxP * maxE), np.zeros(maxP * maxE), np.zeros(maxP * maxE))
    K = _Kept(np.empty(maxB), np.empty(maxB), np.empty(maxB), np.empty(maxB), np.empty(maxB),
              np.empty(maxB), np.empty(maxB), np.empty(maxB), np.empty(maxB),
              np.empty(maxB), np.empty(maxB), np.empty(maxB), np.empty(maxB),
              np.empty(maxB, dtype=np.int64), np.empty(maxB, dtype=np.int64),
              np.zeros(maxB), np.zeros(maxB), np.zeros(maxB), np.empty(maxP + 1, dtype=np.int64),
              np.empty(maxB, dtype=np.int64), np.zeros(maxB, dtype=np.bool_), np.zeros(maxB, dtype=np.bool_))
    cap_ev = max(1, min(maxE * maxB, max_crossings))
    X = _Cross(np.empty(cap_ev, dtype=np.int64), np.empty(cap_ev, dtype=np.int64), np.empty(cap_ev, dtype=np.int64),
               np.empty(cap_ev), np.empty(cap_ev), np.empty(cap_ev), np.empty(cap_ev),
               np.empty(maxP + 1, dtype=np.int64))
    cap_ff = max(1, min(maxB * maxB, max_crossings))
    R = _Records(np.empty(cap_ff, dtype=np.int64), np.empty(cap_ff, dtype=np.int64), np.empty(cap_ff, dtype=np.int64),
                 np.empty(cap_ff), np.empty(cap_ff), np.empty(cap_ff, dtype=np.int64),
                 np.empty(maxB, dtype=np.int64), np.empty(maxB + 1, dtype=np.int64))
    U = _Union(np.empty(cap_ev + cap_ff), np.empty(cap_ev + cap_ff), np.empty(cap_ev + cap_ff, dtype=np.int64),
               np.zeros(maxP, dtype=np.bool_), np.zeros(maxP * maxP, dtype=np.bool_), np.zeros(maxP),
               np.zeros(maxP, dtype=np.bool_))
    return E, K, X, R, U


@nb.njit(**_JIT)
def green_sites(sxy, s_roff, s_gring, sb, site_ok,
                lxy, l_roff, l_gring, lb, l_nedge,
                pstart, part, union, max_crossings, pair_area, covered):
    """Pair areas area(F ∩ f) for every candidate pair (pairs grouped by site: pairs of site s
    are pstart[s]:pstart[s + 1]) and, with `union`, covered areas area(F ∩ ∪ f) per site.
    NaN marks a pair or a site that GEOS must decide."""
    maxE, maxP, maxB = _scratch_sizes(s_roff, s_gring, pstart, part, l_nedge)
    E, K, X, R, U = _scratch(maxE, maxP, maxB, max_crossings)
    _site_loop(sxy, s_roff, s_gring, sb, site_ok, lxy, l_roff, l_gring, lb, pstart, part, union,
               E, K, X, R, U, pair_area, covered)


@nb.njit(**_NO_NRT)
def _site_loop(sxy, s_roff, s_gring, sb, site_ok, lxy, l_roff, l_gring, lb, pstart, part, union,
               E, K, X, R, U, pair_area, covered):
    """Per site: its footprint edges, its pair areas, and with `union` its covered area."""
    for s in range(pstart.size - 1):
        p0 = pstart[s]
        npair = pstart[s + 1] - p0
        covered[s] = 0.0
        if npair == 0:
            continue
        if not site_ok[s]:
            for j in range(npair):
                pair_area[p0 + j] = np.nan
            covered[s] = np.nan
            continue
        ox = (sb[s, 0] + sb[s, 2]) * 0.5
        oy = (sb[s, 1] + sb[s, 3]) * 0.5
        nE = _load_footprint(sxy, s_roff, s_gring[s], s_gring[s + 1], ox, oy, E)
        site_bad, nev = _pair_areas(s, p0, npair, nE, ox, oy, sxy, s_roff, s_gring, sb, lxy, l_roff, l_gring, lb,
                                    part, E, K, X, pair_area)
        if not union:
            continue
        if site_bad:
            covered[s] = np.nan
            continue
        covered[s] = _union_area(s, p0, npair, nE, nev, ox, oy, sb, lxy, l_roff, l_gring, lb, part,
                                 E, K, X, R, U, pair_area)


@nb.njit(inline="always")
def _load_footprint(sxy, s_roff, r0, r1, ox, oy, E):
    """The footprint's edges (rings r0:r1) in global and local coordinates; returns their number."""
    gx0, gy0, gx1, gy1, ax0, ay0 = E.gx0, E.gy0, E.gx1, E.gy1, E.ax0, E.ay0
    ax1, ay1, acr, aring = E.ax1, E.ay1, E.acr, E.aring
    nE = 0
    for r in range(r0, r1):
        for k in range(s_roff[r], s_roff[r + 1] - 1):
            gx0[nE] = sxy[k, 0]; gy0[nE] = sxy[k, 1]; gx1[nE] = sxy[k + 1, 0]; gy1[nE] = sxy[k + 1, 1]
            ax0[nE] = sxy[k, 0] - ox; ay0[nE] = sxy[k, 1] - oy
            ax1[nE] = sxy[k + 1, 0] - ox; ay1[nE] = sxy[k + 1, 1] - oy
            acr[nE] = ax0[nE] * ay1[nE] - ax1[nE] * ay0[nE]
            aring[nE] = r
            nE += 1
    return nE


# ---------------------------------------------------------------- pair areas


@nb.njit(inline="always")
def _pair_areas(s, p0, npair, nE, ox, oy, sxy, s_roff, s_gring, sb, lxy, l_roff, l_gring, lb, part,
                E, K, X, pair_area):
    """area(F ∩ f) of every pair of site s (NaN: undecided); returns (some pair undecided, crossings)."""
    akept, acr, aw, aT = E.akept, E.acr, E.aw, E.aT
    bstart, bcr, bw, bT = K.bstart, K.bcr, K.bw, K.bT
    ev_start = X.start
    site_bad = False
    nB = 0
    nev = 0
    for jj in range(npair):
        f = part[p0 + jj]
        base = jj * nE
        _keep_footprint_edges(base, nE, lb[f, 0], lb[f, 1], lb[f, 2], lb[f, 3], E)
        bstart[jj] = nB
        nB = _keep_feature_edges(f, nB, ox, oy, sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3], lxy, l_roff, l_gring, K)
        bstart[jj + 1] = nB
        ev_start[jj] = nev
        nev, bad = _pair_crossings(jj, base, nE, nev, E, K, X)
        ev_start[jj + 1] = nev
        if not bad:
            bad = _footprint_windings(base, nE, f, sxy, s_roff, lxy, l_roff, l_gring, lb, E)
        if not bad:
            bad = _feature_windings(bstart[jj], nB, s, sxy, s_roff, s_gring, sb, lxy, l_roff, K)
        if bad:
            pair_area[p0 + jj] = np.nan
            site_bad = True
            continue
        acc_a = 0.0
        for e in range(nE):
            if akept[base + e]:
                acc_a += acr[e] * (aw[base + e] + aT[base + e])
        acc_b = 0.0
        for b in range(bstart[jj], nB):
            acc_b += bcr[b] * (bw[b] + bT[b])
        pair_area[p0 + jj] = 0.5 * (acc_a + acc_b)
    return site_bad, nev


@nb.njit(inline="always")
def _keep_footprint_edges(base, nE, fb0, fb1, fb2, fb3, E):
    """Keep the footprint edges inside the feature's box; reset their crossing sums."""
    akept, gx0, gx1, gy0, gy1, aS, aT, aw = E.akept, E.gx0, E.gx1, E.gy0, E.gy1, E.aS, E.aT, E.aw
    for e in range(nE):
        akept[base + e] = _boxes_meet(min(gx0[e], gx1[e]), min(gy0[e], gy1[e]),
                                        max(gx0[e], gx1[e]), max(gy0[e], gy1[e]),
                                        fb0, fb1, fb2, fb3)
        aS[base + e] = 0.0
        aT[base + e] = 0.0
        aw[base + e] = 0.0


@nb.njit(inline="always")
def _keep_feature_edges(f, nB, ox, oy, sb0, sb1, sb2, sb3, lxy, l_roff, l_gring, K):
    """Append the edges of feature f inside the footprint's box (local coordinates); returns nB."""
    bx0, by0, bx1, by1, bcr, bbx0 = K.bx0, K.by0, K.bx1, K.by1, K.bcr, K.bbx0
    bbx1, gbx0, gbx1, gby0, gby1, bby0 = K.bbx1, K.gbx0, K.gbx1, K.gby0, K.gby1, K.bby0
    bby1, bk, bring, bS, bT = K.bby1, K.bk, K.bring, K.bS, K.bT
    for r in range(l_gring[f], l_gring[f + 1]):
        for k in range(l_roff[r], l_roff[r + 1] - 1):
            xa, ya, xb, yb = lxy[k, 0], lxy[k, 1], lxy[k + 1, 0], lxy[k + 1, 1]
            if _boxes_meet(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb), sb0, sb1, sb2, sb3):
                bx0[nB] = xa - ox; by0[nB] = ya - oy
                bx1[nB] = xb - ox; by1[nB] = yb - oy
                bcr[nB] = bx0[nB] * by1[nB] - bx1[nB] * by0[nB]
                bbx0[nB] = min(bx0[nB], bx1[nB]); bbx1[nB] = max(bx0[nB], bx1[nB])
                gbx0[nB] = min(xa, xb); gbx1[nB] = max(xa, xb)
                gby0[nB] = min(ya, yb); gby1[nB] = max(ya, yb)
                bby0[nB] = min(by0[nB], by1[nB]); bby1[nB] = max(by0[nB], by1[nB])
                bk[nB] = k
                bring[nB] = r
                bS[nB] = 0.0
                bT[nB] = 0.0
                nB += 1
    return nB


@nb.njit(inline="always")
def _pair_crossings(jj, base, nE, nev, E, K, X):
    """Proper crossings of the kept footprint edges with the kept edges of pair jj, recorded and
    summed on both edges; returns (nev, an untrusted sign or full buffers)."""
    akept, ax0, ay0, ax1, ay1, aS, aT = E.akept, E.ax0, E.ay0, E.ax1, E.ay1, E.aS, E.aT
    bstart, bbx0, bbx1, bby0, bby1, bx0 = K.bstart, K.bbx0, K.bbx1, K.bby0, K.bby1, K.bx0
    by0, bx1, by1, bS, bT = K.by0, K.bx1, K.by1, K.bS, K.bT
    ev_a, ev_b, ev_j, ev_ta, ev_tb, ev_sa, ev_sb = X.a, X.b, X.j, X.ta, X.tb, X.sa, X.sb
    bad = False
    for e in range(nE):
        if not akept[base + e]:
            continue
        ex0, ey0, ex1, ey1 = ax0[e], ay0[e], ax1[e], ay1[e]
        ebx0, ebx1 = min(ex0, ex1), max(ex0, ex1)
        eby0, eby1 = min(ey0, ey1), max(ey0, ey1)
        for b in range(bstart[jj], bstart[jj + 1]):
            if not (ebx1 >= bbx0[b] and ebx0 <= bbx1[b]
                    and eby1 >= bby0[b] and eby0 <= bby1[b]):
                continue
            o0, o1, q0, q1, c0, c1, c2, c3 = _crossing_orients(ex0, ey0, ex1, ey1,
                                                               bx0[b], by0[b], bx1[b], by1[b])
            if not (c0 and c1 and c2 and c3):
                bad = True
                continue
            if ((o0 > 0) != (o1 > 0)) and ((q0 > 0) != (q1 > 0)):
                ta = o0 / (o0 - o1)
                tb = q0 / (q0 - q1)
                sa = 1.0 if o0 < 0 else -1.0
                sgb = 1.0 if q0 < 0 else -1.0
                if nev >= ev_a.size:  # more crossings than the buffers hold: GEOS
                    bad = True
                    continue
                ev_a[nev] = e; ev_b[nev] = b; ev_j[nev] = jj
                ev_ta[nev] = ta; ev_tb[nev] = tb; ev_sa[nev] = sa; ev_sb[nev] = sgb
                nev += 1
                aS[base + e] += sa
                aT[base + e] += sa * (1.0 - ta)
                bS[b] += sgb
                bT[b] += sgb * (1.0 - tb)
    return nev, bad


@nb.njit(inline="always")
def _footprint_windings(base, nE, f, sxy, s_roff, lxy, l_roff, l_gring, lb, E):
    """Winding numbers in feature f along the kept footprint edges, ring by ring (a point-in-polygon
    test at the ring's first vertex, then the crossings); returns whether one is uncertain."""
    aring, akept, aw, aS = E.aring, E.akept, E.aw, E.aS
    bad = False
    e = 0
    while e < nE and not bad:
        r = aring[e]
        e_end = e
        anykept = False
        while e_end < nE and aring[e_end] == r:
            anykept = anykept or akept[base + e_end]
            e_end += 1
        if anykept:
            k0 = s_roff[r]
            w = float(_pip(sxy[k0, 0], sxy[k0, 1], lxy, l_roff, l_gring[f], l_gring[f + 1],
                           lb[f, 0], lb[f, 1], lb[f, 2], lb[f, 3], 0.0))
            if w < 0:
                return True
            for q in range(e, e_end):
                if akept[base + q]:
                    aw[base + q] = w
                    end = w + aS[base + q]
                    if w < -0.5 or w > 1.5 or end < -0.5 or end > 1.5:
                        bad = True
                    w = end
        e = e_end
    return bad


@nb.njit(inline="always")
def _feature_windings(b0, nB, s, sxy, s_roff, s_gring, sb, lxy, l_roff, K):
    """Winding numbers in the footprint along the kept feature edges b0:nB, ring by ring; returns
    whether one is uncertain."""
    bring, bw, bS = K.bring, K.bw, K.bS
    bad = False
    b = b0
    while b < nB and not bad:
        r = bring[b]
        b_end = b
        while b_end < nB and bring[b_end] == r:
            b_end += 1
        k0 = l_roff[r]
        w = float(_pip(lxy[k0, 0], lxy[k0, 1], sxy, s_roff, s_gring[s], s_gring[s + 1],
                       sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3], 0.0))
        if w < 0:
            return True
        for q in range(b, b_end):
            bw[q] = w
            end = w + bS[q]
            if w < -0.5 or w > 1.5 or end < -0.5 or end > 1.5:
                bad = True
            w = end
        b = b_end
    return bad


# ---------------------------------------------------------------- union


@nb.njit(inline="always")
def _union_area(s, p0, npair, nE, nev, ox, oy, sb, lxy, l_roff, l_gring, lb, part, E, K, X, R, U, pair_area):
    """area(F ∩ ∪ f) of site s: the sum of the pair areas where no two features meet inside F's
    box, else integrated over the boundary of F ∩ ∪ f (NaN: undecided)."""
    bstart = K.bstart
    active = U.active
    nact = 0
    total = 0.0
    for jj in range(npair):
        active[jj] = pair_area[p0 + jj] > 0
        if active[jj]:
            nact += 1
            total += pair_area[p0 + jj]
    if nact < 2 or not _features_meet(p0, npair, sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3], lb, part, U):
        return total
    acc, site_bad = _union_footprint_edges(npair, nE, nev, E, X, U)
    if _inside_one(npair, nE, E, K, X, U):  # then no feature edge adds anything (each one's fraction is 0)
        return np.nan if site_bad else 0.5 * acc
    nff, site_bad = _feature_records(p0, npair, sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3], lxy, lb, part,
                                     K, R, U, site_bad)
    if site_bad:
        return np.nan
    _bucket_records(bstart[npair], nff, R)
    acc, site_bad = _union_feature_edges(p0, npair, ox, oy, sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3],
                                         lxy, l_roff, l_gring, lb, part, K, X, R, U, acc)
    return np.nan if site_bad else 0.5 * acc


@nb.njit(inline="always")
def _inside_one(npair, nE, E, K, X, U):
    """Whether the footprint lies inside one active feature: no crossing with it, every footprint
    edge kept and inside it, none of its kept edges inside the footprint (all certified)."""
    for jj in range(npair):
        inside = U.active[jj] and X.start[jj + 1] == X.start[jj]
        for e in range(nE if inside else 0):
            inside = inside and E.akept[jj * nE + e] and E.aw[jj * nE + e] == 1.0
        for b in range(K.bstart[jj], K.bstart[jj + 1] if inside else K.bstart[jj]):
            inside = inside and K.bw[b] == 0.0
        if inside:
            return True
    return False


@nb.njit(inline="always")
def _features_meet(p0, npair, sb0, sb1, sb2, sb3, lb, part, U):
    """Which two active features' boxes meet inside the footprint's box (U.meets); whether any do."""
    active, meets = U.active, U.meets
    need = False
    for i in range(npair):
        for j in range(npair):
            m = False
            if i != j and active[i] and active[j]:
                fi = part[p0 + i]
                fj = part[p0 + j]
                m = (max(max(lb[fi, 0], lb[fj, 0]), sb0) <= min(min(lb[fi, 2], lb[fj, 2]), sb2)
                     and max(max(lb[fi, 1], lb[fj, 1]), sb1) <= min(min(lb[fi, 3], lb[fj, 3]), sb3))
            meets[i * npair + j] = m
            need = need or m
    return need


@nb.njit(inline="always")
def _union_footprint_edges(npair, nE, nev, E, X, U):
    """∫ over the footprint edges of [inside at least one feature]; returns (sum, inconsistent)."""
    akept, aw, acr = E.akept, E.aw, E.acr
    ev_a, ev_j, ev_ta, ev_sa = X.a, X.j, X.ta, X.sa
    active, et, ed, ek = U.active, U.et, U.ed, U.ek
    site_bad = False
    acc = 0.0
    for e in range(nE):
        anykept = False
        d0 = 0.0
        for jj in range(npair):
            if active[jj] and akept[jj * nE + e]:
                anykept = True
                d0 += aw[jj * nE + e]
        if not anykept:
            continue
        n_e = 0
        for q in range(nev):
            if ev_a[q] == e and active[ev_j[q]]:
                et[n_e] = ev_ta[q]; ed[n_e] = ev_sa[q]; ek[n_e] = 0
                n_e += 1
        _sort_events(et, ed, ek, n_e)
        state = d0
        tprev = 0.0
        frac = 0.0
        for q in range(n_e + 1):
            t = et[q] if q < n_e else 1.0
            if state < -0.5:
                site_bad = True
            if state >= 0.5:
                frac += t - tprev
            if q < n_e:
                state += ed[q]
            tprev = t
        acc += acr[e] * frac
    return acc, site_bad


@nb.njit(inline="always")
def _feature_records(p0, npair, sb0, sb1, sb2, sb3, lxy, lb, part, K, R, U, site_bad):
    """Crossings and shared vertices between the kept edges of every two active features, each
    couple once, only where their boxes and the footprint's box meet; returns (records, undecided).
    Only the part of a feature edge inside the footprint's box matters, and there every crossing
    with another feature is between two kept edges."""
    bstart, drop, touch_end = K.bstart, K.drop, K.touch_end
    ff_count = R.count
    active, meets = U.active, U.meets
    for b in range(bstart[npair]):
        drop[b] = False
        touch_end[b] = False
        ff_count[b] = 0
    nff = 0
    for i in range(npair):
        if not active[i] or site_bad:
            continue
        fi = part[p0 + i]
        for j in range(i + 1, npair):
            if not meets[i * npair + j]:
                continue
            fj = part[p0 + j]
            ib0 = max(max(lb[fi, 0], lb[fj, 0]), sb0)
            ib1 = max(max(lb[fi, 1], lb[fj, 1]), sb1)
            ib2 = min(min(lb[fi, 2], lb[fj, 2]), sb2)
            ib3 = min(min(lb[fi, 3], lb[fj, 3]), sb3)
            nff, site_bad = _couple_records(i, j, ib0, ib1, ib2, ib3, nff, lxy, K, R)
            if site_bad:
                break
    return nff, site_bad


@nb.njit(inline="always")
def _couple_records(i, j, ib0, ib1, ib2, ib3, nff, lxy, K, R):
    """The records between the kept edges of pairs i and j inside the box (ib0, ib1, ib2, ib3)."""
    bstart, gbx0, gby0, gbx1, gby1, hlist = K.bstart, K.gbx0, K.gby0, K.gbx1, K.gby1, K.hlist
    bx0, by0, bx1, by1, bbx0, bbx1 = K.bx0, K.by0, K.bx1, K.by1, K.bbx0, K.bbx1
    bby0, bby1 = K.bby0, K.bby1
    ff_b, ff_j, ff_kind, ff_t, ff_d, ff_count = R.b, R.j, R.kind, R.t, R.d, R.count
    nh = 0
    for h in range(bstart[j], bstart[j + 1]):
        if _boxes_meet(gbx0[h], gby0[h], gbx1[h], gby1[h], ib0, ib1, ib2, ib3):
            hlist[nh] = h
            nh += 1
    if nh == 0:
        return nff, False
    for b in range(bstart[i], bstart[i + 1]):
        if not _boxes_meet(gbx0[b], gby0[b], gbx1[b], gby1[b], ib0, ib1, ib2, ib3):
            continue
        ex0, ey0, ex1, ey1 = bx0[b], by0[b], bx1[b], by1[b]
        ebx0, ebx1, eby0, eby1 = bbx0[b], bbx1[b], bby0[b], bby1[b]
        for hh in range(nh):
            h = hlist[hh]
            if not (ebx1 >= bbx0[h] and ebx0 <= bbx1[h]
                    and eby1 >= bby0[h] and eby0 <= bby1[h]):
                continue
            fx0, fy0, fx1, fy1 = bx0[h], by0[h], bx1[h], by1[h]
            o0, o1, q0, q1, c0, c1, c2, c3 = _crossing_orients(ex0, ey0, ex1, ey1, fx0, fy0, fx1, fy1)
            if c0 and c1 and c2 and c3:
                if ((o0 > 0) != (o1 > 0)) and ((q0 > 0) != (q1 > 0)):
                    if nff + 2 > ff_b.size:  # buffers full: GEOS
                        return nff, True
                    # kind 1: a crossing (t, ±1); both edges get one
                    ff_b[nff] = b; ff_j[nff] = j; ff_kind[nff] = 1
                    ff_t[nff] = o0 / (o0 - o1); ff_d[nff] = 1.0 if o0 < 0 else -1.0
                    ff_b[nff + 1] = h; ff_j[nff + 1] = i; ff_kind[nff + 1] = 1
                    ff_t[nff + 1] = q0 / (q0 - q1); ff_d[nff + 1] = 1.0 if q0 < 0 else -1.0
                    ff_count[b] += 1
                    ff_count[h] += 1
                    nff += 2
                continue
            nff, bad = _touch_records(b, h, i, j, nff, o0, o1, q0, q1, c0, c1, c2, c3,
                                      ex0, ey0, ex1, ey1, fx0, fy0, fx1, fy1, lxy, K, R)
            if bad:
                return nff, True
    return nff, False


@nb.njit(inline="always")
def _touch_records(b, h, i, j, nff, o0, o1, q0, q1, c0, c1, c2, c3, ex0, ey0, ex1, ey1, fx0, fy0, fx1, fy1,
                   lxy, K, R):
    """Edges b (of pair i) and h (of pair j) with an untrusted sign: a shared reversed edge (both
    dropped: they cancel) or touching at one shared vertex (the edge starting there re-anchors its
    depth in the other feature, kind 0; the edge ending there stops carrying its state to the next
    one); anything else is undecided. Returns (nff, undecided)."""
    bk, drop, touch_end = K.bk, K.drop, K.touch_end
    ff_b, ff_j, ff_kind, ff_t, ff_d, ff_count = R.b, R.j, R.kind, R.t, R.d, R.count
    kx0, ky0 = lxy[bk[b], 0], lxy[bk[b], 1]
    kx1, ky1 = lxy[bk[b] + 1, 0], lxy[bk[b] + 1, 1]
    hx0g, hy0g = lxy[bk[h], 0], lxy[bk[h], 1]
    hx1g, hy1g = lxy[bk[h] + 1, 0], lxy[bk[h] + 1, 1]
    s00 = kx0 == hx0g and ky0 == hy0g
    s01 = kx0 == hx1g and ky0 == hy1g
    s10 = kx1 == hx0g and ky1 == hy0g
    s11 = kx1 == hx1g and ky1 == hy1g
    if s01 and s10:  # opposite directions: both cancel
        drop[b] = True
        drop[h] = True
        return nff, False
    if (int(s00) + int(s01) + int(s10) + int(s11)) != 1:
        return nff, True
    at_start_x = s00 or s01
    at_start_y = s00 or s10
    off_x = (c1 and o1 != 0) if at_start_x else (c0 and o0 != 0)
    off_y = (c3 and q1 != 0) if at_start_y else (c2 and q0 != 0)
    vx = ex0 if at_start_x else ex1
    vy = ey0 if at_start_x else ey1
    wx = (ex1 if at_start_x else ex0) - vx
    wy = (ey1 if at_start_x else ey0) - vy
    zx = (fx1 if at_start_y else fx0) - vx
    zy = (fy1 if at_start_y else fy0) - vy
    dot = wx * zx + wy * zy
    end_to_end = (abs(dot) > _CCW_ERR * 4 * (abs(wx * zx) + abs(wy * zy))) and dot < 0
    if not ((off_x and off_y) or end_to_end):
        return nff, True
    if nff + 2 > ff_b.size:
        return nff, True
    if at_start_x:
        ff_b[nff] = b; ff_j[nff] = j; ff_kind[nff] = 0
        ff_t[nff] = 0.0; ff_d[nff] = 0.0
        ff_count[b] += 1
        nff += 1
    else:
        touch_end[b] = True
    if at_start_y:
        ff_b[nff] = h; ff_j[nff] = i; ff_kind[nff] = 0
        ff_t[nff] = 0.0; ff_d[nff] = 0.0
        ff_count[h] += 1
        nff += 1
    else:
        touch_end[h] = True
    return nff, False


@nb.njit(inline="always")
def _bucket_records(nB, nff, R):
    """Bucket the records by edge (counting sort): records of edge b are R.idx[R.off[b]:R.off[b + 1]]."""
    ff_off, ff_count, ff_b, ff_idx = R.off, R.count, R.b, R.idx
    ff_off[0] = 0
    for b in range(nB):
        ff_off[b + 1] = ff_off[b] + ff_count[b]
        ff_count[b] = ff_off[b]
    for q in range(nff):
        b = ff_b[q]
        ff_idx[ff_count[b]] = q
        ff_count[b] += 1


@nb.njit(inline="always")
def _union_feature_edges(p0, npair, ox, oy, sb0, sb1, sb2, sb3, lxy, l_roff, l_gring, lb, part, K, X, R, U, acc):
    """Add to ``acc`` ∫ over every kept edge of every active feature of [inside the footprint and
    inside no other feature]; returns (acc, undecided)."""
    bstart, bk, bring, drop, bx0, by0 = K.bstart, K.bk, K.bring, K.drop, K.bx0, K.by0
    bx1, by1, bcr, touch_end = K.bx1, K.by1, K.bcr, K.touch_end
    active = U.active
    lbx0, lby0, lbx1, lby1 = sb0 - ox, sb1 - oy, sb2 - ox, sb3 - oy
    site_bad = False
    for i in range(npair):
        if not active[i] or site_bad:
            continue
        carry = False
        for b in range(bstart[i], bstart[i + 1]):
            cont = carry and bk[b] == bk[b - 1] + 1 and bring[b] == bring[b - 1]
            carry = False
            if drop[b]:  # shared with another feature in the opposite direction
                continue
            n_e, nff_b = _edge_events(b, i, npair, X, R, U)
            ua, ub = _clip(bx0[b], by0[b], bx1[b], by1[b], lbx0, lby0, lbx1, lby1)
            dsum, bad = _anchor_depths(b, i, p0, npair, nff_b, ua, ub, cont, ox, oy, lxy, l_roff, l_gring,
                                       lb, part, K, U)
            site_bad = site_bad or bad
            if site_bad:
                break
            frac, bad = _edge_fraction(b, n_e, dsum, K, U)
            site_bad = site_bad or bad
            acc += bcr[b] * frac
            carry = ub >= 1.0 and not touch_end[b]
        if site_bad:
            break
    return acc, site_bad


@nb.njit(inline="always")
def _edge_events(b, i, npair, X, R, U):
    """The events along kept edge b of pair i: its crossings with the other features (first) and
    with the footprint; the features it touches at its start (U.touch0). Returns (events, of them
    with features)."""
    ev_start, ev_b, ev_tb, ev_sb = X.start, X.b, X.tb, X.sb
    ff_off, ff_idx, ff_kind, ff_j, ff_t, ff_d = R.off, R.idx, R.kind, R.j, R.t, R.d
    touch0, et, ed, ek = U.touch0, U.et, U.ed, U.ek
    n_e = 0
    for j in range(npair):
        touch0[j] = False
    for qq in range(ff_off[b], ff_off[b + 1]):
        q = ff_idx[qq]
        if ff_kind[q] == 0:
            touch0[ff_j[q]] = True
        else:
            et[n_e] = ff_t[q]; ed[n_e] = ff_d[q]; ek[n_e] = ff_j[q] + 1
            n_e += 1
    nff_b = n_e
    for q in range(ev_start[i], ev_start[i + 1]):
        if ev_b[q] == b:
            et[n_e] = ev_tb[q]; ed[n_e] = ev_sb[q]; ek[n_e] = 0
            n_e += 1
    return n_e, nff_b


@nb.njit(inline="always")
def _anchor_depths(b, i, p0, npair, nff_b, ua, ub, cont, ox, oy, lxy, l_roff, l_gring, lb, part, K, U):
    """Depth of edge b (of pair i) in each other feature at its start (U.dj), anchored by a
    point-in-polygon test halfway from where the edge enters the footprint's box to its next
    crossing — at the start of a run of edges, and where it starts at a vertex shared with that
    feature — else carried from the previous edge. Returns (their sum, undecided)."""
    bx0, by0, bx1, by1 = K.bx0, K.by0, K.bx1, K.by1
    et, meets, touch0, ek, ed, dj = U.et, U.meets, U.touch0, U.ek, U.ed, U.dj
    ex0, ey0, ex1, ey1 = bx0[b], by0[b], bx1[b], by1[b]
    nxt = ub
    for q in range(nff_b):
        if et[q] >= ua:
            nxt = min(nxt, et[q])
    u = 0.5 * (ua + nxt)
    anchor_all = (not cont) or ua > 0.0
    site_bad = False
    dsum = 0.0
    for j in range(npair):
        if j == i or not meets[i * npair + j]:
            continue
        if anchor_all or touch0[j]:
            fj = part[p0 + j]
            px = (ex0 + u * (ex1 - ex0)) + ox
            py = (ey0 + u * (ey1 - ey0)) + oy
            # the point is rounded: certain only if no edge passes that close
            tol = _ANCHOR_TOL * (abs(px) + abs(py))
            w = 0
            if (px > lb[fj, 0] - tol and px < lb[fj, 2] + tol
                    and py > lb[fj, 1] - tol and py < lb[fj, 3] + tol):
                w = _pip(px, py, lxy, l_roff, l_gring[fj], l_gring[fj + 1],
                         lb[fj, 0], lb[fj, 1], lb[fj, 2], lb[fj, 3], tol)
            if w < 0:
                site_bad = True
            d = float(w)
            for q in range(nff_b):  # depth at t = 0: minus the crossings before u
                if ek[q] == j + 1 and et[q] < u:
                    d -= ed[q]
            dj[j] = d
        dsum += dj[j]
    return dsum, site_bad


@nb.njit(inline="always")
def _edge_fraction(b, n_e, dsum, K, U):
    """Fraction of edge b inside the footprint and inside no other feature, its events sorted;
    returns (fraction, inconsistent depths)."""
    bw = K.bw
    et, ed, ek, dj = U.et, U.ed, U.ek, U.dj
    _sort_events(et, ed, ek, n_e)
    site_bad = False
    inF = bw[b]
    tprev = 0.0
    frac = 0.0
    for q in range(n_e + 1):
        t = et[q] if q < n_e else 1.0
        if inF < -0.5 or inF > 1.5 or (inF >= 0.5 and dsum < -0.5):
            site_bad = True
        if inF >= 0.5 and abs(dsum) < 0.5:
            frac += t - tprev
        if q < n_e:
            if ek[q] == 0:
                inF += ed[q]
            else:
                dsum += ed[q]
                dj[ek[q] - 1] += ed[q]
        tprev = t
    return frac, site_bad
