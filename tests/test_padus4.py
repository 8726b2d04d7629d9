"""Issue 11 item 1: PAD-US 4.x as published — the FileGDB (a ``.gdb`` folder) and the GeoPackage with
their real layer names, Fee and Designation read together as their union, GAP_Sts as text,
curved and MultiSurface geometries, the state field as the coverage; and FileGDB folders as inputs.

Expected shares are computed here with shapely from the fixture's own geometries (EPSG:5070)."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import pubschema as ps
import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.errors import LayerConfigError
from sitescreen.inputs.check import file_sha256
from sitescreen.inputs.schemas import known_schemas, schema_from_dict

ALBERS = "EPSG:5070"
RADIUS = 1000.0  # the tiny world's footprints: 1 km around each record


def site_xy() -> dict[str, tuple[float, float]]:
    pts = gpd.GeoSeries([shapely.Point(x, y) for *_, x, y in tw.SITES], crs="EPSG:4326").to_crs(ALBERS)
    return {sid: (p.x, p.y) for (sid, *_), p in zip(tw.SITES, pts)}


def footprints() -> dict[str, shapely.Geometry]:
    return {sid: shapely.Point(x, y).buffer(RADIUS, quad_segs=16) for sid, (x, y) in site_xy().items()}


def padus_file(path):
    """PADUS4_0Fee, …Designation, …Proclamation and the Combined layer around the tiny world's sites:

    * 1001: Fee (GAP 3) west of the site's centre, a wilderness Designation (GAP 1) over the strip
      ±500 m of the centre: they overlap, the union covers the footprint west of +500 m;
    * 1002: inside a Fee CurvePolygon (a circle of 3 km: a true arc, not segments);
    * 1003: the east half under the polygon part of a Fee MultiSurface (whose other part is curved);
    * 1004: only a Proclamation boundary (and the Combined layer) over it: neither is read.
    Returns the linear geometries the shares are computed from."""
    xy = site_xy()
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = (xy[s] for s in ("1001", "1002", "1003", "1004"))
    fee_west = shapely.box(x1 - 5000, y1 - 5000, x1, y1 + 5000)
    strip = shapely.box(x1 - 500, y1 - 5000, x1 + 500, y1 + 5000)
    east = shapely.box(x3, y3 - 5000, x3 + 5000, y3 + 5000)
    big = shapely.box(x4 - 20000, y4 - 20000, x4 + 20000, y4 + 20000)
    fee = [ps.polygon_wkb(fee_west), ps.circle_wkb(x2, y2, 3000.0),
           ps.multisurface_wkb(ps.polygon_wkb(east), ps.circle_wkb(x3 + 20000, y3, 1000.0))]
    ps.write_layer(path, "PADUS4_0Fee", fee, [ps.padus_record("Test National Forest", 3, "NF")] * 3)
    ps.write_layer(path, "PADUS4_0Designation", [ps.polygon_wkb(strip)],
                   [ps.padus_record("Test Wilderness", 1, "WA")])
    ps.write_layer(path, "PADUS4_0Proclamation", [ps.polygon_wkb(big)], [ps.padus_record("Test Proclamation", 4, "NF")])
    ps.write_layer(path, "PADUS4_0Combined_Proclamation_Marine_Fee_Designation_Easement", [ps.polygon_wkb(big)],
                   [ps.padus_record("Test Combined", 4, "NF")])
    return {"fee": [fee_west, shapely.Point(x2, y2).buffer(3000.0, quad_segs=64), east], "designation": [strip],
            "proclamation": big}


def screen_with(tmp_path, federal: str):
    w = tw.build(tmp_path / "w")
    w.layers[1] = f"federal_land={federal}"
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    out = pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    return w, out, json.loads((w.out / "manifest.json").read_text())


@pytest.mark.parametrize("suffix", [".gdb", ".gpkg"])
def test_fee_and_designation_give_the_union_share_and_gap_exclusions(tmp_path, suffix):
    path = tmp_path / f"PADUS4_0_State_ID{suffix}"
    geoms = padus_file(path)
    assert pyogrio.read_info(path, layer="PADUS4_0Fee")["dtypes"][list(ps.PADUS_FIELDS).index("GAP_Sts")] == "object"
    w, out, manifest = screen_with(tmp_path, str(path))
    land = shapely.union_all(geoms["fee"] + geoms["designation"])
    for sid, fp in footprints().items():
        want = shapely.area(fp & land) / shapely.area(fp)
        assert out.loc[sid, "m_federal_land"] == pytest.approx(want, abs=2e-4), sid
    # the union, not the sum: 1001's Fee half and its wilderness strip overlap over 500 m
    fp1 = footprints()["1001"]
    summed = sum(shapely.area(fp1 & g) for g in (geoms["fee"][0], geoms["designation"][0])) / shapely.area(fp1)
    assert summed > out.loc["1001", "m_federal_land"] + 0.1
    assert out.loc["1002", "m_federal_land"] == pytest.approx(1.0, abs=1e-9)  # inside the arc
    assert out.loc["1003", "m_federal_land"] == pytest.approx(0.5, abs=2e-4)  # the MultiSurface's polygon
    assert out.loc["1004", "m_federal_land"] == 0.0  # Proclamation and Combined are not read
    # GAP 1 (the wilderness designation) excludes; GAP 3 national forest land does not
    assert out.loc["1001", "verdict"] == "excluded" and "protected_overlap" in out.loc["1001", "reasons"]
    assert out.loc["1001", "m_protected_overlap"] == pytest.approx(
        shapely.area(fp1 & geoms["designation"][0]) / shapely.area(fp1), abs=1e-6)
    assert (out.loc[["1002", "1003"], "m_protected_overlap"] == 0.0).all()
    assert (out.loc[["1002", "1003"], "verdict"] != "excluded").all()
    entry = next(e for e in manifest["inputs"] if e["role"] == "federal_land")
    assert entry["name"] == "PADUS4_0Fee + PADUS4_0Designation" and entry["schema"] == "padus"
    assert entry["features_in_file"] == 4 and entry["coverage"].startswith("states: ID")
    assert entry["sha256"] == file_sha256(path)


def test_a_named_layer_of_a_filegdb_is_read_alone(tmp_path):
    path = tmp_path / "PADUS4_0.gdb"
    geoms = padus_file(path)
    _, out, manifest = screen_with(tmp_path, f"{path}:PADUS4_0Designation")
    fp = footprints()["1001"]
    assert out.loc["1001", "m_federal_land"] == pytest.approx(shapely.area(fp & geoms["designation"][0]) / shapely.area(fp), abs=1e-6)
    assert next(e for e in manifest["inputs"] if e["role"] == "federal_land")["layer"] == "PADUS4_0Designation"


def test_state_field_is_the_coverage_of_the_fee_and_designation_layers(tmp_path):
    """A record in Montana off an Idaho extract's polygons gets no data, not 0 %."""
    path = tmp_path / "PADUS4_0_State_ID.gdb"
    padus_file(path)
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[3]["state_or_province"] = "Montana"  # 1004: under the Proclamation only, i.e. off the extract's land
    tw.write_csv(w.sites, rows)
    w.layers[1] = f"federal_land={path}"
    assert run_cli(w.args()).exit_code == 0
    out = pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    assert np.isnan(out.loc["1004", "m_federal_land"]) and out.loc["1004", "verdict"] == "incomplete"


def test_published_fields_are_mapped(tmp_path):
    from pyproj import CRS
    from sitescreen.inputs.load import load_vector
    from sitescreen.inputs.spec import LayerSpec
    path = tmp_path / "PADUS4_1_State_ID.gdb"
    ps.write_layer(path, "PADUS4_1Fee_State_ID", [ps.polygon_wkb(shapely.box(0, 0, 1000, 1000))],
                   [ps.padus_record("Test State Park", 2, "SP", mang="STAT", name="SPR")])
    ps.write_layer(path, "PADUS4_1Designation_State_ID", [ps.polygon_wkb(shapely.box(0, 0, 500, 500))],
                   [ps.padus_record("Test Research Natural Area", 1, "RNA")])
    lyr = load_vector(LayerSpec(role="federal_land", path=path), CRS(ALBERS))
    assert lyr.spec.layers == ("PADUS4_1Fee_State_ID", "PADUS4_1Designation_State_ID")
    got = lyr.gdf.set_index("designation")
    assert got.loc["state_park", ["gap_status", "manager_type", "owner_type", "public_access", "state", "agency"]].tolist() \
        == [2, "STAT", "STAT", "OA", "ID", "SPR"]
    assert got.loc["research_natural_area", "gap_status"] == 1 and got["gap_status"].dtype == "Int64"


@pytest.mark.parametrize("names, expected", [
    (["PADUS3_0Fee", "PADUS3_0Designation", "PADUS3_0Easement"], ["PADUS3_0Fee", "PADUS3_0Designation"]),
    (["PADUS4_0Combined_Proclamation_Marine_Fee_Designation_Easement", "PADUS4_0Marine", "PADUS4_0Fee"], ["PADUS4_0Fee"]),
    (["padus4_1fee_state_mt"], ["padus4_1fee_state_mt"]),
    (["PADUS4_0Proclamation", "PADUS4_0Easement"], []),
])
def test_padus_definition_names_fee_and_designation_in_every_spelling(names, expected):
    assert known_schemas()["padus"].named_layers(names) == expected


@pytest.mark.parametrize("table, words", [
    ({"fields": {"name": "n"}, "layers": ["PADUS(\\d"]}, ["layers", "'PADUS(\\\\d'", "not a layer-name pattern"]),
    ({"fields": {"name": "n"}, "optional": ["owner"]}, ["optional names 'owner'", "fields: name"]),
])
def test_bad_layer_patterns_and_optional_fields_are_named(table, words):
    with pytest.raises(LayerConfigError) as exc:
        schema_from_dict(table, "run.toml: layers[0].definition")
    assert all(w in str(exc.value) for w in words), str(exc.value)


# --------------------------------------------------------------------------------------------
# FileGDB folders as inputs


def test_folder_that_is_not_a_filegdb_is_refused_by_name(tmp_path):
    w = tw.build(tmp_path / "w")
    folder = tmp_path / "downloads"
    folder.mkdir()
    w.layers[1] = f"federal_land={folder}"
    msg = assert_error(run_cli(w.args()), [str(folder), "is a directory", "expected a file", "FileGDB", ".gdb"], 1)
    assert "Traceback" not in msg
    assert_nothing_left(w.out)


def test_gdb_folder_without_its_catalog_is_refused(tmp_path):
    w = tw.build(tmp_path / "w")
    folder = tmp_path / "PADUS4_0.gdb"
    folder.mkdir()
    (folder / "readme.txt").write_text("half a copy")
    w.layers[1] = f"federal_land={folder}:PADUS4_0Fee"
    assert_error(run_cli(w.args()), [str(folder), "not a FileGDB", "a00000001.gdbtable"], 1)
    assert_nothing_left(w.out)


def test_sites_from_a_filegdb_and_a_config_layer_path(tmp_path):
    """A .gdb folder is a sites source and a [[layers]] path as well as a --layer."""
    path = tmp_path / "PADUS4_0.gdb"
    padus_file(path)
    w = tw.build(tmp_path / "w")
    fps = footprints()
    sites = tmp_path / "claims.gdb"
    ps.write_layer(sites, "claims", [ps.polygon_wkb(fps[s]) for s in fps],
                   [{"site_id": s, "name": f"Claim {s} (synthetic)"} for s in fps], geometry_type="Polygon")
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', f'path = "{sites}"\nlayer = "claims"')
                   .replace('path = "federal.gpkg"\nlayer = "padus"', f'path = "{path}"'))
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    out = pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    assert sorted(out.index) == sorted(fps)
    assert out.loc["1002", "m_federal_land"] == pytest.approx(1.0, abs=1e-9)


def test_filegdb_hash_changes_when_a_table_inside_changes(tmp_path):
    path = tmp_path / "x.gdb"
    ps.write_layer(path, "PADUS4_0Fee", [ps.polygon_wkb(shapely.box(0, 0, 1, 1))], [ps.padus_record("A", 3, "NF")])
    before = file_sha256(path)
    ps.write_layer(path, "PADUS4_0Designation", [ps.polygon_wkb(shapely.box(0, 0, 1, 1))], [ps.padus_record("B", 1, "WA")])
    assert file_sha256(path) != before


def test_curve_linearisation_is_close_to_the_arc(tmp_path):
    """GDAL's segments of a 3 km circle: its area within 0.1 % of π r² (the arc is not dropped or boxed)."""
    from sitescreen.inputs.read import read_table
    from sitescreen.inputs.spec import LayerSpec
    path = tmp_path / "c.gpkg"
    ps.write_layer(path, "PADUS4_0Fee", [ps.circle_wkb(0.0, 0.0, 3000.0)], [ps.padus_record("Arc", 3, "NF")])
    gdf, _, _ = read_table(LayerSpec(role="federal_land", path=path))
    assert gdf.geometry.iloc[0].area == pytest.approx(math.pi * 3000.0 ** 2, rel=1e-3)


def test_config_names_several_layers_and_the_record_repeats_them(tmp_path):
    """layer = [...] in a [[layers]] table reads those layers as one; `sitescreen verify` re-runs it."""
    path = tmp_path / "PADUS4_0.gdb"
    geoms = padus_file(path)
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG.replace('path = "federal.gpkg"\nlayer = "padus"',
                                     f'path = "{path}"\nlayer = ["PADUS4_0Fee", "PADUS4_0Proclamation"]'))
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    out = pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    assert out.loc["1004", "m_federal_land"] == 1.0  # under the Proclamation boundary, named here
    land = shapely.union_all(geoms["fee"] + [geoms["proclamation"]])
    for sid, fp in footprints().items():
        assert out.loc[sid, "m_federal_land"] == pytest.approx(shapely.area(fp & land) / shapely.area(fp), abs=2e-4)
    run = json.loads((w.out / "manifest.json").read_text())["run"]
    assert next(lyr for lyr in run["layers"] if lyr["role"] == "federal_land")["layer"] == ["PADUS4_0Fee", "PADUS4_0Proclamation"]
    v = run_cli(["verify", str(w.out)])
    assert v.exit_code == 0, v.output
    # the map of the finished run redraws the layers the run read, not those a definition would pick
    from sitescreen.outputs.maplayers import display_layers
    from sitescreen.record.manifest import read_record
    record = read_record(w.out / "manifest.json")
    entry = next(e for e in record.inputs if e.role == "federal_land")
    assert entry.layers == ("PADUS4_0Fee", "PADUS4_0Proclamation") and entry.layer is None
    sites = gpd.read_file(w.out / "sites.gpkg", layer="sites")
    drawn = next(d for d in display_layers(record, sites) if d.role == "federal_land")
    assert sorted(drawn.gdf["name"]) == sorted([f"{n} (synthetic)" for n in ["Test National Forest"] * 3 + ["Test Proclamation"]])
