"""Opening a vector file before reading it: its GDAL info (cached per file version), fields, feature
count, bounds and CRS, and the layer definition (schema) that maps its fields."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio

from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.inputs.check import NOT_READ, check_mapped_fields, check_shapefile, companion_files
from sitescreen.inputs.crs import crs_label, to_crs
from sitescreen.inputs.schemas import Schema, describe_known, detect_schema, generic_schema, known_schemas
from sitescreen.inputs.spec import LayerSpec, override_hint


def layer_where(spec: LayerSpec) -> str:
    if spec.layers:
        return f"{spec.path} (layers {', '.join(map(repr, spec.layers))})"
    return f"{spec.path}" + (f" (layer {spec.layer!r})" if spec.layer else "")


def open_vector(spec: LayerSpec, where: str) -> tuple[int | None, list[str], Schema]:
    """The checks before reading a (non-CSV) vector file, whole or in pieces: a complete shapefile,
    not empty, its fields mapped by a definition. Returns (features in the file, fields, schema)."""
    if spec.path.suffix.lower() == ".shp":
        check_shapefile(spec.path, where)
    total = feature_count(spec, where)
    if total == 0:
        raise LayerDataError(empty_message(spec, where))
    columns = field_names(spec, where)
    schema = schema_for(spec, columns, where)
    check_mapped_fields(schema, columns, where)
    return total, columns, schema


def empty_message(spec: LayerSpec, where: str) -> str:
    if spec.role in ("sites", "aoi"):
        return f"{where}: the {spec.role} file has no records (it is empty); check the file"
    return f"{where}: the {spec.role} layer has no features (the file is empty); check the file or leave the layer out"


def feature_count(spec: LayerSpec, where: str) -> int | None:
    """Features in the whole file (None when the format cannot tell cheaply)."""
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        try:
            return pq.read_metadata(spec.path).num_rows
        except Exception as exc:
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
    n = file_info(spec, where).get("features")
    return None if n is None or n < 0 else int(n)


@lru_cache(maxsize=64)
def read_info(path: str, layer: str | None, stamp: tuple, total_bounds: bool = False) -> dict:
    """pyogrio.read_info, once per file version (``stamp`` = mtime and size): GeoJSON is parsed on open."""
    with quiet_measures():
        return pyogrio.read_info(path, layer=layer, force_total_bounds=total_bounds)


@contextmanager
def quiet_measures():
    """Silence pyogrio's notice that measured (M) geometries are read without M (NHDPlus HR layers):
    sitescreen never uses M, and the notice is not the user's to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Measured \(M\) geometry types are not supported", category=UserWarning)
        yield


def file_stamp(path: Path) -> tuple:
    """(mtime, size) of a file, or of every file of a FileGDB folder (a folder's own mtime does not
    change when a table inside it is rewritten)."""
    if path.is_dir():
        stats = [p.stat() for p in companion_files(path)]
        return (max((st.st_mtime_ns for st in stats), default=0), sum(st.st_size for st in stats), len(stats))
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)


def file_info(spec: LayerSpec, where: str) -> dict:
    try:
        return read_info(str(spec.path), spec.layer, file_stamp(spec.path))
    except pyogrio.errors.DataLayerError:
        try:
            with quiet_measures():
                names = [n for n, _ in pyogrio.list_layers(spec.path)]
        except Exception:
            names = []
        raise LayerDataError(
            f"{where}: no layer named {spec.layer!r}; layers in the file: {', '.join(names) or 'none'}") from None
    except Exception as exc:
        hint = NOT_READ.get(spec.path.suffix.lower())
        if hint:
            raise LayerDataError(f"{where}: not a vector format GDAL can open: this is {hint}") from None
        raise LayerDataError(f"{where}: not a vector format GDAL can open ({type(exc).__name__}: {exc})") from None


def field_names(spec: LayerSpec, where: str) -> list[str]:
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        try:
            names = pq.read_schema(spec.path).names
        except Exception as exc:
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
        return [n for n in names if n != "geometry"]
    return [str(c) for c in file_info(spec, where)["fields"]]


def schema_for(spec: LayerSpec, columns: list[str], where: str) -> Schema:
    if spec.definition is not None:
        return spec.definition
    if spec.schema is not None:
        return known_schemas()[spec.schema]
    found = detect_schema(columns, where)
    if found is not None:
        return found
    if spec.role in ("sites", "deposits") or spec.role not in STANDARD_ROLES:
        return generic_schema(columns, spec.role)
    raise LayerConfigError(
        f"{where}: unrecognised {spec.role} layer: none of the known definitions matches its fields "
        f"({', '.join(columns[:15]) or 'none'}). Known: {describe_known()}. "
        f"Give a layer definition in a run config ([[layers]] with definition = {{ fields = {{ name = \"...\" }} }}) "
        f"or name one with schema = \"...\"")


STANDARD_ROLES = ("federal_land", "watershed", "protected")


def source_crs(spec: LayerSpec, file_crs: Any, where: str) -> str:
    if spec.crs:
        return crs_label(to_crs(spec.crs, where))
    if file_crs is None:
        raise CRSError(f"{where}: the layer has no CRS; {override_hint(spec)}")
    return crs_label(to_crs(file_crs, where))


def total_bounds(spec: LayerSpec) -> tuple:
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        return tuple(gpd.read_parquet(spec.path, columns=[]).total_bounds)
    info = read_info(str(spec.path), spec.layer, file_stamp(spec.path), True)
    return tuple(info["total_bounds"])
