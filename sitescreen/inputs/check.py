"""Checks on input files and their content: paths (and files that are not read), a shapefile's parts,
text encodings, mapped fields, coordinates against their CRS; geometry repairs; file hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.inputs.crs import crs_label
from sitescreen.inputs.schemas import Schema


#: Files people give that are not read, and what to do instead.
NOT_READ = {".xlsx": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".xls": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".ods": "a spreadsheet: export the sheet as CSV (UTF-8) with a WKT column or lon/lat columns",
            ".dbf": "the attribute table of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)",
            ".shx": "the index of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)",
            ".prj": "the CRS of a shapefile: give the .shp file (with its .shx, .dbf and .prj beside it)"}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of all files of a Shapefile set (sorted by name)."""
    h = hashlib.sha256()
    for p in companion_files(path):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def companion_files(path: Path) -> list[Path]:
    """The files that make up one input: a shapefile's parts, a FileGDB folder's files, or the file."""
    if is_filegdb(path):
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.lower().endswith(".lock"))
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*")
                      if p.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg"))
    return [path]


#: The system catalog every FileGDB folder holds (GDAL's OpenFileGDB driver reads it first).
FILEGDB_CATALOG = "a00000001.gdbtable"


def is_filegdb(path: Path) -> bool:
    """A FileGDB: a folder named ``*.gdb`` (Esri File Geodatabase, read by GDAL's OpenFileGDB)."""
    return path.suffix.lower() == ".gdb" and path.is_dir()


def file_modified(path: Path) -> float:
    """When an input was last modified (POSIX seconds): a FileGDB folder by its newest file."""
    if is_filegdb(path):
        return max((p.stat().st_mtime for p in companion_files(path)), default=path.stat().st_mtime)
    return path.stat().st_mtime


def check_folder(path: Path, what: str) -> None:
    """A folder is an input only as a FileGDB (``name.gdb/`` holding its catalog table)."""
    if path.suffix.lower() != ".gdb":
        shp = sorted(p.name for p in path.iterdir() if p.suffix.lower() == ".shp")
        held = f" (it holds the shapefiles {', '.join(shp[:5])}: give one of them, e.g. {path / shp[0]})" if shp else ""
        raise LayerDataError(f"{path}: {what} is a directory, expected a file (or a FileGDB: a folder whose "
                             f"name ends in .gdb){held or ': give the file inside it, or the .gdb folder'}")
    if not (path / FILEGDB_CATALOG).is_file():
        raise LayerDataError(f"{path}: {what} is a folder named .gdb but not a FileGDB (it has no "
                             f"{FILEGDB_CATALOG}, the geodatabase's catalog): copy the whole .gdb folder "
                             f"again, or give the file the data is in")


def check_path(path: Path, what: str) -> None:
    if not path.exists():
        raise LayerDataError(f"{path}: {what} file not found; check the path")
    if path.is_dir():
        check_folder(path, what)
    if not os.access(path, os.R_OK):
        raise LayerDataError(f"{path}: {what} file is not readable (permissions)")
    hint = NOT_READ.get(path.suffix.lower())
    if hint:  # GDAL opens some of these (a .dbf as a table without geometry): refuse them by name
        raise LayerDataError(f"{path}: {what} is not a file sitescreen reads: this is {hint}")


def check_text(gdf: pd.DataFrame, where: str) -> None:
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


def check_shapefile(path: Path, where: str) -> None:
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


def check_mapped_fields(schema: Schema, columns: list[str], where: str) -> None:
    """Every field a definition maps exists in the file (checked before a read of only those fields)."""
    lower = {c.lower() for c in columns}
    wanted = [(alts, f"mapped to {canon!r}") for canon, alts in schema.fields.items() if canon not in schema.optional]
    wanted += [((r.source,), f"recoded to {canon!r}") for canon, r in schema.values.items() if r.value is None and r.source]
    for alts, what in wanted:
        if not any(a.lower() in lower for a in alts):
            raise LayerConfigError(
                f"{where}: field {' or '.join(repr(a) for a in alts)} ({what}) not found; "
                f"fields present: {', '.join(map(str, columns)) or 'none'}")


_FINITE_CHUNK = 50_000  # geometries whose coordinates check_finite looks at together


def check_finite(geoms: np.ndarray, where: str, first: int | None = 1, unit: str = "record") -> None:
    """Refuse geometries with a coordinate that is not a finite number (``1e400`` overflows to
    infinity, ``nan``): measured, they would give wrong numbers or none. ``first`` is the number of
    the first geometry in the file's own terms (2 for the first data line of a CSV; None: not known)."""
    found = []
    for start in range(0, len(geoms), _FINITE_CHUNK):  # in pieces: the coordinates of a national layer are GBs
        xy, idx = shapely.get_coordinates(geoms[start:start + _FINITE_CHUNK], include_z=False, return_index=True)
        found.append(np.unique(idx[~np.isfinite(xy).all(axis=1)]) + start)
    bad = np.concatenate(found) if found else np.zeros(0, dtype=int)
    if len(bad):
        shown = "" if first is None else f" ({unit} " + ", ".join(str(int(i) + first) for i in bad[:10]) + (
            " …" if len(bad) > 10 else "") + ")"
        raise LayerDataError(f"{where}: {len(bad)} {unit}(s) have a coordinate that is not a finite number{shown}; "
                             f"coordinates must be finite (a value like 1e400 overflows to infinity)")


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
