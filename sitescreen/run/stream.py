"""Streamed screening: sites read, measured, scored and written a chunk at a time.

For site files too large to hold whole (a national file of candidate footprints), memory is
bounded by the chunk size, not by the number of sites. The flow:

1. **Read the sites file in pieces** (:func:`sitescreen.inputs.layers.read_batches`: GeoParquet by row
   groups, GeoPackage and the other OGR formats through Arrow). Each piece is selected and repaired
   as a whole file would be (:func:`sitescreen.sites.sites.select_sites`); what is kept per site is a
   Hilbert key of its centre (lon/lat), its record id, and the counts for the manifest.
2. **The run CRS** is chosen from the kept sites' extent, as an in-memory run chooses it.
3. **Read again and scatter**: every piece is projected into the run CRS and split into
   *chunks*, consecutive runs of the Hilbert order, written to scratch GeoParquet files. Chunks
   are spatially compact: each reads few raster blocks and few layer features.
4. **Site ids** (record ids, or ``S000001``… by centroid, as in memory) and the **layers**, read
   within the sites' extent, as in memory.
5. **Per chunk**: measure (local or Dask engine), score, and append to ``sites.gpkg``,
   ``sites.parquet`` and ``sites.csv`` (:class:`sitescreen.outputs.files.ResultWriter`).

Every site gets the values an in-memory run gives it (a site's values depend on its footprint
and the layers only); rows come in chunk order (spatial), sorted by id within a chunk. Sites
given as points are merged across the whole file (duplicate deposit records) and are read
whole, in memory (:func:`stream_refusal` says why). Criteria that count sites across the run
(``site_density``) are measured over every chunk first, counted, then scored chunk by chunk.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from sitescreen.run.config import RunConfig
from sitescreen.measure.criteria import Inputs, density_keys, finalize
from sitescreen.measure.engine import _from_frame, _to_frame, measure_all
from sitescreen.errors import ConfigError, LayerConfigError, LayerDataError
from sitescreen.rules.kinds import KINDS
from sitescreen.inputs.probe import feature_count as _feature_count
from sitescreen.inputs.read import BATCH_SUFFIXES, read_batches
from sitescreen.outputs.files import (MapOptions, ResultWriter, read_results, run_paths, staged_dir, write_into, write_map,
                      write_report, written_manifest)
from sitescreen.inputs.crs import ExtentBuilder, parse_run_crs
from sitescreen.run.pipeline import Prepared, _check_roles, _timed, add_tallies, build_manifest, crs_where, decide_crs, load_layers, tally
from sitescreen.rules.profile import load_profile
from sitescreen.rules.scoring import score
from sitescreen.sites.aoi import aoi_geometry, apply_aoi, raise_outside_aoi
from sitescreen.sites.ids import site_frame, site_ids
from sitescreen.sites.options import SiteStats
from sitescreen.sites.source import check_selected, select_sites

log = logging.getLogger(__name__)

#: Runs with more site records than this are streamed when they can be (``stream=None``).
STREAM_MIN_SITES = 200_000
WORLD = (-180.0, -90.0, 180.0, 90.0)
Progress = Callable[[str], None]


class NotStreamable(LayerConfigError):
    """A run that the streamed flow cannot do (it needs all sites at once)."""


def stream_refusal(config: RunConfig) -> str | None:
    """Why ``config`` cannot be streamed, or None when it can (points are found only on reading)."""
    if config.sites is None:
        return "a grid of sites is made whole"
    if config.sites.path.suffix.lower() not in BATCH_SUFFIXES:
        return f"{config.sites.path.suffix} files are read whole (streamed: {', '.join(BATCH_SUFFIXES)})"
    return None


def should_stream(config: RunConfig, stream: bool | None) -> bool:
    """``stream`` True: must (an error says why it can't); False: never; None: when large and possible."""
    if stream is False:
        return False
    why = stream_refusal(config)
    if stream:
        if why:
            raise NotStreamable(f"cannot stream this run: {why}; leave out --stream")
        return True
    if why:
        return False
    try:
        n = _feature_count(config.sites, str(config.sites.path))
    except LayerDataError:
        return False  # reported by the in-memory flow, with its own message
    return n is not None and n > STREAM_MIN_SITES


def _pieces(config: RunConfig, batch_rows: int, stats: SiteStats, aoi):
    """The selected sites, piece by piece, in their source CRS (counts added to ``stats``)."""
    spec = replace(config.sites, skip_invalid=config.site_options.skip_invalid)
    schema, src_crs, _, pieces = read_batches(spec, batch_rows)
    stats.source_crs, stats.schema = src_crs, schema.name
    for raw in pieces:
        sel = select_sites(raw, schema, spec, config.site_options, stats)
        if len(sel) and sel["_kind"].iloc[0] == "point":
            raise NotStreamable(f"{spec.path}: sites are points (deposit records, merged across the whole file); "
                                f"they are screened in memory")
        yield apply_aoi(sel, aoi, stats, require=False)


def _hilbert_lonlat(sel: gpd.GeoDataFrame) -> np.ndarray:
    c = shapely.centroid(sel.geometry.to_numpy())
    crs = CRS(sel.crs)
    x, y = shapely.get_x(c), shapely.get_y(c)
    if not crs.is_geographic:
        x, y = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    pts = gpd.GeoSeries(shapely.points(np.clip(x, -180, 180), np.clip(y, -90, 90)))
    return pts.hilbert_distance(total_bounds=WORLD, level=16).to_numpy()


def screen_streamed(config: RunConfig, out_dir: str | Path, *, overwrite: bool = False,
                    options: MapOptions = MapOptions(write_map=False, write_report=False),
                    chunk_size: int = 50_000, engine: str = "local", scheduler: str | None = None,
                    workers: int | None = None, progress: Progress | None = None, protected=()) -> dict:
    """Screen ``config`` chunk by chunk into ``out_dir`` (written atomically); return the manifest.
    ``protected``: files besides the run's own inputs that ``out_dir`` must not hold.

    A map or report asked for in ``options`` is drawn at the end from the written results (that
    step holds every site; for millions of sites leave them out and draw a region with
    ``sitescreen map``).
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be ≥ 1, got {chunk_size}")
    why = stream_refusal(config)
    if why:
        raise NotStreamable(f"cannot stream this run: {why}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    with _timed(timings, "profile", progress):
        profile = load_profile(config.profile)
        _check_roles(config, profile)
        if config.crs:
            parse_run_crs(config.crs, crs_where(config))  # a CRS that cannot measure in metres: refused before any work
    opts = config.site_options
    where = str(config.sites.path)
    stats = SiteStats(path=where)
    aoi = aoi_geometry(opts.aoi)
    with staged_dir(Path(out_dir), overwrite, [*protected, *run_paths(config)]) as folder:
        scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=folder))
        # 1. keys, record ids, extent and counts
        with _timed(timings, "sites", progress):
            keys, record_ids, extent = [], [], ExtentBuilder()
            for sel in _pieces(config, chunk_size, stats, aoi):
                if len(sel):
                    keys.append(_hilbert_lonlat(sel))
                    record_ids.append(sel["record_id"].to_numpy(dtype=object) if "record_id" in sel
                                      else np.full(len(sel), None, dtype=object))
                    extent.add_geometries(sel.geometry.to_numpy(), CRS(sel.crs))
            check_selected(stats, config.sites, opts)
            if not keys:
                raise_outside_aoi(aoi)
            keys, record_ids = np.concatenate(keys), np.concatenate(record_ids)
            n = len(keys)
            # 2. the run CRS from the kept sites' extent, as in memory
            run_crs = decide_crs(config, profile, extent.extent())
            rank = np.empty(n, dtype=np.int64)
            rank[np.argsort(keys, kind="stable")] = np.arange(n)
            chunk_of = rank // chunk_size
            n_chunks = int(chunk_of.max()) + 1
            del keys, rank
            # 3. project and scatter into chunks; centroids and bounds for ids and the layers' reach
            cx, cy = np.empty(n), np.empty(n)
            box_lo = np.full((n_chunks, 2), np.inf)
            box_hi = np.full((n_chunks, 2), -np.inf)
            pos = 0
            for p, sel in enumerate(_pieces(config, chunk_size, SiteStats(source_crs=stats.source_crs), aoi)):
                if not len(sel):
                    continue
                sel = sel.to_crs(run_crs).drop(columns="_kind")
                rows = np.arange(pos, pos + len(sel))
                pos += len(sel)
                c = shapely.centroid(sel.geometry.to_numpy())
                cx[rows], cy[rows] = shapely.get_x(c), shapely.get_y(c)
                b = shapely.bounds(sel.geometry.to_numpy())
                sel["_row"] = rows
                ck = chunk_of[rows]
                np.minimum.at(box_lo, ck, b[:, :2])
                np.maximum.at(box_hi, ck, b[:, 2:])
                for k in np.unique(ck):
                    part = sel.loc[ck == k]
                    (scratch / f"{k:05d}").mkdir(exist_ok=True)
                    part.to_parquet(scratch / f"{k:05d}" / f"piece-{p:05d}.parquet", index=False)
            if pos != n:
                raise LayerDataError(f"{where}: the file changed while it was read ({n} sites, then {pos}); run again")
            ids = site_ids(record_ids, cx, cy, where)
            del cx, cy, record_ids
            stats.sites, stats.radius_m = n, None
        # 4. layers within the sites' extent; reach checked on the chunks' boxes
        chunk_boxes = shapely.box(box_lo[:, 0], box_lo[:, 1], box_hi[:, 0], box_hi[:, 1])
        bounds = (box_lo[:, 0].min(), box_lo[:, 1].min(), box_hi[:, 0].max(), box_hi[:, 1].max())
        with _timed(timings, "layers", progress):
            vectors, rasters, infos = load_layers(config, profile, run_crs, bounds, chunk_boxes)
        inputs = Inputs(vectors=vectors, rasters=rasters)
        prep = Prepared(config=config, profile=profile, crs=run_crs, sites=None, site_stats=stats, inputs=inputs,
                        raster_info=infos, timings=timings)
        # 5. chunk by chunk: measure, score, append (criteria counting sites across the run:
        #    measure every chunk first, count, then score)
        writer = ResultWriter(folder)
        counted, template, counts = None, None, None
        covered = np.zeros(len(infos), dtype=np.int64)
        for stage in ("measure", "score", "write"):
            timings[stage] = 0.0

        def chunk_sites(k: int) -> gpd.GeoDataFrame:
            files = sorted((scratch / f"{k:05d}").glob("piece-*.parquet"))
            part = pd.concat([gpd.read_parquet(f) for f in files], ignore_index=True)
            sites = site_frame(part, ids[part["_row"].to_numpy()])
            return sites.sort_values("site_id", kind="stable").reset_index(drop=True)

        def measure_chunk(sites: gpd.GeoDataFrame, complete: bool):
            t = time.perf_counter()
            m = measure_all(profile, sites, inputs, engine=engine, chunk_size=chunk_size, scheduler=scheduler,
                            workers=workers, complete=complete)
            timings["measure"] += time.perf_counter() - t
            return m

        dense = any(KINDS[c.kind].across_sites for c in profile.criteria)
        try:
            if dense:
                for k in range(n_chunks):
                    if progress:
                        progress(f"measure chunk {k + 1}/{n_chunks}")
                    sites = chunk_sites(k)
                    measures = measure_chunk(sites, complete=False)
                    template = template or measures
                    _to_frame(measures, sites.index).to_parquet(scratch / f"{k:05d}" / "measures.parquet")
                    counts = {name: c if counts is None else counts[name].add(c, fill_value=0)
                              for name, c in density_keys(profile, measures).items()}
            for k in range(n_chunks):
                if progress:
                    progress(f"chunk {k + 1}/{n_chunks}")
                sites = chunk_sites(k)
                if dense:
                    measures = finalize(profile, _from_frame(pd.read_parquet(scratch / f"{k:05d}" / "measures.parquet"),
                                                             template), counts)
                else:
                    measures = measure_chunk(sites, complete=True)
                    template = template or measures
                shutil.rmtree(scratch / f"{k:05d}")
                fp = sites.geometry.to_numpy()
                for i, info in enumerate(infos):
                    covered[i] += int(shapely.intersects(fp, info["_box"]).sum())
                t1 = time.perf_counter()
                result = score(sites, profile, measures)
                counted = add_tallies(counted, tally(result, profile, measures))
                t2 = time.perf_counter()
                timings["score"] += t2 - t1
                writer.append(result)
                timings["write"] += time.perf_counter() - t2
                del sites, result, measures
            shutil.rmtree(scratch, ignore_errors=True)
            for i, info in enumerate(infos):
                info["sites_covered"] = int(covered[i])
            for stage in ("measure", "score", "write"):
                timings[stage] = round(timings[stage], 4)
            timings["total"] = round(time.perf_counter() - t0, 4)
            manifest = build_manifest(prep, template, counted, mode={"flow": "streamed", "chunk_size": chunk_size})
            writer.close(manifest)
        finally:
            writer.abort()
        if options.write_map or options.write_report:
            all_sites, _ = read_results(folder)
            if options.write_map:
                write_map(all_sites, manifest, folder / "map.html", options)
            if options.write_report:
                write_report(all_sites, manifest, folder / "report.html")
    return written_manifest(out_dir)


def screen_to_folder(config: RunConfig, out_dir: str | Path, *, overwrite: bool = False,
                     options: MapOptions = MapOptions(), chunk_size: int = 50_000, engine: str = "local",
                     scheduler: str | None = None, workers: int | None = None, stream: bool | None = None,
                     progress: Progress | None = None, protected=()) -> dict:
    """A whole screening into ``out_dir``: streamed when ``stream`` (or, by default, when the sites
    file is large and the run can be streamed), in memory otherwise. Returns the manifest.

    The output folder is claimed (staged and locked) before the screening starts, so a second
    run on it stops at once; it must hold none of the run's files nor ``protected`` (e.g. a
    jobs file)."""
    from sitescreen.run.pipeline import screen
    if should_stream(config, stream):
        try:
            return screen_streamed(config, out_dir, overwrite=overwrite, options=options, chunk_size=chunk_size,
                                   engine=engine, scheduler=scheduler, workers=workers, progress=progress,
                                   protected=protected)
        except NotStreamable as exc:
            if stream:
                raise
            log.info("screening in memory: %s", exc)
    with staged_dir(Path(out_dir), overwrite, [*protected, *run_paths(config)]) as folder:
        result = screen(config, progress=progress, engine=engine, chunk_size=chunk_size, scheduler=scheduler,
                        workers=workers)
        if progress:
            progress("write")
        write_into(result, folder, options)
    return written_manifest(out_dir)
