"""Issue 11 item 8: BLM MLRS "Mining Claims - Not Closed" as sites. The layer definition
(layers/blm_mlrs_claims.toml) recognises the published fields: CSE_NR is the site id, CSE_NAME the
name, CSE_DISP filters by disposition (its canonical name or the file's own); claims stacked on one
aliquot outline each keep their row, and the manifest and the summary count them."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

import tinyworld as tw
from edgecases import run_cli
from sitescreen.record.manifest import read_record
from sitescreen.rules.reviewwords import shared_outlines_text

#: Claims near the tiny world's deposits (lon/lat), in the MLRS schema: (CSE_NR, name, product, disposition, box).
QQ = (-114.52, 44.50, -114.51, 44.51)   # one quarter-quarter section held by three claims
CLAIMS = (("CA105226057", "JOHANNESBURG GOLD #2", "Lode Claim", "Active", QQ),
          ("CA105226058", "JOHANNESBURG GOLD #3", "Lode Claim", "Filed", QQ),
          ("CA105226059", "JOHANNESBURG GOLD #2", "Placer Claim", "Active", QQ),  # the name repeats
          ("CA105300001", "RED HILL", "Mill Site", "Active", (-114.40, 44.50, -114.39, 44.51)),
          ("CA105300002", "RED HILL NORTH", "Lode Claim", "Under Review", (-114.40, 44.52, -114.39, 44.53)))


def mlrs_frame() -> gpd.GeoDataFrame:
    boxes = [shapely.box(*c[4]) for c in CLAIMS]
    boxes[1] = shapely.Polygon(list(boxes[1].exterior.coords)[2:] + list(boxes[1].exterior.coords)[1:3])  # same outline, other start vertex
    return gpd.GeoDataFrame(
        {"OBJECTID": np.arange(1, len(CLAIMS) + 1), "CSE_NAME": [c[1] for c in CLAIMS], "BLM_PROD": [c[2] for c in CLAIMS],
         "CSE_NR": [c[0] for c in CLAIMS], "CSE_DISP": [c[3] for c in CLAIMS], "RCRD_ACRS": [40.0, 40.0, 40.0, 5.0, 20.0]},
        geometry=gpd.GeoSeries(boxes).apply(lambda g: shapely.MultiPolygon([g])), crs="OGC:CRS84")


@pytest.fixture
def world(tmp_path):
    w = tw.build(tmp_path)
    w.sites = tw.write_vector(mlrs_frame(), tmp_path / "mlrs_not_closed.geojson")
    return w


def test_claims_keep_their_cse_nr_ids_and_stacked_outlines_are_counted(world):
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(world.out / "sites.gpkg", layer="sites")
    assert sorted(sites["site_id"]) == sorted(c[0] for c in CLAIMS)       # every claim keeps its row and id
    assert dict(zip(sites["site_id"], sites["name"])) == {c[0]: c[1] for c in CLAIMS}
    rec = read_record(world.out / "manifest.json")
    assert rec.sites.schema == "blm-mlrs-claims" and rec.sites.id_field == "CSE_NR"
    keys = mlrs_frame().geometry.normalize().to_wkb()                      # independent count of identical outlines
    counts = keys.value_counts()
    stacked = counts[counts > 1]
    assert (rec.sites.sites_sharing_outlines, rec.sites.shared_outlines) == (int(stacked.sum()), len(stacked)) == (3, 1)
    assert f"Sites: {shared_outlines_text(3, 1)}." in res.output
    assert "3 sites share 1 outline (identical" in res.output


@pytest.mark.parametrize("field", ["disposition", "CSE_DISP"])
def test_claims_are_filtered_by_disposition(world, field):
    world.extra = ["--sites-where", f"{field}=Active"]
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(world.out / "sites.gpkg", layer="sites")
    assert sorted(sites["site_id"]) == sorted(c[0] for c in CLAIMS if c[3] == "Active")
    rec = read_record(world.out / "manifest.json")
    assert rec.sites.records_not_selected == sum(c[3] != "Active" for c in CLAIMS)
    assert (rec.sites.sites_sharing_outlines, rec.sites.shared_outlines) == (2, 1)


def test_claims_without_stacked_outlines_say_nothing_about_them(world):
    world.extra = ["--sites-where", "CSE_NR=CA105300001", "--sites-where", "CSE_NR=CA105300002"]
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    assert "share" not in res.output
    assert json.loads((world.out / "manifest.json").read_text())["sites"]["sites_sharing_outlines"] == 0


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_streamed_claims_count_the_same_stacked_outlines(world, stream):
    world.sites = tw.write_vector(mlrs_frame(), world.root / "mlrs.gpkg")
    world.extra = [stream]
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    rec = read_record(world.out / "manifest.json")
    assert (rec.sites.sites, rec.sites.sites_sharing_outlines, rec.sites.shared_outlines) == (5, 3, 1)


def test_california_mlrs_claims_are_screened_with_their_cse_nr_ids(shared_data, tmp_path):
    path = shared_data / "mining_claims" / "blm_mlrs_mining_claims_not_closed_ca.geojson"
    out = tmp_path / "out"
    res = run_cli(["screen", str(path), "--layer", f"federal_land={shared_data / 'federal_lands' / 'padus_ID.geojson'}",
                   "--layer", f"watershed={shared_data / 'watersheds' / 'huc8_pnw.geojson'}",
                   "--layer", f"protected={shared_data / 'protected_areas' / 'nps_national_parks.geojson'}",
                   "--sites-where", "disposition=Active", "--out", str(out), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    src = gpd.read_file(path)
    active = src[src["CSE_DISP"] == "Active"]
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert sorted(sites["site_id"]) == sorted(active["CSE_NR"])            # ids kept, one row per claim
    assert set(sites["src_BLM_PROD"]) == set(active["BLM_PROD"])
    wkb = shapely.to_wkb(shapely.normalize(active.geometry.to_numpy()))
    _, counts = np.unique(wkb, return_counts=True)
    rec = read_record(out / "manifest.json")
    assert rec.sites.schema == "blm-mlrs-claims" and rec.sites.id_field == "CSE_NR"
    assert rec.sites.sites_sharing_outlines == int(counts[counts > 1].sum()) > 0
    assert rec.sites.shared_outlines == int((counts > 1).sum())
