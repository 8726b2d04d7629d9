"""One site's breakdown from a finished run: every measurement, score, weight and rule."""

from __future__ import annotations

from pathlib import Path

from sitescreen.errors import SitescreenError
from sitescreen.outputs.htmlsafe import format_measure
from sitescreen.outputs.files import read_results
from sitescreen.values import plain, text, text_values
from sitescreen.run.record import CriterionRecord


def _rule_text(c: CriterionRecord) -> str:
    parts = []
    if c.exclusion:
        parts.append(f"exclude if {c.exclusion}")
    t = c.transform
    if t:
        body = ", ".join(f"{k}={v}" for k, v in t.items() if k != "kind")
        parts.append(f"{t['kind']} ({body})")
    if not parts:
        parts.append("informational")
    return "; ".join(parts)


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
        crits.append({"name": c.name, "label": c.label, "measurement": value,
                      "measurement_text": format_measure(value, c.unit) if c.evaluated else "not evaluated",
                      "unit": c.unit, "score": score, "weight": c.weight,
                      "effective_weight": c.effective_weight, "rule": _rule_text(c),
                      "safeguard": c.safeguard, "source": c.source, "evaluated": c.evaluated,
                      "note": c.note})
    score = plain(r["score"])
    return {"site_id": text(r["site_id"]), "name": text(r["name"]), "verdict": text(r["verdict"]),
            "score": None if score is None else float(score), "reasons": text(r["reasons"]),
            "record_ids": text(r.get("record_ids")), "criteria": crits, "profile": manifest.profile.name,
            "profile_sha256": manifest.profile.sha256, "crs": manifest.crs}
