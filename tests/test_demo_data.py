"""The synthetic demo region: determinism, schemas, CRSs and the data quirks it must contain."""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from sitescreen.demo import demo
from sitescreen.demo.region import DESCRIPTION, PARK_CODE, PARK_NAME, REFUGE_NAME, REGION, WILDERNESS_NAMES

REE_RE = re.compile(
    r"Cerium|Lanthanum|Neodymium|Neoymium|Praseodymium|Samarium|Europium|Gadolinium|Terbium|"
    r"Dysprosium|Holmium|Erbium|Thulium|Ytterbium|Lutetium|Yttrium|Scandium"
)
VECTORS = {
    "padus.gpkg": "padus",
    "watersheds.gpkg": "wbdhu10",
    "parks.geojson": None,
    "wilderness/wilderness.shp": None,
}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo") / "nested" / "region"  # created if needed
    config = demo.generate_demo(directory)
    assert config == directory / "sitescreen.toml"
    return directory


@pytest.fixture(scope="module")
def demo_dir_again(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo-again")
    demo.generate_demo(directory, seed=demo.DEFAULT_SEED)
    return directory


def read(directory: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(directory / name, layer=VECTORS[name])


@pytest.fixture(scope="module")
def deposits(demo_dir: Path) -> pd.DataFrame:
    return pd.read_csv(demo_dir / "deposits.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sites(deposits: pd.DataFrame) -> gpd.GeoDataFrame:
    """Deposit rows with a location, as points in EPSG:4326."""
    located = deposits[deposits["location"] != ""].reset_index(drop=True)
    return gpd.GeoDataFrame(located, geometry=gpd.GeoSeries.from_wkt(located["location"]), crs="EPSG:4326")


@pytest.fixture(scope="module")
def padus(demo_dir: Path) -> gpd.GeoDataFrame:
    return read(demo_dir, "padus.gpkg")


def region_albers() -> shapely.Geometry:
    outline = shapely.segmentize(box(*REGION), 0.01)
    return gpd.GeoSeries([outline], crs="EPSG:4326").to_crs("EPSG:5070").iloc[0]


def repaired(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.set_geometry(shapely.make_valid(frame.geometry.values))


def within(points: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> np.ndarray:
    """Boolean per point: inside any of `polygons` (after repair, in the polygons' CRS)."""
    pts = points.to_crs(polygons.crs).geometry.values
    tree = shapely.STRtree(repaired(polygons).geometry.values)
    hits = tree.query(pts, predicate="within")
    inside = np.zeros(len(pts), dtype=bool)
    inside[hits[0]] = True
    return inside


# ---------------------------------------------------------------------------------------------


def test_all_files_written_atomically_and_config_points_at_them(demo_dir: Path) -> None:
    assert demo.DEMO_FILES[-1] == "sitescreen.toml"
    for rel in demo.DEMO_FILES:
        assert (demo_dir / rel).is_file(), rel
    assert not [p.name for p in demo_dir.iterdir() if p.name.startswith(".")], "staging left behind"

    text = (demo_dir / "sitescreen.toml").read_text(encoding="utf-8")
    assert text.startswith("# sitescreen run config for the built-in demo. THE DEMO DATA IS SYNTHETIC.\n")
    config = tomllib.loads(text)
    assert config["title"] == "sitescreen demo — synthetic central-Idaho region (not real data)"
    assert config["sites"] == {"path": "deposits.csv", "radius_m": 1000, "commodity": "rare-earths"}
    assert config["run"] == {"profile": "federal-safeguards"}
    assert config["layers"] == [
        {"role": "federal_land", "path": "padus.gpkg", "name": "PAD-US land (synthetic)", "layer": "padus"},
        {"role": "watershed", "path": "watersheds.gpkg", "name": "Watersheds HUC-10 (synthetic)", "layer": "wbdhu10"},
        {"role": "protected", "path": "parks.geojson", "name": "National park (synthetic)"},
        {"role": "protected", "path": "wilderness/wilderness.shp", "name": "Wilderness (synthetic)"},
        {"role": "dem", "path": "dem.tif", "name": "DEM (synthetic)"},
    ]
    for entry in [config["sites"], *config["layers"]]:
        assert (demo_dir / entry["path"]).is_file()


def test_same_seed_gives_identical_content(demo_dir: Path, demo_dir_again: Path) -> None:
    for name in ("deposits.csv", "sitescreen.toml", "parks.geojson"):
        assert (demo_dir / name).read_bytes() == (demo_dir_again / name).read_bytes(), name
    for name in VECTORS:
        assert_geodataframe_equal(read(demo_dir, name), read(demo_dir_again, name), check_less_precise=False)
    with rasterio.open(demo_dir / "dem.tif") as a, rasterio.open(demo_dir_again / "dem.tif") as b:
        assert a.profile == b.profile
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_other_seed_gives_other_data(demo_dir: Path, tmp_path: Path) -> None:
    demo.generate_demo(tmp_path, seed=7)
    assert (tmp_path / "deposits.csv").read_text() != (demo_dir / "deposits.csv").read_text()


def test_crs_of_each_file(demo_dir: Path, deposits: pd.DataFrame) -> None:
    assert set(deposits["crs"]) <= {"EPSG:4326", ""}
    assert read(demo_dir, "padus.gpkg").crs.to_epsg() == 5070
    assert read(demo_dir, "watersheds.gpkg").crs.to_epsg() == 4269
    assert read(demo_dir, "parks.geojson").crs.to_epsg() == 4326
    assert read(demo_dir, "wilderness/wilderness.shp").crs.to_epsg() == 5070
    with rasterio.open(demo_dir / "dem.tif") as src:
        assert src.crs.to_epsg() == 26911


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("padus.gpkg", {"Unit_Nm", "Mang_Type", "Mang_Name", "Des_Tp", "GAP_Sts", "GIS_Acres"}),
        ("watersheds.gpkg", {"huc10", "name", "areasqkm", "states", "loaddate"}),
        ("parks.geojson", {"UNIT_CODE", "UNIT_NAME", "UNIT_TYPE", "STATE", "REGION"}),
        ("wilderness/wilderness.shp", {"NAME1", "NAME2", "FEATURE1", "AGBUR", "STATE", "STATE_FIPS"}),
    ],
)
def test_field_names_follow_the_national_schemas(demo_dir: Path, name: str, fields: set[str]) -> None:
    assert fields <= set(read(demo_dir, name).columns)


def test_deposit_csv_matches_the_minmod_export(demo_dir: Path, deposits: pd.DataFrame) -> None:
    text = (demo_dir / "deposits.csv").read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert header == [
        "ms_uri", "source_id", "record_id", "country", "state_or_province", "location", "crs",
        "other_names", "site_name", "commodity", "deposit_type",
    ]  # fmt: skip
    assert "\r" not in text
    assert ',"",' in text  # empty fields are quoted, as in the real export
    assert set(deposits["country"]) == {"United States"}
    assert set(deposits["state_or_province"]) == {"Idaho"}
    assert set(deposits["source_id"]) == {
        "https://mrdata.usgs.gov/mrds",
        "https://mrdata.usgs.gov/ree",
        "https://mrdata.usgs.gov/carbonatite",
    }
    assert deposits["record_id"].is_unique
    assert deposits["ms_uri"].is_unique
    assert deposits["site_name"].str.startswith("Demo ").all()
    assert deposits["site_name"].str.endswith("(synthetic)").all()

    located = deposits[deposits["location"] != ""]
    assert (deposits["location"] == "").sum() == 6
    assert located["location"].str.fullmatch(r"POINT ?\(-11[345]\.\d+ 4[45]\.\d+\)").all()
    assert located["location"].str.startswith("POINT(").sum() >= 10
    assert located["location"].str.startswith("POINT (").sum() >= 150

    is_ree = located["commodity"].str.contains(REE_RE)
    assert is_ree.sum() >= 220
    assert 25 <= (~is_ree).sum() <= 35
    assert located["commodity"].str.contains("Neoymium").sum() >= 3
    metal = "(Gold|Silver|Copper|Molybdenum|Lead|Zinc|Cobalt|Tungsten|Antimony)"
    assert located.loc[~is_ree, "commodity"].str.fullmatch(f"{metal}(,{metal})*").all()
    assert not located.loc[~is_ree, "deposit_type"].str.contains("REE").any()


def test_duplicate_records_from_another_source_within_300_m(sites: gpd.GeoDataFrame) -> None:
    xy = shapely.get_coordinates(sites.to_crs("EPSG:26911").geometry.values)
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    i, j = np.nonzero(np.triu(dist < 300.0, k=1))
    assert len(i) == 25
    assert (dist[i, j] >= 20.0).all()
    assert len({*i, *j}) == 50  # pairs, not clusters
    a, b = sites.iloc[i].reset_index(drop=True), sites.iloc[j].reset_index(drop=True)
    assert (a["source_id"] != b["source_id"]).all()
    assert (a["record_id"] != b["record_id"]).all()
    assert (a["site_name"] != b["site_name"]).all()
    assert (a["commodity"].str.contains(REE_RE) & b["commodity"].str.contains(REE_RE)).all()
    for x, y in zip(a["site_name"], b["site_name"]):
        assert difflib.SequenceMatcher(None, x, y).ratio() > 0.75, (x, y)


def test_padus_values_coverage_and_invalid_polygons(padus: gpd.GeoDataFrame) -> None:
    assert set(padus["GAP_Sts"]) == {"1", "2", "3", "4"}
    assert padus["GIS_Acres"].dtype == float and (padus["GIS_Acres"] > 0).all()
    assert set(padus["Mang_Type"]) == {"FED", "STAT", "LOC", "PVT", "NGO"}
    assert {"BLM", "USFS", "NPS", "FWS", "BOR", "SDOL"} <= set(padus["Mang_Name"])
    assert {"NF", "PUB", "WA", "NP", "NWR", "SOTH"} <= set(padus["Des_Tp"])
    assert (padus.geom_type == "MultiPolygon").sum() >= 2
    assert padus["Unit_Nm"].str.endswith("(synthetic)").all()

    invalid = ~shapely.is_valid(padus.geometry.values)
    assert 2 <= invalid.sum() <= 3
    fixed = repaired(padus)
    assert shapely.is_valid(fixed.geometry.values).all()

    region = region_albers()
    federal = fixed[fixed["Mang_Name"].isin(["BLM", "USFS"]) & (fixed["Des_Tp"] != "WA")]
    share = shapely.union_all(federal.geometry.values).intersection(region).area / region.area
    assert 0.55 <= share <= 0.65
    state = shapely.union_all(fixed.loc[fixed["Mang_Type"] == "STAT"].geometry.values).area / region.area
    assert 0.07 <= state <= 0.13
    assert shapely.union_all(fixed.geometry.values).area / region.area < 0.85  # private land: gaps

    def single(**where: str) -> gpd.GeoSeries:
        rows = fixed
        for key, value in where.items():
            rows = rows[rows[key] == value]
        assert len(rows) == 1, where
        return rows.iloc[0]

    columns = ["Unit_Nm", "Mang_Name", "GAP_Sts"]
    assert single(Des_Tp="NWR")[columns].tolist() == [REFUGE_NAME, "FWS", "2"]
    assert single(Des_Tp="NP")[columns].tolist() == [PARK_NAME, "NPS", "2"]
    assert single(Des_Tp="WA")[columns].tolist() == [WILDERNESS_NAMES[0], "USFS", "1"]


def test_watersheds_tile_without_overlap_and_leave_the_south_east_out(
    demo_dir: Path, sites: gpd.GeoDataFrame
) -> None:
    sheds = read(demo_dir, "watersheds.gpkg")
    assert sheds["huc10"].is_unique
    assert sheds["huc10"].str.fullmatch(r"170602\d{4}").all()
    assert set(sheds["states"]) == {"ID"}
    assert sheds["name"].str.endswith("(synthetic)").all()
    assert 25 <= len(sheds) <= 40

    albers = sheds.to_crs("EPSG:5070").geometry.values
    assert shapely.is_valid(albers).all()
    np.testing.assert_allclose(sheds["areasqkm"], shapely.area(albers) / 1e6, atol=0.01)
    left, right = shapely.STRtree(albers).query(albers, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(albers[left[pairs]], albers[right[pairs]])).sum()
    assert overlap < 1.0  # m², i.e. shared edges only

    region = region_albers()
    gap = region.difference(shapely.union_all(albers))
    assert 0.08 <= gap.area / region.area <= 0.12
    assert gap.centroid.x > region.centroid.x and gap.centroid.y < region.centroid.y  # south-east
    assert (~within(sites, sheds)).sum() >= 3


def test_deposits_fall_in_every_land_class(
    demo_dir: Path, sites: gpd.GeoDataFrame, padus: gpd.GeoDataFrame
) -> None:
    ree = sites[sites["commodity"].str.contains(REE_RE)]
    federal = padus[padus["Mang_Name"].isin(["BLM", "USFS"]) & (padus["Mang_Type"] == "FED")]
    assert within(ree, federal).sum() >= 20
    assert within(ree, padus[padus["Mang_Type"] == "STAT"]).sum() >= 3
    assert (~within(ree, padus)).sum() >= 3  # private land: no PAD-US polygon
    assert within(ree, padus[padus["Des_Tp"] == "NWR"]).sum() >= 3

    wilderness = read(demo_dir, "wilderness/wilderness.shp")
    in_wilderness = within(ree, wilderness)
    assert in_wilderness.sum() >= 5
    assert (~in_wilderness & within(ree, wilderness.set_geometry(wilderness.buffer(5000)))).sum() >= 5

    parks = read(demo_dir, "parks.geojson")
    in_park = within(ree, parks)
    assert in_park.sum() >= 3
    park_albers = parks.to_crs("EPSG:5070")
    near = within(ree, park_albers.set_geometry(park_albers.buffer(5000))) & ~in_park
    assert near.sum() >= 3


def test_park_and_wildernesses(demo_dir: Path) -> None:
    parks = read(demo_dir, "parks.geojson")
    assert len(parks) == 1
    park = parks.iloc[0]
    assert (park["UNIT_CODE"], park["UNIT_NAME"], park["UNIT_TYPE"], park["STATE"], park["REGION"]) == (
        PARK_CODE, PARK_NAME, "National Park", "ID", "PW",
    )  # fmt: skip
    assert 150 <= parks.to_crs("EPSG:5070").area.iloc[0] / 1e6 <= 300
    assert DESCRIPTION in (demo_dir / "parks.geojson").read_text()

    wild = read(demo_dir, "wilderness/wilderness.shp")
    assert set(wild["NAME1"]) == set(WILDERNESS_NAMES)
    assert wild["NAME1"].value_counts()[WILDERNESS_NAMES[0]] == 2  # split, as in the real data
    assert set(wild["FEATURE1"]) == {"Wilderness FS", "Wilderness BLM"}
    assert set(wild["AGBUR"]) == {"FS", "BLM"}
    assert set(wild["STATE"]) == {"ID"} and set(wild["STATE_FIPS"]) == {"16"}
    assert (wild.geom_type == "Polygon").all() and wild.is_valid.all()


def test_dem_is_a_tiled_compressed_float_grid_with_a_nodata_edge(demo_dir: Path) -> None:
    with rasterio.open(demo_dir / "dem.tif") as src:
        assert src.dtypes == ("float32",)
        assert src.nodata == -9999
        assert src.res == (90.0, 90.0)
        assert src.block_shapes == [(256, 256)]
        assert src.profile["tiled"] and src.compression.value == "DEFLATE"
        assert src.tags()["TIFFTAG_IMAGEDESCRIPTION"] == DESCRIPTION
        region = gpd.GeoSeries([shapely.segmentize(box(*REGION), 0.01)], crs="EPSG:4326")
        minx, miny, maxx, maxy = region.to_crs(src.crs).total_bounds
        assert src.bounds.left < minx and src.bounds.bottom < miny
        assert src.bounds.right > maxx and src.bounds.top > maxy
        z = src.read(1, masked=True)
    nodata = np.ma.getmaskarray(z)
    assert nodata[:, -1].all() and not nodata[:, 0].any()  # a band along the east edge ...
    assert not nodata[:, : nodata.shape[1] // 2].any()  # ... and only there
    assert 0.005 < nodata.mean() < 0.03
    assert 850 <= z.min() and z.max() <= 3300
    gy, gx = np.gradient(z.filled(np.nan).astype(float), 90.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    slope = slope[np.isfinite(slope)]
    assert (slope < 2).mean() > 0.1  # flat valley floors
    assert (slope > 30).sum() > 1000  # and steep mountain sides


def test_demo_folder_is_small(demo_dir: Path) -> None:
    total = sum(p.stat().st_size for p in demo_dir.rglob("*") if p.is_file())
    assert total < 5_000_000
