"""Timing and peak memory of ``sitescreen sensitivity`` on the bench's own run folders.

``measure(RUN_DIR, SAMPLES)`` runs, as a reviewer would, in a child process::

    sitescreen -q sensitivity RUN_DIR --samples SAMPLES --overwrite

on a finished ``sitescreen screen`` folder (the bench's streamed runs: 332 sites, N/2 and N), and
returns its wall seconds and peak RSS (psutil sampling every 50 ms, cross-checked with ru_maxrss),
measured like the screenings' (:func:`national.run_child`). It writes sensitivity.parquet and
sensitivity.csv into the folder and records them in its manifest.

    python bench/sensitivity.py RUN_DIR SAMPLES   # one measurement, printed as JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import national  # noqa: E402


def measure(run_dir: Path, samples: int) -> dict:
    """``sitescreen -q sensitivity RUN_DIR --samples SAMPLES --overwrite`` in a child process."""
    cmd = national.sitescreen_exe() + ["-q", "sensitivity", str(run_dir), "--samples", str(samples), "--overwrite"]
    res = national.run_child(cmd)
    sens = pq.read_metadata(Path(run_dir) / "sensitivity.parquet").num_rows
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())["sensitivity"]
    return {"seconds": round(res["seconds"], 2), "peak_rss_gb": round(res["peak_rss_gb"], 3),
            "sites": sens, "rescored": manifest["sites_rescored"], "samples": samples, "cmd": res["cmd"]}


def label(n: int) -> str:
    """A site count as the bench keys spell it: 332, 10k, 100k, 1m."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def describe(res: dict) -> str:
    return (f"  sensitivity, {res['sites']:,} sites ({res['rescored']:,} rescored) × {res['samples']:,} samples: "
            f"{res['seconds']:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB")


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[2]))))
