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


#: Where a watershed drains when WBD's ``tohuc`` is not a unit's code.
OUTLETS = {"OCEAN": "drains to the ocean", "CLOSED BASIN": "a closed basin (drains to no other unit)",
           "CANADA": "drains to Canada", "MEXICO": "drains to Mexico"}


def watershed_texts(name: Any, code: Any, to_name: Any, to_code: Any) -> np.ndarray:
    """A watershed and where it drains (``South Fork Clear Creek 170603040101, drains to Upper Clear
    Creek 170603040103``), from WBD's name, huc and tohuc and the name of the unit downstream
    (vectorized over watersheds; without a tohuc, only the watershed)."""
    def col(x):
        return pd.Series(np.asarray(x, dtype=object).reshape(-1), dtype="string").fillna("").str.strip()
    name, code, to_name, to_code = col(name), col(code), col(to_name), col(to_code)
    own = (name + " " + code).str.strip()
    down = ("drains to " + to_name + " " + to_code).str.replace(r"\s+", " ", regex=True).str.strip()
    outlet = to_code.str.upper().map(OUTLETS)
    down = down.where(outlet.isna(), outlet).where(to_code != "", "")
    return np.where(down != "", own + ", " + down, own).astype(object)


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


def cap_text(verdict: Any, condition: Any, unit: str = "") -> str:
    """A verdict cap (the manifest's ``review`` and ``"< 1000"``) in words: ``at most review if < 1,000 m``;
    ``""`` for none."""
    if verdict in (None, "") or condition in (None, ""):
        return ""
    return "at most " + exclusion_text(condition, unit).replace("exclude if", f"{verdict} if", 1)


def limits_text(exclusion: Any, unit: str = "", cap: Any = None) -> str:
    """A rule's exclusion and verdict cap on one line (``exclude if < 300 m; at most review if < 1 km``);
    ``""`` for neither. ``cap`` as in :func:`rule_text`."""
    parts = [exclusion_text(exclusion, unit), cap_text(cap.verdict, cap.condition, unit) if cap is not None else ""]
    return "; ".join(p for p in parts if p)


def held_text(verdict: str, n: int | None) -> str:
    """How many sites a verdict cap held below the verdict their score gives (``3 sites held at
    review``); ``""`` when not counted."""
    return "" if n is None else f"{n:,} site{'' if n == 1 else 's'} held at {verdict}"


def cap_lead(verdict: str) -> str:
    """How a capped site's reason begins (``review required``; ``at most unfavorable``)."""
    return "review required" if verdict == "review" else f"at most {verdict}"


def rule_text(transform: Mapping[str, Any] | None, exclusion: Any, unit: str = "", cap: Any = None) -> str:
    """A criterion's whole rule on one line: its transform, then its exclusion, then its verdict cap
    (``cap``: an object with ``verdict`` and ``condition``, as the run record keeps it)."""
    parts = [transform_text(transform, unit)] if transform else []
    if exclusion not in (None, ""):
        parts.append(exclusion_text(exclusion, unit))
    if cap is not None:
        parts.append(cap_text(cap.verdict, cap.condition, unit))
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


def in_sentence(label: str) -> str:
    """A criterion's label inside a sentence: its first letter lower case, the rest as written (names,
    codes and a species' scientific name keep their capitals: "bull trout (Salvelinus confluentus)")."""
    return f"{label[:1].lower()}{label[1:]}"


def measured_text(label: str, feature: str = "", layers: tuple[str, ...] | list[str] = ()) -> str:
    """What a criterion measured for a site: its label, then the feature the value refers to, or
    the layers it was measured in (``distance to protected land: Demo Canyon, layer PAD-US``)."""
    where = feature or (("layer " if len(layers) == 1 else "layers ") + ", ".join(layers) if layers else "")
    return f"{in_sentence(label)}: {where}" if where else in_sentence(label)


# ------------------------------------------------------------------------------------------
# what an overlap is made of (sitescreen.measure.parts)

#: Between the parts of one measurement (``; `` separates a site's reasons).
PARTS_JOIN = " + "


def part_labels(names: Any, agencies: Any = None) -> np.ndarray:
    """A feature's part label: its name, with its agency if any (``Idaho Department of Lands (agency OTHF)``)."""
    nm = pd.Series(np.asarray(names, dtype=object).reshape(-1), dtype=object)
    nm = nm.where(nm.notna() & (nm.astype(str).str.strip() != ""), "unnamed").astype(str)
    if agencies is None:
        return nm.to_numpy(dtype=object)
    ag = pd.Series(np.asarray(agencies, dtype=object).reshape(-1), dtype=object)
    has = (ag.notna() & (ag.astype(str).str.strip() != "")).to_numpy()
    out = nm.to_numpy(dtype=object)
    out[has] = out[has] + " (agency " + ag[has].astype(str).to_numpy(dtype=object) + ")"
    return out


def parts_texts(n: int, site: np.ndarray, label: np.ndarray, share: np.ndarray,
                more: np.ndarray, more_share: np.ndarray) -> np.ndarray:
    """Per site, its parts on one line, largest first (``Salmon Field Office (agency BLM) 60.2 % +
    Salmon National Forest (agency USFS) 39.3 % + 2 more 0.4 %``); ``""`` for a site with none.
    ``site``/``label``/``share``: the parts in long format, sorted by site (vectorized over sites)."""
    out = np.full(n, "", dtype=object)
    if site.size:
        text = np.asarray(label, dtype=object) + " " + _quantities(np.asarray(share, dtype=float), "fraction")
        first = np.r_[True, site[1:] != site[:-1]]
        start = np.flatnonzero(first)
        rank = np.arange(site.size) - np.repeat(start, np.diff(np.r_[start, site.size]))
        for k in range(int(rank.max()) + 1):  # one pass per rank (a few), each over all sites
            sel = rank == k
            s = site[sel]
            out[s] = np.where(out[s] == "", text[sel], out[s] + PARTS_JOIN + text[sel])
    rest = np.asarray(more) > 0
    if rest.any():
        tail = np.asarray(more)[rest].astype(str) + " more " + _quantities(np.asarray(more_share)[rest], "fraction")
        out[rest] = out[rest] + PARTS_JOIN + tail
    return out


def with_parts(measured: Any, parts: Any) -> np.ndarray:
    """Measurement texts followed by their parts where a site has some (``99.5 %: Idaho Department of Lands (agency OTHF) 99.5 %``)."""
    m = np.asarray(measured, dtype=object).reshape(-1)
    p = pd.Series(np.asarray(parts, dtype=object).reshape(-1), dtype=object)
    has = (p.notna() & (p.astype(str) != "")).to_numpy()
    out = m.copy()
    out[has] = m[has] + ": " + p[has].astype(str).to_numpy(dtype=object)
    return out
