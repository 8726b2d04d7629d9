"""A run's layers, read and checked around its sites in the run CRS (or zone by zone).

:func:`load_layers` reads every vector layer within the sites' reach (plus the distance its rules
look) and checks every raster (:class:`RasterInfo`) against the sites; :func:`load_zones` does it
for each measuring zone of a zoned run (:mod:`sitescreen.run.zonedsource`), in the zone's CRS,
and the checks that a run reaches its layers are made over all the zones together.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from pyproj import CRS

from sitescreen.errors import CRSError, LayerDataError
from sitescreen.inputs.bands import choose_band
from sitescreen.inputs.check import check_coordinates, check_path
from sitescreen.inputs.crs import crs_label, lonlat_boxes, to_crs
from sitescreen.inputs.load import LoadedLayer, load_vector
from sitescreen.inputs.spec import LayerSpec
from sitescreen.measure.criteria import Inputs
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.profile import Profile
from sitescreen.run.config import RunConfig

@dataclass
class RasterInfo:
    """A raster input as checked against the run: what the manifest records of it (:meth:`info`)
    and its footprint in the run CRS (not recorded: it tells which sites the raster covers)."""

    spec: LayerSpec
    width: int
    height: int
    res: list[float]
    nodata: float | None
    dtype: str | None
    bands: int
    source_crs: str | None
    footprint: Any  # a shapely polygon in the run CRS
    sites_covered: int = 0

    def info(self) -> dict:
        """The raster's entry in the manifest's inputs (without its hash and size)."""
        return {"width": self.width, "height": self.height, "res": list(self.res), "nodata": self.nodata,
                "dtype": self.dtype, "bands": self.bands, "band": self.spec.band, "name": self.spec.label, "role": self.spec.role,
                "path": str(self.spec.path), "layer": None, "kind": "raster", "schema": "raster",
                "source_crs": self.source_crs, "crs_override": self.spec.crs, "sites_covered": self.sites_covered,
                "coverage": "raster valid cells", "features_read": None, "repairs": 0}

    def covered(self, fp: np.ndarray) -> int:
        """How many of the footprints ``fp`` (run CRS) the raster's footprint meets."""
        return int(shapely.intersects(fp, self.footprint).sum())


def _role_margins(profile: Profile) -> dict[str, float]:
    """How far beyond the sites each role must be read (the largest distance a rule needs)."""
    margins: dict[str, float] = {}
    for c in profile.criteria:
        need = KINDS[c.kind].reach(c.params)
        for r in c.roles:
            margins[r] = max(margins.get(r, 0.0), need)
    return margins


def _polygon_roles(profile: Profile) -> set[str]:
    """Roles whose layers must be polygons (their kinds measure areas on them); others may be lines or points."""
    return {r for c in profile.criteria if KINDS[c.kind].measures_area for r in c.roles}


def _check_reach(config: RunConfig, fp: np.ndarray, crs: CRS, vectors: list[LoadedLayer], margins: dict) -> None:
    """Refuse a run in which no site lies within any layer's extent (plus the distance its rules look):
    the sign of swapped lon/lat columns, a wrong sites CRS, or layers for another region."""
    reach = [shapely.buffer(lyr.extent, margins[lyr.spec.role]) if margins.get(lyr.spec.role) else lyr.extent
             for lyr in vectors if lyr.extent is not None]
    if len(reach) < len(vectors) or not len(fp):
        return  # some extent unknown: cannot tell
    if any(shapely.intersects(fp, r).any() for r in reach):
        return
    s = np.round(gpd.GeoSeries(fp, crs=crs).to_crs(4326).total_bounds, 3)  # the sites', not their box's corners
    lyr = np.round(gpd.GeoSeries([v.extent for v in vectors], crs=crs).to_crs(4326).total_bounds, 3)
    spans = (f"span lon {s[0]:g} to {s[2]:g}, lat {s[1]:g} to {s[3]:g}; "
             f"layers span lon {lyr[0]:g} to {lyr[2]:g}, lat {lyr[1]:g} to {lyr[3]:g}")
    if config.sites is None:  # a grid has no columns or CRS to blame: its area of interest is elsewhere
        aoi = f"{config.config_path}: [run] aoi" if config.config_path else "--aoi"
        raise LayerDataError(f"{aoi}: no cell of the grid over the area of interest lies "
                             f"within any layer's extent (cells {spans}): give an area of interest the layers cover, "
                             f"or layers that cover it")
    raise LayerDataError(
        f"{config.sites.path}: no site lies within any layer's extent (sites {spans}): are the longitude/latitude "
        f"columns swapped or the sites' CRS wrong? Otherwise give layers that cover the sites")


def raster_info(spec: LayerSpec, fp: np.ndarray, run_crs: CRS, alone: bool = True) -> RasterInfo:
    """Open a raster, check its CRS against its coordinates and its overlap with the footprints ``fp``
    (not ``alone``: ``fp`` are one zone's, and the overlap is checked over all zones by :func:`load_zones`)."""
    check_path(spec.path, f"{spec.role} raster")
    where = str(spec.path)
    try:
        with rasterio.open(spec.path) as src:
            spec = replace(spec, band=choose_band(spec, src), layer=None)  # never a guessed band
            _check_cells(src, spec, where)  # first: the bounds of a rotated grid are not its cells'
            tag, bounds, count = src.crs, tuple(src.bounds), src.count
            grid = {"width": src.width, "height": src.height, "res": list(src.res), "nodata": src.nodata,
                    "dtype": src.dtypes[spec.band - 1], "bands": count}
    except rasterio.errors.RasterioIOError as exc:
        raise LayerDataError(f"{where}: not a raster GDAL can open: {exc}") from None
    if spec.crs:
        crs = to_crs(spec.crs, where)
    elif tag is None:
        raise CRSError(f"{where}: the raster has no CRS; state it with crs = \"EPSG:…\" or --layer {spec.role}={spec.path}@EPSG:XXXX")
    else:
        crs = to_crs(tag.to_wkt(), where)
    check_coordinates(np.array(bounds), crs, where, 1)
    info = RasterInfo(spec=spec, **grid, source_crs=f"{crs_label(to_crs(tag.to_wkt(), where)) if tag else None}",
                      footprint=gpd.GeoSeries([shapely.box(*bounds)], crs=crs).to_crs(run_crs).iloc[0])
    info.sites_covered = info.covered(fp)
    if not info.sites_covered and alone:
        raise LayerDataError(
            f"{where}: the raster's footprint {tuple(round(b, 1) for b in bounds)} ({crs_label(crs)}) does not overlap "
            f"any site; check the raster's CRS (override with crs = \"EPSG:…\") or leave the layer out")
    return info


def _check_cells(src, spec: LayerSpec, where: str) -> None:
    """Refuse a raster whose cells would be measured wrongly: a rotated or sheared grid (read as
    north-up, every cell would lie elsewhere) or a band storing scaled values (scale/offset: the cell
    values are not the quantity the rule measures)."""
    t = src.transform
    if t.b != 0 or t.d != 0:
        raise LayerDataError(f"{where}: the raster's grid is rotated or sheared (geotransform "
                             f"{', '.join(f'{v:.6g}' for v in tuple(t)[:6])}); "
                             f"only north-up grids are measured: warp it first (gdalwarp -r bilinear {shlex.quote(str(spec.path))} north-up.tif) "
                             f"and give the warped file")
    if spec.band <= src.count and (src.scales[spec.band - 1] != 1 or src.offsets[spec.band - 1] != 0):
        raise LayerDataError(f"{where}: band {spec.band} stores scaled values (scale {src.scales[spec.band - 1]:g}, "
                             f"offset {src.offsets[spec.band - 1]:g}); only unscaled values are measured: write the "
                             f"true values first (gdal_translate -unscale -ot Float32 {shlex.quote(str(spec.path))} unscaled.tif) and give that file")


def load_layers(config: RunConfig, profile: Profile, run_crs: CRS, bounds, fp: np.ndarray, alone: bool = True
                ) -> tuple[list[LoadedLayer], list[LayerSpec], list[RasterInfo]]:
    """The run's layers in the run CRS, vectors read only within the sites' ``bounds`` plus the
    distance their rules look; checked against the footprints ``fp`` (does any site reach them?),
    unless not ``alone`` (one zone of a run: :func:`load_zones` checks the reach over every zone)."""
    margins = _role_margins(profile)
    vectors: list[LoadedLayer] = []
    rasters: list[LayerSpec] = []
    for spec in config.layers:
        if spec.kind == "vector":
            vectors.append(load_vector(spec, run_crs, lonlat_boxes(bounds, run_crs, margins.get(spec.role, 0.0)),
                                       polygonal=spec.role in _polygon_roles(profile)))
        else:
            rasters.append(spec)
    if vectors and not rasters and alone:
        _check_reach(config, fp, run_crs, vectors, margins)
    infos = [raster_info(spec, fp, run_crs, alone) for spec in rasters]
    return vectors, [i.spec for i in infos], infos  # the rasters with the band each measures


@dataclass
class ZoneRun:
    """One measuring zone of a zoned run, loaded: its layers and rasters in the zone's CRS."""

    zone: Any  # sitescreen.inputs.zones.Zone
    inputs: Inputs
    rasters: list[RasterInfo]


def load_zones(config: RunConfig, profile: Profile, source, out_crs: CRS
               ) -> tuple[tuple[ZoneRun, ...], Inputs, list[RasterInfo]]:
    """Every zone's layers, read around that zone's sites only (:func:`load_layers`) in its CRS; and
    the run's inputs as recorded, once per file (:func:`_run_inputs`). Refused, as a run in one CRS
    is, when no zone's sites reach any layer or a raster overlaps no site of any zone."""
    runs, misses = [], []
    for k, zone in enumerate(source.zones):
        bounds, fp = source.zone_reach(k)
        vectors, rasters, infos = load_layers(config, profile, zone.crs, bounds, fp, alone=False)
        if vectors and not rasters:
            try:
                _check_reach(config, fp, zone.crs, vectors, _role_margins(profile))
            except LayerDataError as exc:
                misses.append(exc)
        runs.append(ZoneRun(zone=zone, inputs=Inputs(vectors=vectors, rasters=rasters), rasters=infos))
    if len(misses) == len(runs) and misses:
        raise misses[0]
    for i, spec in enumerate(runs[0].inputs.rasters):
        if not any(r.rasters[i].sites_covered for r in runs):  # the message of a run in one CRS
            raster_info(spec, source.zone_reach(0)[1], runs[0].zone.crs)
    return tuple(runs), *_run_inputs(runs, out_crs)


def _run_inputs(runs: list[ZoneRun], out_crs: CRS) -> tuple[Inputs, list[RasterInfo]]:
    """The zones' layers as the run records and shows them: each file once, its features (in
    ``out_crs``, for the map) and counts added over the zones; never measured."""
    vectors = []
    for parts in zip(*(r.inputs.vectors for r in runs)):
        gdf = pd.concat([p.gdf.to_crs(out_crs) for p in parts], ignore_index=True)
        vectors.append(replace(parts[0], gdf=gpd.GeoDataFrame(gdf, geometry=parts[0].gdf.geometry.name, crs=out_crs),
                               features_read=sum(p.features_read for p in parts), repairs=sum(p.repairs for p in parts),
                               dropped_empty=sum(p.dropped_empty for p in parts), coverage=None, extent=None))
    rasters = [replace(parts[0], sites_covered=sum(p.sites_covered for p in parts),
                       footprint=gpd.GeoSeries([parts[0].footprint], crs=runs[0].zone.crs).to_crs(out_crs).iloc[0])
               for parts in zip(*(r.rasters for r in runs))]
    return Inputs(vectors=vectors, rasters=list(runs[0].inputs.rasters)), rasters
