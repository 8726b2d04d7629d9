"""USFWS critical habitat as published (``crithab_all_layers``: layers CRITHAB_POLY and CRITHAB_LINE,
fields COMNAME, SCINAME, STATUS, FEDREG, UNIT, …), written here as the download's shapefiles and as
a GeoPackage holding both layers with the lowercase spelling, screened through the recipe
(docs/datasets/critical-habitat.md) with the default profile: overlap excludes naming the species,
the setback is measured (checked against shapely) and scores by the profile's transform."""

from __future__ import annotations

import json
import tomllib

import geopandas as gpd
import numpy as np
import pytest
import shapely

from coverworld import PROFILE, profile_with, recipe, screen, write_world
from edgecases import assert_error, assert_nothing_left, run_cli

SITES = [(-114.50, 44.50), (-114.30, 44.45), (-114.00, 44.70)]  # on habitat, near habitat, far from it
RADIUS = 800.0


def crithab_frames(upper: bool = True) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """CRITHAB_POLY (Bull Trout around site 0, Canada Lynx east of site 1) and CRITHAB_LINE, in
    lon/lat, with the published fields (synthetic units)."""
    lynx_west = -114.30 + 0.035  # about 2.8 km east of site 1's centre: about 2 km from its footprint
    polys = [shapely.box(-114.52, 44.49, -114.49, 44.51), shapely.box(lynx_west, 44.40, lynx_west + 0.05, 44.50)]
    attrs = {"COMNAME": ["Bull Trout", "Canada Lynx"], "SCINAME": ["Salvelinus confluentus", "Lynx canadensis"],
             "SPCODE": ["E065", "A073"], "VIPCODE": ["V01", "V01"], "STATUS": ["Final", "Final"],
             "PUBDATE": ["2010-10-18", "2014-09-12"], "FEDREG": ["75 FR 63898", "79 FR 54782"],
             "UNIT": ["Unit 3 (synthetic)", "Unit 5 (synthetic)"], "LISTING_ST": ["Threatened", "Threatened"]}
    line_attrs = {k: v[:1] for k, v in attrs.items()}
    if not upper:
        attrs = {k.lower(): v for k, v in attrs.items()}
        line_attrs = {k.lower(): v for k, v in line_attrs.items()}
    poly = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(polys, crs="EPSG:4326"))
    line = gpd.GeoDataFrame(line_attrs, geometry=gpd.GeoSeries([shapely.LineString([(-114.6, 44.6), (-114.55, 44.62)])],
                                                               crs="EPSG:4326"))
    return poly, line


def write_crithab(root, gpkg: bool = False, upper: bool = True):
    """The download's two shapefiles, or one GeoPackage with both layers."""
    poly, line = crithab_frames(upper)
    if gpkg:
        poly.to_file(root / "crithab.gpkg", layer="CRITHAB_POLY", driver="GPKG")
        line.to_file(root / "crithab.gpkg", layer="CRITHAB_LINE", driver="GPKG")
    else:
        poly.to_file(root / "CRITHAB_POLY.shp")
        line.to_file(root / "CRITHAB_LINE.shp")
    return poly


GPKG_TABLE = """[[layers]]
role = "critical_habitat"
path = "crithab.gpkg"
layer = "CRITHAB_POLY"
"""


@pytest.fixture(params=["shapefile", "gpkg-lowercase"])
def world(request, tmp_path):
    if request.param == "shapefile":
        snippet = recipe("critical-habitat")  # as written
        poly = write_crithab(tmp_path)
    else:
        snippet = GPKG_TABLE
        poly = write_crithab(tmp_path, gpkg=True, upper=False)
    return write_world(tmp_path, SITES, "Idaho", RADIUS, snippet), poly


def test_overlap_excludes_naming_the_species_and_the_setback_is_measured(world):
    config, poly = world
    sites = screen(config)
    assert list(sites["verdict"])[0] == "excluded"
    reasons = sites["reasons"].iloc[0]
    assert "excluded by critical_habitat_overlap: overlap with designated critical habitat is" in reasons
    assert "Bull Trout" in reasons
    habitat = poly.to_crs(sites.crs).geometry.to_numpy()
    expect_overlap = [shapely.intersection(shapely.union_all(habitat), fp).area / fp.area for fp in sites.geometry]
    np.testing.assert_allclose(sites["m_critical_habitat_overlap"], expect_overlap, rtol=0, atol=1e-9)
    expect_d = np.array([shapely.distance(habitat, fp).min() for fp in sites.geometry])
    got_d = sites["m_critical_habitat_setback"].to_numpy(dtype=float)
    np.testing.assert_allclose(got_d, expect_d, rtol=0, atol=0.01)
    assert 1000 < got_d[1] < 5000 and sites["f_critical_habitat_setback"].iloc[1].startswith("Canada Lynx")
    rule = tomllib.loads(PROFILE.read_text(encoding="utf-8"))["criteria"]["critical_habitat_setback"]
    xs, ys = zip(*rule["transform"]["points"])
    np.testing.assert_allclose(sites["s_critical_habitat_setback"].iloc[1:], np.interp(got_d[1:], xs, ys), atol=1e-12)


def test_the_words_and_units_reach_explain(world):
    config, _ = world
    screen(config)
    result = run_cli(["explain", str(config.parent / "out"), "5001", "--json"])
    assert result.exit_code == 0, result.output
    crits = {c["name"]: c for c in json.loads(result.stdout)["criteria"]}
    setback = crits["critical_habitat_setback"]
    assert setback["unit"] == "m" and setback["measurement_text"].endswith(" m") and setback["evaluated"]
    assert setback["feature"].startswith("Canada Lynx")
    assert crits["critical_habitat_overlap"]["unit"] == "fraction"
    assert crits["critical_habitat_overlap"]["measurement_text"] == "0 %"


def test_a_weighted_setback_scores(tmp_path):
    """Given a weight (in a copy of the profile), the setback makes the score."""
    write_crithab(tmp_path)
    (tmp_path / "p.toml").write_text(profile_with("critical_habitat_setback", "critical_habitat_overlap"),
                                     encoding="utf-8")
    config = write_world(tmp_path, SITES, "Idaho", RADIUS, recipe("critical-habitat"), profile="p.toml", base=False)
    sites = screen(config)
    s = sites["s_critical_habitat_setback"].to_numpy(dtype=float)
    assert sites["verdict"].iloc[0] == "excluded"
    np.testing.assert_allclose(sites["score"].iloc[1:], 100 * s[1:], atol=1e-9)


def test_a_file_of_both_layers_without_a_layer_name_is_refused_listing_them(tmp_path):
    write_crithab(tmp_path, gpkg=True)
    snippet = GPKG_TABLE.replace('layer = "CRITHAB_POLY"\n', "")
    config = write_world(tmp_path, SITES, "Idaho", RADIUS, snippet)
    out = tmp_path / "out"
    result = run_cli(["screen", "--config", str(config), "--out", str(out), "--no-map", "--no-report"])
    assert_error(result, ["crithab.gpkg", "CRITHAB_POLY", "CRITHAB_LINE"], 1)
    assert_nothing_left(out)
