"""The area-weighted majority of a feature attribute per site, from the per-pair areas, in numpy:
one sort of the pairs by (site, code), the areas summed per (site, code) group, the largest sum
kept per site (ties to the smallest code, i.e. the value met first in the layer).

The sums are compensated (Kahan) sums in the pairs' order within a group, exactly as pandas'
``groupby(...).sum()`` adds (the kernel's results stay bit-identical to its pandas version); they
run as vectorized rounds over the groups (round *r* adds every group's *r*-th pair), so the
number of rounds is the largest group, not the number of sites.
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_sums", "majority_codes"]


def group_sums(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Compensated sum of ``values[start[i]:start[i + 1]]`` (the last group runs to the end), in
    order, for every group: the sum pandas' groupby computes (NaN compensation reset as there)."""
    values = np.asarray(values, dtype=np.float64)
    start = np.asarray(start, dtype=np.int64)
    total = np.zeros(start.size, dtype=np.float64)
    if start.size == 0:
        return total
    size = np.diff(np.r_[start, values.size])
    comp = np.zeros(start.size, dtype=np.float64)
    live = np.arange(start.size)
    for r in range(int(size.max())):
        live = live[size[live] > r]
        y = values[start[live] + r] - comp[live]
        t = total[live] + y
        c = (t - total[live]) - y
        c[np.isnan(c)] = 0.0  # inf arithmetic: pandas drops the compensation
        comp[live] = c
        total[live] = t
    return total


def majority_codes(site: np.ndarray, code: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sites, their majority code): per site the code whose pairs' areas sum largest, a tie going
    to the smallest code. ``site``, ``code`` (non-negative integers) and ``area`` are per pair."""
    site = np.asarray(site, dtype=np.int64)
    code = np.asarray(code, dtype=np.int64)
    if site.size == 0:
        return site, code
    ncode = int(code.max()) + 1
    if (int(site.max()) + 1) * ncode < 2**62:  # one int64 key; a stable sort keeps a group's pairs in order
        order = np.argsort(site * ncode + code, kind="stable")
    else:
        order = np.lexsort((code, site))
    s, c = site[order], code[order]
    start = np.flatnonzero(np.r_[True, (s[1:] != s[:-1]) | (c[1:] != c[:-1])])
    total = group_sums(np.asarray(area, dtype=np.float64)[order], start)
    gs, gc = s[start], c[start]  # groups sorted by (site, code)
    first = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    best = np.maximum.reduceat(total, first)
    top = np.flatnonzero(total == np.repeat(best, np.diff(np.r_[first, gs.size])))
    top = top[np.r_[True, gs[top][1:] != gs[top][:-1]]]  # the smallest code among a site's largest
    return gs[top], gc[top]
