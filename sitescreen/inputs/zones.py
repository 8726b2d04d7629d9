"""Measuring zones: the parts of a run whose sites no single CRS measures truly, each with its own CRS.

When the run CRS is not given (``--crs`` / ``[run] crs``) and neither a national region's CRS nor
an equal-area CRS centred on the sites keeps every length (and area) true at the sites
(:func:`sitescreen.inputs.crs.working_crs`), the run is split into zones instead of refused:

* every site goes to exactly one zone: the first national region of
  :data:`sitescreen.inputs.crs.REGIONS` (CONUS Albers, Alaska Albers) whose box holds its centre,
  else a cluster of the remaining sites (split where :data:`ZONE_GAP_DEG` degrees of longitude,
  then of latitude, hold no site: Hawaii, Puerto Rico and Guam are clusters of their own), measured
  in a Lambert azimuthal equal-area CRS centred on the cluster
  (:func:`~sitescreen.inputs.crs.local_equal_area`), named after the area of :data:`NAMED_AREAS`
  holding its centre;
* every zone's CRS must pass :func:`~sitescreen.inputs.crs.distortion_problem` for its sites
  (with areas when the profile measures areas), else the run is refused naming the zone;
* the same sites give the same zones, in the same order (regions first, then clusters from west
  to east), whatever their order in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import CRS

from sitescreen.errors import CRSError
from sitescreen.inputs.crs import (REGIONS, Extent, ExtentBuilder, _arc_within, _wrap, crs_label, distortion_problem,
                                   local_equal_area)

#: Sites outside every national region are split into clusters where this many degrees of
#: longitude (then of latitude) hold none of them.
ZONE_GAP_DEG = 3.0
#: (name, west, east, south, north): what a cluster is called when its centre lies in the box.
NAMED_AREAS = (("Hawaii", -179.0, -154.0, 18.0, 29.0),
               ("Puerto Rico and the U.S. Virgin Islands", -68.5, -64.0, 17.0, 19.0),
               ("Guam and the Northern Mariana Islands", 144.0, 147.0, 13.0, 21.0),
               ("American Samoa", -171.5, -168.0, -15.0, -10.0))


@dataclass(frozen=True)
class Zone:
    """One measuring zone: its CRS, what it is called, why it was chosen, and where its sites are."""

    crs: CRS
    name: str     # "CONUS Albers", "local equal-area (Hawaii)"
    why: str      # in words, for the record
    extent: Extent

    @property
    def label(self) -> str:
        """How the summary line and the report name the zone: "EPSG:5070 (CONUS Albers)"."""
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg} ({self.name})" if epsg else self.name


def _in_box(lon: np.ndarray, lat: np.ndarray, w: float, e: float, s: float, n: float) -> np.ndarray:
    span = (e - w) % 360.0
    return ((lon - w) % 360.0 <= span) & (lat >= s) & (lat <= n)


def _split(values: np.ndarray, idx: np.ndarray, circular: bool) -> list[np.ndarray]:
    """``idx`` split where ``values[idx]`` leave a gap of more than :data:`ZONE_GAP_DEG` (a circle of
    longitudes is cut at its largest gap first)."""
    order = idx[np.argsort(values[idx], kind="stable")]
    v = values[order]
    if circular and len(v) > 1:  # start after the largest gap, the one across ±180° included
        start = (int(np.argmax(np.append(np.diff(v), v[0] + 360.0 - v[-1]))) + 1) % len(v)
        order, v = np.roll(order, -start), np.roll(v, -start)
        gaps = np.diff(v) % 360.0
    else:
        gaps = np.diff(v)
    cuts = np.flatnonzero(gaps > ZONE_GAP_DEG) + 1
    return np.split(order, cuts)


def _clusters(lon: np.ndarray, lat: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
    """The sites ``idx`` in clusters: split by longitude gaps, then each by latitude gaps."""
    out = []
    for part in _split(lon, idx, circular=True):
        out.extend(_split(lat, part, circular=False))
    return out


def _extent(lon: np.ndarray, lat: np.ndarray) -> Extent:
    return ExtentBuilder().add(lon, lat).extent()


def _cluster_name(ext: Extent) -> str:
    for name, w, e, s, n in NAMED_AREAS:
        if _arc_within(ext.lon, ext.lon, w, e) and s <= ext.lat <= n:
            return name
    return f"centred on {ext.lat:.2f}, {ext.lon:.2f}"


def plan_zones(lon, lat, corners, area_criteria: tuple[str, ...]) -> tuple[tuple[Zone, ...], np.ndarray]:
    """The measuring zones of sites centred at ``lon``/``lat``, and each site's zone (an index).

    ``corners``: per site, the lon/lat of its footprint's corners (an ``(n, k, 2)`` array), over
    which a zone's distortion is checked. Refused (:class:`~sitescreen.errors.CRSError`) when a
    zone's CRS would make its lengths, or its areas if ``area_criteria`` measure them, wrong.
    """
    lon, lat = _wrap(lon), np.asarray(lat, dtype=float)
    zone_of = np.full(len(lon), -1, dtype=np.int64)
    zones: list[Zone] = []
    groups: list[tuple[CRS, str, str, np.ndarray]] = []
    for epsg, label, w, e, s, n in REGIONS:
        hold = np.flatnonzero(_in_box(lon, lat, w, e, s, n) & (zone_of < 0))
        if len(hold):
            zone_of[hold] = len(groups)
            groups.append((CRS.from_epsg(epsg), label, f"the national region of {label} "
                           f"(lon {w:g} to {e:g}, lat {s:g} to {n:g}) holds these sites", hold))
    rest = _clusters(lon, lat, np.flatnonzero(zone_of < 0)) if (zone_of < 0).any() else []
    for part in sorted(rest, key=lambda p: (float(np.min(lon[p])), float(np.min(lat[p])))):
        ext = _extent(lon[part], lat[part])
        where = _cluster_name(ext)
        zone_of[part] = len(groups)
        groups.append((local_equal_area(ext.lon, ext.lat), f"local equal-area ({where})",
                       f"equal-area centred on the {len(part)} site(s) outside every national region "
                       f"{'in ' + where if not where.startswith('centred') else where}", part))
    corners = np.asarray(corners, dtype=float)
    for crs, name, why, members in groups:
        pts = corners[members].reshape(-1, 2)
        ext = _extent(pts[:, 0], pts[:, 1])
        zone = Zone(crs=crs, name=name, why=why, extent=ext)
        problem = distortion_problem(crs, ext, areas=bool(area_criteria))
        if problem:
            need = f" (criteria {', '.join(area_criteria)} measure areas)" if area_criteria else ""
            raise CRSError(f"measuring zone {zone.label} ({len(members)} site(s), {ext.describe()}): "
                           f"{crs_label(crs)} {problem}{need}; screen these sites in a run of their own with "
                           f"--aoi around them")
        zones.append(zone)
    return tuple(zones), zone_of
