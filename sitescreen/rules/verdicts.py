"""The verdicts: their order, labels, colours and meanings, stated once for every surface.

Scoring (:mod:`sitescreen.rules.scoring`) gives each site one of :data:`VERDICTS`; the manifest
counts them in this order; the map, the report and the QGIS style list, label and colour them from
here.
"""

from __future__ import annotations

from typing import Mapping

#: Verdicts in the order people read them (best first).
VERDICTS = ("favorable", "review", "unfavorable", "excluded", "incomplete")

#: The score thresholds of a profile that states none (favorable ≥ 70, review ≥ 40).
DEFAULT_THRESHOLDS = (70.0, 40.0)


def thresholds(verdicts) -> tuple[float, float]:
    """(favorable, review) of a run's recorded ``profile.verdicts``, or the defaults when there is none."""
    return (verdicts.favorable, verdicts.review) if verdicts is not None else DEFAULT_THRESHOLDS

LABELS: Mapping[str, str] = {
    "favorable": "Favorable",
    "review": "Review",
    "unfavorable": "Unfavorable",
    "excluded": "Excluded",
    "incomplete": "Incomplete",
}

COLORS: Mapping[str, str] = {
    "favorable": "#1a9641",
    "review": "#f2a900",
    "unfavorable": "#e4572e",
    "excluded": "#7f1d1d",
    "incomplete": "#8a8f98",
}

#: The colour of a feature whose verdict is none of :data:`VERDICTS` (a style's fallback symbol).
OTHER_COLOR = "#8a8f98"


def darker(hex_color: str, f: float = 0.62) -> str:
    """A darker shade of ``hex_color`` (outlines of a verdict's fill)."""
    h = hex_color.lstrip("#")
    return "#" + "".join(f"{int(int(h[i:i + 2], 16) * f):02x}" for i in (0, 2, 4))


#: The outline colour of each verdict.
STROKES: Mapping[str, str] = {v: darker(c) for v, c in COLORS.items()}


#: What each verdict means, with ``{favorable}`` and ``{review}`` for the thresholds' numbers (the
#: report's re-weight panel fills them in the browser as :func:`meanings` does here).
MEANING_TEMPLATES: Mapping[str, str] = {
    "favorable": "score ≥ {favorable}",
    "review": "score {review}–{favorable}",
    "unfavorable": "score < {review}",
    "excluded": "fails a hard safeguard",
    "incomplete": "missing data for a criterion",
}


def meanings(favorable: float, review: float) -> dict[str, str]:
    """What each verdict means, with the profile's thresholds, as a legend says it."""
    from sitescreen.rules.wording import number
    fav, rev = number(favorable), number(review)
    return {k: t.replace("{favorable}", fav).replace("{review}", rev) for k, t in MEANING_TEMPLATES.items()}
