"""exactextract adapters: zones in as WKB with their positions, results straight into numpy arrays
(no GeoJSON round trip, no per-feature dicts kept), zones in Hilbert order and in chunks, with the
processing strategy picked by the number of zones (raster-sequential for many zones, so every
raster block is read and decompressed once). Used by :func:`sitescreen.measure.zonal.zonal_stats`.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import geopandas
import numpy as np
import shapely
from exactextract import exact_extract
from exactextract._exactextract import Feature
from exactextract.feature import FeatureSource
from exactextract.raster import RasterioRasterSource
from exactextract.writer import Writer

__all__ = ["Raster", "run_exactextract"]

log = logging.getLogger(__name__)

#: Above this many zones exactextract runs raster-sequential (each block read once).
RASTER_SEQUENTIAL_MIN_ZONES = 500
#: Zones handed to one exactextract call (bounds the geometries held in memory at once).
ZONE_CHUNK = 250_000


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


class Raster(RasterioRasterSource):
    """A rasterio band whose CRS tag is not handed to exactextract (zones are already in the
    raster's true CRS, and a wrong tag would only trigger a spurious mismatch warning).

    With ``window`` (a rasterio Window), exactextract sees only that part of the band: its grid is
    the window's, so a raster-sequential pass walks and reads only the blocks around the zones, not
    the whole raster. Only where the window's grid is *exact* (:func:`exact_window`: every edge of
    it equals the whole grid's in exact arithmetic), so every cell's coverage is computed from the
    same coordinates and the numbers are the same as over the whole band; otherwise the whole band.
    """

    def __init__(self, ds, band_idx: int = 1, window=None):
        super().__init__(ds, band_idx)
        self._window = window if window is not None and exact_window(ds, window) else None

    def extent(self):
        return super().extent() if self._window is None else _window_bounds(self.ds.transform, self._window)

    def read_window(self, x0, y0, nx, ny):
        if self._window is not None:
            x0, y0 = x0 + int(self._window.col_off), y0 + int(self._window.row_off)
        return super().read_window(x0, y0, nx, ny)

    def srs_wkt(self):
        return None


def exact_window(ds, window) -> bool:
    """Whether the grid of ``window`` of ``ds`` lies exactly on the whole grid: the cell size and
    the window's edges computed in floating point equal their exact values (as for a round origin
    and cell size, such as 50 m cells on whole metres), so exactextract computes every cell from
    the same coordinates in the window as in the whole raster."""
    t = ds.transform
    left, bottom, right, top = ds.bounds
    if Fraction(t.a) * ds.width != Fraction(right) - Fraction(left) or \
            Fraction(-t.e) * ds.height != Fraction(top) - Fraction(bottom):
        return False
    c0, r0, c1, r1 = _window_cells(window)
    want = (Fraction(t.c) + c0 * Fraction(t.a), Fraction(t.f) + r1 * Fraction(t.e),
            Fraction(t.c) + c1 * Fraction(t.a), Fraction(t.f) + r0 * Fraction(t.e))
    return all(Fraction(got) == w for got, w in zip(_window_bounds(t, window), want))


def _window_cells(window) -> tuple[int, int, int, int]:
    c0, r0 = int(window.col_off), int(window.row_off)
    return c0, r0, c0 + int(window.width), r0 + int(window.height)


def _window_bounds(t, window) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of ``window`` under the north-up transform ``t``."""
    c0, r0, c1, r1 = _window_cells(window)
    return t.c + c0 * t.a, t.f + r1 * t.e, t.c + c1 * t.a, t.f + r0 * t.e


def run_exactextract(geoms, ok, value_src, ops, cols) -> None:
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
