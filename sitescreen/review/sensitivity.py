"""How robust each verdict is: the run's sites rescored under sampled weights, thresholds and breakpoints.

The rescoring is the run's own: :func:`sitescreen.rules.scoring.weighted_total` and
:func:`~sitescreen.rules.scoring.verdict_codes` over the per-criterion suitabilities ``s_*`` of
sites.parquet (re-made from ``m_*`` with :func:`sitescreen.rules.ranges.sampled_suitability` only
for a transform whose profile states a ``range``). Excluded and incomplete sites keep their
verdict in every sample: nothing a weighting does clears an exclusion or fills a gap.

What varies (:func:`draw`), from one seeded ``numpy.random.default_rng(seed)``:

- the weights, Dirichlet(``k · w``) around the run's effective weights ``w`` (the K criteria with a
  share of the score); ``k = (K − 1) / spread² − 1``, so a criterion of the mean weight ``1/K`` has a
  coefficient of variation of exactly ``spread`` (a weight ``w`` has ``√((1 − w) / (w (k + 1)))``:
  heavier weights vary less, relatively, lighter ones more); with one weighted criterion its weight
  stays 1;
- each verdict threshold or transform breakpoint whose profile states a ``range`` (rules/ranges.py),
  uniform in it.

Sites and samples are vectorized: a chunk of sites × all samples (or all sites × a chunk of
samples, for ranks) of at most :data:`CELLS` numbers at a time, never a Python loop over either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sitescreen.errors import OutputError
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.ranges import sampled_suitability
from sitescreen.rules.caps import floor_codes, has_caps
from sitescreen.rules.scoring import capped_codes, verdict_codes, weighted_total
from sitescreen.rules.verdicts import VERDICTS, thresholds

CELLS = 4_000_000  # numbers per chunk (sites × samples): 32 MB of float64
SCORED = VERDICTS[:3]  # the verdicts a rescoring can give (favorable, review, unfavorable)


@dataclass(frozen=True)
class Parameter:
    """One number a sample varies: a criterion's weight (``name`` = the criterion), a verdict
    threshold (``verdicts.KEY``) or a transform breakpoint (``CRITERION.KEY``)."""
    name: str
    what: str  # "weight", "verdict threshold", "transform breakpoint"
    nominal: float
    low: float  # the range of a stated range; a weight's 5–95 % (see oat_values)
    high: float


@dataclass(frozen=True)
class Problem:
    """What a rescoring needs: the weighted criteria in the profile's order with their suitabilities
    (or measurements and transform, for one with a ranged breakpoint) of the rescored sites."""
    names: tuple[str, ...]
    weights: np.ndarray  # effective weights (K,)
    suits: tuple[np.ndarray, ...]  # (n,) per criterion
    measures: tuple[np.ndarray | None, ...]
    transforms: tuple[dict | None, ...]
    favorable: float
    review: float
    params: tuple[Parameter, ...]
    concentration: float | None
    floor: np.ndarray | None = None  # (n,) the verdict code each site's caps allow at best (rules/caps.py)

    @property
    def sites(self) -> int:
        return len(self.suits[0]) if self.suits else 0


def problem(sites: pd.DataFrame, record: RunRecord, spread: float, where: str) -> tuple[Problem, np.ndarray]:
    """The rescoring problem of a run and the mask of its rescored sites (a score-band verdict)."""
    rescored = np.isin(sites["verdict"].to_numpy(dtype=object), SCORED)
    crits = [c for c in record.criteria if c.effective_weight > 0 and c.score_column]
    missing = [c.score_column for c in crits if c.score_column not in sites]
    if missing:
        raise OutputError(f"{where}: column {missing[0]} is missing; the results do not match the manifest")
    fav, rev = thresholds(record.profile.verdicts)
    w = np.array([c.effective_weight for c in crits])
    k = (len(crits) - 1) / spread ** 2 - 1 if len(crits) > 1 else None
    params = [Parameter(c.name, "weight", float(wi), *_weight_band(wi, k)) for c, wi in zip(crits, w)] if k else []
    ranges = dict(getattr(record.profile.verdicts, "range", None) or {})
    params += [Parameter(f"verdicts.{key}", "verdict threshold", v, *ranges[key])
               for key, v in (("favorable", fav), ("review", rev)) if key in ranges]
    measures, transforms = [], []
    for c in crits:
        tr = dict(c.transform or {})
        ranged = dict(tr.get("range") or {})
        measures.append(_numeric(sites, c.measure_column, where)[rescored] if ranged else None)
        transforms.append(tr if ranged else None)
        params += [Parameter(f"{c.name}.{key}", "transform breakpoint", _nominal(tr, key), *map(float, ranged[key]))
                   for key in ranged]
    suits = tuple(_numeric(sites, c.score_column, where)[rescored] for c in crits)
    floor = _floor(sites, record, where)
    return Problem(tuple(c.name for c in crits), w, suits, tuple(measures), tuple(transforms), fav, rev,
                   tuple(params), k, None if floor is None else floor[rescored]), rescored


def _floor(sites: pd.DataFrame, record: RunRecord, where: str) -> np.ndarray | None:
    """Per site, the best verdict code its caps allow (None when the run caps nothing)."""
    if not has_caps(record.criteria):
        return None
    try:
        return floor_codes(record.criteria, sites)
    except ValueError as e:
        raise OutputError(f"{where}: {e}; the results do not match the manifest") from None


def _nominal(transform: dict, key: str) -> float:
    from sitescreen.rules.ranges import transform_value
    return transform_value(transform, key)


def _numeric(sites: pd.DataFrame, col: str, where: str) -> np.ndarray:
    if col not in sites:
        raise OutputError(f"{where}: column {col} is missing; the results do not match the manifest")
    return pd.to_numeric(sites[col], errors="coerce").to_numpy(dtype=float)


def _weight_band(w: float, k: float) -> tuple[float, float]:
    """The 5 and 95 % points of a weight's Dirichlet marginal, Beta(k w, k (1 − w))."""
    from scipy.stats import beta
    lo, hi = beta.ppf([0.05, 0.95], k * w, k * (1 - w))
    return float(lo), float(hi)


def draw(p: Problem, samples: int, seed: int) -> dict[str, np.ndarray]:
    """The sampled numbers, by parameter name (weights also as ``"weights"``, shape ``(samples, K)``)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    if p.concentration:
        out["weights"] = rng.dirichlet(p.concentration * p.weights, size=samples)
    else:
        out["weights"] = np.broadcast_to(p.weights, (samples, len(p.weights)))
    for prm in p.params:
        if prm.what != "weight":
            out[prm.name] = rng.uniform(prm.low, prm.high, size=samples)
    return out


def take(draws: dict[str, np.ndarray], cols) -> dict[str, np.ndarray]:
    """The draws of the samples ``cols`` (a slice or index array)."""
    return {k: v[cols] for k, v in draws.items()}


def rescore(p: Problem, rows, draws: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(total 0–1, verdict code) of the sites ``rows`` under each sample of ``draws``: shape
    ``(sites, samples)``; the run's own formula (module doc)."""
    suits = []
    for j, name in enumerate(p.names):
        if p.transforms[j] is None:
            suits.append(p.suits[j][rows, None])
        else:
            keys = {k: draws[f"{name}.{k}"] for k in p.transforms[j]["range"]}
            suits.append(sampled_suitability(p.transforms[j], p.measures[j][rows, None], keys))
    weights = [draws["weights"][:, j] for j in range(len(p.names))]
    total = np.zeros((len(np.arange(p.sites)[rows]), len(draws["weights"]))) + weighted_total(suits, weights)
    fav = draws.get("verdicts.favorable", p.favorable)
    rev = draws.get("verdicts.review", p.review)
    codes = verdict_codes(total, fav, rev)
    return total, (codes if p.floor is None else capped_codes(codes, p.floor[rows, None]))


def nominal(p: Problem) -> dict[str, np.ndarray]:
    """The run's own numbers as one sample."""
    out = {"weights": p.weights[None, :]}
    out.update({prm.name: np.array([prm.nominal]) for prm in p.params if prm.what != "weight"})
    return out


def chunks(total: int, per: int):
    """Slices of ``range(total)`` of ``per`` each (at least one)."""
    per = max(1, int(per))
    return (slice(i, min(i + per, total)) for i in range(0, total, per))
