"""Measuring zones (issue 11): sites no single CRS measures truly are screened in one run, each
site measured in its zone's CRS; zoning changes nothing but the CRS each site is measured in."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyworld as tw
from edgecases import run_cli
from sitescreen.errors import CRSError
from sitescreen.inputs.zones import ZONE_GAP_DEG, plan_zones

IDAHO = (("1001", "Alpha Prospect (synthetic)", -114.50, 44.50), ("1002", "Bravo Prospect (synthetic)", -114.40, 44.55))
ALASKA = (("3001", "Fairbanks side (synthetic)", -147.70, 64.85),)
ALEUTIANS = (("2001", "Attu side (synthetic)", 172.95, 52.5), ("2002", "Atka side (synthetic)", -170.05, 52.5))
HAWAII = (("4001", "Big Island (synthetic)", -155.50, 19.60),)
SITES = IDAHO + ALASKA + ALEUTIANS + HAWAII
COLUMNS = ("m_federal_land", "m_protected_setback", "score", "verdict")


def zoned_world(root: Path, sites=SITES) -> tw.World:
    """Sites in Idaho, Alaska (Fairbanks and both sides of ±180° in the Aleutians) and Hawaii; a
    federal unit covering part of each footprint and a wilderness a few km from each site."""
    root.mkdir(parents=True, exist_ok=True)
    csv = tw.write_csv(root / "deposits.csv", tw.deposit_rows(sites))
    fed, wild = [], []
    for _, _, lon, lat in SITES:  # every site's neighbourhood, whichever sites are screened
        fed.append(shapely.box(lon - 0.005, lat - 0.02, lon + 0.05, lat + 0.02))
        wild.append(shapely.box(lon + 0.03, lat + 0.02, lon + 0.06, lat + 0.05))
    fed = [shapely.MultiPolygon([shapely.box(172.9, 52.48, 180.0, 52.52), shapely.box(-180.0, 52.48, -170.06, 52.52)])
           if b.bounds[0] > 170 else b for b in fed]
    federal = tw.write_vector(tw.padus_frame(fed, crs="EPSG:4326"), root / "federal.gpkg", layer="padus")
    protected = tw.write_vector(tw.wilderness_frame(wild), root / "protected.geojson")
    return tw.World(root=root, sites=csv, protected=protected, federal=federal, out=root / "out",
                    layers=[f"protected={protected}", f"federal_land={federal}:padus"])


def screened(w: tw.World) -> tuple[pd.DataFrame, dict]:
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    w.summary = r.output
    return (pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id"),
            json.loads((w.out / "manifest.json").read_text()))


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    w = zoned_world(tmp_path_factory.mktemp("zoned"))
    got, man = screened(w)
    return w, got, man


def test_conus_alaska_and_hawaii_give_three_zones_in_one_run(zoned):
    w, got, man = zoned
    zones = man["zones"]
    assert [z["label"] for z in zones] == ["EPSG:5070 (CONUS Albers)", "EPSG:3338 (Alaska Albers)",
                                           "local equal-area (Hawaii)"]
    assert [z["sites"] for z in zones] == [2, 3, 1]
    assert sum(z["sites"] for z in zones) == man["sites"]["sites"] == len(got) == len(SITES)
    assert got.index.is_unique and sorted(got.index) == sorted(s[0] for s in SITES)
    assert man["crs"] == "EPSG:4269"
    assert gpd.read_file(w.out / "sites.gpkg", layer="sites").crs.to_epsg() == 4269
    assert ("in 3 measuring zones: EPSG:5070 (CONUS Albers) 2, EPSG:3338 (Alaska Albers) 3, "
            "local equal-area (Hawaii) 1 with profile") in w.summary
    west, south, east, north = zones[1]["bounds"]  # Alaska's zone crosses ±180°: west > east
    assert (west, south, east, north) == pytest.approx((172.95, 52.5, -147.70, 64.85))


def test_each_site_gets_the_numbers_of_a_run_of_it_alone_in_its_zones_crs(zoned, tmp_path):
    w, got, man = zoned
    zone_of = {s[0]: (s, z["crs"]) for z, group in zip(man["zones"], (IDAHO, ALASKA + ALEUTIANS, HAWAII)) for s in group}
    for rid, (site, crs) in zone_of.items():
        alone = zoned_world(tmp_path / rid, sites=(site,))
        alone.extra += ["--crs", crs]
        one, rec = screened(alone)
        assert rec["crs"] == crs and "zones" not in rec
        for col in COLUMNS[:3]:
            assert one.loc[rid, col] == pytest.approx(got.loc[rid, col], rel=1e-9, abs=1e-9), (rid, col)
        assert one.loc[rid, "verdict"] == got.loc[rid, "verdict"]
    assert got.loc[["2001", "2002"], "m_federal_land"].gt(0.1).all()  # the Aleutian unit across ±180° counts


def test_verify_passes_on_a_zoned_run_and_fails_on_an_edited_one(zoned):
    w, got, _ = zoned
    assert run_cli(["verify", str(w.out)]).exit_code == 0
    edited = w.root / "edited"
    import shutil
    shutil.copytree(w.out, edited)
    csv = pd.read_csv(edited / "sites.csv", dtype={"site_id": str})
    csv.loc[csv["site_id"] == "4001", "score"] = csv.loc[csv["site_id"] == "4001", "score"] + 0.5
    csv.to_csv(edited / "sites.csv", index=False)
    res = run_cli(["verify", str(edited)])
    assert res.exit_code != 0 and "sites.csv" in res.output


def test_a_zoned_run_repeats_its_zones(zoned, tmp_path):
    w, got, man = zoned
    again = zoned_world(tmp_path / "again", sites=tuple(reversed(SITES)))
    got2, man2 = screened(again)
    assert [(z["crs"], z["sites"], z["bounds"]) for z in man2["zones"]] == [(z["crs"], z["sites"], z["bounds"]) for z in man["zones"]]
    pd.testing.assert_frame_equal(got2.loc[got.index, list(COLUMNS)], got[list(COLUMNS)])


def test_a_given_crs_over_conus_and_alaska_is_still_refused(tmp_path):
    w = zoned_world(tmp_path / "w", sites=IDAHO + ALASKA)
    w.extra += ["--crs", "EPSG:5070"]
    res = run_cli(w.args())
    assert res.exit_code == 1 and "--crs EPSG:5070" in res.output and "distorts lengths" in res.output
    assert not w.out.exists()


def test_a_zone_no_crs_measures_truly_is_refused_naming_it():
    lon = np.arange(-60.0, 60.0, 2.0)  # along the equator with no gap: one cluster, 118° wide
    with pytest.raises(CRSError, match=r"measuring zone local equal-area .*distorts lengths"):
        plan_zones(lon, np.zeros_like(lon), np.stack([lon, np.zeros_like(lon)], axis=1)[:, None, :], ("federal_land",))


def rollup_json(out: Path, units: Path) -> pd.DataFrame:
    res = run_cli(["rollup", str(out), "--by", f"{units}:Unit_Nm", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    return pd.DataFrame(data["units"]).set_index("unit")


def test_a_zoned_run_rolls_up_each_zone_in_its_crs_as_its_region_alone(zoned, tmp_path):
    w, _, _ = zoned
    frame = tw.padus_frame([shapely.box(-115, 44, -114, 45), shapely.box(-156, 19, -155, 20.2)], crs="EPSG:4326")
    frame["Unit_Nm"] = ["Idaho unit (synthetic)", "Hawaii unit (synthetic)"]
    units = tw.write_vector(frame, tmp_path / "u.gpkg", layer="u")
    whole = rollup_json(w.out, units)
    outside = 0.0
    for name, group in (("idaho", IDAHO), ("alaska", ALASKA + ALEUTIANS), ("hawaii", HAWAII)):
        one = zoned_world(tmp_path / name, sites=group)
        screened(one)
        alone = rollup_json(one.out, units)
        for unit in alone.index.drop("outside every unit"):
            pd.testing.assert_series_equal(whole.loc[unit], alone.loc[unit], check_exact=False, rtol=1e-9)
        outside += np.nan_to_num(alone.loc["outside every unit", "area_km2"])  # none outside: no area
    assert whole.loc["outside every unit", "sites"] == 3
    assert whole.loc["outside every unit", "area_km2"] == pytest.approx(outside, rel=1e-9)
    wide = tw.write_vector(tw.padus_frame([shapely.box(-160, 18, -110, 46)], crs="EPSG:4326"), tmp_path / "w.gpkg", layer="w")
    res = run_cli(["rollup", str(w.out), "--by", f"{wide}:Unit_Nm"])
    assert res.exit_code == 1 and "holds sites of more than one of the run's 3 measuring zones" in res.output


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-180, 179.99), st.floats(-60, 75)), min_size=1, max_size=30), st.randoms())
def test_every_site_is_in_exactly_one_zone_whatever_the_order(points, rnd):
    pts = np.array(points, dtype=float)
    corners = pts[:, None, :]
    try:
        zones, zone_of = plan_zones(pts[:, 0], pts[:, 1], corners, ())
    except CRSError:
        return  # a cluster too wide for any one CRS: refused, naming it (tested above)
    assert zone_of.min() == 0 and zone_of.max() == len(zones) - 1 and np.bincount(zone_of).min() >= 1
    perm = np.array(rnd.sample(range(len(pts)), len(pts)))
    zones2, zone_of2 = plan_zones(pts[perm, 0], pts[perm, 1], corners[perm], ())
    assert [z.label for z in zones2] == [z.label for z in zones] and (zone_of2 == zone_of[perm]).all()
    local = np.flatnonzero([zones[k].name.startswith("local") for k in zone_of])
    i, j = np.meshgrid(local, local)
    apart = zone_of[i] != zone_of[j]
    dlon = np.abs((pts[i, 0] - pts[j, 0] + 180.0) % 360.0 - 180.0)
    assert ((dlon > ZONE_GAP_DEG) | (np.abs(pts[i, 1] - pts[j, 1]) > ZONE_GAP_DEG))[apart].all()


def test_sites_at_both_poles_are_two_zones_each_centred_on_its_pole():
    zones, zone_of = plan_zones(np.array([0.0, 0.0]), np.array([85.0, -85.0]), np.array([[[0.0, 85.0]], [[0.0, -85.0]]]),
                                ("federal_land",))
    assert [round(z.extent.lat) for z in zones] == [-85, 85] and zone_of.tolist() == [1, 0]
    assert all(z.crs.to_epsg() is None and z.name.startswith("local equal-area") for z in zones)


def test_a_footprint_across_the_antimeridian_is_given_out_whole(tmp_path):
    """In lon/lat a footprint at 179.999° E reaches past 180°: it keeps one side (no band round the globe)."""
    line = (("2003", "Dateline (synthetic)", 179.999, 52.5),)
    w = zoned_world(tmp_path / "w", sites=IDAHO + line)
    got, man = screened(w)
    assert [z["label"] for z in man["zones"]] == ["EPSG:5070 (CONUS Albers)", "EPSG:3338 (Alaska Albers)"]
    gpkg = gpd.read_file(w.out / "sites.gpkg", layer="sites").set_index("site_id")
    west, _, east, _ = gpkg.loc["2003"].geometry.bounds
    assert 0.02 < east - west < 0.04 and west < 180.0 < east  # 1 km radius at 52.5° N: 0.03° of longitude
    assert abs((got.loc["2003", "lon"] - 179.999 + 180) % 360 - 180) < 1e-5
    assert run_cli(["verify", str(w.out)]).exit_code == 0


def test_chunks_and_the_dask_engine_measure_each_zone_with_its_own_layers(zoned, tmp_path):
    """Chunks of one site, locally and on Dask: every chunk gets its zone's layers."""
    w, got, _ = zoned
    for k, extra in enumerate((["--chunk-size", "1"], ["--engine", "dask", "--workers", "1", "--chunk-size", "2"])):
        if "dask" in extra:
            pytest.importorskip("dask_geopandas")
        again = zoned_world(tmp_path / f"w{k}")
        again.extra += extra
        other, man = screened(again)
        assert [z["sites"] for z in man["zones"]] == [2, 3, 1]
        pd.testing.assert_frame_equal(other.loc[got.index, list(COLUMNS)], got[list(COLUMNS)], check_exact=False, rtol=1e-12)


def test_a_streamed_run_that_needs_zones_is_refused_saying_why(tmp_path):
    w = zoned_world(tmp_path / "w", sites=IDAHO + ALEUTIANS)
    polys = gpd.GeoDataFrame({"record_id": [s[0] for s in IDAHO + ALEUTIANS]},
                             geometry=[shapely.Point(s[2], s[3]).buffer(0.01) for s in IDAHO + ALEUTIANS], crs=4326)
    w.sites = tw.write_vector(polys, w.root / "claims.gpkg", layer="claims")
    w.extra += ["--stream", "--commodity", "any"]
    res = run_cli(w.args())
    assert res.exit_code == 1 and "measuring zones, which holds them in memory (leave out --stream)" in res.output
    assert not w.out.exists()
    w.extra.remove("--stream")
    res = run_cli(w.args())  # in memory: the same polygons in two zones
    assert res.exit_code == 0 and "2 measuring zones" in res.output, res.output
