"""The compiled Green's-theorem kernel (sitescreen.measure._areakernel) on small, hand-made configurations:
what it decides itself, what it leaves to GEOS, and that both give the GEOS answer."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import affinity

from sitescreen.measure import geomops, overlap
from sitescreen.measure._areakernel import build_rings

RTOL = 1e-9


def ref_fraction(fps, feats):
    out = []
    for fp in fps:
        hits = [f for f in feats if shapely.intersects(fp, f)]
        u = shapely.union_all(hits) if hits else shapely.Polygon()
        out.append(shapely.area(shapely.intersection(fp, u)) / fp.area)
    return np.array(out)


def ref_pair_areas(fps, feats):
    return np.array([[shapely.intersection(fp, f).area for f in feats] for fp in fps])


def kernel(fps, feats, union=True):
    """The worker part alone: (site, part, pair areas, covered) with NaN where GEOS must decide."""
    fps = np.asarray(fps, dtype=object)
    layer = geomops.polygonal_layer(np.asarray(feats, dtype=object))
    return overlap._green_chunk(fps, layer, union)


def check(fps, feats):
    """overlap_fraction and largest_overlap agree with GEOS; returns the kernel's own output."""
    fps = np.asarray(fps, dtype=object)
    feats = np.asarray(feats, dtype=object)
    np.testing.assert_allclose(overlap.overlap_fraction(fps, feats), ref_fraction(fps, feats),
                               rtol=RTOL, atol=1e-12)
    _, area = overlap.largest_overlap(fps, feats)
    np.testing.assert_allclose(area, ref_pair_areas(fps, feats).max(axis=1), rtol=RTOL, atol=1e-6)
    return kernel(fps, feats)


def disc(x, y, r=1000.0):
    return shapely.buffer(shapely.Point(x, y), r)


def rotated_square(x, y, half, angle):
    return affinity.rotate(shapely.box(x - half, y - half, x + half, y + half), angle)


def test_site_inside_a_feature_and_feature_inside_site():
    fps = [disc(0, 0), disc(10_000, 0)]
    feats = [rotated_square(0, 0, 5000, 17), rotated_square(10_000, 0, 300, 23)]
    _, _, pair_area, covered = check(fps, feats)
    assert not np.isnan(covered).any() and not np.isnan(pair_area).any()  # decided by the kernel
    np.testing.assert_allclose(covered, [fps[0].area, feats[1].area], rtol=RTOL)


def test_site_inside_one_of_stacked_features():
    """A footprint inside one feature that others cross or lie in: covered wholly (the kernel
    skips the other features' edges); a hole of that feature inside the footprint is no longer
    'inside one', and the features covering the hole count."""
    rng = np.random.default_rng(5)
    big = rotated_square(0, 0, 5000, 17)
    others = [rotated_square(*rng.uniform(-900, 900, 2), rng.uniform(200, 700), rng.uniform(0, 90)) for _ in range(6)]
    holed = shapely.Polygon(affinity.translate(big, 10_000, 0).exterior.coords,  # a hole inside footprint 1
                            [disc(10_000, 0, 400).exterior.coords[::-1]])
    in_hole = [disc(10_000, 0, 250), rotated_square(10_300, 0, 200, 10)]
    fps = [disc(0, 0), disc(10_000, 0)]
    feats = [others[0], big, *others[1:], holed, *in_hole]
    _, _, pair_area, covered = check(fps, feats)
    assert not np.isnan(covered).any() and not np.isnan(pair_area).any()  # decided by the kernel
    np.testing.assert_allclose(covered[0], fps[0].area, rtol=1e-12)
    assert covered[1] < fps[1].area * (1 - 1e-3)  # the hole is not all covered


def test_overlapping_features_union_in_the_kernel():
    rng = np.random.default_rng(3)
    fps = [disc(0, 0)]
    feats = [rotated_square(*rng.uniform(-900, 900, 2), rng.uniform(200, 700), rng.uniform(0, 90))
             for _ in range(12)]
    _, _, pair_area, covered = check(fps, feats)
    assert not np.isnan(covered).any() and not np.isnan(pair_area).any()


def test_tiling_shared_edges_and_vertices_decided_by_the_kernel():
    # four quadrants meeting at a vertex inside the footprint, rotated off the axes
    quads = [affinity.rotate(shapely.box(x0, y0, x0 + 3000, y0 + 3000), 11, origin=(0, 0))
             for x0, y0 in ((-3000, -3000), (0, -3000), (-3000, 0), (0, 0))]
    fps = [disc(0, 0), disc(150, -80, 700)]
    for feats in (quads, quads[:3], [quads[0], quads[3]]):
        _, _, pair_area, covered = check(fps, feats)
        assert not np.isnan(covered).any() and not np.isnan(pair_area).any()
    np.testing.assert_allclose(overlap.overlap_fraction(np.array(fps), np.array(quads)), 1.0, rtol=RTOL)


def test_stacked_and_collinear_features_go_to_geos():
    fp = shapely.box(0, 0, 10, 10)
    stacked = [rotated_square(5, 5, 3, 10), rotated_square(5, 5, 3, 10)]  # duplicates
    collinear = [shapely.box(0, 2, 4, 8)]  # shares part of the footprint's left edge
    for feats in (stacked, collinear):
        _, _, _, covered = check([fp], feats)
        assert np.isnan(covered).all()  # undecided by the kernel, finished by GEOS


def test_holes_and_multipolygons_features_and_footprints():
    ring = shapely.difference(disc(0, 0, 1500), disc(200, 100, 700))  # feature with a hole
    multi = shapely.MultiPolygon([rotated_square(-600, -500, 300, 7), rotated_square(700, 400, 250, 31)])
    fp_hole = shapely.difference(disc(300, 0), disc(350, 50, 400))  # footprint with a hole
    fp_multi = shapely.MultiPolygon([disc(-3000, 0, 800), disc(-1200, 0, 500)])
    fps = [disc(0, 0), disc(900, 900), fp_hole, fp_multi]
    _, _, _, covered = check(fps, [ring, multi])
    assert not np.isnan(covered).any()


def test_collection_footprint_measured_by_geos():
    fp = shapely.GeometryCollection([shapely.box(0, 0, 10, 10), shapely.LineString([(0, 0), (20, 20)])])
    feat = np.array([rotated_square(10, 5, 4, 12)], dtype=object)
    got = overlap.overlap_fraction(np.array([fp], dtype=object), feat)
    assert got[0] == pytest.approx(shapely.intersection(fp, feat[0]).area / fp.area, rel=RTOL)


def test_crossing_buffers_overflow_goes_to_geos(monkeypatch):
    rng = np.random.default_rng(5)
    fps = [disc(*rng.uniform(0, 3000, 2)) for _ in range(6)]
    feats = [rotated_square(*rng.uniform(0, 3000, 2), rng.uniform(200, 900), rng.uniform(0, 90))
             for _ in range(15)]
    whole = overlap.overlap_fraction(np.array(fps), np.array(feats))
    monkeypatch.setattr(overlap, "MAX_CROSSINGS", 1)
    _, _, _, covered = kernel(fps, feats)
    assert np.isnan(covered).any()
    np.testing.assert_allclose(overlap.overlap_fraction(np.array(fps), np.array(feats)), whole,
                               rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(whole, ref_fraction(fps, feats), rtol=RTOL, atol=1e-12)


def test_build_rings_orients_and_splits():
    cw = shapely.Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])  # clockwise exterior
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2), (1, 2)]])
    geoms = np.array([cw, None, shapely.Polygon(), holed, shapely.Point(0, 0),
                      shapely.MultiPolygon([cw, shapely.box(5, 5, 6, 6)])], dtype=object)
    R = build_rings(geoms)
    assert np.diff(R.geom_ring).tolist() == [1, 0, 0, 2, 0, 2]
    assert R.nedges.tolist() == [4, 0, 0, 8, 0, 8]
    for r in range(R.ring_off.size - 1):
        ring = shapely.LinearRing(R.xy[R.ring_off[r]:R.ring_off[r + 1]])
        is_hole = r == 2  # the second ring of the holed polygon
        assert shapely.is_ccw(ring) != is_hole


def test_sliver_between_nearly_collinear_edges():
    """A vertex of one feature 5e-13 m inside another's edge (a T-junction after rounding): the
    union's anchor point cannot be placed reliably in the sliver, so GEOS decides."""
    a = shapely.from_wkt(
        "POLYGON ((1746.0029940904788 18826.256541509272, 2230.530392615407 19315.581819245275, "
        "2586.5619399618035 19347.163710252233, 2586.5619399618035 18255.50839472605, "
        "1782.634259991955 18762.102658742206, 1746.0029940904788 18826.256541509272))")
    b = shapely.from_wkt(
        "POLYGON ((1795.3725740456682 18876.114988104506, 1795.3725740456682 19715.199256689164, "
        "1963.4648572998308 19607.871597253845, 2230.530392615407 19315.581819245275, "
        "1795.3725740456682 18876.114988104506))")
    centre = np.random.default_rng(0).uniform(0, 20_000, (400, 2))[148]
    fp = shapely.buffer(shapely.Point(centre), 1000.0)
    check([fp], [a, b])
