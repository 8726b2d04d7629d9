"""A big run folder for bench/natmap.py without screening again: a real run's sites, K copies.

    python bench/natmap_folder.py RUN_DIR --times 50 OUT_DIR    # e.g. a 20,000-site run -> 1,000,000 sites

Copy k (0 < k < K) of every site is moved by a few km (a spiral of offsets, so copies do not
overlap one another and stay inside the run's region), its ``site_id`` gets ``-k`` appended; every
other column is kept as screened. ``manifest.json`` is the run's own with the site count and the
verdict counts multiplied by K. The map of such a folder has K times the sites but repeats each
popup text K times, so its dictionary-coded texts compress a little better than a real run's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

STEP_M = 3_000.0


def offsets(k: int) -> np.ndarray:
    """``k`` distinct offsets in metres, the first (0, 0), on a square spiral of STEP_M spacing."""
    side = int(np.ceil(np.sqrt(k)))
    g = np.stack(np.meshgrid(np.arange(side) - side // 2, np.arange(side) - side // 2), -1).reshape(-1, 2)
    g = g[np.lexsort((np.abs(g).sum(1), np.abs(g).max(1)))][:k]
    return g * STEP_M


def replicate(sites: gpd.GeoDataFrame, times: int) -> gpd.GeoDataFrame:
    off = offsets(times)
    parts = []
    geom = np.asarray(sites.geometry.values, dtype=object)
    for k, (dx, dy) in enumerate(off):
        part = pd.DataFrame(sites.drop(columns=sites.geometry.name)).copy()
        if k:
            part["site_id"] = part["site_id"].astype(str) + f"-{k}"
        part["geometry"] = shapely.transform(geom, lambda xy, dx=dx, dy=dy: xy + (dx, dy))
        parts.append(part)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=sites.crs)


def write_folder(run_dir: Path, times: int, out: Path) -> Path:
    sites = gpd.read_parquet(run_dir / "sites.parquet")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    big = replicate(sites, times)
    manifest["sites"]["sites"] = len(big)
    if isinstance(manifest.get("counts"), dict):
        manifest["counts"] = {k: v * times if isinstance(v, int) else v for k, v in manifest["counts"].items()}
    out.mkdir(parents=True, exist_ok=True)
    big.to_parquet(out / "sites.parquet")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--times", type=int, required=True)
    args = ap.parse_args(argv)
    print(write_folder(args.run_dir, args.times, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
