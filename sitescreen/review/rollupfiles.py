"""A roll-up written or printed: GeoPackage (the units' polygons with the columns), CSV, text, JSON.

Written atomically (a temporary file beside the target, then renamed), so nothing half-written is
left; an existing file is replaced only when the caller says so.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from sitescreen.errors import OutputError
from sitescreen.outputs.staging import atomic_write_text, write_error
from sitescreen.review.rollup import OUTSIDE, Rollup
from sitescreen.rules.verdicts import VERDICTS
from sitescreen.values import strict_json

#: The suffixes a roll-up is written as.
SUFFIXES = (".gpkg", ".csv")


def write_rollup(r: Rollup, path: str | Path, overwrite: bool = False) -> Path:
    """``r`` as ``path`` (.gpkg: the unit polygons with the columns, layer ``rollup``; .csv: the table)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise OutputError(f"{path}: a roll-up is written as {' or '.join(SUFFIXES)}; got {suffix or 'no suffix'}")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; give --overwrite to replace it")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path} is not a file; give a .gpkg or .csv file name")
    if path.exists() and not _is_rollup(path, r):
        raise OutputError(f"{path}: not a roll-up written by sitescreen (a run's results, a layer or another "
                          f"file); --overwrite replaces only an earlier roll-up; choose another file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    if suffix == ".csv":
        atomic_write_text(path, r.table.to_csv(index=False, lineterminator="\n"))
        return path
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gpkg", dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's note on null geometries (the outside row)
            r.frame.to_file(tmp, layer="rollup", driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    except (OSError, RuntimeError, ValueError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _is_rollup(path: Path, r: Rollup) -> bool:
    """Whether ``path`` is a roll-up this module wrote: a GeoPackage whose only layer is ``rollup``, or
    a CSV whose header is a roll-up's (so ``--overwrite`` never replaces an input, e.g. the ``--by``
    file itself, nor a run's sites.gpkg or sites.csv)."""
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\r\n") == ",".join(map(str, r.table.columns))
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)] == ["rollup"]
    except Exception:  # noqa: BLE001 - not a GeoPackage GDAL can open: not ours
        return False


def rollup_display(r: Rollup):
    """The units as a map layer (:class:`sitescreen.outputs.mapping.DisplayLayer`): their polygons,
    named by their roll-up line (shown when a unit is clicked)."""
    from sitescreen.outputs.mapping import DisplayLayer
    from sitescreen.outputs.rollupsection import unit_summaries
    frame = r.frame.loc[r.frame.geometry.notna()]
    gdf = gpd.GeoDataFrame({"name": unit_summaries(frame)}, geometry=frame.geometry.to_numpy(), crs=r.frame.crs)
    return DisplayLayer(name=f"Roll-up by {r.units.by}", role="rollup", gdf=gdf)


def rollup_rows(r: Rollup) -> list[dict]:
    """The table as plain rows (NaN: None), for ``--json``."""
    table = r.table.astype(object).where(r.table.notna(), None)
    return table.to_dict(orient="records")


def rollup_json(r: Rollup) -> str:
    u = r.units
    return strict_json({"by": u.by, "kind": u.kind, "source": u.source, "field": u.field, "units": rollup_rows(r)},
                       indent=2, ensure_ascii=False)


def rollup_text(r: Rollup) -> str:
    """The table for a terminal: a line per unit with its counts, mean score and share."""
    head = f"{'unit':<24} {'sites':>6} " + " ".join(f"{v[:11]:>11}" for v in VERDICTS) + f" {'mean score':>10} {'km²':>9} {'share':>8}"
    lines = [f"Roll-up by {r.units.by} ({r.units.source}, field {r.units.field})", head]
    for row in r.table.itertuples(index=False):  # one line per unit (a few hundred at most), not per site
        d = row._asdict()
        mean = "—" if pd.isna(d["score_mean"]) else f"{d['score_mean']:.1f}"
        share = "—" if pd.isna(d["share"]) else f"{d['share']:.2%}"
        lines.append(f"{str(d['unit'])[:24]:<24} {d['sites']:>6} " + " ".join(f"{d[f'n_{v}']:>11}" for v in VERDICTS)
                     + f" {mean:>10} {d['area_km2']:>9.2f} {share:>8}")
    total = int(r.table["sites"].sum())
    outside = int(r.table.loc[r.table["unit"] == OUTSIDE, "sites"].sum())
    lines.append(f"{total:,} sites: {total - outside:,} in {int(np.sum(r.table['unit'] != OUTSIDE)):,} units, {outside:,} {OUTSIDE}")
    return "\n".join(lines) + "\n"


__all__ = ["write_rollup", "rollup_display", "rollup_rows", "rollup_json", "rollup_text", "SUFFIXES"]
