"""Verdict caps read back from a run record: per site, the best verdict its caps allow.

A rule's ``cap = { verdict = "review", below = 1000 }`` (parsed in :mod:`sitescreen.rules.profile`)
holds a site no better than ``review`` where the condition holds; the run record keeps it as
``cap = {verdict, condition}`` with the condition written as an exclusion is (``"< 1000"``). The
rescorings that start from results, not from the profile (the map's live re-weighting, sampled
weightings), get each site's floor here and apply it with
:func:`sitescreen.rules.scoring.capped_codes`, exactly as the run did.
"""

from __future__ import annotations

import ast
from typing import Any, Iterable

import numpy as np
import pandas as pd

from sitescreen.rules.profile import CONDITION_SYMBOLS, condition_holds
from sitescreen.rules.verdicts import VERDICTS

_OPS = {sym: op for op, sym in CONDITION_SYMBOLS.items()}


def parse_condition(text: str) -> tuple[str, Any]:
    """``"< 1000"`` → ``("below", 1000.0)``; ``"in ['a']"`` → ``("in", ['a'])``. A condition this
    version cannot read is refused (ValueError), never guessed."""
    sym, _, rest = str(text).strip().partition(" ")
    if sym not in _OPS:
        raise ValueError(f"condition {text!r} is not one of {', '.join(_OPS)}")
    return _OPS[sym], (list(ast.literal_eval(rest)) if sym == "in" else float(rest))


def floor_codes(criteria: Iterable[Any], sites: pd.DataFrame) -> np.ndarray:
    """Per site of ``sites`` (results with ``m_*`` columns), the code in
    :data:`~sitescreen.rules.verdicts.VERDICTS` of the strictest cap that holds, 0 where none does.
    ``criteria``: the run record's criteria (objects with ``cap``, ``evaluated``, ``measure_column``)."""
    floor = np.zeros(len(sites), dtype=np.int8)
    for c in criteria:
        if getattr(c, "cap", None) is None or not c.evaluated:
            continue
        hit = cap_holds(c, sites)
        floor = np.maximum(floor, np.where(hit, VERDICTS.index(c.cap.verdict), 0).astype(np.int8))
    return floor


def cap_holds(c: Any, sites: pd.DataFrame) -> np.ndarray:
    """Per site of ``sites`` (results with ``m_*`` columns): where the run record's criterion ``c``'s
    verdict cap holds (missing never does); all False when it has none or was not evaluated."""
    if getattr(c, "cap", None) is None or not c.evaluated:
        return np.zeros(len(sites), dtype=bool)
    if c.measure_column not in sites:
        raise ValueError(f"criterion {c.name} caps verdicts but the results have no {c.measure_column} column")
    op, value = parse_condition(c.cap.condition)
    return np.asarray(condition_holds(op, value, sites[c.measure_column].to_numpy()), dtype=bool)


def has_caps(criteria: Iterable[Any]) -> bool:
    """Whether any evaluated criterion of a run record caps verdicts."""
    return any(getattr(c, "cap", None) is not None and c.evaluated for c in criteria)
