"""The record a criterion's measurement fills: one value per site, the feature behind it, and why a
site has no value. Measured in :mod:`sitescreen.measure`, scored by :mod:`sitescreen.rules.scoring`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Measurement:
    """One criterion over all sites: values, the feature each value refers to, and no-data reasons."""

    values: np.ndarray                       # float (or object for categorical attributes)
    feature: np.ndarray | None = None        # name of the feature behind the value ("" when none)
    feature_layer: np.ndarray | None = None  # the layer that feature came from
    nodata_reason: np.ndarray | None = None  # per site: why there is no value ("" when there is)
    evaluated: bool = True
    note: str = ""
    layers: list[str] = field(default_factory=list)
    parts: np.ndarray | None = None          # per site: what the value is made of, in words ("" when none)


def joined(pieces: list[Measurement]) -> Measurement:
    """One criterion's measurements of consecutive pieces of sites, as one (in the pieces' order);
    what describes the criterion (evaluated, note, layers) is the first piece's."""
    first = pieces[0]

    def cat(part: str):
        arrays = [getattr(m, part) for m in pieces]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)
    return Measurement(values=cat("values"), feature=cat("feature"), feature_layer=cat("feature_layer"),
                       nodata_reason=cat("nodata_reason"), evaluated=first.evaluated, note=first.note,
                       layers=list(first.layers), parts=cat("parts"))
