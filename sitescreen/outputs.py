"""Result files: GeoPackage (with a QGIS style), GeoParquet, CSV, manifest, map and report.

An output folder is written whole into a temporary sibling folder and moved into place at the
end, so a failed or killed run never leaves a half-written folder; an existing folder is replaced
only with ``overwrite``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from .errors import OutputError, SitescreenError
from .values import strict_json

log = logging.getLogger(__name__)

RESULT_FILES = ("sites.gpkg", "sites.parquet", "sites.csv", "manifest.json")
PARTIAL_PREFIX = ".sitescreen-partial-"


@dataclass(frozen=True)
class MapOptions:
    write_map: bool = True
    write_report: bool = True
    self_contained: bool = False
    basemap: str = "osm"


def check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse an output path that cannot be used, before any work is done."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: output path exists and is a file, not a folder; choose another output folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputError(f"{out_dir}: output folder exists and is not empty; pass --overwrite to replace it")
    parent = out_dir.resolve().parent
    if not parent.exists():
        raise OutputError(f"{out_dir}: parent folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise OutputError(f"{out_dir}: {parent} is a file, not a folder; choose another output folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: parent folder {parent} is not writable; choose a writable output folder")


@contextmanager
def staged_dir(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` that replaces it on success and vanishes on failure."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite)
    parent = out_dir.resolve().parent
    clean_stale(out_dir)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{out_dir.name}-", dir=parent))
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create a folder in {parent} ({exc.strerror or exc}); "
                          f"choose a writable output folder") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are shared like any folder
        yield tmp
        old = None
        if out_dir.exists():
            old = parent / f"{PARTIAL_PREFIX}{out_dir.name}-old-{os.getpid()}"
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC or "no space left" in str(exc).lower():
            raise OutputError(f"{out_dir}: no space left on the device while writing results; nothing was written") from None
        raise OutputError(f"{out_dir}: cannot write results ({exc.strerror or exc}); nothing was written") from None
    except pyogrio.errors.DataSourceError as exc:  # GDAL reports a failed write (a full disk too) this way
        shutil.rmtree(tmp, ignore_errors=True)
        if "no space left" in str(exc).lower():
            raise OutputError(f"{out_dir}: no space left on the device while writing results; nothing was written") from None
        raise OutputError(f"{out_dir}: cannot write results ({exc}); nothing was written") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove temporary siblings of ``out_dir`` left by a killed run; return what was removed."""
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    # only this folder's siblings: ".sitescreen-partial-idaho-2-…" belongs to "idaho-2", not to "idaho"
    mine = re.compile(re.escape(f"{PARTIAL_PREFIX}{out_dir.name}-") + r"(old-\d+|[A-Za-z0-9_]{8})")
    stale = sorted(p for p in parent.glob(f"{PARTIAL_PREFIX}*") if mine.fullmatch(p.name)) if parent.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def manifest_text(manifest: dict) -> str:
    """manifest.json's text: strict JSON (missing → null, ±inf → ±1e999; see sitescreen.values)."""
    return strict_json(manifest, indent=2, ensure_ascii=False) + "\n"


def tabular(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """The attribute table with lon/lat of each footprint's centroid (for CSV)."""
    c = sites.geometry.centroid.to_crs(4326)
    df = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    df.insert(4, "lon", np.round(c.x.to_numpy(), 6))
    df.insert(5, "lat", np.round(c.y.to_numpy(), 6))
    return df


NO_BOUNDS = np.array([np.inf, np.inf, -np.inf, -np.inf])


def union_bounds(a: np.ndarray, b) -> np.ndarray:
    """The (minx, miny, maxx, maxy) box around two boxes (start from :data:`NO_BOUNDS`)."""
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


class ResultWriter:
    """sites.gpkg, sites.parquet and sites.csv written piece by piece: a whole run's sites in one
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
        pyogrio.write_dataframe(sites, self.folder / "sites.gpkg", layer="sites", driver="GPKG", use_arrow=True,
                                append=not first)
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
        self._csv.write_table(rows)
        self.rows += len(sites)

    def close(self, manifest: dict) -> None:
        if self._parquet is not None:
            col = self._geo["columns"][self._geo["primary_column"]]
            col["geometry_types"] = sorted(self._types)
            if self.rows:
                col["bbox"] = [float(v) for v in self._bounds]
            self._parquet.add_key_value_metadata({"geo": json.dumps(self._geo)})
            self.abort()
            try:
                from .qgis import write_qgis_style
                write_qgis_style(self.folder / "sites.gpkg", layer="sites")
            except ImportError:  # pragma: no cover - module is part of the package
                log.warning("QGIS style module missing; sites.gpkg written without a style")
        (self.folder / "manifest.json").write_text(manifest_text(manifest), encoding="utf-8")

    def abort(self) -> None:
        for name in ("_parquet", "_csv"):
            w = getattr(self, name)
            if w is not None:
                w.close()
                setattr(self, name, None)


def csv_table(sites: gpd.GeoDataFrame):
    """The rows of sites.csv (:func:`tabular`) as an Arrow table (written by Arrow's CSV writer:
    text quoted, numbers in their shortest exact form, no data empty)."""
    import pyarrow as pa
    return pa.Table.from_pandas(tabular(sites), preserve_index=False)


def csv_text(sites: gpd.GeoDataFrame) -> str:
    """sites.csv as written for ``sites``, as text."""
    import pyarrow as pa
    import pyarrow.csv as pc
    buf = pa.BufferOutputStream()
    pc.write_csv(csv_table(sites), buf)
    return buf.getvalue().to_pybytes().decode("utf-8")


def write_result_files(sites: gpd.GeoDataFrame, manifest: dict, folder: Path) -> None:
    """sites.gpkg (+ QGIS style), sites.parquet, sites.csv and manifest.json into ``folder``."""
    writer = ResultWriter(folder)
    try:
        writer.append(sites)
        writer.close(manifest)
    finally:
        writer.abort()


def write_outputs(result, out_dir: str | Path, *, overwrite: bool = False, options: MapOptions = MapOptions()) -> Path:
    """Write every output of a screening into ``out_dir`` atomically; return the folder."""
    out_dir = Path(out_dir)
    with staged_dir(out_dir, overwrite) as tmp:
        write_result_files(result.sites, result.manifest, tmp)
        if options.write_map:
            write_map(result.sites, result.manifest, tmp / "map.html", options, layers=_loaded_display(result))
        if options.write_report:
            write_report(result.sites, result.manifest, tmp / "report.html")
    return out_dir


def _loaded_display(result):
    prep = getattr(result, "prepared", None)
    if prep is None:
        return None
    from .mapping import DisplayLayer
    return [DisplayLayer(name=lyr.spec.label, role=lyr.spec.role, gdf=lyr.gdf) for lyr in prep.inputs.vectors]


def write_map(sites, manifest, path: Path, options: MapOptions, layers=None) -> Path:
    from .mapping import render_map
    if layers is None:
        from .pipeline import display_layers
        layers = display_layers(manifest, sites)
    html = render_map(sites, layers, manifest, self_contained=options.self_contained, basemap=options.basemap)
    atomic_write_text(path, html)
    return path


def write_report(sites, manifest, path: Path) -> Path:
    from .report import build_report
    atomic_write_text(path, build_report(sites, manifest))
    return path


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def read_results(out_dir: str | Path) -> tuple[gpd.GeoDataFrame, dict]:
    """The sites and manifest of a finished run folder."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a sitescreen output folder (does not exist or is not a folder)")
    missing = [f for f in ("sites.parquet", "manifest.json") if not (out_dir / f).exists()]
    if missing:
        raise OutputError(f"{out_dir}: not a sitescreen output folder: {', '.join(missing)} missing")
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OutputError(f"{out_dir / 'manifest.json'}: not valid JSON: {exc}") from None
    try:
        sites = gpd.read_parquet(out_dir / "sites.parquet")
    except Exception as exc:
        raise OutputError(f"{out_dir / 'sites.parquet'}: cannot read: {exc}") from None
    return sites, manifest


__all__ = ["MapOptions", "write_outputs", "read_results", "write_map", "write_report", "staged_dir",
           "check_out_dir", "manifest_text", "RESULT_FILES", "SitescreenError"]
