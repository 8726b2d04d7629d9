"""What an overlap fraction is made of: its largest parts, by label, with their shares.

:func:`overlap_with_parts` is :func:`sitescreen.measure.overlap.overlap_and_largest` plus, per
site, the labels (e.g. a unit's name and agency) whose features make up the covered share, each
with its share of the footprint. It reads the pair areas the union pass computes anyway (no
further geometry is built): a label's area is the sum of its features' intersection areas.

Overlaps are attributed in proportion: where a site's features overlap each other, their pair
areas add up to more than the covered (union) area, and every part of that site is scaled by
union / sum, so the parts of a site always add up to its fraction (never more). Where they do
not overlap, each share is its features' exact intersection area over the footprint's area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sitescreen.measure.geomops import as_features, as_geom_array, layer_of
from sitescreen.measure.overlap import _wsum, union_chunks

__all__ = ["Parts", "overlap_with_parts", "TOP_PARTS"]

#: Parts named per site (the others are summed into one "and N more" part).
TOP_PARTS = 3


@dataclass
class Parts:
    """The top parts of every site, long format (sorted by site, then share, largest first):
    ``site`` positions, ``label`` texts, ``share`` of the footprint (0–1); ``more`` / ``more_share``
    per site: how many further labels there are and their summed share."""

    site: np.ndarray
    label: np.ndarray
    share: np.ndarray
    more: np.ndarray
    more_share: np.ndarray


def overlap_with_parts(footprints: np.ndarray, features: np.ndarray, labels: np.ndarray,
                       top: int = TOP_PARTS) -> tuple[np.ndarray, np.ndarray, np.ndarray, Parts]:
    """(fraction, largest feature or -1, its area, :class:`Parts`) of every footprint against
    ``features``, whose parts are grouped by ``labels`` (one text per feature)."""
    fps = as_geom_array(footprints, "footprints")
    feats = as_features(features)
    n = fps.size
    codes, uniques = pd.factorize(pd.Series(np.asarray(labels, dtype=object), dtype=object).fillna(""))
    names = np.asarray(uniques, dtype=object)
    out = np.zeros(n, dtype=np.float64)
    best = np.full(n, -1, dtype=np.int64)
    best_area = np.zeros(n, dtype=np.float64)
    more = np.zeros(n, dtype=np.int64)
    more_share = np.zeros(n, dtype=np.float64)
    pieces = []
    if n:
        layer = layer_of(feats, True)
        for a, b, site, part, area, cov, fp_area in union_chunks(fps, layer, out, best, best_area):
            s, lab, sh = _chunk_parts(site, codes[layer.owner[part]], area, cov, fp_area)
            keep = _top(s, top, more[a:b], more_share[a:b], sh)
            pieces.append((s[keep] + a, lab[keep], sh[keep]))
    site = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    lab = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    share = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0)
    return np.clip(out, 0.0, 1.0), best, best_area, Parts(site, names[lab], share, more, more_share)


def _chunk_parts(site, lab, area, cov, fp_area):
    """Per (site, label) of one chunk: the share of the footprint, overlaps attributed in proportion;
    sorted by site, share (largest first), then label."""
    if site.size == 0:
        return site, lab, area
    key = site.astype(np.int64) * (int(lab.max()) + 1) + lab
    uniq, inv = np.unique(key, return_inverse=True)
    summed = _wsum(inv, weights=area)
    s, lb = uniq // (int(lab.max()) + 1), uniq % (int(lab.max()) + 1)
    pos = summed > 0
    s, lb, summed = s[pos], lb[pos], summed[pos]
    total = _wsum(s, weights=summed, minlength=fp_area.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(total > cov, cov / total, 1.0)  # overlapping features: parts add up to the union
        share = summed * scale[s] / fp_area[s]
    ok = np.isfinite(share) & (share > 0)
    s, lb, share = s[ok], lb[ok], share[ok]
    order = np.lexsort((lb, -share, s))
    return s[order], lb[order], share[order]


def _top(site, top, more, more_share, share):
    """Mask of the ``top`` first parts of every site (parts sorted by site); the rest are counted
    into ``more`` and summed into ``more_share`` (in place)."""
    if site.size == 0:
        return np.zeros(0, dtype=bool)
    first = np.r_[True, site[1:] != site[:-1]]
    start = np.flatnonzero(first)
    rank = np.arange(site.size) - np.repeat(start, np.diff(np.r_[start, site.size]))
    keep = rank < top
    rest = ~keep
    more[:] = np.bincount(site[rest], minlength=more.size)
    more_share[:] = _wsum(site[rest], weights=share[rest], minlength=more.size)
    return keep
