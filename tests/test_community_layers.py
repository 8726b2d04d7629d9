"""Tribal lands, disadvantaged communities (CEJST), water stress (WRI Aqueduct 4.0) and roads (TIGER)
screened with the default profile, from fixtures the tests write in the published schemas
(issue 11 items 6, 7, 11). Independent numbers are computed here with shapely and pyproj."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, box

from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.inputs.schemas import detect_schema
from sitescreen.rules.caps import floor_codes
from test_mapping import decode_uvarints

ALBERS = "EPSG:5070"
X0, Y0 = -1_450_000.0, 2_700_000.0  # central Idaho in CONUS Albers
TRIBE = box(X0, Y0, X0 + 5000, Y0 + 5000)
SITES = {  # id → footprint (1 km squares)
    "ON": box(X0 + 1000, Y0 + 1000, X0 + 2000, Y0 + 2000),         # on tribal land
    "NEAR": box(X0 + 5500, Y0 + 1000, X0 + 6500, Y0 + 2000),       # 500 m from it
    "FAR": box(X0 + 8000, Y0 + 1000, X0 + 9000, Y0 + 2000),        # 3 km from it
    "TRACT": box(X0 + 20000, Y0 + 1000, X0 + 21000, Y0 + 2000),    # in a disadvantaged tract
    "DRY": box(X0 + 30000, Y0 + 20000, X0 + 31000, Y0 + 21000),    # in a basin without water-stress data
    "SPLIT": box(X0 + 39700, Y0 + 1000, X0 + 40700, Y0 + 2000),    # 30 % in basin A, 70 % in basin B
}
BASINS = [  # pfaf_id, bws_score, bws_cat, footprint
    (781001, 1.0, 1, box(X0 - 10000, Y0 - 10000, X0 + 40000, Y0 + 15000)),
    (781002, 4.0, 4, box(X0 + 40000, Y0 - 10000, X0 + 60000, Y0 + 30000)),
    (781003, -9999.0, -9999, box(X0 + 28000, Y0 + 15000, X0 + 34000, Y0 + 26000)),
]
ROAD = LineString([(X0 - 10000, Y0 - 3000), (X0 + 60000, Y0 - 3000), (X0 + 60000, Y0 + 25000)])


def _albers(geoms) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=ALBERS)


def write_world(d):
    """Sites, protected and federal land, and the four new layers in their published schemas."""
    gpd.GeoDataFrame({"site_id": list(SITES), "name": [f"claim {k}" for k in SITES]},
                     geometry=_albers(SITES.values())).to_file(d / "claims.gpkg")
    gpd.GeoDataFrame({"NAME1": ["Far Wilderness"], "FEATURE1": ["Wilderness FS"], "AGBUR": ["FS"], "NAME2": [""]},
                     geometry=_albers([box(X0 + 10000, Y0 + 40000, X0 + 12000, Y0 + 42000)])).to_file(d / "wild.gpkg")
    gpd.GeoDataFrame({"name": ["Challis Field Office"], "agency": ["BLM"], "acres": [1.0], "state": ["ID"]},
                     geometry=_albers([box(X0 - 20000, Y0 - 20000, X0 + 70000, Y0 + 35000)])).to_file(d / "land.gpkg")
    # Census cartographic boundary AIANNH, as published: Shapefile in NAD83 (EPSG:4269)
    gpd.GeoDataFrame({"AIANNHCE": ["0735"], "AIANNHNS": ["01855419"], "AFFGEOID": ["2500000US0735"],
                      "GEOID": ["0735"], "NAME": ["Coeur d'Alene"], "LSAD": ["R"], "ALAND": [1], "AWATER": [0]},
                     geometry=_albers([TRIBE]).to_crs("EPSG:4269")).to_file(d / "cb_2018_us_aiannh_500k.shp")
    # CEJST 1.0 shapefile spelling: GEOID10, SN_C 1/0, in WGS 84
    tracts = [box(X0 + 15000, Y0 - 10000, X0 + 25000, Y0 + 15000),
              box(X0 - 15000, Y0 - 15000, X0 + 15000, Y0 + 35000), box(X0 + 25000, Y0 - 15000, X0 + 65000, Y0 + 35000)]
    gpd.GeoDataFrame({"GEOID10": ["16049950100", "16049950200", "16049950300"], "SF": ["Idaho"] * 3,
                      "CF": ["Idaho County"] * 3, "SN_C": [1, 0, 0]},
                     geometry=_albers(tracts).to_crs("EPSG:4326")).to_file(d / "usa.shp")
    # Aqueduct 4.0 baseline_annual layer of a GeoPackage, in WGS 84
    gpd.GeoDataFrame({"pfaf_id": [b[0] for b in BASINS], "bws_raw": [0.1, 0.9, -9999.0],
                      "bws_score": [b[1] for b in BASINS], "bws_cat": [b[2] for b in BASINS],
                      "bws_label": ["Low (<10%)", "Extremely High (>80%)", "No Data"], "gid_0": ["USA"] * 3},
                     geometry=_albers([b[3] for b in BASINS]).to_crs("EPSG:4326")
                     ).to_file(d / "aqueduct40.gpkg", layer="baseline_annual")
    gpd.GeoDataFrame({"LINEARID": ["1104475215011"], "FULLNAME": ["US Hwy 95"], "RTTYP": ["U"], "MTFCC": ["S1200"]},
                     geometry=_albers([ROAD]).to_crs("EPSG:4269")).to_file(d / "tl_2023_16_prisecroads.shp")
    gpd.GeoDataFrame({"name": ["roads extract"]},
                     geometry=_albers([box(X0 - 30000, Y0 - 30000, X0 + 80000, Y0 + 50000)])).to_file(d / "roads_area.gpkg")


BASE = """\
[sites]
path = "claims.gpkg"
[[layers]]
role = "protected"
path = "wild.gpkg"
[[layers]]
role = "federal_land"
path = "land.gpkg"
"""
COMMUNITY = BASE + """\
[[layers]]
role = "tribal_lands"
path = "cb_2018_us_aiannh_500k.shp"
[[layers]]
role = "community"
path = "usa.shp"
[[layers]]
role = "water_stress"
path = "aqueduct40.gpkg"
[[layers]]
role = "roads"
path = "tl_2023_16_prisecroads.shp"
coverage = "roads_area.gpkg"
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("community")
    write_world(d)
    out = {}
    for name, text in (("base", BASE), ("community", COMMUNITY)):
        (d / f"{name}.toml").write_text(text, encoding="utf-8")
        res = run_cli(["screen", "--config", str(d / f"{name}.toml"), "--out", str(d / name)])
        assert res.exit_code == 0, res.output
        out[name] = d / name
    out["root"] = d
    return out


def _sites(folder) -> pd.DataFrame:
    return gpd.read_file(folder / "sites.gpkg", layer="sites").set_index("site_id")


def _manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_every_layer_is_recognised_by_its_definition(runs):
    inputs = {e["role"]: e for e in _manifest(runs["community"])["inputs"]}
    assert {r: inputs[r]["schema"] for r in ("tribal_lands", "community", "water_stress", "roads")} == {
        "tribal_lands": "census-aiannh", "community": "cejst", "water_stress": "aqueduct", "roads": "tiger-roads"}
    crit = {c["name"]: c for c in _manifest(runs["community"])["criteria"]}
    assert all(crit[n]["evaluated"] for n in ("tribal_lands", "community_disadvantaged", "road_distance", "water_stress"))
    assert crit["tribal_lands"]["cap"] == {"verdict": "review", "condition": "< 1000"}
    assert crit["community_disadvantaged"]["cap"] == {"verdict": "review", "condition": "> 0"}
    base = {c["name"]: c for c in _manifest(runs["base"])["criteria"]}
    assert not base["tribal_lands"]["evaluated"] and "cap" in base["tribal_lands"]


def test_caps_lower_only_the_sites_where_they_hold_and_never_a_score(runs):
    base, com = _sites(runs["base"]), _sites(runs["community"])
    assert (base["verdict"] == "favorable").all()  # the fixture: every site would be favorable
    np.testing.assert_array_equal(com["score"].to_numpy(), base.loc[com.index, "score"].to_numpy())
    assert com["verdict"].to_dict() == {"ON": "review", "NEAR": "review", "FAR": "favorable", "TRACT": "review",
                                        "DRY": "favorable", "SPLIT": "favorable"}
    tribe = gpd.read_file(runs["root"] / "cb_2018_us_aiannh_500k.shp").to_crs(ALBERS).geometry.iloc[0]
    fps = _albers(SITES.values())
    np.testing.assert_allclose(com.loc[list(SITES), "m_tribal_lands"].to_numpy()[:3],
                               shapely.distance(fps.to_numpy()[:3], tribe), atol=0.01)
    assert com.loc["NEAR", "reasons"].startswith(
        "review required by tribal_lands: distance to tribal land is 500 m (at most review if < 1,000 m) "
        "(Coeur d'Alene, layer cb_2018_us_aiannh_500k) — safeguard: Tribal lands: government-to-government consultation")
    assert "review required by community_disadvantaged" in com.loc["TRACT", "reasons"]
    assert "review required" not in com.loc["FAR", "reasons"]


def test_water_stress_is_the_area_weighted_score_and_minus_9999_is_no_data(runs):
    com = _sites(runs["community"])
    basins = gpd.read_file(runs["root"] / "aqueduct40.gpkg", layer="baseline_annual").to_crs(ALBERS)
    fp = SITES["SPLIT"]
    areas = shapely.area(shapely.intersection(fp, basins.geometry.to_numpy()))
    keep = basins["bws_score"].to_numpy() > -9000
    expected = float((areas[keep] * basins["bws_score"].to_numpy()[keep]).sum() / areas[keep].sum())
    assert abs(expected - 3.1) < 0.01  # 30 % at 1.0, 70 % at 4.0 (a fixture check)
    assert com.loc["SPLIT", "m_water_stress"] == pytest.approx(expected, rel=1e-6)
    assert com.loc["ON", "m_water_stress"] == pytest.approx(1.0)
    assert np.isnan(com.loc["DRY", "m_water_stress"]) and np.isnan(com.loc["DRY", "s_water_stress"])
    # the transform [[0, 1], [2, 0.6], [4, 0.1], [5, 0]], by hand
    assert com.loc["SPLIT", "s_water_stress"] == pytest.approx(0.6 + (expected - 2) / 2 * (0.1 - 0.6), rel=1e-6)


def test_road_distance_agrees_with_shapely(runs):
    com = _sites(runs["community"])
    road = gpd.read_file(runs["root"] / "tl_2023_16_prisecroads.shp").to_crs(ALBERS).geometry.iloc[0]
    expected = shapely.distance(_albers(SITES.values()).to_numpy(), road)
    np.testing.assert_allclose(com.loc[list(SITES), "m_road_distance"].to_numpy(), expected, atol=0.01)
    assert "US Hwy 95" in com.loc["ON", "f_road_distance"]


def test_explain_report_and_map_say_why(runs):
    res = run_cli(["explain", str(runs["community"]), "NEAR", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["verdict"] == "review" and "review required by tribal_lands" in info["reasons"]
    rules = {c["name"]: c["rule"] for c in info["criteria"]}
    assert rules["tribal_lands"] == "at most review if < 1,000 m"
    assert rules["community_disadvantaged"] == "at most review if > 0"
    report = (runs["community"] / "report.html").read_text(encoding="utf-8")
    assert "at most review if &lt; 1,000 m" in report and "review required by tribal_lands" in report
    html = (runs["community"] / "map.html").read_text(encoding="utf-8")
    assert "at most review if \\u003c 1,000 m" in html or "at most review if < 1,000 m" in html


def test_the_map_reweighting_carries_each_sites_cap(runs):
    html = (runs["community"] / "map.html").read_text(encoding="utf-8")
    start = html.index('id="sitescreen-reweight-data">') + len('id="sitescreen-reweight-data">')
    data = json.loads(html[start:html.index("</script>", start)])
    com = _sites(runs["community"])
    # the map's order is the payload's; the floor per site, from the sites' own measurements
    manifest = _manifest(runs["community"])

    class C:
        def __init__(self, c):
            self.name, self.evaluated, self.measure_column = c["name"], c["evaluated"], c["measure_column"]
            self.cap = type("Cap", (), c["cap"]) if c.get("cap") else None
    floor = decode_uvarints(data["cap"])
    assert len(floor) == len(com) and sorted(floor) == sorted(floor_codes([C(c) for c in manifest["criteria"]], com))
    assert sorted(floor) == [0, 0, 0, 1, 1, 1]
    base_html = (runs["base"] / "map.html").read_text(encoding="utf-8")
    assert '"cap"' not in base_html[base_html.index('id="sitescreen-reweight-data">'):]


def test_sensitivity_keeps_capped_sites_from_favorable(runs, tmp_path):
    res = run_cli(["sensitivity", str(runs["community"]), "--samples", "200"])
    assert res.exit_code == 0, res.output
    sens = pd.read_csv(runs["community"] / "sensitivity.csv", dtype={"site_id": str}).set_index("site_id")
    assert (sens.loc[["ON", "NEAR", "TRACT"], "p_favorable"] == 0).all()
    assert (sens.loc[["ON", "NEAR", "TRACT"], "p_review"] == 1).all()
    assert (sens.loc[["FAR", "SPLIT"], "p_favorable"] > 0).all()


def test_cejst_long_names_and_bad_flags(tmp_path):
    cols = ["GEOID10_TRACT", "Identified as disadvantaged", "geometry"]
    schema = detect_schema(cols, "x")
    assert schema is not None and schema.name == "cejst"
    frame = pd.DataFrame({"GEOID10_TRACT": ["1", "2"], "Identified as disadvantaged": [True, False]})
    assert schema.canonical(frame, "x")["disadvantaged"].tolist() == [1, 0]
    write_world(tmp_path)
    bad = gpd.read_file(tmp_path / "usa.shp")
    bad["SN_C"] = ["maybe", "0", "0"]
    bad.to_file(tmp_path / "usa.shp")
    (tmp_path / "run.toml").write_text(COMMUNITY, encoding="utf-8")
    res = run_cli(["screen", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out")])
    assert_error(res, ["usa.shp", "disadvantaged", "'maybe'"], 1)
    assert_nothing_left(tmp_path / "out")


def test_bia_lar_is_recognised():
    schema = detect_schema(["LARNAME", "geometry"], "x")
    assert schema is not None and schema.name == "bia-lar" and schema.coverage == "global"
