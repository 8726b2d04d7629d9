"""Per-site statistics of a sampled rescoring (:mod:`sitescreen.review.sensitivity`): verdict
probabilities, score and rank intervals, the parameter a verdict hinges on, one-at-a-time swings.

Definitions (stated once; the manifest's ``sensitivity.columns`` repeats them for readers):

- ``p_<verdict>``: the share of samples giving that verdict;
- ``score_p05`` / ``score_p95``: the 5 and 95 % quantiles of the sampled score (linear
  interpolation between samples, ``numpy.quantile``);
- ``rank``: 1 + the number of rescored sites with a higher score (ties share a rank), in the run;
  ``rank_p05`` / ``rank_p95`` the 5 and 95 % points of the sampled rank (the smallest rank reached by
  at least 5 % / 95 % of samples). Ranks are counted in :data:`rank bins <rank_bins>`: exact when
  there is one bin per rescored site, otherwise the interval is widened to whole bins;
- ``hinge``: among the parameters that vary, the one whose sampled values best separate the
  samples that flip the site's verdict from those that keep it: the largest absolute difference of
  its mean over flipped and kept samples, in units of its standard deviation over all samples;
  empty when the verdict never flips (or always does). ``p_flip`` is the share of samples that flip it;
- ``oat_low_<p>`` / ``oat_high_<p>``: the score with parameter ``p`` alone at its low / high value
  (a weight's 5 and 95 % Dirichlet points, the other weights scaled to keep the sum 1; a ranged
  number's ends), the other parameters at the run's values: the bars of the report's tornado chart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sitescreen.review.sensitivity import CELLS, SCORED, Problem, chunks, nominal, rescore, take


def rank_bins(sites: int, samples: int = 0) -> int:
    """How many rank bins a run of ``sites`` rescored sites gets: one per site up to the memory
    budget (:data:`CELLS` counts), at least 16."""
    return int(min(sites, max(16, CELLS // max(sites, 1)))) if sites else 0


def site_stats(p: Problem, draws: dict[str, np.ndarray], base: np.ndarray) -> pd.DataFrame:
    """Verdict probabilities, score quantiles, flips and the hinge of each rescored site (``base``:
    its verdict code in the run); chunks of sites × all samples."""
    m = len(draws["weights"])
    z, znames = _standardised(p, draws)
    parts = []
    for rows in chunks(p.sites, CELLS // max(m, 1)):
        total, codes = rescore(p, rows, draws)
        score = total * 100
        part = {f"p_{v}": (codes == i).mean(axis=1) for i, v in enumerate(SCORED)}
        part["score_p05"], part["score_p95"] = np.quantile(score, [0.05, 0.95], axis=1)
        flips = codes != base[rows, None]
        part["p_flip"] = flips.mean(axis=1)
        part["hinge"] = _hinge(flips, z, znames)
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[f"p_{v}" for v in SCORED])


def _standardised(p: Problem, draws) -> tuple[np.ndarray, list[str]]:
    """The varied parameters of each sample in units of their standard deviation (samples × params)."""
    cols, names = [], []
    for j, prm in enumerate(p.params):
        x = draws["weights"][:, j] if prm.what == "weight" else draws[prm.name]
        sd = x.std()
        if sd > 0:
            cols.append((x - x.mean()) / sd)
            names.append(prm.name)
    return (np.column_stack(cols) if cols else np.zeros((len(draws["weights"]), 0))), names


def _hinge(flips: np.ndarray, z: np.ndarray, names: list[str]) -> np.ndarray:
    out = np.full(len(flips), "", dtype=object)
    if not names:
        return out
    nf = flips.sum(axis=1)
    m = flips.shape[1]
    some = (nf > 0) & (nf < m)
    f = flips[some].astype(float)
    mean_f = f @ z / nf[some, None]
    mean_k = (1 - f) @ z / (m - nf[some, None])
    out[some] = np.asarray(names, dtype=object)[np.argmax(np.abs(mean_f - mean_k), axis=1)]
    return out


def ranks(total: np.ndarray) -> np.ndarray:
    """1 + the number of higher totals in each column (ties share the rank), shape as ``total``."""
    order = np.argsort(-total, axis=0, kind="stable")
    v = np.take_along_axis(total, order, axis=0)
    pos = np.arange(len(total))[:, None] + np.zeros((1, total.shape[1]), dtype=int)
    first = np.where(np.vstack([np.ones((1, total.shape[1]), bool), v[1:] != v[:-1]]), pos, 0)
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.maximum.accumulate(first, axis=0) + 1, axis=0)
    return out


def rank_stats(p: Problem, draws: dict[str, np.ndarray]) -> pd.DataFrame:
    """rank, rank_p05 and rank_p95 of each rescored site: chunks of all sites × some samples, the
    sampled ranks counted per site in :func:`rank_bins` bins."""
    n, m = p.sites, len(draws["weights"])
    if not n:
        return pd.DataFrame({"rank": [], "rank_p05": [], "rank_p95": []})
    bins = rank_bins(n, m)
    hist = np.zeros(n * bins, dtype=np.int64)
    site = np.arange(n)[:, None] * bins
    for cols in chunks(m, CELLS // n):
        total, _ = rescore(p, slice(None), take(draws, cols))
        b = (ranks(total) - 1) * bins // n
        hist += np.bincount((site + b).ravel(), minlength=n * bins)
    cum = hist.reshape(n, bins).cumsum(axis=1)
    lo = np.argmax(cum >= 0.05 * m, axis=1)
    hi = np.argmax(cum >= 0.95 * m, axis=1)
    run_total, _ = rescore(p, slice(None), nominal(p))
    return pd.DataFrame({"rank": ranks(run_total)[:, 0],
                         "rank_p05": -((-lo * n) // bins) + 1, "rank_p95": -((-(hi + 1) * n) // bins)})


def oat(p: Problem) -> pd.DataFrame:
    """The one-at-a-time scores ``oat_low_<p>`` / ``oat_high_<p>`` of each rescored site."""
    cases, names = [], []
    for j, prm in enumerate(p.params):
        for end, value in (("low", prm.low), ("high", prm.high)):
            d = nominal(p)
            if prm.what == "weight":
                w = p.weights * (1 - value) / (1 - p.weights[j]) if p.weights[j] < 1 else p.weights.copy()
                w[j] = value
                d["weights"] = w[None, :]
            else:
                d[prm.name] = np.array([value])
            cases.append(d)
            names.append(f"oat_{end}_{prm.name}")
    if not cases or not p.sites:
        return pd.DataFrame({n: [] for n in names}, dtype=float)
    draws = {k: np.concatenate([c[k] for c in cases]) for k in cases[0]}
    total, _ = rescore(p, slice(None), draws)
    return pd.DataFrame(total * 100, columns=names)
