"""Compiled (numba) per-site kernel of :mod:`sitescreen.geomops`: exact intersection and union
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
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import shapely

_CCW_ERR = 3.3306690738754716e-16  # (3 + 16ε)ε, Shewchuk's ccwerrboundA

_POLYGON = 3
_MULTIPOLYGON = 6

_JIT = {"cache": True, "nogil": True}


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
# the per-site kernel
# --------------------------------------------------------------------------------------------


@nb.njit(**_JIT)
def green_sites(sxy, s_roff, s_gring, sb, site_ok,
                lxy, l_roff, l_gring, lb, l_nedge,
                pstart, part, union, max_crossings, pair_area, covered):
    """Pair areas area(F ∩ f) for every candidate pair (pairs grouped by site: pairs of site s
    are pstart[s]:pstart[s + 1]) and, with `union`, covered areas area(F ∩ ∪ f) per site.
    NaN marks a pair or a site that GEOS must decide."""
    nsite = pstart.size - 1
    nan = np.nan
    # scratch sizes: largest footprint, largest candidate set
    maxE = 1
    maxP = 1
    maxB = 1
    for s in range(nsite):
        ne = 0
        for r in range(s_gring[s], s_gring[s + 1]):
            ne += s_roff[r + 1] - s_roff[r] - 1
        maxE = max(maxE, ne)
        maxP = max(maxP, pstart[s + 1] - pstart[s])
        nbk = 0
        for j in range(pstart[s], pstart[s + 1]):
            nbk += l_nedge[part[j]]
        maxB = max(maxB, nbk)
    # footprint edges: global, local, cross term, ring, point index
    gx0 = np.empty(maxE); gy0 = np.empty(maxE); gx1 = np.empty(maxE); gy1 = np.empty(maxE)
    ax0 = np.empty(maxE); ay0 = np.empty(maxE); ax1 = np.empty(maxE); ay1 = np.empty(maxE)
    acr = np.empty(maxE)
    aring = np.empty(maxE, dtype=np.int64)
    # per (pair, footprint edge)
    akept = np.zeros(maxP * maxE, dtype=np.bool_)
    aw = np.zeros(maxP * maxE); aS = np.zeros(maxP * maxE); aT = np.zeros(maxP * maxE)
    # kept feature edges of all pairs of the site (local coordinates)
    bx0 = np.empty(maxB); by0 = np.empty(maxB); bx1 = np.empty(maxB); by1 = np.empty(maxB)
    bcr = np.empty(maxB)
    bbx0 = np.empty(maxB); bbx1 = np.empty(maxB); bby0 = np.empty(maxB); bby1 = np.empty(maxB)
    gbx0 = np.empty(maxB); gbx1 = np.empty(maxB); gby0 = np.empty(maxB); gby1 = np.empty(maxB)
    hlist = np.empty(maxB, dtype=np.int64)
    # feature x feature records of the union pass, bucketed by kept edge
    cap_ff = max(1, min(maxB * maxB, max_crossings))
    ff_b = np.empty(cap_ff, dtype=np.int64); ff_j = np.empty(cap_ff, dtype=np.int64)
    ff_kind = np.empty(cap_ff, dtype=np.int64)
    ff_t = np.empty(cap_ff); ff_d = np.empty(cap_ff)
    fidx = np.empty(cap_ff, dtype=np.int64)
    fcount = np.empty(maxB, dtype=np.int64)
    foff = np.empty(maxB + 1, dtype=np.int64)
    drop_b = np.zeros(maxB, dtype=np.bool_)
    tend_b = np.zeros(maxB, dtype=np.bool_)
    bk = np.empty(maxB, dtype=np.int64)  # point index of the edge start in the layer
    bring = np.empty(maxB, dtype=np.int64)
    bw = np.zeros(maxB); bS = np.zeros(maxB); bT = np.zeros(maxB)
    bstart = np.empty(maxP + 1, dtype=np.int64)
    # footprint x feature crossings of the site (fixed buffers: growing arrays inside the loop
    # would cost reference counting on every access; a site with more crossings goes to GEOS)
    cap_ev = max(1, min(maxE * maxB, max_crossings))
    ev_a = np.empty(cap_ev, dtype=np.int64); ev_b = np.empty(cap_ev, dtype=np.int64)
    ev_j = np.empty(cap_ev, dtype=np.int64)
    ev_ta = np.empty(cap_ev); ev_tb = np.empty(cap_ev); ev_sa = np.empty(cap_ev)
    ev_sb = np.empty(cap_ev)
    evstart = np.empty(maxP + 1, dtype=np.int64)
    # events along one edge in the union pass: its crossings with the footprint and with the
    # kept edges of the other features
    et = np.empty(cap_ev + cap_ff); ed = np.empty(cap_ev + cap_ff)
    ek = np.empty(cap_ev + cap_ff, dtype=np.int64)
    active = np.zeros(maxP, dtype=np.bool_)
    meets = np.zeros(maxP * maxP, dtype=np.bool_)
    dj = np.zeros(maxP)
    touch0 = np.zeros(maxP, dtype=np.bool_)

    for s in range(nsite):
        p0 = pstart[s]
        npair = pstart[s + 1] - p0
        covered[s] = 0.0
        if npair == 0:
            continue
        if not site_ok[s]:
            for j in range(npair):
                pair_area[p0 + j] = nan
            covered[s] = nan
            continue
        sb0, sb1, sb2, sb3 = sb[s, 0], sb[s, 1], sb[s, 2], sb[s, 3]
        ox = (sb0 + sb2) * 0.5
        oy = (sb1 + sb3) * 0.5
        r0s, r1s = s_gring[s], s_gring[s + 1]
        nE = 0
        for r in range(r0s, r1s):
            for k in range(s_roff[r], s_roff[r + 1] - 1):
                gx0[nE] = sxy[k, 0]; gy0[nE] = sxy[k, 1]; gx1[nE] = sxy[k + 1, 0]; gy1[nE] = sxy[k + 1, 1]
                ax0[nE] = sxy[k, 0] - ox; ay0[nE] = sxy[k, 1] - oy
                ax1[nE] = sxy[k + 1, 0] - ox; ay1[nE] = sxy[k + 1, 1] - oy
                acr[nE] = ax0[nE] * ay1[nE] - ax1[nE] * ay0[nE]
                aring[nE] = r
                nE += 1
        site_bad = False
        nB = 0
        nev = 0
        # ---------------------------------------------------------------- pair areas
        for jj in range(npair):
            f = part[p0 + jj]
            fb0, fb1, fb2, fb3 = lb[f, 0], lb[f, 1], lb[f, 2], lb[f, 3]
            base = jj * nE
            for e in range(nE):
                akept[base + e] = _boxes_meet(min(gx0[e], gx1[e]), min(gy0[e], gy1[e]),
                                              max(gx0[e], gx1[e]), max(gy0[e], gy1[e]),
                                              fb0, fb1, fb2, fb3)
                aS[base + e] = 0.0
                aT[base + e] = 0.0
                aw[base + e] = 0.0
            bstart[jj] = nB
            for r in range(l_gring[f], l_gring[f + 1]):
                for k in range(l_roff[r], l_roff[r + 1] - 1):
                    xa, ya, xb, yb = lxy[k, 0], lxy[k, 1], lxy[k + 1, 0], lxy[k + 1, 1]
                    if _boxes_meet(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb),
                                   sb0, sb1, sb2, sb3):
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
            bstart[jj + 1] = nB
            evstart[jj] = nev
            bad = False
            for e in range(nE):
                if not akept[base + e]:
                    continue
                ex0, ey0, ex1, ey1 = ax0[e], ay0[e], ax1[e], ay1[e]
                ebx0, ebx1 = min(ex0, ex1), max(ex0, ex1)
                eby0, eby1 = min(ey0, ey1), max(ey0, ey1)
                for b in range(bstart[jj], nB):
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
                        if nev >= cap_ev:  # more crossings than the buffers hold: GEOS
                            bad = True
                            continue
                        ev_a[nev] = e; ev_b[nev] = b; ev_j[nev] = jj
                        ev_ta[nev] = ta; ev_tb[nev] = tb; ev_sa[nev] = sa; ev_sb[nev] = sgb
                        nev += 1
                        aS[base + e] += sa
                        aT[base + e] += sa * (1.0 - ta)
                        bS[b] += sgb
                        bT[b] += sgb * (1.0 - tb)
            evstart[jj + 1] = nev
            # winding numbers: footprint edges inside the feature
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
                                   fb0, fb1, fb2, fb3, 0.0))
                    if w < 0:
                        bad = True
                        break
                    for q in range(e, e_end):
                        if akept[base + q]:
                            aw[base + q] = w
                            end = w + aS[base + q]
                            if w < -0.5 or w > 1.5 or end < -0.5 or end > 1.5:
                                bad = True
                            w = end
                e = e_end
            # feature edges inside the footprint
            b = bstart[jj]
            while b < nB and not bad:
                r = bring[b]
                b_end = b
                while b_end < nB and bring[b_end] == r:
                    b_end += 1
                k0 = l_roff[r]
                w = float(_pip(lxy[k0, 0], lxy[k0, 1], sxy, s_roff, r0s, r1s, sb0, sb1, sb2, sb3, 0.0))
                if w < 0:
                    bad = True
                    break
                for q in range(b, b_end):
                    bw[q] = w
                    end = w + bS[q]
                    if w < -0.5 or w > 1.5 or end < -0.5 or end > 1.5:
                        bad = True
                    w = end
                b = b_end
            if bad:
                pair_area[p0 + jj] = nan
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

        if not union:
            continue
        if site_bad:
            covered[s] = nan
            continue
        # ---------------------------------------------------------------- union
        nact = 0
        total = 0.0
        for jj in range(npair):
            active[jj] = pair_area[p0 + jj] > 0
            if active[jj]:
                nact += 1
                total += pair_area[p0 + jj]
        covered[s] = total
        if nact < 2:
            continue
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
        if not need:
            continue
        acc = 0.0
        # footprint edges: [inside at least one feature]
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
        # feature edges: [inside the footprint and inside no other feature]. Only the part of
        # an edge inside the footprint's box matters, and there every crossing with another
        # feature is between two kept edges: states are anchored inside the box.
        # 1) crossings between the kept edges of every two features, each couple once, only
        #    where the two features' boxes and the footprint's box meet
        for b in range(bstart[npair]):
            drop_b[b] = False
            tend_b[b] = False
            fcount[b] = 0
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
                nh = 0
                for h in range(bstart[j], bstart[j + 1]):
                    if _boxes_meet(gbx0[h], gby0[h], gbx1[h], gby1[h], ib0, ib1, ib2, ib3):
                        hlist[nh] = h
                        nh += 1
                if nh == 0:
                    continue
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
                                if nff + 2 > cap_ff:  # buffers full: GEOS
                                    site_bad = True
                                    break
                                # kind 1: a crossing (t, ±1); both edges get one
                                ff_b[nff] = b; ff_j[nff] = j; ff_kind[nff] = 1
                                ff_t[nff] = o0 / (o0 - o1); ff_d[nff] = 1.0 if o0 < 0 else -1.0
                                ff_b[nff + 1] = h; ff_j[nff + 1] = i; ff_kind[nff + 1] = 1
                                ff_t[nff + 1] = q0 / (q0 - q1); ff_d[nff + 1] = 1.0 if q0 < 0 else -1.0
                                fcount[b] += 1
                                fcount[h] += 1
                                nff += 2
                            continue
                        # untrusted sign: shared reversed edge, or touching at one vertex
                        kx0, ky0 = lxy[bk[b], 0], lxy[bk[b], 1]
                        kx1, ky1 = lxy[bk[b] + 1, 0], lxy[bk[b] + 1, 1]
                        hx0g, hy0g = lxy[bk[h], 0], lxy[bk[h], 1]
                        hx1g, hy1g = lxy[bk[h] + 1, 0], lxy[bk[h] + 1, 1]
                        s00 = kx0 == hx0g and ky0 == hy0g
                        s01 = kx0 == hx1g and ky0 == hy1g
                        s10 = kx1 == hx0g and ky1 == hy0g
                        s11 = kx1 == hx1g and ky1 == hy1g
                        if s01 and s10:  # opposite directions: both cancel
                            drop_b[b] = True
                            drop_b[h] = True
                            continue
                        if (int(s00) + int(s01) + int(s10) + int(s11)) != 1:
                            site_bad = True
                            break
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
                        end_to_end = (abs(dot) > _CCW_ERR * 4 * (abs(wx * zx) + abs(wy * zy))) \
                            and dot < 0
                        if not ((off_x and off_y) or end_to_end):
                            site_bad = True
                            break
                        # touching at a shared vertex: the edge starting there re-anchors its
                        # depth in the other feature (kind 0), the edge ending there stops
                        # carrying its state to the next one
                        if nff + 2 > cap_ff:
                            site_bad = True
                            break
                        if at_start_x:
                            ff_b[nff] = b; ff_j[nff] = j; ff_kind[nff] = 0
                            ff_t[nff] = 0.0; ff_d[nff] = 0.0
                            fcount[b] += 1
                            nff += 1
                        else:
                            tend_b[b] = True
                        if at_start_y:
                            ff_b[nff] = h; ff_j[nff] = i; ff_kind[nff] = 0
                            ff_t[nff] = 0.0; ff_d[nff] = 0.0
                            fcount[h] += 1
                            nff += 1
                        else:
                            tend_b[h] = True
                    if site_bad:
                        break
                if site_bad:
                    break
        if site_bad:
            covered[s] = nan
            continue
        # bucket the records by edge (counting sort)
        foff[0] = 0
        for b in range(bstart[npair]):
            foff[b + 1] = foff[b] + fcount[b]
            fcount[b] = foff[b]
        for q in range(nff):
            b = ff_b[q]
            fidx[fcount[b]] = q
            fcount[b] += 1
        # 2) integrate every kept edge of every active feature
        lbx0, lby0, lbx1, lby1 = sb0 - ox, sb1 - oy, sb2 - ox, sb3 - oy
        for i in range(npair):
            if not active[i] or site_bad:
                continue
            carry = False
            for b in range(bstart[i], bstart[i + 1]):
                cont = carry and bk[b] == bk[b - 1] + 1 and bring[b] == bring[b - 1]
                carry = False
                if drop_b[b]:  # shared with another feature in the opposite direction
                    continue
                ex0, ey0, ex1, ey1 = bx0[b], by0[b], bx1[b], by1[b]
                n_e = 0
                for j in range(npair):
                    touch0[j] = False
                for qq in range(foff[b], foff[b + 1]):
                    q = fidx[qq]
                    if ff_kind[q] == 0:
                        touch0[ff_j[q]] = True
                    else:
                        et[n_e] = ff_t[q]; ed[n_e] = ff_d[q]; ek[n_e] = ff_j[q] + 1
                        n_e += 1
                nff_b = n_e
                # crossings with the footprint along this edge
                for q in range(evstart[i], evstart[i + 1]):
                    if ev_b[q] == b:
                        et[n_e] = ev_tb[q]; ed[n_e] = ev_sb[q]; ek[n_e] = 0
                        n_e += 1
                # part of the edge inside the footprint's box (Liang-Barsky)
                ua, ub = _clip(ex0, ey0, ex1, ey1, lbx0, lby0, lbx1, lby1)
                # anchor: halfway from where the edge enters the box to the next crossing
                nxt = ub
                for q in range(nff_b):
                    if et[q] >= ua:
                        nxt = min(nxt, et[q])
                u = 0.5 * (ua + nxt)
                anchor_all = (not cont) or ua > 0.0
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
                if site_bad:
                    break
                _sort_events(et, ed, ek, n_e)
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
                acc += bcr[b] * frac
                carry = ub >= 1.0 and not tend_b[b]
            if site_bad:
                break
        covered[s] = nan if site_bad else 0.5 * acc
