"""The demo DEM: smooth basins and rugged mountains (float32, 90 m, EPSG:26911), with a ragged nodata
band along its east edge, written as a tiled, compressed GeoTIFF."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import shapely
from shapely.geometry import box

from sitescreen.demo.region import DESCRIPTION, MOUNTAIN_CENTRES, REGION, UTM11, project


DEM_CELL = 90.0


_DEM_NODATA = -9999.0


_DEM_MARGIN_M = 2500.0


def _dem_grid() -> tuple[rasterio.Affine, int, int]:
    outline = shapely.segmentize(box(*REGION), 0.02)
    left, bottom, right, top = project([outline], UTM11)[0].bounds
    left = math.floor((left - _DEM_MARGIN_M) / DEM_CELL) * DEM_CELL
    bottom = math.floor((bottom - _DEM_MARGIN_M) / DEM_CELL) * DEM_CELL
    right = math.ceil((right + _DEM_MARGIN_M) / DEM_CELL) * DEM_CELL
    top = math.ceil((top + _DEM_MARGIN_M) / DEM_CELL) * DEM_CELL
    width = round((right - left) / DEM_CELL)
    height = round((top - bottom) / DEM_CELL)
    # (rasterio.transform.from_origin multiplies Affines with `*`, which affine>=3 deprecates)
    return rasterio.Affine(DEM_CELL, 0.0, left, 0.0, -DEM_CELL, top), width, height


def dem_surface(rng: np.random.Generator) -> tuple[np.ndarray, rasterio.Affine]:
    """Smooth basins and rugged mountains: Gaussian ranges plus value noise, roughened up high.

    Everything is built on coarse control grids blended with cubic B-splines, which are
    separable: each layer costs two small matrix products instead of a full-grid evaluation.
    """
    transform, width, height = _dem_grid()
    xs = transform.c + DEM_CELL * (np.arange(width) + 0.5)
    ys = transform.f - DEM_CELL * (np.arange(height) + 0.5)
    x0, y1 = xs[0], ys[0]
    bases: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def blend(knots_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], spacing: float) -> np.ndarray:
        if spacing not in bases:
            bases[spacing] = (_bspline_basis(xs - x0, spacing), _bspline_basis(y1 - ys, spacing))
        wx, wy = bases[spacing]
        kx = x0 + (np.arange(wx.shape[1]) - 1) * spacing  # control point j sits at (j - 1) * spacing
        ky = y1 - (np.arange(wy.shape[1]) - 1) * spacing
        return wy @ knots_fn(kx[None, :], ky[:, None]).astype(np.float32) @ wx.T

    def noise(spacing: float, amp: float) -> np.ndarray:
        return blend(lambda kx, ky: rng.normal(0.0, amp, (ky.size, kx.size)), spacing)

    def gaussian(cx: float, cy: float, s_major: float, s_minor: float, h: float) -> Callable:
        c, s = math.cos(theta := rng.uniform(0, np.pi)), math.sin(theta)

        def knots(kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
            u = ((kx - cx) * c + (ky - cy) * s) / s_major
            v = ((ky - cy) * c - (kx - cx) * s) / s_minor
            return h * np.exp(-0.5 * (u * u + v * v))

        return knots

    # Mountain ranges: around the park and the wildernesses (see protected_areas), and elsewhere.
    ranges = [
        gaussian(x, y, rng.uniform(18e3, 26e3), rng.uniform(12e3, 16e3), 900.0)
        for x, y in shapely.get_coordinates(project(shapely.points(MOUNTAIN_CENTRES), UTM11))
    ]
    xmin, xmax, ymin, ymax = xs[0], xs[-1], ys[-1], ys[0]
    ranges += [
        gaussian(
            rng.uniform(xmin, xmax), rng.uniform(ymin, ymax), rng.uniform(15e3, 40e3), rng.uniform(7e3, 16e3),
            rng.uniform(500.0, 900.0),
        )  # fmt: skip
        for _ in range(9)
    ]
    z = blend(lambda kx, ky: sum(g(kx, ky) for g in ranges), 1500.0) + noise(24e3, 500.0)

    # The broad surface spans 0..1000 m; its lowest quarter stays smooth (the basins) and the
    # mountains get up to ~1300 m of short-wavelength relief on top: steep sides, sharp summits.
    low, p25, p60, high = np.percentile(z[::4, ::4], [0.5, 25, 60, 99.5])
    broad = np.clip((z - np.float32(low)) / np.float32(high - low), 0, 1.1) * np.float32(1000.0)
    t = np.clip((z - np.float32(p25)) / np.float32(p60 - p25), 0, 1)
    mountains = t * t * (3 - 2 * t)  # smoothstep: 0 in the basins .. 1 in the mountains
    detail = noise(4e3, 250.0) + noise(1.6e3, 700.0) + noise(0.8e3, 250.0)
    d_low, d_high = np.percentile(detail[::4, ::4], [0.5, 99.5])
    detail = np.clip((detail - np.float32(d_low)) / np.float32(d_high - d_low), 0, 1.1) * np.float32(1300.0)
    z = np.float32(900.0) + broad + mountains * detail
    top = z > 2950.0  # round off the few highest summits softly, to stay below 3200 m
    knee, soft = np.float32(2950.0), np.float32(250.0)
    z[top] = knee + soft * np.tanh((z[top] - knee) / soft)
    z = np.round(z * 8) / 8  # 1/8 m steps: exact in float32, and compresses far better
    return z.astype(np.float32), transform


def _bspline_basis(t: np.ndarray, spacing: float) -> np.ndarray:
    """Uniform cubic B-spline weights (len(t) x knots) for coordinates t >= 0: C2-smooth blends."""
    u = t / spacing
    i = np.floor(u).astype(int)
    f = (u - i).astype(np.float32)
    weights = (
        (1 - f) ** 3 / 6,
        (3 * f**3 - 6 * f**2 + 4) / 6,
        (-3 * f**3 + 3 * f**2 + 3 * f + 1) / 6,
        f**3 / 6,
    )
    basis = np.zeros((t.size, int(i.max()) + 4), dtype=np.float32)
    rows = np.arange(t.size)
    for k, w in enumerate(weights):
        basis[rows, i + k] = w
    return basis


def _dem_with_nodata_edge(dem: np.ndarray) -> np.ndarray:
    """A ragged nodata band (1-3 km) along the east edge, like a clipped source mosaic."""
    height, width = dem.shape
    rows = np.arange(height)
    band = 18 + 8 * np.sin(rows / 83.0) + 5 * np.sin(rows / 17.0 + 1.0) + 3 * np.sin(rows / 5.0)
    band = np.clip(np.round(band), 10, 34).astype(int)
    out = dem.copy()
    out[np.arange(width)[None, :] >= (width - band)[:, None]] = _DEM_NODATA
    return out


def write_dem(path: Path, dem: np.ndarray, transform: rasterio.Affine) -> None:
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "width": dem.shape[1],
        "height": dem.shape[0],
        "crs": UTM11,
        "transform": transform,
        "nodata": _DEM_NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
        "zlevel": 6,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(_dem_with_nodata_edge(dem), 1)
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION=DESCRIPTION, AREA_OR_POINT="Area")
        dst.set_band_description(1, "elevation (m), synthetic")
        dst.set_band_unit(1, "metre")
