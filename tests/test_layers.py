"""Reading layers: formats, CRS override and wrong-tag detection, repairs, bbox reads, layer names."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS
from shapely.geometry import Point, Polygon, box

from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.inputs.load import load_vector
from sitescreen.inputs.spec import LayerSpec, parse_layer_arg

ALBERS = CRS.from_epsg(5070)
UTM11 = CRS.from_epsg(32611)


def wilderness_frame(crs) -> gpd.GeoDataFrame:
    """Two wilderness polygons near Reynolds Creek, south-west Idaho (UTM 11N metres)."""
    return gpd.GeoDataFrame(
        {"NAME1": ["North Wild", "South Wild"], "FEATURE1": ["Wilderness FS", "Wilderness BLM"],
         "AGBUR": ["FS", "BLM"], "NAME2": ["Boise NF", "Owyhee FO"]},
        geometry=[box(515_000, 4_790_000, 520_000, 4_795_000), box(512_000, 4_768_000, 516_000, 4_772_000)],
        crs=crs)


def canonical(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows in name order and normalised rings, for comparing loads of one layer from different files
    (Shapefiles store outer rings clockwise)."""
    out = gdf.sort_values("name").reset_index(drop=True)
    return out.set_geometry(gpd.GeoSeries(shapely.normalize(out.geometry.to_numpy()), crs=out.crs))


# ------------------------------------------------------------------------------------------
# CRS


def test_shapefile_without_prj_needs_an_override(tmp_path):
    path = tmp_path / "wild.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        wilderness_frame(None).to_file(path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(CRSError) as err:
        load_vector(LayerSpec(role="protected", path=path), ALBERS)
    msg = str(err.value)
    assert str(path) in msg and "has no CRS" in msg
    assert 'crs = "EPSG:' in msg and f"--layer protected={path}@EPSG:XXXX" in msg
    lyr = load_vector(LayerSpec(role="protected", path=path, crs="EPSG:32611"), ALBERS)
    assert lyr.source_crs == "EPSG:32611" and lyr.info()["crs_override"] == "EPSG:32611"
    expected = wilderness_frame(UTM11).to_crs(ALBERS)
    np.testing.assert_allclose(np.sort(lyr.gdf.area), np.sort(expected.area), rtol=1e-9)
    expected = canonical(expected.rename(columns={"NAME1": "name"}))
    assert shapely.equals_exact(canonical(lyr.gdf).geometry.to_numpy(), expected.geometry.to_numpy(), 1e-6).all()


def test_metres_tagged_as_degrees_are_refused(tmp_path):
    path = tmp_path / "wild.geojson"
    wilderness_frame(None).set_crs(4326, allow_override=True).to_file(path)  # UTM metres, tagged EPSG:4326
    with pytest.raises(CRSError) as err:
        load_vector(LayerSpec(role="protected", path=path), ALBERS)
    msg = str(err.value)
    assert str(path) in msg and "EPSG:4326" in msg and "override" in msg
    lyr = load_vector(LayerSpec(role="protected", path=path, crs="EPSG:32611"), ALBERS)
    assert_geodataframe_equal(canonical(lyr.gdf)[["name", "geometry"]],
                              canonical(wilderness_frame(UTM11).to_crs(ALBERS).rename(columns={"NAME1": "name"}))[["name", "geometry"]],
                              check_less_precise=True)


def test_projected_coordinates_far_outside_their_crs_are_refused(tmp_path):
    path = tmp_path / "wild.gpkg"
    # UTM 11N metres tagged as UTM 55N (Australia's zone): the sites would land in the wrong hemisphere
    wilderness_frame(UTM11).set_crs(32755, allow_override=True).to_file(path)
    lyr_ok = load_vector(LayerSpec(role="protected", path=path, crs="EPSG:32611"), ALBERS)
    assert len(lyr_ok.gdf) == 2
    wilderness_frame(UTM11).set_crs(ALBERS, allow_override=True).assign(
        geometry=lambda g: g.geometry.translate(5e7, 5e7)).to_file(tmp_path / "far.gpkg")
    with pytest.raises(CRSError, match="far outside the area of use of EPSG:5070.*override"):
        load_vector(LayerSpec(role="protected", path=tmp_path / "far.gpkg"), ALBERS)


def test_albers_layer_reaching_across_the_antimeridian_is_accepted(tmp_path):
    """A national layer in CONUS Albers also holds Alaska's Aleutians (west of 180°) and Hawaii, like
    the USGS National Atlas wilderness layer: its extent is fine, not a wrong CRS tag."""
    lonlat = gpd.GeoDataFrame(
        {"NAME1": ["Idaho Wild", "Aleutian Wild", "Hawaii Wild"], "FEATURE1": ["Wilderness FS"] * 3,
         "AGBUR": ["FS", "FWS", "NPS"], "NAME2": ["a", "b", "c"]},
        geometry=[box(-115.0, 45.0, -114.9, 45.1), box(172.5, 52.7, 172.8, 52.9), box(-156.2, 20.6, -156.1, 20.7)],
        crs=4326)
    path = tmp_path / "wilderness.shp"
    lonlat.to_crs(ALBERS).to_file(path)
    lyr = load_vector(LayerSpec(role="protected", path=path), ALBERS)
    assert sorted(lyr.gdf["name"]) == ["Aleutian Wild", "Hawaii Wild", "Idaho Wild"]


def test_unknown_crs_override_is_an_error(tmp_path):
    path = tmp_path / "wild.gpkg"
    wilderness_frame(UTM11).to_file(path)
    with pytest.raises(CRSError, match="'EPSG:999999' is not a CRS pyproj understands"):
        load_vector(LayerSpec(role="protected", path=path, crs="EPSG:999999"), ALBERS)


# ------------------------------------------------------------------------------------------
# repairs, filters, bbox


def test_invalid_geometries_are_repaired_and_counted(tmp_path):
    bowtie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000), (0, 0)])
    assert not bowtie.is_valid
    gdf = gpd.GeoDataFrame({"name": ["bowtie", "fine"], "agency": ["BLM", "STA"], "acres": [1, 2], "state": ["ID", "ID"]},
                           geometry=[bowtie, box(5000, 0, 6000, 1000)], crs=ALBERS)
    gdf.to_file(tmp_path / "land.gpkg")
    lyr = load_vector(LayerSpec(role="federal_land", path=tmp_path / "land.gpkg"), ALBERS)
    assert lyr.repairs == 1 and lyr.info()["repairs"] == 1
    assert lyr.gdf.is_valid.all()
    fixed = lyr.gdf.set_index("name").geometry
    assert fixed.loc["bowtie"].area == pytest.approx(500_000.0)  # two triangles of 250,000 m²
    assert fixed.loc["bowtie"].geom_type == "MultiPolygon"
    assert fixed.loc["fine"].equals(box(5000, 0, 6000, 1000))


def test_read_is_limited_to_the_bbox(tmp_path):
    lonlat = [box(-115.0, 45.0, -114.9, 45.1), box(-112.0, 43.0, -111.9, 43.1), box(-116.5, 48.0, -116.4, 48.1)]
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c"], "agency": ["BLM"] * 3, "acres": [1] * 3, "state": ["ID"] * 3},
                           geometry=lonlat, crs=4326)
    gdf.to_file(tmp_path / "land.gpkg")
    lyr = load_vector(LayerSpec(role="federal_land", path=tmp_path / "land.gpkg"), ALBERS,
                      bbox_lonlat=(-115.5, 44.5, -114.5, 45.5))
    assert lyr.features_read == 1 and list(lyr.gdf["name"]) == ["a"]
    full = load_vector(LayerSpec(role="federal_land", path=tmp_path / "land.gpkg"), ALBERS)
    assert full.features_read == 3


def test_geopackage_layer_that_does_not_exist_lists_the_others(tmp_path):
    path = tmp_path / "many.gpkg"
    wilderness_frame(UTM11).to_file(path, layer="wilderness")
    wilderness_frame(UTM11).to_file(path, layer="wilderness_2000")
    with pytest.raises(LayerDataError) as err:
        load_vector(LayerSpec(role="protected", path=path, layer="parks"), ALBERS)
    msg = str(err.value)
    assert str(path) in msg and "no layer named 'parks'" in msg
    assert "layers in the file: wilderness, wilderness_2000" in msg
    lyr = load_vector(LayerSpec(role="protected", path=path, layer="wilderness_2000"), ALBERS)
    assert lyr.spec.label == "wilderness_2000" and set(lyr.gdf["layer"]) == {"wilderness_2000"}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(LayerDataError, match=f"{tmp_path / 'nope.gpkg'}: protected layer file not found"):
        load_vector(LayerSpec(role="protected", path=tmp_path / "nope.gpkg"), ALBERS)


def test_points_refused_for_a_polygon_role(tmp_path):
    gpd.GeoDataFrame({"NAME1": ["x"], "FEATURE1": ["w"], "AGBUR": ["FS"], "NAME2": ["y"]}, geometry=[Point(-1_450_000, 2_700_000)],
                     crs=ALBERS).to_file(tmp_path / "pts.gpkg")
    with pytest.raises(LayerDataError, match="the protected layer holds points; polygons are required"):
        load_vector(LayerSpec(role="protected", path=tmp_path / "pts.gpkg"), ALBERS)


# ------------------------------------------------------------------------------------------
# formats: one layer, read back the same from each


@pytest.fixture
def reference(tmp_path):
    gdf = wilderness_frame(UTM11)
    gdf.to_file(tmp_path / "ref.gpkg")
    return load_vector(LayerSpec(role="protected", path=tmp_path / "ref.gpkg", name="wild"), ALBERS).gdf


def test_geoparquet_flatgeobuf_shapefile_geojson_agree(tmp_path, reference):
    gdf = wilderness_frame(UTM11)
    gdf.to_parquet(tmp_path / "w.parquet")
    gdf.to_file(tmp_path / "w.fgb", driver="FlatGeobuf")
    gdf.to_file(tmp_path / "w.shp")
    gdf.to_crs(4326).to_file(tmp_path / "w.geojson")
    for name in ("w.parquet", "w.fgb", "w.shp", "w.geojson"):
        lyr = load_vector(LayerSpec(role="protected", path=tmp_path / name, name="wild"), ALBERS)
        assert lyr.schema.name == "wilderness", name
        assert_geodataframe_equal(canonical(lyr.gdf), canonical(reference), check_dtype=False,
                                  check_less_precise=True, check_like=True)


def test_csv_with_wkt_polygons(tmp_path, reference):
    gdf = wilderness_frame(UTM11).to_crs(4326)
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["wkt"] = gdf.geometry.to_wkt(rounding_precision=-1)
    df.to_csv(tmp_path / "w.csv", index=False)
    lyr = load_vector(LayerSpec(role="protected", path=tmp_path / "w.csv", name="wild", crs="EPSG:4326"), ALBERS)
    assert_geodataframe_equal(canonical(lyr.gdf)[["name", "geometry"]], canonical(reference)[["name", "geometry"]],
                              check_less_precise=True)


def test_csv_lon_lat_points(tmp_path):
    pts = gpd.GeoDataFrame({"name": ["well 1", "well 2", "well 3"]},
                           geometry=[Point(-114.1676, 45.43322), Point(-113.61667, 44.95), Point(-116.7, 43.1)],
                           crs=4326)
    df = pd.DataFrame({"name": pts["name"], "longitude": pts.geometry.x, "latitude": pts.geometry.y})
    df.to_csv(tmp_path / "wells.csv", index=False)
    lyr = load_vector(LayerSpec(role="wells", path=tmp_path / "wells.csv"), ALBERS, polygonal=False)
    assert lyr.source_crs == "EPSG:4326"  # lon/lat columns are degrees
    expected = pts.to_crs(ALBERS)
    got = canonical(lyr.gdf)
    assert list(got["name"]) == list(expected["name"])
    np.testing.assert_allclose(shapely.get_coordinates(got.geometry.to_numpy()),
                               shapely.get_coordinates(expected.geometry.to_numpy()), atol=1e-6)
    # GeoParquet of the same points reads the same
    pts.to_parquet(tmp_path / "wells.parquet")
    again = load_vector(LayerSpec(role="wells", path=tmp_path / "wells.parquet", name="wells"), ALBERS, polygonal=False)
    assert_geodataframe_equal(canonical(again.gdf)[["name", "geometry"]], got[["name", "geometry"]],
                              check_less_precise=True)


def test_csv_with_non_numeric_coordinates(tmp_path):
    (tmp_path / "wells.csv").write_text("name,lon,lat\na,-114,45\nb,west,45\n", encoding="utf-8")
    with pytest.raises(LayerDataError, match="columns 'lon'/'lat' are not numbers on line\\(s\\) 3"):
        load_vector(LayerSpec(role="wells", path=tmp_path / "wells.csv"), ALBERS, polygonal=False)


def test_csv_without_geometry(tmp_path):
    (tmp_path / "t.csv").write_text("name,value\na,1\n", encoding="utf-8")
    with pytest.raises(LayerConfigError, match="CSV without a geometry.*columns present: name, value"):
        load_vector(LayerSpec(role="wells", path=tmp_path / "t.csv"), ALBERS, polygonal=False)


# ------------------------------------------------------------------------------------------
# --layer arguments


@pytest.mark.parametrize("text, role, path, layer, crs", [
    ("protected=wilderness.shp", "protected", "wilderness.shp", None, None),
    ("federal_land=padus.gpkg:PADUS3_0Fee", "federal_land", "padus.gpkg", "PADUS3_0Fee", None),
    ("dem=topo_50m.tif@EPSG:32611", "dem", "topo_50m.tif", None, "EPSG:32611"),
    ("protected=p.gpkg:parks@EPSG:5070", "protected", "p.gpkg", "parks", "EPSG:5070"),
])
def test_parse_layer_arg(text, role, path, layer, crs):
    spec = parse_layer_arg(text)
    assert (spec.role, spec.path, spec.layer, spec.crs) == (role, Path(path), layer, crs)
    assert spec.kind == ("raster" if path.endswith(".tif") else "vector")


@pytest.mark.parametrize("text", ["wilderness.shp", "=x.shp", "protected="])
def test_parse_layer_arg_errors(text):
    with pytest.raises(LayerConfigError, match=r"expected ROLE=PATH\[:LAYER\]\[@CRS\]"):
        parse_layer_arg(text)


def test_load_does_not_touch_the_file(tmp_path):
    path = tmp_path / "wild.gpkg"
    wilderness_frame(UTM11).to_file(path)
    before = path.read_bytes()
    load_vector(LayerSpec(role="protected", path=path), ALBERS)
    assert path.read_bytes() == before
