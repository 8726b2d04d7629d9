"""Words of the run's story and of the reviewer's tools: how the records read became the sites (the
one line the CLI summary, ``check`` and the report show) and how robust a verdict is under sampled
weightings (``sitescreen sensitivity``: the report's stability table and the map popup). Split from
:mod:`sitescreen.rules.wording` by job; the same rule holds: each fact is worded here once.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from sitescreen.rules.wording import number
from sitescreen.values import is_missing

# ------------------------------------------------------------------------------------------
# how the records read became the sites

#: Words for each step of a run's site counts (:meth:`sitescreen.record.manifest.SitesRecord.chain`).
CHAIN_WORDS = {
    "records_read": "records read", "records_without_location": "without location",
    "records_skipped_invalid": "with a location that does not parse (skipped)",
    "records_not_selected": "not selected by the sites filter", "records_filtered_out": "not the commodity",
    "records_outside_aoi": "outside the area of interest", "duplicates_merged": "duplicates merged", "sites": "sites",
}
#: Steps shown even when nothing happened at them (the others only when they dropped records).
CHAIN_ALWAYS = ("records_read", "records_without_location", "records_filtered_out", "duplicates_merged", "sites")


def site_chain(chain: Any) -> str:
    """The records read, each step that dropped or merged records, and the sites, as one line that
    adds up: ``2,315 records read − 285 without location − … = 332 sites``. The CLI summary,
    ``check`` and the report all show this line."""
    steps = [(k, n) for k, n in chain if n or k in CHAIN_ALWAYS]
    (_, read), *middle, (_, sites) = steps
    parts = [f"{read:,} {CHAIN_WORDS['records_read']}"] + [f"{n:,} {CHAIN_WORDS[k]}" for k, n in middle]
    return " − ".join(parts) + f" = {sites:,} {CHAIN_WORDS['sites']}"


def shared_outlines_text(sites: Any, outlines: Any) -> str:
    """Polygon sites stacked on identical outlines (BLM claims share aliquot parts), or "" when none:
    ``1,234 sites share 321 outlines (identical polygons, each kept as its own site)``. The CLI
    summary and the report show this line (counts: the manifest's ``sites`` section)."""
    if not sites:
        return ""
    noun = "outline" if int(outlines) == 1 else "outlines"
    return f"{int(sites):,} sites share {int(outlines):,} {noun} (identical polygons, each kept as its own site)"


#: Why two records were merged, by the merge rule (:class:`sitescreen.record.merges.MergeRecord`).
MERGE_RULE_WORDS = {"close": "so close that names do not matter", "alike": "close, with names alike"}


def merge_text(m: Any) -> str:
    """One merge of duplicate records in words (``explain`` shows these): ``10072025 "No. 69 Thorium
    Deposit" + 10169324 "Thorium Deposit No. 69": 71.9 m apart, name similarity 1.00 (close, with
    names alike)``; ``m``: a MergeRecord."""
    return (f"{m.record_a} \"{m.name_a}\" + {m.record_b} \"{m.name_b}\": {number(m.distance_m)} m apart, "
            f"name similarity {m.name_similarity:.2f} ({MERGE_RULE_WORDS.get(m.rule, m.rule)})")


def not_evaluated_line(notes: Any) -> str:
    """The criteria a run did not evaluate, in one line grouped by why (``Not evaluated: steep_terrain
    (no dem layer was given); stream_buffer, perennial_stream_length (no streams layer was given)``),
    or "" when it evaluated every one; ``notes``: (criterion, its note) pairs. The CLI summary shows it."""
    groups: dict[str, list[str]] = {}
    for name, note in notes:
        groups.setdefault(str(note).removeprefix("not evaluated: "), []).append(str(name))
    return ("Not evaluated: " + "; ".join(f"{', '.join(names)} ({why})" for why, names in groups.items())) if groups else ""


# ------------------------------------------------------------------------------------------
# how robust a verdict is (sitescreen sensitivity)

#: The verdicts a sampled weighting can give (excluded and incomplete sites keep theirs).
SAMPLED_VERDICTS = ("favorable", "review", "unfavorable")


def verdict_shares(shares: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(verdict, ``"76 %"``) for each scored verdict a site takes in some samples, best first, from
    its ``p_<verdict>`` shares (0–1); the report's stability table and the map popup show these."""
    out = []
    for v in SAMPLED_VERDICTS:
        p = shares.get(f"p_{v}")
        if not is_missing(p) and float(p) > 0:
            out.append((v, f"{float(p) * 100:.0f} %"))
    return out


def stability_texts(shares: Any, samples: int) -> np.ndarray:
    """Each site's verdicts under sampled weightings in one line (``favorable in 87 %, review in 13 %
    of 10,000 sampled weightings``), from a table of ``p_<verdict>`` shares (0–1); ``""`` for a site
    that takes none (an excluded or incomplete site). The same percentages as :func:`verdict_shares`."""
    parts = []
    for v in SAMPLED_VERDICTS:
        p = pd.to_numeric(pd.Series(np.asarray(shares[f"p_{v}"], dtype=float)), errors="coerce").fillna(0.0)
        parts.append(np.where(p > 0, v + " in " + (p * 100).map("{:.0f} %".format), ""))
    joined = pd.Series([""] * len(parts[0]), dtype=object)
    for part in parts:
        part = pd.Series(part, dtype=object)
        joined = joined.where(part == "", joined.where(joined == "", joined + ", ") + part)
    tail = f" of {int(samples):,} sampled weightings"
    return np.where(joined == "", "", joined + tail).astype(object)


def stability_text(shares: Mapping[str, Any], samples: int) -> str:
    """:func:`stability_texts` of one site."""
    return str(stability_texts({k: [shares.get(k)] for k in (f"p_{v}" for v in SAMPLED_VERDICTS)}, samples)[0])


def crs_phrase(crs: str, zones) -> str:
    """Where a run measured: its CRS ("EPSG:5070"), or its zones ("2 measuring zones: EPSG:5070
    (CONUS Albers) 980, EPSG:3338 (Alaska Albers) 155")."""
    if not zones:
        return crs
    return f"{len(zones)} measuring zones: " + ", ".join(f"{z.label} {z.sites}" for z in zones)
