"""The WBD HU-10 watershed layer: a warped tiling of the region that leaves out its south-east corner
(a coverage gap)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box

from sitescreen.demo.region import (ACRES_PER_M2, DESCRIPTION, NAD83, NAME_WORDS, REGION, WGS84, Geom, area_km2,
                                    to_km)

logger = logging.getLogger(__name__)


# Real region-17 (Pacific Northwest) HUC-8 codes of the Salmon River basin (HUC-6 170602).
_HUC8_CODES = ("17060201", "17060202", "17060203", "17060204", "17060205", "17060206")


def _poisson_points(rng: np.random.Generator, n: int, min_km: float) -> np.ndarray:
    x0, y0, x1, y1 = REGION
    pts: list[np.ndarray] = []
    while len(pts) < n:
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        if all(np.hypot(*((to_km(*p) - to_km(*q))[0])) >= min_km for q in pts):
            pts.append(p)
    return np.array(pts)


def _warp(rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """A smooth displacement field with gradient well below 1, so it folds nothing over."""
    waves = []
    for wavelength, amp in ((0.45, 0.012), (0.3, 0.008), (0.16, 0.004), (0.08, 0.0015)):
        for _ in range(2):
            waves.append((2 * np.pi / wavelength, rng.uniform(0, 2 * np.pi, 4), amp))

    def displace(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = np.zeros_like(x)
        dy = np.zeros_like(y)
        for k, p, amp in waves:
            dx += amp * np.sin(k * y + p[0]) * np.cos(0.7 * k * x + p[1])
            dy += amp * np.sin(k * x + p[2]) * np.cos(0.7 * k * y + p[3])
        return np.column_stack([x + dx, y + dy])

    return displace


def _tiling_with_gap(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, Geom]:
    """A perturbed Voronoi tiling of the region, minus the cells of its south-east corner.

    Returns kept cells, their areas (km²) and centroids, and the gap. Redraws the tiling until
    the left-out corner is 8.5-11.5 % of the region and in one piece (usually 1-3 draws).
    """
    x0, y0, x1, y1 = REGION
    while True:
        seeds = _poisson_points(rng, 34, min_km=16.0)
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(seeds), extend_to=box(x0 - 1, y0 - 1, x1 + 1, y1 + 1), ordered=True
            )
        )
        cells = shapely.transform(shapely.segmentize(cells, 0.01), _warp(rng))
        cells = shapely.intersection(cells, box(*REGION))
        area = area_km2(cells)
        cells, area = cells[area > 1.0], area[area > 1.0]
        # Drop the cells nearest the south-east corner, as many as bring the gap closest to 10 %.
        centroids = shapely.get_coordinates(shapely.centroid(cells))
        se = (centroids[:, 0] - x0) / (x1 - x0) - (centroids[:, 1] - y0) / (y1 - y0)
        order = np.argsort(-se, kind="stable")
        share = np.cumsum(area[order]) / area.sum()
        n_drop = int(np.argmin(np.abs(share - 0.10))) + 1
        gap = shapely.union_all(cells[order[:n_drop]])
        if 0.085 <= share[n_drop - 1] <= 0.115 and gap.geom_type == "Polygon":
            kept = np.sort(order[n_drop:])
            return cells[kept], area[kept], centroids[kept], gap
        logger.debug("redrawing the demo watersheds (gap share %.3f)", share[n_drop - 1])


def watershed_layer(rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, Geom]:
    """WBD HU-10 polygons tiling the region except a south-east gap (as the real WBD region 17)."""
    cells, area, centroids, gap = _tiling_with_gap(rng)
    n = len(cells)
    # HUC-8 groups: nearest of 5 far-apart cells; HUC-10 numbers run north to south in a group.
    heads = [int(np.argmax(centroids[:, 1]))]
    while len(heads) < 5:
        d = np.min([np.hypot(*(centroids - centroids[h]).T) for h in heads], axis=0)
        heads.append(int(np.argmax(d)))
    offsets = centroids[:, None, :] - centroids[heads][None, :, :]
    group = np.argmin(np.hypot(offsets[..., 0], offsets[..., 1]), axis=1)
    huc10 = np.empty(n, dtype=object)
    for g in range(len(heads)):
        members = np.flatnonzero(group == g)
        members = members[np.argsort(-centroids[members, 1], kind="stable")]
        for seq, m in enumerate(members, start=1):
            huc10[m] = f"{_HUC8_CODES[g]}{seq:02d}"
    words = rng.permutation(NAME_WORDS)[:n]
    order = np.argsort(huc10, kind="stable")
    frame = gpd.GeoDataFrame(
        {
            "tnmid": [_guid(rng) for _ in range(n)],
            "metasourceid": ["{00000000-0000-0000-0000-000000000000}"] * n,
            "sourcedatadesc": [DESCRIPTION] * n,
            "sourceoriginator": ["sitescreen (synthetic)"] * n,
            "loaddate": pd.to_datetime(["2024-08-16T10:24:20"] * n).astype("datetime64[ms]"),
            "areaacres": np.round(area[order] * 1e6 * ACRES_PER_M2, 2),
            "areasqkm": np.round(area[order], 2),
            "states": ["ID"] * n,
            "huc10": huc10[order],
            "name": [f"Demo {w} Creek (synthetic)" for w in words[order]],
            "hutype": ["S"] * n,
            "humod": ["NM"] * n,
        },
        geometry=cells[order],
        crs=WGS84,
    )
    return frame.to_crs(NAD83), gap


def _guid(rng: np.random.Generator) -> str:
    return "{" + str(uuid.UUID(bytes=rng.bytes(16), version=4)).upper() + "}"
