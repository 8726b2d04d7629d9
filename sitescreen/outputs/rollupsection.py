"""The report's roll-up section: a finished run added up per unit (``sitescreen report DIR --rollup BY``),
rendered from the roll-up table (:mod:`sitescreen.review.rollup`) as the CLI and its CSV show it."""

from __future__ import annotations

import math

import pandas as pd

from sitescreen.outputs.htmlsafe import esc
from sitescreen.rules.verdicts import COLORS, LABELS, VERDICTS
from sitescreen.rules.wording import NOTHING


def _num(v, fmt: str) -> str:
    return NOTHING if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _mix(row: pd.Series) -> str:
    """The verdict mix of a unit as small coloured counts."""
    return " ".join(f'<span class="badge" style="background:{COLORS[v]}" title="{esc(LABELS[v])}">{int(row[f"n_{v}"]):,}</span>'
                    for v in VERDICTS if row[f"n_{v}"])


def unit_summaries(table: pd.DataFrame) -> list[str]:
    """Per unit, its roll-up in one line (the map's popup of the unit): sites by verdict, mean score,
    footprint area and share."""
    out = []
    for _, r in table.iterrows():  # one line per unit, not per site
        mix = ", ".join(f"{int(r[f'n_{v}']):,} {LABELS[v].lower()}" for v in VERDICTS if r[f"n_{v}"])
        share = "" if r["share"] is None or pd.isna(r["share"]) else f" ({_num(r['share'], '.2%')} of the unit)"
        out.append(f"{r['unit']}: {int(r['sites']):,} sites{' — ' + mix if mix else ''}; mean score "
                   f"{_num(r['score_mean'], '.1f')}; footprints {_num(r['area_km2'], ',.2f')} km²{share}")
    return out


def rollup_section(table: pd.DataFrame, by: str, source: str, field: str, anchor: str) -> str:
    """One ``<section>``: a row per unit with its sites, verdict mix, scores, footprint area and share."""
    head = ("<th>Unit</th><th class=num>Sites</th><th>Verdicts</th><th class=num>Score min</th><th class=num>Median</th>"
            "<th class=num>Mean</th><th class=num>Max</th><th class=num>Footprints km²</th><th class=num>Unit km²</th>"
            "<th class=num>Share</th>")
    rows = "".join(
        f"<tr><td>{esc(r['unit'])}</td><td class=num>{int(r['sites']):,}</td><td>{_mix(r)}</td>"
        + "".join(f"<td class=num>{_num(r[f'score_{s}'], '.1f')}</td>" for s in ("min", "median", "mean", "max"))
        + f"<td class=num>{_num(r['area_km2'], ',.2f')}</td><td class=num>{_num(r['unit_km2'], ',.1f')}</td>"
        f"<td class=num>{_num(r['share'], '.2%')}</td></tr>"
        for _, r in table.iterrows())  # one row per unit, not per site
    legend = ", ".join(f'<span class="badge" style="background:{COLORS[v]}">{esc(LABELS[v])}</span>' for v in VERDICTS)
    return (f'<section id="{esc(anchor)}"><h2>Roll-up by {esc(by)}</h2>'
            f'<p class="small muted">Units from {esc(source)} (field {esc(field)}). A site belongs to the unit holding '
            "most of its footprint, at least half of it; footprint areas count overlapping footprints once, inside each "
            f"unit whichever unit their site belongs to. Verdicts: {legend}. Also "
            "<code>sitescreen rollup DIR --by …</code>.</p>"
            f'<table class="rollup"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></section>')


__all__ = ["rollup_section", "unit_summaries"]
