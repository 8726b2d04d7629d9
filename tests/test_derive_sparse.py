"""Derived rasters (class indicator, slope, "> threshold") are computed and written only in the
tiles some zone's bounds touch (a sparse GeoTIFF, the rest read as nodata), with the same numbers
under every zone as a derivation of the zones' whole window."""

from __future__ import annotations

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.windows import Window

from sitescreen.measure import derive
from sitescreen.measure.zonal import zonal_stats

import geopandas as gpd

UTM = "EPSG:32611"


def _raster(tmp_path, arr, nodata):
    h, w = arr.shape
    path = tmp_path / "src.tif"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype=arr.dtype.name, crs=UTM,
                       transform=Affine(10.0, 0.0, 0.0, 0.0, -10.0, h * 10.0), nodata=nodata,
                       tiled=True, blockxsize=64, blockysize=64) as dst:
        dst.write(arr, 1)
    return path


def _classes(tmp_path, n=400):
    rng = np.random.default_rng(7)
    arr = rng.choice(np.array([0, 11, 41, 90, 95], dtype=np.uint8), size=(n, n))
    return _raster(tmp_path, arr, 0), arr


def _scattered(rng, n, side=4000.0, size=(30.0, 250.0)):
    x, y = rng.uniform(0, side - 300, n), rng.uniform(0, side - 300, n)
    w, h = rng.uniform(*size, n), rng.uniform(*size, n)
    return gpd.GeoSeries(shapely.box(x, y, x + w, y + h), crs=UTM)


def test_only_tiles_under_zones_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr(derive, "DERIVED_TILE", 32)
    monkeypatch.setattr(derive, "DERIVE_BLOCK", 96)  # blocks of 3 × 3 tiles, the last ones cut by the edge
    path, arr = _classes(tmp_path)
    zones = np.array([[15.0, 3615.0, 95.0, 3985.0], [3700.0, 12.0, 3990.0, 130.0]])  # top left, bottom right
    out = tmp_path / "classes.tif"
    with rasterio.open(path) as ds:
        derive.derive_rasters(ds, 1, None, Window(0, 0, 400, 400), None, None, None, None, [90, 95], out,
                              known=[11, 41, 90, 95], zones=zones)
    with rasterio.open(out) as got:
        vals = got.read(1)
        written = {(i, j) for i in range(13) for j in range(13)
                   if got.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1) not in (None, "", "0")}
    expect = np.where(arr == 0, 255, np.isin(arr, [90, 95])).astype(np.uint8)
    # zone 1: columns 1..9 (x 15..95 widened by a cell), rows 1..38; zone 2: columns 369..399, rows 386..399
    assert written == {(0, 0), (1, 0)} | {(12, 11), (12, 12)}
    for (i, j) in written:
        tile = (slice(32 * i, 32 * i + 32), slice(32 * j, 32 * j + 32))
        assert np.array_equal(vals[tile], expect[tile])
    mask = np.zeros(vals.shape, bool)
    for (i, j) in written:
        mask[32 * i:32 * i + 32, 32 * j:32 * j + 32] = True
    assert (vals[~mask] == 255).all() and (~mask).sum() > 0.9 * vals.size  # unwritten: nodata


def _whole_window(monkeypatch):
    monkeypatch.setattr(derive, "_touched_tiles", lambda t, window, zones: None)


def test_class_share_is_the_same_as_over_the_whole_window(tmp_path, monkeypatch):
    monkeypatch.setattr(derive, "DERIVED_TILE", 32)
    monkeypatch.setattr(derive, "DERIVE_BLOCK", 64)
    path, _ = _classes(tmp_path)
    zones = _scattered(np.random.default_rng(1), 60)
    kw = dict(classes=[90, 95], known=[11, 41, 90, 95], covered=True)
    sparse = zonal_stats(zones, path, ["class_share"], **kw)
    _whole_window(monkeypatch)
    whole = zonal_stats(zones, path, ["class_share"], **kw)
    assert sparse.notna().all().all() and sparse.equals(whole)


def test_slope_and_threshold_are_the_same_as_over_the_whole_window(tmp_path, monkeypatch):
    monkeypatch.setattr(derive, "DERIVED_TILE", 32)
    monkeypatch.setattr(derive, "DERIVE_BLOCK", 64)
    rng = np.random.default_rng(3)
    dem = np.cumsum(np.cumsum(rng.normal(0, 1, (400, 400)), axis=0), axis=1).astype(np.float32)
    dem[200:210, 50:60] = -9999.0
    path = _raster(tmp_path, dem, -9999.0)
    zones = _scattered(np.random.default_rng(2), 40)
    for kw in (dict(derive="slope", threshold=20.0), dict(threshold=float(np.median(dem)))):
        stats = ["mean", "min", "max", "frac_above"]
        sparse = zonal_stats(zones, path, stats, covered=True, **kw)
        with monkeypatch.context() as m:
            _whole_window(m)
            whole = zonal_stats(zones, path, stats, covered=True, **kw)
        assert sparse.notna().all().all() and sparse.equals(whole), kw
