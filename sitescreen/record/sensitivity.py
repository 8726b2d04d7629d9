"""The ``sensitivity`` section of the run record (``sitescreen sensitivity``), a part of
:class:`sitescreen.record.manifest.RunRecord` kept in its own module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

FROZEN = dict(frozen=True, kw_only=True)


@dataclass(**FROZEN)
class SensitivityParameter:
    """One number ``sitescreen sensitivity`` varies (:class:`sitescreen.review.sensitivity.Parameter`)."""
    name: str
    what: str = field(metadata={"schema": {"enum": ["weight", "verdict threshold", "transform breakpoint"]}})
    nominal: float
    low: float
    high: float


@dataclass(**FROZEN)
class SobolIndex:
    """A parameter's first-order and total Sobol index with their 95 % confidence half-widths
    (SALib); ``null`` when the output does not vary."""
    S1: float | None
    S1_conf: float | None
    ST: float | None
    ST_conf: float | None


@dataclass(**FROZEN)
class SensitivityRecord:
    """How ``sitescreen sensitivity`` sampled the run (:mod:`sitescreen.review.sensitivity`): enough to
    repeat it (``verify`` does) and to read its files (``columns``). ``sobol``: per run output
    (``mean_score``, ``share_favorable``), per parameter."""
    samples: int
    spread: float
    seed: int
    concentration: float | None
    sites_rescored: int
    sites_fixed: int
    rank_bins: int
    parameters: tuple[SensitivityParameter, ...]
    sobol_samples: int
    sobol: Mapping[str, Mapping[str, SobolIndex]]
    files: tuple[str, ...]
    columns: Mapping[str, str]
