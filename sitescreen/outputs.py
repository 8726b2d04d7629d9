"""Result files: GeoPackage (with a QGIS style), GeoParquet, CSV, manifest, map and report.

An output folder is written whole into a temporary sibling folder and moved into place at the
end, so a failed or killed run never leaves a half-written folder; an existing folder is replaced
only with ``overwrite``.
"""

from __future__ import annotations

import errno
import json
import logging
import math
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
        if exc.errno == errno.ENOSPC:
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


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, default=_json_default, allow_nan=False) + "\n"


def tabular(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """The attribute table with lon/lat of each footprint's centroid (for CSV)."""
    c = sites.geometry.centroid.to_crs(4326)
    df = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    df.insert(4, "lon", np.round(c.x.to_numpy(), 6))
    df.insert(5, "lat", np.round(c.y.to_numpy(), 6))
    return df


def write_result_files(sites: gpd.GeoDataFrame, manifest: dict, folder: Path) -> None:
    """sites.gpkg (+ QGIS style), sites.parquet, sites.csv and manifest.json into ``folder``."""
    gdf = sites.copy()
    pyogrio.write_dataframe(gdf, folder / "sites.gpkg", layer="sites", driver="GPKG", use_arrow=True)
    try:
        from .qgis import write_qgis_style
        write_qgis_style(folder / "sites.gpkg", layer="sites")
    except ImportError:  # pragma: no cover - module is part of the package
        log.warning("QGIS style module missing; sites.gpkg written without a style")
    gdf.to_parquet(folder / "sites.parquet", index=False)
    tabular(gdf).to_csv(folder / "sites.csv", index=False)
    (folder / "manifest.json").write_text(manifest_text(manifest), encoding="utf-8")


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
