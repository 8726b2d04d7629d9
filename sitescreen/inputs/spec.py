"""What a layer is: :class:`LayerSpec`, parsed from ``--layer ROLE=PATH[:LAYER][@CRS]`` or a run
config's ``[[layers]]`` table, and whether its file is a raster."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from sitescreen.errors import LayerConfigError
from sitescreen.inputs.tomlfile import check_keys
from sitescreen.inputs.numbers import check_number
from sitescreen.inputs.schemas import Schema, known_schemas, schema_from_dict


RASTER_SUFFIXES = (".tif", ".tiff", ".geotiff", ".gtiff", ".gtif", ".vrt", ".img", ".asc")


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, either byte order


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
    band: int | None = None            # a raster's band; None: the only one (several: an error)
    skip_invalid: bool = False         # CSV rows whose WKT does not parse are skipped, not an error
    coverage: str | None = None        # declared coverage: a polygon file, or "global" / "features"
    layers: tuple[str, ...] = ()       # several layers of one file read as one (named by a definition)

    @property
    def kind(self) -> str:
        return "raster" if is_raster(self.path) else "vector"

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.layers:
            return " + ".join(self.layers)
        return self.layer if self.layer else self.path.stem


def is_raster(path: Path) -> bool:
    """A raster by its suffix, or for a suffix no list names, by its first bytes (a TIFF); a folder
    (a FileGDB) is a vector source."""
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
    check_keys(data, sorted(allowed), where, LayerConfigError)
    for key in ("role", "path"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise LayerConfigError(f"{where}: '{key}' is required (a string)")
    for key in ("layer", "name", "crs"):
        if key in data and not isinstance(data[key], str) and not (key == "layer" and _names(data[key])):
            raise LayerConfigError(f"{where}: {key} must be a string{' (or a list of layer names)' if key == 'layer' else ''}, "
                                   f"got {data[key]!r}")
    definition = None
    if "definition" in data:
        definition = schema_from_dict(data["definition"], f"{where}.definition")
    schema = data.get("schema")
    if schema is not None and schema not in known_schemas():
        raise LayerConfigError(f"{where}: schema {schema!r} is not a known layer definition; known: {', '.join(known_schemas())}")
    path = Path(data["path"])
    band = check_number("band", data["band"], where=where, error=LayerConfigError) if "band" in data else None
    if band is not None and not is_raster(path if path.is_absolute() else base / path):
        raise LayerConfigError(f"{where}: 'band' is only for a raster layer, and {data['path']} is not a raster; "
                               f"remove band (a vector file's layer is named with layer = \"LAYER\")")
    coverage = data.get("coverage")
    if coverage is not None and (not isinstance(coverage, str) or not coverage):
        raise LayerConfigError(f"{where}: 'coverage' must be a polygon file or one of {', '.join(SPEC_COVERAGES)}")
    if coverage is not None and coverage not in SPEC_COVERAGES and not Path(coverage).is_absolute():
        coverage = str(base / coverage)
    layer = data.get("layer")
    many = tuple(layer) if isinstance(layer, list) and len(layer) > 1 else ()
    return LayerSpec(
        role=data["role"], path=path if path.is_absolute() else base / path,
        layer=None if many else (layer[0] if isinstance(layer, list) else layer), layers=many,
        name=data.get("name"), schema=schema, definition=definition, crs=data.get("crs"),
        where=parse_where(data.get("where", {}), where), band=band,
        coverage=coverage,
    )


def _names(value: Any) -> bool:
    """A list of layer names (several layers of one file read as one: ``layer = ["A", "B"]``)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def check_layer_set(specs, advice: str) -> None:
    """Refuse layers that would be measured twice or one of them silently: one file (and layer) given
    twice for a role (its features would count twice), or two rasters for a role (a raster criterion
    reads one). ``advice``: where the layers were given, for the message."""
    seen: dict[tuple, LayerSpec] = {}
    rasters: dict[str, LayerSpec] = {}
    for spec in specs:
        key = (spec.role, Path(spec.path).resolve(), spec.layer, tuple(sorted(spec.where.items())))
        if key in seen:
            raise LayerConfigError(f"{spec.path}: given twice for role {spec.role!r}{advice}; its features would "
                                   f"count twice: give it once")
        seen[key] = spec
        if spec.kind == "raster":
            if spec.role in rasters:
                raise LayerConfigError(f"{spec.path}: a second raster for role {spec.role!r} (the first is "
                                       f"{rasters[spec.role].path}){advice}; a raster criterion reads one raster: "
                                       f"give one (mosaic them first, e.g. gdalbuildvrt)")
            rasters[spec.role] = spec


#: What a layer's ``coverage`` key may say besides a polygon file's path.
SPEC_COVERAGES = ("global", "features")


def parse_where(data: Mapping[str, Any], where: str) -> dict[str, tuple]:
    if not isinstance(data, Mapping):
        raise LayerConfigError(f"{where}: 'where' must be a table of field = [allowed values]")
    return {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in data.items()}


def layer_advice(role: str, config_path: str | None = None, *, replace: bool = False) -> str:
    """How to give (or, with ``replace``, correct) a layer of ``role``, in the user's own terms: the
    run config's ``[[layers]]`` table when the run came from ``config_path``, else the ``--layer`` flag."""
    if config_path:
        if replace:
            return f"change the path of the [[layers]] table with role = \"{role}\" in {config_path}"
        return f"add a [[layers]] table with role = \"{role}\" and its path to {config_path}"
    return f"give the right file with --layer {role}=PATH" if replace else f"give one with --layer {role}=PATH"


def field_advice(field: str, config_path: str | None = None) -> str:
    """How to say which column of a layer holds the canonical ``field``: its ``[[layers]]`` table's
    definition in the run config (a ``--layer`` flag cannot carry one)."""
    mapping = f"definition = {{ fields = {{ {field} = \"COLUMN\" }} }}"
    if config_path:
        return f"map it in that [[layers]] table of {config_path} with {mapping}"
    return f"give the layer in a run config with {mapping}"
