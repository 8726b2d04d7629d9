"""The review report: one self-contained HTML page a reviewer reads, prints and signs off.

Sections: summary counts by verdict, the score distribution and each criterion's contribution
(inline SVG, :mod:`sitescreen.outputs.charts`), the ranked sites, each site's breakdown, the
profile's rules with their safeguards and sources, and the run manifest
(:mod:`sitescreen.outputs.reportmanifest`: inputs with hashes, CRS, repairs, coverage, versions,
timings). No network resource; the one script is the live re-weighting panel
(:mod:`sitescreen.outputs.reportreweight`: the map's sliders, recomputing the page's verdicts and
scores), hidden in print; a print stylesheet makes it a clean PDF from any browser. Every value
from the data or the profile is escaped.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.outputs.charts import contributions, score_histogram, verdict_bar, without_data_count
from sitescreen.outputs.reportsensitivity import stability_section
from sitescreen.outputs.htmlsafe import esc
from sitescreen.outputs.overview import overview_map
from sitescreen.outputs.reportdecisions import DECISIONS_COLUMN, decisions_html
from sitescreen.outputs.reportmanifest import manifest_section
from sitescreen.outputs.reportreweight import reweight_parts
from sitescreen.outputs.sources import sources_section
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import OTHER_COLOR, meanings, thresholds
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.wording import (NOT_EVALUATED, not_evaluated_text, points, points_text, exclusion_text, held_text, limits_text, measure_text, number, score_text,
                                      search_radius, suitability_text, transform_text, weight_text, with_parts)
from sitescreen.rules.profile import parts_column
from sitescreen.rules.reviewwords import crs_phrase, shared_outlines_text, site_chain
from sitescreen.values import is_missing, text, text_values
from sitescreen.record.manifest import RunRecord, Tool, as_record

log = logging.getLogger(__name__)

__all__ = ["build_report", "breakdown_sites", "RANKED_LIMIT", "BREAKDOWN_LIMIT", "ATTENTION_LIMIT"]

#: Rows of the ranked table and site breakdowns written into the page (the rest: sites.csv).
RANKED_LIMIT = 2000
BREAKDOWN_LIMIT = 300
#: Excluded and incomplete sites whose breakdowns the page holds besides those (all of them in most runs).
ATTENTION_LIMIT = 1000


# ------------------------------------------------------------------------------------------
# Data preparation


def _criteria(manifest: RunRecord | None, sites: pd.DataFrame) -> list[dict[str, Any]]:
    if manifest is None or not manifest.criteria:  # results without a record: the columns, unweighted
        return [{"name": c[2:], "label": c[2:].replace("_", " "), "unit": "", "kind": "", "weight": 0.0,
                 "effective": 0.0, "evaluated": True, "measure": c, "score": f"s_{c[2:]}", "rule": transform_text(None, ""),
                 "exclusion": exclusion_text(None, ""), "radius": None, "without_data": None, "safeguard": "", "source": "", "note": "", "roles": ""}
                for c in sites.columns if c.startswith("m_")]
    out = []
    for c in manifest.criteria:
        out.append({
            "name": c.name, "label": c.label, "unit": c.unit,
            "kind": c.kind, "weight": c.weight, "effective": c.effective_weight, "evaluated": c.evaluated,
            "measure": c.measure_column,
            "score": c.score_column or f"s_{c.name}",
            "rule": transform_text(c.transform, c.unit),
            "exclusion": limits_text(c.exclusion, c.unit, c.cap), "radius": search_radius(c.params),
            "held": held_text(c.cap.verdict, c.sites_held) if c.cap is not None else "",
            "without_data": c.sites_without_data,
            "safeguard": c.safeguard, "source": c.source,
            "note": c.note, "roles": ", ".join(c.roles),
        })
    return out


def _ranked(sites: pd.DataFrame) -> pd.DataFrame:
    """Sites best first: by score (unscored last), then by id."""
    score = pd.to_numeric(sites["score"], errors="coerce")
    order = np.lexsort((text_values(sites["site_id"]), -score.fillna(-1).to_numpy()))
    return sites.iloc[order]


def _counts(sites: pd.DataFrame) -> dict[str, int]:
    vc = sites["verdict"].astype(str).value_counts()
    return {v: int(vc.get(v, 0)) for v in VERDICT_ORDER}


# ------------------------------------------------------------------------------------------
# Sections


def _badge(verdict: str) -> str:
    color = VERDICT_COLORS.get(verdict, OTHER_COLOR)
    return f'<span class="badge" style="background:{color}">{esc(VERDICT_LABELS.get(verdict, verdict))}</span>'


def _reasons(text: Any) -> list[str]:
    if is_missing(text):
        return []
    return [p.strip() for p in str(text).split("; ") if p.strip()]


def _summary(sites: pd.DataFrame, manifest: RunRecord | None, counts: Mapping[str, int], overview: str = "") -> str:
    meaning = meanings(*_thresholds(manifest))
    cards = "".join(
        f'<div class="card" style="border-top-color:{VERDICT_COLORS[v]}"><div class="num">{counts[v]:,}</div>'
        f'<div class="what">{esc(VERDICT_LABELS[v])}</div><div class="muted small">{esc(meaning[v])}</div></div>'
        for v in VERDICT_ORDER)
    sinfo = manifest.sites if manifest is not None else None
    facts = []
    if sinfo is not None and sinfo.chain():
        facts.append(site_chain(sinfo.chain()))
    if sinfo is not None and sinfo.sites_sharing_outlines:
        facts.append(shared_outlines_text(sinfo.sites_sharing_outlines, sinfo.shared_outlines))
    if sinfo is not None and sinfo.radius_m is not None:
        facts.append(f"footprint radius {number(sinfo.radius_m)} m")
    fact_line = f'<p class="muted">{esc(" · ".join(facts))}</p>' if facts else ""
    return (f'<section id="summary"><h2>Summary</h2><p><b>{len(sites):,}</b> sites screened.</p>'
            f'<div class="cards">{cards}</div>{verdict_bar(counts)}{fact_line}{overview}</section>')


def _ranked_table(ranked: pd.DataFrame, with_links: set[str]) -> str:
    rows = []
    for rank, (_, r) in enumerate(ranked.head(RANKED_LIMIT).iterrows(), start=1):
        sid = text(r["site_id"])
        reasons = _reasons(r.get("reasons"))
        reason_text = esc(reasons[0] if reasons else "") + (f' <span class="muted">(+{len(reasons) - 1} more)</span>' if len(reasons) > 1 else "")
        name = esc(r["name"]) if not is_missing(r["name"]) else '<span class="muted">(unnamed)</span>'
        ident = f'<a href="#site-{esc(_anchor(sid))}">{esc(sid)}</a>' if sid in with_links else esc(sid)
        rows.append(f"<tr><td class=num>{rank}</td><td>{ident}</td><td>{name}</td><td>{_badge(str(r['verdict']))}</td>"
                    f"<td class=num>{score_text(r['score'])}</td><td class=reasons>{reason_text}</td></tr>")
    more = ""
    if len(ranked) > RANKED_LIMIT:
        more = (f'<p class="muted">Showing the first {RANKED_LIMIT:,} of {len(ranked):,} sites; every site is in '
                f"sites.csv, sites.gpkg and sites.parquet.</p>")
    return ('<section id="ranking"><h2>Sites ranked by score</h2>'
            '<table class="ranked"><thead><tr><th>#</th><th>Site</th><th>Name</th><th>Verdict</th><th>Score</th>'
            f'<th>Reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{more}</section>')


def _anchor(site_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else f"_{ord(ch):x}" for ch in site_id)


def breakdown_sites(ranked: pd.DataFrame) -> pd.DataFrame:
    """The sites whose breakdown the report shows, in ranked order: every excluded and every
    incomplete site (up to :data:`ATTENTION_LIMIT` of them), and the best-ranked others up to
    :data:`BREAKDOWN_LIMIT`."""
    return ranked.iloc[breakdown_positions(ranked)]


def breakdown_positions(ranked: pd.DataFrame) -> np.ndarray:
    """The positions in ``ranked`` of :func:`breakdown_sites`' sites."""
    v = ranked["verdict"].astype(str).to_numpy()
    always = np.isin(v, ("excluded", "incomplete"))
    keep = always & (np.cumsum(always) <= ATTENTION_LIMIT)
    others = ~always
    keep |= others & (np.cumsum(others) <= BREAKDOWN_LIMIT)
    return np.flatnonzero(keep)


def _breakdowns(ranked: pd.DataFrame, criteria: list[dict[str, Any]]) -> str:
    cards = []
    shown = breakdown_sites(ranked)
    skipped = [c for c in criteria if not c["evaluated"]]
    for _, r in shown.iterrows():
        sid = text(r["site_id"])
        rows = []
        for c in criteria:
            m = r.get(c["measure"]) if c["measure"] in r.index else None
            s = r.get(c["score"]) if c["score"] in r.index else None
            contrib = points_text(points(s, c["effective"]) if r["verdict"] != "excluded" else None)  # as explain
            measured = NOT_EVALUATED if not c["evaluated"] else with_parts([measure_text(m, c["unit"], c["radius"])],
                                                                          [r.get(parts_column(c["name"]))])[0]
            cls = ' class="nodata"' if c["evaluated"] and is_missing(m) else ""
            rule = esc(c["rule"]) + (f'<br><span class="excl">{esc(c["exclusion"])}</span>' if c["exclusion"] else "")
            rows.append(f"<tr{'' if c['evaluated'] else ' class=skipped'}><td>{esc(c['label'])}</td><td class=num>"
                        f"<span{cls}>{esc(measured)}</span></td><td class=num>{esc(suitability_text(s))}</td>"
                        f"<td class=num>{esc(weight_text(c['effective']))}</td>"
                        f"<td class=num>{contrib}</td><td class='small rule'>{rule}</td></tr>")
        reasons = "".join(f"<li>{esc(x)}</li>" for x in _reasons(r.get("reasons")))
        rec = r.get("record_ids")
        merged = not is_missing(rec) and str(rec) and str(rec) != sid  # a site of more than its own record
        rec_line = f'<p class="small muted records">Records: {esc(rec)}</p>' if merged else ""
        rec_line += decisions_html(r.get(DECISIONS_COLUMN))
        name = esc(r["name"]) if not is_missing(r["name"]) else "(unnamed)"
        cards.append(
            f'<article class="site" id="site-{esc(_anchor(sid))}"><header><h3>{name} <span class="muted">{esc(sid)}</span></h3>'
            f'<div>{_badge(str(r["verdict"]))} <span class="score">{score_text(r["score"])}</span>'
            f'<span class="muted">/100</span></div></header>'
            f'{f"<ul class=reasons>{reasons}</ul>" if reasons else ""}'
            '<table class="crit"><thead><tr><th>Criterion</th><th>Measured</th><th>Suitability</th><th>Effective weight</th>'
            f'<th>Points</th><th class=rule>Rule</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{rec_line}</article>')
    notes = []
    if len(shown) < len(ranked):
        notes.append(f"Breakdowns of {len(shown):,} of {len(ranked):,} sites: the excluded and incomplete sites (up to "
                     f"{ATTENTION_LIMIT:,}) and the best-ranked others (up to {BREAKDOWN_LIMIT:,}); "
                     "<code>sitescreen explain</code> gives any other site's breakdown.")
    if skipped:
        notes.append("Not evaluated in this run (see Profile rules; left out of the printed breakdowns): "
                     + esc(", ".join(c["label"] for c in skipped)) + ".")
    more = "".join(f'<p class="muted">{n}</p>' for n in notes)
    return f'<section id="sites"><h2>Site breakdowns</h2>{more}<div class="site-grid">{"".join(cards)}</div></section>'


def _thresholds(manifest: RunRecord | None) -> tuple[float, float]:
    """(favorable, review) score thresholds of the run (the default profile's without a record)."""
    return thresholds(manifest.profile.verdicts if manifest is not None else None)


def _without_cell(c: Mapping[str, Any], sites: pd.DataFrame) -> str:
    """Sites without data for a criterion: the run record's count, the one the scores chart shows too."""
    return f"{without_data_count(sites, c):,}" if c["evaluated"] else NOT_EVALUATED


def _rules(manifest: RunRecord | None, criteria: list[dict[str, Any]], sites: pd.DataFrame) -> str:
    prof = manifest.profile if manifest is not None else None
    head = []
    for key, label in (("name", "Profile"), ("description", "Description"), ("path", "File"), ("sha256", "SHA-256")):
        if prof is not None and getattr(prof, key):
            val = f"<code>{esc(getattr(prof, key))}</code>" if key in ("path", "sha256") else esc(getattr(prof, key))
            head.append(f"<tr><th>{label}</th><td>{val}</td></tr>")
    if prof is not None:
        head.append(f"<tr><th>Verdicts</th><td>favorable ≥ {esc(number(prof.verdicts.favorable))}, "
                    f"review ≥ {esc(number(prof.verdicts.review))}, below: unfavorable; any exclusion: "
                    "excluded; no data for a weighted criterion: incomplete</td></tr>")
    rows = []
    for c in criteria:
        status = "" if c["evaluated"] else f'<br><span class="nodata">{esc(not_evaluated_text(c["note"]))}</span>'
        rows.append(f"<tr><td><b>{esc(c['label'])}</b><br><code class=small>{esc(c['name'])}</code>{status}</td>"
                    f"<td class=small>{esc(c['kind'])}{' · ' + esc(c['roles']) if c['roles'] else ''}"
                    f"{' · ' + esc(c['unit']) if c['unit'] else ''}</td>"
                    f"<td class=small>{esc(c['rule'])}</td><td class=small><span class=excl>{esc(c['exclusion'])}</span>"
                    f"{'<br>' + esc(c['held']) if c.get('held') else ''}</td>"
                    f"<td class=num>{esc(weight_text(c['weight']))}</td>"
                    f"<td class=num>{_without_cell(c, sites)}</td>"
                    f"<td class=small>{esc(c['safeguard'])}</td><td class=small>{esc(c['source'])}</td></tr>")
    return (f'<section id="rules"><h2>Profile rules</h2><table class="kv">{"".join(head)}</table>'
            '<table class="rules"><thead><tr><th>Criterion</th><th>Measures</th><th>Suitability rule</th>'
            '<th>Exclusion</th><th>Profile weight</th><th class=num>Sites without data</th><th>Safeguard</th><th>Source</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></section>')


# ------------------------------------------------------------------------------------------


_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9dee4; --soft:#f5f7fa; }
* { box-sizing: border-box; }
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fff; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 32px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; line-height: 1.25; }
h2 { font-size: 18px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 18px 0 8px; }
.muted { color: var(--muted); } .small { font-size: 12px; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
code.hash { font-size: 11px; }
nav { margin: 14px 0 0; font-size: 13px; } nav a { margin-right: 14px; color: #1d4ed8; text-decoration: none; }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 10px 0 12px; }
.card { flex: 1 1 150px; border: 1px solid var(--line); border-top: 5px solid; border-radius: 6px; padding: 10px 12px; }
.card .num { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .what { font-weight: 600; }
.badge { color: #fff; font-size: 11px; font-weight: 650; letter-spacing: .04em; text-transform: uppercase;
         padding: 2px 8px; border-radius: 10px; white-space: nowrap; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
thead th { font-size: 12px; color: var(--muted); border-bottom: 1.5px solid #9aa5b1; background: var(--soft); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 190px; color: var(--muted); font-weight: 600; font-size: 13px; background: none; }
table.ranked td.reasons { font-size: 12.5px; color: #3e4c59; }
.chart { max-width: 100%; height: auto; display: block; margin: 8px 0 4px; }
.chart .grid { stroke: #e4e7eb; } .chart .axis { stroke: #52606d; } .chart .threshold { stroke: #1f2933; stroke-dasharray: 4 3; }
.chart .tick { font-size: 11px; fill: #52606d; } .chart .label { font-size: 12px; fill: #1f2933; }
.chart .possible { fill: #e4e7eb; } .chart .contrib { fill: #3b6ea8; }
article.site { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 12px 0; }
@media screen { article.site { contain: content; } }  /* a card's changes stay in its box: a re-weight moves in a big report re-lay out little */
article.site header { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; }
article.site h3 { margin: 0; overflow-wrap: anywhere; }
article.site .score { font-size: 20px; font-weight: 700; margin-left: 6px; font-variant-numeric: tabular-nums; }
ul.reasons { margin: 6px 0; padding-left: 20px; font-size: 13px; }
table.crit td, table.crit th { font-size: 12.5px; padding: 4px 6px; }
.excl { color: #9b1c1c; } .nodata { color: #9b6a00; font-style: italic; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
figure.overview { margin: 14px 0 0; } figure.overview svg { width: 100%; height: auto; border: 1px solid var(--line); }
.ov-key { margin-right: 12px; white-space: nowrap; } .ov-key i { display: inline-block; width: 10px; height: 10px;
  border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
@media print {
  @page { size: letter; margin: 12mm 10mm; }
  body { font-size: 9.5px; line-height: 1.3; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h1 { font-size: 17px; } h2 { font-size: 13px; margin: 12px 0 6px; padding-bottom: 3px; } h3 { font-size: 11px; }
  th, td { padding: 1.5px 4px; } thead th { font-size: 8.5px; }
  table.ranked td, table.ranked td.reasons { font-size: 8.5px; }
  table.rules td, table.inputs td, table.sources td, table.kv td, table.kv th { font-size: 8.5px; }
  .card { padding: 4px 8px; } .card .num { font-size: 16px; }
  figure.overview svg { max-height: 95mm; }
  .site-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 8px; }
  article.site { padding: 3px 6px; margin: 0; border-radius: 4px; }
  article.site h3 { font-size: 10px; } article.site .score { font-size: 12px; }
  article.site .badge { font-size: 7.5px; padding: 1px 5px; }
  ul.reasons { font-size: 8.5px; margin: 2px 0; padding-left: 14px; }
  table.crit { margin: 2px 0; } table.crit td, table.crit th { font-size: 8px; padding: 1px 3px; }
  table.crit .rule, table.crit tr.skipped { display: none; }  /* rules and what was not evaluated: said once, above */
  table.crit td:first-child { max-width: 44mm; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  table.crit thead th { white-space: nowrap; }
  p.records { font-size: 8px; margin: 1px 0 0; }
  table.ranked td { white-space: nowrap; max-width: 70mm; overflow: hidden; text-overflow: ellipsis; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; margin-top: 18px; }
  #ranking, #sites, #rules, #sources, #manifest { break-before: page; }
  article.site, tr, .cards, .chart { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
  article.site { border-color: #bbb; }
}
"""


def build_report(sites: gpd.GeoDataFrame | pd.DataFrame, manifest: RunRecord | Mapping[str, Any] | None,
                 sensitivity: pd.DataFrame | None = None, sections: tuple[str, ...] = ()) -> str:
    """The review report of a screening as one self-contained HTML page (see the module doc);
    ``manifest``: the run record (manifest data is read through :func:`sitescreen.record.manifest.as_record`);
    ``sections``: further HTML sections placed after the site breakdowns (e.g. roll-ups)."""
    manifest = as_record(manifest)
    missing = [c for c in ("site_id", "name", "verdict", "score") if c not in sites.columns]
    if missing:
        from sitescreen.errors import SitescreenError
        raise SitescreenError(f"result sites lack column(s) {', '.join(missing)}; cannot build the report")
    table = pd.DataFrame(sites.drop(columns=[sites.geometry.name]) if isinstance(sites, gpd.GeoDataFrame) else sites)
    criteria = _criteria(manifest, table)
    counts = _counts(table)
    ranked = _ranked(table)
    fav, rev = _thresholds(manifest)
    thresholds = {"favorable": fav, "review": rev}
    hist = score_histogram(table, thresholds)
    contrib_svg, contrib_rows = contributions(table, criteria)
    not_scored = counts.get("excluded", 0) + int(pd.to_numeric(table["score"], errors="coerce").isna().sum())
    contrib_table = "".join(
        f"<tr><td>{esc(label)}</td><td class=num>{'—' if math.isnan(mean) else f'{mean:.1f}'}</td>"
        f"<td class=num>{full:.1f}</td><td class=num>{nodata:,}</td></tr>" for label, mean, full, nodata in contrib_rows)
    charts = (
        '<section id="charts"><h2>Scores</h2><h3>Distribution of scores</h3>' + hist +
        f'<p class="small muted">Scored sites only; {not_scored:,} excluded or unscored sites are not shown.</p>'
        "<h3>What each criterion contributes</h3>" + contrib_svg +
        '<p class="small muted">Mean points each weighted criterion adds to the score of scored sites (dark), '
        "against the most it can add (its weight, light).</p>"
        + (f'<table class="contrib"><thead><tr><th>Criterion</th><th class=num>Mean points</th><th class=num>Maximum</th>'
           f'<th class=num>Sites without data</th></tr></thead><tbody>{contrib_table}</tbody></table>' if contrib_rows else "")
        + "</section>")
    title = str((manifest.title if manifest is not None else None) or "Site screening")
    prof = manifest.profile.name if manifest is not None else None
    tool = manifest.tool if manifest is not None else Tool(name="sitescreen", version="")
    sub = " · ".join(x for x in (f"profile {prof}" if prof else "",
                                 str((manifest.created if manifest is not None else None) or "")[:19].replace("T", " "),
                                 f"CRS {manifest.crs}" if manifest is not None and manifest.crs else "",
                                 f"measured in {crs_phrase(manifest.crs, manifest.zones)}" if manifest is not None and manifest.zones else "") if x)
    links = set(text_values(breakdown_sites(ranked)["site_id"]))
    rw_head, rw_body = reweight_parts(ranked, manifest, [c["name"] for c in criteria], breakdown_positions(ranked), RANKED_LIMIT)
    body = (
        f'<main><header><h1>{esc(title)}</h1><div class="muted">Screening review report · {esc(sub)}</div>'
        '<nav><a href="#summary">Summary</a><a href="#charts">Scores</a><a href="#ranking">Ranking</a>'
        '<a href="#sites">Site breakdowns</a><a href="#rules">Profile rules</a><a href="#sources">Sources</a><a href="#manifest">Manifest</a></nav></header>'
        + _summary(table, manifest, counts, overview_map(sites)) + charts + stability_section(sensitivity, manifest) + _ranked_table(ranked, links) + _breakdowns(ranked, criteria) + "".join(sections)
        + _rules(manifest, criteria, table) + sources_section(manifest) + manifest_section(manifest) + rw_body
        + f'<footer>Written by {esc(tool.name)} {esc(tool.version)}. '
        f"Measurements use the full geometry in {'each measuring zone’s CRS' if manifest is not None and manifest.zones else 'the run CRS'}; the numbers here are rounded for reading; "
        "the exact values are in sites.csv, sites.gpkg and sites.parquet.</footer></main>")
    log.debug("report: %d sites, %d criteria", len(table), len(criteria))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)} — review report</title><style>{_CSS}</style>{rw_head}</head><body>{body}</body></html>\n")

