"""Where the measurements run: on this machine, or on a Dask cluster, behind one small interface.

An :class:`Engine` measures one spatially compact chunk of sites at a time
(:func:`sitescreen.measure.criteria.measure`, with the criteria over all sites left for
:func:`~sitescreen.measure.criteria.finalize`); the run's loop (:mod:`sitescreen.run.stream`) gives it
the chunks. Each engine keeps its own state here, not in the criteria:

- :class:`LocalEngine` measures a chunk in one piece; the raster criteria of a large chunk run in a
  *side process* meanwhile (exactextract holds the GIL, the vector kernels release it: both cores
  work). The side process is started once per process, on first need, and dies with it
  (:mod:`sitescreen.children`).
- :class:`DaskEngine` splits a chunk into partitions (Hilbert order) measured on a Dask cluster:
  the one at the ``scheduler`` address, or else a local cluster of ``workers`` processes of one
  thread each (``distributed.LocalCluster(processes=True)``: no native state shared between
  threads), started for the run and stopped with it; one client for the whole run. The layers
  travel to the workers as plain data, once per chunk, and each worker thread prepares its own
  features once per run.

A site's values depend only on its own footprint and the layers, so both engines give the same
numbers whatever the chunks.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.measure.criteria import Inputs, begin, measure, measure_raster, side_wanted
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.measurement import Measurement
from sitescreen.errors import ConfigError, SitescreenError
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.profile import Criterion, Profile

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")
#: Sites per chunk: read, measured, scored and written together (``--chunk-size``; bounds memory).
DEFAULT_CHUNK = 50_000
#: Sites per Dask partition at most (a chunk is split into partitions: 1–4 per worker, as many for each).
PARTITION_SITES = 10_000
_PARTS = ("values", "feature", "feature_layer", "nodata_reason", "parts")


def _nothing() -> None:
    pass


@dataclass
class Measuring:
    """A chunk's measuring, begun by :meth:`Engine.begin`: :meth:`result` finishes it (in the thread
    that measures), :meth:`cancel` drops what was handed out for it (a run that stops early)."""

    result: Callable[[], dict[str, Measurement]]
    cancel: Callable[[], None] = _nothing


class Engine(Protocol):
    """Measures one chunk of sites (footprints in the run CRS) in the profile's order; the criteria
    over all sites are left for :func:`~sitescreen.measure.criteria.finalize`. :meth:`begin` may
    be called from another thread, for the next chunk while this one is measured: it only hands
    work out (the local engine's raster criteria to its side process), the rest waits for
    ``result()``."""

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]: ...

    def begin(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> Measuring: ...

    def start(self, profile: Profile, largest: int) -> None:
        """Start, in the thread that owns the engine, what chunks of up to ``largest`` sites will
        need, before any is begun in another thread."""

    def close(self) -> None: ...


def check_chunk_size(chunk_size: int) -> int:
    """``chunk_size`` if it is a whole number of sites ≥ 1."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ConfigError(f"chunk size must be a whole number of sites ≥ 1, got {chunk_size!r}")
    return int(chunk_size)


_ADDRESS = re.compile(r"(?:(?:tcp|tls)://)?(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})")


def check_scheduler(address: str) -> str:
    """``address`` if it is a Dask scheduler address a client can connect to: ``[tcp|tls://]HOST:PORT``."""
    m = _ADDRESS.fullmatch(address or "")
    if not m or not 0 < int(m.group(1)) < 65536:
        raise ConfigError(f"Dask scheduler address {address!r}: expected tcp://HOST:PORT (or tls://HOST:PORT), "
                          f"e.g. tcp://scheduler:8786")
    return address


def open_engine(name: str = "local", *, scheduler: str | None = None, workers: int | None = None) -> Engine:
    """The engine called ``name`` (:data:`ENGINES`)."""
    if name not in ENGINES:
        raise SitescreenError(f"unknown engine {name!r}; allowed: {', '.join(ENGINES)}")
    return LocalEngine() if name == "local" else DaskEngine(scheduler, workers)


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
    """The side process pool: started, and its process spawned, in the main thread (a child's
    parent-death signal is tied to the thread that spawned it: :mod:`sitescreen.children`)."""
    if not _SIDE:
        from sitescreen.children import process_pool
        pool = process_pool(1)  # spawned; dies with this process, even killed; stopped at its exit
        pool.submit(_nothing).result()  # its process is spawned at the first submit: here, now
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


def _in_order(sites: gpd.GeoDataFrame) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    """(Hilbert order of ``sites``, the sites in that order)."""
    order = spatial_order(sites)
    return order, sites.iloc[order].reset_index(drop=True)


def _put_back(frame: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """A measures frame of sites in ``order`` (see :func:`_in_order`), put back in their first order."""
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    return frame.sort_index().iloc[back].reset_index(drop=True)


def _measure_ordered(sites: gpd.GeoDataFrame, frame_of) -> pd.DataFrame:
    """``frame_of(sites in Hilbert order)`` (a measures frame), put back in the order of ``sites``."""
    order, ordered = _in_order(sites)
    return _put_back(frame_of(ordered), order)


class LocalEngine:
    """This machine: a chunk measured in one piece, its raster criteria in the side process when
    the chunk is large (:data:`sitescreen.measure.criteria.SIDE_PROCESS_MIN_SITES`), handed to it
    as soon as the chunk is begun (:meth:`begin`: the side process can work through the end of
    one chunk and the reading of the next)."""

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]:
        return self.begin(profile, sites, inputs).result()

    def start(self, profile: Profile, largest: int) -> None:
        """The side process, when a chunk may be large enough for it and a criterion is a raster's."""
        if side_wanted(largest) and any(not KINDS[c.kind].vector for c in profile.criteria):
            _side_pool()

    def begin(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> Measuring:
        order, ordered = _in_order(sites)
        # in another thread, only a side process started by the main thread (see _side_pool)
        here = _SIDE or threading.current_thread() is threading.main_thread()
        begun = begin(profile, ordered, inputs, complete=False, side=_submit_raster if here else None)

        def result() -> dict[str, Measurement]:
            template = measure(profile, sites.iloc[:0], inputs, complete=False)
            return _from_frame(_put_back(_to_frame(begun.finish(), ordered.index), order), template)
        return Measuring(result, begun.cancel)

    def close(self) -> None:
        """Nothing to stop: the side process serves every run of this process."""


# ------------------------------------------------------------------------------- Dask


#: Per worker thread: (run token, the Inputs its partitions of that run share).
_THREAD_INPUTS = threading.local()


def _measure_partition(piece: gpd.GeoDataFrame, profile: Profile, layers: tuple, token: str) -> pd.DataFrame:
    """One Dask partition, measured with its worker thread's :class:`Inputs` for the run."""
    return _to_frame(measure(profile, piece, _thread_inputs(layers, token), complete=False), piece.index)


def _thread_inputs(layers: tuple, token: str) -> Inputs:
    """This thread's :class:`Inputs` of the run ``token``: features prepared once per worker thread
    and run, never shared between threads (sharing prepared GEOS structures between concurrent
    threads crashed in native code); a new run's token replaces the previous run's."""
    held = getattr(_THREAD_INPUTS, "held", None)
    if held is None or held[0] != token:
        vectors, rasters = layers
        held = (token, Inputs(vectors=vectors, rasters=rasters))
        _THREAD_INPUTS.held = held
    return held[1]


def _quiet_distributed():
    """Dask's own loggers at ERROR while a local cluster runs, unless sitescreen logs at INFO or below
    (``-v``): its scheduler and nannies log their start and stop at INFO, and a worker slow to stop
    at the end of a run at WARNING; a failed task reaches the client as an error. Returns the
    function that puts their levels back."""
    loggers = [logging.getLogger(n) for n in ("distributed", "distributed.scheduler", "distributed.nanny",
                                               "distributed.worker", "distributed.http.proxy")]
    levels = [lg.level for lg in loggers]
    quiet = logging.ERROR if logging.getLogger("sitescreen").getEffectiveLevel() > logging.INFO else logging.NOTSET
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), quiet))

    def restore() -> None:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)
    return restore


#: Names the run's pid to the worker processes of its local cluster (:func:`dask_setup`).
PARENT_ENV = "SITESCREEN_DASK_PARENT"


def _no_heartbeat_at_close(record: logging.LogRecord) -> bool:
    """Drops a local worker's failed heartbeat (with its traceback): it happens when the run's
    scheduler stops first as the cluster closes, and a local worker outlives no run."""
    return not record.getMessage().startswith("Failed to communicate with scheduler during heartbeat")


def dask_setup(worker) -> None:
    """Dask's preload hook, run in each worker process of a local cluster as it starts: the worker
    dies with the run that started it, even killed with SIGKILL (:func:`sitescreen.children.die_with_parent`;
    Dask's own watch of the parent let workers outlive a killed run)."""
    logging.getLogger("distributed.worker").addFilter(_no_heartbeat_at_close)
    parent = os.environ.get(PARENT_ENV)
    if parent:
        from sitescreen.children import die_with_parent
        die_with_parent(int(parent))


class DaskEngine:
    """A Dask cluster: the running one at ``scheduler``, or a local cluster of ``workers`` processes
    (one thread each; default: one per core) started on first need and stopped by :meth:`close`."""

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        try:
            import dask  # noqa: F401
            import dask_geopandas  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            raise SitescreenError("the dask engine needs the optional extra: pip install 'sitescreen[dask]'") from None
        self.scheduler, self.workers = (check_scheduler(scheduler) if scheduler else None), workers
        self._client = None
        self._cluster = None
        self._tokens: dict[int, str] = {}
        self._quiet = _nothing

    def measure(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]:
        import dask
        import dask_geopandas
        template = measure(profile, sites.iloc[:0], inputs, complete=False)
        token = self._tokens.setdefault(id(inputs), uuid.uuid4().hex)  # one per run's inputs, not hashed
        layers = dask.delayed((list(inputs.vectors), list(inputs.rasters)), name=f"sitescreen-layers-{token}",
                              traverse=False)

        def frame_of(ordered: gpd.GeoDataFrame) -> pd.DataFrame:
            if not len(ordered):
                return _to_frame(template, ordered.index)
            nparts = self._partitions(len(ordered))
            ddf = dask_geopandas.from_geopandas(ordered, npartitions=nparts, sort=False)
            lazy = ddf.map_partitions(_measure_partition, profile, layers, token, meta=_to_frame(template, ordered.index[:0]))
            return self._compute(lazy, nparts)
        return _from_frame(_measure_ordered(sites, frame_of), template)

    def begin(self, profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs) -> Measuring:
        """Nothing is handed out early: the chunk is measured on the cluster at ``result()``."""
        return Measuring(lambda: self.measure(profile, sites, inputs))

    def start(self, profile: Profile, largest: int) -> None:
        """Nothing: the cluster is reached at the first chunk's ``result()``."""

    def _compute(self, lazy, nparts: int) -> pd.DataFrame:
        client = self._connect()
        log.info("dask: %d partitions on %s", nparts, self.scheduler or f"a local cluster of {self._n_local()} processes")
        return lazy.compute(scheduler=client)

    def _partitions(self, n: int) -> int:
        """Partitions of a chunk of ``n`` sites: a whole number of rounds over the workers (each worker
        gets as many; none waits through the last round), of at most :data:`PARTITION_SITES` sites
        where 4 rounds allow, never more partitions than sites."""
        workers = self._n_local()
        rounds = min(4, max(1, -(-n // (PARTITION_SITES * workers))))
        return max(1, min(n, workers * rounds))

    def _n_local(self) -> int:
        return self.workers or os.cpu_count() or 1

    def _connect(self):
        if self._client is None:
            from dask.distributed import Client
            if self.scheduler:
                try:
                    self._client = Client(self.scheduler, timeout="20s")
                except OSError as exc:
                    raise SitescreenError(f"cannot reach the Dask scheduler at {self.scheduler}: {exc}") from None
            else:
                self._client = Client(self._local_cluster())
        return self._client

    def _local_cluster(self):
        """A cluster of processes on this machine (workers of one thread; no dashboard, free ports),
        each worker dying with this process (:func:`dask_setup`)."""
        from dask.distributed import LocalCluster
        self._quiet = _quiet_distributed()
        verbose = logging.getLogger("sitescreen").getEffectiveLevel() <= logging.INFO
        self._cluster = LocalCluster(n_workers=self._n_local(), threads_per_worker=1, processes=True,
                                     dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                     host="127.0.0.1", silence_logs=False if verbose else logging.ERROR,
                                     preload=[__name__], env={PARENT_ENV: str(os.getpid())})
        return self._cluster

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        self._quiet()
        self._quiet = _nothing
