"""Where the measurements run: on this machine, or on a Dask cluster, behind one small interface.

An :class:`Engine` measures one spatially compact chunk of sites at a time
(:func:`sitescreen.measure.criteria.measure`, with the criteria over all sites left for
:func:`~sitescreen.measure.criteria.finalize`); the run's loop (:mod:`sitescreen.run.stream`) gives it
the chunks. Each engine keeps its own state here, not in the criteria:

- :class:`LocalEngine` measures a chunk in one piece; the raster criteria of a large chunk run in a
  *side process* meanwhile (exactextract holds the GIL, the vector kernels release it: both cores
  work). The side process is started once per process, on first need, and dies with it
  (:mod:`sitescreen.children`).
- :class:`DaskEngine` splits a chunk into partitions (Hilbert order) measured on a Dask cluster
  (``scheduler`` address, one client for the whole run) or on local threads (``workers``); the
  layers travel to the partitions as plain data, and each partition prepares its own features.

A site's values depend only on its own footprint and the layers, so both engines give the same
numbers whatever the chunks.
"""

from __future__ import annotations

import logging
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.measure.criteria import Inputs, finalize, measure, measure_raster
from sitescreen.rules.measurement import Measurement
from sitescreen.errors import ConfigError, SitescreenError
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.profile import Criterion, Profile

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")
#: Sites per chunk: read, measured, scored and written together (``--chunk-size``; bounds memory).
DEFAULT_CHUNK = 50_000
#: Sites per Dask partition at most (a chunk is split into partitions; at most 4 per worker).
PARTITION_SITES = 10_000
_PARTS = ("values", "feature", "feature_layer", "nodata_reason", "parts")


class Engine(Protocol):
    """Measures one chunk of sites (footprints in the run CRS) in the profile's order; the criteria
    over all sites are left for :func:`~sitescreen.measure.criteria.finalize`."""

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]: ...

    def close(self) -> None: ...


def check_chunk_size(chunk_size: int) -> int:
    """``chunk_size`` if it is a whole number of sites ≥ 1."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigError(f"chunk size must be a whole number of sites ≥ 1, got {chunk_size!r}")
    return int(chunk_size)


def open_engine(name: str = "local", *, scheduler: str | None = None, workers: int | None = None) -> Engine:
    """The engine called ``name`` (:data:`ENGINES`)."""
    if name not in ENGINES:
        raise SitescreenError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    return LocalEngine() if name == "local" else DaskEngine(scheduler, workers)


def measure_all(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, *, engine: Engine,
                complete: bool = True) -> dict[str, Measurement]:
    """Every criterion over ``sites`` (one chunk) by ``engine``; with ``complete=False`` the criteria
    that count across sites are left for :func:`sitescreen.measure.criteria.finalize`."""
    measures = engine.measure(profile, sites, inputs)
    return finalize(profile, measures) if complete else measures


def spatial_order(sites: gpd.GeoDataFrame) -> np.ndarray:
    """Positions of the sites in Hilbert-curve order of their footprints' centres."""
    if len(sites) < 2:
        return np.arange(len(sites))
    distance = sites.geometry.hilbert_distance(total_bounds=sites.total_bounds)
    return np.argsort(distance.to_numpy(), kind="stable")


def _to_frame(measures: dict[str, Measurement], index: pd.Index) -> pd.DataFrame:
    cols = {}
    for name, m in measures.items():
        for part in _PARTS:
            arr = getattr(m, part)
            if arr is None:
                arr = np.full(len(index), "" if part != "values" else np.nan, dtype=object if part != "values" else float)
            cols[f"{name}__{part}"] = arr
    return pd.DataFrame(cols, index=index)


def _from_frame(frame: pd.DataFrame, template: dict[str, Measurement]) -> dict[str, Measurement]:
    out = {}
    for name, t in template.items():
        values = frame[f"{name}__values"].to_numpy()
        values = values.astype(float) if t.values.dtype != object else values.astype(object)
        out[name] = Measurement(values=values,
                                feature=frame[f"{name}__feature"].to_numpy(dtype=object),
                                feature_layer=frame[f"{name}__feature_layer"].to_numpy(dtype=object),
                                nodata_reason=frame[f"{name}__nodata_reason"].to_numpy(dtype=object),
                                evaluated=t.evaluated, note=t.note, layers=list(t.layers),
                                parts=frame[f"{name}__parts"].to_numpy(dtype=object) if t.parts is not None else None)
    return out


# ------------------------------------------------------------------------------- local


_SIDE: list = []  # the raster side process pool, started once per process, on first need


def _side_pool():
    if not _SIDE:
        from sitescreen.children import process_pool
        pool = process_pool(1)  # spawned; dies with this process, even killed; stopped at its exit
        _SIDE.append(pool)
    return _SIDE[0]


def _raster_job(c: Criterion, wkb: np.ndarray, crs_wkt: str, rasters: list[LayerSpec]) -> Measurement:
    """measure_raster in the side process (footprints sent as WKB)."""
    import shapely
    sites = gpd.GeoDataFrame(geometry=gpd.GeoSeries(shapely.from_wkb(wkb), crs=crs_wkt))
    return measure_raster(c, sites, Inputs(vectors=[], rasters=rasters))


def _submit_raster(c: Criterion, wkb: np.ndarray, crs_wkt: str, rasters: list[LayerSpec]):
    """One raster criterion of a chunk sent to the side process (a future of its Measurement)."""
    return _side_pool().submit(_raster_job, c, wkb, crs_wkt, rasters)


def _measure_ordered(sites: gpd.GeoDataFrame, frame_of) -> pd.DataFrame:
    """``frame_of(sites in Hilbert order)`` (a measures frame), put back in the order of ``sites``."""
    order = spatial_order(sites)
    frame = frame_of(sites.iloc[order].reset_index(drop=True)).sort_index()
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    return frame.iloc[back].reset_index(drop=True)


class LocalEngine:
    """This machine: a chunk measured in one piece, its raster criteria in the side process when
    the chunk is large (:data:`sitescreen.measure.criteria.SIDE_PROCESS_MIN_SITES`)."""

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]:
        template = measure(profile, sites.iloc[:0], inputs, complete=False)
        frame = _measure_ordered(sites, lambda piece: _to_frame(
            measure(profile, piece, inputs, complete=False, side=_submit_raster), piece.index))
        return _from_frame(frame, template)

    def close(self) -> None:
        """Nothing to stop: the side process serves every run of this process."""


# ------------------------------------------------------------------------------- Dask


def _measure_partition(piece: gpd.GeoDataFrame, profile: Profile, layers: tuple) -> pd.DataFrame:
    """One Dask partition: measured with its own :class:`Inputs` (features prepared for it alone:
    partitions run on concurrent threads, and sharing prepared GEOS structures between them
    crashed in native code)."""
    vectors, rasters = layers
    return _to_frame(measure(profile, piece, Inputs(vectors=vectors, rasters=rasters), complete=False), piece.index)


class DaskEngine:
    """A Dask cluster (``scheduler`` address, one client for the run) or local threads (``workers``)."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        try:
            import dask  # noqa: F401
            import dask_geopandas  # noqa: F401
        except ImportError:
            raise SitescreenError("the dask engine needs the optional extra: pip install 'sitescreen[dask]'") from None
        self.scheduler, self.workers = scheduler, workers
        self._client = None

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]:
        import dask
        import dask_geopandas
        template = measure(profile, sites.iloc[:0], inputs, complete=False)
        layers = dask.delayed((list(inputs.vectors), list(inputs.rasters)), pure=True, traverse=False)

        def frame_of(ordered: gpd.GeoDataFrame) -> pd.DataFrame:
            if not len(ordered):
                return _to_frame(template, ordered.index)
            nparts = max(1, min(-(-len(ordered) // PARTITION_SITES), 4 * (self.workers or 2)))
            ddf = dask_geopandas.from_geopandas(ordered, npartitions=nparts, sort=False)
            lazy = ddf.map_partitions(_measure_partition, profile, layers, meta=_to_frame(template, ordered.index[:0]))
            return self._compute(lazy, nparts)
        return _from_frame(_measure_ordered(sites, frame_of), template)

    def _compute(self, lazy, nparts: int) -> pd.DataFrame:
        import dask
        if self.scheduler:
            log.info("dask: %d partitions on %s", nparts, self.scheduler)
            return lazy.compute(scheduler=self._connect())
        with dask.config.set(scheduler="threads", num_workers=self.workers or None):
            log.info("dask: %d partitions on local threads (%s workers)", nparts, self.workers or "all")
            return lazy.compute()

    def _connect(self):
        if self._client is None:
            try:
                from dask.distributed import Client
            except ImportError:
                raise SitescreenError("--scheduler needs dask.distributed: pip install 'sitescreen[dask]'") from None
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except OSError as exc:
                raise SitescreenError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
