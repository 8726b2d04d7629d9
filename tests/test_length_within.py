"""The ``length_within`` kind: km (or m) of selected lines inside each footprint.

Properties (hypothesis, 200 examples each) over generated lines and claim-sized footprints, measured
through :func:`sitescreen.measure.criteria.measure` as a run does; expected values are computed here
with shapely directly (clip each line to the footprint and add the lengths)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS

from sitescreen.errors import LayerDataError, ProfileError
from sitescreen.inputs.load import LoadedLayer
from sitescreen.inputs.schemas import Schema
from sitescreen.inputs.spec import LayerSpec
from sitescreen.measure.criteria import Inputs, measure
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.profile import profile_from_dict

RUN_CRS = CRS.from_epsg(5070)
X0, Y0 = -1_497_229.0, 2_540_221.0  # EPSG:5070 in central Idaho
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _profile(unit: str = "km"):
    rule = {"safeguard": "s (test)", "source": "s (test)", "kind": "length_within", "role": "streams", "weight": 1,
            "transform": {"kind": "linear", "points": [[0, 1.0], [1, 0.0]]}}
    return profile_from_dict({"name": "lengths", "verdicts": {"favorable": 70, "review": 40},
                              "criteria": {"stream_length": {**rule, "unit": unit}}}, "lengths.toml")


def _inputs(lines) -> Inputs:
    geoms = list(lines)
    gdf = gpd.GeoDataFrame({"name": [f"line {i}" for i in range(len(geoms))]},
                           geometry=gpd.GeoSeries(geoms, crs=RUN_CRS))
    gdf["layer"] = "streams"
    lyr = LoadedLayer(spec=LayerSpec(role="streams", path=Path("streams.gpkg"), name="streams"), gdf=gdf,
                      schema=Schema(name="test", coverage="global"), source_crs="EPSG:5070",
                      features_read=len(geoms))
    return Inputs(vectors=[lyr], rasters=[])


def _sites(boxes) -> gpd.GeoDataFrame:
    ids = [f"S{i}" for i in range(len(boxes))]
    return gpd.GeoDataFrame({"site_id": ids, "name": ids, "record_ids": ids}, geometry=list(boxes), crs=RUN_CRS)


def lengths(lines, boxes, unit="km") -> np.ndarray:
    return measure(_profile(unit), _sites(boxes), _inputs(lines))["stream_length"].values


def shapely_km(lines, box) -> float:
    """The independent computation: each line clipped to the box, lengths added, in km."""
    return sum(shapely.intersection(g, box).length for g in lines) / 1000.0


coord = st.floats(-3_000, 3_000, allow_nan=False)


@st.composite
def line(draw):
    pts = draw(st.lists(st.tuples(coord, coord), min_size=2, max_size=6, unique=True))
    return shapely.LineString(np.asarray(pts) + [X0, Y0])


@st.composite
def claim(draw):
    """A lode claim's outline (1,500 × 600 ft, 457.2 × 182.9 m; 20.66 acres), placed anywhere."""
    cx, cy = draw(coord), draw(coord)
    w, h = (457.2, 182.88) if draw(st.booleans()) else (182.88, 457.2)
    return shapely.box(X0 + cx, Y0 + cy, X0 + cx + w, Y0 + cy + h)


@PROPS
@given(lines=st.lists(line(), min_size=1, max_size=6), boxes=st.lists(claim(), min_size=1, max_size=4))
def test_length_within_a_footprint_is_at_most_the_lines_length_and_agrees_with_shapely(lines, boxes):
    km = lengths(lines, boxes)
    total = sum(g.length for g in lines) / 1000.0
    assert np.all(km >= 0) and np.all(km <= total + 1e-9)
    assert km == pytest.approx([shapely_km(lines, b) for b in boxes], abs=1e-9)


@PROPS
@given(a=st.lists(line(), min_size=1, max_size=4), b=st.lists(line(), min_size=1, max_size=4),
       boxes=st.lists(claim(), min_size=1, max_size=4))
def test_length_within_is_additive_over_disjoint_sets_of_lines(a, b, boxes):
    # b moved 10 km east of every line of a: the two sets share no point
    b = [shapely.affinity.translate(g, xoff=10_000) for g in b]
    boxes = boxes + [shapely.affinity.translate(x, xoff=10_000) for x in boxes]
    assert lengths(a + b, boxes) == pytest.approx(lengths(a, boxes) + lengths(b, boxes), abs=1e-9)


@PROPS
@given(lines=st.lists(line().filter(lambda g: g.is_simple), min_size=1, max_size=4),
       boxes=st.lists(claim(), min_size=1, max_size=4), multi=st.booleans())
def test_length_within_does_not_change_when_lines_are_split_into_segments(lines, boxes, multi):
    # simple lines (a line retracing itself is one line to shapely's intersection, two as segments)
    # each line as its segments: separate features, or one MultiLineString per line (a multi-part
    # feature's overlapping parts would be one line to shapely, so parts stay within their line)
    parts = [[shapely.LineString(c) for c in zip(shapely.get_coordinates(g)[:-1], shapely.get_coordinates(g)[1:])]
             for g in lines]
    pieces = [shapely.MultiLineString(p) for p in parts] if multi else [s for p in parts for s in p]
    assert lengths(pieces, boxes) == pytest.approx(lengths(lines, boxes), abs=1e-9)


def test_the_unit_is_stated_and_metres_are_a_thousand_times_kilometres():
    lines = [shapely.LineString([(X0 - 100, Y0 + 50), (X0 + 1000, Y0 + 50)])]
    boxes = [shapely.box(X0, Y0, X0 + 457.2, Y0 + 182.88), shapely.box(X0 + 5000, Y0, X0 + 5100, Y0 + 100)]
    km, m = lengths(lines, boxes, "km"), lengths(lines, boxes, "m")
    assert km == pytest.approx([0.4572, 0.0]) and m == pytest.approx(km * 1000)
    assert _profile("km").criteria[0].unit == "km" and _profile("m").criteria[0].unit == "m"
    assert KINDS["length_within"].unit_of({}) == "km"
    with pytest.raises(ProfileError, match=r"criteria.stream_length.unit: 'mi' is not one of km, m"):
        _profile("mi")


def test_a_polygon_layer_is_refused_not_measured_by_its_outline():
    lake = shapely.box(X0, Y0, X0 + 300, Y0 + 300)
    with pytest.raises(LayerDataError, match=r"streams: criterion stream_length \(length_within\) measures the "
                                             r"length of lines, but the streams layer holds 1 polygon feature"):
        lengths([lake], [shapely.box(X0 - 10, Y0 - 10, X0 + 100, Y0 + 100)])
