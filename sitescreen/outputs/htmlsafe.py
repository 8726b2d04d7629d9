"""Escaping shared by the map and the report.

Everything shown in a page may have come from a data file (site names, layer names, profile
text), so every value goes through :func:`esc` before it meets HTML, and every JSON payload
through :func:`script_json` before it meets a ``<script>`` element. Putting values into words is
:mod:`sitescreen.rules.wording`'s job; verdict labels and colours are :mod:`sitescreen.rules.verdicts`'.
"""

from __future__ import annotations

import html
from typing import Any

from sitescreen.values import is_missing
from sitescreen.values import strict_json

_JSON_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def esc(value: Any) -> str:
    """HTML-escape any value for text or a quoted attribute; missing (None, NaN, NA) becomes ``""``."""
    if is_missing(value):
        return ""
    return html.escape(str(value), quote=True)


def script_json(obj: Any) -> str:
    """Strict JSON (:func:`sitescreen.values.strict_json`) that is safe inside a ``<script>``
    element (no ``</script>``, ``<!--`` or ``&``)."""
    text = strict_json(obj, ensure_ascii=False, separators=(",", ":"))
    return text.translate(_JSON_SCRIPT_ESCAPES)

