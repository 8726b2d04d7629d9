"""Loading a vector layer into the run: read, checked against its CRS, filtered, repaired (counted),
reprojected into the run CRS, given canonical attribute columns (see :mod:`sitescreen.inputs.schemas`)
and its coverage (:mod:`sitescreen.inputs.coverage`): a :class:`LoadedLayer`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.text import text_in
from sitescreen.inputs.check import check_coordinates, check_finite, repair
from sitescreen.inputs.coverage import layer_coverage
from sitescreen.inputs.crs import to_crs
from sitescreen.inputs.downstream import with_downstream
from sitescreen.inputs.probe import feature_count, file_stamp, layer_where, read_info, total_bounds
from sitescreen.inputs.read import choose_layer, layer_parts, read_table
from sitescreen.inputs.reproject import to_run_crs
from sitescreen.inputs.schemas import Schema
from sitescreen.inputs.spec import LayerSpec

log = logging.getLogger(__name__)


@dataclass
class LoadedLayer:
    """A vector layer in the run CRS with canonical columns, plus what the manifest records."""

    spec: LayerSpec
    gdf: gpd.GeoDataFrame
    schema: Schema
    source_crs: str
    features_read: int
    repairs: int = 0
    dropped_empty: int = 0
    coverage: Any = None  # a declared coverage polygon in the run CRS (None: see coverage_kind)
    features_in_file: int | None = None  # the whole file (the read is limited to the sites' reach)
    extent: Any = None    # the file's bounding box in the run CRS (None when unknown); never its coverage
    coverage_kind: str = "global"  # global | features | states | declared (polygon) | unknown
    states: frozenset = frozenset()  # for "states": the USPS codes of the states the file covers

    def info(self) -> dict:
        return {
            "name": self.spec.label, "role": self.spec.role, "path": str(self.spec.path),
            "layer": self.spec.layer, "kind": "vector", "schema": self.schema.name,
            "source_crs": self.source_crs, "features_read": self.features_read,
            "features_in_file": self.features_in_file,
            "features_used": int(len(self.gdf)), "repairs": self.repairs,
            "dropped_empty": self.dropped_empty, "coverage": self.coverage_text(),
            "crs_override": self.spec.crs, "filter": {k: list(v) for k, v in self.spec.where.items()},
            **({"layers": list(self.spec.layers)} if self.spec.layers else {}),
            **self.schema.provenance(),
        }

    def coverage_text(self) -> str:
        """What the layer covers, in words (the manifest's and the report's ``coverage``)."""
        if self.coverage_kind == "declared":
            return f"declared: {self.spec.coverage}"
        if self.coverage_kind == "states":
            named = ", ".join(sorted(self.states)) or "none named"
            return f"states: {named} (and its own polygons)"
        if self.coverage_kind == "unknown":
            return "unknown (not declared): no site is known to be covered"
        return self.coverage_kind


def load_vector(spec: LayerSpec, run_crs: CRS, bbox_lonlat: tuple | None = None, *, polygonal: bool = True) -> LoadedLayer:
    """Read, check, filter, repair and reproject one vector layer into ``run_crs``."""
    spec = choose_layer(spec)  # recorded with the layer it read, so the manifest and a re-run name it
    if spec.layers:
        return _merged(spec, [load_vector(p, run_crs, bbox_lonlat, polygonal=polygonal) for p in layer_parts(spec)])
    gdf, schema, src_crs = read_table(spec, bbox_lonlat)
    where = layer_where(spec)
    n_read = len(gdf)
    geoms = gdf.geometry.to_numpy() if gdf.geometry.name in gdf else np.full(n_read, None)
    src = to_crs(src_crs, where)
    check_finite(geoms, where, None, "feature")
    # The read is limited to the sites' reach: check the whole file's extent against its CRS, so a
    # layer whose coordinates do not fit its CRS is refused instead of silently contributing nothing
    # (and the part read is not judged alone: a file in EPSG:5070 may hold Hawaii as well as CONUS).
    n_file, total = _file_extent(spec, n_read, geoms)
    if n_file and total is None:
        raise LayerDataError(f"{where}: every feature ({n_file}) has a null or empty geometry; "
                             f"check the file or leave the layer out")
    if total is not None:
        check_coordinates(np.asarray(total, dtype=float), src, where, n_file or 1)
    elif n_read:  # the whole file's extent unknown: check what was read
        valid = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        if valid.any():
            check_coordinates(shapely.total_bounds(geoms[valid]), src, where, int(valid.sum()))
    if polygonal and n_read:
        types = set(shapely.get_type_id(geoms[~shapely.is_missing(geoms)]).tolist()) - {7}
        if types and types <= {0, 1, 2, 4, 5}:
            kinds = "points" if types <= {0, 4} else "lines"
            raise LayerDataError(f"{where}: the {spec.role} layer holds {kinds}; polygons are required for this role "
                                 f"(its criteria measure overlap or area): give a polygon layer")
    attrs = schema.canonical(pd.DataFrame(gdf.drop(columns=gdf.geometry.name, errors="ignore")), where)
    attrs = with_downstream(attrs, spec, schema)  # WBD: the name of the unit each drains to
    for fld, allowed in spec.where.items():
        if fld not in attrs:
            raise LayerConfigError(f"{where}: filter field {fld!r} is not a field of this layer; fields: {', '.join(attrs.columns)}")
        attrs = attrs[text_in(attrs[fld], allowed)]
    geoms = geoms[attrs.index.to_numpy()] if len(attrs) != n_read else geoms
    geoms, n_repaired = repair(np.asarray(geoms, dtype=object), polygonal)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    attrs = attrs.reset_index(drop=True)
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=src)).loc[~empty].reset_index(drop=True)
    out["layer"] = spec.label
    if "name" not in out:
        out["name"] = None
    if not src.equals(run_crs):
        out = out.set_geometry(to_run_crs(out.geometry, run_crs, polygonal))
    out = _canonical_order(out)
    kind, coverage, states = layer_coverage(spec, schema, run_crs)
    extent = _box_in(total, src, run_crs) if total is not None else None
    log.info("%s: %d features read, %d used, %d repaired", where, n_read, len(out), n_repaired)
    return LoadedLayer(spec=spec, gdf=out, schema=schema, source_crs=src_crs, features_read=n_read,
                       repairs=n_repaired, dropped_empty=int(empty.sum()), coverage=coverage,
                       features_in_file=n_file, extent=extent, coverage_kind=kind, states=states)


def _merged(spec: LayerSpec, parts: list[LoadedLayer]) -> LoadedLayer:
    """Several layers of one file (PAD-US Fee and Designation) as one layer: their features together
    (overlaps are counted once: every fraction is of the union), their counts added, their coverage
    joined (the states any part names; national when one part is)."""
    if len({p.schema.name for p in parts}) > 1 or len({p.source_crs for p in parts}) > 1:
        raise LayerDataError(f"{layer_where(spec)}: its layers differ in definition or CRS "
                             f"({', '.join(f'{p.schema.name} in {p.source_crs}' for p in parts)}); give each as its own layer")
    kinds = {p.coverage_kind for p in parts}
    kind = "global" if "global" in kinds and kinds <= {"global", "states"} else parts[0].coverage_kind
    if len(kinds) > 1 and kind != "global":
        raise LayerDataError(f"{layer_where(spec)}: its layers cover different things ({', '.join(sorted(kinds))}); "
                             f"give each as its own layer")
    gdf = pd.concat([p.gdf for p in parts], ignore_index=True)
    gdf["layer"] = spec.label
    extents = [p.extent for p in parts if p.extent is not None]
    return LoadedLayer(spec=spec, gdf=_canonical_order(gpd.GeoDataFrame(gdf, geometry="geometry", crs=parts[0].gdf.crs)),
                       schema=parts[0].schema, source_crs=parts[0].source_crs,
                       features_read=sum(p.features_read for p in parts), repairs=sum(p.repairs for p in parts),
                       dropped_empty=sum(p.dropped_empty for p in parts), coverage=parts[0].coverage,
                       features_in_file=(None if any(p.features_in_file is None for p in parts)
                                         else sum(p.features_in_file for p in parts)),
                       extent=shapely.union_all(extents) if len(extents) == len(parts) else None,
                       coverage_kind=kind, states=frozenset().union(*(p.states for p in parts)))


def _file_extent(spec: LayerSpec, n_read: int, geoms: np.ndarray) -> tuple[int | None, tuple | None]:
    """(features in the whole file, its total bounds in the source CRS; None when all are null/empty)."""
    if spec.path.suffix.lower() == ".csv":  # read whole
        ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) if n_read else np.zeros(0, bool)
        return n_read, (tuple(shapely.total_bounds(geoms[ok])) if ok.any() else None)
    try:
        n = feature_count(spec, str(spec.path))
        if spec.path.suffix.lower() in (".parquet", ".geoparquet") and n == n_read:
            total = shapely.total_bounds(geoms)  # read whole: its extent is what was read (not decoded again)
        elif spec.path.suffix.lower() in (".parquet", ".geoparquet"):
            total = total_bounds(spec)
        else:
            total = read_info(str(spec.path), spec.layer, file_stamp(spec.path), True)["total_bounds"]
    except Exception:
        return None, None
    if total is None or any(v is None for v in total) or not np.all(np.isfinite(np.asarray(total, dtype=float))):
        return n, None
    return n, tuple(float(v) for v in total)


def _canonical_order(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Features in an order that does not depend on the file's row order (name, then position and size),
    so ties (equal distances, equal overlaps) and float sums resolve the same way on every run."""
    if len(gdf) < 2:
        return gdf
    g = gdf.geometry.to_numpy()
    b = shapely.bounds(g)
    order = np.lexsort((shapely.area(g), b[:, 3], b[:, 2], b[:, 1], b[:, 0], _name_ranks(gdf["name"])))
    return gdf.iloc[order].reset_index(drop=True)


def _name_ranks(names: pd.Series) -> np.ndarray:
    """Each name's rank as text (missing: "") in the order numpy sorts a text array of them (code
    points; trailing NULs ignored), found once per distinct name instead of building that array."""
    codes, uniques = pd.factorize(names.fillna("").astype(str))
    return np.unique(uniques.to_numpy(dtype=str), return_inverse=True)[1].reshape(-1)[codes]


def _box_in(bounds: tuple, src: CRS, dst: CRS):
    """The box ``bounds`` (in ``src``) as a polygon in ``dst``. A lon/lat box wider than 180° (a
    layer across ±180° or round the globe) is taken as its latitude band, seamed at the meridian
    opposite ``dst``'s centre so it does not fold over the sites."""
    minx, miny, maxx, maxy = bounds
    if src.is_geographic and maxx - minx > 180.0:
        from sitescreen.inputs.crs import central_lon
        lon0 = central_lon(dst)
        minx, maxx = lon0 - 179.9, lon0 + 179.9
    box = shapely.segmentize(shapely.box(minx, miny, maxx, maxy), max(maxx - minx, maxy - miny) / 64 or 1)
    return gpd.GeoSeries([box], crs=src).to_crs(dst).iloc[0]
