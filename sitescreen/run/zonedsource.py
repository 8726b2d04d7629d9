"""The sites of a zoned run (:mod:`sitescreen.inputs.zones`), held in memory, one frame per zone.

:class:`ZonedSource` is a :class:`~sitescreen.run.sources.SiteSource` made from a read
:class:`~sitescreen.run.sources.FrameSource` whose sites no single CRS measures truly: it plans the
measuring zones over the read records, places each zone's sites in the zone's CRS (merged and given
ids once over the whole run: :func:`sitescreen.sites.footprints.make_zoned_footprints`) and yields
each zone's chunks in turn, zone by zone; :meth:`zone_of` says which zone a chunk is in, so the one
flow (:func:`sitescreen.run.stream.screen_run`) measures it with that zone's layers. Its collector
gives the results back sorted by site id over the whole run, as an unzoned run sorts them.

One output file holds one CRS, so a zoned run gives its sites out in :data:`OUTPUT_CRS`, NAD83
geographic (EPSG:4269), while every number was measured in its zone's CRS. NAD83 rather than WGS84:
the national zones (EPSG:5070, EPSG:3338) and the US layers (PAD-US, WBD, NPS) are on NAD83, so
their footprints go out by the projection's inverse alone, with no datum shift that PROJ could only
approximate (NAD83 to WGS84 has several realisations, a metre or more apart). Readers of the output
geometry that measure (``sitescreen rollup``) measure again in each zone's CRS or say why not.
"""

from __future__ import annotations

from typing import Iterator

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from sitescreen.inputs.crs import Extent, crs_label
from sitescreen.inputs.zones import Zone, plan_zones
from sitescreen.measure.engine import spatial_order
from sitescreen.rules.measurement import Measurement
from sitescreen.run.sources import FrameCollector, FrameSource, KeptInMemory, chunk_count
from sitescreen.sites.footprints import make_zoned_footprints

#: The CRS of a zoned run's output geometry (see the module text).
OUTPUT_CRS = CRS.from_epsg(4269)


def _lonlat(x: np.ndarray, y: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    if crs.is_geographic:
        return x, y
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)


def site_places(sites: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each site's centre (lon, lat) and the lon/lat of its bounds' corners (``(n, 4, 2)``)."""
    crs = CRS(sites.crs)
    geoms = sites.geometry.to_numpy()
    c = shapely.centroid(geoms)
    lon, lat = _lonlat(shapely.get_x(c), shapely.get_y(c), crs)
    b = shapely.bounds(geoms)
    xs = np.stack([b[:, 0], b[:, 2], b[:, 0], b[:, 2]], axis=1)
    ys = np.stack([b[:, 1], b[:, 1], b[:, 3], b[:, 3]], axis=1)
    cx, cy = _lonlat(xs.ravel(), ys.ravel(), crs)
    return np.asarray(lon), np.asarray(lat), np.stack([cx, cy], axis=1).reshape(len(geoms), 4, 2)


class ZonedSource(KeptInMemory):
    """The sites of a read :class:`FrameSource`, in measuring zones (see the module text)."""

    def __init__(self, base: FrameSource, area_criteria: tuple[str, ...]):
        self.config, self.chunk_size, self.stats, self.mode = base.config, base.chunk_size, base.stats, base.mode
        self._raw = base._raw
        base.zoned = self
        lon, lat, corners = site_places(self._raw)
        self.zones, self._zone_of_record = plan_zones(lon, lat, corners, area_criteria)
        self.frames: list[gpd.GeoDataFrame] = []
        self._kept: dict[int, dict[str, Measurement]] = {}

    def extent(self) -> Extent:
        raise NotImplementedError("a zoned source is made from a read FrameSource")

    def place(self, run_crs: CRS) -> None:
        """Each zone's sites in the zone's CRS (``run_crs``, the output CRS, is not measured in)."""
        self.frames = make_zoned_footprints(self._raw, [z.crs for z in self.zones], self._zone_of_record,
                                            self.config.site_options, self.stats)
        self._raw = None
        self.stats.sites = sum(len(f) for f in self.frames)
        self._chunks: list[tuple[int, np.ndarray]] = []
        for z, frame in enumerate(self.frames):
            order = spatial_order(frame)
            self._chunks += [(z, order[k * self.chunk_size:(k + 1) * self.chunk_size])
                             for k in range(chunk_count(len(frame), self.chunk_size))]
        ids = np.concatenate([f["site_id"].to_numpy(dtype=object) for f in self.frames]).astype(str)
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
        start = np.concatenate([[0], np.cumsum([len(f) for f in self.frames])])
        self._order = np.concatenate([rank[start[z] + rows] for z, rows in self._chunks])  # chunk row -> run row

    def row_order(self) -> np.ndarray:
        return self._order

    def zone_sites(self, z: int) -> int:
        return len(self.frames[z])

    def zone_reach(self, z: int) -> tuple[tuple, np.ndarray]:
        """Zone ``z``'s sites' bounds and footprints, in the zone's CRS."""
        return self.frames[z].total_bounds, self.frames[z].geometry.to_numpy()

    def reach(self) -> tuple[tuple, np.ndarray]:
        raise NotImplementedError("a zoned run reaches its layers zone by zone (zone_reach)")

    def zone_of(self, k: int) -> int:
        """The zone chunk ``k`` is in."""
        return self._chunks[k][0]

    @property
    def n_chunks(self) -> int:
        return len(self._chunks)

    def chunks(self) -> Iterator[gpd.GeoDataFrame]:
        for z, rows in self._chunks:
            yield self.frames[z].iloc[rows].reset_index(drop=True)

    def collector(self) -> FrameCollector:
        """A writer keeping the scored chunks (in the output CRS) in memory, given back by site id."""
        return FrameCollector(self)


def unwrapped(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``sites`` in lon/lat with every footprint that crosses ±180° kept whole: its western
    longitudes shifted by 360° (to 180.01 rather than -179.99), never a band round the globe."""
    geoms = sites.geometry.to_numpy()
    b = shapely.bounds(geoms)
    wraps = (b[:, 2] - b[:, 0]) > 180.0
    if not wraps.any():
        return sites
    fixed = geoms.copy()
    fixed[wraps] = shapely.transform(geoms[wraps], lambda xy: np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360.0, xy[:, 0]), xy[:, 1]]))
    return sites.set_geometry(gpd.GeoSeries(fixed, crs=sites.crs, index=sites.index))


def zone_summary(zones: tuple[Zone, ...], counts) -> list[dict]:
    """The record of each zone (:class:`sitescreen.record.zones.ZoneRecord` fields)."""
    return [{"crs": crs_label(z.crs), "name": z.name,
             "label": z.label, "why": z.why, "sites": int(n), "bounds": tuple(round(float(v), 6) for v in z.extent.bounds)}
            for z, n in zip(zones, counts)]
