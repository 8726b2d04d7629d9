"""Numbers where they enter: one range per setting, checked once, the same for flags, run configs,
recorded runs and profiles.

Every number a user gives (``--radius``, ``radius_m`` in a run config, ``search_radius_m`` in a
profile …) is checked here: a real number (not a string, not a boolean), finite (TOML allows
``nan`` and ``inf``), and within the range of the setting, in its unit. The error names the flag
or key, the value and the allowed range. :data:`RANGES` is the one table of those ranges; the CLI's
option types and the README render from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sitescreen.errors import ConfigError, SitescreenError


@dataclass(frozen=True)
class Range:
    """The allowed values of one numeric setting: ``low`` (<, or ≤ when ``closed_low``) x ≤ ``high``."""

    low: float | None
    high: float | None
    unit: str = ""
    closed_low: bool = False
    integer: bool = False

    def text(self) -> str:
        """The range in words, e.g. ``> 0 and ≤ 100000 m``."""
        parts = []
        if self.low is not None:
            parts.append(f"{'≥' if self.closed_low else '>'} {show(self.low)}")
        if self.high is not None:
            parts.append(f"≤ {show(self.high)}")
        text = " and ".join(parts) or "finite"
        kind = "a whole number" if self.integer else ""
        return " ".join(p for p in (kind, text, self.unit) if p)

    def check(self, value: Any, key: str, where: str = "", error: type[SitescreenError] = ConfigError) -> float:
        """``value`` as a float (an int for integer settings), or ``error`` naming ``where`` and ``key``."""
        prefix = f"{where}: " if where else ""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{prefix}{key} must be a number, got {value!r}; allowed: {self.text()}")
        x = float(value)
        ok = math.isfinite(x) and (self.high is None or x <= self.high)
        if ok and self.low is not None:
            ok = x >= self.low if self.closed_low else x > self.low
        if ok and self.integer:
            ok = x == int(x)
        if not ok:
            raise error(f"{prefix}{key} must be {self.text()}; got {show(value)}")
        return int(x) if self.integer else x


def show(x: float) -> str:
    """A number as people write it: 100,000 rather than 1e+05; inf and nan as such."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


def finite_number(value: Any, key: str, where: str = "", error: type[SitescreenError] = ConfigError) -> float:
    """A finite number with no other bound (thresholds, breakpoints, exclusion limits)."""
    return Range(None, None).check(value, key, where, error)


#: Every numeric setting a user can give, by its key in run configs and profiles.
RANGES: dict[str, Range] = {
    # [sites] of a run config, and the flags that override them
    "radius_m": Range(0, 100_000, "m"),                        # footprint radius around deposit points
    "grid_cell_m": Range(0, 1_000_000, "m"),                   # a grid cell's side
    "merge_distance_m": Range(0, 100_000, "m", closed_low=True),  # duplicate records this close
    "merge_name_similarity": Range(0, 1, closed_low=True),
    "merge_always_m": Range(0, 100_000, "m", closed_low=True),
    "band": Range(1, None, closed_low=True, integer=True),     # a raster layer's band
    # profiles
    "weight": Range(0, 1, closed_low=True),
    "verdict": Range(0, 100, "points", closed_low=True),       # verdicts.favorable / verdicts.review
    "search_radius_m": Range(0, 1_000_000, "m"),               # distance criteria
    "distance_m": Range(0, 1_000_000, "m"),                    # count_within criteria
    "scale_m": Range(0, 1_000_000, "m"),                       # decay transforms
    "suitability": Range(0, 1, closed_low=True),               # a transform's 0–1 output
}

#: Longitude and latitude of an area of interest, in degrees.
LONGITUDE = Range(-180, 180, "degrees", closed_low=True)
LATITUDE = Range(-90, 90, "degrees", closed_low=True)


def check_number(name: str, value: Any, key: str | None = None, where: str = "",
                 error: type[SitescreenError] = ConfigError) -> float:
    """``value`` checked against the range of setting ``name`` (reported as ``key``, default ``name``)."""
    return RANGES[name].check(value, key or name, where, error)


def plain_number(value: Any, where: str, error: type[SitescreenError] = ConfigError) -> float:
    """A finite number with no other bound, in the profile's form: ``<where>: expected a number, got
    <value>`` (a string, a boolean, NaN) or ``… expected a finite number`` (±inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise error(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise error(f"{where}: expected a finite number, got {value!r}")
    return value
