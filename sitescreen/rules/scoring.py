"""Scores and verdicts from measurements: exclusions, transforms, weights, reasons in words.

Columns (documented once): ``m_<criterion>`` the measurement in physical units, ``s_<criterion>``
the 0–1 suitability, ``score`` 0–100 (weighted mean of the evaluated criteria's suitabilities,
weights renormalised over the criteria that were evaluated; 0 when excluded; NaN when incomplete),
``verdict`` one of :data:`~sitescreen.rules.verdicts.VERDICTS`, ``f_<criterion>`` the feature behind
the measurement and its layer (for criteria measured against features; empty where none), ``parts_<criterion>``
what an overlap is made of (its largest parts by name and agency, with their shares), ``reasons`` plain sentences
(worded by :mod:`sitescreen.rules.wording`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sitescreen.rules.measurement import Measurement
from sitescreen.rules.profile import Profile, effective_weights
from sitescreen.rules.verdicts import VERDICTS
from sitescreen.rules.wording import (cap_lead, cap_text, exclusion_text, feature_texts, in_sentence, measure_texts,
                                      no_suitability_texts, search_radius, suitability_texts, with_parts)


def _join(parts: list[np.ndarray], n: int) -> np.ndarray:
    """Join per-site sentences with "; ", skipping empty ones (element-wise, no loop over sites)."""
    res = np.full(n, "", dtype=object)
    for p in parts:
        both = (res != "") & (p != "")
        res = np.where(both, res + "; " + p, res + p)
    return res


def weighted_total(suitabilities, weights):
    """The weighted sum of suitabilities, criterion by criterion in the profile's order (a missing
    suitability counts 0): the score's one formula, for the real run and every sampled rescoring.
    ``suitabilities`` and ``weights`` are sequences with one entry per weighted criterion; entries
    broadcast with numpy (e.g. sites ``(n, 1)`` against sampled weights ``(m,)`` gives ``(n, m)``)."""
    total = 0.0
    for s, w in zip(suitabilities, weights):
        total = total + np.where(np.isnan(s), 0.0, s) * w
    return total


def verdict_codes(total: np.ndarray, favorable, review) -> np.ndarray:
    """The score band of ``total`` (0–1) as indices into :data:`~sitescreen.rules.verdicts.VERDICTS`
    (0 favorable, 1 review, 2 unfavorable); thresholds on the 0–100 scale, scalars or arrays that
    broadcast against ``total``."""
    t = np.asarray(total) * 100
    return np.where(t >= favorable, 0, np.where(t >= review, 1, 2)).astype(np.int8)


def capped_codes(codes: np.ndarray, floor) -> np.ndarray:
    """Verdict codes (:func:`verdict_codes`) held no better than ``floor`` (per site, the code of the
    strictest verdict cap that holds; 0 where none): a cap only ever lowers a verdict and never
    touches the score. The one rule for the run and every rescoring (sampled weights, the map's)."""
    return np.maximum(codes, np.asarray(floor, dtype=np.int8)).astype(np.int8)


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


def _capped(c, vals: np.ndarray, text_m: np.ndarray, where_feature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Criterion ``c``'s verdict cap per site: the floor code (0 where it does not hold) and the reason."""
    hit = c.capped(vals)
    text = np.full(len(vals), "", dtype=object)
    text[hit] = (f"{cap_lead(c.cap[0])} by {c.name}: {in_sentence(c.label)} is " + text_m[hit]
                 + f" ({cap_text(c.cap[0], c.cap_condition(), c.unit)})" + where_feature[hit]
                 + f" — safeguard: {c.safeguard}")
    return np.where(hit, VERDICTS.index(c.cap[0]), 0).astype(np.int8), text


def _where_feature(c, m: Measurement, n: int, cols: dict[str, np.ndarray]) -> np.ndarray:
    """`` (feature name)`` per site where the measurement names one (and its f_ column in ``cols``)."""
    where_feature = np.full(n, "", dtype=object)
    if m.feature is not None:
        feature = feature_texts(m.feature, m.feature_layer)
        has = feature != ""
        where_feature[has] = " (" + feature[has] + ")"
        cols[c.feature_column] = pd.array(np.where(has, feature, None), dtype="str")  # text, missing where none
    return where_feature


def _excluded_text(c, hit: np.ndarray, text_m: np.ndarray, where_feature: np.ndarray) -> np.ndarray:
    text = np.full(len(hit), "", dtype=object)
    text[hit] = (f"excluded by {c.name}: {in_sentence(c.label)} is " + text_m[hit]
                 + f" ({exclusion_text(c.exclude_text(), c.unit)})" + where_feature[hit] + f" — safeguard: {c.safeguard}")
    return text


@dataclass(frozen=True)
class Scored:
    """A scored frame (:func:`score`) and, per criterion with a verdict cap, how many sites the cap
    held below the verdict their score gives (``held``: the manifest's ``sites_held``)."""
    frame: pd.DataFrame
    held: Mapping[str, int]


def score(sites: pd.DataFrame, profile: Profile, measures: dict[str, Measurement]) -> pd.DataFrame:
    """A new frame: ``sites`` plus m_/s_ columns, score, verdict and reasons."""
    return scored(sites, profile, measures).frame


def scored(sites: pd.DataFrame, profile: Profile, measures: dict[str, Measurement]) -> Scored:
    """:func:`score`'s frame with the sites each verdict cap held (:class:`Scored`)."""
    n = len(sites)
    out = sites.copy()
    cols: dict[str, np.ndarray] = {}
    weights = effective_weights(profile, [c.name for c in profile.criteria if measures[c.name].evaluated])
    excluded = np.zeros(n, dtype=bool)
    incomplete = np.zeros(n, dtype=bool)
    weighted_s, weighted_w = [], []
    excl_reasons, nodata_reasons, low_reasons, cap_reasons = [], [], [], []
    floor = np.zeros(n, dtype=np.int8)  # per site: the best verdict code its caps allow (0: no cap)
    cap_codes: dict[str, np.ndarray] = {}  # per criterion with a cap: its floor code per site
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
        if m.parts is not None:  # what the value is made of, in every sentence that states it
            cols[c.parts_column] = pd.array(np.where(m.parts != "", m.parts, None), dtype="str")
            text_m = with_parts(text_m, m.parts)
        where_feature = _where_feature(c, m, n, cols)
        if c.exclude is not None:
            hit = c.excluded(vals) & ~is_na
            excluded |= hit
            excl_reasons.append(_excluded_text(c, hit, text_m, where_feature))
        if c.cap is not None:
            code, text = _capped(c, vals, text_m, where_feature)
            floor, cap_codes[c.name] = np.maximum(floor, code), code
            cap_reasons.append(text)
        needs_data = c.weight > 0 or c.exclude is not None or c.cap is not None
        if needs_data:
            text = np.full(n, "", dtype=object)
            reason = m.nodata_reason if m.nodata_reason is not None else np.full(n, "", dtype=object)
            text[is_na] = f"no data for {c.name}: " + np.where(reason[is_na] != "", reason[is_na], "no value").astype(str)
            text[unscored] = f"no data for {c.name}: " + no_suitability_texts(text_m[unscored])
            nodata_reasons.append(text)
            incomplete |= is_na | unscored
        if c.weight > 0:
            s = cols[c.score_column]
            weighted_s.append(s)
            weighted_w.append(weights[c.name])
            low = (s < 0.5) & ~np.isnan(s)
            text = np.full(n, "", dtype=object)
            text[low] = (f"{c.name}: {in_sentence(c.label)} " + text_m[low] + where_feature[low]
                         + " → suitability " + suitability_texts(s[low]))
            low_reasons.append(text)
    incomplete &= ~excluded
    total = np.zeros(n) + weighted_total(weighted_s, weighted_w)
    codes = verdict_codes(total, profile.favorable, profile.review)
    verdict = np.asarray(VERDICTS, dtype=object)[capped_codes(codes, floor)]
    held = {name: int(((code > codes) & ~excluded & ~incomplete).sum()) for name, code in cap_codes.items()}
    verdict[incomplete] = "incomplete"
    verdict[excluded] = "excluded"
    final = np.round(total * 100, 4)
    final[excluded] = 0.0
    final[incomplete] = np.nan
    for k, v in cols.items():
        out[k] = v
    out["score"] = final
    out["verdict"] = verdict
    cap_reasons = [np.where(excluded | incomplete, "", t) for t in cap_reasons]
    reasons = _join(excl_reasons + nodata_reasons + cap_reasons + low_reasons, n)
    ok = reasons == ""
    reasons[ok & (verdict == "favorable")] = "clears every exclusion; all weighted criteria score 0.5 or better"
    reasons[ok & (verdict != "favorable")] = "clears every exclusion; no single criterion scores below 0.5"
    out["reasons"] = reasons
    front = ["site_id", "name", "verdict", "score", "reasons"]
    rest = [c for c in out.columns if c not in front and c != out.geometry.name] if hasattr(out, "geometry") else [c for c in out.columns if c not in front]
    order = front + rest + ([out.geometry.name] if hasattr(out, "geometry") else [])
    return Scored(frame=out[order], held=held)
