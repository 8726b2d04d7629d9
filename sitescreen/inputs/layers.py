"""Input layers: what a layer is (:class:`LayerSpec`), and reading it into the run CRS.

Vector layers are read with pyogrio (Arrow), GeoParquet with geopandas, CSV with pandas (WKT or
lon/lat columns). Only the part of a layer within the sites' reach is read (``bbox``). Every
layer is checked against its CRS, reprojected into the run CRS, repaired (counted), and given
canonical attribute columns (see :mod:`sitescreen.inputs.schemas`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError

from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.inputs.usstates import is_national, state_codes
from sitescreen.inputs.numbers import check_number
from sitescreen.inputs.schemas import Schema, describe_known, detect_schema, generic_schema, known_schemas, schema_from_dict

log = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff", ".geotiff", ".gtiff", ".gtif", ".vrt", ".img", ".asc")
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, either byte order
#: Files people give that are not read, and what to do instead.
NOT_READ = {".xlsx": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".xls": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".ods": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".dbf": "the attribute table of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)",
            ".shx": "the index of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)",
            ".prj": "the CRS of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)"}
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".parquet", ".geoparquet", ".fgb", ".csv", ".gml", ".kml")


@dataclass(frozen=True)
class LayerSpec:
    """One input layer of a run."""

    role: str
    path: Path
    layer: str | None = None           # layer name inside a multi-layer file (GeoPackage)
    name: str | None = None            # display name; defaults to the file stem
    schema: str | None = None          # a known definition by name; detected when None
    definition: Schema | None = None   # an inline definition (from a run config)
    crs: str | None = None             # CRS override for files whose CRS is missing or wrong
    where: Mapping[str, tuple] = field(default_factory=dict)  # canonical field -> allowed values
    band: int = 1
    skip_invalid: bool = False         # CSV rows whose WKT does not parse are skipped, not an error
    coverage: str | None = None        # declared coverage: a polygon file, or "global" / "features"

    @property
    def kind(self) -> str:
        return "raster" if is_raster(self.path) else "vector"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.layer if self.layer else self.path.stem


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


def is_raster(path: Path) -> bool:
    """A raster by its suffix, or for a suffix no list names, by its first bytes (a TIFF)."""
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES or suffix in VECTOR_SUFFIXES:
        return suffix in RASTER_SUFFIXES
    try:
        with open(path, "rb") as f:
            return f.read(4) in TIFF_MAGIC
    except OSError:
        return False  # missing or unreadable: check_path says so


def parse_layer_arg(text: str) -> LayerSpec:
    """``ROLE=PATH[:LAYER][@CRS]`` from the command line."""
    role, sep, rest = text.partition("=")
    if not sep or not role or not rest:
        raise LayerConfigError(f"--layer {text!r}: expected ROLE=PATH[:LAYER][@CRS], e.g. protected=wilderness.shp")
    path, layer, crs = split_path_arg(rest)
    return LayerSpec(role=role.strip(), path=path, layer=layer, crs=crs)


def split_path_arg(text: str) -> tuple[Path, str | None, str | None]:
    """``PATH[:LAYER][@CRS]`` as (path, layer, crs). A path that exists as written is never cut, and
    only the last ``@``/``:`` with no folder separator after it can start a CRS or a layer name, so a
    folder such as ``survey@2024/`` stays part of the path."""
    def cut(rest: str, mark: str) -> tuple[str, str | None]:
        head, sep, tail = rest.rpartition(mark)
        if not sep or not head or not tail or Path(rest).exists() or "/" in tail or os.sep in tail:
            return rest, None
        return head, tail
    rest, crs = cut(text, "@")
    rest, layer = cut(rest, ":")
    return Path(rest), layer, crs


def override_hint(spec: LayerSpec) -> str:
    """How to state a layer's CRS, in a form that works for its role (tested by following it)."""
    if spec.role == "sites":
        return (f"state it with crs = \"EPSG:…\" in [sites] of the run config, or give the sites on the command "
                f"line as {spec.path}@EPSG:XXXX")
    if spec.role == "aoi":
        return "save the area of interest with its CRS (e.g. as GeoPackage or GeoJSON, or add the shapefile's .prj)"
    return f"state it with crs = \"EPSG:…\" in the run config or --layer {spec.role}={spec.path}@EPSG:XXXX"


def layer_from_config(data: Mapping[str, Any], base: Path, where: str) -> LayerSpec:
    """A ``[[layers]]`` table of a run config; paths resolve against the config's folder."""
    allowed = {"role", "path", "layer", "name", "schema", "definition", "crs", "where", "band", "coverage"}
    unknown = set(data) - allowed
    if unknown:
        raise LayerConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    for key in ("role", "path"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise LayerConfigError(f"{where}: '{key}' is required (a string)")
    for key in ("layer", "name", "crs"):
        if key in data and not isinstance(data[key], str):
            raise LayerConfigError(f"{where}: {key} must be a string, got {data[key]!r}")
    definition = None
    if "definition" in data:
        definition = schema_from_dict(data["definition"], f"{where}.definition")
    schema = data.get("schema")
    if schema is not None and schema not in known_schemas():
        raise LayerConfigError(f"{where}: schema {schema!r} is not a known layer definition; known: {', '.join(known_schemas())}")
    path = Path(data["path"])
    coverage = data.get("coverage")
    if coverage is not None and (not isinstance(coverage, str) or not coverage):
        raise LayerConfigError(f"{where}: 'coverage' must be a polygon file or one of {', '.join(SPEC_COVERAGES)}")
    if coverage is not None and coverage not in SPEC_COVERAGES and not Path(coverage).is_absolute():
        coverage = str(base / coverage)
    return LayerSpec(
        role=data["role"], path=path if path.is_absolute() else base / path, layer=data.get("layer"),
        name=data.get("name"), schema=schema, definition=definition, crs=data.get("crs"),
        where=parse_where(data.get("where", {}), where), band=check_number("band", data.get("band", 1), where=where),
        coverage=coverage,
    )


#: What a layer's ``coverage`` key may say besides a polygon file's path.
SPEC_COVERAGES = ("global", "features")


def parse_where(data: Mapping[str, Any], where: str) -> dict[str, tuple]:
    if not isinstance(data, Mapping):
        raise LayerConfigError(f"{where}: 'where' must be a table of field = [allowed values]")
    return {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in data.items()}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of all files of a Shapefile set (sorted by name)."""
    h = hashlib.sha256()
    for p in companion_files(path):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def companion_files(path: Path) -> list[Path]:
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*")
                      if p.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg"))
    return [path]


def check_path(path: Path, what: str) -> None:
    if not path.exists():
        raise LayerDataError(f"{path}: {what} file not found; check the path")
    if path.is_dir():
        raise LayerDataError(f"{path}: {what} is a directory, expected a file")
    if not os.access(path, os.R_OK):
        raise LayerDataError(f"{path}: {what} file is not readable (permissions)")
    hint = NOT_READ.get(path.suffix.lower())
    if hint:  # GDAL opens some of these (a .dbf as a table without geometry): refuse them by name
        raise LayerDataError(f"{path}: {what} is not a file sitescreen reads: this is {hint}")


def to_crs(value: str | CRS, where: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except (ProjCRSError, TypeError) as exc:
        raise CRSError(f"{where}: {value!r} is not a CRS pyproj understands (e.g. EPSG:5070): {exc}") from None


def crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


# ---------------------------------------------------------------------------------------------
# Reading


def _where(spec: LayerSpec) -> str:
    return f"{spec.path}" + (f" (layer {spec.layer!r})" if spec.layer else "")


def _open(spec: LayerSpec, where: str) -> tuple[int | None, list[str], Schema]:
    """The checks before reading a (non-CSV) vector file, whole or in pieces: a complete shapefile,
    not empty, its fields mapped by a definition. Returns (features in the file, fields, schema)."""
    if spec.path.suffix.lower() == ".shp":
        _check_shapefile(spec.path, where)
    total = _feature_count(spec, where)
    if total == 0:
        raise LayerDataError(_empty_message(spec, where))
    columns = _columns(spec, where)
    schema = _schema_for(spec, columns, where)
    _check_mapped_fields(schema, columns, where)
    return total, columns, schema


SINGLE_LAYER_SUFFIXES = (".csv", ".parquet", ".geoparquet")


def choose_layer(spec: LayerSpec) -> LayerSpec:
    """The spec with its layer named: a multi-layer source (GeoPackage, FileGDB, …) without a layer
    name is never read at its first layer. Of its spatial layers, the one a layer definition matches
    (the spec's own, or a known one) is taken when exactly one does; otherwise the error lists them."""
    if spec.layer is not None or spec.path.suffix.lower() in SINGLE_LAYER_SUFFIXES:
        return spec
    where = _where(spec)
    try:
        listed = pyogrio.list_layers(spec.path)
    except Exception:
        return spec  # not a vector source GDAL can open: _info says so
    spatial = [str(n) for n, g in listed if g is not None]
    if len(spatial) == 1 and len(listed) > 1:
        log.info("%s: reading its only spatial layer %r", where, spatial[0])
        return replace(spec, layer=spatial[0])
    if len(spatial) <= 1:
        return spec
    fits = [n for n in spatial if _layer_matches(spec, n)]
    if len(fits) == 1:
        log.info("%s: %d layers and no layer name: reading %r, the one a layer definition matches",
                 where, len(spatial), fits[0])
        return replace(spec, layer=fits[0])
    shown = ", ".join(f"{n!r} ({_read_info(str(spec.path), n, _stamp(spec.path)).get('features', '?')} features)"
                      for n in spatial)
    why = (f"{len(fits)} of them ({', '.join(map(repr, fits))}) match a layer definition" if fits
           else "none matches a known layer definition")
    raise LayerConfigError(
        f"{where}: has {len(spatial)} layers ({shown}) and no layer name; {why}, so which one to use cannot be "
        f"told: name it with --layer {spec.role}={spec.path}:LAYER or layer = \"LAYER\" in the run config")


def _layer_matches(spec: LayerSpec, layer: str) -> bool:
    """Whether the definition of ``spec`` (given, named, or any known one) matches ``layer``'s fields."""
    fields = [str(c) for c in _read_info(str(spec.path), layer, _stamp(spec.path))["fields"]]
    if spec.definition is not None or spec.schema is not None:
        schema = spec.definition if spec.definition is not None else known_schemas()[spec.schema]
        return bool(schema.match or schema.fields) and schema.matches(fields) and _has_mapped(schema, fields)
    return detect_schema(fields, layer) is not None


def _has_mapped(schema: Schema, fields: list[str]) -> bool:
    try:
        _check_mapped_fields(schema, fields, "")
    except LayerConfigError:
        return False
    return True


def read_table(spec: LayerSpec, bbox_lonlat: tuple | None = None) -> tuple[gpd.GeoDataFrame, Schema, str]:
    """Read a vector layer in its source CRS: (frame with the source columns, schema, source CRS).

    ``bbox_lonlat`` limits the read to that lon/lat box, or those boxes (transformed into the file's
    CRS; a box crossing ±180° is read as its two halves). A multi-layer source without a layer name
    is read at the layer :func:`choose_layer` names.
    """
    path = spec.path
    check_path(path, f"{spec.role} layer")
    spec = choose_layer(spec)
    suffix = path.suffix.lower()
    where = _where(spec)
    if suffix == ".csv":
        return _read_csv(spec, where)
    _, columns, schema = _open(spec, where)
    if suffix in (".parquet", ".geoparquet"):
        try:
            gdf = gpd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for unreadable files
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
        src_crs = _source_crs(spec, gdf.crs, where)
        return gdf, schema, src_crs
    info = _info(spec, where)
    src_crs = _source_crs(spec, info.get("crs"), where)
    boxes = None
    if bbox_lonlat is not None:
        src = to_crs(src_crs, where)
        boxes = _bbox_in(bbox_lonlat, src, _lon_max(spec) if src.is_geographic else None)
    wanted = schema.source_columns(columns)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = _read_boxes(path, spec.layer, wanted, boxes)
    except Exception as exc:
        raise LayerDataError(f"{where}: cannot read: {exc}") from None
    _check_text(gdf, where)
    return gdf, schema, src_crs


#: Formats read in pieces by :func:`read_batches` (streamed screening): GeoParquet, and the OGR formats.
BATCH_SUFFIXES = (".parquet", ".geoparquet", ".gpkg", ".fgb", ".shp", ".geojson", ".json")


def read_batches(spec: LayerSpec, batch_rows: int) -> tuple[Schema, str, int, Iterator[gpd.GeoDataFrame]]:
    """Read a vector file in pieces of ``batch_rows`` rows, for inputs too large to hold at once.

    Returns (schema, source CRS, rows in the file, an iterator of frames in the source CRS): the
    same checks and columns as :func:`read_table`, one piece at a time.
    """
    path = spec.path
    check_path(path, f"{spec.role} layer")
    suffix = path.suffix.lower()
    where = _where(spec)
    if suffix not in BATCH_SUFFIXES:
        raise LayerConfigError(f"{where}: cannot be read in pieces; formats that can: {', '.join(BATCH_SUFFIXES)}")
    spec = choose_layer(spec)
    total, columns, schema = _open(spec, where)
    if suffix in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        geo = json.loads((pf.schema_arrow.metadata or {}).get(b"geo", b"{}"))
        gcol = geo.get("primary_column", "geometry")
        crs = geo.get("columns", {}).get(gcol, {}).get("crs", "OGC:CRS84")
        src_crs = _source_crs(spec, json.dumps(crs) if isinstance(crs, dict) else crs, where)

        def parquet_pieces() -> Iterator[gpd.GeoDataFrame]:
            for batch in pf.iter_batches(batch_size=batch_rows):
                df = batch.to_pandas()
                geoms = shapely.from_wkb(df.pop(gcol).to_numpy())
                yield gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=src_crs))
        return schema, src_crs, int(total or 0), parquet_pieces()
    info = _info(spec, where)
    src_crs = _source_crs(spec, info.get("crs"), where)
    wanted = schema.source_columns(columns)

    def ogr_pieces() -> Iterator[gpd.GeoDataFrame]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                with pyogrio.open_arrow(path, layer=spec.layer, columns=wanted, batch_size=batch_rows,
                                        use_pyarrow=True) as (meta, reader):
                    gname = meta.get("geometry_name") or "wkb_geometry"
                    for batch in reader:
                        df = batch.to_pandas()
                        geoms = shapely.from_wkb(df.pop(gname).to_numpy())
                        gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=src_crs))
                        _check_text(gdf, where)
                        yield gdf
        except pyogrio.errors.DataSourceError as exc:
            raise LayerDataError(f"{where}: cannot read: {exc}") from None
    return schema, src_crs, int(total or 0), ogr_pieces()


def _check_text(gdf: pd.DataFrame, where: str) -> None:
    """Text read through Arrow is not checked for its encoding: check it here, not deep in a run."""
    for col in gdf.columns:
        if col == getattr(gdf, "_geometry_column_name", None) or not pd.api.types.is_string_dtype(gdf[col].dtype):
            continue
        try:
            gdf[col].to_numpy(dtype=object)
        except Exception:  # pyarrow.ArrowException / UnicodeDecodeError on bytes that are not UTF-8
            hint = ("its .cpg file names the wrong encoding: write the real one into it (e.g. LATIN1)"
                    if Path(where.split(" (layer ")[0]).suffix.lower() == ".shp" else "re-save the file as UTF-8")
            raise LayerDataError(f"{where}: field {col!r} has text that is not valid UTF-8; {hint}") from None


def _empty_message(spec: LayerSpec, where: str) -> str:
    if spec.role in ("sites", "aoi"):
        return f"{where}: the {spec.role} file has no records (it is empty); check the file"
    return f"{where}: the {spec.role} layer has no features (the file is empty); check the file or leave the layer out"


def _feature_count(spec: LayerSpec, where: str) -> int | None:
    """Features in the whole file (None when the format cannot tell cheaply)."""
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        try:
            return pq.read_metadata(spec.path).num_rows
        except Exception as exc:
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
    n = _info(spec, where).get("features")
    return None if n is None or n < 0 else int(n)


def _check_shapefile(path: Path, where: str) -> None:
    """Refuse a shapefile without its .shx or .dbf, and a truncated .shp or .dbf (GDAL reads what is
    there and silently drops the rest)."""
    present = {p.suffix.lower() for p in companion_files(path)}
    for part, what in ((".shx", "index"), (".dbf", "attribute table")):
        if part not in present:
            raise LayerDataError(f"{where}: the shapefile's {part} file (its {what}) is missing beside it; a shapefile "
                                 f"is several files with one name (.shp, .shx, .dbf, .prj): copy them all together")
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or int.from_bytes(head[:4], "big") != 9994:
        raise LayerDataError(f"{where}: not a valid shapefile (the .shp header is damaged); copy or download it again")
    declared, actual = int.from_bytes(head[24:28], "big") * 2, path.stat().st_size
    if actual < declared:
        raise LayerDataError(f"{where}: the .shp file is truncated ({actual} of {declared} bytes); copy or download it again")
    dbf = next((p for p in companion_files(path) if p.suffix.lower() == ".dbf"), None)
    if dbf is not None:
        with open(dbf, "rb") as f:
            h = f.read(12)
        if len(h) == 12:
            need = int.from_bytes(h[8:10], "little") + int.from_bytes(h[4:8], "little") * int.from_bytes(h[10:12], "little")
            if dbf.stat().st_size < need:
                raise LayerDataError(f"{dbf}: the .dbf file is truncated ({dbf.stat().st_size} of {need} bytes); copy or download it again")


def _check_mapped_fields(schema: Schema, columns: list[str], where: str) -> None:
    """Every field a definition maps exists in the file (checked before a read of only those fields)."""
    lower = {c.lower() for c in columns}
    wanted = [(alts, f"mapped to {canon!r}") for canon, alts in schema.fields.items()]
    wanted += [((r.source,), f"recoded to {canon!r}") for canon, r in schema.values.items() if r.value is None and r.source]
    for alts, what in wanted:
        if not any(a.lower() in lower for a in alts):
            raise LayerConfigError(
                f"{where}: field {' or '.join(repr(a) for a in alts)} ({what}) not found; "
                f"fields present: {', '.join(map(str, columns)) or 'none'}")


@lru_cache(maxsize=64)
def _read_info(path: str, layer: str | None, stamp: tuple, total_bounds: bool = False) -> dict:
    """pyogrio.read_info, once per file version (``stamp`` = mtime and size): GeoJSON is parsed on open."""
    return pyogrio.read_info(path, layer=layer, force_total_bounds=total_bounds)


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return (st.st_mtime_ns, st.st_size)


def _info(spec: LayerSpec, where: str) -> dict:
    try:
        return _read_info(str(spec.path), spec.layer, _stamp(spec.path))
    except pyogrio.errors.DataLayerError:
        try:
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


def _columns(spec: LayerSpec, where: str) -> list[str]:
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq
        try:
            names = pq.read_schema(spec.path).names
        except Exception as exc:
            raise LayerDataError(f"{where}: cannot read as GeoParquet: {exc}") from None
        return [n for n in names if n != "geometry"]
    return [str(c) for c in _info(spec, where)["fields"]]


def _schema_for(spec: LayerSpec, columns: list[str], where: str) -> Schema:
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


def _source_crs(spec: LayerSpec, file_crs: Any, where: str) -> str:
    if spec.crs:
        return crs_label(to_crs(spec.crs, where))
    if file_crs is None:
        raise CRSError(f"{where}: the layer has no CRS; {override_hint(spec)}")
    return crs_label(to_crs(file_crs, where))


CSV_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}


def csv_dialect(path: Path) -> tuple[str, str]:
    """(encoding, separator) of a CSV: UTF-8, or UTF-16/UTF-8 as its byte-order mark says; the separator
    is a comma unless the header has none and has semicolons, tabs or bars (spreadsheet exports)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    encoding = ("utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff"))
                else "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8")
    lines = head.decode(encoding, errors="ignore").splitlines()
    header = re.sub(r'"[^"]*"', "", lines[0] if lines else "")
    counts = {sep: header.count(sep) for sep in CSV_SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return encoding, ("," if counts[","] or not counts[best] else best)


def _csv_frame(spec: LayerSpec, where: str) -> pd.DataFrame:
    encoding, sep = csv_dialect(spec.path)
    if sep != ",":
        log.info("%s: fields separated by %s", where, CSV_SEPARATORS[sep])
    if encoding == "utf-8" and b"\x00" in spec.path.read_bytes()[: 1 << 16]:
        raise LayerDataError(f"{where}: text is not UTF-8 (it has NUL bytes: UTF-16 without a byte-order mark, "
                             f"or not text); re-save the file as UTF-8")
    try:
        with warnings.catch_warnings():  # rows longer than the header: pandas would shift them silently
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(spec.path, dtype=str, keep_default_na=False, encoding=encoding, sep=sep, index_col=False)
    except UnicodeError as exc:
        at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        raise LayerDataError(f"{where}: text is not {encoding.upper().removesuffix('-SIG')} "
                             f"({getattr(exc, 'reason', exc)}{at}); re-save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise LayerDataError(_empty_message(spec, where)) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        bad = _ragged_line(spec.path, encoding, sep)
        if bad:
            line, n, header = bad
            raise LayerDataError(
                f"{where}: line {line} has {n} fields but the header has {header} "
                f"(fields separated by {CSV_SEPARATORS[sep]}); put quotes around values that contain "
                f"{CSV_SEPARATORS[sep]}") from None
        raise LayerDataError(f"{where}: not a readable CSV: {exc}") from None


def _ragged_line(path: Path, encoding: str, sep: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row whose length differs from the header's."""
    import csv
    with open(path, newline="", encoding=encoding) as f:
        rows = csv.reader(f, delimiter=sep)
        header = len(next(rows, []))
        for row in rows:
            if row and len(row) != header:
                return rows.line_num, len(row), header
    return None


def _read_csv(spec: LayerSpec, where: str) -> tuple[gpd.GeoDataFrame, Schema, str]:
    df = _csv_frame(spec, where)
    if len(df) == 0:
        raise LayerDataError(_empty_message(spec, where))
    schema = _schema_for(spec, list(df.columns), where)
    if not schema.wkt and not (schema.lon and schema.lat):
        # a known definition that does not name geometry columns (e.g. wilderness exported as CSV)
        geo = generic_schema(list(df.columns), spec.role)
        schema = replace(schema, wkt=geo.wkt, lon=geo.lon, lat=geo.lat)
    if schema.wkt:
        text = df[schema.wkt].str.strip()
        present = text != ""
        wkt = text.to_numpy(dtype=object)
        wkt[~present.to_numpy()] = None
        geoms = shapely.from_wkt(wkt, on_invalid="ignore")
        bad = present.to_numpy() & shapely.is_missing(geoms)
        if bad.any():
            rows = (np.flatnonzero(bad) + 2).tolist()  # +1 header, +1 one-based
            shown = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
            err = LayerDataError(
                f"{where}: column {schema.wkt!r} has WKT that does not parse on {len(rows)} row(s) "
                f"(line {shown}), e.g. {text[bad].iloc[0]!r}; fix them or pass --skip-invalid")
            err.bad_rows = np.flatnonzero(bad)  # type: ignore[attr-defined]
            if not spec.skip_invalid:
                raise err
            geoms[bad] = None
    elif schema.lon and schema.lat:
        lon = pd.to_numeric(df[schema.lon].replace("", None), errors="coerce")
        lat = pd.to_numeric(df[schema.lat].replace("", None), errors="coerce")
        bad = (lon.isna() & (df[schema.lon] != "")) | (lat.isna() & (df[schema.lat] != ""))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
            raise LayerDataError(f"{where}: columns {schema.lon!r}/{schema.lat!r} are not numbers on line(s) {', '.join(map(str, rows[:10]))}")
        geoms = shapely.points(lon.to_numpy(), lat.to_numpy())
        geoms[lon.isna().to_numpy() | lat.isna().to_numpy()] = None
    else:
        raise LayerConfigError(
            f"{where}: CSV without a geometry: expected a WKT column ({', '.join(('wkt', 'geometry'))}) "
            f"or lon/lat columns (lon,lat / longitude,latitude / x,y); columns present: {', '.join(df.columns)}")
    file_crs = schema.crs or (df["crs"].replace("", np.nan).dropna().iloc[0] if "crs" in df and (df["crs"] != "").any() else None)
    if file_crs is None and schema.lon and schema.lon.lower() in ("lon", "longitude", "lng"):
        file_crs = "EPSG:4326"
    src_crs = _source_crs(spec, file_crs, where)
    return gpd.GeoDataFrame(df, geometry=geoms, crs=src_crs), schema, src_crs


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
        return float(_read_info(str(spec.path), spec.layer, _stamp(spec.path), True)["total_bounds"][2])
    except Exception:
        return None


def _read_boxes(path: Path, layer: str | None, columns, boxes: tuple[tuple, ...] | None) -> gpd.GeoDataFrame:
    """The features within any of ``boxes`` (each once, by feature id), or all when None."""
    if boxes is None or len(boxes) == 1:
        return pyogrio.read_dataframe(path, layer=layer, columns=columns, bbox=boxes[0] if boxes else None, use_arrow=True)
    parts = [pyogrio.read_dataframe(path, layer=layer, columns=columns, bbox=b, use_arrow=True, fid_as_index=True)
             for b in boxes]
    found = [p for p in parts if len(p)] or parts[:1]
    gdf = pd.concat(found) if len(found) > 1 else found[0]
    return gdf.loc[~gdf.index.duplicated()].reset_index(drop=True)


def check_coordinates(bounds: np.ndarray, crs: CRS, where: str, n: int) -> None:
    """Refuse coordinates that cannot be in ``crs`` (e.g. metres in a file tagged EPSG:4326)."""
    if n == 0 or not np.all(np.isfinite(bounds)):
        return
    minx, miny, maxx, maxy = bounds
    if crs.is_geographic:
        if minx < -180.5 or maxx > 360.5 or miny < -90.5 or maxy > 90.5:
            if -90.5 <= minx and maxx <= 90.5 and -180.5 <= miny and maxy <= 180.5:
                raise CRSError(
                    f"{where}: coordinates ({minx:.6g}, {miny:.6g}) – ({maxx:.6g}, {maxy:.6g}) are outside the valid "
                    f"range of {crs_label(crs)} (longitude ±180, latitude ±90) but fit with x and y exchanged: "
                    f"longitude and latitude look swapped; put longitude in the x/lon column and latitude in y/lat")
            raise CRSError(
                f"{where}: coordinates ({minx:.6g}, {miny:.6g}) – ({maxx:.6g}, {maxy:.6g}) are outside "
                f"the valid range of {crs_label(crs)} (longitude ±180, latitude ±90): the file's CRS tag is "
                f"probably wrong (projected metres?); give the real CRS as an override (crs = \"EPSG:…\" in the "
                f"run config, or ROLE=PATH@EPSG:XXXX on the command line)")
        return
    aou = crs.area_of_use
    if (aou is not None and -180.5 <= minx and maxx <= 180.5 and -90.5 <= miny and maxy <= 90.5
            and minx <= aou.east + 1 and maxx >= aou.west - 1 and miny <= aou.north + 1 and maxy >= aou.south - 1):
        # read as degrees, the coordinates lie in the CRS's own area: degrees under a projected tag
        raise CRSError(
            f"{where}: coordinates ({minx:.6g}, {miny:.6g}) – ({maxx:.6g}, {maxy:.6g}) look like longitude/latitude "
            f"degrees, but {crs_label(crs)} is projected ({crs.axis_info[0].unit_name if crs.axis_info else 'metres'}): "
            f"the CRS tag is probably wrong; give the real CRS as an override (crs = \"EPSG:4326\" in the run config, "
            f"or ROLE=PATH@EPSG:4326 on the command line)")
    if aou is None:
        return
    try:
        t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon0, lat0, lon1, lat1 = t.transform_bounds(minx, miny, maxx, maxy, densify_pts=11)
    except Exception:
        lon0 = lat0 = lon1 = lat1 = np.inf
    far = 15.0  # degrees of slack: a projection is usable somewhat beyond its nominal area
    if not (np.isfinite([lon0, lat0, lon1, lat1]).all()) or lat1 < aou.south - far or lat0 > aou.north + far or (
            aou.west < aou.east and lon0 <= lon1 and (lon1 < aou.west - far or lon0 > aou.east + far)):
        raise CRSError(
            f"{where}: coordinates ({minx:.6g}, {miny:.6g}) – ({maxx:.6g}, {maxy:.6g}) lie far outside the area of use "
            f"of {crs_label(crs)} ({aou.name}): the CRS tag is probably wrong; give the real CRS as an override "
            f"(crs = \"EPSG:…\" in the run config, or ROLE=PATH@EPSG:XXXX on the command line)")


def repair(geoms: np.ndarray, polygonal: bool) -> tuple[np.ndarray, int]:
    """make_valid the invalid geometries (keeping only polygonal parts for polygon layers)."""
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    n = int(invalid.sum())
    if n:
        fixed = shapely.make_valid(geoms[invalid])
        if polygonal:
            fixed = polygonal_part(fixed)
        geoms = geoms.copy()
        geoms[invalid] = fixed
    return geoms, n


def polygonal_part(geoms: np.ndarray) -> np.ndarray:
    """The polygons of each geometry (collections from make_valid may hold lines and points)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    coll = shapely.get_type_id(geoms) == 7
    if coll.any():
        parts, owner = shapely.get_parts(geoms[coll], return_index=True)
        keep = np.isin(shapely.get_type_id(parts), (3, 6))
        polys, sub = shapely.get_parts(parts[keep], return_index=True)
        owner = owner[keep][sub]
        out = np.full(int(coll.sum()), None, dtype=object)
        if len(polys):
            uniq, inv = np.unique(owner, return_inverse=True)
            out[uniq] = shapely.multipolygons(polys, indices=inv)
        geoms[coll] = out
    return geoms


def load_vector(spec: LayerSpec, run_crs: CRS, bbox_lonlat: tuple | None = None, *, polygonal: bool = True) -> LoadedLayer:
    """Read, check, filter, repair and reproject one vector layer into ``run_crs``."""
    spec = choose_layer(spec)  # recorded with the layer it read, so the manifest and a re-run name it
    gdf, schema, src_crs = read_table(spec, bbox_lonlat)
    where = _where(spec)
    n_read = len(gdf)
    geoms = gdf.geometry.to_numpy() if gdf.geometry.name in gdf else np.full(n_read, None)
    src = to_crs(src_crs, where)
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
    for fld, allowed in spec.where.items():
        if fld not in attrs:
            raise LayerConfigError(f"{where}: filter field {fld!r} is not a field of this layer; fields: {', '.join(attrs.columns)}")
        attrs = attrs[attrs[fld].isin(list(allowed))]
    geoms = geoms[attrs.index.to_numpy()] if len(attrs) != n_read else geoms
    geoms, n_repaired = repair(np.asarray(geoms, dtype=object), polygonal)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    attrs = attrs.reset_index(drop=True)
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=src)).loc[~empty].reset_index(drop=True)
    out["layer"] = spec.label
    if "name" not in out:
        out["name"] = None
    if not src.equals(run_crs):
        out = out.to_crs(run_crs)
    out = _canonical_order(out)
    kind, coverage, states = layer_coverage(spec, schema, run_crs)
    extent = _box_in(total, src, run_crs) if total is not None else None
    log.info("%s: %d features read, %d used, %d repaired", where, n_read, len(out), n_repaired)
    return LoadedLayer(spec=spec, gdf=out, schema=schema, source_crs=src_crs, features_read=n_read,
                       repairs=n_repaired, dropped_empty=int(empty.sum()), coverage=coverage,
                       features_in_file=n_file, extent=extent, coverage_kind=kind, states=states)


def _file_extent(spec: LayerSpec, n_read: int, geoms: np.ndarray) -> tuple[int | None, tuple | None]:
    """(features in the whole file, its total bounds in the source CRS; None when all are null/empty)."""
    if spec.path.suffix.lower() == ".csv":  # read whole
        ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms) if n_read else np.zeros(0, bool)
        return n_read, (tuple(shapely.total_bounds(geoms[ok])) if ok.any() else None)
    try:
        n = _feature_count(spec, str(spec.path))
        if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
            total = _total_bounds(spec)
        else:
            total = _read_info(str(spec.path), spec.layer, _stamp(spec.path), True)["total_bounds"]
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
    names = gdf["name"].fillna("").astype(str).to_numpy(dtype=str)
    order = np.lexsort((shapely.area(g), b[:, 3], b[:, 2], b[:, 1], b[:, 0], names))
    return gdf.iloc[order].reset_index(drop=True)


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


def layer_coverage(spec: LayerSpec, schema: Schema, run_crs: CRS) -> tuple[str, Any, frozenset]:
    """What the layer covers (never its bounding box): (kind, declared polygon in the run CRS or None,
    states). The spec's declared ``coverage`` wins over the definition's; a state extract covers the
    states its features name (a file naming every state is national: global); a definition that
    does not say, with nothing declared, covers no site that is known ("unknown": *no data*).
    See criteria.CoverageCache for the covered fraction of each footprint."""
    where = _where(spec)
    if spec.coverage in SPEC_COVERAGES:
        return spec.coverage, None, frozenset()
    if spec.coverage:
        return "declared", declared_coverage(spec, run_crs), frozenset()
    if schema.coverage == "states":
        states = _file_states(spec, schema, where)
        if is_national(states):
            return "global", None, states
        log.warning("%s: a state extract covering %s: sites recorded in other states, and sites with no "
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
    where = f"{cov.path} (the coverage of {_where(spec)})"
    gdf, _, src_crs = read_table(cov)
    geoms = gdf.geometry.to_numpy()
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if not len(geoms) or not set(shapely.get_type_id(geoms).tolist()) <= {3, 6}:
        raise LayerDataError(f"{where}: a coverage must be polygons (the area the layer covers); "
                             f"this file holds {', '.join(sorted(set(shapely.get_type_id(geoms).astype(str)))) or 'no geometry'}")
    src = to_crs(src_crs, where)
    check_coordinates(shapely.total_bounds(geoms), src, where, len(geoms))
    area = shapely.union_all(repair(np.asarray(geoms, dtype=object), True)[0])
    area = gpd.GeoSeries([area], crs=src).to_crs(run_crs).iloc[0]
    shapely.prepare(area)  # for the checks on the main thread; measuring threads prepare private copies
    return area


def _file_states(spec: LayerSpec, schema: Schema, where: str) -> frozenset:
    """The USPS codes of the states named in the whole file's state field (not only the part read)."""
    columns = _columns(spec, where) if spec.path.suffix.lower() != ".csv" else list(
        pd.read_csv(spec.path, nrows=0, encoding="utf-8").columns)
    by_lower = {c.lower(): c for c in columns}
    field_ = next((by_lower[a.lower()] for a in schema.state_field if a.lower() in by_lower), None)
    if field_ is None:
        return frozenset()
    values = _distinct(str(spec.path), spec.layer, field_, _stamp(spec.path))
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


def _total_bounds(spec: LayerSpec) -> tuple:
    if spec.path.suffix.lower() in (".parquet", ".geoparquet"):
        return tuple(gpd.read_parquet(spec.path, columns=[]).total_bounds)
    info = _read_info(str(spec.path), spec.layer, _stamp(spec.path), True)
    return tuple(info["total_bounds"])

