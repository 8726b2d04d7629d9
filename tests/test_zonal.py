"""zonal_stats against direct numpy computations on tiny rasters built in the test."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from sitescreen.measure import derive, exact
from sitescreen.errors import CRSError, LayerConfigError
from sitescreen.measure.zonal import zonal_stats

UTM = "EPSG:32611"
NODATA = -9999.0


def write_raster(path, arr, *, crs=UTM, x0=0.0, y0=None, res=1.0, nodata=NODATA, blocksize=None):
    h, w = arr.shape
    y0 = h * res if y0 is None else y0
    extra = {"tiled": True, "blockxsize": blocksize, "blockysize": blocksize} if blocksize else {}
    with rasterio.open(
        path, "w", driver="GTiff", width=w, height=h, count=1, dtype=arr.dtype.name, crs=crs,
        transform=Affine(res, 0.0, x0, 0.0, -res, y0), nodata=nodata, **extra,
    ) as dst:
        dst.write(arr, 1)
    return path


@pytest.fixture
def small(tmp_path):
    """10×10 raster of 0..99 (row-major from the top), 1 m cells, one nodata cell top-left."""
    arr = np.arange(100, dtype="float32").reshape(10, 10)
    arr[0, 0] = NODATA
    return write_raster(tmp_path / "small.tif", arr), arr


def zones(geoms, crs=UTM, index=None):
    return gpd.GeoSeries(geoms, crs=crs, index=index)


def test_aligned_footprints_match_numpy(small):
    path, arr = small
    rng = np.random.default_rng(0)
    boxes, expect = [], []
    data = np.ma.masked_equal(arr, NODATA)
    for _ in range(60):
        c0, r0 = rng.integers(0, 9, 2)
        c1, r1 = c0 + rng.integers(1, 10 - c0 + 1), r0 + rng.integers(1, 10 - r0 + 1)
        boxes.append(shapely.box(c0, 10 - r1, c1, 10 - r0))
        cells = data[r0:r1, c0:c1]
        above = (cells > 50).sum() / cells.count() if cells.count() else np.nan
        expect.append([cells.mean(), cells.min(), cells.max(), above])
    idx = pd.Index(np.arange(100, 160), name="site")
    got = zonal_stats(zones(boxes, index=idx), path, ["mean", "min", "max", "frac_above"], threshold=50)
    assert list(got.columns) == ["mean", "min", "max", "frac_above"]
    assert got.index.equals(idx)
    assert (got.dtypes == np.float64).all()
    np.testing.assert_allclose(got.to_numpy(), np.array(expect, dtype=float), rtol=1e-12)


def test_many_zones_raster_sequential_and_chunks_agree(small, monkeypatch):
    path, _ = small
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 10, (700, 2))
    geoms = shapely.buffer(shapely.points(xy), rng.uniform(0.2, 2.0, 700))
    many = zonal_stats(zones(geoms), path, ["mean", "max"])  # >= 500 zones: raster-sequential
    monkeypatch.setattr(exact, "RASTER_SEQUENTIAL_MIN_ZONES", 10**9)
    monkeypatch.setattr(exact, "ZONE_CHUNK", 97)
    one_by_one = zonal_stats(zones(geoms), path, ["mean", "max"])
    pd.testing.assert_frame_equal(many, one_by_one, rtol=1e-12)


def test_partial_pixels_hand_checked(small):
    path, _ = small
    # quarter of cells (0,0)=nodata, (0,1)=1, (1,0)=10, (1,1)=11: weights 0.25 each on valid cells
    # the second zone covers 3/4 of cell value 44 and 1/4 of cell value 45 (row 4, cols 4-5)
    geoms = [shapely.box(0.5, 8.5, 1.5, 9.5), shapely.box(4.0, 5.0, 5.25, 6.0)]
    got = zonal_stats(zones(geoms), path, ["mean", "min", "max", "frac_above"], threshold=10)
    assert got.loc[0, "mean"] == pytest.approx((1 + 10 + 11) / 3, rel=1e-12)
    assert got.loc[0, "min"] == 1 and got.loc[0, "max"] == 11
    assert got.loc[0, "frac_above"] == pytest.approx(1 / 3, rel=1e-12)
    assert got.loc[1, "mean"] == pytest.approx((44 * 1.0 + 45 * 0.25) / 1.25, rel=1e-12)
    assert got.loc[1, "frac_above"] == 1.0


def test_no_valid_cells_is_nan(small):
    path, _ = small
    geoms = [
        shapely.box(20, 20, 21, 21),  # outside
        shapely.box(0.1, 9.1, 0.9, 9.9),  # only the nodata cell
        None,
        shapely.box(2, 2, 3, 3),
    ]
    got = zonal_stats(zones(geoms), path, ["mean", "max", "frac_above"], threshold=0)
    assert got.iloc[:3].isna().all().all()
    assert got.iloc[3].notna().all()
    nothing = zonal_stats(zones([shapely.box(20, 20, 21, 21)]), path, ["mean", "frac_above"], threshold=1)
    assert nothing.isna().all().all()
    empty = zonal_stats(zones([]), path, ["mean"])
    assert empty.shape == (0, 1)


def test_crs_override(tmp_path):
    # A UTM 11N grid wrongly tagged EPSG:4326, as the shared Tollgate DEM is.
    arr = np.arange(100, dtype="float32").reshape(10, 10)
    x0, y0 = 500_000.0, 5_000_100.0
    path = write_raster(tmp_path / "mistagged.tif", arr, crs="EPSG:4326", x0=x0, y0=y0, res=10.0)
    box = shapely.box(x0, y0 - 20, x0 + 20, y0)  # top-left 2×2 cells: 0, 1, 10, 11
    utm = zonal_stats(zones([box]), path, ["mean"], crs_override=UTM)
    assert utm.loc[0, "mean"] == pytest.approx(5.5, rel=1e-12)
    # footprints in another CRS are reprojected into the raster's true CRS
    lonlat = zones([box]).to_crs("EPSG:4326")
    again = zonal_stats(lonlat, path, ["mean"], crs_override=UTM)
    assert again.loc[0, "mean"] == pytest.approx(5.5, rel=1e-6)
    # trusting the wrong tag puts the footprint far outside the raster
    wrong = zonal_stats(zones([box]), path, ["mean"])
    assert np.isnan(wrong.loc[0, "mean"])


def test_bad_arguments(small):
    path, _ = small
    z = zones([shapely.box(0, 0, 1, 1)])
    with pytest.raises(LayerConfigError, match="allowed: mean, min, max, frac_above"):
        zonal_stats(z, path, ["median"])
    with pytest.raises(LayerConfigError, match="threshold"):
        zonal_stats(z, path, ["frac_above"])
    with pytest.raises(LayerConfigError, match="allowed: slope"):
        zonal_stats(z, path, ["mean"], derive="aspect")
    with pytest.raises(CRSError, match="crs_override"):
        zonal_stats(z, path, ["mean"], crs_override="EPSG:not-a-code")


def plane(tmp_path, name, nrow=60, ncol=70, res=10.0, **kw):
    x = (np.arange(ncol) + 0.5) * res
    arr = np.tile(0.1 * x, (nrow, 1)).astype("float32")
    return write_raster(tmp_path / name, arr, res=res, **kw), arr


def test_slope_of_plane(tmp_path, monkeypatch):
    path, arr = plane(tmp_path, "plane.tif", blocksize=16)
    expect = math.degrees(math.atan(0.1))  # 5.7106°
    geoms = [
        shapely.box(0, 0, 700, 600),  # whole raster, edges included
        shapely.box(0, 590, 10, 600),  # corner cell
        shapely.box(333, 111, 401.5, 222.2),
    ]
    monkeypatch.setattr(derive, "DERIVE_BLOCK", 16)  # many windows: halos between blocks
    got = zonal_stats(zones(geoms), path, ["mean", "min", "max", "frac_above"], derive="slope", threshold=5.0)
    np.testing.assert_allclose(got[["mean", "min", "max"]].to_numpy(), expect, rtol=1e-5)
    assert (got["frac_above"] == 1.0).all()
    assert expect == pytest.approx(5.7106, abs=1e-4)


def test_slope_honours_nodata(tmp_path):
    x = (np.arange(30) + 0.5) * 10.0
    arr = np.tile(0.1 * x, (30, 1)).astype("float32")
    arr[10, 10] = NODATA
    path = write_raster(tmp_path / "hole.tif", arr, res=10.0)
    # the 3×3 cells around the hole have no slope; everything else is the plane's
    hole = shapely.box(90, 180, 120, 210)
    ring = shapely.box(80, 170, 130, 220)
    got = zonal_stats(zones([hole, ring]), path, ["mean", "max"], derive="slope")
    assert got.loc[0].isna().all()
    assert got.loc[1, "mean"] == pytest.approx(math.degrees(math.atan(0.1)), rel=1e-5)


def test_slope_geographic(tmp_path):
    # 0.1 m rise per metre eastwards at ~45°N on a 0.0001° grid
    nrow, ncol, res = 40, 50, 1e-4
    lat0 = 45.0
    lat = lat0 - (np.arange(nrow) + 0.5) * res
    m_lon, _ = derive._metres_per_degree(lat)
    lon_off = (np.arange(ncol) + 0.5) * res
    arr = (0.1 * lon_off[None, :] * m_lon[:, None]).astype("float64")
    path = tmp_path / "geo.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=ncol, height=nrow, count=1, dtype="float64",
        crs="EPSG:4326", transform=Affine(res, 0.0, -115.0, 0.0, -res, lat0), nodata=NODATA,
    ) as dst:
        dst.write(arr, 1)
    box = shapely.box(-115.0 + 5 * res, lat0 - 35 * res, -115.0 + 45 * res, lat0 - 5 * res)
    got = zonal_stats(zones([box], crs="EPSG:4326"), path, ["mean"], derive="slope")
    assert got.loc[0, "mean"] == pytest.approx(math.degrees(math.atan(0.1)), rel=1e-3)


@pytest.mark.parametrize("x0, res, exact_grid", [(500_000.0, 30.0, True), (0.1, 0.3, False)])
def test_zones_window_gives_the_whole_bands_numbers(tmp_path, monkeypatch, x0, res, exact_grid):
    """exactextract sees only the zones' window of the band where that window's grid is exact (a
    round origin and cell size): bit for bit the numbers of the whole band; elsewhere the whole band."""
    rng = np.random.default_rng(7)
    arr = rng.normal(100, 30, (300, 400)).astype("float32")
    arr[rng.random(arr.shape) < 0.02] = NODATA
    y0 = 4_000_000.0 + 0.7 * (not exact_grid)
    path = write_raster(tmp_path / "r.tif", arr, x0=x0, y0=y0, res=res, blocksize=64)
    centres = rng.uniform([x0 + 50 * res, y0 - 250 * res], [x0 + 150 * res, y0 - 150 * res], (700, 2))
    geoms = list(shapely.buffer(shapely.points(centres), res * rng.uniform(0.4, 9, 700)))
    geoms.append(shapely.box(x0 + 397.5 * res, y0 - 303 * res, x0 + 402 * res, y0 - 296 * res))  # partly off it
    stats = ["mean", "min", "max"]
    with rasterio.open(path) as ds:
        src = exact.Raster(ds, 1, rasterio.windows.Window(40, 30, 150, 120))
        assert (src.extent() != tuple(ds.bounds)) is exact_grid
    windowed = zonal_stats(zones(geoms), path, stats, covered=True)
    seen = []
    real = exact.exact_window
    monkeypatch.setattr(exact, "exact_window", lambda ds, w: seen.append(real(ds, w)) or False)
    whole = zonal_stats(zones(geoms), path, stats, covered=True)
    assert seen == [exact_grid]
    pd.testing.assert_frame_equal(windowed, whole, check_exact=True)
