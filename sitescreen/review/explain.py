"""One site's breakdown from a finished run: every measurement, score, weight and rule.

A site is looked up by its id, or by its name (case-insensitive, exact); an unknown or ambiguous
name is an error that names the close or the clashing sites.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd

from sitescreen.errors import SitescreenError
from sitescreen.outputs.files import read_results
from sitescreen.rules.profile import feature_column, parts_column
from sitescreen.values import plain, text, text_values
from sitescreen.rules.reviewwords import merge_text
from sitescreen.rules.wording import (NOT_EVALUATED, measure_text, measured_text, points, points_text, rule_text,
                                      score_text, search_radius, suitability_text, weight_text, with_parts)


def find_site(sites: pd.DataFrame, key: str, where) -> int:
    """The position of the site whose id is ``key``, else of the one site named ``key`` (ignoring case)."""
    ids = text_values(sites["site_id"])
    hit = np.flatnonzero(ids == str(key))
    if hit.size:
        return int(hit[0])
    names = pd.Series(text_values(sites["name"]), dtype=object)
    folded = names.str.casefold()
    hit = np.flatnonzero((folded == str(key).casefold()).to_numpy())
    if hit.size == 1:
        return int(hit[0])
    if hit.size > 1:
        listed = ", ".join(ids[hit[:5]]) + (f" and {hit.size - 5} more" if hit.size > 5 else "")
        raise SitescreenError(f"{where}: {hit.size} sites are named {key!r} (site ids {listed}); "
                              f"explain one of them by its site id")
    raise SitescreenError(f"{where}: no site with id {key!r} and none named so ({len(sites)} sites; "
                          f"{_close(names, folded, str(key), ids)})")


def _close(names: pd.Series, folded: pd.Series, key: str, ids: np.ndarray) -> str:
    """The names closest to ``key`` (containing it, else alike), or a sample of the ids."""
    near = names[folded.str.contains(key.casefold(), regex=False)].unique()[:5].tolist()
    if not near:
        near = difflib.get_close_matches(key, names.unique().tolist(), n=5, cutoff=0.6)
    if near:
        return "close names: " + ", ".join(repr(n) for n in near)
    return "e.g. " + ", ".join(ids[:5])


def explain_site(out_dir: str | Path, site_id: str) -> dict:
    """The breakdown of the site whose id (or name) is ``site_id``."""
    sites, manifest = read_results(out_dir)
    r = sites.iloc[find_site(sites, site_id, out_dir)]
    crits = []
    for c in manifest.criteria:
        value = plain(r.get(c.measure_column))
        score = plain(r.get(c.score_column)) if c.score_column else None
        score = None if score is None else float(score)
        effective = c.effective_weight
        part = points(score, effective)
        measured = measure_text(value, c.unit, search_radius(c.params)) if c.evaluated else NOT_EVALUATED
        measured = with_parts([measured], [r.get(parts_column(c.name))])[0] if c.evaluated else measured
        feature = text(r.get(feature_column(c.name)))
        crits.append({"name": c.name, "label": c.label, "measurement": value,
                      "measurement_text": measured, "unit": c.unit, "score": score,
                      "suitability_text": suitability_text(score), "weight": c.weight,
                      "effective_weight": effective, "effective_weight_text": weight_text(effective),
                      "points": part, "points_text": points_text(part),
                      "feature": feature, "measured": measured_text(c.label, feature, tuple(c.layers)),
                      "rule": rule_text(c.transform, c.exclusion, c.unit, c.cap),
                      "safeguard": c.safeguard, "source": c.source, "evaluated": c.evaluated,
                      "note": c.note})
    score = plain(r["score"])
    parts = [c["points"] for c in crits if c["points"] is not None]
    return {"site_id": text(r["site_id"]), "name": text(r["name"]), "verdict": text(r["verdict"]),
            "score": None if score is None else float(score), "score_text": score_text(score),
            "points_total": float(sum(parts)) if parts else None,
            "reasons": text(r["reasons"]),
            "record_ids": text(r.get("record_ids")), "merges": _merges(manifest, text(r["site_id"])), "criteria": crits, "profile": manifest.profile.name,
            "profile_sha256": manifest.profile.sha256, "crs": manifest.crs}


def _merges(manifest, site_id: str) -> list[dict]:
    """The merges of duplicate records that made this site (the manifest's ``sites.merges``), with their words."""
    from dataclasses import asdict
    return [{**asdict(m), "text": merge_text(m)} for m in manifest.sites.merges or () if m.site_id == site_id]
