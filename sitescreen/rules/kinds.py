"""The criterion kinds: one entry per kind, the one place their properties are stated.

Each :class:`Kind` says which parameters a criterion of that kind takes (with their checks,
defaults and units), the unit of its measurement, whether it measures areas (its layers must be
polygons and the run CRS equal-area), how far beyond a footprint its layers must be read, whether
it is measured on vector layers or rasters, whether a site's value depends on the other sites of
the run, and the words that say what it measures. Profile validation (:mod:`sitescreen.rules.profile`),
measurement (:mod:`sitescreen.measure.criteria`, whose measure functions must cover exactly these names),
the reading margins and polygon roles of a run (:mod:`sitescreen.run.pipeline`), streaming
(:mod:`sitescreen.run.stream`) and the README's kinds table read from :data:`KINDS`.

Adding a kind: one entry here, plus its measure function in :mod:`sitescreen.measure.criteria` (and its
kernel). This module holds data only and imports nothing of the measuring code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from sitescreen.errors import ProfileError
from sitescreen.inputs.numbers import check_number, plain_number

#: The parameter types of :class:`ParamSpec`.
PARAM_TYPES = ("number", "text", "choice", "codes")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a criterion kind, checked by :meth:`check` when a profile is loaded.

    ``type``: "number" (checked against ``range``, a key of :data:`sitescreen.inputs.numbers.RANGES`, or
    any finite number when None), "text", "choice" (one of ``choices``) or "codes" (a non-empty
    list of whole-number codes, e.g. a categorical raster's classes: :func:`check_codes`). ``default`` is filled
    in when the key is absent (None: nothing is filled in). ``required``: absent is an error,
    unless ``needed_when`` (a test of the criterion's other parameters) says it is not needed
    there. ``hint`` completes the message of a missing parameter (``<kind> needs <name><hint>``)."""

    name: str
    type: str
    range: str | None = None
    choices: tuple[str, ...] = ()
    default: Any = None
    required: bool = False
    needed_when: Callable[[Mapping[str, Any]], bool] | None = None
    hint: str = ""
    unit: str = ""

    def needed(self, params: Mapping[str, Any]) -> bool:
        return self.required or (self.needed_when is not None and self.needed_when(params))

    def check(self, value: Any, kind: str, where: str) -> None:
        """Raise :class:`ProfileError` naming ``where``, the key, the value and what is allowed."""
        if self.type == "number":
            if self.range is None:
                plain_number(value, f"{where}.{self.name}", ProfileError)
            else:
                check_number(self.range, value, key=self.name, where=where, error=ProfileError)
        elif self.type == "text":
            if not isinstance(value, str):
                raise ProfileError(f"{where}: {kind} needs {self.name}{self.hint}; got {value!r}")
        elif self.type == "codes":
            check_codes(value, f"{where}.{self.name}")
        elif value not in self.choices:
            raise ProfileError(f"{where}.{self.name}: {value!r} is not one of {', '.join(self.choices)}")

    def missing(self, kind: str, where: str) -> ProfileError:
        hint = self.hint or (f" (one of {', '.join(self.choices)})" if self.choices else "")
        return ProfileError(f"{where}: {kind} needs {self.name}{hint}")


def check_codes(value: Any, where: str) -> None:
    """Raise :class:`ProfileError` unless ``value`` is a non-empty list of distinct whole numbers."""
    ok = (isinstance(value, list) and value and len(set(value)) == len(value)
          and all(isinstance(v, int) and not isinstance(v, bool) for v in value))
    if not ok:
        raise ProfileError(f"{where}: expected a list of distinct whole-number class codes (e.g. [90, 95]), "
                           f"got {value!r}")


def _no_reach(params: Mapping[str, Any]) -> float:
    return 0.0


def _reach_of(key: str) -> Callable[[Mapping[str, Any]], float]:
    """The reach of a kind that looks ``params[key]`` metres beyond the footprint."""
    def reach(params: Mapping[str, Any]) -> float:
        return float(params[key])
    reach.__name__ = f"reach_{key}"
    return reach


@dataclass(frozen=True)
class Kind:
    """A criterion kind: what it measures, in which unit, on what, and with which parameters."""

    name: str
    words: str                                   # what it measures, as a phrase ("share of the footprint covered by")
    unit: str                                    # of the measurement ("" = the layer's own: a field's, a raster's)
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    measures_area: bool = False                  # needs polygons and an equal-area run CRS
    vector: bool = True                          # measured on vector layers (else rasters)
    across_sites: bool = False                   # a site's value depends on the run's other sites
    reach: Callable[[Mapping[str, Any]], float] = _no_reach  # metres beyond the footprint a layer is read
    unit_by: Callable[[Mapping[str, Any]], str] | None = None  # the unit when it depends on the parameters
    check_together: Callable[[Mapping[str, Any], str], None] | None = None  # parameters that must agree

    def unit_of(self, params: Mapping[str, Any]) -> str:
        """The unit of a criterion of this kind with ``params``."""
        return self.unit_by(params) if self.unit_by is not None else self.unit

    def read_params(self, table: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The parameters of a criterion table, checked: those given, in the file's order (a set's
        order changes per process), then the defaults of those not given, in this kind's order.
        Values are kept as written (the manifest records them)."""
        params = {k: table[k] for k in table if k in self.params}
        for name, spec in self.params.items():
            if name not in params and spec.default is not None:
                params[name] = spec.default
            if name in params:
                spec.check(params[name], self.name, where)
            elif spec.needed(params):
                raise spec.missing(self.name, where)
        if self.check_together is not None:
            self.check_together(params, where)
        return params


def _params(*specs: ParamSpec) -> dict[str, ParamSpec]:
    return {s.name: s for s in specs}


#: Methods of the ``attribute`` kind (:func:`sitescreen.measure.overlap.area_weighted` computes them).
AREA_WEIGHTED_METHODS = ("majority", "max", "mean")
#: Statistics of the ``raster`` kind (:func:`sitescreen.measure.zonal.zonal_stats` computes them).
RASTER_STATS = ("mean", "min", "max", "frac_above", "class_share")
#: Rasters the ``raster`` kind derives from a DEM before its statistic.
RASTER_DERIVATIONS = ("slope",)

#: Units the ``length_within`` kind states its lengths in (:func:`sitescreen.measure.criteria._length_within`).
LENGTH_UNITS = ("km", "m")

_FIELD = ParamSpec("field", "text", required=True, hint=' = "canonical field" (e.g. huc)')


def _raster_unit(params: Mapping[str, Any]) -> str:
    if params.get("stat") in ("frac_above", "class_share"):
        return "fraction"
    return "degrees" if params.get("derive") == "slope" else ""


def _raster_codes(params: Mapping[str, Any], where: str) -> None:
    """Class codes only with stat = "class_share", and every counted class among the known codes."""
    given = [k for k in ("classes", "known") if k in params]
    if given and params.get("stat") != "class_share":
        raise ProfileError(f"{where}: {' and '.join(given)} are for stat = \"class_share\" (class shares of a "
                           f"categorical raster), not stat = {params.get('stat')!r}")
    missing = sorted(set(params.get("classes", ())) - set(params.get("known", params.get("classes", ()))))
    if missing:
        raise ProfileError(f"{where}: classes {missing} are not among the known codes {params['known']}: "
                           f"they would never be counted")


_ENTRIES = (
    Kind("overlap", "share of the footprint covered by", "fraction", measures_area=True),
    Kind("distance", "distance from the footprint to the nearest of", "m",
         _params(ParamSpec("search_radius_m", "number", range="search_radius_m", default=50_000, unit="m")),
         reach=_reach_of("search_radius_m")),
    Kind("count_within", "number of features within distance_m of the footprint, among", "count",
         _params(ParamSpec("distance_m", "number", range="distance_m", required=True, unit="m")),
         reach=_reach_of("distance_m")),
    Kind("attribute", "area-weighted value of a field under the footprint, of", "",
         _params(_FIELD, ParamSpec("method", "choice", choices=AREA_WEIGHTED_METHODS, default="majority")),
         measures_area=True),
    Kind("site_density", "number of the run's candidate sites in the same feature of", "sites",
         _params(_FIELD), measures_area=True, across_sites=True),
    Kind("raster", "statistic over the footprint (exact partial-pixel coverage) of", "",
         _params(ParamSpec("stat", "choice", choices=RASTER_STATS, required=True),
                 ParamSpec("threshold", "number", needed_when=lambda p: p.get("stat") == "frac_above",
                           hint=' = NUMBER (with stat = "frac_above": the share of cells above it)'),
                 ParamSpec("derive", "choice", choices=RASTER_DERIVATIONS),
                 ParamSpec("classes", "codes", needed_when=lambda p: p.get("stat") == "class_share",
                           hint=' = [CODE, ...] (with stat = "class_share": the share of the footprint in '
                                'these classes of a categorical raster)'),
                 ParamSpec("known", "codes")),  # class_share: the raster's class codes (others: no data)
         vector=False, unit_by=_raster_unit, check_together=_raster_codes),
    Kind("length_within", "length of line features inside the footprint, of", "km",
         _params(ParamSpec("unit", "choice", choices=LENGTH_UNITS, default="km")),
         unit_by=lambda p: str(p.get("unit", "km"))),
)

#: Every criterion kind, by name, in the order the docs list them.
KINDS: Mapping[str, Kind] = {k.name: k for k in _ENTRIES}


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


def check_measures(measures: Mapping[str, Any], vector: bool) -> None:
    """Raise (a programming error, at import) unless ``measures`` has exactly one function per kind
    measured on vectors (``vector``) or on rasters."""
    want = {k.name for k in KINDS.values() if k.vector == vector}
    if set(measures) != want or not all(callable(f) for f in measures.values()):
        raise RuntimeError(f"{'vector' if vector else 'raster'} measure functions for {sorted(measures)}; "
                           f"the registry of kinds has {sorted(want)}")
