"""Escaping and value formatting shared by the map and the report.

Everything shown in a page may have come from a data file (site names, layer names, profile
text), so every value goes through :func:`esc` before it meets HTML, and every JSON payload
through :func:`script_json` before it meets a ``<script>`` element. The formatting helpers turn
measurements and rules into the short texts a reviewer reads, identically in map and report.
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping


from sitescreen.values import is_missing as _is_missing
from sitescreen.values import strict_json

#: Verdicts in the order people read them (best first), with their colours and plain meaning.
VERDICT_ORDER = ("favorable", "review", "unfavorable", "excluded", "incomplete")
VERDICT_COLORS = {
    "excluded": "#7f1d1d",
    "unfavorable": "#e4572e",
    "review": "#f2a900",
    "favorable": "#1a9641",
    "incomplete": "#8a8f98",
}
VERDICT_LABELS = {
    "excluded": "Excluded",
    "unfavorable": "Unfavorable",
    "review": "Review",
    "favorable": "Favorable",
    "incomplete": "Incomplete",
}

_JSON_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def esc(value: Any) -> str:
    """HTML-escape any value for text or a quoted attribute; missing (None, NaN, NA) becomes ``""``."""
    if _is_missing(value):
        return ""
    return html.escape(str(value), quote=True)


def script_json(obj: Any) -> str:
    """Strict JSON (:func:`sitescreen.values.strict_json`) that is safe inside a ``<script>``
    element (no ``</script>``, ``<!--`` or ``&``)."""
    text = strict_json(obj, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_JSON_SCRIPT_ESCAPES)


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA/NaT (:func:`sitescreen.values.is_missing`)."""
    return _is_missing(value)


def format_number(value: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits and thousands separators (1,234 / 0.0123)."""
    v = float(value)
    if math.isnan(v):
        return "no data"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - mag)
    text = f"{round(v, decimals):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "−")


def format_measure(value: Any, unit: str = "") -> str:
    """A measurement with its unit, as a reviewer reads it; missing values say ``no data``."""
    if is_missing(value):
        return "no data"
    if isinstance(value, (str, bytes)):
        return value.decode() if isinstance(value, bytes) else value
    v = float(value)
    if math.isinf(v):
        return "beyond search radius" if v > 0 else "−∞"
    if unit == "fraction":
        return f"{format_number(v * 100, 3)} %"
    if unit in ("", None):
        return format_number(v)
    if unit == "m" and abs(v) >= 10_000:
        return f"{format_number(v / 1000, 4)} km"
    if unit == "count":
        return format_number(v, 6)
    return f"{format_number(v)} {unit}"


def format_value(value: Any, unit: str = "") -> str:
    """A rule's threshold or breakpoint value with its unit (no 'no data' wording)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if unit == "fraction":
            return f"{format_number(value * 100, 3)} %"
        return f"{format_number(value)}{' ' + unit if unit else ''}"
    return str(value)


def describe_transform(transform: Mapping[str, Any] | None, unit: str = "") -> str:
    """How a measurement becomes a 0–1 suitability, in words (``linear: 0 m → 0, 500 m → 1``)."""
    if not transform:
        return "not scored"
    kind = transform.get("kind", "")
    if kind == "linear":
        pts = transform.get("points") or []
        return "linear: " + ", ".join(f"{format_value(x, unit)} → {format_number(y, 3)}" for x, y in pts)
    if kind == "threshold":
        t = format_value(transform.get("threshold"), unit)
        return f"below {t} → {format_number(transform.get('below', 0), 3)}, else {format_number(transform.get('above', 1), 3)}"
    if kind == "categorical":
        table = transform.get("table") or {}
        items = ", ".join(f"{k} → {format_number(v, 3)}" for k, v in list(table.items())[:8])
        if len(table) > 8:
            items += f", … ({len(table)} classes)"
        default = transform.get("default")
        if default is not None:
            items += f", other → {format_number(default, 3)}"
        return f"categories: {items}"
    if kind == "decay":
        return f"distance decay: 1 − exp(−d / {format_value(transform.get('scale_m'), 'm')})"
    parts = ", ".join(f"{k}={v}" for k, v in transform.items() if k != "kind")
    return f"{kind}: {parts}" if parts else str(kind)


def describe_exclusion(exclusion: Any, unit: str = "") -> str:
    """The hard-exclusion rule in words, or ``""`` when the criterion has none."""
    if exclusion in (None, ""):
        return ""
    text = str(exclusion).strip()
    op, _, rest = text.partition(" ")
    try:
        value = float(rest)
    except ValueError:
        return f"excluded if {text}"
    return f"excluded if {op} {format_value(value, unit)}"


def format_weight(weight: Any) -> str:
    """A weight as a percentage of the total score (0.25 → ``25 %``)."""
    try:
        w = float(weight)
    except (TypeError, ValueError):
        return ""
    if math.isnan(w):
        return ""
    return f"{format_number(w * 100, 3)} %"
