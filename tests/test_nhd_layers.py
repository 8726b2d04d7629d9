"""NHD layers in their published schemas, written by the tests (GeoPackage and FileGDB with the
NHDPlus HR layer and field names and types; a medium-resolution file with text FTYPE), screened with
the default profile: the SMCRA stream buffer measures to perennial and intermittent lines only, lakes
and reservoirs get their setback, and a streams layer that cannot tell flow permanence is refused."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.errors import LayerConfigError
from sitescreen.inputs.read import choose_layer
from sitescreen.inputs.spec import LayerSpec
from sitescreen.run.config import config_from_dict
from sitescreen.run.pipeline import screen

ALBERS = "EPSG:5070"
#: Metres east of site 1003 (lon -114.30, lat 44.45; a 1 km footprint) where each line runs north–south.
OFFSETS = {"artificial": 1010.0, "ephemeral": 1015.0, "canal": 1020.0, "intermittent": 1200.0, "perennial": 3000.0}
HR_CODES = {"perennial": (460, 46006), "intermittent": (460, 46003), "ephemeral": (460, 46007),
            "artificial": (558, 55800), "canal": (336, 33600)}
TEXT_TYPES = {460: "StreamRiver", 558: "ArtificialPath", 336: "CanalDitch", 390: "LakePond", 436: "Reservoir",
              466: "SwampMarsh"}


def _centre():
    return gpd.GeoSeries([shapely.Point(-114.30, 44.45)], crs=4326).to_crs(ALBERS).iloc[0]


def flowlines(text: bool = False, real: bool = False) -> gpd.GeoDataFrame:
    """One north–south line per kind east of site 1003, in the NHDPlus HR flowline schema (or, with
    ``text``, the medium-resolution one: FTYPE as text, capitalised names; ``real``: FCode as Real)."""
    c = _centre()
    kinds = list(OFFSETS)
    geoms = [shapely.LineString([(c.x + OFFSETS[k], c.y - 3000), (c.x + OFFSETS[k], c.y + 3000)]) for k in kinds]
    ftype = [HR_CODES[k][0] for k in kinds]
    fcode = np.array([HR_CODES[k][1] for k in kinds], dtype="float64" if real else "int32")
    data = {"Permanent_": [f"{i}" for i in range(len(kinds))], "GNIS_Name": [f"{k} creek" for k in kinds],
            "LengthKM": np.full(len(kinds), 6.0), "ReachCode": [f"1706030400{i:04d}" for i in range(len(kinds))],
            "FlowDir": np.ones(len(kinds), dtype="int32"),
            "FType": [TEXT_TYPES[t] for t in ftype] if text else np.array(ftype, dtype="int32"), "FCode": fcode}
    if text:
        data = {k.upper(): v for k, v in data.items()}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=ALBERS).to_crs(4326)


def waterbodies() -> gpd.GeoDataFrame:
    """A lake 20 m north of site 1003's footprint, a reservoir 200 m south, a marsh touching it."""
    c = _centre()
    geoms = [shapely.box(c.x - 200, c.y + 1020, c.x + 200, c.y + 1400), shapely.box(c.x - 200, c.y - 1600, c.x + 200, c.y - 1200),
             shapely.box(c.x - 1100, c.y - 100, c.x - 900, c.y + 100)]
    ftype = np.array([390, 436, 466], dtype="int32")
    return gpd.GeoDataFrame({"Permanent_": ["a", "b", "c"], "GNIS_Name": ["Test Lake", "Test Reservoir", "Test Marsh"],
                             "AreaSqKm": np.array([0.15, 0.16, 0.04]), "Elevation": np.array([1500.0, 1400.0, 1450.0]),
                             "ReachCode": ["17060304000101", "17060304000102", "17060304000103"],
                             "FType": ftype, "FCode": np.array([39004, 43600, 46600], dtype="int32")},
                            geometry=geoms, crs=ALBERS).to_crs(4326)


def write_hr(path, driver=None):
    """A many-layer NHDPlus HR file: NHDFlowline, NHDWaterbody, a WBDHU12 and an empty NHDArea."""
    kw = {"driver": driver} if driver else {}
    pyogrio.write_dataframe(flowlines(), path, layer="NHDFlowline", **kw)
    pyogrio.write_dataframe(waterbodies(), path, layer="NHDWaterbody", append=True, **kw)
    hu = gpd.GeoDataFrame({"HUC12": ["170603040101"], "Name": ["Test HU12"], "ToHUC": ["170603040103"],
                           "HUType": ["S"]}, geometry=[shapely.box(*tw.FOREST_BOX)], crs=4326)
    pyogrio.write_dataframe(hu, path, layer="WBDHU12", append=True, **kw)
    return path


def _screen(w, layers):
    base = [{"role": "federal_land", "path": str(w.federal), "layer": "padus"}]
    cfg = config_from_dict({"sites": {"path": str(w.sites), "radius_m": 1000}, "layers": base + layers}, w.root, "test")
    return screen(cfg).sites.set_index("site_id")


@pytest.fixture
def world(tmp_path):
    return tw.build(tmp_path / "w")


def _expected_m(kind: str) -> float:
    return OFFSETS[kind] - 1000.0  # the footprint is a 16-segment-per-quarter circle: within a few cm


@pytest.mark.parametrize("fmt", ["gpkg", "gdb"])
def test_hr_file_gives_its_flowlines_by_definition_and_the_buffer_skips_artificial_paths(world, fmt):
    path = write_hr(world.root / f"nhdplus_hr.{fmt}", driver="OpenFileGDB" if fmt == "gdb" else None)
    assert choose_layer(LayerSpec(role="streams", path=path, schema="nhd_flowline")).layer == "NHDFlowline"
    res = _screen(world, [{"role": "streams", "path": str(path), "schema": "nhd_flowline", "coverage": "global"}])
    # the nearest lines (artificial path 10 m, ephemeral 15 m, canal 20 m) are not SMCRA streams:
    # the distance is to the intermittent one, 200 m off
    assert res.loc["1003", "m_stream_buffer"] == pytest.approx(_expected_m("intermittent"), abs=0.5)
    assert res.loc["1003", "f_stream_buffer"].startswith("intermittent creek")
    assert res.loc["1003", "verdict"] != "excluded"


def test_medium_resolution_text_ftype_and_real_fcodes_read_alike(world):
    got = {}
    for name, frame in (("hr", flowlines()), ("medres", flowlines(text=True)), ("real", flowlines(real=True))):
        path = tw.write_vector(frame, world.root / f"{name}.gpkg")
        res = _screen(world, [{"role": "streams", "path": str(path), "coverage": "global"}])
        got[name] = (res.loc["1003", "m_stream_buffer"], res.loc["1003", "m_perennial_stream_length"])
    assert got["hr"] == got["medres"] == got["real"]
    assert got["hr"][0] == pytest.approx(_expected_m("intermittent"), abs=0.5) and got["hr"][1] == 0


def test_a_claim_within_100_ft_of_an_intermittent_stream_is_excluded_and_its_stream_km_counted(world):
    frame = flowlines()
    frame = frame.loc[frame["FCode"] == 46003].copy()
    c = _centre()
    frame.geometry = gpd.GeoSeries([shapely.LineString([(c.x + 400, c.y - 3000), (c.x + 400, c.y + 3000)])],
                                   crs=ALBERS, index=frame.index).to_crs(4326)
    frame["FCode"] = np.int32(46006)
    path = tw.write_vector(frame, world.root / "perennial.gpkg")
    res = _screen(world, [{"role": "streams", "path": str(path), "coverage": "global"}])
    fp = res.loc["1003"].geometry
    line = gpd.GeoSeries(frame.geometry, crs=4326).to_crs(res.crs).iloc[0]
    assert res.loc["1003", "verdict"] == "excluded"
    assert "excluded by stream_buffer: distance to perennial and intermittent streams is 0 m" in res.loc["1003", "reasons"]
    assert res.loc["1003", "m_perennial_stream_length"] == pytest.approx(shapely.intersection(line, fp).length / 1000)


def test_lake_and_reservoir_setback_measures_lakes_and_reservoirs_not_marshes(world):
    path = write_hr(world.root / "nhdplus_hr.gpkg")
    res = _screen(world, [{"role": "waterbodies", "path": str(path), "layer": "NHDWaterbody", "coverage": "global"}])
    lakes = waterbodies().to_crs(res.crs)
    fp = res.loc["1003"].geometry
    expect = min(fp.distance(g) for g, t in zip(lakes.geometry, lakes["FType"]) if t in (390, 436))
    assert res.loc["1003", "m_lake_setback"] == pytest.approx(expect, abs=1e-6)
    assert expect == pytest.approx(20.0, abs=0.5) and fp.distance(lakes.geometry.iloc[2]) < 1.0  # the marsh is nearer
    assert res.loc["1003", "verdict"] == "excluded" and res.loc["1003", "f_lake_setback"].startswith("Test Lake")


def test_a_streams_layer_without_flow_permanence_is_refused_not_read_as_no_streams(world):
    c = _centre()
    lines = gpd.GeoDataFrame({"name": ["a creek"]}, geometry=[shapely.LineString([(c.x + 10, c.y), (c.x + 10, c.y + 5)])],
                             crs=ALBERS)
    path = tw.write_vector(lines, world.root / "streams.gpkg")
    out = world.root / "out"
    r = run_cli(["screen", str(world.sites), "--layer", f"federal_land={world.federal}:padus", "--layer",
                 f"streams={path}", "--out", str(out), "--no-map", "--no-report"])
    assert_error(r, f"{path}: criterion stream_buffer of profile federal-safeguards selects smcra_streams "
                    f"(Perennial and intermittent streams", 1)
    assert "by field 'flow', which no streams layer has (fields: name); give a layer whose definition maps it" in r.output
    assert_nothing_left(out)
    with pytest.raises(LayerConfigError, match="selects smcra_streams"):
        _screen(world, [{"role": "streams", "path": str(path), "coverage": "global"}])
