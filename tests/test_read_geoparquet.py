"""read_geoparquet: the frame gpd.read_parquet reads (columns, index, geometry bit for bit, CRS),
only the columns asked for, and a Parquet file without geo metadata refused by name."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from sitescreen.errors import LayerDataError
from sitescreen.inputs.read import read_geoparquet


@pytest.fixture
def layer(tmp_path):
    """A small GeoParquet layer: polygons with a hole, a multipolygon, a None geometry, odd
    coordinates (many digits), three attribute columns, a bbox covering column."""
    rng = np.random.default_rng(3)
    geoms = [shapely.Polygon(rng.uniform(0, 1e6, (1, 2)) + np.array([[0, 0], [1e3 / 3, 0], [0, 7e2 / 3]])),
             shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 3, 3)),
             shapely.MultiPolygon([shapely.box(20, 20, 21, 21.1), shapely.box(30, 30, 31.7, 31)]),
             None]
    gdf = gpd.GeoDataFrame({"code": ["a", "b", None, "d"], "n": [1, 2, 3, 4], "share": [0.1, np.nan, 0.3, 0.4]},
                           geometry=geoms, crs="EPSG:5070")
    path = tmp_path / "layer.parquet"
    gdf.to_parquet(path, write_covering_bbox=True)
    return path


def test_same_frame_as_geopandas(layer):
    for columns in (None, ["code", "geometry"], ["geometry"], ["n", "share", "geometry"]):
        ours = read_geoparquet(layer, columns)
        ref = gpd.read_parquet(layer, columns)
        assert_geodataframe_equal(ours, ref)
        assert ours.crs == ref.crs and ours.crs.to_epsg() == 5070
        assert list(ours.columns) == list(ref.columns)
        assert ours.geometry.name == ref.geometry.name
        same = shapely.to_wkb(ours.geometry.values) == shapely.to_wkb(ref.geometry.values)
        assert np.all(same | (ours.geometry.isna().to_numpy() & ref.geometry.isna().to_numpy()))


def test_reads_only_the_columns_asked_for(layer):
    assert list(read_geoparquet(layer, ["code"]).columns) == ["code", "geometry"]  # the geometry always
    assert list(read_geoparquet(layer, ["geometry"]).columns) == ["geometry"]
    everything = read_geoparquet(layer)
    assert list(everything.columns) == ["code", "n", "share", "geometry"]  # not the bbox covering
    assert "bbox" in pq.read_schema(layer).names


def test_index_and_crs_kept(tmp_path):
    gdf = gpd.GeoDataFrame({"v": [1.5, 2.5]}, geometry=[shapely.Point(1, 2), shapely.Point(3, 4)],
                           index=pd.Index([10, 20], name="fid"), crs="EPSG:4326")
    gdf.to_parquet(tmp_path / "pts.parquet")
    ours = read_geoparquet(tmp_path / "pts.parquet", ["v"])
    assert_geodataframe_equal(ours, gpd.read_parquet(tmp_path / "pts.parquet", ["v", "geometry"]))
    assert ours.index.name == "fid" and list(ours.index) == [10, 20]
    assert ours.crs.to_epsg() == 4326


def test_missing_crs_is_crs84(tmp_path):
    table = pa.table({"geometry": shapely.to_wkb(np.array([shapely.Point(1, 2)]))})
    geo = b'{"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB", "geometry_types": []}}}'
    pq.write_table(table.replace_schema_metadata({b"geo": geo}), tmp_path / "nocrs.parquet")
    ours = read_geoparquet(tmp_path / "nocrs.parquet")
    assert ours.crs == gpd.read_parquet(tmp_path / "nocrs.parquet").crs
    assert ours.crs.equals("OGC:CRS84")


def test_file_without_geo_metadata_refused_by_name(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"geometry": shapely.to_wkb(np.array([shapely.Point(1, 2)])), "x": [1]}), path)
    with pytest.raises(LayerDataError, match=r"plain\.parquet.*no 'geo' metadata"):
        read_geoparquet(path)
    with pytest.raises(LayerDataError, match=r"^protected layer 'p': is not GeoParquet"):
        read_geoparquet(path, ["x"], where="protected layer 'p'")


def test_unreadable_or_missing_column_refused(tmp_path, layer):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(LayerDataError, match=r"bad\.parquet: cannot read as GeoParquet"):
        read_geoparquet(bad)
    with pytest.raises(LayerDataError, match=r"no column 'nope'"):
        read_geoparquet(layer, ["nope"])
