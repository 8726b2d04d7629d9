"""Site sources: where a run's sites come from, as spatially compact chunks in the run CRS.

A source is read in two steps, so that the run CRS can be chosen between them: :meth:`extent`
reads the sites (counting what the manifest reports in :attr:`stats`) and says where they are;
:meth:`place` puts them in the run CRS with their final ids and cuts them into chunks of at most
``chunk_size`` sites, consecutive runs of a Hilbert order (each chunk reads few raster blocks and
few layer features). :meth:`chunks` then yields them, as often as the run asks (a run with
criteria counting sites across the run measures every chunk before scoring any). Streaming is a
property of the source, not a second flow:

- :class:`FrameSource` holds the sites in memory: deposit points merged across the whole file,
  a grid over the area of interest, or a polygon file read whole.
- :class:`FileSource` reads a polygon file in pieces (GeoParquet by row groups, GeoPackage and the
  other OGR formats through Arrow) and scatters them, in the run CRS, into scratch chunk files:
  memory is bounded by the chunk size, not by the number of sites.

Every site gets the same values from either (a site's values depend on its footprint and the
layers only); a frame source gives the results back in its frame's order
(:meth:`FrameSource.collector`), a file source in chunk order, sorted by id within a chunk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from sitescreen.errors import LayerConfigError
from sitescreen.inputs.crs import Extent, ExtentBuilder
from sitescreen.inputs.read import read_batches
from sitescreen.rules.measurement import Measurement
from sitescreen.measure.engine import _from_frame, _to_frame, check_chunk_size, spatial_order
from sitescreen.run.config import RunConfig
from sitescreen.sites.aoi import aoi_geometry, apply_aoi, raise_outside_aoi
from sitescreen.sites.footprints import make_footprints, site_extent
from sitescreen.sites.outlines import outline_keys, shared_outlines
from sitescreen.sites.grid import grid_sites
from sitescreen.sites.ids import site_frame, site_ids
from sitescreen.sites.options import SiteStats
from sitescreen.sites.source import check_selected, read_sites, select_sites

WORLD = (-180.0, -90.0, 180.0, 90.0)
#: Records a file source reads at a time (an I/O detail: it bounds memory, never changes a value).
READ_ROWS = 50_000


class NotStreamable(LayerConfigError):
    """A run that the streamed flow cannot do (it needs all sites at once)."""


class SiteSource(Protocol):
    """The sites of a run, read in two steps (see the module text), then yielded in chunks."""

    stats: SiteStats
    mode: dict  # how the manifest records the flow

    def extent(self) -> Extent: ...

    def place(self, run_crs: CRS) -> None: ...

    def reach(self) -> tuple[tuple, np.ndarray]:
        """The placed sites' bounds, and footprints (or boxes holding them) to check the layers'
        reach and a raster's overlap against."""

    @property
    def n_chunks(self) -> int: ...

    def chunks(self) -> Iterator[gpd.GeoDataFrame]: ...

    def keep(self, k: int, measures: dict[str, Measurement]) -> None:
        """Hold chunk ``k``'s measures until :meth:`kept` (between the two passes of a run)."""

    def kept(self, k: int, template: dict[str, Measurement]) -> dict[str, Measurement]: ...

    def done(self, k: int) -> None:
        """Chunk ``k`` is written: what is held for it can go."""

    def close(self) -> None: ...


def chunk_count(n: int, chunk_size: int) -> int:
    return max(1, -(-n // chunk_size))


class KeptInMemory:
    """The :class:`SiteSource` keep/kept/done/close of a source holding its sites in memory: each
    chunk's measures kept in a dict until the chunk is done (``_kept``, set by the source)."""

    _kept: dict[int, dict[str, Measurement]]

    def keep(self, k: int, measures: dict[str, Measurement]) -> None:
        self._kept[k] = measures

    def kept(self, k: int, template: dict[str, Measurement]) -> dict[str, Measurement]:
        return self._kept[k]

    def done(self, k: int) -> None:
        self._kept.pop(k, None)

    def close(self) -> None:
        self._kept.clear()


class FrameSource(KeptInMemory):
    """Sites held in memory, chunked along the Hilbert order of their footprints."""

    def __init__(self, config: RunConfig, chunk_size: int):
        self.config, self.chunk_size = config, check_chunk_size(chunk_size)
        self.stats = SiteStats()
        self.mode = {"flow": "in memory"}
        self.frame: gpd.GeoDataFrame | None = None
        self._aoi = aoi_geometry(config.site_options.aoi)
        self._raw = None
        self._kept: dict[int, dict[str, Measurement]] = {}
        self.zoned = None  # the ZonedSource that took these sites over (sitescreen.run.zonedsource)

    def extent(self) -> Extent:
        if self.config.sites is None:
            return site_extent(gpd.GeoDataFrame(geometry=self._aoi))
        raw, self.stats = read_sites(self.config.sites, self.config.site_options)
        self._raw = apply_aoi(raw, self._aoi, self.stats)
        return site_extent(self._raw)

    def place(self, run_crs: CRS) -> None:
        opts = self.config.site_options
        if self.config.sites is not None:
            self.frame = make_footprints(self._raw, run_crs, opts, self.stats)
            self._raw = None
        else:
            self.frame = grid_sites(self._aoi, run_crs, float(opts.grid_cell_m))
            self.stats.path = "grid"
            self.stats.extra["grid_cell_m"] = opts.grid_cell_m
        self.stats.sites = len(self.frame)
        self._order = spatial_order(self.frame)

    def reach(self) -> tuple[tuple, np.ndarray]:
        return self.frame.total_bounds, self.frame.geometry.to_numpy()

    @property
    def n_chunks(self) -> int:
        return chunk_count(len(self.frame), self.chunk_size)

    def chunks(self) -> Iterator[gpd.GeoDataFrame]:
        for k in range(self.n_chunks):
            yield self.frame.iloc[self._order[k * self.chunk_size:(k + 1) * self.chunk_size]].reset_index(drop=True)

    def row_order(self) -> np.ndarray:
        """Each chunk row's row in the run's frame (in the zoned source's, when one took these sites over)."""
        return self.zoned.row_order() if self.zoned is not None else self._order

    def collector(self) -> "FrameCollector":
        """A writer keeping the scored chunks in memory; :meth:`FrameCollector.frame` gives them
        back in this source's frame order."""
        return FrameCollector(self)


class FrameCollector:
    """The scored chunks of a :class:`FrameSource`, collected in memory."""

    stage = None  # nothing written: not timed as a stage of the run

    def __init__(self, source: FrameSource):
        self._source = source
        self._parts: list[gpd.GeoDataFrame] = []

    def append(self, sites: gpd.GeoDataFrame) -> None:
        self._parts.append(sites)

    def frame(self) -> gpd.GeoDataFrame:
        whole = pd.concat(self._parts, ignore_index=True) if len(self._parts) > 1 else self._parts[0]
        for col in whole.columns:  # e.g. text in one chunk, all missing in another: typed as over all sites
            if col != whole.geometry.name and len({str(p[col].dtype) for p in self._parts}) > 1:
                whole[col] = whole[col].to_numpy(dtype=object)
        order = self._source.row_order()
        back = np.empty(len(order), dtype=np.int64)
        back[order] = np.arange(len(order))
        return whole.iloc[back].reset_index(drop=True)

    def close(self, manifest: dict) -> None:
        """The manifest goes with the frame (:class:`sitescreen.run.pipeline.Result`)."""

    def abort(self) -> None:
        """Nothing to undo: the chunks are only in memory."""


def _hilbert_lonlat(sel: gpd.GeoDataFrame) -> np.ndarray:
    c = shapely.centroid(sel.geometry.to_numpy())
    crs = CRS(sel.crs)
    x, y = shapely.get_x(c), shapely.get_y(c)
    if not crs.is_geographic:
        x, y = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    pts = gpd.GeoSeries(shapely.points(np.clip(x, -180, 180), np.clip(y, -90, 90)))
    return pts.hilbert_distance(total_bounds=WORLD, level=16).to_numpy()


class FileSource:
    """A polygon sites file read in pieces and scattered into scratch chunks under ``folder``.

    :meth:`extent` reads the file, the only time it is read: it keeps per site a Hilbert key of
    its centre (lon/lat) and its record id, and writes each piece of selected (checked, repaired)
    sites to a scratch GeoParquet file; :meth:`place` reads those back, projects every piece and
    writes it, split by chunk, to scratch GeoParquet files, and gives the sites their ids (the file's ids, or
    ``S0001``… in file order, as in memory: :func:`sitescreen.sites.ids.site_ids`). Points (deposit records, merged across the whole
    file) are refused with :class:`NotStreamable`: they are screened in memory.
    """

    def __init__(self, config: RunConfig, chunk_size: int, folder: Path):
        self.config, self.chunk_size = config, check_chunk_size(chunk_size)
        self.where = str(config.sites.path)
        self.stats = SiteStats(path=self.where)
        self.mode = {"flow": "streamed", "chunk_size": self.chunk_size}
        self._aoi = aoi_geometry(config.site_options.aoi)
        self.scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=folder))

    def _pieces(self, stats: SiteStats) -> Iterator[gpd.GeoDataFrame]:
        """The selected sites, piece by piece, in their source CRS (counts added to ``stats``)."""
        spec = replace(self.config.sites, skip_invalid=self.config.site_options.skip_invalid)
        schema, src_crs, _, pieces = read_batches(spec, READ_ROWS, all_columns=True)
        stats.source_crs, stats.schema = src_crs, schema.name
        stats.extra.update(schema.provenance())
        for raw in pieces:
            sel = select_sites(raw, schema, spec, self.config.site_options, stats)
            if len(sel) and sel["_kind"].iloc[0] == "point":
                raise NotStreamable(f"{spec.path}: sites are points (deposit records, merged across the whole file); "
                                    f"they are screened in memory")
            sel = apply_aoi(sel, self._aoi, stats, require=False)
            if len(sel):
                yield sel

    def extent(self) -> Extent:
        keys, id_values, rows, extent, outlines = [], [], [], ExtentBuilder(), []
        (self.scratch / "read").mkdir()
        self._piece_rows: list[int] = []
        for p, sel in enumerate(self._pieces(self.stats)):
            self._crs = sel.crs  # the source CRS, as read (a scratch piece keeps only its text)
            sel.drop(columns="_kind").to_parquet(self._read_piece(p), index=False)
            self._piece_rows.append(len(sel))
            keys.append(_hilbert_lonlat(sel))
            outlines.append(outline_keys(sel.geometry.to_numpy()))
            id_values.append({c.column: sel[c.column].to_numpy(dtype=object) for c in self.stats.id_candidates if c.column in sel})
            rows.append(sel["_file_row"].to_numpy())
            extent.add_geometries(sel.geometry.to_numpy(), CRS(sel.crs))
        check_selected(self.stats, self.config.sites, self.config.site_options)
        if not keys:
            raise_outside_aoi(self._aoi)
        self._id_values = {k: np.concatenate([v[k] for v in id_values]) for k in id_values[0]}
        self.stats.sites_sharing_outlines, self.stats.shared_outlines = shared_outlines(np.concatenate(outlines))
        keys, self._file_rows = np.concatenate(keys), np.concatenate(rows)
        rank = np.empty(len(keys), dtype=np.int64)
        rank[np.argsort(keys, kind="stable")] = np.arange(len(keys))
        self._chunk_of = rank // self.chunk_size
        return extent.extent()

    def _read_piece(self, p: int) -> Path:
        return self.scratch / "read" / f"piece-{p:05d}.parquet"

    def _place_piece(self, p: int, start: int, run_crs: CRS) -> tuple[np.ndarray, np.ndarray]:
        """Piece ``p`` of the first pass (its sites numbered from ``start``) projected and written,
        split by chunk; the chunk of each of its sites and their bounds."""
        sel = gpd.read_parquet(self._read_piece(p)).set_crs(self._crs, allow_override=True).to_crs(run_crs)
        self._read_piece(p).unlink()
        rows = np.arange(start, start + len(sel))
        sel["_row"] = rows
        ck = self._chunk_of[rows]
        for k in np.unique(ck):
            sel.loc[ck == k].to_parquet(self.scratch / f"{k:05d}" / f"piece-{p:05d}.parquet", index=False)
        return ck, shapely.bounds(sel.geometry.to_numpy())

    def place(self, run_crs: CRS) -> None:
        from concurrent.futures import ThreadPoolExecutor
        n, n_chunks = len(self._chunk_of), int(self._chunk_of.max()) + 1
        lo, hi = np.full((n_chunks, 2), np.inf), np.full((n_chunks, 2), -np.inf)
        for k in range(n_chunks):
            (self.scratch / f"{k:05d}").mkdir()
        starts = np.concatenate([[0], np.cumsum(self._piece_rows)[:-1]]).astype(int)
        with ThreadPoolExecutor(min(2, os.cpu_count() or 1)) as pool:  # reading, projecting, writing let go of the GIL
            for ck, b in pool.map(lambda ps: self._place_piece(ps[0], ps[1], run_crs), enumerate(starts)):
                np.minimum.at(lo, ck, b[:, :2])
                np.maximum.at(hi, ck, b[:, 2:])
        self._ids, self.stats.id_field = site_ids(self._id_values, self.stats.id_candidates, self._file_rows, self.where)
        del self._id_values, self._file_rows
        self._boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
        self._bounds = (lo[:, 0].min(), lo[:, 1].min(), hi[:, 0].max(), hi[:, 1].max())
        self.stats.sites, self.stats.radius_m = n, None

    def reach(self) -> tuple[tuple, np.ndarray]:
        return self._bounds, self._boxes

    @property
    def n_chunks(self) -> int:
        return len(self._boxes)

    def chunks(self) -> Iterator[gpd.GeoDataFrame]:
        for k in range(self.n_chunks):
            files = sorted((self.scratch / f"{k:05d}").glob("piece-*.parquet"))
            part = pd.concat([gpd.read_parquet(f) for f in files], ignore_index=True)
            sites = site_frame(part, self._ids[part["_row"].to_numpy()])
            yield sites.sort_values("site_id", kind="stable").reset_index(drop=True)

    def keep(self, k: int, measures: dict[str, Measurement]) -> None:
        n = len(next(iter(measures.values())).values) if measures else 0
        _to_frame(measures, pd.RangeIndex(n)).to_parquet(self.scratch / f"{k:05d}" / "measures.parquet")

    def kept(self, k: int, template: dict[str, Measurement]) -> dict[str, Measurement]:
        return _from_frame(pd.read_parquet(self.scratch / f"{k:05d}" / "measures.parquet"), template)

    def done(self, k: int) -> None:
        shutil.rmtree(self.scratch / f"{k:05d}", ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
