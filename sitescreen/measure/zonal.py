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
* derives rasters block by block when needed (slope, a 0/1 "value > threshold" indicator for
  ``frac_above``, or a 0/1 "value in the classes" indicator for ``class_share``) into temporary
  tiled GeoTIFFs, limited to the footprints' extent, so no Python callback runs per zone and the
  whole raster is never in memory.

Differences from rasterstats, for reviewers: rasterstats counts a cell when its centre is inside
the footprint (or, with ``all_touched``, when it touches it) and weighs every counted cell fully;
here a cell weighs by the covered fraction of its area, so means and fractions differ slightly
along the footprint edges; min and max consider every cell the footprint touches with a positive
covered area.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import geopandas
import numpy as np
import pandas as pd
import rasterio
import shapely
from exactextract.operation import Operation
from pyproj import CRS
from rasterio.enums import ColorInterp
from rasterio.windows import Window

from sitescreen.children import scratch_dir
from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.inputs.bands import choose_band
from sitescreen.inputs.spec import LayerSpec
from sitescreen.measure.derive import derive_rasters
from sitescreen.measure.exact import Raster, run_exactextract

__all__ = ["zonal_stats", "ZONAL_STATS", "DERIVATIONS"]

log = logging.getLogger(__name__)

#: Statistics :func:`zonal_stats` computes.
ZONAL_STATS = ("mean", "min", "max", "frac_above", "class_share")
#: The statistics of values (not of class codes): refused on a categorical raster (a colour table).
VALUE_STATS = ("mean", "min", "max", "frac_above")
#: GDAL's block cache while measuring (its default, 5 % of the memory, fills with the blocks of a
#: national raster read once and of the derived rasters written once; a few rows of blocks suffice).
GDAL_CACHE_BYTES = 256 * 2**20
#: Rasters :func:`zonal_stats` can derive before extraction.
DERIVATIONS = ("slope",)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def zonal_stats(
    footprints: geopandas.GeoSeries,
    raster_path,
    stats: Sequence[str],
    *,
    band: int | None = 1,
    crs_override: str | None = None,
    derive: str | None = None,
    threshold: float | None = None,
    covered: bool = False,
    classes: Sequence[int] | None = None,
    known: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per footprint (same index), one float column per stat in `stats`.

    `stats` ⊂ {"mean", "min", "max", "frac_above"}: exact partial-pixel coverage via
    exactextract, reading through rasterio. `crs_override` replaces the raster's CRS tag;
    footprints are reprojected into the raster's true CRS before extraction.
    `derive="slope"` computes slope in degrees from the DEM first (windowed, 1-pixel halo,
    honouring nodata; geographic rasters use metres per degree at each row's latitude).
    frac_above = coverage-weighted fraction of valid cells whose value > `threshold`.
    class_share = the share of the footprint's area on valid cells whose value is one of `classes`
    (exact partial-cell coverage; cells of all classes together make up ``covered_fraction``).
    With `known` (the raster's class codes), cells of any other code are unknown: no data, like
    the raster's nodata (class_share alone).
    A categorical raster (its band has a colour table) is measured by class_share only: a mean
    of class codes means nothing, so the other stats and derivations are refused there.
    A footprint with no valid cells (outside the raster or all nodata) gets NaN in every
    column, never 0. With ``covered``, a column ``covered_fraction`` says which fraction of each
    footprint's area lies on valid cells (0 off the raster), for the minimum-coverage rule.
    """
    stats = _check_request(footprints, stats, derive, threshold, classes, known)
    raster_path = Path(raster_path)

    out = pd.DataFrame(
        {s: np.full(len(footprints), np.nan) for s in stats}, index=footprints.index
    )
    if covered:
        out["covered_fraction"] = 0.0
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), ExitStack() as stack:
        try:
            ds = stack.enter_context(rasterio.open(raster_path))
        except rasterio.errors.RasterioIOError as exc:
            raise LayerDataError(f"cannot open raster {raster_path}: {exc}") from None
        band = choose_band(LayerSpec(role="raster", path=Path(raster_path)), ds) if band is None else band  # never a guess
        if not 1 <= band <= ds.count:
            raise LayerConfigError(f"{raster_path} has {ds.count} band(s); band {band} requested")
        _check_categorical(ds, band, stats, derive, raster_path)
        true_crs = _true_crs(ds, crs_override, raster_path)
        geoms = _zones_in_crs(footprints, true_crs)
        ok = ~(shapely.is_empty(geoms) | np.equal(geoms, None))
        if len(footprints) == 0 or not ok.any():
            return out

        sources = _sources(stack, ds, band, true_crs, geoms, ok, stats, derive, threshold, (classes, known))
        if sources is None:  # every zone lies outside the raster
            return out
        value_src, indicator_src, class_src = sources

        # distinct names: exactextract keys operations by stat and raster name
        value_src.set_name("value")
        if indicator_src is not None:
            indicator_src.set_name("above")
        if class_src is not None:
            class_src.set_name("classes")
        ops, cols = _operations(stats, value_src, indicator_src, len(footprints), class_src)
        run_exactextract(geoms, ok, value_src, ops, cols)
        cell_area = abs(ds.transform.a * ds.transform.e)

    count = cols.pop("_count")
    if "class_share" in cols:  # the coverage-weighted count of cells in the classes, as a share of the area
        cols["class_share"] = _covered_fraction(cols["class_share"], cell_area, geoms, ok)
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


def _sources(stack, ds, band, true_crs, geoms, ok, stats, derive, threshold, classes):
    """(values, "> threshold" indicator, "in classes" indicator) as exactextract rasters: the band
    itself, or rasters derived over the zones' window into a scratch folder (None, None when not
    needed); None when every zone lies outside the raster. ``classes``: (classes, known codes)."""
    window = _zones_window(ds, shapely.total_bounds(geoms[ok]))
    if window is None:
        return None
    value_src, indicator_src, class_src = Raster(ds, band, window), None, None
    if derive is None and "frac_above" not in stats and "class_share" not in stats:
        return value_src, indicator_src, class_src
    tmpdir = stack.enter_context(scratch_dir("rasters"))
    derived_path = tmpdir / "derived.tif" if derive else None
    above_path = tmpdir / "above.tif" if "frac_above" in stats else None
    class_path = tmpdir / "classes.tif" if "class_share" in stats else None
    derive_rasters(ds, band, true_crs, window, derive, threshold, derived_path, above_path, classes[0], class_path,
                   known=classes[1], zones=shapely.bounds(geoms[ok]))  # only the cells under some zone
    if derived_path is not None:
        value_src = Raster(stack.enter_context(rasterio.open(derived_path)), 1)
    if above_path is not None:
        indicator_src = Raster(stack.enter_context(rasterio.open(above_path)), 1)
    if class_path is not None:
        class_src = Raster(stack.enter_context(rasterio.open(class_path)), 1)
    return value_src, indicator_src, class_src


def _check_request(footprints, stats: Sequence[str], derive: str | None, threshold: float | None,
                   classes: Sequence[int] | None = None, known: Sequence[int] | None = None) -> list[str]:
    """The stats asked for, checked with the derivation, the threshold, the classes and the footprints' type."""
    stats = _check_stats(stats)
    if derive is not None and derive not in DERIVATIONS:
        raise LayerConfigError(
            f"unknown raster derivation {derive!r}; allowed: {', '.join(DERIVATIONS)}"
        )
    if "frac_above" in stats and threshold is None:
        raise LayerConfigError("stat 'frac_above' needs a threshold")
    if "class_share" in stats and (not classes or derive is not None):
        raise LayerConfigError("stat 'class_share' needs classes (the class codes counted) and no derivation: "
                               "it counts a categorical raster's own values")
    if (classes is not None or known is not None) and "class_share" not in stats:
        raise LayerConfigError(f"class codes (classes, known) are for stat 'class_share', not {', '.join(stats)}")
    if known is not None and stats != ["class_share"]:
        raise LayerConfigError("known class codes apply to stat 'class_share' alone")
    if known is not None and not set(classes) <= set(known):
        raise LayerConfigError(f"classes {sorted(set(classes) - set(known))} are not among the known class codes "
                               f"{list(known)}: they would never be counted")
    if not isinstance(footprints, geopandas.GeoSeries):
        raise TypeError(f"footprints must be a geopandas.GeoSeries, got {type(footprints).__name__}")
    return stats


def _operations(stats: list[str], value_src, indicator_src, n: int, class_src=None) -> tuple[list, dict[str, np.ndarray]]:
    """exactextract's operations (a coverage-weighted count, then one per stat) and the columns
    they fill, one value per footprint (for class_share: the coverage-weighted count of cells in
    the classes, made a share of the footprint's area by :func:`zonal_stats`)."""
    cols = {s: np.full(n, np.nan) for s in stats}
    cols["_count"] = np.zeros(n)
    # valid cells: of the class indicator for class_share alone (its no data includes unknown codes)
    ops = [Operation("count", "_count", class_src if stats == ["class_share"] else value_src)]
    for s in stats:
        if s == "frac_above":
            ops.append(Operation("mean", s, indicator_src))
        elif s == "class_share":
            ops.append(Operation("sum", s, class_src))
        else:
            ops.append(Operation(s, s, value_src))
    return ops, cols


def _covered_fraction(count: np.ndarray, cell_area: float, geoms: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Area on valid cells (the coverage-weighted count of valid cells × a cell's area, in the
    raster's CRS, where exactextract measures) over each footprint's area there."""
    area = np.zeros(len(geoms))
    area[ok] = shapely.area(geoms[ok])
    frac = np.zeros(len(geoms))
    has = area > 0
    frac[has] = np.minimum(count[has] * cell_area / area[has], 1.0)
    return frac


def _check_categorical(ds, band: int, stats: list[str], derive: str | None, raster_path) -> None:
    """Refuse statistics of values on a categorical raster (its band has a colour table)."""
    if ds.colorinterp[band - 1] != ColorInterp.palette:
        return
    bad = [s for s in stats if s in VALUE_STATS] + ([f"derive = {derive!r}"] if derive else [])
    if bad:
        raise LayerDataError(
            f"raster {raster_path}: band {band} is categorical (it has a colour table: its values are class "
            f"codes), so {', '.join(bad)} of it would mean nothing; measure it with stat = \"class_share\" "
            f"and classes = [CODE, ...]")


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
