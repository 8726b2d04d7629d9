"""What a layer covers — never its bounding box: global, its own features, the states of a state
extract, a declared polygon file, or unknown (no site is covered: *no data*)."""

from __future__ import annotations

import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from sitescreen.errors import LayerDataError
from sitescreen.inputs.check import check_coordinates, check_path, repair
from sitescreen.inputs.crs import to_crs
from sitescreen.inputs.reproject import to_run_crs
from sitescreen.inputs.probe import field_names, file_stamp, layer_where
from sitescreen.inputs.read import read_table
from sitescreen.inputs.schemas import Schema
from sitescreen.inputs.spec import SPEC_COVERAGES, LayerSpec
from sitescreen.inputs.usstates import is_national, state_codes

log = logging.getLogger(__name__)


def layer_coverage(spec: LayerSpec, schema: Schema, run_crs: CRS) -> tuple[str, Any, frozenset]:
    """What the layer covers (never its bounding box): (kind, declared polygon in the run CRS or None,
    states). The spec's declared ``coverage`` wins over the definition's; a state extract covers the
    states its features name (a file naming every state is national: global); a definition that
    does not say, with nothing declared, covers no site that is known ("unknown": *no data*).
    See measure.coverage.CoverageCache for the covered fraction of each footprint."""
    where = layer_where(spec)
    if spec.coverage in SPEC_COVERAGES:
        return spec.coverage, None, frozenset()
    if spec.coverage:
        return "declared", declared_coverage(spec, run_crs), frozenset()
    if schema.coverage == "states":
        states = _file_states(spec, schema, where)
        if is_national(states):
            return "global", None, states
        log.info("%s: a state extract covering %s: sites recorded in other states, and sites with no "
                    "recorded state off its polygons, get no data; declare its exact coverage with "
                    "coverage = \"area.gpkg\"", where, ", ".join(sorted(states)) or "no named state")
        return "states", None, states
    if schema.coverage == "declared":
        log.warning("%s: the %s layer does not say what it covers, so no site is known to be covered (no data); "
                    "declare it with coverage = \"area.gpkg\" (a polygon file) or coverage = \"global\" in the run config",
                    where, spec.role)
        return "unknown", None, frozenset()
    return schema.coverage, None, frozenset()


def declared_coverage(spec: LayerSpec, run_crs: CRS):
    """The union of the polygons of the spec's declared coverage file, in the run CRS (prepared)."""
    cov = LayerSpec(role="coverage", path=Path(spec.coverage), crs=None)
    what = f"{spec.role} layer's coverage"
    check_path(cov.path, what)
    where = f"{cov.path} (the coverage of {layer_where(spec)})"
    gdf, _, src_crs = read_table(cov)
    geoms = gdf.geometry.to_numpy()
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if not len(geoms) or not set(shapely.get_type_id(geoms).tolist()) <= {3, 6}:
        raise LayerDataError(f"{where}: a coverage must be polygons (the area the layer covers); "
                             f"this file holds {', '.join(sorted(set(shapely.get_type_id(geoms).astype(str)))) or 'no geometry'}")
    src = to_crs(src_crs, where)
    check_coordinates(shapely.total_bounds(geoms), src, where, len(geoms))
    area = shapely.union_all(repair(np.asarray(geoms, dtype=object), True)[0])
    area = to_run_crs(gpd.GeoSeries([area], crs=src), run_crs, True).iloc[0]
    shapely.prepare(area)  # for the checks on the main thread; measuring threads prepare private copies
    return area


def _file_states(spec: LayerSpec, schema: Schema, where: str) -> frozenset:
    """The USPS codes of the states named in the whole file's state field (not only the part read)."""
    columns = field_names(spec, where) if spec.path.suffix.lower() != ".csv" else list(
        pd.read_csv(spec.path, nrows=0, encoding="utf-8").columns)
    by_lower = {c.lower(): c for c in columns}
    field_ = next((by_lower[a.lower()] for a in schema.state_field if a.lower() in by_lower), None)
    if field_ is None:
        return frozenset()
    values = _distinct(str(spec.path), spec.layer, field_, file_stamp(spec.path))
    return frozenset(c for c in state_codes(values) if c)


@lru_cache(maxsize=16)
def _distinct(path: str, layer: str | None, field_: str, stamp: tuple) -> tuple:
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".csv":
            col = pd.read_csv(path, usecols=[field_], dtype=str, encoding="utf-8")[field_]
        elif suffix in (".parquet", ".geoparquet"):
            col = pd.read_parquet(path, columns=[field_])[field_]
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                col = pyogrio.read_dataframe(path, layer=layer, columns=[field_], read_geometry=False)[field_]
    except Exception as exc:
        raise LayerDataError(f"{path}: cannot read its state field {field_!r}: {exc}") from None
    return tuple(pd.unique(col.dropna().astype(str)))
