"""Ranges of a profile's numbers: how far a reviewer may vary a verdict threshold or a transform
breakpoint, and the transforms evaluated with varied breakpoints.

In the profile language a table that holds such numbers may carry ``range = { KEY = [lo, hi] }``:

- ``[verdicts]``: ``favorable``, ``review`` (0–100, the review range wholly below the favorable one);
- a ``threshold`` transform: ``threshold``;
- a ``decay`` transform: ``scale_m`` (lo > 0);
- a ``linear`` transform: ``x0``, ``x1``, … the x of point 0, 1, … (each range between its
  neighbours', so the points stay in increasing x).

Every range holds its number (lo ≤ value ≤ hi, lo < hi). A range changes no score of a run:
only ``sitescreen sensitivity`` draws the number uniformly from it. :func:`sampled_suitability`
is a transform with some of its numbers replaced by arrays of draws; it broadcasts a criterion's
measurements ``(n, 1)`` against draws ``(m,)`` to ``(n, m)``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from sitescreen.errors import ProfileError
from sitescreen.inputs.numbers import plain_number

VERDICT_KEYS = ("favorable", "review")


def range_keys(transform: Mapping[str, Any]) -> tuple[str, ...]:
    """The numbers of ``transform`` that may carry a range."""
    kind = transform.get("kind")
    if kind == "threshold":
        return ("threshold",)
    if kind == "decay":
        return ("scale_m",)
    if kind == "linear":
        return tuple(f"x{i}" for i in range(len(transform.get("points") or ())))
    return ()


def transform_value(transform: Mapping[str, Any], key: str) -> float:
    """The stated number ``key`` of ``transform`` (``x<i>``: the x of point i)."""
    if key.startswith("x") and key[1:].isdigit():
        return float(transform["points"][int(key[1:])][0])
    return float(transform[key])


def read_ranges(table: Mapping[str, Any], values: Mapping[str, float], where: str) -> dict[str, tuple[float, float]]:
    """The checked ``range`` table of ``table`` (``{}`` when it has none); ``values``: the numbers
    that may carry a range, by key."""
    raw = table.get("range")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}.range must be a table like {{ KEY = [lo, hi] }}; got {raw!r}")
    out = {}
    for key, pair in raw.items():
        at = f"{where}.range.{key}"
        if key not in values:
            raise ProfileError(f"{at}: no number {key!r} here takes a range; allowed: {', '.join(values) or 'none'}")
        if not isinstance(pair, list) or len(pair) != 2:
            raise ProfileError(f"{at} must be [lo, hi]; got {pair!r}")
        lo, hi = (plain_number(v, at, ProfileError) for v in pair)
        if not lo < hi or not lo <= values[key] <= hi:
            raise ProfileError(f"{at} = [{lo:g}, {hi:g}] must hold the number ({values[key]:g}) with lo < hi")
        out[key] = (float(lo), float(hi))
    return out


def transform_ranges(transform: Mapping[str, Any], where: str) -> dict[str, tuple[float, float]]:
    """The checked ranges of a transform's numbers (see the module doc)."""
    values = {k: transform_value(transform, k) for k in range_keys(transform)}
    ranges = read_ranges(transform, values, where)
    if transform.get("kind") == "decay" and "scale_m" in ranges and ranges["scale_m"][0] <= 0:
        raise ProfileError(f"{where}.range.scale_m must stay above 0; got {list(ranges['scale_m'])}")
    if transform.get("kind") == "linear":
        spans = [ranges.get(k, (v, v)) for k, v in values.items()]
        for i, (a, b) in enumerate(zip(spans, spans[1:])):
            if not a[1] < b[0]:
                raise ProfileError(f"{where}.range: the x of points {i} and {i + 1} could cross ({list(a)} and {list(b)}); "
                                   f"keep each range below the next point's")
    return ranges


def verdict_ranges(table: Mapping[str, Any], favorable: float, review: float, where: str) -> dict[str, tuple[float, float]]:
    """The checked ranges of the verdict thresholds (within 0–100, review's wholly below favorable's)."""
    ranges = read_ranges(table, {"favorable": favorable, "review": review}, f"{where}: verdicts")
    fav, rev = ranges.get("favorable", (favorable,) * 2), ranges.get("review", (review,) * 2)
    if fav[0] < 0 or fav[1] > 100 or rev[0] < 0 or rev[1] > 100 or not rev[1] < fav[0]:
        raise ProfileError(f"{where}: verdicts.range: need 0 ≤ review's range < favorable's range ≤ 100; "
                           f"got review {list(rev)}, favorable {list(fav)}")
    return ranges


def sampled_suitability(transform: Mapping[str, Any], m: np.ndarray, draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """The suitability of measurements ``m`` (shape ``(n, 1)``) under ``transform`` with the numbers in
    ``draws`` (key → array ``(k,)``) in place of the stated ones: shape ``(n, k)``; NaN stays NaN."""
    m = np.asarray(m, dtype=float)
    kind = transform["kind"]
    if kind == "threshold":
        t = draws.get("threshold", float(transform["threshold"]))
        s = np.where(m < t, float(transform["below"]), float(transform["above"]))
    elif kind == "decay":
        s = 1.0 - np.exp(-np.maximum(m, 0) / draws.get("scale_m", float(transform["scale_m"])))
    elif kind == "linear":
        s = _broadcast_interp(m, [draws.get(f"x{i}", float(p[0])) for i, p in enumerate(transform["points"])],
                              [float(p[1]) for p in transform["points"]])
    else:
        raise ProfileError(f"a {kind} transform has no numbers that take a range")
    return np.where(np.isnan(m), np.nan, s)


def _broadcast_interp(m: np.ndarray, xs: list, ys: list[float]) -> np.ndarray:
    """``np.interp(m, xs, ys)`` where the xs are arrays of draws (one loop over the points, none over
    sites or draws): ys[0] left of xs[0], ys[-1] right of xs[-1], linear in between."""
    out = np.where(m <= xs[0], ys[0], ys[-1]) + np.zeros_like(xs[0] * m)
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        inside = (m > x0) & (m <= x1)
        with np.errstate(invalid="ignore"):
            out = np.where(inside, y0 + (m - x0) * ((y1 - y0) / (x1 - x0)), out)
    return out
