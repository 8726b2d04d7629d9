"""Real NHD streams, waterbodies and bull trout patches (../shared/data, see its README).

Not the Idaho REE belt: the Middle Fork Clearwater flowlines (NHDPlus HR, Idaho County), the
eastern-Idaho NHD medium-resolution major streams, the Muddy Creek NHDPlus HR GeoPackage (Montana)
and the bull trout natal patches. Every distance and length is checked against shapely computed here
on the file as read by geopandas (not through sitescreen's reading or kernels)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sitescreen.errors import LayerConfigError
from sitescreen.inputs.read import choose_layer
from sitescreen.inputs.spec import LayerSpec
from sitescreen.run.config import config_from_dict
from sitescreen.run.pipeline import screen

pytestmark = pytest.mark.filterwarnings("ignore:Measured \\(M\\) geometry types are not supported:UserWarning")

MFC = "streams/nhdplushr_17060304_middle_fork_clearwater/NHDFlowline.shp"
MFC_HU10 = "watersheds/wbd_17060304/WBDHU10.shp"
MEDRES = "streams/nhd_medres_eastern_idaho/streams.gpkg"
MUDDY = "streams/nhdplushr_1002000107_muddy_creek.gpkg"
BULL = "habitat/bull_trout_natal_patches_isaak2022/BullTroutPatches_ObservedDataset_Isaak_et_al_2022_AppendixS1.shp"
#: A lode claim's largest outline (1,500 × 600 ft; 20.66 acres, the MLRS claims' 20-acre unit).
CLAIM_M = (457.2, 182.88)
SMCRA_M = 30.48


def claim_grid(bounds_lonlat, step_m: float, crs="EPSG:5070") -> gpd.GeoDataFrame:
    """Claim-sized rectangles every ``step_m`` over a lon/lat box, with ids."""
    box = gpd.GeoSeries([shapely.box(*bounds_lonlat)], crs=4326).to_crs(crs).total_bounds
    xs, ys = np.meshgrid(np.arange(box[0], box[2], step_m), np.arange(box[1], box[3], step_m))
    x, y = xs.ravel(), ys.ravel()
    geoms = shapely.box(x, y, x + CLAIM_M[0], y + CLAIM_M[1])
    return gpd.GeoDataFrame({"site_id": [f"C{i:04d}" for i in range(len(x))]}, geometry=geoms, crs=crs)


def _land(data) -> list[dict]:
    """The default profile's required layer: PAD-US Idaho as federal land."""
    return [{"role": "federal_land", "path": str(data / "federal_lands/padus_ID.geojson")}]


def _screen(tmp_path, sites: gpd.GeoDataFrame, layers: list[dict], data):
    path = tmp_path / "claims.gpkg"
    sites.to_file(path)
    cfg = config_from_dict({"sites": {"path": str(path)}, "layers": _land(data) + layers}, tmp_path, "test")
    return screen(cfg).sites.set_index("site_id")


def nearest_m(fp, lines) -> np.ndarray:
    """Independent distance from each footprint to the nearest of ``lines`` (shapely, all pairs)."""
    return shapely.distance(fp[:, None], lines[None, :]).min(axis=1)


def inside_km(fp, lines) -> np.ndarray:
    return np.array([shapely.length(shapely.intersection(lines, g)).sum() for g in fp]) / 1000.0


@pytest.fixture(scope="module")
def clearwater(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mfc")
    sites = claim_grid((-115.93, 45.97, -115.66, 46.21), 1500.0)
    res = _screen(tmp, sites, [{"role": "streams", "path": str(shared_data / MFC),
                                "coverage": str(shared_data / MFC_HU10)}], shared_data)
    lines = gpd.read_file(shared_data / MFC).to_crs(res.crs)
    return res, lines


def test_clearwater_claims_distance_to_perennial_or_intermittent_streams_agrees_with_shapely(clearwater):
    res, lines = clearwater
    has = res["m_stream_buffer"].notna().to_numpy()
    assert has.sum() > 200, has.sum()  # the grid's claims inside the two HUC-10s
    fp = res.geometry.to_numpy()[has]
    streams = lines.loc[lines["FCode"].isin([46006, 46003])].geometry.to_numpy()
    expect = nearest_m(fp, streams)
    assert np.abs(res["m_stream_buffer"].to_numpy()[has] - expect).max() < 1.0
    # artificial paths (FCode 55800, through waterbodies) are not streams: where one is nearer than
    # every stream, the measured distance is the stream's
    paths = lines.loc[lines["FCode"] == 55800].geometry.to_numpy()
    nearer = nearest_m(fp, paths) < expect - 1.0
    assert nearer.sum() > 0
    assert np.abs(res["m_stream_buffer"].to_numpy()[has][nearer] - expect[nearer]).max() < 1.0


def test_clearwater_smcra_exclusions_are_the_claims_within_100_ft_of_a_stream(clearwater):
    res, lines = clearwater
    has = res["m_stream_buffer"].notna().to_numpy()
    streams = lines.loc[lines["FCode"].isin([46006, 46003])].geometry.to_numpy()
    close = nearest_m(res.geometry.to_numpy()[has], streams) < SMCRA_M
    assert close.sum() > 50
    assert (res["verdict"].to_numpy()[has][close] == "excluded").all()
    reasons = res["reasons"].to_numpy()[has][close]
    assert all("distance to perennial and intermittent streams is" in r for r in reasons), reasons[0]


def test_clearwater_perennial_stream_km_inside_each_claim_agrees_with_shapely(clearwater):
    res, lines = clearwater
    has = res["m_perennial_stream_length"].notna().to_numpy()
    perennial = lines.loc[lines["FCode"] == 46006].geometry.to_numpy()
    expect = inside_km(res.geometry.to_numpy()[has], perennial)
    assert (expect > 0).sum() > 20
    np.testing.assert_allclose(res["m_perennial_stream_length"].to_numpy()[has], expect, atol=1e-6)


def test_idaho_ree_records_against_eastern_idaho_major_streams(shared_data, tmp_path):
    """The medium-resolution file (text FTYPE, custom Albers): every record's distance within 1 m."""
    recs = pd.read_csv(shared_data / "mineral_deposits/lanthanum_datafile.csv")
    pts = gpd.GeoSeries.from_wkt(recs["location"].fillna("POINT EMPTY").str.replace("POINT(", "POINT (", regex=False))
    inbox = (pts.x.between(-114, -112) & pts.y.between(43, 45) & (recs["state_or_province"] == "Idaho")).to_numpy()
    recs.loc[inbox].to_csv(tmp_path / "ree.csv", index=False)
    gpd.GeoDataFrame(geometry=[shapely.box(-114, 43, -112, 45)], crs=4326).to_file(tmp_path / "box.gpkg")
    # the records lie 25–87 km from these major streams: search up to 100 km so every distance is a number
    from sitescreen.rules.profile import builtin_profiles
    text = builtin_profiles()["federal-safeguards"].read_text(encoding="utf-8")
    old = 'select = "smcra_streams"\nsearch_radius_m = 5000\n'
    assert old in text
    (tmp_path / "far.toml").write_text(text.replace(old, old.replace("5000", "100000")), encoding="utf-8")
    cfg = config_from_dict({"run": {"profile": str(tmp_path / "far.toml")}, "sites": {"path": str(tmp_path / "ree.csv")},
                            "layers": _land(shared_data) + [{"role": "streams", "path": str(shared_data / MEDRES),
                                                             "coverage": "box.gpkg"}]},
                           tmp_path, "test")
    res = screen(cfg).sites
    lines = gpd.read_file(shared_data / MEDRES)
    lines = lines.loc[lines["FCODE"].isin([46006, 46003])].to_crs(res.crs).geometry.to_numpy()
    has = res["m_stream_buffer"].notna().to_numpy()
    assert has.sum() >= 40 and np.isfinite(res["m_stream_buffer"].to_numpy()[has]).all()
    assert np.abs(res["m_stream_buffer"].to_numpy()[has] - nearest_m(res.geometry.to_numpy()[has], lines)).max() < 1.0


def test_muddy_creek_geopackage_gives_its_nhdflowline_layer_by_definition(shared_data):
    path = shared_data / MUDDY
    assert choose_layer(LayerSpec(role="streams", path=path, schema="nhd_flowline")).layer == "NHDFlowline"
    assert choose_layer(LayerSpec(role="streams", path=path)).layer == "NHDFlowline"  # the streams definition's layer
    assert choose_layer(LayerSpec(role="waterbodies", path=path)).layer == "NHDWaterbody"
    assert choose_layer(LayerSpec(role="watershed", path=path)).layer == "WBDHU12"
    # a role no definition serves: the WBD and NHD layers are never guessed for it
    with pytest.raises(LayerConfigError, match=r"has \d+ layers .* no layer name; \d+ of them .*'NHDFlowline'"):
        choose_layer(LayerSpec(role="bull_trout", path=path))


def test_bull_trout_patches_distance_and_length_with_the_species_named(shared_data, tmp_path):
    patches = gpd.read_file(shared_data / BULL)
    sites = claim_grid((-115.75, 44.0, -115.45, 44.25), 1000.0)  # Boise National Forest, South Fork Payette
    res = _screen(tmp_path, sites, [{"role": "bull_trout", "path": str(shared_data / BULL), "coverage": "global"}], shared_data)
    lines = patches.to_crs(res.crs).geometry.to_numpy()
    fp = res.geometry.to_numpy()
    d = res["m_bull_trout_distance"].to_numpy()
    near = np.isfinite(d)
    assert near.sum() > 10
    assert np.abs(d[near] - nearest_m(fp[near], lines)).max() < 1.0
    km = inside_km(fp, lines)
    assert (km > 0).sum() > 0
    np.testing.assert_allclose(res["m_bull_trout_length"].to_numpy(), km, atol=1e-6)
    assert (res["verdict"].to_numpy()[km > 0] == "excluded").all()
    reasons = res["reasons"].to_numpy()[km > 0]
    assert all("bull trout (Salvelinus confluentus) natal stream inside the footprint is" in r for r in reasons), reasons[0]


def test_the_nhd_recipe_config_runs_as_written_and_explain_states_the_unit_and_species(shared_data, tmp_path):
    """docs/datasets/nhd.md's run config, saved in a repository root beside ../shared/data."""
    import json
    import os
    import re
    from pathlib import Path

    from click.testing import CliRunner

    from sitescreen.cli import main
    doc = (Path(__file__).resolve().parent.parent / "docs/datasets/nhd.md").read_text(encoding="utf-8")
    (snippet,) = re.findall(r"^```toml\n(.*?)^```", doc, flags=re.S | re.M)
    (tmp_path / "shared").mkdir()
    os.symlink(shared_data, tmp_path / "shared" / "data")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "nhd.toml").write_text(snippet, encoding="utf-8")
    out = tmp_path / "repo" / "nhd-out"
    r = CliRunner().invoke(main, ["-q", "screen", "--config", str(tmp_path / "repo" / "nhd.toml"), "--out", str(out),
                                  "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output
    sites = pd.read_csv(out / "sites.csv", dtype={"site_id": str})
    hit = sites.loc[sites["m_bull_trout_length"] > 0]
    assert len(hit) > 0 and (hit["verdict"] == "excluded").all()
    r = CliRunner().invoke(main, ["explain", str(out), hit["site_id"].iloc[0], "--json"])
    assert r.exit_code == 0, r.output
    crit = {c["name"]: c for c in json.loads(r.output)["criteria"]}
    length = crit["bull_trout_length"]
    assert length["unit"] == "km" and length["measurement_text"].endswith(" km")
    assert "bull trout (Salvelinus confluentus)" in length["measured"]
    assert crit["stream_buffer"]["label"] == "Distance to perennial and intermittent streams"
