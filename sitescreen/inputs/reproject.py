"""Reprojecting layer geometries into the run CRS so that they keep their shape.

In a geographic CRS a file's edges are straight in longitude and latitude. A geometry that reaches a
pole or spans the whole ±180° range has edges along which the CRS wraps: a cap written as
``box(-180, 85, 180, 90)`` has the whole 85° parallel as one edge, and projected vertex by vertex it
collapses to a line of zero area (a silent 0 % overlap). Such geometries get a vertex every
:data:`LONLAT_VERTEX_DEG` degrees before they are projected, and are repaired after (the seam and the
pole leave a slit). Every other geometry is projected vertex by vertex, as before (its numbers are
unchanged).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from sitescreen.inputs.check import repair

#: A wrapping lon/lat edge has a vertex at least this often before it is projected (as an AOI box has).
LONLAT_VERTEX_DEG = 0.1
_EDGE = 1e-9  # degrees: a coordinate this close to ±180 or ±90 lies on the seam or at the pole


def wraps(geoms: np.ndarray) -> np.ndarray:
    """Which lon/lat geometries reach a pole or span the whole ±180° range."""
    with np.errstate(invalid="ignore"):
        b = shapely.bounds(geoms)
        return (((b[:, 0] <= -180 + _EDGE) & (b[:, 2] >= 180 - _EDGE))
                | (b[:, 1] <= -90 + _EDGE) | (b[:, 3] >= 90 - _EDGE))


def to_run_crs(geoms: gpd.GeoSeries, run_crs: CRS, polygonal: bool) -> gpd.GeoSeries:
    """``geoms`` (in their own CRS) in ``run_crs``; lon/lat geometries that wrap keep their shape."""
    src = geoms.crs
    arr = geoms.to_numpy()
    if src is None or not CRS(src).is_geographic or CRS(run_crs).is_geographic or not (hit := wraps(arr)).any():
        return geoms.to_crs(run_crs)
    arr = arr.copy()
    arr[hit] = shapely.segmentize(arr[hit], LONLAT_VERTEX_DEG)
    out = gpd.GeoSeries(arr, index=geoms.index, crs=src).to_crs(run_crs).to_numpy()
    out[hit] = repair(out[hit], polygonal)[0]
    return gpd.GeoSeries(out, index=geoms.index, crs=run_crs)
