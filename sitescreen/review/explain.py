"""One site's breakdown from a finished run: every measurement, score, weight and rule."""

from __future__ import annotations

from pathlib import Path

from sitescreen.errors import SitescreenError
from sitescreen.outputs.files import read_results
from sitescreen.values import plain, text, text_values
from sitescreen.rules.wording import (NOT_EVALUATED, measure_text, rule_text, score_text, search_radius,
                                      suitability_text, weight_text)


def explain_site(out_dir: str | Path, site_id: str) -> dict:
    sites, manifest = read_results(out_dir)
    ids = text_values(sites["site_id"])
    row = sites.loc[ids == str(site_id)]
    if row.empty:
        sample = ", ".join(ids[:5])
        raise SitescreenError(f"{out_dir}: no site with id {site_id!r} ({len(sites)} sites, e.g. {sample})")
    r = row.iloc[0]
    crits = []
    for c in manifest.criteria:
        value = plain(r.get(c.measure_column))
        score = plain(r.get(c.score_column)) if c.score_column else None
        score = None if score is None else float(score)
        effective = c.effective_weight
        measured = measure_text(value, c.unit, search_radius(c.params)) if c.evaluated else NOT_EVALUATED
        crits.append({"name": c.name, "label": c.label, "measurement": value,
                      "measurement_text": measured, "unit": c.unit, "score": score,
                      "suitability_text": suitability_text(score), "weight": c.weight,
                      "effective_weight": effective, "effective_weight_text": weight_text(effective),
                      "rule": rule_text(c.transform, c.exclusion, c.unit),
                      "safeguard": c.safeguard, "source": c.source, "evaluated": c.evaluated,
                      "note": c.note})
    score = plain(r["score"])
    return {"site_id": text(r["site_id"]), "name": text(r["name"]), "verdict": text(r["verdict"]),
            "score": None if score is None else float(score), "score_text": score_text(score),
            "reasons": text(r["reasons"]),
            "record_ids": text(r.get("record_ids")), "criteria": crits, "profile": manifest.profile.name,
            "profile_sha256": manifest.profile.sha256, "crs": manifest.crs}
