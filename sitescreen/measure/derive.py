"""Derived rasters for :func:`sitescreen.measure.zonal.zonal_stats`: slope, a 0/1 "value > threshold"
indicator for ``frac_above``, or a 0/1 "value in the classes" indicator for ``class_share``,
computed block by block into temporary tiled GeoTIFFs, limited to the footprints' extent, so no
Python callback runs per zone and the whole raster is never in memory.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

__all__ = ["derive_rasters"]

log = logging.getLogger(__name__)

#: Side of the windows (pixels) processed at a time when deriving a raster.
DERIVE_BLOCK = 2048
#: Side of the derived rasters' tiles (pixels): only tiles under some zone are computed and written.
DERIVED_TILE = 128
_DERIVED_NODATA = -9999.0


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


def derive_rasters(ds, band, true_crs, window, derive, threshold, derived_path, above_path,
                   classes=None, class_path=None, known=None, zones=None) -> None:
    """Write the rasters asked for over ``window``: the derived values (``derived_path``), the
    "> threshold" indicator (``above_path``), the "in ``classes``" indicator (``class_path``, from
    the band's own values; cells of a code not in ``known``, when given, are unknown: nodata).
    Indicators are 1/0 on valid cells and nodata (255) elsewhere. With ``zones`` (the zones'
    bounds, n × 4 in the raster's CRS), only the blocks of :data:`DERIVED_TILE` cells that some
    zone's bounds (plus a cell) touch are computed and written; the others stay unwritten (a
    sparse GeoTIFF: read as nodata), so the work follows the zones, not their window."""
    profile = _profile(ds, window, derive)
    geographic = bool(true_crs is not None and true_crs.is_geographic)
    unit = 1.0
    if true_crs is not None and not geographic and true_crs.axis_info:
        unit = true_crs.axis_info[0].unit_conversion_factor or 1.0
    res_x, res_y = abs(ds.transform.a), abs(ds.transform.e)
    touched = _touched_tiles(ds.transform, window, zones)
    lut, lut_base = (None, 0) if derived_path or above_path or not class_path else _class_table(ds.dtypes[band - 1], classes, known)
    blocks = _blocks(window, touched)
    lock = threading.Lock()
    local = threading.local()
    handles = []
    path = ds.name

    with ExitStack() as stack:
        dst_val = stack.enter_context(rasterio.open(derived_path, "w", **profile)) if derived_path else None
        above_profile = dict(profile, dtype="uint8", nodata=255, predictor=1)
        dst_above = stack.enter_context(rasterio.open(above_path, "w", **above_profile)) if above_path else None
        dst_class = stack.enter_context(rasterio.open(class_path, "w", **above_profile)) if class_path else None

        def work(w: Window) -> None:
            if not hasattr(local, "src"):
                local.src = rasterio.open(path)  # one handle per thread
                with lock:
                    handles.append(local.src)
            src = local.src
            if lut is not None:  # integer class codes alone: the indicator looked up per code
                data = src.read(band, window=w, masked=True)
                ind = lut[np.ma.getdata(data).astype(np.int64) - lut_base]
                _write([(dst_class, np.where(np.ma.getmaskarray(data), 255, ind).astype(np.uint8))], w)
                return
            if derive == "slope":
                vals = _slope_block(src, band, w, geographic, unit, res_x, res_y)
            else:
                data = src.read(band, window=w, masked=True)
                vals = np.ma.masked_invalid(data.astype(np.float64))
            blocks_out = []
            if dst_val is not None:
                blocks_out.append((dst_val, np.ma.filled(vals.astype(np.float32), _DERIVED_NODATA)))
            if dst_above is not None:
                ind = np.where(np.ma.getmaskarray(vals), 255, (np.ma.getdata(vals) > threshold)).astype(np.uint8)
                blocks_out.append((dst_above, ind))
            if dst_class is not None:  # the band's own values (zonal_stats never derives class codes)
                blocks_out.append((dst_class, _class_indicator(vals, classes, known)))
            _write(blocks_out, w)

        def _write(blocks_out, w: Window) -> None:
            parts = _written_parts(w, window, touched)
            with lock:
                for dst, arr in blocks_out:
                    for out_w, (r, c) in parts:
                        dst.write(arr[r:r + out_w.height, c:c + out_w.width], 1, window=out_w)

        workers = min(2, os.cpu_count() or 1, len(blocks))
        try:
            with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
                list(pool.map(work, blocks))
        finally:
            for h in handles:
                h.close()
    log.debug("derived %s over %s in %d blocks", derive or "indicator", window, len(blocks))


def _profile(ds, window: Window, derive) -> dict:
    """The derived rasters' GeoTIFF profile over ``window`` (sparse: blocks never written read as nodata)."""
    return {
        "driver": "GTiff",
        "width": int(window.width),
        "height": int(window.height),
        "count": 1,
        "dtype": "float32",
        "crs": ds.crs,  # keep the tag as is: only the grid matters to exactextract
        "transform": _window_transform(ds.transform, window),
        "nodata": _DERIVED_NODATA,
        "tiled": True,
        "blockxsize": DERIVED_TILE,
        "blockysize": DERIVED_TILE,
        "compress": "DEFLATE",
        "zlevel": 1,
        "predictor": 2 if derive is None else 1,
        "BIGTIFF": "IF_SAFER",
        "SPARSE_OK": "TRUE",
    }


def _touched_tiles(t, window: Window, zones) -> np.ndarray | None:
    """Which of the derived raster's tiles (rows × columns of :data:`DERIVED_TILE` cells) some
    zone's bounds, widened by one cell as :func:`sitescreen.measure.zonal._zones_window` widens
    them, touch; None (all) without ``zones``."""
    if zones is None:
        return None
    b = np.asarray(zones, dtype=float).reshape(-1, 4)
    b = b[np.isfinite(b).all(axis=1)]
    width, height = int(window.width), int(window.height)
    shape = (-(-height // DERIVED_TILE), -(-width // DERIVED_TILE))
    cols = np.sort(np.stack([(b[:, 0] - t.c) / t.a, (b[:, 2] - t.c) / t.a]), axis=0)
    rows = np.sort(np.stack([(b[:, 1] - t.f) / t.e, (b[:, 3] - t.f) / t.e]), axis=0)
    c0 = np.clip(np.floor(cols[0]) - 1 - window.col_off, 0, width)
    c1 = np.clip(np.ceil(cols[1]) + 1 - window.col_off, 0, width)
    r0 = np.clip(np.floor(rows[0]) - 1 - window.row_off, 0, height)
    r1 = np.clip(np.ceil(rows[1]) + 1 - window.row_off, 0, height)
    keep = (c1 > c0) & (r1 > r0)
    tc0, tc1 = (c0[keep] // DERIVED_TILE).astype(np.int64), ((c1[keep] - 1) // DERIVED_TILE).astype(np.int64) + 1
    tr0, tr1 = (r0[keep] // DERIVED_TILE).astype(np.int64), ((r1[keep] - 1) // DERIVED_TILE).astype(np.int64) + 1
    diff = np.zeros((shape[0] + 1, shape[1] + 1), dtype=np.int64)  # 2-D difference array of the tile ranges
    np.add.at(diff, (tr0, tc0), 1)
    np.add.at(diff, (tr0, tc1), -1)
    np.add.at(diff, (tr1, tc0), -1)
    np.add.at(diff, (tr1, tc1), 1)
    return diff.cumsum(axis=0).cumsum(axis=1)[:shape[0], :shape[1]] > 0


def _blocks(window: Window, touched) -> list[Window]:
    """The :data:`DERIVE_BLOCK` windows (source pixels) computed: each cut to the box of its touched
    tiles (those without any: left out)."""
    out = []
    for r in range(0, int(window.height), DERIVE_BLOCK):
        for c in range(0, int(window.width), DERIVE_BLOCK):
            r0, c0 = r, c
            r1, c1 = min(r + DERIVE_BLOCK, int(window.height)), min(c + DERIVE_BLOCK, int(window.width))
            if touched is not None:
                ti, tj = r0 // DERIVED_TILE, c0 // DERIVED_TILE
                sub = touched[ti:-(-r1 // DERIVED_TILE), tj:-(-c1 // DERIVED_TILE)]
                if not sub.any():
                    continue
                rr, cc = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
                r0, r1 = max(r0, (ti + rr[0]) * DERIVED_TILE), min(r1, (ti + rr[-1] + 1) * DERIVED_TILE)
                c0, c1 = max(c0, (tj + cc[0]) * DERIVED_TILE), min(c1, (tj + cc[-1] + 1) * DERIVED_TILE)
            out.append(Window(window.col_off + c0, window.row_off + r0, c1 - c0, r1 - r0))
    return out


def _written_parts(w: Window, window: Window, touched) -> list[tuple[Window, tuple[int, int]]]:
    """The parts of block ``w`` written: (window in the derived raster, (row, col) in the block);
    the whole block, or its touched tiles."""
    out_w = Window(w.col_off - window.col_off, w.row_off - window.row_off, w.width, w.height)
    if touched is None:
        return [(out_w, (0, 0))]
    parts = []
    for ti in range(out_w.row_off // DERIVED_TILE, -(-(out_w.row_off + out_w.height) // DERIVED_TILE)):
        for tj in range(out_w.col_off // DERIVED_TILE, -(-(out_w.col_off + out_w.width) // DERIVED_TILE)):
            if not touched[ti, tj]:
                continue
            r0, c0 = max(ti * DERIVED_TILE, out_w.row_off), max(tj * DERIVED_TILE, out_w.col_off)
            r1 = min((ti + 1) * DERIVED_TILE, out_w.row_off + out_w.height)
            c1 = min((tj + 1) * DERIVED_TILE, out_w.col_off + out_w.width)
            parts.append((Window(c0, r0, c1 - c0, r1 - r0), (r0 - out_w.row_off, c0 - out_w.col_off)))
    return parts


def _class_table(dtype: str, classes, known) -> tuple[np.ndarray | None, int]:
    """For a band of small integer codes: (the class indicator of every code, as
    :func:`_class_indicator` gives it, indexed by code − the second value); (None, 0) otherwise."""
    if np.dtype(dtype) not in (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.uint16), np.dtype(np.int16)):
        return None, 0
    info = np.iinfo(dtype)
    codes = np.ma.masked_array(np.arange(info.min, info.max + 1, dtype=np.float64), mask=False)
    return _class_indicator(codes, classes, known), int(info.min)


def _class_indicator(vals, classes, known) -> np.ndarray:
    """1 where a valid cell's code is one of ``classes``, 0 on other valid cells, 255 (nodata) on
    masked cells and, with ``known``, on cells of a code not in it (unknown)."""
    data = np.ma.getdata(vals)
    unknown = np.ma.getmaskarray(vals)
    if known is not None:
        unknown = unknown | ~np.isin(data, np.asarray(list(known), dtype=np.float64))
    return np.where(unknown, 255, np.isin(data, np.asarray(list(classes), dtype=np.float64))).astype(np.uint8)


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
