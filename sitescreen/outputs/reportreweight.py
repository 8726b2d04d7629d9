"""Live re-weighting in the review report: the map's re-weighting data (:mod:`sitescreen.outputs.reweight`)
and its controller (``assets/sitescreen-reweight.js``), bound to the report's tables by
``assets/sitescreen-reweight-report.js``.

The data's sites are in the report's ranked order, so the ranked table's row k is site k; besides
the map's data it carries the sites' verdict codes and exact scores, the sites of the breakdown
cards (indices, in the cards' order), the verdicts' labels and colours (:mod:`sitescreen.rules.verdicts`), the criteria
of a breakdown's rows in order, the verdict meanings' templates and the selectors of the parts
that cannot follow a move (faded, and named in the what-if banner). Above :data:`REWEIGHT_LIMIT`
sites the report has no panel (the map has one) and says so. The page keeps every row and card this
module's report wrote; a move rewrites at once those in and near the viewport and the others once
the sliders rest, as they scroll near, or before the page is printed (the asset's header says how).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sitescreen.outputs.htmlsafe import esc, script_json
from sitescreen.outputs.reweight import asset, exact_column, reweight_data
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.verdicts import COLORS, LABELS, MEANING_TEMPLATES, VERDICTS

#: The id of the report's re-weighting data element.
DATA_ID = "sitescreen-reweight-report-data"
#: Sites up to which the report carries the re-weighting data (every site's suitabilities).
REWEIGHT_LIMIT = 250_000
#: The parts of the report that show the run as screened after a move (they cannot be recomputed here).
STALE = ["#summary svg.vbar", "#summary figure.overview",
         "main > section:not(#summary):not(#ranking):not(#sites):not(#rules):not(#sources):not(#manifest)"]


def report_reweight_data(ranked: pd.DataFrame, record: RunRecord | None, rows: list[str],
                         cards: Any, ranked_limit: int) -> dict[str, Any] | None:
    """What the report's panel needs (sites in ``ranked``'s order, the report's ranking; ``cards``:
    the positions in it of the sites with a breakdown card), or None (no record, no s_* columns)."""
    data = reweight_data(ranked, record)
    if data is None:
        return None
    code = {v: k for k, v in enumerate(VERDICTS)}
    verdict = ranked["verdict"].astype(str).map(code)
    if verdict.isna().any():
        return None  # a verdict the report does not know: no what-if on it
    note = (f"ranks are among the {ranked_limit:,} sites the table lists (the run's best), not all {len(ranked):,}"
            if len(ranked) > ranked_limit else "")
    return {**data, "cards": [int(i) for i in cards], "listed": min(len(ranked), ranked_limit),
            "v": "".join(chr(48 + int(c)) for c in verdict.to_numpy()),
            "sc": exact_column(pd.to_numeric(ranked["score"], errors="coerce")),
            "labels": [{"key": v, "label": LABELS[v], "color": COLORS[v]} for v in VERDICTS],
            "meanings": dict(MEANING_TEMPLATES), "rows": rows, "stale": STALE, "ranked_note": note}


def reweight_parts(ranked: pd.DataFrame, record: RunRecord | None, rows: list[str], cards: Any,
                   ranked_limit: int) -> tuple[str, str]:
    """(head: style, body end: data and scripts) of the report's re-weight panel; a note instead
    above :data:`REWEIGHT_LIMIT` sites, nothing without re-weighting data."""
    if len(ranked) > REWEIGHT_LIMIT:
        return "", (f'<p class="small muted">No re-weighting panel in this report: {len(ranked):,} sites is more than '
                    f"{REWEIGHT_LIMIT:,}; the map re-weights every site.</p>")
    data = report_reweight_data(ranked, record, rows, cards, ranked_limit)
    if data is None:
        return "", ""
    js = "".join(asset(n) for n in ("sitescreen-varint.js", "sitescreen-reweight.js", "sitescreen-reweight-report.js"))
    js = js.replace("</script", "<\\/script")
    body = (f'<script type="application/json" id="{esc(DATA_ID)}">{script_json(data)}</script>'
            f"<script>{js}</script>"
            f'<script>sitescreen.reweightReport("{DATA_ID}");</script>')
    return f"<style>{asset('sitescreen-reweight.css')}</style>", body
