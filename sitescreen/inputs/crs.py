"""The run's working CRS: where the sites are, which CRS measures them truly, and the lon/lat
boxes layers are read within.

* :class:`Extent` — the sites' lon/lat extent as the smallest arc of longitude holding them (it may
  cross ±180°: ``west > east``), their latitude range and their spherical mean (the centre).
  :class:`ExtentBuilder` gathers it piece by piece (streamed runs) or at once (in memory).
* :func:`choose_crs` — CONUS Albers (EPSG:5070) or Alaska Albers (EPSG:3338) where they hold the
  sites, else a Lambert azimuthal equal-area centred on the sites.
* :func:`working_crs` — the one place a run's CRS is decided: the given one or the chosen one,
  refused (:class:`~sitescreen.errors.CRSError`) unless it is projected, in metres, keeps lengths
  true at the sites within :data:`MAX_LENGTH_ERROR` and, when the profile measures areas, keeps
  areas true within :data:`MAX_AREA_ERROR` (scale factors from PROJ at points over the extent).
  Sites no single CRS measures truly are not refused when the CRS is not given: the run is split
  into measuring zones (:mod:`sitescreen.inputs.zones`), each checked the same way; a grid of
  sites (made in one CRS) and a given CRS are refused as here.
* :func:`split_box` — a lon/lat box crossing ±180° as the two boxes a reader can use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Proj, Transformer
from pyproj.exceptions import CRSError as ProjCRSError

from sitescreen.errors import CRSError

#: A run CRS may stretch or shrink lengths at the sites by at most this share (CONUS Albers
#: reaches 1.7 % at the corners of the lower 48).
MAX_LENGTH_ERROR = 0.02
#: ... and, where the profile measures areas, scale areas by at most this share (equal-area: 0).
MAX_AREA_ERROR = 0.001
_BINS = 3600  # 0.1° longitude bins for the largest-gap arc


def _wrap(lon):
    """Longitudes in [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class Extent:
    """Sites' lon/lat extent: ``west > east`` when it crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float
    lon: float  # spherical mean of the sites
    lat: float

    @property
    def width(self) -> float:
        """Degrees of longitude from west to east (eastwards)."""
        if self.east - self.west >= 360.0:
            return 360.0
        return (self.east - self.west) % 360.0

    @property
    def bounds(self) -> tuple:
        return (self.west, self.south, self.east, self.north)

    def sample(self, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """Lon/lat points on an ``n``×``n`` grid over the extent (where its distortion is measured)."""
        lon = _wrap(self.west + np.linspace(0.0, self.width, n))
        lat = np.linspace(self.south, self.north, n)
        gx, gy = np.meshgrid(lon, lat)
        return np.append(gx.ravel(), self.lon), np.append(gy.ravel(), self.lat)

    def describe(self) -> str:
        return (f"lon {self.west:.6g} to {self.east:.6g} ({self.width:.4g}° of longitude), "
                f"lat {self.south:.6g} to {self.north:.6g}")


def extent_of_bounds(bounds) -> Extent:
    """An :class:`Extent` from a lon/lat box (``west > east`` crosses ±180°), centred on its middle."""
    w, s, e, n = (float(v) for v in bounds)
    box = Extent(w, s, e, n, 0.0, (s + n) / 2)
    return Extent(w, s, e, n, float(_wrap(w + box.width / 2)) if box.width < 360.0 else 0.0, (s + n) / 2)


class ExtentBuilder:
    """Gathers lon/lat points (all at once or piece by piece) into the sites' :class:`Extent`.

    Longitudes are kept as the smallest and largest value in each 0.1° bin, so the arc between the
    largest empty gap is exact while memory stays fixed; the centre is the mean of the points'
    unit vectors (the spherical mean: right across ±180° and near the poles).
    """

    def __init__(self) -> None:
        self.lo = np.full(_BINS, np.inf)
        self.hi = np.full(_BINS, -np.inf)
        self.south, self.north = np.inf, -np.inf
        self.xyz = np.zeros(3)

    def add(self, lon, lat) -> "ExtentBuilder":
        lon, lat = _wrap(lon), np.asarray(lat, dtype=float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        lon, lat = lon[ok], lat[ok]
        if not len(lon):
            return self
        b = np.clip(((lon + 180.0) * (_BINS / 360.0)).astype(np.int64), 0, _BINS - 1)
        np.minimum.at(self.lo, b, lon)
        np.maximum.at(self.hi, b, lon)
        self.south, self.north = min(self.south, lat.min()), max(self.north, lat.max())
        rl, rp = np.radians(lon), np.radians(lat)
        self.xyz += [np.sum(np.cos(rp) * np.cos(rl)), np.sum(np.cos(rp) * np.sin(rl)), np.sum(np.sin(rp))]
        return self

    def add_geometries(self, geoms: np.ndarray, crs: CRS) -> "ExtentBuilder":
        """Add the corners of each geometry's bounds (in ``crs``), as lon/lat."""
        b = shapely.bounds(np.asarray(geoms, dtype=object))
        b = b[np.isfinite(b).all(axis=1)]
        x = np.concatenate([b[:, 0], b[:, 2], b[:, 0], b[:, 2]])
        y = np.concatenate([b[:, 1], b[:, 1], b[:, 3], b[:, 3]])
        if not CRS(crs).is_geographic:
            x, y = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
        return self.add(x, y)

    def extent(self) -> Extent | None:
        used = np.flatnonzero(np.isfinite(self.lo))
        if not len(used):
            return None
        lo, hi = self.lo[used], self.hi[used]
        gaps = np.append(lo[1:] - hi[:-1], lo[0] + 360.0 - hi[-1])  # gap after each occupied bin
        k = int(np.argmax(gaps))
        if gaps[k] < 360.0 / _BINS:  # longitudes all round the globe
            west, east = -180.0, 180.0
        else:
            west, east = float(lo[(k + 1) % len(used)]), float(hi[k])
        x, y, z = self.xyz
        lon_c, lat_c = np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))
        return Extent(west, float(self.south), east, float(self.north), float(lon_c), float(lat_c))


def _arc_within(w: float, e: float, region_w: float, region_e: float) -> bool:
    """Is the eastward arc w→e inside the eastward arc region_w→region_e?"""
    span = (region_e - region_w) % 360.0
    return (w - region_w) % 360.0 <= span and (e - region_w) % 360.0 <= span and \
        (w - region_w) % 360.0 <= (e - region_w) % 360.0


#: (EPSG, label, west, east, south, north): regions with a national equal-area CRS.
REGIONS = ((5070, "CONUS Albers", -125.0, -66.0, 24.0, 50.0),
           (3338, "Alaska Albers", 167.0, -129.0, 51.0, 72.0))


def local_equal_area(lon: float, lat: float) -> CRS:
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.4f} +lon_0={lon:.4f} +datum=WGS84 +units=m +no_defs")


def _candidates(ext: Extent) -> list[tuple[CRS, str]]:
    """CRSs that suit these sites, best first: a national Albers holding them, a local equal-area."""
    out = [(CRS.from_epsg(epsg), f"EPSG:{epsg} ({label})") for epsg, label, w, e, s, n in REGIONS
           if _arc_within(ext.west, ext.east, w, e) and s <= ext.south and ext.north <= n]
    laea = local_equal_area(ext.lon, ext.lat)
    return out + [(laea, f'"{laea.to_string()}" (equal-area, centred on the sites)')]


def choose_crs(where) -> CRS:
    """An equal-area CRS that keeps lengths true at the sites (an :class:`Extent`, or a lon/lat box):
    the first of :func:`_candidates` whose distortion there is within the limits."""
    ext = where if isinstance(where, Extent) else extent_of_bounds(where)
    cands = _candidates(ext)
    for crs, _ in cands:
        if not distortion_problem(crs, ext, areas=True):
            return crs
    return cands[-1][0]


def to_crs(value: str | CRS, where: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except (ProjCRSError, TypeError) as exc:
        raise CRSError(f"{where}: {value!r} is not a CRS pyproj understands (e.g. EPSG:5070): {exc}") from None


def crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else f"{crs.to_string()!r}" + (f" ({crs.name})" if crs.name != "unknown" else "")


def kind_problem(crs: CRS) -> str | None:
    """Why ``crs`` cannot be a run CRS whatever the sites (geographic, not metres), or None."""
    if crs.is_geographic:
        return "is geographic (degrees), so lengths and areas in it are not metres"
    if not crs.is_projected:
        return "is not a projected CRS (lengths and areas need a map projection in metres)"
    units = {(ax.unit_name, ax.unit_conversion_factor) for ax in crs.axis_info[:2]}
    if any(abs(f - 1.0) > 1e-12 for _, f in units):
        return f"measures in {', '.join(sorted(u for u, _ in units))}, not metres"
    return None


def _scales(crs: CRS, ext: Extent) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon, lat = ext.sample()
    try:
        f = Proj(crs).get_factors(lon, lat, errcheck=False)
        return (np.asarray(f.tissot_semimajor, float), np.asarray(f.tissot_semiminor, float),
                np.asarray(f.areal_scale, float))
    except Exception:  # PROJ cannot evaluate the projection there
        nan = np.full(len(lon), np.nan)
        return nan, nan, nan


def distortion_problem(crs: CRS, ext: Extent, *, areas: bool) -> str | None:
    """Why lengths (or, with ``areas``, areas) measured in ``crs`` at the sites would be wrong, or None."""
    a, b, s = _scales(crs, ext)
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(s).all()):
        return "cannot project every site (they lie outside its domain)"
    length = max(float(np.max(np.abs(a - 1))), float(np.max(np.abs(b - 1))))
    area = float(np.max(np.abs(s - 1)))
    problems = []
    if length > MAX_LENGTH_ERROR:
        problems.append(f"distorts lengths at the sites by up to {100 * length:.1f} % (scale {np.min(b):.3g} to "
                        f"{np.max(a):.3g}; at most {100 * MAX_LENGTH_ERROR:g} % is allowed)")
    if areas and area > MAX_AREA_ERROR:
        problems.append(f"is not equal-area at the sites: it scales areas by {np.min(s):.4g} to {np.max(s):.4g} "
                        f"(at most {100 * MAX_AREA_ERROR:g} % is allowed where areas are measured)")
    return " and ".join(problems) or None


def suggestion(ext: Extent, areas: bool) -> str:
    """The CRSs to use instead, for these sites."""
    names = [label for crs, label in _candidates(ext) if not distortion_problem(crs, ext, areas=True)]
    if not areas and -80 <= ext.lat <= 84:
        zone = int((ext.lon + 180) // 6) % 60 + 1
        utm = CRS.from_epsg((32600 if ext.lat >= 0 else 32700) + zone)
        if not distortion_problem(utm, ext, areas=False):
            names.append(f"EPSG:{utm.to_epsg()} ({utm.name})")
    return " or ".join(names) + " for these sites (leave out --crs to use the first)" if names else ""


def parse_run_crs(value, where: str = "--crs") -> CRS:
    """A user's run CRS, refused at once when it cannot measure in metres (before any work)."""
    crs = to_crs(value, where)
    why = kind_problem(crs)
    if why:
        raise CRSError(f"{where} {crs_name(crs)} {why}: the run CRS must be projected, in metres, and equal-area "
                       f"where areas are measured, such as EPSG:5070 (CONUS Albers) or EPSG:3338 (Alaska Albers); "
                       f"or leave it out: one is chosen for the sites' location")
    return crs


def working_crs(value, ext: Extent, area_criteria: tuple[str, ...], where: str = "--crs") -> CRS:
    """The run CRS: ``value`` (the user's) or the one chosen for the sites' extent ``ext``; refused
    when lengths, or areas if ``area_criteria`` measure them, would be wrong at the sites."""
    areas = bool(area_criteria)
    crs = parse_run_crs(value, where) if value is not None else choose_crs(ext)
    why = distortion_problem(crs, ext, areas=areas)
    if why is None:
        return crs
    need = f" (criteria {', '.join(area_criteria)} measure areas)" if areas and "equal-area" in why else ""
    if value is None:
        raise CRSError(f"sites span {ext.describe()}: no single CRS measures them truly; the closest, {crs_name(crs)}, "
                       f"{why}{need}; screen the regions in separate runs{region_runs(ext)}")
    hint = suggestion(ext, areas)
    raise CRSError(f"{where} {crs_name(crs)} {why}{need}; use {hint}" if hint else
                   f"{where} {crs_name(crs)} {why}{need}; screen the regions in separate runs")


def region_runs(ext: Extent) -> str:
    """The national regions (:data:`REGIONS`) the sites reach, as the ``--aoi`` of one run each
    (``": --aoi -125,24,-66,50 (EPSG:5070, CONUS Albers) and --aoi 167,51,-129,72 (…)"``), or ""
    when they reach fewer than two; a run's CRS is then chosen for its region."""
    def reaches(w: float, e: float, s: float, n: float) -> bool:
        lon_in = _arc_within(w, w, ext.west, ext.east) or _arc_within(ext.west, ext.west, w, e)
        return lon_in and s <= ext.north and ext.south <= n
    runs = [f"--aoi {w:g},{s:g},{e:g},{n:g} (EPSG:{epsg}, {label})" for epsg, label, w, e, s, n in REGIONS if reaches(w, e, s, n)]
    return ": " + " and ".join(runs) + ", and any sites outside these boxes with an --aoi around them" if len(runs) > 1 else ""


def split_box(box) -> tuple[tuple, ...]:
    """A lon/lat box as boxes that do not cross ±180° (``west > east`` gives two)."""
    w, s, e, n = box
    if w <= e:
        return ((max(w, -180.0), s, min(e, 180.0), n),)
    return ((w, s, 180.0, n), (-180.0, s, e, n))


def central_lon(crs: CRS) -> float:
    """The central meridian of a projected CRS (0 when it has none)."""
    op = crs.coordinate_operation
    for p in (op.params if op is not None else ()):
        if p.name.startswith("Longitude of") and p.unit_category == "angular":
            return float(p.value)
    return 0.0


def lonlat_boxes(bounds, crs, margin: float) -> tuple[tuple, ...]:
    """The lon/lat boxes of ``bounds`` (in ``crs``) plus ``margin`` metres and 1 km: one box, or
    two when they cross ±180° (a reader takes boxes that do not wrap)."""
    minx, miny, maxx, maxy = bounds
    pad = margin + 1000.0
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    x0, y0, x1, y1 = t.transform_bounds(minx - pad, miny - pad, maxx + pad, maxy + pad, densify_pts=21)
    return split_box((x0, max(y0, -90.0), x1, min(y1, 90.0)))
