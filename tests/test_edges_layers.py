"""Issue 9, classes 4 (which layer of a multi-layer source) and 5 (coverage is never a bounding box).

Failures go through the CLI catalogue (one line ``Error: …``, nothing left behind); the inputs that
must run are ordinary tests whose expected numbers are derived with shapely / pyproj directly.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine

import tinyworld as tw
from edgecases import Catalogue, run_case, run_cli
from sitescreen.run.config import config_from_dict
from sitescreen.measure.coverage import MIN_COVERAGE
from sitescreen.measure.criteria import Inputs, measure_raster
from sitescreen.inputs.spec import LayerSpec
from sitescreen.run.pipeline import screen
from sitescreen.rules.profile import load_profile
from sitescreen.measure.zonal import zonal_stats

CASES = Catalogue()
case = CASES.case
ALBERS = "EPSG:5070"


def generic_frame(n=1, box=tw.FOREST_BOX) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"note": [f"draft {i} (synthetic)" for i in range(n)]},
                            geometry=gpd.GeoSeries([shapely.box(*box)] * n, crs="EPSG:4326"))


def two_layer_gpkg(w, first: gpd.GeoDataFrame, second: gpd.GeoDataFrame, names=("draft", "padus")):
    path = w.root / "two.gpkg"
    tw.write_vector(first, path, layer=names[0])
    tw.write_vector(second, path, layer=names[1])
    return path


# ---------------------------------------------------------------------------------------------
# Class 4: never guess which layer to use


@case("gpkg-two-layers-both-match", "two.gpkg", "2 layers", "'draft'", "'padus'", "match a layer definition",
      "--layer federal_land=", ":LAYER", 'layer = "LAYER"')
def _(w, **_):
    path = two_layer_gpkg(w, tw.padus_frame(gap=1), tw.padus_frame())
    w.layers[1] = f"federal_land={path}"


@case("gpkg-two-layers-none-matches", "two.gpkg", "'draft' (1 features)", "'notes' (2 features)",
      "none matches a known layer definition", ":LAYER")
def _(w, **_):
    path = two_layer_gpkg(w, generic_frame(1), generic_frame(2), names=("draft", "notes"))
    w.layers[1] = f"federal_land={path}"


@case("gpkg-named-layer-missing", "federal.gpkg", "no layer named 'padus_v2'", "layers in the file: padus")
def _(w, **_):
    w.layers[1] = f"federal_land={w.federal}:padus_v2"


@case("gpkg-named-layer-empty", "federal.gpkg", "'empty'", "no features", "leave the layer out")
def _(w, **_):
    pyogrio.write_dataframe(tw.padus_frame().iloc[:0], w.federal, layer="empty", geometry_type="Polygon")
    w.layers[1] = f"federal_land={w.federal}:empty"


@case("sites-gpkg-two-layers", "sites.gpkg", "2 layers", "'a'", "'b'", "no layer name")
def _(w, **_):
    pts = gpd.GeoDataFrame({"site_id": ["1", "2"]}, geometry=gpd.points_from_xy([-114.5, -114.4], [44.5, 44.55]), crs="EPSG:4326")
    w.sites = w.root / "sites.gpkg"
    tw.write_vector(pts, w.sites, layer="a")
    tw.write_vector(pts, w.sites, layer="b")


@case("config-definition-matches-both-layers", "two.gpkg", "2 of them ('draft', 'padus') match")
def _(w, **_):
    path = two_layer_gpkg(w, tw.padus_frame(gap=1), tw.padus_frame())
    w.write_config(tw.CONFIG.replace('path = "federal.gpkg"\nlayer = "padus"',
                                     'path = "two.gpkg"\ndefinition = { fields = { name = "Unit_Nm" }, coverage = "global" }'))
    assert "two.gpkg" in w.config.read_text()


@case("geopackage-two-layers-for-protected", "two.gpkg", "protected", "none matches")
def _(w, **_):
    path = two_layer_gpkg(w, generic_frame(1), generic_frame(1), names=("x", "y"))
    w.layers[0] = f"protected={path}"


# ---------------------------------------------------------------------------------------------
# Class 5: coverage, declared wrongly


def _config_with_federal_coverage(w, line: str) -> None:
    w.write_config(tw.CONFIG.replace('layer = "padus"', f'layer = "padus"\n{line}'))


@case("coverage-file-missing", "nowhere.gpkg", "coverage", "not found", "check the path")
def _(w, **_):
    _config_with_federal_coverage(w, 'coverage = "nowhere.gpkg"')


@case("coverage-file-of-points", "cov.geojson", "coverage must be polygons")
def _(w, **_):
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy([-114.5], [44.5]), crs="EPSG:4326")
    tw.write_vector(pts, w.root / "cov.geojson")
    _config_with_federal_coverage(w, 'coverage = "cov.geojson"')


@case("coverage-not-a-string", "run.toml", "'coverage' must be a polygon file or one of global, features")
def _(w, **_):
    _config_with_federal_coverage(w, "coverage = 5")


@case("definition-coverage-extent", "coverage 'extent'", "bounding box", "not allowed", "global, features, states, declared")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('layer = "padus"', 'layer = "padus"\ndefinition = { fields = { name = "Unit_Nm" }, coverage = "extent" }'))


@case("definition-states-without-field", 'coverage = "states" needs state_field', "state_field")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('layer = "padus"', 'layer = "padus"\ndefinition = { fields = { name = "Unit_Nm" }, coverage = "states" }'))


@case("coverage-file-wrong-crs-tag", "cov.geojson", "coverage", "degrees")
def _(w, **_):
    # lon/lat degrees written under a projected tag: refused like any layer's wrong tag
    cov = gpd.GeoDataFrame(geometry=[shapely.box(*tw.FOREST_BOX)], crs="EPSG:4326").set_crs("EPSG:32611", allow_override=True)
    tw.write_vector(cov, w.root / "cov.geojson")
    _config_with_federal_coverage(w, 'coverage = "cov.geojson"')


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)


# ---------------------------------------------------------------------------------------------
# Inputs that must run, with the right numbers


def _result(args):
    r = run_cli(args)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output


def _sites_csv(out_dir) -> pd.DataFrame:
    return pd.read_csv(out_dir / "sites.csv", dtype={"site_id": str}).set_index("site_id")


def _footprints(w) -> dict[str, shapely.Geometry]:
    pts = gpd.GeoSeries([shapely.Point(x, y) for _, _, x, y in tw.SITES], crs="EPSG:4326").to_crs(ALBERS)
    return {sid: g.buffer(1000, quad_segs=16) for (sid, *_), g in zip(tw.SITES, pts)}


def _screen(w, layers) -> pd.DataFrame:
    cfg = config_from_dict({"sites": {"path": str(w.sites)}, "layers": layers}, w.root, "test")
    return screen(cfg).sites.set_index("site_id")


def test_gpkg_with_a_draft_first_reads_the_layer_a_definition_matches(tmp_path, caplog):
    """The issue's example: 'draft' first, 'padus' second, no :LAYER -> padus, with the right fraction."""
    w = tw.build(tmp_path / "w")
    half = (-114.5, 44.0, -114.0, 45.0)  # the padus layer covers the sites east of -114.5 only
    padus = tw.padus_frame([shapely.box(*half)]).assign(State_Nm="ID")  # an Idaho extract
    path = two_layer_gpkg(w, generic_frame(1, box=(-116, 43, -113, 46)), padus)
    w.layers[1] = f"federal_land={path}"
    with caplog.at_level("INFO", logger="sitescreen.inputs.read"):
        _result(w.args())
    assert any("reading 'padus'" in r.getMessage() for r in caplog.records)
    got = _sites_csv(w.out)["m_federal_land"]
    land = gpd.GeoSeries([shapely.box(*half)], crs="EPSG:4326").to_crs(ALBERS).iloc[0]
    for sid, fp in _footprints(w).items():
        assert got[sid] == pytest.approx(shapely.area(fp & land) / shapely.area(fp), abs=1e-6)
    layer = json.loads((w.out / "manifest.json").read_text())["inputs"]
    assert any(e.get("layer") == "padus" for e in layer)


def test_gpkg_with_one_spatial_layer_and_a_table_reads_the_spatial_layer(tmp_path):
    w = tw.build(tmp_path / "w")
    path = w.root / "styled.gpkg"
    tw.write_vector(tw.padus_frame(), path, layer="padus")
    pyogrio.write_dataframe(pd.DataFrame({"styleName": ["x"]}), path, layer="layer_styles")
    w.layers[1] = f"federal_land={path}"
    _result(w.args())
    assert (_sites_csv(w.out)["m_federal_land"] == 1.0).all()  # FOREST_BOX holds every footprint


def units_frame(boxes, states) -> gpd.GeoDataFrame:
    """PAD-US management units (the padus_ID.geojson form), lon/lat."""
    n = len(boxes)
    return gpd.GeoDataFrame({"name": [f"Unit {i} (synthetic)" for i in range(n)], "agency": ["BLM"] * n,
                             "acres": [1000] * n, "state": states},
                            geometry=gpd.GeoSeries([shapely.box(*b) for b in boxes], crs="EPSG:4326"))


def test_state_extract_gives_no_data_for_a_site_recorded_in_another_state(tmp_path):
    """A Montana record off an Idaho extract's polygons: no data (not 0 %), incomplete; an Idaho
    record off the polygons: 0 %; on the polygons: measured whatever its state."""
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[1]["state_or_province"] = "Montana"  # 1002, off the units
    rows[2]["state_or_province"] = "Montana"  # 1003, on a unit
    tw.write_csv(w.sites, rows)
    units = w.root / "units.geojson"
    tw.write_vector(units_frame([(-114.35, 44.35, -114.2, 44.55)], ["ID"]), units)
    out = _screen(w, [{"role": "federal_land", "path": str(units)}])
    fp = _footprints(w)
    unit = gpd.GeoSeries([shapely.box(-114.35, 44.35, -114.2, 44.55)], crs="EPSG:4326").to_crs(ALBERS).iloc[0]
    expect = {sid: shapely.area(g & unit) / shapely.area(g) for sid, g in fp.items()}
    assert expect["1002"] == 0 and expect["1003"] >= MIN_COVERAGE and expect["1001"] == 0
    assert np.isnan(out.loc["1002", "m_federal_land"]) and out.loc["1002", "verdict"] == "incomplete"
    assert out.loc["1003", "m_federal_land"] == pytest.approx(expect["1003"], abs=1e-6)
    assert out.loc["1001", "m_federal_land"] == 0.0  # Idaho, on private land: covered, no federal land


def test_state_extract_naming_every_state_is_national(tmp_path):
    from sitescreen.inputs.usstates import STATES
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[1]["state_or_province"] = "Montana"
    tw.write_csv(w.sites, rows)
    units = w.root / "units.geojson"
    boxes = [(-60 - i * 0.01, 10, -60 - i * 0.01 + 0.005, 10.005) for i in range(len(STATES))]
    tw.write_vector(units_frame(boxes + [tw.WILDERNESS_BOX], list(STATES) + ["ID"]), units)
    out = _screen(w, [{"role": "federal_land", "path": str(units)}])
    assert not out["m_federal_land"].isna().any()


# a run-config definition that does not say what it covers (its land is federal)
NOTE_DEF = {"fields": {"name": "note"}, "values": {"manager_type": {"value": "FED"}}}


def test_declared_coverage_polygon_in_another_crs(tmp_path):
    """Coverage from a declared polygon (written in UTM 11N): a footprint under half inside is no data."""
    w = tw.build(tmp_path / "w")
    cov_ll = shapely.box(-114.55, 44.3, -114.2, 44.7)  # 1001 wholly, 1003 wholly, 1002 wholly, 1004 partly
    fp = _footprints(w)
    cov_albers = gpd.GeoSeries([cov_ll], crs="EPSG:4326").to_crs(ALBERS).iloc[0]
    inside = {sid: shapely.area(g & cov_albers) / shapely.area(g) for sid, g in fp.items()}
    assert inside["1004"] < MIN_COVERAGE and min(inside["1001"], inside["1002"], inside["1003"]) > 0.99
    gpd.GeoDataFrame(geometry=[cov_ll], crs="EPSG:4326").to_crs("EPSG:32611").to_file(w.root / "cov.gpkg")
    roads = w.root / "roads.geojson"
    tw.write_vector(generic_frame(1, box=(-114.45, 44.4, -114.35, 44.6)), roads)
    out = _screen(w, [{"role": "federal_land", "path": str(roads), "coverage": "cov.gpkg", "definition": NOTE_DEF}])
    assert np.isnan(out.loc["1004", "m_federal_land"]) and out.loc["1004", "verdict"] == "incomplete"
    land = gpd.GeoSeries([shapely.box(-114.45, 44.4, -114.35, 44.6)], crs="EPSG:4326").to_crs(ALBERS).iloc[0]
    for sid in ("1001", "1002", "1003"):
        assert out.loc[sid, "m_federal_land"] == pytest.approx(shapely.area(fp[sid] & land) / shapely.area(fp[sid]), abs=1e-6)


def test_layer_without_a_coverage_gives_no_data_until_declared_global(tmp_path):
    w = tw.build(tmp_path / "w")
    roads = w.root / "roads.geojson"
    tw.write_vector(generic_frame(1), roads)
    out = _screen(w, [{"role": "federal_land", "path": str(roads), "definition": NOTE_DEF}])
    assert out["m_federal_land"].isna().all() and (out["verdict"] == "incomplete").all()
    out = _screen(w, [{"role": "federal_land", "path": str(roads), "definition": NOTE_DEF, "coverage": "global"}])
    assert (out["m_federal_land"] == 1.0).all()


# Raster minimum coverage: the footprint is a square of 10 × 10 cells; valid cells cover its west part.


def _raster(path, valid_cols: int):
    """20 × 20 cells of 100 m (UTM 11N); columns < valid_cols hold 1000 + col, the rest nodata."""
    z = np.full((20, 20), -9999.0, dtype="float32")
    z[:, :valid_cols] = 1000 + np.arange(valid_cols, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32", crs="EPSG:32611",
                       transform=Affine(100.0, 0, 500_000.0, 0, -100.0, 5_000_000.0), nodata=-9999.0) as dst:
        dst.write(z, 1)
    return path


@pytest.mark.parametrize("fraction", [0.41, 0.6, 0.75, 1.0, 0.0])
def test_raster_footprint_partly_on_valid_cells(tmp_path, fraction):
    """A footprint 41 % on valid cells gets no data; from 50 % on it gets a value. The default
    profile's slope criterion loses the valid column next to nodata (Horn's 3 × 3 window), so its
    valid cells end 100 m earlier than the DEM's."""
    path = _raster(tmp_path / "dem.tif", 10)  # valid DEM cells: x 500,000 .. 501,000
    x0 = 501_000.0 - fraction * 1000.0
    square = shapely.box(x0, 4_998_500.0, x0 + 1000.0, 4_999_500.0)
    sites = gpd.GeoDataFrame(geometry=[square], crs="EPSG:32611")
    frac = zonal_stats(sites.geometry, path, ["mean"], covered=True)["covered_fraction"].iloc[0]
    valid = shapely.box(500_000.0, 4_998_000.0, 501_000.0, 5_000_000.0)
    assert frac == pytest.approx(shapely.area(square & valid) / shapely.area(square), abs=1e-9)
    assert frac == pytest.approx(fraction, abs=1e-9)
    crit = next(c for c in load_profile("federal-safeguards").criteria if c.kind == "raster")
    assert crit.params.get("derive") == "slope"
    slope_valid = shapely.box(500_000.0, 4_998_000.0, 500_900.0, 5_000_000.0)
    on_slope = shapely.area(square & slope_valid) / shapely.area(square)
    m = measure_raster(crit, sites, Inputs(vectors=[], rasters=[LayerSpec(role=crit.roles[0], path=path)]))
    if on_slope >= MIN_COVERAGE:
        assert np.isfinite(m.values[0]) and m.nodata_reason[0] == ""
    else:
        assert np.isnan(m.values[0]) and "outside the coverage of raster" in m.nodata_reason[0]
        if on_slope:
            assert f"only {on_slope * 100:.0f} % of the footprint on valid cells" in m.nodata_reason[0]


def test_raster_mean_uses_only_the_valid_cells(tmp_path):
    path = _raster(tmp_path / "dem.tif", 11)  # columns 0..10 valid
    square = shapely.box(500_500.0, 4_998_500.0, 501_500.0, 4_999_500.0)  # columns 5..14: 6 valid
    got = zonal_stats(gpd.GeoSeries([square], crs="EPSG:32611"), path, ["mean"], covered=True)
    assert got["covered_fraction"].iloc[0] == pytest.approx(0.6)
    assert got["mean"].iloc[0] == pytest.approx(np.mean(1000 + np.arange(5, 11)))


# ---------------------------------------------------------------------------------------------
# Real data: Montana records near the Idaho border against the Idaho PAD-US units


@pytest.mark.realdata
def test_montana_sites_against_idaho_padus_get_no_data(shared_data, tmp_path):
    records = pd.read_csv(shared_data / "mineral_deposits" / "lanthanum_datafile.csv", dtype=str, keep_default_na=False)
    mt = records[(records["state_or_province"] == "Montana") & (records["location"].str.strip() != "")]
    pts = gpd.GeoSeries.from_wkt(mt["location"], crs="EPSG:4326")
    near = mt[(pts.x < -112.5).to_numpy() & (pts.y > 44.0).to_numpy()]
    assert len(near) >= 3
    near.to_csv(tmp_path / "mt.csv", index=False)
    padus = shared_data / "federal_lands" / "padus_ID.geojson"
    out = tmp_path / "out"
    _result(["screen", str(tmp_path / "mt.csv"), "--layer", f"federal_land={padus}", "--out", str(out),
             "--no-map", "--no-report"])
    res = pd.read_csv(out / "sites.csv", dtype={"site_id": str})
    sites = gpd.read_file(out / "sites.gpkg", layer="sites") if (out / "sites.gpkg").exists() else None
    units = gpd.read_file(padus).to_crs(ALBERS)
    land = shapely.union_all(shapely.make_valid(units.geometry.to_numpy()))
    fp = sites.to_crs(ALBERS).geometry.to_numpy()
    on_idaho_land = shapely.area(shapely.intersection(fp, land)) / shapely.area(fp)
    off = on_idaho_land < MIN_COVERAGE
    assert off.sum() >= 3
    by_id = res.set_index("site_id").loc[sites["site_id"].astype(str)]
    assert np.isnan(by_id["m_federal_land"].to_numpy(dtype=float)[off]).all()  # no data, not 0 %
    assert (by_id["verdict"].to_numpy()[off] == "incomplete").all()
