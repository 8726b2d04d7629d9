"""Reading a vector layer in its source CRS: the layer of a multi-layer file, the whole table
(limited to lon/lat boxes) or pieces of it (streamed runs).

Vector layers are read with pyogrio (Arrow), GeoParquet with geopandas, CSV with pandas
(:mod:`sitescreen.inputs.csvread`).
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer

from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.check import check_mapped_fields, check_path, check_text
from sitescreen.inputs.crs import to_crs
from sitescreen.inputs.csvread import read_csv
from sitescreen.inputs.probe import file_info, file_stamp, layer_where, open_vector, quiet_measures, read_info, source_crs
from sitescreen.inputs.schemas import Schema, detect_schema, known_schemas
from sitescreen.inputs.spec import LayerSpec

log = logging.getLogger(__name__)


SINGLE_LAYER_SUFFIXES = (".csv", ".parquet", ".geoparquet")


def choose_layer(spec: LayerSpec) -> LayerSpec:
    """The spec with its layer named: a multi-layer source (GeoPackage, FileGDB, …) without a layer
    name is never read at its first layer. The layers a definition names (:func:`named_by_definition`:
    PAD-US's Fee and Designation, WBD's ``WBDHU12``) are taken; else, of its spatial layers, the one
    a layer definition matches (the spec's own, or a known one) when exactly one does; otherwise
    the error lists them."""
    check_path(spec.path, f"{spec.role} layer")  # first: a folder is never read as a source of layers
    if spec.layer is not None and spec.path.suffix.lower() in SINGLE_LAYER_SUFFIXES:
        raise LayerConfigError(f"{spec.path}: a {spec.path.suffix.lower()[1:]} file holds one layer, so layer "
                               f"{spec.layer!r} cannot be chosen in it; remove the layer name (:{spec.layer} or layer = ...)")
    if spec.layer is not None or spec.layers or spec.path.suffix.lower() in SINGLE_LAYER_SUFFIXES:
        return spec
    where = layer_where(spec)
    try:
        with quiet_measures():
            listed = pyogrio.list_layers(spec.path)
    except Exception:
        return spec  # not a vector source GDAL can open: file_info says so
    spatial = [str(n) for n, g in listed if g is not None]
    if len(spatial) == 1 and len(listed) > 1:
        log.info("%s: reading its only spatial layer %r", where, spatial[0])
        return replace(spec, layer=spatial[0])
    if len(spatial) <= 1:
        return spec
    schema, named = named_by_definition(spec, spatial, where)
    if named:
        log.info("%s: %d layers and no layer name: reading %s, named by the layer definition %r",
                 where, len(spatial), ", ".join(map(repr, named)), schema)
        if spec.definition is None and spec.schema is None:
            spec = replace(spec, schema=schema)  # read by the definition that chose the layers
        return replace(spec, layer=named[0]) if len(named) == 1 else replace(spec, layers=tuple(named))
    fits = [n for n in spatial if _layer_matches(spec, n)]
    if len(fits) == 1:
        log.info("%s: %d layers and no layer name: reading %r, the one a layer definition matches",
                 where, len(spatial), fits[0])
        return replace(spec, layer=fits[0])
    shown = ", ".join(f"{n!r} ({read_info(str(spec.path), n, file_stamp(spec.path)).get('features', '?')} features)"
                      for n in spatial)
    why = (f"{len(fits)} of them ({', '.join(map(repr, fits))}) match a layer definition" if fits
           else "none matches a known layer definition")
    raise LayerConfigError(
        f"{where}: has {len(spatial)} layers ({shown}) and no layer name; {why}, so which one to use cannot be "
        f"told: name it with --layer {spec.role}={spec.path}:LAYER or layer = \"LAYER\" in the run config")


def named_by_definition(spec: LayerSpec, spatial: list[str], where: str) -> tuple[str | None, list[str]]:
    """The layers of a many-layer file that a layer definition names (its ``layers`` patterns) and
    whose fields it matches: the spec's own definition, or of the known ones those serving the
    spec's role when any does (else those that state no roles: a definition for other roles never
    names the layer of this one). Two definitions naming layers: an error."""
    if spec.definition is not None or spec.schema is not None:
        schemas = [spec.definition if spec.definition is not None else known_schemas()[spec.schema]]
    else:
        schemas = ([s for s in known_schemas().values() if spec.role in s.roles]
                   or [s for s in known_schemas().values() if not s.roles])
    found = {}
    for schema in schemas:
        hit = [n for n in schema.named_layers([n for n in spatial if _features(spec, n)])
               if _layer_matches(replace(spec, definition=schema), n)]
        if hit:
            found[schema.name] = hit
    if len(found) > 1:
        shown = "; ".join(f"{k}: {', '.join(map(repr, v))}" for k, v in found.items())
        raise LayerConfigError(
            f"{where}: has layers of {len(found)} layer definitions ({shown}) and no layer name, so which one "
            f"the {spec.role} layer is cannot be told: name it with --layer {spec.role}={spec.path}:LAYER or "
            f"layer = \"LAYER\" (or schema = \"NAME\") in the run config")
    return next(iter(found.items()), (None, []))


def _features(spec: LayerSpec, layer: str) -> int:
    """Features in one layer of the spec's file (an empty layer is never the one named)."""
    return int(read_info(str(spec.path), layer, file_stamp(spec.path)).get("features") or 0)


def _layer_matches(spec: LayerSpec, layer: str) -> bool:
    """Whether the definition of ``spec`` (given, named, or any known one) matches ``layer``'s fields."""
    fields = [str(c) for c in read_info(str(spec.path), layer, file_stamp(spec.path))["fields"]]
    if spec.definition is not None or spec.schema is not None:
        schema = spec.definition if spec.definition is not None else known_schemas()[spec.schema]
        return bool(schema.match or schema.fields) and schema.matches(fields) and _has_mapped(schema, fields)
    return detect_schema(fields, layer) is not None


def _has_mapped(schema: Schema, fields: list[str]) -> bool:
    try:
        check_mapped_fields(schema, fields, "")
    except LayerConfigError:
        return False
    return True


def read_table(spec: LayerSpec, bbox_lonlat: tuple | None = None, *,
               all_columns: bool = False) -> tuple[gpd.GeoDataFrame, Schema, str]:
    """Read a vector layer in its source CRS: (frame with the source columns, schema, source CRS).

    ``bbox_lonlat`` limits the read to that lon/lat box, or those boxes (transformed into the file's
    CRS; a box crossing ±180° is read as its two halves). A multi-layer source without a layer name
    is read at the layer :func:`choose_layer` names. ``all_columns``: every attribute, not only
    those the definition maps (the sites: the user's own fields are carried to the results).
    """
    path = spec.path
    check_path(path, f"{spec.role} layer")
    spec = choose_layer(spec)
    if spec.layers:
        return _read_layers(spec, bbox_lonlat, all_columns)
    suffix = path.suffix.lower()
    where = layer_where(spec)
    if suffix == ".csv":
        return read_csv(spec, where)
    _, columns, schema = open_vector(spec, where)
    if suffix in (".parquet", ".geoparquet"):
        try:
            gdf = gpd.read_parquet(path, columns=None if all_columns else _parquet_columns(path, schema, columns))
        except Exception as exc:  # pyarrow raises many types for unreadable files
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
        src_crs = source_crs(spec, gdf.crs, where)
        return gdf, schema, src_crs
    info = file_info(spec, where)
    src_crs = source_crs(spec, info.get("crs"), where)
    boxes = None
    if bbox_lonlat is not None:
        src = to_crs(src_crs, where)
        boxes = _bbox_in(bbox_lonlat, src, _lon_max(spec) if src.is_geographic else None)
    wanted = None if all_columns else schema.source_columns(columns)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = _read_boxes(path, spec.layer, wanted, boxes)
    except Exception as exc:
        raise LayerDataError(f"{where}: cannot read: {exc}") from None
    check_text(gdf, where)
    return gdf, schema, src_crs


def _parquet_columns(path: Path, schema: Schema, columns: list[str]) -> list[str]:
    """The columns of a GeoParquet file the definition reads, and its geometry (as OGR files are read)."""
    import pyarrow.parquet as pq
    geo = json.loads((pq.read_schema(path).metadata or {}).get(b"geo", b"{}"))
    return schema.source_columns(columns) + [geo.get("primary_column", "geometry")]


def layer_parts(spec: LayerSpec) -> list[LayerSpec]:
    """The single-layer specs of a spec reading several layers of one file (or the spec itself)."""
    return [replace(spec, layer=n, layers=()) for n in spec.layers] if spec.layers else [spec]


def _read_layers(spec: LayerSpec, bbox_lonlat, all_columns: bool) -> tuple[gpd.GeoDataFrame, Schema, str]:
    """Several layers of one file read as one table: one definition, one CRS (else an error)."""
    parts = [read_table(part, bbox_lonlat, all_columns=all_columns) for part in layer_parts(spec)]
    if len({p[1].name for p in parts}) > 1 or len({p[2] for p in parts}) > 1:
        raise LayerDataError(f"{layer_where(spec)}: its layers differ in definition or CRS "
                             f"({', '.join(f'{p[1].name} in {p[2]}' for p in parts)}); give each as its own layer")
    frames = [p[0] for p in parts if len(p[0])] or [parts[0][0]]
    gdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return gdf, parts[0][1], parts[0][2]


#: Formats read in pieces by :func:`read_batches` (streamed screening): GeoParquet, and the OGR formats.
BATCH_SUFFIXES = (".parquet", ".geoparquet", ".gpkg", ".fgb", ".shp", ".geojson", ".json", ".gdb")


def read_batches(spec: LayerSpec, batch_rows: int, *,
                 all_columns: bool = False) -> tuple[Schema, str, int, Iterator[gpd.GeoDataFrame]]:
    """Read a vector file in pieces of ``batch_rows`` rows, for inputs too large to hold at once.

    Returns (schema, source CRS, rows in the file, an iterator of frames in the source CRS): the
    same checks and columns as :func:`read_table`, one piece at a time.
    """
    path = spec.path
    check_path(path, f"{spec.role} layer")
    suffix = path.suffix.lower()
    where = layer_where(spec)
    if suffix not in BATCH_SUFFIXES:
        raise LayerConfigError(f"{where}: cannot be read in pieces; formats that can: {', '.join(BATCH_SUFFIXES)}")
    spec = choose_layer(spec)
    if spec.layers:
        raise LayerConfigError(f"{layer_where(spec)}: several layers cannot be read in pieces; name one layer")
    total, columns, schema = open_vector(spec, where)
    if suffix in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        geo = json.loads((pf.schema_arrow.metadata or {}).get(b"geo", b"{}"))
        gcol = geo.get("primary_column", "geometry")
        crs = geo.get("columns", {}).get(gcol, {}).get("crs", "OGC:CRS84")
        src_crs = source_crs(spec, json.dumps(crs) if isinstance(crs, dict) else crs, where)

        def parquet_pieces() -> Iterator[gpd.GeoDataFrame]:
            for batch in pf.iter_batches(batch_size=batch_rows):
                df = batch.to_pandas()
                geoms = shapely.from_wkb(df.pop(gcol).to_numpy())
                yield gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=src_crs))
        return schema, src_crs, int(total or 0), parquet_pieces()
    info = file_info(spec, where)
    src_crs = source_crs(spec, info.get("crs"), where)
    wanted = None if all_columns else schema.source_columns(columns)

    def ogr_pieces() -> Iterator[gpd.GeoDataFrame]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                with pyogrio.open_arrow(path, layer=spec.layer, columns=wanted, batch_size=batch_rows,
                                        use_pyarrow=True) as (meta, reader):
                    gname = meta.get("geometry_name") or "wkb_geometry"
                    for batch in reader:
                        df = batch.to_pandas()
                        geoms = _from_wkb_linear(df.pop(gname).to_numpy(), where)
                        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=src_crs))
                        check_text(gdf, where)
                        yield gdf
        except pyogrio.errors.DataSourceError as exc:
            raise LayerDataError(f"{where}: cannot read: {exc}") from None
    return schema, src_crs, int(total or 0), ogr_pieces()


def _from_wkb_linear(wkb: np.ndarray, where: str) -> np.ndarray:
    try:
        return shapely.from_wkb(wkb)
    except NotImplementedError:
        raise LayerDataError(f"{where}: holds curved geometries (arcs), which are converted only when the file is "
                             f"read whole: screen it without streaming, or convert it first (ogr2ogr -nlt "
                             f"CONVERT_TO_LINEAR)") from None


def _bbox_in(bbox_lonlat, crs: CRS, lon_max: float | None = None) -> tuple[tuple, ...]:
    """Lon/lat boxes (one box or several; ``west > east`` crosses ±180° and is split) as boxes in
    ``crs``. A geographic file whose longitudes run past 180° (``lon_max``: written 0–360) is
    also read in the boxes shifted by 360°."""
    from sitescreen.inputs.crs import split_box
    flat = (bbox_lonlat,) if np.ndim(bbox_lonlat[0]) == 0 else tuple(bbox_lonlat)
    boxes = tuple(b for box in flat for b in split_box(tuple(box)))
    if crs.is_geographic and crs.to_epsg() in (4326, 4269, 4267, None):
        if lon_max is not None and lon_max > 180.0:
            boxes += tuple((x0 + 360.0, y0, x1 + 360.0, y1) for x0, y0, x1, y1 in boxes if x0 + 360.0 <= lon_max)
        return boxes
    t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return tuple(t.transform_bounds(*b, densify_pts=21) for b in boxes)


def _lon_max(spec: LayerSpec) -> float | None:
    """The largest x of a file (for longitudes written 0–360), None when unknown."""
    try:
        return float(read_info(str(spec.path), spec.layer, file_stamp(spec.path), True)["total_bounds"][2])
    except Exception:
        return None


def _read_boxes(path: Path, layer: str | None, columns, boxes: tuple[tuple, ...] | None) -> gpd.GeoDataFrame:
    """The features within any of ``boxes`` (each once, by feature id), or all when None."""
    if boxes is None or len(boxes) == 1:
        return _read_frame(path, layer, columns, boxes[0] if boxes else None)
    parts = [_read_frame(path, layer, columns, b, fid_as_index=True) for b in boxes]
    found = [p for p in parts if len(p)] or parts[:1]
    gdf = pd.concat(found) if len(found) > 1 else found[0]
    return gdf.loc[~gdf.index.duplicated()].reset_index(drop=True)


def _read_frame(path: Path, layer: str | None, columns, bbox, **kw) -> gpd.GeoDataFrame:
    """One read through Arrow; a layer holding curved geometries (CurvePolygon, MultiSurface,
    CompoundCurve: FileGDB and GeoPackage may store true arcs, which shapely cannot hold) is read
    again through GDAL's feature reader, which converts every curve to its linear approximation."""
    try:
        with quiet_measures():
            return pyogrio.read_dataframe(path, layer=layer, columns=columns, bbox=bbox, use_arrow=True, **kw)
    except NotImplementedError:  # shapely.from_wkb: "Nonlinear geometry types are not currently supported"
        log.info("%s: curved geometries converted to their linear approximation (GDAL)", path)
        with quiet_measures():
            return pyogrio.read_dataframe(path, layer=layer, columns=columns, bbox=bbox, use_arrow=False, **kw)
