"""Why a site's result moved between two runs: the one criterion to name, vectorized over sites.

For sites present in both runs (rows aligned), with the criteria of both run records:

1. an **exclusion flip** decides first: a site that became excluded is blamed on the criterion whose
   exclusion now holds and did not before (a site that stopped being excluded: the criterion whose
   exclusion held and no longer does); each run's exclusion is evaluated on its own measurements
   with its own rule (the record's ``exclusion``, e.g. ``"< 300"``, read back through
   :data:`sitescreen.rules.profile.EXCLUDE_OPS`);
2. then a **cap flip**: a site whose verdict (favorable, review or unfavorable in both runs) got
   worse where a criterion's verdict cap (``cap = {verdict, condition}``) now holds at that verdict and
   did not before, or got better where the cap that held it there no longer holds
   (:func:`sitescreen.rules.caps.cap_holds`, the rule the run applied);
3. then a **no-data flip**: a criterion that needs data (weighted, or with an exclusion) whose
   measurement became missing (``no data``) or stopped being missing (``new data``);
4. otherwise the **contribution**: suitability × effective weight × 100 (the points it adds to the
   score; 0 when not evaluated or missing), and the criterion whose points moved most.

Ties go to the criterion listed first (the newer run's order, then criteria only the older run had).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sitescreen.record.manifest import CriterionRecord, RunRecord
from sitescreen.rules.caps import cap_holds
from sitescreen.rules.profile import EXCLUDE_OPS
from sitescreen.rules.verdicts import VERDICTS

_OPS = {">": "above", "≥": "at_least", "<": "below", "≤": "at_most"}
EXCLUSION, CAP, NO_DATA, NEW_DATA, CONTRIBUTION = "exclusion", "cap", "no data", "new data", "contribution"


@dataclass(frozen=True)
class Causes:
    """Per site (aligned with the rows given): the criterion to name ('' for none), why, and the
    change of that criterion's points (NaN for an exclusion or no-data flip)."""
    criterion: np.ndarray
    kind: np.ndarray
    points: np.ndarray


def excluded_by(c: CriterionRecord | None, values: pd.Series | None) -> np.ndarray | None:
    """Where criterion ``c``'s exclusion holds for ``values`` (missing never excludes); None when it
    has none. An exclusion this version cannot read back is refused, never guessed."""
    if c is None or values is None or not c.exclusion or not c.evaluated:
        return None
    sym, _, rest = str(c.exclusion).strip().partition(" ")
    isna = pd.isna(values).to_numpy()
    if sym == "in":
        allowed = [str(v) for v in ast.literal_eval(rest)]
        return values.astype(str).isin(allowed).to_numpy() & ~isna
    if sym not in _OPS:
        raise ValueError(f"criterion {c.name}: exclusion {c.exclusion!r} is not one of {', '.join(_OPS)} or in […]")
    with np.errstate(invalid="ignore"):
        return EXCLUDE_OPS[_OPS[sym]](pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), float(rest)) & ~isna


def _points(c: CriterionRecord | None, sites: pd.DataFrame) -> np.ndarray:
    n = len(sites)
    if c is None or not c.evaluated or not c.effective_weight or not c.score_column or c.score_column not in sites:
        return np.zeros(n)
    s = pd.to_numeric(sites[c.score_column], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(s), 0.0, s) * c.effective_weight * 100.0


def _missing(c: CriterionRecord | None, sites: pd.DataFrame) -> np.ndarray:
    n = len(sites)
    if c is None or not c.evaluated or not (c.weight > 0 or c.exclusion) or c.measure_column not in sites:
        return np.zeros(n, dtype=bool)
    return pd.isna(sites[c.measure_column]).to_numpy()


def _binding_cap(c: CriterionRecord | None, sites: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Where criterion ``c``'s verdict cap holds and sets the site's verdict ``codes`` (the cap's
    verdict is the site's): the cap that holds it there."""
    if c is None or getattr(c, "cap", None) is None:
        return np.zeros(len(sites), dtype=bool)
    return cap_holds(c, sites) & (codes == VERDICTS.index(c.cap.verdict))


def _codes(sites: pd.DataFrame) -> np.ndarray:
    """Each site's verdict as its index in :data:`VERDICTS`."""
    return pd.Categorical(sites["verdict"].astype(str), categories=VERDICTS).codes.astype(np.int16)


def _column(sites: pd.DataFrame, c: CriterionRecord | None) -> pd.Series | None:
    return sites[c.measure_column] if c is not None and c.measure_column in sites else None


def criterion_names(a: RunRecord, b: RunRecord) -> list[str]:
    """Every criterion of either run: the newer run's order, then those only the older run had."""
    names = [c.name for c in b.criteria]
    return names + [c.name for c in a.criteria if c.name not in names]


def _first(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(any row true, index of the first true column) of an n × k mask."""
    return mask.any(axis=1), mask.argmax(axis=1)


def causes(a: RunRecord, b: RunRecord, sites_a: pd.DataFrame, sites_b: pd.DataFrame) -> Causes:
    """The cause of each site's change from ``sites_a`` to ``sites_b`` (same sites, same row order)."""
    names = criterion_names(a, b)
    rec_a = {c.name: c for c in a.criteria}
    rec_b = {c.name: c for c in b.criteria}
    n, k = len(sites_a), len(names)
    if not k:
        return Causes(criterion=np.full(n, "", dtype=object), kind=np.full(n, "", dtype=object), points=np.full(n, np.nan))
    hit_a, hit_b = np.zeros((n, k), dtype=bool), np.zeros((n, k), dtype=bool)
    miss_a, miss_b = np.zeros((n, k), dtype=bool), np.zeros((n, k), dtype=bool)
    cap_a, cap_b = np.zeros((n, k), dtype=bool), np.zeros((n, k), dtype=bool)
    va, vb = _codes(sites_a), _codes(sites_b)
    pts = np.zeros((n, k))
    for j, name in enumerate(names):
        ca, cb = rec_a.get(name), rec_b.get(name)
        ha, hb = excluded_by(ca, _column(sites_a, ca)), excluded_by(cb, _column(sites_b, cb))
        hit_a[:, j] = False if ha is None else ha
        hit_b[:, j] = False if hb is None else hb
        cap_a[:, j], cap_b[:, j] = _binding_cap(ca, sites_a, va), _binding_cap(cb, sites_b, vb)
        miss_a[:, j], miss_b[:, j] = _missing(ca, sites_a), _missing(cb, sites_b)
        pts[:, j] = _points(cb, sites_b) - _points(ca, sites_a)
    ex_a = sites_a["verdict"].astype(str).to_numpy() == "excluded"
    ex_b = sites_b["verdict"].astype(str).to_numpy() == "excluded"
    flip = np.where((ex_b & ~ex_a)[:, None], hit_b & ~hit_a, np.where((ex_a & ~ex_b)[:, None], hit_a & ~hit_b, False))
    scored = ((va >= 0) & (va <= 2) & (vb >= 0) & (vb <= 2))[:, None]  # favorable, review or unfavorable in both
    capped = np.where(scored & (vb > va)[:, None], cap_b & ~cap_a, np.where(scored & (vb < va)[:, None], cap_a & ~cap_b, False))
    has_flip, flip_j = _first(flip)
    has_cap, cap_j = _first(capped)
    has_flip, flip_j, cap_kind = has_flip | has_cap, np.where(has_flip, flip_j, cap_j), np.where(has_flip, EXCLUSION, CAP)
    has_nd, nd_j = _first(miss_a != miss_b)
    big_j = np.abs(pts).argmax(axis=1)
    moved = np.abs(pts[np.arange(n), big_j]) > 0
    j = np.where(has_flip, flip_j, np.where(has_nd, nd_j, big_j))
    gone = miss_b[np.arange(n), nd_j]  # the data went missing (else: it appeared)
    kind = np.where(has_flip, cap_kind, np.where(has_nd, np.where(gone, NO_DATA, NEW_DATA),
                                                  np.where(moved, CONTRIBUTION, ""))).astype(object)
    named = np.asarray(names, dtype=object)[j]
    named[kind == ""] = ""
    points = np.where(kind == CONTRIBUTION, pts[np.arange(n), j], np.nan)
    return Causes(criterion=named, kind=kind, points=points)


__all__ = ["Causes", "causes", "excluded_by", "criterion_names", "EXCLUSION", "CAP", "NO_DATA", "NEW_DATA", "CONTRIBUTION"]
