"""Candidate sites: commodity filter, duplicate merging, footprints, grids, AOI, run CRS, WKT parsing."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS
from shapely.geometry import Point, box

from sitescreen.run.config import site_options
from sitescreen.errors import ConfigError, LayerConfigError, LayerDataError
from sitescreen.inputs.spec import LayerSpec
from sitescreen.inputs.crs import choose_crs
from sitescreen.sites.aoi import aoi_geometry, apply_aoi, parse_aoi
from sitescreen.sites.dedup import merge_duplicates
from sitescreen.sites.footprints import make_footprints
from sitescreen.sites.grid import grid_sites
from sitescreen.sites.options import SiteOptions, SiteStats
from sitescreen.sites.source import read_sites

ALBERS = CRS.from_epsg(5070)
HEADER = ["ms_uri", "source_id", "record_id", "country", "state_or_province", "location", "crs",
          "other_names", "site_name", "commodity", "deposit_type"]


def write_deposits(path: Path, rows: list[tuple]) -> Path:
    """A deposit CSV in the USGS/MinMod layout: rows of (record_id, state, location, name, commodity)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for rid, state, loc, name, com in rows:
            w.writerow([f"https://minmod/{rid}", "https://mrdata.usgs.gov/mrds", rid, "United States", state, loc,
                        "EPSG:4326", "", name, com, ""])
    return path


ROWS = [
    ("101", "Idaho", "POINT (-114.1676 45.43322)", "Mineral Hill", "Cerium,Dysprosium,Thorium"),
    ("102", "Idaho", "POINT(-113.61666 44.95)", "Lemhi Pass", "Neoymium"),          # misspelt REE, no space
    ("103", "Idaho", "POINT (-115.0 44.0)", "Gold Hill", "Gold,Silver"),             # not REE
    ("104", "Idaho", "", "Lost record", "Lanthanum"),                                # no location
    ("105", "Montana", "POINT (-112.5 45.5)", "Big Hole", "Rare earths"),            # REE words
    ("106", "Idaho", "POINT (-116.0 45.0)", "Free Gold", "Free gold,Copper,Thorium"),  # 'free' is not 'ree'
    ("107", "Idaho", "POINT (-115.5 44.5)", "Yttria", "Yttrium"),
]


@pytest.fixture
def deposits(tmp_path) -> Path:
    return write_deposits(tmp_path / "deposits.csv", ROWS)


def test_commodity_filter_and_counts(deposits):
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits), SiteOptions())
    assert sorted(raw["record_id"]) == ["101", "102", "105", "107"]
    assert stats.records_read == 7
    assert stats.records_without_location == 1
    assert stats.records_filtered_out == 2
    assert stats.schema == "usgs-deposits" and stats.source_crs == "EPSG:4326"
    # WKT with and without a space after POINT both parse
    lemhi = raw.set_index("record_id").geometry.loc["102"]
    assert (lemhi.x, lemhi.y) == (-113.61666, 44.95)


def test_commodity_any_and_word_list(deposits):
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits), SiteOptions(commodity="any"))
    assert len(raw) == 6 and stats.records_filtered_out == 0
    raw, _ = read_sites(LayerSpec(role="sites", path=deposits), SiteOptions(commodity=("gold",)))
    assert sorted(raw["record_id"]) == ["103", "106"]
    with pytest.raises(ConfigError, match="commodity 'coal' is not one of rare-earths, any"):
        SiteOptions(commodity="coal").commodity_terms()


def test_no_matching_commodity_is_an_error(tmp_path):
    path = write_deposits(tmp_path / "d.csv", [("1", "Idaho", "POINT (-114 45)", "Gold Hill", "Gold")])
    with pytest.raises(LayerDataError, match="no record matches commodity 'rare-earths'"):
        read_sites(LayerSpec(role="sites", path=path), SiteOptions())


def test_sites_where_filter(deposits):
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits, where={"state": ("Idaho",)}), SiteOptions())
    assert sorted(raw["record_id"]) == ["101", "102", "107"]
    assert stats.info()["records_not_selected"] == 1
    with pytest.raises(LayerConfigError, match="filter field 'county' is not a field of the sites"):
        read_sites(LayerSpec(role="sites", path=deposits, where={"county": ("Lemhi",)}), SiteOptions())


def test_unparseable_wkt_names_rows_and_skip_invalid(tmp_path):
    rows = ROWS[:2] + [("201", "Idaho", "POINT (abc def)", "Bad", "Cerium"),
                       ("202", "Idaho", "POINT (-114 45", "Worse", "Cerium")]
    path = write_deposits(tmp_path / "bad.csv", rows)
    with pytest.raises(LayerDataError) as err:
        read_sites(LayerSpec(role="sites", path=path), SiteOptions())
    msg = str(err.value)
    assert str(path) in msg and "'location'" in msg
    assert "2 row(s) (line 4, 5)" in msg  # header is line 1
    assert "--skip-invalid" in msg
    raw, stats = read_sites(LayerSpec(role="sites", path=path), SiteOptions(skip_invalid=True))
    assert sorted(raw["record_id"]) == ["101", "102"]
    assert stats.records_skipped_invalid == 2 and stats.records_without_location == 0


# ------------------------------------------------------------------------------------------
# duplicates


def points(rows) -> gpd.GeoDataFrame:
    """(record_id, name, x, y) in CONUS Albers."""
    rid, name, x, y = zip(*rows)
    return gpd.GeoDataFrame({"record_id": list(rid), "name": list(name)},
                            geometry=shapely.points(np.array(x, float), np.array(y, float)), crs=ALBERS)


DUPES = [
    ("1", "Lemhi Pass", 0, 0), ("2", "Lemhi Pass Thorium Prospect", 200, 0),  # similar names, 200 m: one deposit
    ("3", "Mineral Hill", 10_000, 0), ("4", "Copper Queen", 10_300, 0),      # different names, 300 m: two
    ("5", "Alpha", 20_000, 0), ("6", "Zulu", 20_030, 0),                     # 30 m: one whatever the names
    ("7", "Same Name", 30_000, 0), ("8", "Same Name", 31_000, 0),            # 1 km apart: two
    ("9", "Diamond Creek", 40_000, 0), ("10", "Diamond Creek", 40_400, 0),   # a chain of three
    ("11", "Diamond Creek Mine", 40_800, 0),
]


def test_merge_duplicates():
    merged, n = merge_duplicates(points(DUPES), SiteOptions())
    assert n == 4
    groups = {frozenset(ids.split(",")): k for k, ids in enumerate(merged["record_ids"])}
    assert set(groups) == {frozenset(g) for g in (["1", "2"], ["3"], ["4"], ["5", "6"], ["7"], ["8"], ["9", "10", "11"])}
    lemhi = merged.iloc[groups[frozenset(["1", "2"])]]
    assert (lemhi.geometry.x, lemhi.geometry.y) == (100.0, 0.0)  # the records' mean
    assert merged.iloc[groups[frozenset(["9", "10", "11"])]]["n_records"] == 3
    by = merged.set_index("record_ids")
    assert by.loc["1,2", "other_names"] == "Lemhi Pass Thorium Prospect"


def test_merge_is_independent_of_row_order():
    pts = points(DUPES)
    first, n1 = merge_duplicates(pts, SiteOptions())
    for seed in range(3):
        shuffled = pts.sample(frac=1, random_state=seed).reset_index(drop=True)
        again, n2 = merge_duplicates(shuffled, SiteOptions())
        assert n1 == n2
        assert_geodataframe_equal(first.reset_index(drop=True), again.reset_index(drop=True))


def test_merge_does_not_mutate_input():
    pts = points(DUPES)
    before = pts.copy()
    merge_duplicates(pts, SiteOptions())
    assert_geodataframe_equal(pts, before)


def test_merge_distance_is_configurable():
    _, n = merge_duplicates(points(DUPES), SiteOptions(merge_distance_m=100))
    assert n == 1  # only the 30 m pair


# ------------------------------------------------------------------------------------------
# footprints


@pytest.mark.parametrize("radius", [250.0, 1000.0, 5000.0])
def test_footprints_area_and_ids(deposits, radius):
    opts = SiteOptions(radius_m=radius)
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits), opts)
    sites = make_footprints(raw, ALBERS, opts, stats)
    assert sites.crs == ALBERS
    np.testing.assert_allclose(sites.geometry.area, np.pi * radius**2, rtol=3e-3)
    assert list(sites["site_id"]) == sorted(raw["record_id"])
    assert stats.radius_m == radius and stats.duplicates_merged == 0
    # each footprint is centred on its record
    centre = gpd.GeoSeries(raw.set_index("record_id").geometry, crs=4326).to_crs(ALBERS)
    d = sites.set_index("site_id").geometry.centroid.distance(centre.loc[sites["site_id"]])
    assert d.max() < 0.01


def test_footprints_merge_real_style_duplicates(tmp_path):
    rows = [("10070868", "Idaho", "POINT (-114.8717 45.0)", "Monumental Summit Rare - Earth Prospect", "Cerium"),
            ("10241739", "Idaho", "POINT (-114.8717 45.0)", "Monumental Summit Rare-Earth Pr.", "Lanthanum"),
            ("339", "Idaho", "POINT (-113.61666666667 44.95)", "Lemhi Pass", "Thorium-REE")]
    path = write_deposits(tmp_path / "d.csv", rows)
    raw, stats = read_sites(LayerSpec(role="sites", path=path), SiteOptions())
    sites = make_footprints(raw, ALBERS, SiteOptions(), stats)
    assert stats.duplicates_merged == 1 and len(sites) == 2
    assert set(sites["record_ids"]) == {"10070868,10241739", "339"}


def test_polygon_sites_keep_their_shape(tmp_path):
    claims = gpd.GeoDataFrame({"record_id": ["c1", "c2"], "name": ["Claim 1", ""]},
                              geometry=[box(0, 0, 1000, 2000), box(5000, 0, 5500, 500)], crs=ALBERS)
    path = tmp_path / "claims.gpkg"
    claims.to_file(path)
    raw, stats = read_sites(LayerSpec(role="sites", path=path), SiteOptions())
    sites = make_footprints(raw, ALBERS, SiteOptions(), stats)
    assert stats.radius_m is None
    np.testing.assert_allclose(sites.geometry.area, [2e6, 2.5e5])
    assert list(sites["name"]) == ["Claim 1", "c2"]  # an empty name falls back to the id
    assert list(sites["record_ids"]) == ["c1", "c2"]


def test_mixed_geometries_are_refused(tmp_path):
    x, y = -1_450_000, 2_700_000  # central Idaho in CONUS Albers
    gdf = gpd.GeoDataFrame({"name": ["p", "q"]}, geometry=[Point(x, y), box(x, y, x + 1000, y + 1000)], crs=ALBERS)
    gdf.to_file(tmp_path / "mixed.gpkg")
    with pytest.raises(LayerDataError, match="sites must be all points .* or all polygons"):
        read_sites(LayerSpec(role="sites", path=tmp_path / "mixed.gpkg"), SiteOptions())


# ------------------------------------------------------------------------------------------
# grid, AOI, CRS


def test_grid_sites_cover_the_aoi():
    aoi = aoi_geometry((-114.5, 45.0, -114.4, 45.1))
    cells = grid_sites(aoi, ALBERS, 2000.0)
    np.testing.assert_allclose(cells.geometry.area, 4e6)
    area = aoi.to_crs(ALBERS).iloc[0]
    assert shapely.intersects(cells.geometry.to_numpy(), area).all()
    assert shapely.covers(shapely.union_all(cells.geometry.to_numpy()), area)
    assert cells["site_id"].is_unique and cells["site_id"].iloc[0] == "G0000001"
    # about (extent / cell)^2 cells: no more than the bounding box holds
    minx, miny, maxx, maxy = area.bounds
    assert len(cells) <= np.ceil((maxx - minx) / 2000) * np.ceil((maxy - miny) / 2000)
    with pytest.raises(ConfigError, match="grid cell size must be > 0"):
        grid_sites(aoi, ALBERS, 0)


def test_grid_needs_aoi():
    with pytest.raises(ConfigError, match="a grid of sites needs an area of interest"):
        site_options(grid_cell_m=1000)


def test_aoi_bbox_filters_sites(deposits):
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits), SiteOptions())
    aoi = aoi_geometry(parse_aoi("-114.5,45,-113,46"))
    kept = apply_aoi(raw, aoi, stats)
    assert list(kept["record_id"]) == ["101"]
    assert stats.records_outside_aoi == 3
    with pytest.raises(LayerDataError, match="no site lies inside the area of interest"):
        apply_aoi(raw, aoi_geometry((10.0, 10.0, 11.0, 11.0)), SiteStats())


def test_aoi_polygon_file(deposits, tmp_path):
    poly = gpd.GeoDataFrame(geometry=[box(-114.5, 45, -113, 46)], crs=4326).to_crs(ALBERS)
    poly.to_file(tmp_path / "aoi.gpkg")
    assert parse_aoi(str(tmp_path / "aoi.gpkg")) == tmp_path / "aoi.gpkg"
    raw, stats = read_sites(LayerSpec(role="sites", path=deposits), SiteOptions())
    kept = apply_aoi(raw, aoi_geometry(tmp_path / "aoi.gpkg"), stats)
    assert list(kept["record_id"]) == ["101"]


@pytest.mark.parametrize("text", ["1,2,3", "-114,46,-115,45", "a,b,c,d", "-200,0,0,10"])
def test_bad_aoi_bbox(text):
    with pytest.raises(ConfigError, match="--aoi"):
        out = parse_aoi(text)
        if not isinstance(out, tuple):  # not four numbers: read as a file path
            raise ConfigError(f"--aoi {text!r} taken as a path")


@pytest.mark.parametrize("bounds, expected", [
    ((-117.2, 42.0, -111.0, 49.0), 5070),      # Idaho
    ((-124.0, 25.0, -67.0, 49.0), 5070),       # the lower 48
    ((-152.0, 58.0, -140.0, 66.0), 3338),      # Alaska
])
def test_choose_crs(bounds, expected):
    assert choose_crs(bounds).to_epsg() == expected


def test_choose_crs_wide_area_is_equal_area():
    crs = choose_crs((0.0, 0.0, 40.0, 20.0))
    assert crs.to_epsg() is None
    op = crs.coordinate_operation
    assert op.method_name == "Lambert Azimuthal Equal Area"
    params = {p.name: p.value for p in op.params}
    assert params["Longitude of natural origin"] == 20.0 and params["Latitude of natural origin"] == 10.0
