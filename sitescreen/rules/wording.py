"""Words for the facts of a screening: measurements with their units, rules, exclusions,
transforms, weights, suitabilities and scores. The one place they are put into words.

The reasons (:mod:`sitescreen.rules.scoring`), ``sitescreen explain``, the review report and the
map's popups (whose texts are rendered here, into the map's payload) all call these functions, so
a distance reads ``1,051 m`` everywhere and a rule ``exclude if < 300 m`` everywhere.

Numbers are rounded to significant digits once (vectorized, then each distinct value is
formatted once), so a column of a million measurements costs one pass and a few thousand
formatting calls, and a single value formats exactly as it does inside a column.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from sitescreen.values import is_missing

NO_DATA = "no data"
NOT_EVALUATED = "not evaluated"
NOTHING = "—"  # a blank cell: no score, no weight

#: Significant digits a measurement is shown with, by unit (others: :data:`DIGITS`).
UNIT_DIGITS = {"fraction": 3, "count": 6}
DIGITS = 4
#: Distances in metres are shown in kilometres from this many metres on.
KM_FROM_M = 10_000


# ------------------------------------------------------------------------------------------
# numbers


def _format(v: float, digits: int) -> str:
    """One finite number with ``digits`` significant digits and thousands separators."""
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    text = f"{round(v, decimals):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text.replace("-", "−")


def _by_value(x: np.ndarray, fmt: Callable[[float], str]) -> np.ndarray:
    """``fmt`` of each element of the float array ``x``, calling it once per distinct value."""
    if x.size == 0:
        return np.empty(0, dtype=object)
    uniq, inverse = np.unique(x, return_inverse=True)
    return np.array([fmt(float(u)) for u in uniq], dtype=object)[inverse.reshape(-1)]


def _rounded(x: np.ndarray, digits: int) -> np.ndarray:
    """Finite ``x`` rounded to ``digits`` significant digits (so equal texts share one value)."""
    mag = np.floor(np.log10(np.where(x == 0, 1.0, np.abs(x))))
    scale = 10.0 ** np.clip(digits - 1 - mag, -300, 300)
    return np.round(x * scale) / scale


def numbers(values: Any, digits: int = DIGITS) -> np.ndarray:
    """Numbers as text (``1,234``, ``0.0123``, ``−5``); NaN says ``no data``, infinities ``∞``."""
    v = np.asarray(values, dtype=float).reshape(-1)
    out = np.full(v.shape, NO_DATA, dtype=object)
    out[v == np.inf] = "∞"
    out[v == -np.inf] = "−∞"
    fin = np.isfinite(v)
    out[fin] = _by_value(_rounded(v[fin], digits), lambda u: _format(u, digits))
    return out


def number(value: Any, digits: int = DIGITS) -> str:
    """One number as :func:`numbers` writes it."""
    return str(numbers([value], digits)[0])


# ------------------------------------------------------------------------------------------
# measurements


def search_radius(params: Mapping[str, Any] | None) -> float | None:
    """The search radius (metres) of a criterion's parameters, when it has one."""
    r = (params or {}).get("search_radius_m")
    return float(r) if isinstance(r, (int, float)) and not isinstance(r, bool) else None


def beyond_text(search_radius_m: float | None) -> str:
    """What a distance beyond the search radius (an infinite measurement) reads as."""
    if search_radius_m is None:
        return "beyond the search radius"
    return f"beyond the {value_text(search_radius_m, 'm')} search radius"


def _quantities(v: np.ndarray, unit: str) -> np.ndarray:
    """Finite measurements ``v`` in ``unit`` as text with the unit."""
    out = np.empty(v.shape, dtype=object)
    if unit == "fraction":
        return numbers(v * 100, 3) + " %" if v.size else out
    if unit == "m":
        km = np.abs(v) >= KM_FROM_M
        out[km] = numbers(v[km] / 1000) + " km"
        out[~km] = numbers(v[~km]) + " m"
        return out
    text = numbers(v, UNIT_DIGITS.get(unit, DIGITS))
    return text + f" {unit}" if unit and unit != "count" and v.size else text


def measure_texts(values: Any, unit: str = "", search_radius_m: float | None = None) -> np.ndarray:
    """Measurements as a reviewer reads them, with their unit (vectorized over sites).

    Missing values say ``no data``; +∞ (nothing within the search radius) says
    ``beyond the 50 km search radius``; text measurements (a field's category) stay as written."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "US":
        codes, uniq = pd.factorize(pd.Series(arr.reshape(-1), dtype=object), use_na_sentinel=True)
        words = [u.decode() if isinstance(u, bytes) else str(u) for u in uniq]
        return np.array(words + [NO_DATA], dtype=object)[codes]  # code -1 (missing) is the last
    v = arr.astype(float).reshape(-1)
    out = np.full(v.shape, NO_DATA, dtype=object)
    out[v == np.inf] = beyond_text(search_radius_m)
    out[v == -np.inf] = "−∞"
    fin = np.isfinite(v)
    out[fin] = _quantities(v[fin], str(unit or ""))
    return out


def measure_text(value: Any, unit: str = "", search_radius_m: float | None = None) -> str:
    """One measurement as :func:`measure_texts` writes it."""
    if is_missing(value):
        return NO_DATA
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    return str(measure_texts(np.array([float(value)]), unit, search_radius_m)[0])


def value_text(value: Any, unit: str = "") -> str:
    """A rule's threshold or breakpoint with its unit, written as a measurement of it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return str(_quantities(np.array([float(value)]), str(unit or ""))[0])
    return str(value)


def feature_texts(feature: np.ndarray, layer: np.ndarray | None = None) -> np.ndarray:
    """The feature behind each measurement and its layer (``Demo Canyon (synthetic), layer PAD-US``);
    ``""`` where a site's measurement refers to no feature (vectorized over sites)."""
    f = np.asarray(feature, dtype=object).reshape(-1)
    has = (f != "") & pd.notna(f)
    out = np.full(f.shape, "", dtype=object)
    out[has] = f[has].astype(str)
    if layer is not None:
        lyr = np.asarray(layer, dtype=object).reshape(-1)
        named = has & (lyr != "") & pd.notna(lyr)
        out[named] = out[named] + ", layer " + lyr[named].astype(str)
    return out


# ------------------------------------------------------------------------------------------
# rules


def transform_text(transform: Mapping[str, Any] | None, unit: str = "") -> str:
    """How a measurement becomes a 0–1 suitability (``linear: 0 % → 0, 100 % → 1``)."""
    if not transform:
        return "not scored"
    kind = transform.get("kind", "")
    if kind == "linear":
        pts = transform.get("points") or []
        return "linear: " + ", ".join(f"{value_text(x, unit)} → {number(y, 3)}" for x, y in pts)
    if kind == "threshold":
        t = value_text(transform.get("threshold"), unit)
        return f"below {t} → {number(transform.get('below', 0), 3)}, else {number(transform.get('above', 1), 3)}"
    if kind == "categorical":
        table = transform.get("table") or {}
        items = ", ".join(f"{k} → {number(v, 3)}" for k, v in list(table.items())[:8])
        if len(table) > 8:
            items += f", … ({len(table)} classes)"
        default = transform.get("default")
        if default is not None:
            items += f", other → {number(default, 3)}"
        return f"categories: {items}"
    if kind == "decay":
        return f"distance decay: 1 − exp(−d / {value_text(transform.get('scale_m'), 'm')})"
    parts = ", ".join(f"{k}={v}" for k, v in transform.items() if k != "kind")
    return f"{kind}: {parts}" if parts else str(kind)


def exclusion_text(exclusion: Any, unit: str = "") -> str:
    """A hard exclusion (the manifest's ``"< 300"``) in words: ``exclude if < 300 m``; ``""`` for none."""
    if exclusion in (None, ""):
        return ""
    text = str(exclusion).strip()
    op, _, rest = text.partition(" ")
    try:
        value = float(rest)
    except ValueError:
        return f"exclude if {text}"
    return f"exclude if {op} {value_text(value, unit)}"


def rule_text(transform: Mapping[str, Any] | None, exclusion: Any, unit: str = "") -> str:
    """A criterion's whole rule on one line: its transform, then its exclusion."""
    parts = [transform_text(transform, unit)] if transform else []
    if exclusion not in (None, ""):
        parts.append(exclusion_text(exclusion, unit))
    return "; ".join(parts) or "informational (not scored, no exclusion)"


# ------------------------------------------------------------------------------------------
# weights, suitabilities, scores


def not_evaluated_text(note: Any) -> str:
    """Why a criterion was not evaluated, said once (``not evaluated: no dem layer was given``),
    whether or not the recorded note already starts with the words."""
    note = " ".join(str(note or "").split())
    if not note:
        return NOT_EVALUATED
    return note if note.startswith(NOT_EVALUATED) else f"{NOT_EVALUATED}: {note}"


def weight_text(weight: Any) -> str:
    """A weight as its share of the score, with enough digits to add up (0.4375 → ``43.75 %``)."""
    if is_missing(weight) or not isinstance(weight, (int, float)) or not weight:
        return NOTHING
    return f"{number(float(weight) * 100, 4)} %"


def suitability_texts(values: Any) -> np.ndarray:
    """0–1 suitabilities with three decimals (``0.438``); missing is ``—``."""
    s = np.asarray(values, dtype=float).reshape(-1)
    out = np.full(s.shape, NOTHING, dtype=object)
    ok = np.isfinite(s)
    out[ok] = _by_value(np.round(s[ok], 3), "{:.3f}".format)
    return out


def suitability_text(value: Any) -> str:
    return NOTHING if is_missing(value) else str(suitability_texts([float(value)])[0])


def no_suitability_texts(measured: np.ndarray) -> np.ndarray:
    """Why a measured value has no suitability: it is not in the categorical table (no default)."""
    return np.asarray(measured, dtype=object) + " has no suitability (not in the rule's table, which has no default)"


def score_texts(values: Any) -> np.ndarray:
    """Scores 0–100 with one decimal (``82.0``); missing (an incomplete site) is ``—``."""
    s = np.asarray(values, dtype=float).reshape(-1)
    out = np.full(s.shape, NOTHING, dtype=object)
    ok = np.isfinite(s)
    out[ok] = _by_value(np.round(s[ok] * 10) / 10, "{:.1f}".format)
    return out


def score_text(value: Any) -> str:
    return NOTHING if is_missing(value) else str(score_texts([float(value)])[0])


#: Decimals of a criterion's points (suitability × effective weight × 100), so that a site's points,
#: each rounded, add up to its score to within 0.05 (at most 10 criteria × 0.005).
POINTS_DECIMALS = 2


def points(suitability: Any, effective_weight: Any) -> float | None:
    """A criterion's share of a site's 0–100 score: suitability × effective weight × 100; None when
    it has no suitability or no weight."""
    if is_missing(suitability) or is_missing(effective_weight) or not effective_weight:
        return None
    return float(suitability) * float(effective_weight) * 100


def points_text(value: Any) -> str:
    """Points (or a score) with :data:`POINTS_DECIMALS` decimals (``35.00``); missing is ``—``."""
    return NOTHING if is_missing(value) else f"{float(value):.{POINTS_DECIMALS}f}"


def measured_text(label: str, feature: str = "", layers: tuple[str, ...] | list[str] = ()) -> str:
    """What a criterion measured for a site: its label, then the feature the value refers to, or
    the layers it was measured in (``distance to protected land: Demo Canyon, layer PAD-US``)."""
    where = feature or (("layer " if len(layers) == 1 else "layers ") + ", ".join(layers) if layers else "")
    return f"{label[:1].lower()}{label[1:]}: {where}" if where else f"{label[:1].lower()}{label[1:]}"


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


#: Why two records were merged, by the merge rule (:class:`sitescreen.record.manifest.MergeRecord`).
MERGE_RULE_WORDS = {"close": "so close that names do not matter", "alike": "close, with names alike"}


def merge_text(m: Any) -> str:
    """One merge of duplicate records in words (``explain`` shows these): ``10072025 "No. 69 Thorium
    Deposit" + 10169324 "Thorium Deposit No. 69": 71.9 m apart, name similarity 1.00 (close, with
    names alike)``; ``m``: a MergeRecord."""
    return (f"{m.record_a} \"{m.name_a}\" + {m.record_b} \"{m.name_b}\": {number(m.distance_m)} m apart, "
            f"name similarity {m.name_similarity:.2f} ({MERGE_RULE_WORDS.get(m.rule, m.rule)})")


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
