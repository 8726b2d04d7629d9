"""geomops kernels against slow, obviously-correct references (per-geometry shapely, gpd.overlay)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sitescreen.measure import nearest, overlap

CRS = "EPSG:5070"
RTOL = 1e-9


def star_polygons(rng, n, extent, rmin, rmax):
    """Valid irregular polygons: star-shaped around random centres (sorted angles)."""
    cx = rng.uniform(0, extent, n)
    cy = rng.uniform(0, extent, n)
    out = []
    for x, y in zip(cx, cy):
        k = rng.integers(10, 30)
        inc = rng.uniform(0.3, 1.0, k)  # angular gaps < π: always a valid star shape
        ang = 2 * np.pi * (np.cumsum(inc) - inc) / inc.sum()
        r = rng.uniform(rmin, rmax) * rng.uniform(0.5, 1.0, k)
        out.append(shapely.Polygon(np.c_[x + r * np.cos(ang), y + r * np.sin(ang)]))
    return np.array(out, dtype=object)


@pytest.fixture(scope="module")
def random_case():
    rng = np.random.default_rng(42)
    extent = 40_000.0
    fps = shapely.buffer(shapely.points(rng.uniform(0, extent, (200, 2))), 1000.0)
    feats = star_polygons(rng, 300, extent, 300, 3000)
    return fps, feats


# ------------------------------------------------------------------ slow references


@pytest.fixture(scope="module")
def random_refs(random_case):
    """Reference pair areas and overlap fractions of the random case, computed once."""
    fps, feats = random_case
    return ref_pair_areas(fps, feats), ref_overlap_fraction(fps, feats)


def ref_overlap_fraction(fps, feats):
    out = []
    for fp in fps:
        hits = [f for f in feats if f is not None and shapely.intersects(fp, f)]  # brute force
        u = shapely.union_all(hits) if hits else shapely.Polygon()
        out.append(shapely.area(shapely.intersection(fp, u)) / fp.area)
    return np.array(out)


def ref_pair_areas(fps, feats):
    return np.array([[shapely.intersection(fp, f).area for f in feats] for fp in fps])


def overlay_fraction(fps, feats):
    """The geopandas way: overlay + dissolve per site (the benchmark's alternative)."""
    a = gpd.GeoDataFrame({"site": np.arange(len(fps))}, geometry=fps, crs=CRS)
    b = gpd.GeoDataFrame(geometry=feats, crs=CRS)
    ov = gpd.overlay(a, b, how="intersection", keep_geom_type=True)
    covered = ov.dissolve("site").area.reindex(np.arange(len(fps)), fill_value=0.0)
    return covered.to_numpy() / a.area.to_numpy()


# ------------------------------------------------------------------ overlap_fraction


def test_overlap_fraction_matches_overlay(random_case, random_refs):
    fps, feats = random_case
    got = overlap.overlap_fraction(fps, feats)
    assert got.dtype == np.float64 and got.shape == (len(fps),)
    np.testing.assert_allclose(got, overlay_fraction(fps, feats), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(got, random_refs[1], rtol=RTOL, atol=1e-12)
    # the random case exercises every path: none, partial, several, full
    assert (got == 0).any() and (got == 1).any() and ((got > 0) & (got < 1)).sum() > 50


def test_overlap_fraction_small_chunks_same_result(random_case, monkeypatch):
    fps, feats = random_case
    whole = overlap.overlap_fraction(fps, feats)
    monkeypatch.setattr(overlap, "GREEN_CHUNK_SITES", 7)
    monkeypatch.setattr(overlap, "WORKERS", 3)
    np.testing.assert_array_equal(overlap.overlap_fraction(fps, feats), whole)


def test_overlap_fraction_empty_inputs():
    fp = np.array([shapely.box(0, 0, 10, 10)], dtype=object)
    none = np.array([], dtype=object)
    assert overlap.overlap_fraction(fp, none).tolist() == [0.0]
    out = overlap.overlap_fraction(none, fp)
    assert out.shape == (0,) and out.dtype == np.float64
    # candidate pairs whose boxes overlap but which share no edge in each other's box
    tri = np.array([shapely.Polygon([(0, 0), (10, 0), (0, 10)])], dtype=object)
    far = np.array([shapely.Polygon([(9, 9), (20, 9), (20, 20)])], dtype=object)
    assert overlap.overlap_fraction(tri, far).tolist() == [0.0]
    assert overlap.largest_overlap(tri, far)[0].tolist() == [-1]
    mean, frac = overlap.area_weighted(tri, far, np.array([1.0]), "mean")
    assert np.isnan(mean[0]) and frac[0] == 0.0


def test_overlap_fraction_inside_stacked_touching():
    fp = np.array(
        [
            shapely.box(0, 0, 10, 10),  # inside one big feature
            shapely.box(100, 0, 110, 10),  # three features stacked, same half
            shapely.box(200, 0, 210, 10),  # two features touching along x=205
            shapely.box(300, 0, 310, 10),  # feature only touching its edge
            shapely.box(400, 0, 410, 10),  # a small feature inside the footprint
        ],
        dtype=object,
    )
    feats = np.array(
        [
            shapely.box(-5, -5, 15, 15),
            shapely.box(100, 0, 105, 10),
            shapely.box(100, 0, 105, 10),
            shapely.box(99, -1, 105, 11),
            shapely.box(200, 0, 205, 10),
            shapely.box(205, 0, 207, 10),
            shapely.box(310, 0, 320, 10),
            shapely.box(402, 2, 404, 4),
            shapely.LineString([(0, 0), (500, 10)]),  # no area: ignored
            shapely.Point(405, 5),
            None,
        ],
        dtype=object,
    )
    np.testing.assert_allclose(
        overlap.overlap_fraction(fp, feats), [1.0, 0.5, 0.7, 0.0, 0.04], rtol=RTOL
    )


def voronoi_tiling(rng, n, extent):
    pts = shapely.multipoints(rng.uniform(0, extent, (n, 2)))
    box = shapely.box(0, 0, extent, extent)
    return shapely.clip_by_rect(
        shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box)), 0, 0, extent, extent
    )


@pytest.mark.parametrize("layer", ["tiling", "tiling_subset", "holes_and_multi"])
def test_overlap_fraction_shared_edges_holes_multipolygons(layer):
    """Shared edges (tilings), holes and multipolygons against per-site GEOS unions."""
    rng = np.random.default_rng(9)
    extent = 20_000.0
    fps = shapely.buffer(shapely.points(rng.uniform(0, extent, (150, 2))), 1000.0)
    if layer == "tiling":
        feats = voronoi_tiling(rng, 400, extent)
    elif layer == "tiling_subset":
        feats = voronoi_tiling(rng, 400, extent)[::3]
    else:
        rings = shapely.buffer(shapely.points(rng.uniform(0, extent, (60, 2))), 1500.0)
        holes = shapely.difference(rings, shapely.buffer(shapely.centroid(rings), 600.0))
        pairs = shapely.multipolygons(
            np.stack([star_polygons(rng, 40, extent, 300, 1500), star_polygons(rng, 40, extent, 300, 1500)], 1)
        )
        feats = np.concatenate([holes, pairs[shapely.is_valid(pairs)]])
    got = overlap.overlap_fraction(fps, feats)
    np.testing.assert_allclose(got, ref_overlap_fraction(fps, feats), rtol=RTOL, atol=1e-12)
    idx, area = overlap.largest_overlap(fps, feats)
    ref = ref_pair_areas(fps, feats)
    np.testing.assert_allclose(area, ref.max(axis=1), rtol=RTOL, atol=1e-6)


def test_overlap_fraction_collection_parts_and_null_footprint():
    fp = np.array([shapely.box(0, 0, 10, 10), None, shapely.Polygon()], dtype=object)
    gc = shapely.GeometryCollection(
        [shapely.box(0, 0, 2, 10), shapely.LineString([(0, 0), (9, 9)]), shapely.box(8, 0, 10, 10)]
    )
    got = overlap.overlap_fraction(fp, np.array([gc], dtype=object))
    assert got[0] == pytest.approx(0.4, rel=RTOL)
    assert np.isnan(got[1:]).all()


# ------------------------------------------------------------------ largest_overlap


def test_largest_overlap_matches_reference(random_case, random_refs):
    fps, feats = random_case
    idx, area = overlap.largest_overlap(fps, feats)
    assert idx.dtype == np.int64 and area.dtype == np.float64
    ref = random_refs[0]
    ref_area = ref.max(axis=1)
    ref_idx = np.where(ref_area > 0, ref.argmax(axis=1), -1)
    np.testing.assert_allclose(area, ref_area, rtol=RTOL, atol=1e-6)
    assert (idx == ref_idx).all()
    assert (idx == -1).any() and (idx >= 0).sum() > 100


def test_largest_overlap_ties_and_touching():
    fp = np.array([shapely.box(0, 0, 10, 10), shapely.box(100, 0, 110, 10)], dtype=object)
    feats = np.array(
        [shapely.box(110, 0, 120, 10), shapely.box(5, 0, 15, 10), shapely.box(-5, 0, 5, 10)],
        dtype=object,
    )
    idx, area = overlap.largest_overlap(fp, feats)
    assert idx.tolist() == [1, -1]  # tie between 1 and 2 goes to the lower index
    assert area.tolist() == [50.0, 0.0]
    idx, area = overlap.largest_overlap(fp, np.array([], dtype=object))
    assert idx.tolist() == [-1, -1] and area.tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ nearest / count_within


def mixed_features(rng, n, extent):
    polys = star_polygons(rng, n, extent, 100, 800)
    pts = shapely.points(rng.uniform(0, extent, (n // 2, 2)))
    lines = shapely.linestrings(
        [np.array([p, p + rng.uniform(-500, 500, 2)]) for p in rng.uniform(0, extent, (n // 2, 2))]
    )
    return np.concatenate([polys, pts, lines]).astype(object)


def test_nearest_matches_reference():
    rng = np.random.default_rng(7)
    extent = 40_000.0
    fps = shapely.buffer(shapely.points(rng.uniform(0, extent, (200, 2))), 1000.0)
    feats = mixed_features(rng, 100, extent)
    max_d = 1000.0
    dist, idx = nearest.nearest(fps, feats, max_d)
    d_all = np.array([[shapely.distance(fp, f) for f in feats] for fp in fps])
    ref_d = d_all.min(axis=1)
    ref_i = d_all.argmin(axis=1)  # lowest index among ties
    within = ref_d <= max_d
    np.testing.assert_allclose(dist[within], ref_d[within], rtol=RTOL, atol=1e-9)
    assert (idx[within] == ref_i[within]).all()
    assert np.isinf(dist[~within]).all() and (idx[~within] == -1).all()
    assert within.sum() > 50 and (~within).sum() > 10 and (dist == 0).sum() > 10
    dist_inf, idx_inf = nearest.nearest(fps, feats, np.inf)
    np.testing.assert_allclose(dist_inf, ref_d, rtol=RTOL, atol=1e-9)


def test_nearest_edge_cases():
    fp = np.array([shapely.box(0, 0, 10, 10), shapely.box(100, 100, 110, 110)], dtype=object)
    feats = np.array(
        [shapely.Point(15, 5), shapely.LineString([(10, 20), (0, 20)]), shapely.Point(5, 5)],
        dtype=object,
    )
    dist, idx = nearest.nearest(fp, feats, 50.0)
    assert dist.tolist() == [0.0, np.inf] and idx.tolist() == [2, -1]
    dist, idx = nearest.nearest(fp, np.array([], dtype=object), 50.0)
    assert np.isinf(dist).all() and (idx == -1).all()
    dist, idx = nearest.nearest(np.array([], dtype=object), feats, 50.0)
    assert dist.shape == idx.shape == (0,) and idx.dtype == np.int64
    with pytest.raises(ValueError, match="max_distance"):
        nearest.nearest(fp, feats, -1)


def test_count_within_matches_reference():
    rng = np.random.default_rng(11)
    extent = 30_000.0
    fps = shapely.buffer(shapely.points(rng.uniform(0, extent, (200, 2))), 1000.0)
    feats = mixed_features(rng, 100, extent)
    d_all = np.array([[shapely.distance(fp, f) for f in feats] for fp in fps])
    for d in (0.0, 500.0, 2500.0):
        got = nearest.count_within(fps, feats, d)
        assert got.dtype == np.int64
        assert (got == (d_all <= d).sum(axis=1)).all(), d
    assert nearest.count_within(fps, np.array([], dtype=object), 10).tolist() == [0] * 200


def test_count_within_touching_counts():
    fp = np.array([shapely.box(0, 0, 10, 10)], dtype=object)
    feats = np.array([shapely.box(10, 0, 20, 10), shapely.Point(10, 12), shapely.Point(30, 0)], dtype=object)
    assert nearest.count_within(fp, feats, 0).tolist() == [1]
    assert nearest.count_within(fp, feats, 2).tolist() == [2]


# ------------------------------------------------------------------ area_weighted


def ref_area_weighted(areas, values, method):
    res = []
    for row in areas:
        pos = row > 0
        if not pos.any():
            res.append(None if method == "majority" else np.nan)
        elif method == "majority":
            s = pd.Series(row[pos]).groupby(np.asarray(values, dtype=object)[pos]).sum()
            res.append(s.idxmax())
        elif method == "max":
            res.append(np.max(np.asarray(values, float)[pos]))
        else:
            res.append(np.average(np.asarray(values, float)[pos], weights=row[pos]))
    return res


@pytest.mark.parametrize("method", ["majority", "max", "mean"])
def test_area_weighted_matches_reference(random_case, random_refs, method):
    fps, feats = random_case
    rng = np.random.default_rng(3)
    if method == "majority":
        values = np.array([f"huc{v:02d}" for v in rng.integers(0, 8, len(feats))], dtype=object)
    else:
        values = rng.uniform(0, 100, len(feats))
    got, frac = overlap.area_weighted(fps, feats, values, method)
    ref = ref_area_weighted(random_refs[0], values, method)
    np.testing.assert_allclose(frac, random_refs[1], rtol=RTOL, atol=1e-12)
    if method == "majority":
        assert got.dtype == object
        assert list(got) == ref
    else:
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, np.array(ref, dtype=float), rtol=RTOL)


def test_area_weighted_tiling_and_missing():
    fp = np.array([shapely.box(0, 0, 10, 10), shapely.box(50, 50, 60, 60)], dtype=object)
    feats = np.array([shapely.box(-10, 0, 3, 10), shapely.box(3, 0, 20, 10)], dtype=object)
    maj, frac = overlap.area_weighted(fp, feats, np.array(["a", "b"], dtype=object), "majority")
    assert maj.tolist() == ["b", None] and frac.tolist() == [1.0, 0.0]
    mean, _ = overlap.area_weighted(fp, feats, np.array([1.0, 2.0]), "mean")
    assert mean[0] == pytest.approx(1.7, rel=RTOL) and np.isnan(mean[1])
    mx, _ = overlap.area_weighted(fp, feats, np.array([5.0, np.nan]), "max")
    assert mx[0] == 5.0 and np.isnan(mx[1])
    empty, frac = overlap.area_weighted(
        np.array([], dtype=object), feats, np.array([1.0, 2.0]), "mean"
    )
    assert empty.shape == frac.shape == (0,)
    with pytest.raises(ValueError, match="majority, max, mean"):
        overlap.area_weighted(fp, feats, np.array([1.0, 2.0]), "median")
    with pytest.raises(ValueError, match="one entry per feature"):
        overlap.area_weighted(fp, feats, np.array([1.0]), "mean")


def test_overlap_and_largest_equals_the_two_separate_kernels(random_case):
    fps, feats = random_case
    frac, idx, area = overlap.overlap_and_largest(fps, feats)
    np.testing.assert_array_equal(frac, overlap.overlap_fraction(fps, feats))
    ref_idx, ref_area = overlap.largest_overlap(fps, feats)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(area, ref_area)
