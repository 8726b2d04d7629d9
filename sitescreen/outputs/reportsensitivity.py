"""The report's stability section (``sitescreen sensitivity``): a table of how often each site keeps its
verdict under sampled weightings, and per site a small tornado chart of one-at-a-time swings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sitescreen.outputs.htmlsafe import esc
from sitescreen.rules.verdicts import COLORS, LABELS
from sitescreen.rules.reviewwords import stability_texts, verdict_shares
from sitescreen.rules.wording import number

FILE = "sensitivity.parquet"
TORNADO_LIMIT = 300  # sites with a tornado chart (the least stable first)


def read_sensitivity(out_dir: Path, record) -> pd.DataFrame | None:
    """sensitivity.parquet of a run folder, when the run record has a sensitivity section."""
    path = Path(out_dir) / FILE
    if record is None or getattr(record, "sensitivity", None) is None or not path.is_file():
        return None
    return pd.read_parquet(path)


#: The column :func:`with_stability` adds (what the map popup shows).
STABILITY_COLUMN = "stability"


def with_stability(sites: pd.DataFrame, out_dir: Path, record) -> pd.DataFrame:
    """``sites`` with a :data:`STABILITY_COLUMN` saying how often each site takes each verdict under
    the run's sampled weightings (empty for excluded and incomplete sites); ``sites`` itself when the
    run has no sensitivity."""
    table = read_sensitivity(out_dir, record)
    if table is None:
        return sites
    texts = pd.Series(stability_texts(table, record.sensitivity.samples), index=table["site_id"].astype(str).to_numpy())
    out = sites.copy()
    out[STABILITY_COLUMN] = sites["site_id"].astype(str).map(texts).fillna("").to_numpy(dtype=object)
    return out


def tornado(row: pd.Series, params: list[str]) -> str:
    """An inline SVG: one bar per parameter from its low to its high one-at-a-time score, widest first."""
    bars = [(p, row.get(f"oat_low_{p}"), row.get(f"oat_high_{p}")) for p in params]
    bars = sorted([b for b in bars if pd.notna(b[1]) and pd.notna(b[2])], key=lambda b: -abs(b[2] - b[1]))[:6]
    if not bars:
        return ""
    w, label_w, h = 300, 130, 14
    scale = (w - label_w - 8) / 100
    base = float(row["score"])
    parts = [f'<line x1="{label_w + base * scale:.1f}" y1="0" x2="{label_w + base * scale:.1f}" '
             f'y2="{h * len(bars)}" stroke="#333" stroke-width="1"/>']
    for i, (p, lo, hi) in enumerate(bars):
        a, b = sorted((float(lo), float(hi)))
        parts.append(f'<text x="{label_w - 4}" y="{i * h + 11}" font-size="10" text-anchor="end">{esc(p)}</text>'
                     f'<rect x="{label_w + a * scale:.1f}" y="{i * h + 2}" width="{max((b - a) * scale, 1):.1f}" '
                     f'height="{h - 4}" fill="#5b8bd0"><title>{esc(p)}: score {number(a)}–{number(b)}</title></rect>')
    return (f'<svg class="chart tornado" viewBox="0 0 {w} {h * len(bars)}" width="{w}" height="{h * len(bars)}" '
            f'role="img" aria-label="one-at-a-time score swings" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def stability_section(table: pd.DataFrame | None, record) -> str:
    """The section's HTML; empty without a sensitivity table."""
    if table is None or record is None or record.sensitivity is None:
        return ""
    sec = record.sensitivity
    params = [p.name for p in sec.parameters]
    scored = table[table["verdict"].isin(("favorable", "review", "unfavorable"))]
    scored = scored.sort_values(["p_flip", "site_id"], ascending=[False, True], kind="stable")
    rows = []
    for _, r in scored.head(TORNADO_LIMIT).iterrows():
        probs = " · ".join(f'<span style="color:{COLORS[v]}">{LABELS[v]} {pct}</span>' for v, pct in verdict_shares(r))
        rows.append(f"<tr><td>{esc(r['site_id'])}</td><td>{esc(LABELS[r['verdict']])}</td><td>{probs}</td>"
                    f"<td class=num>{number(r['score_p05'])}–{number(r['score_p95'])}</td>"
                    f"<td class=num>{r['rank_p05']}–{r['rank_p95']}</td><td>{esc(r['hinge'] or '—')}</td>"
                    f"<td>{tornado(r, params)}</td></tr>")
    more = len(scored) - TORNADO_LIMIT
    return ('<section id="stability"><h2>Stability of the verdicts</h2>'
            f'<p class="small muted">{sec.samples:,} sampled weightings (spread {number(sec.spread)}, seed {sec.seed}); '
            f'{sec.sites_fixed:,} excluded or incomplete sites keep their verdict and are not listed. '
            'Least stable first; the bars show the score with one parameter at its low and high value.</p>'
            '<table class="stability"><thead><tr><th>Site</th><th>Verdict</th><th>Verdict in samples</th>'
            '<th class=num>Score 5–95 %</th><th class=num>Rank 5–95 %</th><th>Hinges on</th><th>Swings</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            + (f'<p class="small muted">… and {more:,} more sites in sensitivity.csv.</p>' if more > 0 else "")
            + "</section>")
