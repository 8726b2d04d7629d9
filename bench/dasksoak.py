"""A soak of the Dask engine: the same streamed screening run again and again with
``--engine dask --workers W`` (a local cluster of W processes started and stopped by each run),
each run's exit code recorded and its sites.parquet compared with the local engine's.

    sitescreen -q screen --config CFG --out DIR --no-map --no-report --overwrite --engine dask --workers W --stream

Full bench: 20 runs at 100,000 sites; quick: 3 runs at 10,000.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import national  # noqa: E402


def soak(config: Path, out_dir: Path, local_dir: Path, runs: int, workers: int, same_results) -> dict:
    """``runs`` Dask screenings of ``config`` into ``out_dir`` (replaced each time); a failure is
    counted, not raised. ``same_results(a, b)`` → (bool, why) compares with ``local_dir``."""
    cmd = national.screen_cmd(config, out_dir, engine="dask", workers=workers, extra=["--stream"])
    seconds, failures, differ, rss = [], [], [], []
    for i in range(runs):
        res = national.run_child_status(cmd)
        if res["returncode"] != 0:
            failures.append({"run": i + 1, "exit": res["returncode"], "tail": res["output"].strip()[-400:]})
            print(f"    soak run {i + 1}/{runs}: FAILED, exit {res['returncode']}", flush=True)
            continue
        same, why = same_results(local_dir, out_dir)
        if not same:
            differ.append({"run": i + 1, "why": why})
        seconds.append(res["seconds"])
        rss.append(res["peak_rss_gb"])
        print(f"    soak run {i + 1}/{runs}: {res['seconds']:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB, "
              f"same as local: {same}", flush=True)
    return {"runs": runs, "failures": len(failures), "not_identical": len(differ),
            "median_seconds": round(statistics.median(seconds), 2) if seconds else None,
            "max_peak_rss_gb": round(max(rss), 3) if rss else None,
            "failed": failures, "differed": differ, "cmd": " ".join(cmd)}
