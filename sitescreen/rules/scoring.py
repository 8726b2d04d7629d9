"""Scores and verdicts from measurements: exclusions, transforms, weights, reasons in words.

Columns (documented once): ``m_<criterion>`` the measurement in physical units, ``s_<criterion>``
the 0–1 suitability, ``score`` 0–100 (weighted mean of the evaluated criteria's suitabilities,
weights renormalised over the criteria that were evaluated; 0 when excluded; NaN when incomplete),
``verdict`` one of :data:`~sitescreen.rules.verdicts.VERDICTS`, ``reasons`` plain sentences
(worded by :mod:`sitescreen.rules.wording`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sitescreen.rules.measurement import Measurement
from sitescreen.rules.profile import Profile, effective_weights
from sitescreen.rules.wording import exclusion_text, measure_texts, no_suitability_texts, search_radius, suitability_texts


def _join(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Join per-site sentences with "; ", skipping empty ones (element-wise, no loop over sites)."""
    res = np.full(n, "", dtype=object)
    for p in parts:
        both = (res != "") & (p != "")
        res = np.where(both, res + "; " + p, res + p)
    return res


def _missing(vals: np.ndarray) -> np.ndarray:
    return pd.isna(pd.Series(vals, dtype=object)).to_numpy() if vals.dtype == object else np.isnan(vals)


def _unscored(c, vals: np.ndarray, s: np.ndarray | None) -> np.ndarray:
    """A weighted criterion's sites with a measurement but no suitability (a categorical value that is
    not in the table, which has no default): they have no data for it, like a missing measurement."""
    if c.weight <= 0 or s is None:
        return np.zeros(len(vals), dtype=bool)
    return np.isnan(np.asarray(s, dtype=float)) & ~_missing(vals)


def without_data(c, result: pd.DataFrame) -> np.ndarray:
    """Per site of a scored ``result``: no data for criterion ``c`` (no measurement, or for a weighted
    criterion no suitability). The one count behind the manifest's ``sites_without_data``, the
    report and the verdict ``incomplete``."""
    vals = np.asarray(result[c.measure_column])
    s = result[c.score_column].to_numpy(dtype=float) if c.scored and c.score_column in result else None
    return _missing(vals) | _unscored(c, vals, s)


def score(sites: pd.DataFrame, profile: Profile, measures: dict[str, Measurement]) -> pd.DataFrame:
    """A new frame: ``sites`` plus m_/s_ columns, score, verdict and reasons."""
    n = len(sites)
    out = sites.copy()
    cols: dict[str, np.ndarray] = {}
    weights = effective_weights(profile, [c.name for c in profile.criteria if measures[c.name].evaluated])
    excluded = np.zeros(n, dtype=bool)
    incomplete = np.zeros(n, dtype=bool)
    total = np.zeros(n)
    excl_reasons, nodata_reasons, low_reasons = [], [], []
    for c in profile.criteria:
        m = measures[c.name]
        vals = m.values
        cols[c.measure_column] = vals
        is_na = _missing(vals)
        if c.scored:
            s = np.asarray(c.score(vals), dtype=float)
            cols[c.score_column] = s
        unscored = _unscored(c, vals, cols.get(c.score_column) if c.scored else None)
        if not m.evaluated:
            continue
        text_m = measure_texts(vals, c.unit, search_radius(c.params))  # once per criterion, for every sentence below
        where_feature = np.full(n, "", dtype=object)
        if m.feature is not None:
            has = m.feature != ""
            layer = m.feature_layer if m.feature_layer is not None else np.full(n, "", dtype=object)
            where_feature[has] = " (" + m.feature[has].astype(str) + np.where(layer[has] != "", ", layer " + layer[has].astype(str), "") + ")"
        if c.exclude is not None:
            hit = c.excluded(vals) & ~is_na
            excluded |= hit
            text = np.full(n, "", dtype=object)
            text[hit] = (f"excluded by {c.name}: {c.label.lower()} is " + text_m[hit]
                         + f" ({exclusion_text(c.exclude_text(), c.unit)})" + where_feature[hit] + f" — safeguard: {c.safeguard}")
            excl_reasons.append(text)
        needs_data = c.weight > 0 or c.exclude is not None
        if needs_data:
            text = np.full(n, "", dtype=object)
            reason = m.nodata_reason if m.nodata_reason is not None else np.full(n, "", dtype=object)
            text[is_na] = f"no data for {c.name}: " + np.where(reason[is_na] != "", reason[is_na], "no value").astype(str)
            text[unscored] = f"no data for {c.name}: " + no_suitability_texts(text_m[unscored])
            nodata_reasons.append(text)
            incomplete |= is_na | unscored
        if c.weight > 0:
            s = cols[c.score_column]
            total += np.where(np.isnan(s), 0.0, s) * weights[c.name]
            low = (s < 0.5) & ~np.isnan(s)
            text = np.full(n, "", dtype=object)
            text[low] = (f"{c.name}: {c.label.lower()} " + text_m[low] + where_feature[low]
                         + " → suitability " + suitability_texts(s[low]))
            low_reasons.append(text)
    incomplete &= ~excluded
    verdict = np.where(total * 100 >= profile.favorable, "favorable",
                       np.where(total * 100 >= profile.review, "review", "unfavorable")).astype(object)
    verdict[incomplete] = "incomplete"
    verdict[excluded] = "excluded"
    final = np.round(total * 100, 4)
    final[excluded] = 0.0
    final[incomplete] = np.nan
    for k, v in cols.items():
        out[k] = v
    out["score"] = final
    out["verdict"] = verdict
    reasons = _join(excl_reasons + nodata_reasons + low_reasons, n)
    ok = reasons == ""
    reasons[ok & (verdict == "favorable")] = "clears every exclusion; all weighted criteria score 0.5 or better"
    reasons[ok & (verdict != "favorable")] = "clears every exclusion; no single criterion scores below 0.5"
    out["reasons"] = reasons
    front = ["site_id", "name", "verdict", "score", "reasons"]
    rest = [c for c in out.columns if c not in front and c != out.geometry.name] if hasattr(out, "geometry") else [c for c in out.columns if c not in front]
    order = front + rest + ([out.geometry.name] if hasattr(out, "geometry") else [])
    return out[order]
