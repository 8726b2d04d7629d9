"""The Idaho rare-earth records screened against the real public layers in ../shared/data.

Every fact asserted here is computed independently in the test (plain shapely / rasterio on the
source files, with nothing from sitescreen but the footprints it is checked against), or comes
from the data README. One screening is shared by the whole module (it takes a few seconds).
"""

from __future__ import annotations

import hashlib
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rasterio.features
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from sitescreen.cli import main
from sitescreen.run.config import config_from_dict
from sitescreen.measure.coverage import MIN_COVERAGE
from sitescreen.errors import CRSError
from sitescreen.run.pipeline import screen
from sitescreen.record.manifest import to_data

pytestmark = pytest.mark.realdata

ALBERS = "EPSG:5070"
RADIUS_M = 1000.0  # the default footprint radius (SiteOptions.radius_m; README "Screening real data")
SEARCH_RADIUS_M = 50_000.0  # protected_setback's search radius in the default profile

DEPOSITS = "mineral_deposits/lanthanum_datafile.csv"
PADUS = "federal_lands/padus_ID.geojson"
HUC8 = "watersheds/huc8_pnw.geojson"
PARKS = "protected_areas/nps_national_parks.geojson"
WILDERNESS = "protected_areas/wilderness_usgs_national_atlas/wilderness.shp"
DEM = "rasters/reynolds_creek_tollgate_topo_50m.tif"


# ------------------------------------------------------------------------------------------
# fixtures: the screening, and the source layers read independently


def idaho_config(data):
    return {
        "title": "Idaho rare-earth records",
        "sites": {"path": str(data / DEPOSITS), "where": {"state": ["Idaho"]}},
        "layers": [
            {"role": "federal_land", "path": str(data / PADUS)},
            {"role": "watershed", "path": str(data / HUC8)},
            {"role": "protected", "path": str(data / PARKS)},
            {"role": "protected", "path": str(data / WILDERNESS)},
        ],
    }


@pytest.fixture(scope="module")
def idaho(shared_data):
    """The Idaho records screened with the default profile (a sitescreen.run.pipeline.Result)."""
    return screen(config_from_dict(idaho_config(shared_data), shared_data, "test_realdata_idaho"))


@pytest.fixture(scope="module")
def sites(idaho):
    return idaho.sites


@pytest.fixture(scope="module")
def records(shared_data):
    """The raw deposit file, every row as text (as the README describes it)."""
    return pd.read_csv(shared_data / DEPOSITS, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def idaho_points(records):
    """Idaho records with a location, as points in CONUS Albers."""
    rows = records[(records["state_or_province"] == "Idaho") & (records["location"].str.strip() != "")]
    rows = rows.reset_index(drop=True)
    return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries.from_wkt(rows["location"]), crs="EPSG:4326").to_crs(ALBERS)


@pytest.fixture(scope="module")
def padus(shared_data):
    """PAD-US management units, repaired with make_valid, in CONUS Albers."""
    gdf = gpd.read_file(shared_data / PADUS)
    return gdf.set_geometry(shapely.make_valid(gdf.geometry.to_numpy())).to_crs(ALBERS)


@pytest.fixture(scope="module")
def federal(padus):
    """Federal land, dissolved: the federal agencies' units and the Department of Energy (the only
    federal unit coded OTHF, "other": the other 35 are Idaho state bodies or unnamed, issue 11)."""
    fed = padus["agency"].isin(["BLM", "USFS", "FWS", "BOR", "NPS"]) | (padus["name"] == "Department of Energy")
    return shapely.union_all(padus.loc[fed].geometry.to_numpy())


@pytest.fixture(scope="module")
def protected(shared_data, padus, sites):
    """Permanently protected features near the sites: wilderness, national parks, PAD-US NPS/FWS units."""
    pad = SEARCH_RADIUS_M + 20_000
    minx, miny, maxx, maxy = sites.total_bounds
    wild = gpd.read_file(shared_data / WILDERNESS, bbox=(minx - pad, miny - pad, maxx + pad, maxy + pad))
    assert wild.crs.to_epsg() == 5070  # README: the wilderness layer is in CONUS Albers already
    parks = gpd.read_file(shared_data / PARKS)
    parks = parks.set_geometry(shapely.make_valid(parks.geometry.to_numpy())).to_crs(ALBERS)
    units = padus[padus["agency"].isin(["NPS", "FWS"])]
    frames = [
        gpd.GeoDataFrame({"name": wild["NAME1"], "kind": "wilderness"}, geometry=wild.geometry.to_numpy(), crs=ALBERS),
        gpd.GeoDataFrame({"name": parks["UNIT_NAME"], "kind": "nps"}, geometry=parks.geometry.to_numpy(), crs=ALBERS),
        gpd.GeoDataFrame({"name": units["name"], "kind": units["agency"].str.lower()},
                         geometry=units.geometry.to_numpy(), crs=ALBERS),
    ]
    return pd.concat(frames, ignore_index=True)


def overlap_areas(footprints: np.ndarray, features: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area of every (site, feature) intersection with positive area (features clipped to the site first)."""
    site, feat = shapely.STRtree(features.geometry.to_numpy()).query(footprints, predicate="intersects")
    bounds = shapely.bounds(footprints[site])
    clipped = np.array([shapely.clip_by_rect(g, *b) for g, b in zip(features.geometry.to_numpy()[feat], bounds)],
                       dtype=object)
    area = shapely.area(shapely.intersection(footprints[site], clipped))
    out = pd.DataFrame({"site": site, "feature": feat, "area": area,
                        "name": features["name"].to_numpy()[feat], "kind": features["kind"].to_numpy()[feat]})
    return out[out["area"] > 0].reset_index(drop=True)


def covered_fraction(footprints: np.ndarray, dissolved) -> np.ndarray:
    """Share of each footprint's area inside a dissolved (union_all) layer: the sum over its disjoint
    parts, each clipped to the footprint's box before the intersection (fast on huge polygons)."""
    parts = shapely.get_parts(dissolved)
    fo = gpd.GeoDataFrame({"name": np.arange(len(parts)), "kind": ""}, geometry=parts)
    hits = overlap_areas(footprints, fo)
    covered = np.bincount(hits["site"].to_numpy(), weights=hits["area"].to_numpy(), minlength=len(footprints))
    return covered / shapely.area(footprints)


# ------------------------------------------------------------------------------------------
# the run


def test_run_in_conus_albers_with_every_layer(idaho, shared_data):
    m = to_data(idaho.manifest)
    assert m["crs"] == ALBERS
    names = {e["path"]: e for e in m["inputs"]}
    assert set(names) == {str(shared_data / p) for p in (PADUS, HUC8, PARKS, WILDERNESS)}
    assert names[str(shared_data / PADUS)]["schema"] == "padus-units"
    assert names[str(shared_data / HUC8)]["schema"] == "wbd"
    assert names[str(shared_data / PARKS)]["schema"] == "nps"
    assert names[str(shared_data / WILDERNESS)]["schema"] == "wilderness"
    # README: 16 PAD-US geometries are invalid; every one that is read is repaired and counted
    padus_entry = names[str(shared_data / PADUS)]
    assert padus_entry["features_read"] == 245
    assert padus_entry["repairs"] == 16


def test_footprints_are_buffered_record_locations(sites, idaho_points):
    """Each footprint is a ~1 km disc around its records' mean location (checked from the raw file)."""
    by_id = idaho_points.set_index("record_id").geometry
    centre = np.array([
        shapely.get_coordinates(by_id.loc[ids.split(",")].to_numpy()).mean(axis=0) for ids in sites["record_ids"]
    ])
    got = shapely.get_coordinates(sites.geometry.centroid.to_numpy())
    assert np.abs(got - centre).max() < 1.0
    area = sites.geometry.area.to_numpy()
    np.testing.assert_allclose(area, np.pi * RADIUS_M**2, rtol=5e-3)


# ------------------------------------------------------------------------------------------
# exclusions


def test_sites_in_wilderness_or_nps_units_are_excluded_and_named(sites, protected):
    fp = sites.geometry.to_numpy()
    hits = overlap_areas(fp, protected)
    # the central Idaho REE belt reaches into the Frank Church wilderness (README samples); and
    # at least one site touches a National Park Service unit (PAD-US agency NPS)
    assert "Frank Church-River of No Return Wilderness" in set(hits["name"])
    assert (hits["kind"] == "nps").any()
    for site, group in hits.groupby("site"):
        row = sites.iloc[site]
        assert row["verdict"] == "excluded", (row["site_id"], row["reasons"])
        assert "excluded by protected_overlap" in row["reasons"]
        # the reason names the feature with the largest overlap (ties: any of them)
        best = set(group.loc[group["area"] >= group["area"].max() * (1 - 1e-9), "name"])
        assert any(name in row["reasons"] for name in best), (row["site_id"], best, row["reasons"])


def test_wilderness_names_in_reasons(sites, protected):
    """Sites touching one wilderness only: that wilderness' NAME1 is in the reasons."""
    hits = overlap_areas(sites.geometry.to_numpy(), protected)
    only_wild = hits.groupby("site").filter(lambda g: (g["kind"] == "wilderness").all() and g["name"].nunique() == 1)
    assert len(only_wild) >= 10
    for site, group in only_wild.groupby("site"):
        assert group["name"].iloc[0] in sites["reasons"].iloc[site]


def test_overlap_and_setback_exclusions_match_independent(sites, protected):
    fp = sites.geometry.to_numpy()
    overlaps = np.zeros(len(fp), dtype=bool)
    overlaps[overlap_areas(fp, protected)["site"].to_numpy()] = True
    union = shapely.union_all(protected.geometry.to_numpy())
    near = shapely.distance(fp, union) < 300  # the profile's setback exclusion
    np.testing.assert_array_equal(sites["verdict"].to_numpy() == "excluded", overlaps | near)
    assert (sites.loc[near & ~overlaps, "reasons"].str.contains("excluded by protected_setback")).all()


# ------------------------------------------------------------------------------------------
# watershed coverage


def test_sites_outside_huc8_coverage_have_no_watershed_data(sites, shared_data):
    # the sites' reach in lon/lat, with a margin: the read needs no more of region 17
    minx, miny, maxx, maxy = sites.to_crs(4326).total_bounds
    huc = gpd.read_file(shared_data / HUC8, bbox=(minx - 0.5, miny - 0.5, maxx + 0.5, maxy + 0.5)).to_crs(ALBERS)
    fp = sites.geometry.to_numpy()
    frac = covered_fraction(fp, shapely.union_all(huc.geometry.to_numpy()))
    outside = frac == 0
    assert outside.sum() >= 1
    # README: region 17 covers all of Idaho but the south-east corner (Bear River, Great Basin)
    lonlat = sites.loc[outside].geometry.centroid.to_crs(4326)
    assert (lonlat.x > -113.5).all() and (lonlat.y < 43.0).all()
    for col in ("m_watershed", "m_watershed_pressure"):
        assert sites.loc[outside, col].isna().all()
        assert sites.loc[frac > MIN_COVERAGE + 1e-6, col].notna().all()
        assert sites.loc[frac < MIN_COVERAGE - 1e-6, col].isna().all()
    verdicts = sites.loc[outside, "verdict"]
    assert ((verdicts == "incomplete") | (verdicts == "excluded")).all()
    assert (verdicts == "incomplete").any()
    assert sites.loc[outside & (sites["verdict"] == "incomplete"), "score"].isna().all()
    assert sites.loc[outside & (sites["verdict"] == "incomplete"), "reasons"].str.contains("no data for watershed").all()
    # inside the coverage, the HUC is a real 8-digit HUC of region 17
    assert sites.loc[frac > 1 - 1e-9, "m_watershed"].astype(str).str.fullmatch(r"17\d{6}").all()


# ------------------------------------------------------------------------------------------
# federal land


def test_federal_fraction_matches_independent_union(sites, padus, federal):
    fp = sites.geometry.to_numpy()
    expected = covered_fraction(fp, federal)
    got = sites["m_federal_land"].to_numpy(dtype=float)
    assert np.isfinite(got).all()
    diff = np.abs(got - expected)
    assert diff.max() <= 0.001, sites.loc[diff > 0.001, ["site_id", "m_federal_land"]].assign(expected=expected[diff > 0.001])
    # and the sites that touch state land are not credited with it
    state = shapely.union_all(padus.loc[padus["agency"] == "STA"].geometry.to_numpy())
    on_state = covered_fraction(fp, shapely.difference(state, federal))
    assert (on_state > 0.01).any()
    assert (got[on_state > 0.01] <= 1 - on_state[on_state > 0.01] + 0.001).all()


def _square_inside(parts: np.ndarray, avoid, half: float = 600.0):
    """A square of side 2*half wholly inside one of ``parts`` and clear of ``avoid``."""
    for poly in parts[np.argsort(-shapely.area(parts))]:
        centre, radius = shapely.maximum_inscribed_circle(poly, tolerance=10.0).coords
        r = np.hypot(radius[0] - centre[0], radius[1] - centre[1])
        h = min(half, r / 1.5)
        sq = box(centre[0] - h, centre[1] - h, centre[0] + h, centre[1] + h)
        if shapely.within(sq, poly) and not shapely.intersects(sq, avoid):
            return sq
    raise AssertionError("no parcel large enough")


def test_state_land_does_not_count_as_federal(shared_data, padus, federal, tmp_path):
    state = padus.loc[padus["agency"] == "STA"].geometry.to_numpy()
    on_state = _square_inside(shapely.get_parts(state), federal)
    on_blm = _square_inside(shapely.get_parts(padus.loc[padus["agency"] == "BLM"].geometry.to_numpy()),
                            shapely.union_all(state))
    claims = gpd.GeoDataFrame({"site_id": ["STATE", "BLM"], "name": ["state parcel", "BLM parcel"]},
                              geometry=[on_state, on_blm], crs=ALBERS)
    claims.to_file(tmp_path / "claims.gpkg", layer="claims")
    cfg = config_from_dict({"sites": {"path": "claims.gpkg"},
                            "layers": [{"role": "federal_land", "path": str(shared_data / PADUS)}]},
                           tmp_path, "claims")
    result = screen(cfg).sites.set_index("site_id")
    assert result.loc["STATE", "m_federal_land"] == pytest.approx(0.0, abs=1e-9)
    assert result.loc["BLM", "m_federal_land"] == pytest.approx(1.0, abs=1e-9)
    assert result.loc["STATE", "s_federal_land"] == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------------------------
# distance to protected land


def test_protected_distance_matches_independent_union(sites, protected, idaho):
    crit = {c["name"]: c for c in to_data(idaho.manifest)["criteria"]}["protected_setback"]
    assert crit["params"]["search_radius_m"] == SEARCH_RADIUS_M
    union = shapely.union_all(protected.geometry.to_numpy())
    expected = shapely.distance(sites.geometry.to_numpy(), union)
    got = sites["m_protected_setback"].to_numpy(dtype=float)
    assert not np.isnan(got).any()
    finite = np.isfinite(got)
    assert finite.sum() > len(got) / 2
    assert np.abs(got[finite] - expected[finite]).max() <= 1.0
    assert (~finite).any()
    assert (expected[~finite] > SEARCH_RADIUS_M).all()
    assert (expected[finite] <= SEARCH_RADIUS_M + 1.0).all()


# ------------------------------------------------------------------------------------------
# records: duplicates and missing locations


def test_duplicate_records_are_merged(sites, idaho, idaho_points, records):
    stats = to_data(idaho.manifest)["sites"]
    # README: 285 rows of the whole file have an empty location
    assert (records["location"].str.strip() == "").sum() == 285
    assert stats["records_without_location"] == 285
    assert stats["duplicates_merged"] > 0
    assert len(sites) == len(idaho_points) - stats["duplicates_merged"]
    # every located Idaho record ends in exactly one site
    ids = [i for s in sites["record_ids"] for i in s.split(",")]
    assert sorted(ids) == sorted(idaho_points["record_id"])
    site_of = {i: k for k, s in enumerate(sites["record_ids"]) for i in s.split(",")}
    # records with the same name within 300 m are one deposit, reported twice
    pts = idaho_points.geometry.to_numpy()
    i, j = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=300)
    names = idaho_points["site_name"].str.lower().str.strip().to_numpy()
    same = (i < j) & (names[i] == names[j])
    assert same.sum() >= 10
    rid = idaho_points["record_id"].to_numpy()
    for a, b in zip(rid[i[same]], rid[j[same]]):
        assert site_of[a] == site_of[b], (a, b)
    # similar, not identical, names at the same place: one site listing both record ids
    # (MRDS lists Monumental Summit twice at one point, under two spellings)
    monumental = idaho_points.loc[idaho_points["site_name"].str.startswith("Monumental Summit Rare")
                                  & idaho_points["source_id"].str.endswith("/mrds"), "record_id"]
    assert len(monumental) == 2
    merged = sites.iloc[site_of[monumental.iloc[0]]]
    assert set(merged["record_ids"].split(",")) == set(monumental)
    # far apart, they stay separate deposits (Mineral Hill vs Mineral Hill District, ~9 km)
    hill = idaho_points.loc[idaho_points["site_name"].str.startswith("Mineral Hill"), "record_id"]
    assert len(hill) == 2 and site_of[hill.iloc[0]] != site_of[hill.iloc[1]]
    lemhi = idaho_points.loc[idaho_points["site_name"] == "Lemhi Pass", "record_id"]
    assert len(lemhi) == 1 and sites.iloc[site_of[lemhi.iloc[0]]]["name"] == "Lemhi Pass"


# ------------------------------------------------------------------------------------------
# the DEM (its CRS tag is wrong)


def _dem_sites(shared_data, tmp_path):
    """Cell-aligned squares inside the DEM (+ one square outside it), and their direct means."""
    with rasterio.open(shared_data / DEM) as src:
        t = src.transform
        cells = src.read(1)
        assert src.crs.to_epsg() == 4326  # the wrong tag the README warns about
    blocks = [(10, 20, 4), (100, 300, 10), (250, 500, 6), (0, 0, 2)]  # (col, row, size in cells)
    squares = [box(t.c + c * t.a, t.f + (r + k) * t.e, t.c + (c + k) * t.a, t.f + r * t.e) for c, r, k in blocks]
    # direct means, two ways: array slices, and a geometry mask of the squares
    direct = np.array([cells[r:r + k, c:c + k].mean(dtype=float) for c, r, k in blocks])
    for sq, mean in zip(squares, direct):
        inside = rasterio.features.geometry_mask([sq], cells.shape, t, invert=True)
        assert cells[inside].mean(dtype=float) == pytest.approx(mean, rel=1e-12)
    outside = box(t.c - 5000, t.f - 1000, t.c - 4000, t.f)  # 4 km west of the DEM
    ids = ["a", "b", "c", "d", "off"]
    gdf = gpd.GeoDataFrame({"site_id": ids, "name": ids}, geometry=squares + [outside], crs="EPSG:32611")
    gdf.to_file(tmp_path / "dem_sites.gpkg", layer="sites")
    (tmp_path / "dem_profile.toml").write_text(
        'name = "dem-test"\n'
        "[criteria.elevation]\n"
        'kind = "raster"\nrole = "dem"\nstat = "mean"\nunit = "m"\nweight = 1.0\n'
        'transform = { kind = "linear", points = [[0, 1.0], [3000, 0.0]] }\n'
        'safeguard = "test"\nsource = "test"\n', encoding="utf-8")
    return direct


@pytest.mark.parametrize("run_crs", [None, "EPSG:32611"], ids=["albers", "utm"])
def test_dem_zonal_mean_matches_direct_computation(shared_data, tmp_path, run_crs):
    direct = _dem_sites(shared_data, tmp_path)
    run = {"profile": "dem_profile.toml"} | ({"crs": run_crs} if run_crs else {})
    cfg = config_from_dict({"sites": {"path": "dem_sites.gpkg"}, "run": run,
                            "layers": [{"role": "dem", "path": str(shared_data / DEM), "crs": "EPSG:32611"}]},
                           tmp_path, "dem")
    result = screen(cfg)
    assert result.manifest.crs == (run_crs or ALBERS)
    got = result.sites.set_index("site_id")
    np.testing.assert_allclose(got.loc[["a", "b", "c", "d"], "m_elevation"].to_numpy(dtype=float), direct, rtol=1e-6)
    assert np.isnan(got.loc["off", "m_elevation"])
    assert got.loc["off", "verdict"] == "incomplete"
    entry = next(e for e in result.manifest.inputs if e.role == "dem")
    assert entry.crs_override == "EPSG:32611"


def test_dem_without_override_is_refused(shared_data, tmp_path):
    _dem_sites(shared_data, tmp_path)
    cfg = config_from_dict({"sites": {"path": "dem_sites.gpkg"}, "run": {"profile": "dem_profile.toml"},
                            "layers": [{"role": "dem", "path": str(shared_data / DEM)}]}, tmp_path, "dem")
    with pytest.raises(CRSError, match="override"):
        screen(cfg)
    res = CliRunner().invoke(main, ["screen", str(tmp_path / "dem_sites.gpkg"), "--profile",
                                    str(tmp_path / "dem_profile.toml"), "--layer", f"dem={shared_data / DEM}",
                                    "--out", str(tmp_path / "out"), "--no-map", "--no-report"])
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: ")
    assert str(shared_data / DEM) in res.output and "override" in res.output and "EPSG:4326" in res.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------
# the README command, end to end


def _sha256(*paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_readme_command_end_to_end(shared_data, tmp_path, sites):
    out = tmp_path / "idaho"
    args = ["screen", str(shared_data / DEPOSITS), "--sites-where", "state=Idaho",
            "--layer", f"federal_land={shared_data / PADUS}", "--layer", f"watershed={shared_data / HUC8}",
            "--layer", f"protected={shared_data / PARKS}", "--layer", f"protected={shared_data / WILDERNESS}",
            "--out", str(out), "--no-map", "--no-report"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert re.search(rf"Screened {len(sites)} sites", res.output)
    assert {p.name for p in out.iterdir()} >= {"sites.gpkg", "sites.parquet", "sites.csv", "manifest.json"}
    assert [name for name, _ in pyogrio.list_layers(out / "sites.gpkg")][0] == "sites"

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sha = {e["path"]: e["sha256"] for e in manifest["inputs"]}
    for rel in (PADUS, HUC8, PARKS):
        assert sha[str(shared_data / rel)] == _sha256(shared_data / rel)
    shp = shared_data / WILDERNESS
    assert sha[str(shp)] == _sha256(*sorted(shp.parent / f"wilderness{ext}" for ext in (".dbf", ".prj", ".shp", ".shx")))
    assert manifest["sites"]["sha256"] == _sha256(shared_data / DEPOSITS)

    # the files hold the same screening as the in-process run
    cols = ["site_id", "verdict", "score", "m_federal_land", "m_protected_setback", "m_watershed", "geometry"]
    parquet = gpd.read_parquet(out / "sites.parquet")
    assert_geodataframe_equal(parquet[cols], sites[cols], check_dtype=False, check_less_precise=True)
    gpkg = gpd.read_file(out / "sites.gpkg", layer="sites")
    assert_geodataframe_equal(gpkg[["site_id", "verdict", "geometry"]], sites[["site_id", "verdict", "geometry"]],
                              check_dtype=False, check_less_precise=True)
    csv = pd.read_csv(out / "sites.csv", dtype={"site_id": str})
    assert list(csv["site_id"]) == list(sites["site_id"])
    assert list(csv["verdict"]) == list(sites["verdict"])


# ------------------------------------------------------------------------------------------
# the run record and its effective weights (issue 10)


def test_idaho_manifest_validates_against_the_schema(idaho, manifest_validator):
    from sitescreen.record.manifest import to_json
    manifest_validator.validate(json.loads(to_json(idaho.manifest)))


def test_idaho_popup_shows_the_weights_the_score_used(idaho):
    """The issue: with no DEM the popup listed 35/25/20/20 % while the score used 43.75/31.25/25 %."""
    from sitescreen.rules.wording import weight_text as format_weight
    from sitescreen.outputs.mapping import render_map
    from sitescreen.rules.profile import load_profile
    profile = {c.name: c.weight for c in load_profile("federal-safeguards").criteria}
    rec = idaho.manifest
    dropped = [c.name for c in rec.criteria if not c.evaluated and profile[c.name] > 0]
    assert dropped == ["steep_terrain"]  # no DEM in this run
    kept = {c.name: profile[c.name] for c in rec.criteria if c.evaluated and profile[c.name] > 0}
    total = sum(kept.values())
    html = render_map(idaho.sites, [], rec, self_contained=True, basemap="none")
    blocks = [json.loads(m.group(1)) for m in
              re.finditer(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)]
    meta = next(b for b in blocks if isinstance(b, dict) and "criteria" in b and "zf" in b)["criteria"]
    shown = {c["name"]: c["weight"] for c in meta if c["name"] in kept}
    assert shown == {n: format_weight(w / total) for n, w in kept.items()}
    assert sorted(w / total for w in kept.values()) == pytest.approx([0.25, 0.3125, 0.4375])  # the numbers
    scored = idaho.sites["verdict"].isin(["favorable", "review", "unfavorable"]).to_numpy()
    expected = sum(idaho.sites[f"s_{n}"].to_numpy(dtype=float) * w / total for n, w in kept.items()) * 100
    np.testing.assert_allclose(idaho.sites["score"].to_numpy(dtype=float)[scored], expected[scored], atol=1e-3)


# ------------------------------------------------------------------------------------------
# the counts add up (issue 14 item 4)


def test_idaho_counts_chain_closes_and_reads_the_same_everywhere(idaho, records, sites, tmp_path):
    from sitescreen.cli.screen import summary_lines
    from sitescreen.outputs.report import build_report
    from sitescreen.rules.reviewwords import site_chain
    from sitescreen.sites.options import RARE_EARTHS
    located = records["location"].str.strip() != ""
    selected = located & (records["state_or_province"] == "Idaho")
    pattern = r"\b(?:" + "|".join(re.escape(t) for t in RARE_EARTHS) + r")\b"
    ree = selected & records["commodity"].str.lower().str.contains(pattern, regex=True)
    chain = dict(idaho.manifest.sites.chain())
    assert chain["records_read"] == len(records) == 2315  # the data README: 2,315 rows
    assert chain["records_without_location"] == int((~located).sum()) == 285
    assert chain["records_not_selected"] == int((located & ~selected).sum())
    assert chain["records_filtered_out"] == int((selected & ~ree).sum())
    assert chain["records_skipped_invalid"] == chain["records_outside_aoi"] == 0
    assert chain["sites"] == len(sites)
    assert chain["duplicates_merged"] == int(ree.sum()) - len(sites)  # every kept record is in one site
    assert sum(len(s.split(",")) for s in sites["record_ids"]) == int(ree.sum())
    steps = [v for k, v in chain.items() if k not in ("records_read", "sites")]
    assert chain["records_read"] - sum(steps) == chain["sites"]
    line = site_chain(idaho.manifest.sites.chain())
    assert f"{chain['records_not_selected']:,} not selected by the sites filter" in line
    assert line.startswith("2,315 records read − 285 without location − ") and line.endswith(f"= {len(sites)} sites")
    assert f"Sites: {line}." in summary_lines(idaho.manifest, tmp_path)
    assert line in build_report(sites, idaho.manifest)


def test_idaho_site_ids_are_the_record_ids_and_source_fields_are_carried(idaho, sites, idaho_points):
    rec = idaho.manifest.sites
    assert rec.id_field == "record_id" and rec.name_field == "site_name"
    first = {s.split(",")[0] for s in sites["record_ids"]}
    assert set(sites["site_id"]) == first  # a merged site keeps its first record's id
    assert "10009148" in set(sites["site_id"])  # data README sample: Mineral Hill
    row = sites.set_index("site_id").loc["10009148"]
    src = idaho_points.set_index("record_id").loc["10009148"]
    for field in ("ms_uri", "source_id", "site_name", "commodity", "deposit_type", "state_or_province"):
        assert row[f"src_{field}"] == src[field], field
    assert "src_location" not in sites
