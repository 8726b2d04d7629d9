"""Zonal statistics of raster values under footprints, with exact partial-pixel coverage.

The heavy lifting is exactextract's (cells are weighted by the fraction of their area that the
footprint covers), reading the raster through rasterio. Around it this module:

* reprojects footprints into the raster's *true* CRS (``crs_override`` fixes a wrong tag, such as
  a UTM DEM tagged EPSG:4326);
* feeds footprints to exactextract as WKB and collects results straight into numpy arrays (no
  GeoJSON round trip, no per-feature dicts kept);
* picks the processing strategy by the number of zones (raster-sequential for many zones, so
  every raster block is read and decompressed once) and feeds zones in Hilbert order, in
  chunks, so memory stays bounded;
* derives rasters block by block when needed (slope, or a 0/1 "value > threshold" indicator for
  ``frac_above``) into temporary tiled GeoTIFFs, limited to the footprints' extent, so no Python
  callback runs per zone and the whole raster is never in memory.

Differences from rasterstats, for reviewers: rasterstats counts a cell when its centre is inside
the footprint (or, with ``all_touched``, when it touches it) and weighs every counted cell fully;
here a cell weighs by the covered fraction of its area, so means and fractions differ slightly
along the footprint edges; min and max consider every cell the footprint touches with a positive
covered area.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import rasterio
import shapely
from exactextract import exact_extract
from exactextract._exactextract import Feature
from exactextract.feature import FeatureSource
from exactextract.operation import Operation
from exactextract.raster import RasterioRasterSource
from exactextract.writer import Writer
from affine import Affine
from pyproj import CRS
from rasterio.windows import Window

from sitescreen.errors import CRSError, LayerConfigError, LayerDataError

__all__ = ["zonal_stats", "ZONAL_STATS", "DERIVATIONS"]

log = logging.getLogger(__name__)

#: Statistics :func:`zonal_stats` computes.
ZONAL_STATS = ("mean", "min", "max", "frac_above")
#: Rasters :func:`zonal_stats` can derive before extraction.
DERIVATIONS = ("slope",)

#: Above this many zones exactextract runs raster-sequential (each block read once).
RASTER_SEQUENTIAL_MIN_ZONES = 500
#: Zones handed to one exactextract call (bounds the geometries held in memory at once).
ZONE_CHUNK = 250_000
#: Side of the windows (pixels) processed at a time when deriving a raster.
DERIVE_BLOCK = 2048
_DERIVED_NODATA = -9999.0


# --------------------------------------------------------------------------------------------
# exactextract adapters: WKB in, numpy out
# --------------------------------------------------------------------------------------------


class _WkbFeature(Feature):
    __slots__ = ("_i", "_wkb")

    def __init__(self, i: int, wkb: bytes):
        Feature.__init__(self)
        self._i = i
        self._wkb = wkb

    def geometry(self):
        return self._wkb

    def set_geometry_format(self):
        return "wkb"

    def get(self, name):
        return self._i

    def fields(self):
        return ["_i"]

    def set(self, name, value):  # pragma: no cover - exactextract never writes inputs here
        pass


class _WkbSource(FeatureSource):
    """Zones as WKB with their positions; no CRS so exactextract does not compare tags."""

    def __init__(self, positions: np.ndarray, wkbs: np.ndarray):
        super().__init__()
        self._pos = positions
        self._wkbs = wkbs

    def count(self):
        return len(self._wkbs)

    def __iter__(self):
        for i, w in zip(self._pos.tolist(), self._wkbs.tolist()):
            yield _WkbFeature(i, w)

    def srs_wkt(self):
        return None


class _Sink(Feature):
    """Receives one result feature's fields from exactextract."""

    def __init__(self):
        Feature.__init__(self)
        self.values = {}

    def set(self, name, value):
        self.values[name] = value

    def set_geometry(self, geom):  # pragma: no cover
        pass

    def set_geometry_format(self):  # pragma: no cover
        return "wkb"


class _ArrayWriter(Writer):
    def __init__(self, columns: dict[str, np.ndarray]):
        super().__init__()
        self._cols = list(columns.items())

    def write(self, feature):
        sink = _Sink()
        feature.copy_to(sink)
        vals = sink.values
        i = vals["_i"]
        for name, arr in self._cols:
            v = vals.get(name)
            if v is not None:
                arr[i] = v

    def features(self):
        return None


class _Raster(RasterioRasterSource):
    """A rasterio band whose CRS tag is not handed to exactextract (zones are already in the
    raster's true CRS, and a wrong tag would only trigger a spurious mismatch warning)."""

    def srs_wkt(self):
        return None


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def zonal_stats(
    footprints: geopandas.GeoSeries,
    raster_path,
    stats: Sequence[str],
    *,
    band: int = 1,
    crs_override: str | None = None,
    derive: str | None = None,
    threshold: float | None = None,
    covered: bool = False,
) -> pd.DataFrame:
    """One row per footprint (same index), one float column per stat in `stats`.

    `stats` ⊂ {"mean", "min", "max", "frac_above"}: exact partial-pixel coverage via
    exactextract, reading through rasterio. `crs_override` replaces the raster's CRS tag;
    footprints are reprojected into the raster's true CRS before extraction.
    `derive="slope"` computes slope in degrees from the DEM first (windowed, 1-pixel halo,
    honouring nodata; geographic rasters use metres per degree at each row's latitude).
    frac_above = coverage-weighted fraction of valid cells whose value > `threshold`.
    A footprint with no valid cells (outside the raster or all nodata) gets NaN in every
    column, never 0. With ``covered``, a column ``covered_fraction`` says which fraction of each
    footprint's area lies on valid cells (0 off the raster), for the minimum-coverage rule.
    """
    stats = _check_stats(stats)
    if derive is not None and derive not in DERIVATIONS:
        raise LayerConfigError(
            f"unknown raster derivation {derive!r}; allowed: {', '.join(DERIVATIONS)}"
        )
    if "frac_above" in stats and threshold is None:
        raise LayerConfigError("stat 'frac_above' needs a threshold")
    if not isinstance(footprints, geopandas.GeoSeries):
        raise TypeError(f"footprints must be a geopandas.GeoSeries, got {type(footprints).__name__}")
    raster_path = Path(raster_path)

    out = pd.DataFrame(
        {s: np.full(len(footprints), np.nan) for s in stats}, index=footprints.index
    )
    if covered:
        out["covered_fraction"] = 0.0
    with ExitStack() as stack:
        try:
            ds = stack.enter_context(rasterio.open(raster_path))
        except rasterio.errors.RasterioIOError as exc:
            raise LayerDataError(f"cannot open raster {raster_path}: {exc}") from None
        if not 1 <= band <= ds.count:
            raise LayerConfigError(f"{raster_path} has {ds.count} band(s); band {band} requested")
        true_crs = _true_crs(ds, crs_override, raster_path)
        geoms = _zones_in_crs(footprints, true_crs)
        ok = ~(shapely.is_empty(geoms) | np.equal(geoms, None))
        if len(footprints) == 0 or not ok.any():
            return out

        tmpdir = None
        value_src = _Raster(ds, band)
        indicator_src = None
        if derive is not None or "frac_above" in stats:
            tmpdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sitescreen-")))
            window = _zones_window(ds, shapely.total_bounds(geoms[ok]))
            if window is None:  # every zone lies outside the raster
                return out
            derived_path = tmpdir / "derived.tif" if derive else None
            above_path = tmpdir / "above.tif" if "frac_above" in stats else None
            _derive(ds, band, true_crs, window, derive, threshold, derived_path, above_path)
            if derived_path is not None:
                value_src = _Raster(stack.enter_context(rasterio.open(derived_path)), 1)
            if above_path is not None:
                indicator_src = _Raster(stack.enter_context(rasterio.open(above_path)), 1)

        # distinct names: exactextract keys operations by stat and raster name
        value_src.set_name("value")
        if indicator_src is not None:
            indicator_src.set_name("above")
        cols = {s: np.full(len(footprints), np.nan) for s in stats}
        cols["_count"] = np.zeros(len(footprints))
        ops = [Operation("count", "_count", value_src)]
        for s in stats:
            if s == "frac_above":
                ops.append(Operation("mean", s, indicator_src))
            else:
                ops.append(Operation(s, s, value_src))
        _run_exactextract(geoms, ok, value_src, ops, cols)
        cell_area = abs(ds.transform.a * ds.transform.e)

    count = cols.pop("_count")
    if covered:
        out["covered_fraction"] = _covered_fraction(count, cell_area, geoms, ok)
    empty = ~(count > 0)
    for s in stats:
        col = cols[s]
        col[empty] = np.nan
        out[s] = col
    return out


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _covered_fraction(count: np.ndarray, cell_area: float, geoms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Area on valid cells (the coverage-weighted count of valid cells × a cell's area, in the
    raster's CRS, where exactextract measures) over each footprint's area there."""
    area = np.zeros(len(geoms))
    area[ok] = shapely.area(geoms[ok])
    frac = np.zeros(len(geoms))
    has = area > 0
    frac[has] = np.minimum(count[has] * cell_area / area[has], 1.0)
    return frac


def _check_stats(stats: Sequence[str]) -> list[str]:
    if isinstance(stats, str):
        stats = [stats]
    stats = list(dict.fromkeys(stats))
    bad = [s for s in stats if s not in ZONAL_STATS]
    if bad or not stats:
        raise LayerConfigError(
            f"unknown zonal statistic(s) {', '.join(map(repr, bad)) or '(none given)'}; "
            f"allowed: {', '.join(ZONAL_STATS)}"
        )
    return stats


def _true_crs(ds, crs_override, raster_path) -> CRS | None:
    if crs_override is not None:
        try:
            return CRS.from_user_input(crs_override)
        except Exception as exc:  # pyproj raises its own CRSError
            raise CRSError(f"crs_override {crs_override!r} is not a valid CRS: {exc}") from None
    if ds.crs is None:
        return None
    return CRS.from_user_input(ds.crs.to_wkt())


def _zones_in_crs(footprints: geopandas.GeoSeries, true_crs: CRS | None) -> np.ndarray:
    if true_crs is None:
        if footprints.crs is not None:
            raise CRSError(
                "the raster has no CRS; pass crs_override to say which CRS its coordinates are in"
            )
        return np.asarray(footprints.values, dtype=object)
    if footprints.crs is None:
        log.warning("footprints have no CRS; assuming the raster's CRS %s", true_crs.name)
        return np.asarray(footprints.values, dtype=object)
    if CRS.from_user_input(footprints.crs) != true_crs:
        footprints = footprints.to_crs(true_crs)
    return np.asarray(footprints.values, dtype=object)


def _zones_window(ds, bounds) -> Window | None:
    """Pixel window covering `bounds` plus one cell, clipped to the raster; None if disjoint."""
    t = ds.transform  # north-up, unrotated (exactextract refuses rotated rasters)
    cols = [(x - t.c) / t.a for x in (bounds[0], bounds[2])]
    rows = [(y - t.f) / t.e for y in (bounds[1], bounds[3])]
    c0 = max(0, math.floor(min(cols)) - 1)
    r0 = max(0, math.floor(min(rows)) - 1)
    c1 = min(ds.width, math.ceil(max(cols)) + 1)
    r1 = min(ds.height, math.ceil(max(rows)) + 1)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _run_exactextract(geoms, ok, value_src, ops, cols) -> None:
    idx = np.flatnonzero(ok)
    strategy = "raster-sequential" if idx.size >= RASTER_SEQUENTIAL_MIN_ZONES else "feature-sequential"
    if idx.size > 1:
        # Hilbert order: neighbouring zones share raster blocks, chunks stay compact.
        order = np.argsort(
            geopandas.GeoSeries(geoms[idx]).hilbert_distance(), kind="stable"
        )
        idx = idx[order]
    log.debug("exactextract: %d zones, strategy %s", idx.size, strategy)
    for start in range(0, idx.size, ZONE_CHUNK):
        part = idx[start : start + ZONE_CHUNK]
        wkbs = shapely.to_wkb(geoms[part])
        exact_extract(
            value_src,
            _WkbSource(part, wkbs),
            ops,
            include_cols=["_i"],
            strategy=strategy,
            output=_ArrayWriter(cols),
        )


# --------------------------------------------------------------------------------------------
# derived rasters (slope, threshold indicator), block by block
# --------------------------------------------------------------------------------------------


def _window_transform(t, window: Window):
    """Transform of `window` (rasterio's own goes through a deprecated Affine operator)."""
    return Affine(t.a, t.b, t.c + window.col_off * t.a + window.row_off * t.b,
                  t.d, t.e, t.f + window.col_off * t.d + window.row_off * t.e)


def _metres_per_degree(lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(metres per degree of longitude, of latitude) on the WGS84 ellipsoid at `lat_deg`."""
    phi = np.radians(lat_deg)
    m_lat = 111132.954 - 559.822 * np.cos(2 * phi) + 1.175 * np.cos(4 * phi)
    m_lon = 111412.84 * np.cos(phi) - 93.5 * np.cos(3 * phi) + 0.118 * np.cos(5 * phi)
    return m_lon, m_lat


def _derive(ds, band, true_crs, window, derive, threshold, derived_path, above_path) -> None:
    profile = {
        "driver": "GTiff",
        "width": int(window.width),
        "height": int(window.height),
        "count": 1,
        "dtype": "float32",
        "crs": ds.crs,  # keep the tag as is: only the grid matters to exactextract
        "transform": _window_transform(ds.transform, window),
        "nodata": _DERIVED_NODATA,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "DEFLATE",
        "zlevel": 1,
        "predictor": 2 if derive is None else 1,
        "BIGTIFF": "IF_SAFER",
    }
    geographic = bool(true_crs is not None and true_crs.is_geographic)
    unit = 1.0
    if true_crs is not None and not geographic and true_crs.axis_info:
        unit = true_crs.axis_info[0].unit_conversion_factor or 1.0
    res_x, res_y = abs(ds.transform.a), abs(ds.transform.e)

    blocks = [
        Window(window.col_off + c, window.row_off + r,
               min(DERIVE_BLOCK, window.width - c), min(DERIVE_BLOCK, window.height - r))
        for r in range(0, int(window.height), DERIVE_BLOCK)
        for c in range(0, int(window.width), DERIVE_BLOCK)
    ]
    lock = threading.Lock()
    local = threading.local()
    handles = []
    path = ds.name

    with ExitStack() as stack:
        dst_val = stack.enter_context(rasterio.open(derived_path, "w", **profile)) if derived_path else None
        above_profile = dict(profile, dtype="uint8", nodata=255, predictor=1)
        dst_above = stack.enter_context(rasterio.open(above_path, "w", **above_profile)) if above_path else None

        def work(w: Window) -> None:
            if not hasattr(local, "src"):
                local.src = rasterio.open(path)  # one handle per thread
                with lock:
                    handles.append(local.src)
            src = local.src
            if derive == "slope":
                vals = _slope_block(src, band, w, geographic, unit, res_x, res_y)
            else:
                data = src.read(band, window=w, masked=True)
                vals = np.ma.masked_invalid(data.astype(np.float64))
            out_w = Window(w.col_off - window.col_off, w.row_off - window.row_off, w.width, w.height)
            blocks_out = []
            if dst_val is not None:
                blocks_out.append((dst_val, np.ma.filled(vals.astype(np.float32), _DERIVED_NODATA)))
            if dst_above is not None:
                ind = np.where(np.ma.getmaskarray(vals), 255, (np.ma.getdata(vals) > threshold)).astype(np.uint8)
                blocks_out.append((dst_above, ind))
            with lock:
                for dst, arr in blocks_out:
                    dst.write(arr, 1, window=out_w)

        workers = min(2, os.cpu_count() or 1, len(blocks))
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(work, blocks))
        finally:
            for h in handles:
                h.close()
    log.debug("derived %s over %s in %d blocks", derive or "indicator", window, len(blocks))


def _slope_block(src, band, w: Window, geographic: bool, unit: float, res_x: float, res_y: float):
    """Slope (degrees, Horn's method) of window `w`, reading a 1-pixel halo.

    Outside the raster edge the surface is extended linearly (exact for planes); a cell with a
    nodata cell among its 3×3 neighbours is nodata.
    """
    r0 = max(0, w.row_off - 1)
    c0 = max(0, w.col_off - 1)
    r1 = min(src.height, w.row_off + w.height + 1)
    c1 = min(src.width, w.col_off + w.width + 1)
    data = src.read(band, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    z = np.ma.getdata(data).astype(np.float64)
    valid = ~np.ma.getmaskarray(data) & np.isfinite(z)
    pad_top = 1 if w.row_off == 0 else 0
    pad_left = 1 if w.col_off == 0 else 0
    pad_bottom = 1 if w.row_off + w.height == src.height else 0
    pad_right = 1 if w.col_off + w.width == src.width else 0
    z, valid = _extend(z, valid, pad_top, pad_bottom, pad_left, pad_right)

    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dzdx = (c + 2 * f + i) - (a + 2 * d + g)
    dzdy = (g + 2 * h + i) - (a + 2 * b + c)
    if geographic:
        rows = np.arange(w.row_off, w.row_off + w.height) + 0.5
        lat = src.transform.f + rows * src.transform.e  # north-up, unrotated
        m_lon, m_lat = _metres_per_degree(lat)
        dx = (8 * res_x * m_lon)[:, None]
        dy = (8 * res_y * m_lat)[:, None]
    else:
        dx = 8 * res_x * unit
        dy = 8 * res_y * unit
    with np.errstate(invalid="ignore"):
        slope = np.degrees(np.arctan(np.hypot(dzdx / dx, dzdy / dy)))
    ok = np.ones_like(slope, dtype=bool)
    for dr in range(3):
        for dc in range(3):
            ok &= valid[dr : dr + slope.shape[0], dc : dc + slope.shape[1]]
    return np.ma.masked_array(slope, mask=~ok)


def _extend(z, valid, top, bottom, left, right):
    """Pad by linear extrapolation (2·edge − inner) where the window touches the raster edge."""
    if top:
        z = np.vstack([2 * z[:1] - z[1:2], z]) if z.shape[0] > 1 else np.vstack([z[:1], z])
        valid = np.vstack([valid[:1] & valid[1:2] if valid.shape[0] > 1 else valid[:1], valid])
    if bottom:
        z = np.vstack([z, 2 * z[-1:] - z[-2:-1]]) if z.shape[0] > 1 else np.vstack([z, z[-1:]])
        valid = np.vstack([valid, valid[-1:] & valid[-2:-1] if valid.shape[0] > 1 else valid[-1:]])
    if left:
        z = np.hstack([2 * z[:, :1] - z[:, 1:2], z]) if z.shape[1] > 1 else np.hstack([z[:, :1], z])
        valid = np.hstack([valid[:, :1] & valid[:, 1:2] if valid.shape[1] > 1 else valid[:, :1], valid])
    if right:
        z = np.hstack([z, 2 * z[:, -1:] - z[:, -2:-1]]) if z.shape[1] > 1 else np.hstack([z, z[:, -1:]])
        valid = np.hstack([valid, valid[:, -1:] & valid[:, -2:-1] if valid.shape[1] > 1 else valid[:, -1:]])
    return z, valid
