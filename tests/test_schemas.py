"""Known layer definitions: detection by field names, canonical fields, value recoding, errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import CRS
from shapely.geometry import box

from sitescreen.errors import LayerConfigError
from sitescreen.inputs.load import load_vector
from sitescreen.inputs.spec import LayerSpec, layer_from_config
from sitescreen.rules.profile import load_profile
from sitescreen.inputs.schemas import detect_schema, generic_schema, known_schemas, schema_from_dict

ALBERS = CRS.from_epsg(5070)

# Field lists as the published datasets spell them
PADUS_FULL = ["Category", "Own_Type", "Own_Name", "Loc_Own", "Mang_Type", "Mang_Name", "Loc_Mang", "Des_Tp",
              "Loc_Ds", "Unit_Nm", "Loc_Nm", "State_Nm", "Agg_Src", "GIS_Src", "Src_Date", "GIS_Acres",
              "Pub_Access", "GAP_Sts", "GAPCdSrc", "GAPCdDt", "IUCN_Cat"]
PADUS_UNITS = ["name", "agency", "acres", "state"]
NPS = ["UNIT_CODE", "UNIT_NAME", "STATE", "REGION", "GNIS_ID", "UNIT_TYPE", "ESTBLSHD"]
WILDERNESS = ["AREA", "PERIMETER", "FEDLANP020", "FEDLANP021", "FEATURE1", "FEATURE2", "FEATURE3", "AGBUR",
              "URL", "NAME1", "NAME2", "NAME3", "STATE", "STATE_FIPS"]
DEPOSITS = ["ms_uri", "source_id", "record_id", "country", "state_or_province", "location", "crs",
            "other_names", "site_name", "commodity", "deposit_type"]
WBD8 = ["tnmid", "metasourceid", "loaddate", "areaacres", "areasqkm", "states", "huc8", "name", "globalid"]


@pytest.mark.parametrize("columns, expected", [
    (PADUS_FULL, "padus"),
    (PADUS_UNITS, "padus-units"),
    (NPS, "nps"),
    (WILDERNESS, "wilderness"),
    (DEPOSITS, "usgs-deposits"),
    (WBD8, "wbd"),
    (["huc12", "name"], "wbd"),
    (["HUC10", "NAME"], "wbd"),
    (["huc2", "name", "shape_Area"], "wbd"),
    ([c.lower() for c in PADUS_FULL], "padus"),  # field names match case-insensitively
])
def test_detect_known_schema(columns, expected):
    found = detect_schema(columns, "file")
    assert found is not None and found.name == expected


@pytest.mark.parametrize("columns", [["foo", "bar"], ["name", "agency"], ["UNIT_NAME"], [], ["NAME1", "AGBUR"]])
def test_unknown_fields_detect_nothing(columns):
    assert detect_schema(columns, "file") is None


def test_every_known_schema_is_shipped():
    assert set(known_schemas()) == {"padus", "padus-units", "nps", "wilderness", "usgs-deposits", "wbd",
                                  "nwi", "crithab", "nhd_flowline", "nhd_waterbody", "bull_trout_patches",
                                  "census-aiannh", "bia-lar", "tiger-roads", "cejst", "aqueduct", "blm-mlrs-claims"}


# ------------------------------------------------------------------------------------------
# full PAD-US, read from a small GeoPackage


@pytest.fixture
def padus_gpkg(tmp_path) -> Path:
    rows = [
        # Unit_Nm, Mang_Type, Mang_Name, Des_Tp, GAP_Sts
        ("Frank Church-River of No Return Wilderness", "FED", "USFS", "WA", "1"),
        ("Craters of the Moon National Monument", "FED", "NPS", "NM", "2"),
        ("Salmon-Challis National Forest", "FED", "USFS", "NF", "3"),
        ("Idaho Endowment Land", "STAT", "SLB", "SLD", "4"),
        ("Odd designation", "FED", "BLM", "XYZ", "3"),
    ]
    data = {c: [""] * len(rows) for c in PADUS_FULL}
    for k, (unit, mtype, mname, des, gap) in enumerate(rows):
        data["Unit_Nm"][k], data["Mang_Type"][k], data["Mang_Name"][k] = unit, mtype, mname
        data["Des_Tp"][k], data["GAP_Sts"][k] = des, gap
    data["GIS_Acres"] = [1000.0 * (k + 1) for k in range(len(rows))]
    geoms = [box(-1_400_000 + 10_000 * k, 2_600_000, -1_395_000 + 10_000 * k, 2_605_000) for k in range(len(rows))]
    path = tmp_path / "PADUS3_0_ID.gpkg"
    gpd.GeoDataFrame(data, geometry=geoms, crs=ALBERS).to_file(path, layer="PADUS3_0Combined_Proclamation_Marine_Fee_Designation_Easement")
    return path


def test_full_padus_gpkg_canonical_fields(padus_gpkg):
    spec = LayerSpec(role="federal_land", path=padus_gpkg,
                     layer="PADUS3_0Combined_Proclamation_Marine_Fee_Designation_Easement")
    lyr = load_vector(spec, ALBERS)
    assert lyr.schema.name == "padus"
    gdf = lyr.gdf.set_index("name")
    assert str(gdf["gap_status"].dtype) == "Int64"
    assert gdf["gap_status"].to_dict() == {
        "Frank Church-River of No Return Wilderness": 1, "Craters of the Moon National Monument": 2,
        "Salmon-Challis National Forest": 3, "Idaho Endowment Land": 4, "Odd designation": 3}
    # Des_Tp codes recoded to canonical designations; unknown codes keep the PAD-US code
    assert gdf["designation"].to_dict() == {
        "Frank Church-River of No Return Wilderness": "wilderness",
        "Craters of the Moon National Monument": "national_monument",
        "Salmon-Challis National Forest": "national_forest", "Idaho Endowment Land": "state_land",
        "Odd designation": "XYZ"}
    assert gdf["manager_type"].to_dict()["Idaho Endowment Land"] == "STAT"
    assert gdf["agency"].to_dict()["Frank Church-River of No Return Wilderness"] == "USFS"
    # the default profile's selections on these canonical fields
    p = load_profile("federal-safeguards")
    protected = p.selections["protected"].mask(lyr.gdf)
    federal = p.selections["federal"].mask(lyr.gdf)
    assert set(lyr.gdf.loc[protected, "name"]) == {"Frank Church-River of No Return Wilderness",
                                                   "Craters of the Moon National Monument"}
    assert "Idaho Endowment Land" not in set(lyr.gdf.loc[federal, "name"])
    assert len(lyr.gdf.loc[federal]) == 4


def test_where_filter_on_canonical_field(padus_gpkg):
    spec = LayerSpec(role="federal_land", path=padus_gpkg,
                     layer="PADUS3_0Combined_Proclamation_Marine_Fee_Designation_Easement",
                     where={"gap_status": (1, 2)})
    lyr = load_vector(spec, ALBERS)
    assert sorted(lyr.gdf["gap_status"].tolist()) == [1, 2]
    assert lyr.features_read == 5


def test_non_numeric_gap_status_is_an_error(tmp_path):
    data = {c: ["x"] for c in PADUS_FULL}
    data["GAP_Sts"] = ["one"]
    path = tmp_path / "p.gpkg"
    gpd.GeoDataFrame(data, geometry=[box(0, 0, 1000, 1000)], crs=ALBERS).to_file(path)
    with pytest.raises(LayerConfigError, match=r"field 'gap_status' has non-numeric values 'one'"):
        load_vector(LayerSpec(role="federal_land", path=path), ALBERS)


# ------------------------------------------------------------------------------------------
# the simplified management-unit schema (../shared/data/federal_lands)


def test_padus_units_recoding():
    schema = known_schemas()["padus-units"]
    df = pd.DataFrame({"name": ["Idaho Department of Lands", "Salmon Field Office", "Yellowstone National Park",
                                "Camas National Wildlife Refuge", "Department of Energy", "Nowhere"],
                       "agency": ["STA", "BLM", "NPS", "FWS", "OTHF", None], "acres": [1] * 6, "state": ["ID"] * 6})
    out = schema.canonical(df, "padus_ID.geojson")
    assert out["manager_type"].tolist() == ["STAT", "FED", "FED", "FED", "FED", "FED"]
    assert out["designation"].tolist() == ["state_land", "", "nps_unit", "wildlife_refuge", "", ""]
    assert out["agency"].tolist()[:5] == ["STA", "BLM", "NPS", "FWS", "OTHF"]


def test_nps_and_wilderness_constants():
    nps = known_schemas()["nps"].canonical(
        pd.DataFrame({"UNIT_CODE": ["YELL", "X"], "UNIT_NAME": ["Yellowstone National Park", "X"],
                      "UNIT_TYPE": ["National Park", "Something"]}), "nps.geojson")
    assert nps["designation"].tolist() == ["national_park", "nps_unit"]
    assert nps["agency"].tolist() == ["NPS", "NPS"] and nps["name"].tolist()[0] == "Yellowstone National Park"
    wild = known_schemas()["wilderness"].canonical(
        pd.DataFrame({"NAME1": ["Sawtooth Wilderness"], "AGBUR": ["FS"], "NAME2": ["Sawtooth NRA"],
                      "FEATURE1": ["Wilderness FS"]}), "wilderness.shp")
    assert wild.loc[0, "designation"] == "wilderness" and wild.loc[0, "gap_status"] == 1
    assert wild.loc[0, "name"] == "Sawtooth Wilderness"


def test_wbd_huc_at_any_level():
    schema = known_schemas()["wbd"]
    out = schema.canonical(pd.DataFrame({"HUC12": ["170602040101"], "Name": ["Agency Creek"]}), "wbd.gpkg")
    assert out.loc[0, "huc"] == "170602040101" and out.loc[0, "name"] == "Agency Creek"


# ------------------------------------------------------------------------------------------
# unrecognised files and given definitions


def test_unrecognised_schema_names_fields_and_how_to_define(tmp_path):
    path = tmp_path / "mystery.gpkg"
    gpd.GeoDataFrame({"zone_id": [1], "label_txt": ["a"]}, geometry=[box(0, 0, 1000, 1000)], crs=ALBERS).to_file(path)
    with pytest.raises(LayerConfigError) as err:
        load_vector(LayerSpec(role="protected", path=path), ALBERS)
    msg = str(err.value)
    assert str(path) in msg and "unrecognised protected layer" in msg
    assert "zone_id" in msg and "label_txt" in msg
    assert "definition" in msg and 'schema = "..."' in msg
    for name in known_schemas():
        assert name in msg


def test_custom_role_gets_generic_schema(tmp_path):
    path = tmp_path / "claims.gpkg"
    gpd.GeoDataFrame({"NAME": ["Claim 1"], "id": ["c1"]}, geometry=[box(0, 0, 1000, 1000)], crs=ALBERS).to_file(path)
    lyr = load_vector(LayerSpec(role="mining_claims", path=path), ALBERS)
    assert lyr.schema.name == "generic"
    assert lyr.gdf.loc[0, "name"] == "Claim 1" and lyr.gdf.loc[0, "record_id"] == "c1"
    s = generic_schema(["lon", "lat", "Name"], "wells")
    assert (s.lon, s.lat, s.wkt, s.fields["name"]) == ("lon", "lat", None, ("Name",))


def test_inline_definition_from_config(tmp_path):
    path = tmp_path / "mystery.gpkg"
    gpd.GeoDataFrame({"zone_id": [1, 2], "TITLE": ["Big Wild", "Tame"], "KIND": ["W", "T"]},
                     geometry=[box(0, 0, 1000, 1000), box(2000, 0, 3000, 1000)], crs=ALBERS).to_file(path)
    spec = layer_from_config({"role": "protected", "path": "mystery.gpkg",
                              "definition": {"fields": {"name": "TITLE"},
                                             "values": {"designation": {"from": "KIND", "table": {"W": "wilderness"},
                                                                        "default": "other"}}}},
                             tmp_path, "run.toml: layers[0]")
    lyr = load_vector(spec, ALBERS)
    assert lyr.gdf["name"].tolist() == ["Big Wild", "Tame"]
    assert lyr.gdf["designation"].tolist() == ["wilderness", "other"]


def test_definition_with_missing_field_is_named(tmp_path):
    path = tmp_path / "mystery.gpkg"
    gpd.GeoDataFrame({"zone_id": [1]}, geometry=[box(0, 0, 1000, 1000)], crs=ALBERS).to_file(path)
    spec = layer_from_config({"role": "protected", "path": "mystery.gpkg", "definition": {"fields": {"name": "TITLE"}}},
                             tmp_path, "run.toml: layers[0]")
    with pytest.raises(LayerConfigError, match=r"field 'TITLE' \(mapped to 'name'\) not found; fields present: zone_id"):
        load_vector(spec, ALBERS)


@pytest.mark.parametrize("data, message", [
    ({"coverage": "everywhere"}, "coverage 'everywhere' is not one of global, features, states, declared"),
    ({"colour": "red"}, r"unknown key\(s\) colour"),
    ({"types": {"gap_status": "integer"}}, "types.gap_status = 'integer' is not one of int, float, str"),
    ({"values": {"x": {"table": {}}}}, "values.x needs 'from'"),
    ({"geometry": {"lon": "x"}}, "geometry needs both 'lon' and 'lat'"),
])
def test_definition_validation(data, message):
    with pytest.raises(LayerConfigError, match=message):
        schema_from_dict(data, "def")


def test_unknown_named_schema_lists_known(tmp_path):
    with pytest.raises(LayerConfigError, match="schema 'padus4' is not a known layer definition; known: "):
        layer_from_config({"role": "federal_land", "path": "x.gpkg", "schema": "padus4"}, tmp_path, "run.toml")


def test_canonical_does_not_mutate_input():
    df = pd.DataFrame({"name": ["a"], "agency": ["STA"], "acres": [1], "state": ["ID"]})
    before = df.copy()
    known_schemas()["padus-units"].canonical(df, "f")
    pd.testing.assert_frame_equal(df, before)
    assert np.array_equal(df.columns, before.columns)


def test_padus_units_othf_manager_type_comes_from_the_unit_name():
    """OTHF is "other" in the management-unit file, not "other federal": a state body coded OTHF is
    state land, a federal department federal, an unnamed one unknown (never federal)."""
    schema = known_schemas()["padus-units"]
    names = ["Idaho Department of Lands", "State of Idaho", "Idaho Military Division", "Penitentiary Os",
             "Department of Energy", "U.S. Army Corps", "Split", "Idaho Department of Lands"]
    df = pd.DataFrame({"name": names, "agency": ["OTHF"] * 7 + ["BLM"], "acres": [1] * 8, "state": ["ID"] * 8})
    out = schema.canonical(df, "padus_ID.geojson")
    assert out["manager_type"].tolist() == ["STAT", "STAT", "STAT", "STAT", "FED", "FED", "UNK", "FED"]


@pytest.mark.parametrize("when, message", [
    ([{"field": "name", "value": "X"}], r"values.t.when\[0\] needs field, pattern and value"),
    ([{"field": "name", "pattern": "(", "value": "X"}], r"values.t.when\[0\].pattern '\(' is not a regular expression"),
    ("name", r"values.t.when must be a list of tables"),
])
def test_value_when_rules_are_checked(when, message):
    with pytest.raises(LayerConfigError, match=message):
        schema_from_dict({"name": "d", "values": {"t": {"from": "K", "when": when}}}, "d.toml")


def test_value_when_rule_names_a_missing_field():
    schema = schema_from_dict({"name": "d", "values": {"t": {"from": "K", "when": [
        {"field": "NAME", "pattern": "a", "value": "X"}]}}}, "d.toml")
    with pytest.raises(LayerConfigError, match=r"d.gpkg: field 'NAME' \(deciding 't'\) not found"):
        schema.canonical(pd.DataFrame({"K": ["1"]}), "d.gpkg")
