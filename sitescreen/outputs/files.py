"""Result files: GeoPackage (with a QGIS style), GeoParquet, CSV, manifest, map and report.

Every output of a run is written into a staged folder (:func:`sitescreen.outputs.staging.staged_dir`:
the output folder's guard, lock and staging), which replaces the output folder whole at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from sitescreen.errors import OutputError, SitescreenError
from sitescreen.values import strict_json
from sitescreen.record import manifest as runrecord
from sitescreen.record.manifest import OutputFile, RunRecord
from sitescreen.outputs.staging import MERGES_FILE, OUTPUT_FILES, atomic_write_text, places, resolved, sha256, staged_dir, write_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapOptions:
    write_map: bool = True
    write_report: bool = True
    self_contained: bool = True   # a map that opens with no network; False: Leaflet from a CDN
    basemap: str = "osm"


def run_paths(config) -> list[Path]:
    """The files a run reads: sites, layers, the area-of-interest file, the config and profile files."""
    from sitescreen.rules.profile import builtin_profiles
    paths = [Path(p) for p in config.all_paths()]
    aoi = getattr(config.site_options, "aoi", None)
    if isinstance(aoi, (str, Path)):
        paths.append(Path(aoi))
    if config.config_path:
        paths.append(Path(config.config_path))
    if str(config.profile) not in builtin_profiles():
        paths.append(Path(str(config.profile)))
    return paths


def written_manifest(out_dir: Path) -> RunRecord:
    """The run record as written into ``out_dir`` (with its ``outputs`` section)."""
    return runrecord.read_record(Path(out_dir) / "manifest.json")


def manifest_text(data) -> str:
    """Data as manifest.json writes it: strict JSON (missing → null, ±inf → ±1e999; see
    sitescreen.values). A run record is written by :func:`sitescreen.record.manifest.to_json`."""
    return strict_json(data, indent=2, ensure_ascii=False) + "\n"


def tabular(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """The attribute table with lon/lat of each footprint's centroid (for CSV; a zoned run's footprints,
    in lon/lat, have theirs taken there: within 1e-7° of their zone's for footprints of a few km)."""
    c = gpd.GeoSeries(shapely.centroid(sites.geometry.to_numpy()), crs=sites.crs).to_crs(4326)
    df = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    df.insert(4, "lon", np.round(c.x.to_numpy(), 6))
    df.insert(5, "lat", np.round(c.y.to_numpy(), 6))
    return df


NO_BOUNDS = np.array([np.inf, np.inf, -np.inf, -np.inf])

#: The GeoPackage version written: 1.2, which every GDAL from 2.2 on (QGIS 3.x; Debian 12's GDAL 3.6)
#: fully supports (GDAL 3.6 warns that the default of newer GDALs, 1.4, "may only be partially supported").
GPKG_VERSION = "1.2"


def union_bounds(a: np.ndarray, b) -> np.ndarray:
    """The (minx, miny, maxx, maxy) box around two boxes (start from :data:`NO_BOUNDS`)."""
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


class ResultWriter:
    """sites.gpkg, sites.parquet and sites.csv (with its sites.csvt) written piece by piece: a whole run's sites in one
    :meth:`append`, or a streamed run's chunks one after another (memory bounded by the chunk).

    :meth:`close` completes the GeoParquet metadata (bbox and geometry types of every piece), adds
    the QGIS style to the GeoPackage and writes manifest.json.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.rows = 0
        self._started = False
        self._parquet = None
        self._csv = None
        self._schemas: dict[str, object] = {}
        self._geo: dict | None = None
        self._bounds = NO_BOUNDS
        self._types: set[str] = set()

    def _typed(self, key: str, table):
        """``table`` in the types of the first piece (columns empty in that piece are text)."""
        import pyarrow as pa
        if key not in self._schemas:
            fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
            self._schemas[key] = pa.schema(fields, metadata=table.schema.metadata)
        return table.cast(self._schemas[key])

    def append(self, sites: gpd.GeoDataFrame) -> None:
        import pyarrow.csv as pc
        import pyarrow.parquet as pq
        from geopandas.io.arrow import _geopandas_to_arrow
        first = not self._started
        self._started = True
        version = {"dataset_options": {"VERSION": GPKG_VERSION}} if first else {}
        pyogrio.write_dataframe(sites, self.folder / "sites.gpkg", layer="sites", driver="GPKG", use_arrow=True,
                                append=not first, **version)
        table = self._typed("parquet", _geopandas_to_arrow(sites, index=False))
        if first:
            self._geo = json.loads(table.schema.metadata[b"geo"])
            self._parquet = pq.ParquetWriter(self.folder / "sites.parquet", table.schema)
        self._parquet.write_table(table)
        if len(sites):
            self._bounds = union_bounds(self._bounds, sites.total_bounds)
            self._types |= set(sites.geom_type.dropna().unique())
        rows = self._typed("csv", csv_table(sites))
        if first:
            self._csv = pc.CSVWriter(self.folder / "sites.csv", rows.schema)
            atomic_write_text(self.folder / "sites.csvt", csvt_text(rows.schema))
        self._csv.write_table(rows)
        self.rows += len(sites)

    def close(self, manifest: RunRecord) -> None:
        if self._parquet is not None:
            col = self._geo["columns"][self._geo["primary_column"]]
            col["geometry_types"] = sorted(self._types)
            if self.rows:
                col["bbox"] = [float(v) for v in self._bounds]
            self._parquet.add_key_value_metadata({"geo": json.dumps(self._geo)})
            self.abort()
            try:
                from sitescreen.outputs.qgis import write_qgis_style
                write_qgis_style(self.folder / "sites.gpkg", layer="sites")
            except ImportError:  # pragma: no cover - module is part of the package
                log.warning("QGIS style module missing; sites.gpkg written without a style")
        record = runrecord.as_record(manifest)
        if record.sites.merges:
            atomic_write_text(self.folder / MERGES_FILE, merges_csv_text(record))
        write_manifest(self.folder / "manifest.json", record)

    def abort(self) -> None:
        for name in ("_parquet", "_csv"):
            w = getattr(self, name)
            if w is not None:
                w.close()
                setattr(self, name, None)


def merges_csv_text(record: RunRecord) -> str:
    """merges.csv: every merge of duplicate records, one link a row, as the manifest's
    ``sites.merges`` records it (site_id, record_a, name_a, record_b, name_b, distance_m,
    name_similarity, rule)."""
    from dataclasses import asdict
    rows = [asdict(m) for m in record.sites.merges or ()]
    return pd.DataFrame(rows, columns=[f.name for f in runrecord.MergeRecord.__dataclass_fields__.values()]).to_csv(index=False)


def csv_table(sites: gpd.GeoDataFrame):
    """The rows of sites.csv (:func:`tabular`) as an Arrow table (written by Arrow's CSV writer:
    text quoted, numbers in their shortest exact form, no data empty)."""
    import pyarrow as pa
    return pa.Table.from_pandas(tabular(sites), preserve_index=False)


def _csvt_type(t) -> str:
    """The CSVT type of one Arrow column type, in the words both GDAL and QGIS 3.22's delimited-text
    reader accept (that reader drops a whole sidecar naming ``Integer64`` or ``Integer(Boolean)``):
    a 64-bit integer is ``Real`` (exact to 2^53), a boolean ``String`` (``true``/``false``)."""
    import pyarrow as pa
    if pa.types.is_integer(t):
        narrow = t.bit_width < 32 or (t.bit_width == 32 and pa.types.is_signed_integer(t))
        return "Integer" if narrow else "Real"
    if pa.types.is_floating(t):
        return "Real"
    if pa.types.is_date(t):
        return "Date"
    if pa.types.is_timestamp(t):
        return "DateTime"
    return "String"


def csvt_text(schema) -> str:
    """sites.csvt, the sidecar that tells GDAL and QGIS each column's type in sites.csv (one line of
    quoted types), from the Arrow schema the CSV is written with: ids and codes stay text, numbers
    are numbers, a column empty in the first piece is text, as in the CSV."""
    return ",".join(f'"{_csvt_type(f.type)}"' for f in schema) + "\n"


def csv_text(sites: gpd.GeoDataFrame) -> str:
    """sites.csv as written for ``sites``, as text."""
    import pyarrow as pa
    import pyarrow.csv as pc
    buf = pa.BufferOutputStream()
    pc.write_csv(csv_table(sites), buf)
    return buf.getvalue().to_pybytes().decode("utf-8")


def write_result_files(sites: gpd.GeoDataFrame, manifest: RunRecord, folder: Path) -> None:
    """sites.gpkg (+ QGIS style), sites.parquet, sites.csv (+ sites.csvt) and manifest.json into ``folder``."""
    writer = ResultWriter(folder)
    try:
        writer.append(sites)
        writer.close(manifest)
    finally:
        writer.abort()


def write_outputs(result, out_dir: str | Path, *, overwrite: bool = False, options: MapOptions = MapOptions(),
                  protected=()) -> Path:
    """Write every output of a screening into ``out_dir`` atomically; return the folder.
    ``protected``: files the folder must not hold (:func:`run_paths` of the run is added)."""
    out_dir = Path(out_dir)
    prep = getattr(result, "prepared", None)
    protected = [*protected, *(run_paths(prep.config) if prep is not None else [])]
    with staged_dir(out_dir, overwrite, protected) as tmp:
        write_into(result, tmp, options)
    return out_dir


def write_into(result, folder: Path, options: MapOptions = MapOptions()) -> None:
    """Every output of a screening into ``folder`` (a staged folder: see :func:`staged_dir`)."""
    write_result_files(result.sites, result.manifest, folder)
    if options.write_map:
        write_map(result.sites, result.manifest, folder / "map.html", options, layers=_loaded_display(result))
    if options.write_report:
        write_report(result.sites, result.manifest, folder / "report.html")


def _loaded_display(result):
    prep = getattr(result, "prepared", None)
    if prep is None:
        return None
    from sitescreen.outputs.mapping import DisplayLayer
    return [DisplayLayer(name=lyr.spec.label, role=lyr.spec.role, gdf=lyr.gdf) for lyr in prep.inputs.vectors]


def write_map(sites, manifest, path: Path, options: MapOptions, layers=None) -> Path:
    from sitescreen.outputs.mapping import render_map
    if layers is None:
        from sitescreen.outputs.maplayers import display_layers
        layers = display_layers(manifest, sites)
    html = render_map(sites, layers, manifest, self_contained=options.self_contained, basemap=options.basemap)
    atomic_write_text(path, html)
    return path


def write_report(sites, manifest, path: Path) -> Path:
    from sitescreen.outputs.report import build_report
    atomic_write_text(path, build_report(sites, manifest))
    return path


def rebuilt_output_path(out_dir: Path, output: Path | None, name: str, overwrite: bool,
                        inputs: Sequence[Path] = ()) -> Path:
    """Where ``sitescreen map``/``report`` writes: ``output``, or the run folder's own ``name``.
    The run folder's own ``name`` is rebuilt in place when it is still the run's own page
    (:func:`_runs_own_page`); any other existing file is replaced only with ``overwrite`` and only
    when it is the run folder's own ``name`` or an earlier sitescreen HTML file that is none of the
    run's ``inputs`` or other outputs."""
    path = Path(output) if output is not None else Path(out_dir) / name
    if path.exists() and path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    if not path.exists():
        return path
    own = resolved(path) == resolved(Path(out_dir) / name)
    if not overwrite:
        if own and _runs_own_page(Path(out_dir), path):
            return path
        changed = " and changed since the run wrote it" if own and _recorded_output(Path(out_dir), path.name) else ""
        raise OutputError(f"{path}: exists{changed}; pass --overwrite to replace it")
    if own:
        return path
    protected = [Path(out_dir) / f for f in OUTPUT_FILES] + list(inputs)
    for p in protected:
        if resolved(path) in places(p):
            raise OutputError(f"{path}: is {p}, a file of the run in {out_dir}; --overwrite replaces only an earlier "
                              f"sitescreen map or report; choose another file name")
    if path.suffix.lower() not in (".html", ".htm") or not _mentions_sitescreen(path):
        raise OutputError(f"{path}: not a map or report written by sitescreen; --overwrite replaces only such an "
                          f"HTML file; choose another file name")
    return path


def _recorded_outputs(out_dir: Path) -> dict | None:
    """The manifest's ``outputs`` (name → entry); None when it records none (schema 1) or cannot be read."""
    try:
        return runrecord.read_record(out_dir / "manifest.json").outputs
    except (OSError, ValueError, SitescreenError, KeyError, TypeError):
        return None


def _recorded_output(out_dir: Path, name: str):
    return (_recorded_outputs(out_dir) or {}).get(name)


def _runs_own_page(out_dir: Path, path: Path) -> bool:
    """True when ``path`` (the run folder's own map or report) is what the run or an earlier rebuild
    wrote: its SHA-256 is the one the manifest's ``outputs`` records; a manifest that records no
    outputs (schema 1) has only the file's word for it: a page naming sitescreen."""
    outputs = _recorded_outputs(out_dir)
    if outputs is None:
        return (out_dir / "manifest.json").is_file() and _mentions_sitescreen(path)
    entry = outputs.get(path.name)
    return entry is not None and sha256(path) == entry.sha256


def _mentions_sitescreen(path: Path) -> bool:
    """True when the file names sitescreen anywhere (read in pieces: maps run to many megabytes)."""
    word, last = b"sitescreen", b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if word in last + chunk:
                return True
            last = chunk[-len(word):]
    return False


def write_rebuilt(out_dir: Path, path: Path, text: str) -> Path:
    """Write a rebuilt map or report to ``path``; when it is the run folder's own file, its SHA-256
    in the manifest's ``outputs`` is updated too (the file and the record are each replaced
    atomically; the record first, so an interruption shows up in ``verify``, never passes it)."""
    out_dir, path = Path(out_dir), Path(path)
    own = resolved(path.parent) == resolved(out_dir) and path.name in OUTPUT_FILES
    manifest_path = out_dir / "manifest.json"
    if not own or not manifest_path.is_file():
        atomic_write_text(path, text)
        return path
    data = text.encode("utf-8")
    record = runrecord.read_record(manifest_path)
    if record.outputs is not None:
        entry = OutputFile(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
        write_manifest(manifest_path, runrecord.with_outputs(record, {**record.outputs, path.name: entry}))
    atomic_write_text(path, text)
    return path


def read_results(out_dir: str | Path, columns=None) -> tuple[gpd.GeoDataFrame, RunRecord]:
    """The sites and run record of a finished run folder; with ``columns`` (record → column names),
    only those of the columns that sites.parquet holds, as a plain frame (no geometry read)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a sitescreen output folder (does not exist or is not a folder)")
    missing = [f for f in ("sites.parquet", "manifest.json") if not (out_dir / f).exists()]
    if missing:
        raise OutputError(f"{out_dir}: not a sitescreen output folder: {', '.join(missing)} missing")
    manifest = runrecord.read_record(out_dir / "manifest.json")
    try:
        sites = gpd.read_parquet(out_dir / "sites.parquet") if columns is None else _columns(out_dir, columns(manifest))
    except Exception as exc:
        raise OutputError(f"{out_dir / 'sites.parquet'}: cannot read: {exc}") from None
    return sites, manifest


def _columns(out_dir: Path, names: Sequence[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq
    have = set(pq.read_schema(out_dir / "sites.parquet").names)
    return pd.read_parquet(out_dir / "sites.parquet", columns=[c for c in dict.fromkeys(names) if c in have])


__all__ = ["MapOptions", "write_outputs", "write_into", "read_results", "write_map", "write_report", "run_paths",
           "write_rebuilt", "rebuilt_output_path", "manifest_text", "csvt_text", "GPKG_VERSION"]
