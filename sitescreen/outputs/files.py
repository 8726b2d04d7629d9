"""Result files: GeoPackage (with a QGIS style), GeoParquet, CSV, manifest, map and report.

An output folder is written whole into a temporary sibling folder and moved into place at the
end, so a failed or killed run never leaves a half-written folder; an existing folder is replaced
only with ``overwrite``, and only when :func:`guard_replace` finds it is an earlier sitescreen
output (or empty) that holds no input of the run.

The temporary folder is locked (``flock``) by the run that writes it for as long as it lives, so
another run on the same output stops with an error and removes a temporary folder only when its
owner is gone. Just before the folder is moved into place, :func:`seal` records the SHA-256 of
every other file in the manifest's ``outputs`` section (``sitescreen verify`` checks them; the
manifest cannot hold its own hash: its facts are checked against a re-run and its recorded paths
against the files hashed). Any failure while writing is an :class:`OutputError` naming the output
folder, never the temporary one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from sitescreen.errors import OutputError, SitescreenError
from sitescreen.values import strict_json
from sitescreen.run import record as runrecord
from sitescreen.run.record import OutputFile, RunRecord

log = logging.getLogger(__name__)

RESULT_FILES = ("sites.gpkg", "sites.parquet", "sites.csv", "manifest.json")
OUTPUT_FILES = RESULT_FILES + ("map.html", "report.html")
#: what ``--overwrite`` may remove: the outputs, and the files SQLite keeps beside an open GeoPackage
REPLACEABLE = frozenset(OUTPUT_FILES + ("sites.gpkg-wal", "sites.gpkg-shm", "sites.gpkg-journal"))
PARTIAL_PREFIX = ".sitescreen-partial-"


@dataclass(frozen=True)
class MapOptions:
    write_map: bool = True
    write_report: bool = True
    self_contained: bool = False
    basemap: str = "osm"


def check_out_dir(out_dir: Path, overwrite: bool, protected=()) -> None:
    """Refuse an output path that cannot be used, before any work is done (``protected``: the
    run's input, config, profile and jobs files, which the output folder must not hold)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: output path exists and is a file, not a folder; choose another output folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputError(f"{out_dir}: output folder exists and is not empty; pass --overwrite to replace it")
    guard_replace(out_dir, protected)
    parent = _real(out_dir).parent
    if not parent.exists():
        raise OutputError(f"{out_dir}: parent folder {parent} does not exist; create it first")
    if not parent.is_dir():
        raise OutputError(f"{out_dir}: {parent} is a file, not a folder; choose another output folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: parent folder {parent} is not writable; choose a writable output folder")
    check_not_busy(out_dir)


def _real(p) -> Path:
    """``p`` with every symlink and ``..`` resolved (whether or not it exists)."""
    return Path(os.path.realpath(os.path.abspath(p)))


def _places(p) -> set[Path]:
    """Where a path is: its target, and the entry itself (a symlink in a folder is in that folder)."""
    a = os.path.abspath(p)
    return {_real(a), _real(os.path.dirname(a)) / os.path.basename(a)}


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


def guard_replace(out_dir: Path, protected=()) -> None:
    """Refuse to let a run replace ``out_dir`` unless it is empty or an earlier sitescreen output
    holding only sitescreen's files, and is none of: a filesystem root, the current directory or
    one of its ancestors, a folder holding (at any depth) or being one of the ``protected`` paths.
    Every path is resolved (symlinks, ``..``) before it is compared."""
    real = guard_never(out_dir, protected)
    if not real.is_dir():
        return
    entries = sorted(e.name for e in real.iterdir())
    if not entries:
        return
    if not is_sitescreen_output(real):
        raise OutputError(f"{out_dir}: not an earlier sitescreen output (no sitescreen manifest.json); --overwrite "
                          f"replaces only such a folder or an empty one; choose another output folder")
    foreign = [e for e in entries if e not in REPLACEABLE or not (real / e).is_file()]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise OutputError(f"{out_dir}: holds {foreign[0]}{more}, which sitescreen did not write; --overwrite replaces "
                          f"only sitescreen's own files ({', '.join(OUTPUT_FILES)}); move it or choose another output folder")


def guard_never(out_dir: Path, protected=()) -> Path:
    """The folders no run ever replaces, whatever they hold: a filesystem root, the current directory
    or one of its ancestors, a folder that is or holds one of ``protected``. Returns ``out_dir``
    resolved."""
    real = _real(out_dir)
    if real.parent == real:
        raise OutputError(f"{out_dir}: is the root of a filesystem; write the results to a new folder in it")
    try:
        cwd = _real(os.getcwd())
    except FileNotFoundError:  # the current directory was removed: nothing there to protect
        cwd = None
    if cwd is not None and (real == cwd or real in cwd.parents):
        raise OutputError(f"{out_dir}: is the current directory{' or holds it' if real != cwd else ''}; "
                          f"an output folder is replaced whole, so write the results to a new folder "
                          f"(e.g. {Path(out_dir) / 'results'})")
    for p in protected:
        if any(q == real or real in q.parents for q in _places(p)):
            raise OutputError(f"{out_dir}: holds {p}, which the run reads; an output folder is replaced whole, "
                              f"so choose one that holds no input, config, profile or jobs file")
    return real


def is_sitescreen_output(folder: Path) -> bool:
    """True when ``folder`` holds a manifest.json written by sitescreen."""
    return runrecord.written_by_sitescreen(Path(folder) / "manifest.json")


WRITE_ERRORS = (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError)


def _write_errors() -> tuple[type[BaseException], ...]:
    try:
        import pyarrow as pa
        return WRITE_ERRORS + (pa.ArrowException,)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return WRITE_ERRORS


def write_error(out_dir: Path, exc: BaseException, staging: Path | None = None) -> OutputError:
    """A failure while writing ``out_dir`` as one line naming ``out_dir`` (never the staging folder)."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or re.search(r"no space left|disk is full|quota exceeded", text, re.I):
        return OutputError(f"{out_dir}: no space left on the device while writing results; nothing was written; "
                           f"free some space or choose another output folder")
    reason = getattr(exc, "strerror", None) or text or type(exc).__name__
    if staging is not None:
        reason = reason.replace(str(staging), str(out_dir))
    reason = " ".join(reason.split())
    return OutputError(f"{out_dir}: cannot write results ({reason}); nothing was written")


@contextmanager
def staged_dir(out_dir: Path, overwrite: bool, protected=()) -> Iterator[Path]:
    """A temporary folder beside ``out_dir``, locked by this process, that replaces it on success
    (after :func:`seal`) and vanishes on failure. A symlinked ``out_dir`` keeps its link: the folder
    it points to is replaced."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite, protected)
    real = _real(out_dir)
    clean_stale(out_dir)
    tmp, lock = _claim(out_dir, real)
    try:
        check_not_busy(out_dir, mine=tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are shared like any folder
        yield tmp
        seal(tmp)
        guard_replace(out_dir, protected)  # again: nothing of the user's arrived there meanwhile
        _swap(tmp, real)
    except SitescreenError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if str(tmp) in str(exc):
            raise type(exc)(str(exc).replace(str(tmp), str(out_dir))) from None
        raise
    except _write_errors() as exc:  # a full disk, a failing device or a failed GDAL/SQLite/Arrow write
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out_dir, exc, tmp) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)


def _claim(out_dir: Path, real: Path) -> tuple[Path, int]:
    """A new temporary sibling of ``real`` named with this process's id (``….pid<N>``) and locked
    by it for the whole run (the lock dies with the process)."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{real.name}-", suffix=f".pid{os.getpid()}",
                                    dir=real.parent))
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create a folder in {real.parent} ({exc.strerror or exc}); "
                          f"choose a writable output folder") from None
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return tmp, fd


def _swap(tmp: Path, real: Path) -> None:
    old = None
    if real.exists():
        old = real.parent / f"{PARTIAL_PREFIX}{real.name}-old-{os.getpid()}"
        os.replace(real, old)
    os.replace(tmp, real)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _siblings(out_dir: Path) -> list[Path]:
    """The temporary siblings of ``out_dir`` (only its own: ".sitescreen-partial-idaho-2-…"
    belongs to "idaho-2", not to "idaho")."""
    real = _real(out_dir)
    parent = real.parent
    mine = re.compile(re.escape(f"{PARTIAL_PREFIX}{real.name}-") + r"(old-\d+|[A-Za-z0-9_]{8}(\.pid\d+|\.new)?)")
    return sorted(p for p in parent.glob(f"{PARTIAL_PREFIX}*") if mine.fullmatch(p.name)) if parent.is_dir() else []


#: A folder younger than this whose named process is alive is being claimed (made, not yet locked).
CLAIM_SECONDS = 60.0


def _owner(folder: Path) -> int | None:
    """The pid of the live run that holds ``folder``, or None when its run is gone."""
    m = re.search(r"\.pid(\d+)$", folder.name)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return int(m.group(1)) if m else -1
    finally:
        os.close(fd)  # closing releases a lock taken here
    if m and _alive(int(m.group(1))):
        try:
            young = time.time() - folder.stat().st_mtime < CLAIM_SECONDS
        except OSError:
            return None
        return int(m.group(1)) if young else None
    return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal
    return stat.rpartition(")")[2].split()[0] != "Z"


def check_not_busy(out_dir: Path, mine: Path | None = None) -> None:
    """Stop when another live sitescreen run is writing ``out_dir``."""
    for p in _siblings(out_dir):
        if p != mine and not p.name.startswith(f"{PARTIAL_PREFIX}{_real(out_dir).name}-old-"):
            pid = _owner(p)
            if pid is not None:
                raise OutputError(f"{out_dir}: is being written by another sitescreen run (pid {pid}); "
                                  f"wait for it to finish or choose another output folder")


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove temporary siblings of ``out_dir`` whose run is gone (killed); return what was removed.
    A folder locked by a live run is left alone."""
    stale = [p for p in _siblings(out_dir) if _owner(p) is None]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def written_manifest(out_dir: Path) -> RunRecord:
    """The run record as written into ``out_dir`` (with its ``outputs`` section)."""
    return runrecord.read_record(Path(out_dir) / "manifest.json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_record(path: Path) -> OutputFile:
    """What the manifest's ``outputs`` section records of one output file."""
    return OutputFile(sha256=_sha256(path), bytes=Path(path).stat().st_size)


def seal(folder: Path) -> None:
    """Record the SHA-256 of every output file of ``folder`` but the manifest in its ``outputs``."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        return
    record = runrecord.read_record(path)
    write_manifest(path, runrecord.with_outputs(record, {
        p.name: output_record(p) for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")}))


def manifest_text(data) -> str:
    """Data as manifest.json writes it: strict JSON (missing → null, ±inf → ±1e999; see
    sitescreen.values). A run record is written by :func:`sitescreen.run.record.to_json`."""
    return strict_json(data, indent=2, ensure_ascii=False) + "\n"


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
        write_manifest(self.folder / "manifest.json", runrecord.as_record(manifest))

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


def write_result_files(sites: gpd.GeoDataFrame, manifest: RunRecord, folder: Path) -> None:
    """sites.gpkg (+ QGIS style), sites.parquet, sites.csv and manifest.json into ``folder``."""
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
        from sitescreen.run.pipeline import display_layers
        layers = display_layers(manifest, sites)
    html = render_map(sites, layers, manifest, self_contained=options.self_contained, basemap=options.basemap)
    atomic_write_text(path, html)
    return path


def write_report(sites, manifest, path: Path) -> Path:
    from sitescreen.outputs.report import build_report
    atomic_write_text(path, build_report(sites, manifest))
    return path


def write_manifest(path: Path, record) -> None:
    """manifest.json, the one place it is written: the run record as strict JSON, atomically."""
    atomic_write_text(path, runrecord.to_json(record))


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None


def rebuilt_output_path(out_dir: Path, output: Path | None, name: str, overwrite: bool) -> Path:
    """Where ``sitescreen map``/``report`` writes: ``output``, or the run folder's own ``name``.
    An existing file is replaced only with ``overwrite`` and only when it is the run folder's own
    ``name`` or an earlier sitescreen HTML file that is none of the run's inputs or other outputs."""
    path = Path(output) if output is not None else Path(out_dir) / name
    if path.exists() and path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    if not path.exists():
        return path
    if not overwrite:
        raise OutputError(f"{path}: exists; pass --overwrite to replace it")
    if _real(path) == _real(Path(out_dir) / name):
        return path
    protected = [Path(out_dir) / f for f in OUTPUT_FILES] + _recorded_inputs(out_dir)
    for p in protected:
        if _real(path) in _places(p):
            raise OutputError(f"{path}: is {p}, a file of the run in {out_dir}; --overwrite replaces only an earlier "
                              f"sitescreen map or report; choose another file name")
    if path.suffix.lower() not in (".html", ".htm") or not _mentions_sitescreen(path):
        raise OutputError(f"{path}: not a map or report written by sitescreen; --overwrite replaces only such an "
                          f"HTML file; choose another file name")
    return path


def _recorded_inputs(out_dir: Path) -> list[Path]:
    try:
        from sitescreen.run.config import config_from_manifest
        return run_paths(config_from_manifest(runrecord.read_record(Path(out_dir) / "manifest.json")))
    except (OSError, ValueError, SitescreenError, KeyError, TypeError):
        return []


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
    own = _real(path.parent) == _real(out_dir) and path.name in OUTPUT_FILES
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


def read_results(out_dir: str | Path) -> tuple[gpd.GeoDataFrame, RunRecord]:
    """The sites and run record of a finished run folder."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: not a sitescreen output folder (does not exist or is not a folder)")
    missing = [f for f in ("sites.parquet", "manifest.json") if not (out_dir / f).exists()]
    if missing:
        raise OutputError(f"{out_dir}: not a sitescreen output folder: {', '.join(missing)} missing")
    manifest = runrecord.read_record(out_dir / "manifest.json")
    try:
        sites = gpd.read_parquet(out_dir / "sites.parquet")
    except Exception as exc:
        raise OutputError(f"{out_dir / 'sites.parquet'}: cannot read: {exc}") from None
    return sites, manifest


__all__ = ["MapOptions", "write_outputs", "write_into", "read_results", "write_map", "write_report", "staged_dir",
           "check_out_dir", "guard_replace", "run_paths", "seal", "write_rebuilt", "rebuilt_output_path",
           "manifest_text", "RESULT_FILES", "OUTPUT_FILES"]
