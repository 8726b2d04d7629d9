"""The area of interest: parsed (a lon/lat box, across 180° too, or a polygon file), read as one
polygon, and applied to the sites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity
from pyproj import CRS

from sitescreen.errors import ConfigError, LayerDataError
from sitescreen.inputs.check import polygonal_part, repair
from sitescreen.inputs.numbers import LATITUDE, LONGITUDE
from sitescreen.inputs.read import read_table
from sitescreen.inputs.spec import LayerSpec
from sitescreen.sites.options import SiteStats


AOI_VERTEX_DEG = 0.1  # a lon/lat AOI box has a vertex at least this often, so it reprojects true


def parse_aoi(value: Any, where: str = "--aoi") -> Any:
    """An area of interest: ``west,south,east,north`` in degrees (text or four numbers), or a polygon file.

    ``west > east`` is a box crossing 180° (e.g. ``170,50,-170,55``), kept as given; a box that read
    so would span more than half the globe is refused as a swapped pair instead of being guessed.
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return _aoi_box(list(value), where)
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected four numbers west, south, east, north in degrees or a polygon file; got {value!r}")
    parts = value.split(",")
    if len(parts) == 1:
        return Path(value)
    numbers = []
    for p in parts:
        try:
            numbers.append(float(p))
        except ValueError:
            numbers.append(p.strip())
    return _aoi_box(numbers, where, repr(value))


def _aoi_box(values: list, where: str, shown: str = "") -> tuple[float, float, float, float]:
    shown = shown or "[" + ", ".join(map(str, values)) + "]"
    if len(values) != 4:
        raise ConfigError(f"{where}: {shown} has {len(values)} value(s); an area of interest is four numbers "
                               f"west, south, east, north in degrees (or a polygon file)")
    west, east = (LONGITUDE.check(values[i], k, where) for i, k in ((0, "west (min longitude)"), (2, "east (max longitude)")))
    south, north = (LATITUDE.check(values[i], k, where) for i, k in ((1, "south (min latitude)"), (3, "north (max latitude)")))
    if south >= north:
        raise ConfigError(f"{where}: {shown}: south {south:g} must be below north {north:g} "
                               f"(the order is west, south, east, north in degrees)")
    if west == east or (west > east and west - east < 180):
        raise ConfigError(
            f"{where}: {shown}: west {west:g} and east {east:g} "
            + ("are equal (the box has no width)" if west == east else
               f"read as a box crossing 180° would span {east + 360 - west:g}° of longitude; the order is west, "
               f"south, east, north: write [{east:g}, {south:g}, {west:g}, {north:g}] (a box crossing 180° has "
               f"west > east, e.g. [170, 50, -170, 55])"))
    return (west, south, east, north)


def aoi_geometry(aoi: Any) -> gpd.GeoSeries | None:
    """The AOI as a one-polygon GeoSeries (EPSG:4326 for a box, the file's CRS otherwise).

    A box crossing 180° (west > east) is one polygon with its east edge past 180° (east + 360), so
    it reprojects whole; :func:`apply_aoi` compares it with lon/lat sites on both sides of 180°.
    """
    if aoi is None:
        return None
    if isinstance(aoi, tuple):
        west, south, east, north = aoi
        box = shapely.box(west, south, east + 360 if west > east else east, north)
        return gpd.GeoSeries([shapely.segmentize(box, AOI_VERTEX_DEG)], crs="EPSG:4326")  # edges follow meridians and parallels
    spec = LayerSpec(role="aoi", path=Path(aoi))
    gdf, _, src = read_table(spec)
    geoms = gdf.geometry.to_numpy()
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    kinds = set(shapely.get_type_id(present).tolist())
    if not present.size or not kinds <= {3, 6, 7}:
        found = sorted(shapely.GeometryType(t).name for t in kinds) or ["no geometry"]
        raise LayerDataError(f"{spec.path}: the area of interest must be polygons (the area to screen); "
                             f"found {', '.join(found)}: give a polygon file or a box west,south,east,north")
    geoms, _ = repair(present, True)
    area = shapely.union_all(polygonal_part(geoms))
    if area.is_empty:
        raise LayerDataError(f"{spec.path}: the area of interest has no polygon area; give a polygon file or a box west,south,east,north")
    return gpd.GeoSeries([area], crs=src)


def apply_aoi(sites: gpd.GeoDataFrame, aoi: gpd.GeoSeries | None, stats: SiteStats, *, require: bool = True) -> gpd.GeoDataFrame:
    """The sites that touch the area of interest (counting those outside, added to earlier pieces')."""
    if aoi is None:
        return sites
    area = aoi.to_crs(sites.crs).iloc[0]
    if CRS(sites.crs).is_geographic:  # an AOI crossing 180° reaches past it: lon/lat sites lie on either side
        area = shapely.union_all([area, shapely.affinity.translate(area, -360), shapely.affinity.translate(area, 360)])
    inside = shapely.intersects(sites.geometry.to_numpy(), area)
    stats.records_outside_aoi += int((~inside).sum())
    if require and not inside.any():
        raise_outside_aoi(aoi)
    return sites.loc[inside].reset_index(drop=True)


def raise_outside_aoi(aoi: gpd.GeoSeries):
    west, south, east, north = (float(v) for v in np.round(aoi.to_crs(4326).total_bounds, 4))
    east = east - 360 if east > 180 else east  # a box crossing 180°, as it was given
    raise LayerDataError(f"no site lies inside the area of interest (west {west:g}, south {south:g}, east {east:g}, north {north:g})")
