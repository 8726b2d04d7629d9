"""Properties of the measurements and scores, over generated layers and sites (hypothesis).

Each property runs with at least 200 examples. Layers are built in memory as a run would hold
them after loading (:class:`sitescreen.inputs.load.LoadedLayer` in the run CRS, EPSG:5070), sites with
:func:`sitescreen.sites.footprints.make_footprints`, and the criteria and scores with
:func:`sitescreen.measure.criteria.measure` and :func:`sitescreen.rules.scoring.score`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from sitescreen.measure.criteria import Inputs, measure
from sitescreen.rules.measurement import Measurement
from sitescreen.inputs.load import LoadedLayer
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.profile import profile_from_dict
from sitescreen.inputs.schemas import Schema
from sitescreen.rules.scoring import score
from sitescreen.sites.footprints import make_footprints
from sitescreen.sites.options import SiteOptions, SiteStats
from sitescreen.review.verify import compare_frames

RUN_CRS = CRS.from_epsg(5070)
X0, Y0 = -1_497_229.0, 2_540_221.0  # EPSG:5070 near lon -115, lat 44.5 (central Idaho)
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _rule(**kw) -> dict:
    return {"safeguard": "a safeguard (test)", "source": "a source (test)", **kw}


PROFILE = profile_from_dict({
    "name": "properties",
    "verdicts": {"favorable": 70, "review": 40},
    "criteria": {
        "protected_overlap": _rule(kind="overlap", role="protected", exclude={"above": 0}, weight=0),
        "protected_setback": _rule(kind="distance", role="protected", search_radius_m=30000, exclude={"below": 300},
                                   transform={"kind": "linear", "points": [[300, 0.0], [1500, 0.6], [5000, 1.0]]},
                                   weight=0.5),
        "protected_nearby": _rule(kind="count_within", role="protected", distance_m=3000,
                                  transform={"kind": "linear", "points": [[0, 1.0], [3, 0.0]]}, weight=0.2),
        "federal_land": _rule(kind="overlap", role="federal_land",
                              transform={"kind": "linear", "points": [[0.0, 0.0], [1.0, 1.0]]}, weight=0.3),
    },
}, "properties.toml")


def layer(role: str, geoms, coverage=None, **attrs) -> LoadedLayer:
    """A loaded layer in the run CRS, as load_vector returns it."""
    geoms = list(geoms)
    gdf = gpd.GeoDataFrame({"name": [f"{role} {i}" for i in range(len(geoms))], **attrs},
                           geometry=gpd.GeoSeries(geoms, crs=RUN_CRS))
    gdf["layer"] = role
    return LoadedLayer(spec=LayerSpec(role=role, path=Path(f"{role}.gpkg"), name=role), gdf=gdf,
                       schema=Schema(name="test", coverage="global" if coverage is None else "extent"),
                       source_crs="EPSG:5070", features_read=len(geoms), coverage=coverage)


def footprints(centres, radius) -> gpd.GeoDataFrame:
    """Sites buffered like make_footprints does (in the run CRS), with ids."""
    pts = shapely.points(np.asarray(centres, dtype=float) + [X0, Y0])
    radius = np.broadcast_to(np.asarray(radius, dtype=float), (len(pts),))
    ids = [f"S{i:03d}" for i in range(len(pts))]
    return gpd.GeoDataFrame({"site_id": ids, "name": ids, "record_ids": ids},
                            geometry=shapely.buffer(pts, radius, quad_segs=16), crs=RUN_CRS)


def run(sites, inputs, profile=PROFILE) -> gpd.GeoDataFrame:
    return score(sites, profile, measure(profile, sites, inputs))


def shifted(g):
    return shapely.transform(g, lambda xy: xy + [X0, Y0])


# --- strategies -------------------------------------------------------------------------------

coord = st.floats(-20_000, 20_000, allow_nan=False)
size = st.floats(50, 6_000, allow_nan=False)


@st.composite
def polygon(draw, xmax: float | None = None):
    """A box or the convex hull of a few points (local metres), optionally left of x = xmax."""
    if draw(st.booleans()):
        cx, cy, w, h = draw(coord), draw(coord), draw(size), draw(size)
        g = shapely.box(cx - w, cy - h, cx + w, cy + h)
    else:
        pts = draw(st.lists(st.tuples(coord, coord), min_size=3, max_size=6))
        g = shapely.MultiPoint(pts).convex_hull
        if g.geom_type != "Polygon" or g.area < 100:
            g = g.buffer(60)
    if xmax is not None:
        g = g.intersection(shapely.box(-1e6, -1e6, xmax, 1e6))
        if g.is_empty or g.area < 1:
            g = shapely.box(xmax - 500, -250, xmax, 250)
    return g


# --- 1. moving a site away from every protected area never lowers its score ---------------------


@PROPS
@given(protected=st.lists(polygon(xmax=0.0), min_size=1, max_size=5),
       x=st.floats(0, 15_000), y=st.floats(-15_000, 15_000), move=st.floats(0, 40_000),
       radius=st.floats(50, 3_000))
def test_moving_a_site_away_from_every_protected_area_never_lowers_its_score(protected, x, y, move, radius):
    # every protected area lies in x <= 0 and the site's centre in x >= 0: moving the site towards +x
    # takes every point of its footprint away from every point of every protected area
    inputs = Inputs(vectors=[layer("protected", shifted(protected)),
                             layer("federal_land", [shapely.box(X0 - 1e5, Y0 - 1e5, X0 + 1e5, Y0 + 1e5)])], rasters=[])
    res = run(footprints([(x, y), (x + move, y)], radius), inputs)
    before, after = res["score"].to_numpy()
    assert after >= before - 1e-9, res[["verdict", "score", "reasons"]].to_dict("records")
    assert res["m_protected_setback"].iloc[1] >= res["m_protected_setback"].iloc[0] - 1e-6


# --- 2. an exclusion always wins over any score -----------------------------------------------


@st.composite
def profile_and_measures(draw):
    n_crit = draw(st.integers(1, 4))
    raw = draw(st.lists(st.integers(1, 10), min_size=n_crit, max_size=n_crit))
    weights = [w / sum(raw) for w in raw]
    weights[-1] = 1.0 - sum(weights[:-1])
    criteria, measures = {}, {}
    n = draw(st.integers(1, 12))
    values = st.one_of(st.floats(0, 1), st.just(float("nan")))
    for i, w in enumerate(weights):
        ys = draw(st.lists(st.floats(0, 1), min_size=2, max_size=4))
        pts = [[k / (len(ys) - 1), y] for k, y in enumerate(ys)]
        criteria[f"c{i}"] = _rule(kind="overlap", role="r", weight=w, transform={"kind": "linear", "points": pts})
        measures[f"c{i}"] = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    for j in range(draw(st.integers(1, 2))):
        t = draw(st.floats(0, 0.99))
        criteria[f"x{j}"] = _rule(kind="overlap", role="r", weight=0, exclude={"above": t})
        measures[f"x{j}"] = np.array(draw(st.lists(values, min_size=n, max_size=n)))
    fav = draw(st.floats(1, 100))
    profile = profile_from_dict({"name": "p", "criteria": criteria,
                                 "verdicts": {"favorable": fav, "review": draw(st.floats(0, fav - 0.5))}}, "p.toml")
    return profile, {k: Measurement(v) for k, v in measures.items()}, n


@PROPS
@given(case=profile_and_measures())
def test_an_exclusion_always_wins_over_any_score(case):
    profile, measures, n = case
    sites = footprints([(0.0, 100.0 * i) for i in range(n)], 10.0)
    res = score(sites, profile, measures)
    hit = np.zeros(n, dtype=bool)
    for c in profile.criteria:
        if c.exclude is not None:
            with np.errstate(invalid="ignore"):
                hit |= measures[c.name].values > c.exclude[1]
    assert (res["verdict"].to_numpy() == "excluded").tolist() == hit.tolist()
    assert (res.loc[hit, "score"] == 0.0).all()
    assert res.loc[hit, "reasons"].str.startswith("excluded by ").all()
    assert (res.loc[~hit, "score"].isna() | (res.loc[~hit, "score"] >= 0)).all()


# --- 3. the same measurements whatever CRS the inputs come in --------------------------------

SOURCE_CRSS = ("EPSG:4326", "EPSG:5070", "EPSG:32611")
TO_SOURCE = {c: Transformer.from_crs(RUN_CRS, c, always_xy=True) for c in SOURCE_CRSS}
CRS_PROFILE = profile_from_dict({"name": "crs", "criteria": {
    "overlap": _rule(kind="overlap", role="protected", weight=0.5, transform={"kind": "linear", "points": [[0, 1], [1, 0]]}),
    "distance": _rule(kind="distance", role="protected", search_radius_m=60000, weight=0.5,
                      transform={"kind": "linear", "points": [[0, 0], [5000, 1]]}),
}}, "crs.toml")


def _in(crs: str, geoms):
    t = TO_SOURCE[crs]
    return [shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))) for g in geoms]


@PROPS
@given(protected=st.lists(polygon(), min_size=1, max_size=4),
       cells=st.lists(st.tuples(st.integers(-2000, 2000), st.integers(-2000, 2000)), min_size=1, max_size=5, unique=True),
       radius=st.floats(100, 3_000))
def test_measurements_do_not_depend_on_the_inputs_crs(protected, cells, radius):
    # polygons generated in the run CRS and densified there, so their edges are the same lines
    # whatever CRS their vertices travel through
    polys = [shapely.segmentize(g, 200.0) for g in shifted(protected)]
    centres = [shapely.Point(X0 + 10.0 * i, Y0 + 10.0 * j) for i, j in cells]
    results = {}
    for crs in SOURCE_CRSS:
        src = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(len(polys))]},
                               geometry=gpd.GeoSeries(_in(crs, polys), crs=crs))
        lyr = layer("protected", src.to_crs(RUN_CRS).geometry.to_numpy())  # the reprojection load_vector does
        raw = gpd.GeoDataFrame({"record_id": [f"R{k}" for k in range(len(centres))],
                                "name": [f"site {k}" for k in range(len(centres))], "_kind": "point"},
                               geometry=gpd.GeoSeries(_in(crs, centres), crs=crs))
        sites = make_footprints(raw, RUN_CRS, SiteOptions(radius_m=radius), SiteStats(path="t"))
        results[crs] = measure(CRS_PROFILE, sites, Inputs(vectors=[lyr], rasters=[]))
    base = results["EPSG:5070"]
    for crs in ("EPSG:4326", "EPSG:32611"):
        np.testing.assert_allclose(results[crs]["overlap"].values, base["overlap"].values, rtol=0, atol=1e-6)
        np.testing.assert_allclose(results[crs]["distance"].values, base["distance"].values, rtol=0, atol=0.5)


# --- 4. a site's result does not depend on which other sites are in the run ------------------


@PROPS
@given(protected=st.lists(polygon(), min_size=1, max_size=4), federal=st.lists(polygon(), min_size=1, max_size=3),
       centres=st.lists(st.tuples(coord, coord), min_size=2, max_size=10),
       radii=st.lists(size, min_size=10, max_size=10), data=st.data())
def test_a_sites_result_does_not_depend_on_the_other_sites(protected, federal, centres, radii, data):
    n = len(centres)
    keep = data.draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
    fed_cov = shapely.box(X0 - 15_000, Y0 - 15_000, X0 + 15_000, Y0 + 15_000)  # some sites have no federal data
    inputs = Inputs(vectors=[layer("protected", shifted(protected)), layer("federal_land", shifted(federal), coverage=fed_cov)],
                    rasters=[])
    all_sites = footprints(centres, radii[:n])
    some = all_sites.loc[np.array(keep)].reset_index(drop=True)
    full = run(all_sites, inputs)
    part = run(some, inputs)
    expected = full.loc[full["site_id"].isin(some["site_id"])].reset_index(drop=True)
    assert [str(d) for d in compare_frames(expected, part, "sites")] == []


def test_site_density_criteria_say_that_they_depend_on_the_other_sites(demo_result):
    notes = {c.name: c.note for c in demo_result.manifest.criteria}
    assert "depends on which sites are screened together" in notes["watershed_pressure"]
