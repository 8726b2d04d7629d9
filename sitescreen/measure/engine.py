"""Where the measurements run: in chunks on this machine, or on a Dask cluster.

Both engines split the sites into spatially compact pieces (Hilbert order), measure every piece
with :func:`sitescreen.measure.criteria.measure`, put the values back in site order and then complete
the criteria that need all sites at once (:func:`sitescreen.measure.criteria.finalize`). A site's values
depend only on its own footprint and the layers, so both engines give the same numbers.
"""

from __future__ import annotations

import logging
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.measure.criteria import Inputs, Measurement, finalize, measure
from sitescreen.errors import SitescreenError
from sitescreen.rules.profile import Profile

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")
DEFAULT_CHUNK = 50_000
_PARTS = ("values", "feature", "feature_layer", "nodata_reason")


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
                                evaluated=t.evaluated, note=t.note, layers=list(t.layers))
    return out


def _measure_piece(piece: gpd.GeoDataFrame, profile: Profile, inputs: Inputs, side: bool = False) -> pd.DataFrame:
    return _to_frame(measure(profile, piece, inputs, complete=False, side=side), piece.index)


def measure_all(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, *, engine: str = "local",
                chunk_size: int = DEFAULT_CHUNK, scheduler: str | None = None, workers: int | None = None,
                progress: Callable[[str], None] | None = None, complete: bool = True) -> dict[str, Measurement]:
    """Every criterion over every site, by ``engine`` (see :data:`ENGINES`); with ``complete=False``
    the criteria that count across sites are left for :func:`sitescreen.measure.criteria.finalize`."""
    if engine not in ENGINES:
        raise SitescreenError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    if chunk_size < 1:
        raise SitescreenError(f"chunk size must be ≥ 1, got {chunk_size}")
    # the template: evaluated flags, notes and dtypes, from an empty piece (cheap)
    template = measure(profile, sites.iloc[:0], inputs, complete=False)
    order = spatial_order(sites)
    ordered = sites.iloc[order].reset_index(drop=True)
    if engine == "local" or len(sites) == 0:
        frames = []
        n_chunks = max(1, -(-len(ordered) // chunk_size))
        for k, start in enumerate(range(0, max(len(ordered), 1), chunk_size)):
            if progress and n_chunks > 1:
                progress(f"measure chunk {k + 1}/{n_chunks}")
            frames.append(_measure_piece(ordered.iloc[start:start + chunk_size], profile, inputs, side=True))
        frame = pd.concat(frames) if frames else _to_frame(template, ordered.index)
    else:
        frame = _measure_dask(ordered, profile, inputs, template, chunk_size, scheduler, workers)
    frame = frame.sort_index()
    # back to the caller's site order
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    frame = frame.iloc[back].reset_index(drop=True)
    measures = _from_frame(frame, template)
    return finalize(profile, measures) if complete else measures


def _measure_dask(ordered: gpd.GeoDataFrame, profile: Profile, inputs: Inputs, template, chunk_size: int,
                  scheduler: str | None, workers: int | None) -> pd.DataFrame:
    try:
        import dask
        import dask_geopandas
    except ImportError:
        raise SitescreenError("the dask engine needs the optional extra: pip install 'sitescreen[dask]'") from None
    nparts = max(1, min(-(-len(ordered) // max(1, min(chunk_size, 10_000))), 4 * (workers or 2)))
    ddf = dask_geopandas.from_geopandas(ordered, npartitions=nparts, sort=False)
    meta = _to_frame(template, ordered.index[:0])
    shared = dask.delayed(inputs.unshared(), pure=True, traverse=False)
    lazy = ddf.map_partitions(_measure_piece, profile, shared, meta=meta)
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise SitescreenError("--scheduler needs dask.distributed: pip install 'sitescreen[dask]'") from None
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise SitescreenError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            log.info("dask: %d partitions on %s", nparts, scheduler)
            return lazy.compute()
    with dask.config.set(scheduler="threads", num_workers=workers or None):
        log.info("dask: %d partitions on local threads (%s workers)", nparts, workers or "all")
        return lazy.compute()
