"""A regular grid of square cells over the area of interest, as sites."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from sitescreen.errors import ConfigError


def grid_sites(aoi: gpd.GeoSeries, run_crs: CRS, cell_m: float) -> gpd.GeoDataFrame:
    """Square cells of ``cell_m`` over the AOI (cells touching it), in the run CRS."""
    if cell_m <= 0:
        raise ConfigError(f"grid cell size must be > 0 m (got {cell_m})")
    area = aoi.to_crs(run_crs).iloc[0]
    minx, miny, maxx, maxy = area.bounds
    nx, ny = int(np.ceil((maxx - minx) / cell_m)), int(np.ceil((maxy - miny) / cell_m))
    if nx * ny > 20_000_000:
        raise ConfigError(f"grid of {nx}×{ny} cells is too large; use a larger cell size than {cell_m} m")
    gx, gy = np.meshgrid(minx + cell_m * np.arange(nx), miny + cell_m * np.arange(ny))
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
    cells = cells[shapely.intersects(cells, area)]
    ids = np.char.add("G", np.char.zfill(np.arange(1, len(cells) + 1).astype(str), 7))
    return gpd.GeoDataFrame({"site_id": ids, "name": ids, "record_ids": ids}, geometry=cells, crs=run_crs)
