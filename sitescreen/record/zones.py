"""One measuring zone of a zoned run (:mod:`sitescreen.inputs.zones`), as the run record
(``zones``) keeps it; :func:`sitescreen.rules.reviewwords.crs_phrase` puts a run's zones in words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ZoneRecord:
    """A measuring zone: the CRS its sites were measured in (``crs``: ``EPSG:5070`` or a PROJ
    string), its name, how the summary names it (``label``), why it was chosen, how many sites it
    holds and the lon/lat bounds of their records (``west > east`` across ±180°)."""
    crs: str
    name: str
    label: str
    why: str
    sites: int
    bounds: tuple[float, ...]

