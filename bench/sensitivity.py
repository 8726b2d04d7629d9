"""Timing and peak memory of ``sitescreen sensitivity``'s sampling on synthetic sites.

``python bench/sensitivity.py MANIFEST SITES SAMPLES`` prints ``{"seconds", "peak_rss_gb"}``: SITES
sites with random suitabilities for MANIFEST's weighted criteria (score and verdict made by the
run's own formula), sampled SAMPLES times; run in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def child(manifest: str, n: int, samples: int) -> dict:
    import numpy as np
    import pandas as pd
    from sitescreen.record.manifest import read_record
    from sitescreen.review.sensitivityrun import sensitivity
    from sitescreen.rules.scoring import verdict_codes, weighted_total
    from sitescreen.rules.verdicts import VERDICTS
    record = read_record(manifest)
    crits = [c for c in record.criteria if c.effective_weight > 0 and c.score_column]
    rng = np.random.default_rng(0)
    s = {c.score_column: rng.uniform(0, 1, n) for c in crits}
    total = weighted_total([s[c.score_column] for c in crits], [c.effective_weight for c in crits])
    codes = verdict_codes(total, record.profile.verdicts.favorable, record.profile.verdicts.review)
    sites = pd.DataFrame({"site_id": np.arange(n), "verdict": np.asarray(VERDICTS, dtype=object)[codes],
                          "score": np.round(total * 100, 4), **s})
    t0 = time.perf_counter()
    sensitivity(sites, record, samples=samples, seed=1)
    return {"seconds": round(time.perf_counter() - t0, 2)}


def measure(manifest: Path, n: int, samples: int) -> dict:
    """The timing in a child process, with its peak RSS (ru_maxrss of the children)."""
    out = subprocess.run([sys.executable, __file__, str(manifest), str(n), str(samples)], check=True,
                         capture_output=True, text=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20, 3)
    return res


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
