"""Check that a finished run reproduces: re-hash its inputs, re-run it, compare every result.

:func:`verify` reads an output folder's ``manifest.json``, re-hashes every input it lists (the
sites file, each layer, the profile), checks the SHA-256 of every output file recorded in its
``outputs`` section (sites.gpkg, sites.parquet, sites.csv, map.html, report.html) and that the
input paths it records are the files re-hashed, repeats the screening from the manifest's ``run``
section, and compares the new results with the saved ``sites.parquet`` and ``sites.gpkg`` (every
column, floats within :data:`FLOAT_TOLERANCE`, geometry within :data:`GEOMETRY_TOLERANCE_M`),
``sites.csv`` and the manifest's counts and statistics. Every difference names the file and the site and column, so a
reviewer can confirm a reported score without trusting the person who ran it.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescreen import __version__
from sitescreen.errors import SitescreenError, VerifyError
from sitescreen.run.inputcheck import Difference, check_inputs, recorded_inputs, short_hash
from sitescreen.record.manifest import SCHEMA_VERSION, Mode, RunRecord, to_data

log = logging.getLogger(__name__)

FLOAT_TOLERANCE = 1e-9
GEOMETRY_TOLERANCE_M = 1e-6
MAX_CELL_DIFFERENCES = 50  # per file; the rest are counted
# hashes, outputs and recorded paths are checked on their own (check_inputs, check_outputs, check_recorded_paths);
# a file touched but unchanged (its modification time) is no difference: its hash decides
MANIFEST_IGNORED = frozenset({"created", "timings", "path", "config", "tool", "run", "bytes", "sha256", "outputs", "modified"})


@dataclass
class VerifyReport:
    out_dir: str
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs_checked: int = 0
    outputs_checked: int = 0
    sites_compared: int = 0
    columns_compared: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {"out_dir": self.out_dir, "ok": self.ok, "differences": [str(d) for d in self.differences],
                "notes": list(self.notes), "inputs_checked": self.inputs_checked, "outputs_checked": self.outputs_checked,
                "sites_compared": self.sites_compared, "columns_compared": self.columns_compared}


def verify(out_dir: str | Path) -> VerifyReport:
    """Re-hash the inputs of the run in ``out_dir``, re-run it, and report every difference."""
    from sitescreen.run.config import config_from_manifest

    out_dir = Path(out_dir)
    manifest, saved = _read(out_dir)
    report = VerifyReport(out_dir=str(out_dir))
    version = manifest.tool.version
    if version != __version__:
        report.notes.append(f"the run was made with sitescreen {version}; verifying with {__version__}")
    if manifest.read_schema < SCHEMA_VERSION:
        report.notes.append(f"the manifest is in schema {manifest.read_schema} (read as schema {SCHEMA_VERSION}, "
                            f"with what it lacks derived or left unknown)")
    try:
        config = config_from_manifest(manifest)
    except SitescreenError as exc:
        raise VerifyError(f"{out_dir / 'manifest.json'}: {exc}") from None
    report.differences += check_inputs(manifest, config)
    report.inputs_checked = len(recorded_inputs(manifest, config, []))
    report.differences += check_recorded_paths(manifest, config, str(out_dir / "manifest.json"))
    report.differences += check_outputs(out_dir, manifest)
    report.outputs_checked = len(manifest.outputs) if manifest.outputs is not None else 0
    if any("file not found" in d.detail for d in report.differences):
        report.notes.append("the screening was not re-run: an input file is missing")
        return report
    try:
        new, fresh_manifest, csv_text = _rerun(config, manifest.mode)
    except SitescreenError as exc:
        report.differences.append(Difference("(re-run)", f"the screening no longer runs: {exc}"))
        return report
    report.differences += compare_frames(saved, new, str(out_dir / "sites.parquet"))
    from sitescreen.review.decisions import stale_decisions
    stale, waiting = stale_decisions(out_dir, saved, new)
    report.differences += stale
    report.notes += waiting
    report.differences += compare_gpkg(out_dir / "sites.gpkg", new)
    report.sites_compared = len(new)
    report.columns_compared = len(new.columns)
    csv_path = out_dir / "sites.csv"
    if csv_path.exists():
        report.differences += compare_csv(csv_path.read_text(encoding="utf-8"), csv_text, str(csv_path))
    else:
        report.differences.append(Difference(str(csv_path), "file is missing"))
    if manifest.sensitivity is not None:  # `sitescreen sensitivity` was run: repeat it with its seed
        from sitescreen.review.sensitivityrun import repeat
        try:
            differences, fresh_manifest = repeat(out_dir, manifest, new, fresh_manifest)
        except SitescreenError as exc:
            differences = [Difference(str(out_dir / "sensitivity.parquet"), f"the sensitivity no longer runs: {exc}")]
        report.differences += differences
    from sitescreen.outputs.files import manifest_text
    saved_data, fresh = (json.loads(manifest_text(to_data(m))) for m in (manifest, fresh_manifest))
    report.differences += [Difference(str(out_dir / "manifest.json"), d) for d in diff_json(saved_data, fresh)]
    return report


def _rerun(config, mode: Mode) -> tuple[gpd.GeoDataFrame, RunRecord, str]:
    """The run again, the way it was made (in memory, or streamed in chunks into a scratch folder):
    (sites as sites.parquet holds them, manifest, sites.csv text)."""
    if mode.flow == "streamed":
        from sitescreen.children import scratch_dir
        from sitescreen.outputs.files import read_results
        from sitescreen.measure.engine import DEFAULT_CHUNK
        from sitescreen.run.stream import screen_streamed
        with scratch_dir("verify") as tmp:
            out = tmp / "run"
            screen_streamed(config, out, chunk_size=int(mode.chunk_size or DEFAULT_CHUNK))
            sites, manifest = read_results(out)
            return sites, manifest, (out / "sites.csv").read_text(encoding="utf-8")
    from sitescreen.outputs.files import csv_text
    from sitescreen.run.pipeline import screen
    result = screen(config)
    return _roundtrip(result.sites), result.manifest, csv_text(result.sites)


def _read(out_dir: Path) -> tuple[RunRecord, gpd.GeoDataFrame]:
    from sitescreen.outputs.files import read_results
    sites, manifest = read_results(out_dir)
    return manifest, sites


def check_outputs(out_dir: Path, manifest: RunRecord) -> list[Difference]:
    """The SHA-256 of every output file against the manifest's ``outputs`` (recorded when the run
    was written, or when ``sitescreen map``/``report`` rebuilt a file in the folder); an output file
    in the folder that the manifest does not record is reported too."""
    from sitescreen.outputs.staging import OUTPUT_FILES, sha256
    where = str(out_dir / "manifest.json")
    recorded = manifest.outputs
    if recorded is None:
        return [Difference(where, "records no SHA-256 of the output files (written by an older sitescreen, or the "
                                  "'outputs' section was removed); screen again to record them")]
    out: list[Difference] = []
    for name, entry in sorted(recorded.items()):
        path = out_dir / str(name)
        if Path(str(name)).name != name or name in ("manifest.json", "", ".", ".."):
            out.append(Difference(where, f"outputs: {name!r} is not an output file name"))
            continue
        if not path.is_file():
            out.append(Difference(str(path), "is missing (an output of the run)"))
            continue
        rec, now = entry.sha256, sha256(path)
        if now != rec:
            out.append(Difference(str(path), f"changed since the run (sha256 {short_hash(rec)} recorded, {short_hash(now)} now)"))
    for name in OUTPUT_FILES:
        if name != "manifest.json" and name not in recorded and (out_dir / name).exists():
            out.append(Difference(str(out_dir / name), "is not an output of the run (the manifest's outputs do not record it)"))
    return out


def check_recorded_paths(manifest: RunRecord, config, where: str = "manifest.json") -> list[Difference]:
    """Every input path the manifest states (sites, each layer, a profile file, the config) names
    the file that was re-hashed from its ``run`` section."""
    from sitescreen.rules.profile import builtin_profiles
    specs = [s for s in config.layers if s.kind == "vector"] + [s for s in config.layers if s.kind == "raster"]
    pairs: list[tuple[str, Any, Any]] = []
    if config.sites is not None:
        pairs.append(("sites.path", manifest.sites.path, config.sites.path))
    for i, (spec, entry) in enumerate(zip(specs, manifest.inputs)):
        pairs.append((f"inputs[{i}].path", entry.path, spec.path))
    if str(config.profile) not in builtin_profiles():
        pairs.append(("profile.path", manifest.profile.path, config.profile))
    pairs.append(("config", manifest.config, config.config_path))
    return [Difference(where, f"{key}: {recorded!r} recorded, but the run read {str(actual)!r}")
            for key, recorded, actual in pairs if not _same_path(recorded, actual)]


def _same_path(recorded: Any, actual: Any) -> bool:
    """True when ``recorded`` names ``actual`` (a relative path as given when the run started: a
    tail of the absolute path)."""
    if recorded is None or actual is None:
        return recorded is None and actual is None
    if not isinstance(recorded, str):
        return False
    rec, act = Path(os.path.normpath(recorded)), Path(os.path.normpath(os.path.abspath(str(actual))))
    if rec.is_absolute():
        return rec == act or Path(os.path.realpath(rec)) == Path(os.path.realpath(act))
    tail = [p for p in rec.parts if p not in ("..", ".")]
    return bool(tail) and list(act.parts[-len(tail):]) == tail


def compare_gpkg(path: Path, new: gpd.GeoDataFrame) -> list[Difference]:
    """sites.gpkg value by value against the re-run, as sites.parquet."""
    import pyogrio
    if not path.exists():
        return [Difference(str(path), "is missing (an output of the run)")]
    try:
        saved = pyogrio.read_dataframe(path, layer="sites")
    except Exception as exc:  # any GDAL failure: the file is not a readable GeoPackage any more
        return [Difference(str(path), f"cannot be read as a GeoPackage with a layer 'sites' ({exc})")]
    return compare_frames(saved, new, str(path))


def _roundtrip(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame as sites.parquet would hold it (same dtypes as the saved file)."""
    buf = io.BytesIO()
    sites.to_parquet(buf, index=False)
    buf.seek(0)
    return gpd.read_parquet(buf)


def _key(df: pd.DataFrame) -> pd.Index:
    if "site_id" in df and df["site_id"].is_unique:
        return pd.Index(df["site_id"].astype(str), name="site_id")
    return pd.RangeIndex(len(df), name="row")


def compare_frames(saved: pd.DataFrame, new: pd.DataFrame, file: str) -> list[Difference]:
    """Every (site, column) whose saved value differs from the re-run's; floats within FLOAT_TOLERANCE."""
    out: list[Difference] = []
    geom = saved.geometry.name if isinstance(saved, gpd.GeoDataFrame) else None
    for c in [c for c in new.columns if c not in saved.columns]:
        out.append(Difference(file, f"column {c!r} is missing (the re-run has it)"))
    for c in [c for c in saved.columns if c not in new.columns]:
        out.append(Difference(file, f"column {c!r} is not in the re-run"))
    a, b = saved.copy(), new.copy()
    a.index, b.index = _key(saved), _key(new)
    only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
    for s in only_a[:10]:
        out.append(Difference(file, f"site {s} is not in the re-run"))
    for s in only_b[:10]:
        out.append(Difference(file, f"site {s} is missing (the re-run has it)"))
    common = a.index.intersection(b.index, sort=False)
    a, b = a.loc[common], b.loc[common]
    cells: list[str] = []
    for c in [c for c in saved.columns if c in new.columns]:
        if c == geom:
            ga, gb = a[c].to_numpy(), b[c].to_numpy()
            both_missing = shapely.is_missing(ga) & shapely.is_missing(gb)
            same = both_missing | shapely.equals_exact(ga, gb, tolerance=GEOMETRY_TOLERANCE_M)
            cells += [f"site {s}, column {c!r}: footprint differs" for s in common[~same]]
            continue
        same = _same(a[c], b[c])
        for s, x, y in zip(common[~same], a[c].to_numpy()[~same], b[c].to_numpy()[~same]):
            cells.append(f"site {s}, column {c!r}: {_fmt(x)} saved, {_fmt(y)} re-run")
    out += [Difference(file, t) for t in cells[:MAX_CELL_DIFFERENCES]]
    if len(cells) > MAX_CELL_DIFFERENCES:
        out.append(Difference(file, f"… and {len(cells) - MAX_CELL_DIFFERENCES} more differing values"))
    return out


def _same(x: pd.Series, y: pd.Series) -> np.ndarray:
    xn, yn = pd.api.types.is_numeric_dtype(x), pd.api.types.is_numeric_dtype(y)
    if xn and yn and not pd.api.types.is_bool_dtype(x):
        a, b = x.to_numpy(dtype=float, na_value=np.nan), y.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            return (a == b) | (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= FLOAT_TOLERANCE)
    ax, by = x.astype(object).to_numpy(), y.astype(object).to_numpy()
    na_a, na_b = pd.isna(x).to_numpy(), pd.isna(y).to_numpy()
    eq = np.array([str(p) == str(q) for p, q in zip(ax, by)], dtype=bool)
    return np.where(na_a | na_b, na_a & na_b, eq)


def _fmt(v: Any) -> str:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isnan(v):
        return repr(v)
    return "no value" if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else repr(v)


def compare_csv(saved_text: str, new_text: str, file: str) -> list[Difference]:
    """sites.csv cell by cell (text equal, or both numbers within FLOAT_TOLERANCE)."""
    if saved_text == new_text:
        return []
    try:
        a = pd.read_csv(io.StringIO(saved_text), dtype=str, keep_default_na=False)
    except Exception as exc:
        return [Difference(file, f"cannot be read as CSV: {exc}")]
    b = pd.read_csv(io.StringIO(new_text), dtype=str, keep_default_na=False)
    out = [Difference(file, f"column {c!r} is missing (the re-run has it)") for c in b.columns if c not in a.columns]
    out += [Difference(file, f"column {c!r} is not in the re-run") for c in a.columns if c not in b.columns]
    a.index, b.index = _key(a), _key(b)
    out += [Difference(file, f"site {s} is not in the re-run") for s in a.index.difference(b.index)[:10]]
    out += [Difference(file, f"site {s} is missing (the re-run has it)") for s in b.index.difference(a.index)[:10]]
    common = a.index.intersection(b.index, sort=False)
    cells = []
    for c in [c for c in a.columns if c in b.columns]:
        x, y = a.loc[common, c].to_numpy(), b.loc[common, c].to_numpy()
        for s, p, q in zip(common[x != y], x[x != y], y[x != y]):
            try:
                if abs(float(p) - float(q)) <= FLOAT_TOLERANCE:
                    continue
            except ValueError:
                pass
            cells.append(f"site {s}, column {c!r}: {p!r} saved, {q!r} re-run")
    out += [Difference(file, t) for t in cells[:MAX_CELL_DIFFERENCES]]
    if len(cells) > MAX_CELL_DIFFERENCES:
        out.append(Difference(file, f"… and {len(cells) - MAX_CELL_DIFFERENCES} more differing values"))
    return out


def diff_json(saved: Any, new: Any, path: str = "", ignored=MANIFEST_IGNORED) -> list[str]:
    """Differences between two manifests (keys that hold paths, times and the tool are ignored)."""
    if isinstance(saved, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(saved) | set(new), key=str):
            if k in ignored:
                continue
            p = f"{path}.{k}" if path else str(k)
            if k not in new:
                out.append(f"{p}: {_fmt(saved[k])} saved, not in the re-run")
            elif k not in saved:
                out.append(f"{p}: missing (the re-run has {_fmt(new[k])})")
            else:
                out += diff_json(saved[k], new[k], p, ignored)
        return out
    if isinstance(saved, list) and isinstance(new, list):
        if len(saved) != len(new):
            return [f"{path}: {len(saved)} entries saved, {len(new)} in the re-run"]
        return [d for i, (x, y) in enumerate(zip(saved, new)) for d in diff_json(x, y, f"{path}[{i}]", ignored)]
    if isinstance(saved, (int, float)) and isinstance(new, (int, float)) and not isinstance(saved, bool):
        if saved == new or abs(float(saved) - float(new)) <= FLOAT_TOLERANCE:
            return []
    elif saved == new:
        return []
    return [f"{path}: {_fmt(saved)} saved, {_fmt(new)} re-run"]


__all__ = ["verify", "check_outputs", "check_recorded_paths", "compare_gpkg", "VerifyReport", "compare_frames", "compare_csv", "diff_json", "FLOAT_TOLERANCE"]
