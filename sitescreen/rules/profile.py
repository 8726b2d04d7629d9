"""Scoring profiles: the rules of a screening, as TOML, validated once into frozen dataclasses.

A profile has *selections* (which features of which roles count, e.g. "permanently protected"),
*criteria* (one measurement each, with an optional hard exclusion, a transform to a 0–1
suitability and a weight), and *verdict* thresholds. Every criterion names the safeguard it serves
and the source of its numbers. Profiles are data: nothing in them is evaluated as code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from sitescreen.errors import ProfileError
from sitescreen.rules.kinds import KINDS
from sitescreen.inputs.numbers import check_number, plain_number
from sitescreen.inputs.text import text_in
from sitescreen.inputs.tomlfile import check_keys
from sitescreen.rules import verdicts as _verdicts
from sitescreen.rules.verdicts import DEFAULT_THRESHOLDS
from sitescreen.rules.ranges import transform_ranges, verdict_ranges
from sitescreen.rules.profilesource import builtin_profiles, read_profile

__all__ = ["builtin_profiles", "load_profile", "profile_from_dict"]  # builtin_profiles: rules/profilesource.py
VERDICTS = _verdicts.VERDICTS  # the one order (rules/verdicts.py), also read from here
WEIGHT_TOLERANCE = 1e-6


# ------------------------------------------------------------------------------------------
# Transforms: measurement -> 0..1 suitability. A registry, so docs and checks list the same names.


def _linear(p: Mapping[str, Any], where: str) -> Callable[[np.ndarray], np.ndarray]:
    pts = p.get("points")
    if not isinstance(pts, list) or len(pts) < 2 or not all(isinstance(q, list) and len(q) == 2 for q in pts):
        raise ProfileError(f"{where}: linear transform needs points = [[x0, y0], [x1, y1], ...] (at least two)")
    xs, ys = (np.array([float(_num(v, where)) for v in col]) for col in zip(*pts))
    if np.any(np.diff(xs) <= 0):
        raise ProfileError(f"{where}: linear transform points must have increasing x; got x = {xs.tolist()} (inverted range?)")
    _unit_interval(ys, where)
    return lambda m: np.where(np.isnan(m), np.nan, np.interp(m, xs, ys))


def _threshold(p: Mapping[str, Any], where: str) -> Callable[[np.ndarray], np.ndarray]:
    t = float(_num(p.get("threshold"), f"{where}.threshold"))
    below, above = (float(_num(p.get(k), f"{where}.{k}")) for k in ("below", "above"))
    _unit_interval(np.array([below, above]), where)
    return lambda m: np.where(np.isnan(m), np.nan, np.where(m < t, below, above))


def _categorical(p: Mapping[str, Any], where: str) -> Callable[[np.ndarray], np.ndarray]:
    table = p.get("table")
    if not isinstance(table, Mapping) or not table:
        raise ProfileError(f"{where}: categorical transform needs table = {{ value = score, ... }}")
    scores = {str(k): float(_num(v, f"{where}.table.{k}")) for k, v in table.items()}
    default = p.get("default")
    default = np.nan if default is None else float(_num(default, f"{where}.default"))
    _unit_interval(np.array(list(scores.values()) + ([] if np.isnan(default) else [default])), where)

    def f(m: np.ndarray) -> np.ndarray:
        s = pd.Series(m, dtype=object)
        missing = s.isna()
        out = s.astype(str).map(scores).astype(float).fillna(default)
        return np.where(missing, np.nan, out.to_numpy())
    return f


def _decay(p: Mapping[str, Any], where: str) -> Callable[[np.ndarray], np.ndarray]:
    scale = _num(p.get("scale_m"), f"{where}.scale_m")
    if scale <= 0:
        raise ProfileError(f"{where}: decay transform needs scale_m > 0 (got {scale}); the range is inverted")
    scale = _setting("scale_m", scale, where)
    return lambda m: np.where(np.isnan(m), np.nan, 1.0 - np.exp(-np.maximum(m, 0) / scale))


TRANSFORMS: dict[str, Callable] = {"linear": _linear, "threshold": _threshold,
                                   "categorical": _categorical, "decay": _decay}

EXCLUDE_OPS = {"above": np.greater, "at_least": np.greater_equal, "below": np.less,
               "at_most": np.less_equal}

#: The verdicts a rule's ``cap`` may hold a site at (no better than): the score bands below favorable.
CAP_VERDICTS = ("review", "unfavorable")
#: The symbols of the conditions (as the manifest writes them: ``"< 1000"``).
CONDITION_SYMBOLS = {"above": ">", "at_least": "≥", "below": "<", "at_most": "≤", "in": "in"}


def condition_holds(op: str, value: Any, m: Any) -> np.ndarray:
    """Where the condition ``{op = value}`` of an ``exclude`` or a ``cap`` holds for measurements
    ``m`` (missing never holds). The one test of a rule's condition, for scoring and the map."""
    m = np.asarray(m)
    missing = pd.isna(pd.Series(m.reshape(-1), dtype=object)).to_numpy()
    if op == "in":
        hit = pd.Series(m.reshape(-1), dtype=object).astype(str).isin([str(v) for v in value]).to_numpy()
    else:
        with np.errstate(invalid="ignore"):
            hit = EXCLUDE_OPS[op](pd.to_numeric(pd.Series(m.reshape(-1), dtype=object), errors="coerce")
                                  .to_numpy(dtype=float), value)
    return hit & ~missing


def _num(v: Any, where: str) -> float:
    return plain_number(v, where, ProfileError)


def _setting(name: str, value: Any, where: str, key: str | None = None) -> float:
    """A profile number checked against its range in :data:`sitescreen.inputs.numbers.RANGES`."""
    return check_number(name, value, key=key, where=where, error=ProfileError)


def _unit_interval(ys: np.ndarray, where: str) -> None:
    if np.any((ys < 0) | (ys > 1)):
        raise ProfileError(f"{where}: suitability values must lie in [0, 1]; got {ys.tolist()}")


# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    name: str
    roles: tuple[str, ...]
    any: tuple[Mapping[str, tuple], ...] = ()  # each clause: all fields must match; any clause selects
    description: str = ""
    fields_required: bool = False  # a layer without the clauses' fields is refused, not read as selecting nothing

    def mask(self, attrs: pd.DataFrame) -> np.ndarray:
        if not self.any:
            return np.ones(len(attrs), dtype=bool)
        keep = np.zeros(len(attrs), dtype=bool)
        for clause in self.any:
            m = np.ones(len(attrs), dtype=bool)
            for fld, allowed in clause.items():
                if fld not in attrs:
                    m[:] = False
                    break
                col = attrs[fld]
                m &= text_in(col, allowed)
            keep |= m
        return keep


def feature_column(criterion: str) -> str:
    """The results column naming, per site, the feature behind a criterion's measurement (``f_<criterion>``)."""
    return f"f_{criterion}"


def parts_column(criterion: str) -> str:
    """The results column saying, per site, what a criterion's overlap is made of (``parts_<criterion>``)."""
    return f"parts_{criterion}"


@dataclass(frozen=True)
class Criterion:
    name: str
    kind: str
    label: str
    roles: tuple[str, ...]
    selection: Selection | None
    weight: float
    transform: Mapping[str, Any] | None
    exclude: tuple[str, Any] | None
    safeguard: str
    source: str
    unit: str
    optional: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    cap: tuple[str, str, Any] | None = None  # (verdict, op, value): no better than verdict where op holds

    @property
    def scored(self) -> bool:
        return self.transform is not None

    def score(self, m: np.ndarray) -> np.ndarray:
        """The 0–1 suitability of measurements ``m`` (NaN stays NaN)."""
        return TRANSFORMS[self.transform["kind"]](self.transform, self.name)(m)

    @property
    def words(self) -> str:
        """What this criterion's kind measures, in words (:data:`sitescreen.rules.kinds.KINDS`)."""
        return KINDS[self.kind].words

    @property
    def measure_column(self) -> str:
        return f"m_{self.name}"

    @property
    def score_column(self) -> str:
        return f"s_{self.name}"

    @property
    def feature_column(self) -> str:
        return feature_column(self.name)

    @property
    def parts_column(self) -> str:
        return parts_column(self.name)

    def excluded(self, m: np.ndarray) -> np.ndarray:
        if self.exclude is None:
            return np.zeros(len(m), dtype=bool)
        op, value = self.exclude
        if op == "in":
            return pd.Series(m, dtype=object).astype(str).isin([str(v) for v in value]).to_numpy()
        with np.errstate(invalid="ignore"):
            return EXCLUDE_OPS[op](np.asarray(m, dtype=float), value)

    def exclude_text(self) -> str | None:
        if self.exclude is None:
            return None
        op, value = self.exclude
        sym = {"above": ">", "at_least": "≥", "below": "<", "at_most": "≤", "in": "in"}[op]
        return f"{sym} {value}"

    def capped(self, m: np.ndarray) -> np.ndarray:
        """Where this criterion's cap holds (missing never does); all False without a cap."""
        if self.cap is None:
            return np.zeros(len(m), dtype=bool)
        return condition_holds(self.cap[1], self.cap[2], m)

    def cap_condition(self) -> str | None:
        """The cap's condition as the manifest writes it (``"< 1000"``), or None."""
        return None if self.cap is None else f"{CONDITION_SYMBOLS[self.cap[1]]} {self.cap[2]}"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    criteria: tuple[Criterion, ...]
    selections: Mapping[str, Selection]
    favorable: float
    review: float
    sha256: str
    path: str
    raw: Mapping[str, Any]
    verdict_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # rules/ranges.py

    @property
    def roles(self) -> set[str]:
        return {r for c in self.criteria for r in c.roles}


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name, or a TOML file (with the profile it extends laid under it)."""
    data, sha256, path = read_profile(name_or_path)
    return profile_from_dict(data, str(path), sha256)


def _flag(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ProfileError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def profile_from_dict(data: Mapping[str, Any], where: str, sha256: str = "") -> Profile:
    allowed = {"name", "description", "version", "verdicts", "selections", "criteria"}
    unknown = set(data) - allowed
    if unknown:
        raise ProfileError(f"{where}: unknown top-level key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")
    selections = {}
    for sname, sdata in dict(data.get("selections", {})).items():
        sw = f"{where}: selections.{sname}"
        if not isinstance(sdata, Mapping):
            raise ProfileError(f"{sw} must be a table")
        roles = sdata.get("roles")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise ProfileError(f"{sw}.roles must be a non-empty list of role names")
        clauses = sdata.get("any", [])
        if not isinstance(clauses, list) or not all(isinstance(c, Mapping) for c in clauses):
            raise ProfileError(f"{sw}.any must be a list of tables like {{ field = [values] }}")
        selections[sname] = Selection(
            name=sname, roles=tuple(roles), description=str(sdata.get("description", "")),
            any=tuple({k: tuple(v) if isinstance(v, list) else (v,) for k, v in c.items()} for c in clauses),
            fields_required=_flag(sdata, "fields_required", sw))
    crit_data = data.get("criteria")
    if not isinstance(crit_data, Mapping) or not crit_data:
        raise ProfileError(f"{where}: a profile needs at least one [criteria.NAME] table")
    criteria = tuple(_criterion(n, c, selections, f"{where}: criteria.{n}") for n, c in crit_data.items())
    weights = np.array([c.weight for c in criteria])
    total = weights.sum()
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        parts = ", ".join(f"{c.name}={c.weight:g}" for c in criteria if c.weight)
        raise ProfileError(f"{where}: weights must sum to 1 (±{WEIGHT_TOLERANCE:g}); they sum to {total:g} ({parts})")
    verdicts = data.get("verdicts", {})
    if not isinstance(verdicts, Mapping):
        raise ProfileError(f"{where}: [verdicts] must be a table with favorable and review thresholds")
    fav = _setting("verdict", verdicts.get("favorable", DEFAULT_THRESHOLDS[0]), where, "verdicts.favorable")
    rev = _setting("verdict", verdicts.get("review", DEFAULT_THRESHOLDS[1]), where, "verdicts.review")
    if not (0 <= rev < fav <= 100):
        raise ProfileError(f"{where}: verdict thresholds overlap: need 0 ≤ review < favorable ≤ 100, got review={rev:g}, favorable={fav:g}")
    return Profile(name=str(data.get("name", Path(where).stem)), description=str(data.get("description", "")),
                   criteria=criteria, selections=selections, favorable=fav, review=rev, sha256=sha256,
                   path=where, raw=data, verdict_ranges=verdict_ranges(verdicts, fav, rev, where))


def _criterion(name: str, c: Any, selections: Mapping[str, Selection], where: str) -> Criterion:
    if not isinstance(c, Mapping):
        raise ProfileError(f"{where} must be a table")
    if not name.isidentifier():
        raise ProfileError(f"{where}: criterion names must be identifiers (letters, digits, _), got {name!r}")
    kind = c.get("kind")
    if kind not in KINDS:
        raise ProfileError(f"{where}: unknown criterion kind {kind!r}; allowed: {', '.join(KINDS)}")
    common = {"kind", "label", "select", "role", "weight", "transform", "exclude", "cap", "safeguard", "source",
              "optional", "description", "unit"}
    per_kind = set(KINDS[kind].params)
    check_keys(c, sorted(common | per_kind), where, ProfileError, label=f" for kind {kind!r}")
    sel = None
    if "select" in c:
        if c["select"] not in selections:
            raise ProfileError(f"{where}: select = {c['select']!r} is not a selection of this profile; selections: {', '.join(selections) or 'none'}")
        sel = selections[c["select"]]
        roles = sel.roles
    elif isinstance(c.get("role"), str) and c["role"]:
        roles = (c["role"],)
    else:
        raise ProfileError(f"{where}: needs role = \"ROLE\" or select = \"SELECTION\"")
    weight = _setting("weight", c.get("weight", 0), where)
    transform = c.get("transform")
    if transform is not None:
        if not isinstance(transform, Mapping) or transform.get("kind") not in TRANSFORMS:
            got = transform.get("kind") if isinstance(transform, Mapping) else transform
            raise ProfileError(f"{where}.transform: unknown transform {got!r}; allowed: {', '.join(TRANSFORMS)}")
        TRANSFORMS[transform["kind"]](transform, f"{where}.transform")  # validates
        transform_ranges(transform, f"{where}.transform")
    elif weight > 0:
        raise ProfileError(f"{where}: a weighted criterion needs a transform (one of {', '.join(TRANSFORMS)})")
    exclude = _condition(c["exclude"], f"{where}.exclude") if "exclude" in c else None
    cap = _cap(c["cap"], f"{where}.cap") if "cap" in c else None
    for key in ("safeguard", "source"):
        if not isinstance(c.get(key), str) or not c[key].strip():
            raise ProfileError(f"{where}: every rule states its {key} ({key} = \"...\")")
    params = KINDS[kind].read_params(c, where)
    unit = c.get("unit") or KINDS[kind].unit_of(params)
    return Criterion(name=name, kind=kind, label=str(c.get("label", name.replace("_", " "))), roles=roles,
                     selection=sel, weight=float(weight), transform=dict(transform) if transform else None,
                     exclude=exclude, safeguard=c["safeguard"].strip(), source=c["source"].strip(),
                     unit=unit, optional=bool(c.get("optional", False)), params=params,
                     description=str(c.get("description", "")), cap=cap)


_CONDITIONS = "{ above = X }, { at_least = X }, { below = X }, { at_most = X }, { in = [..] }"


def _condition(ex: Any, where: str) -> tuple[str, Any]:
    """An ``exclude`` table (or a ``cap``'s condition): ``(op, value)``, checked."""
    ops = set(EXCLUDE_OPS) | {"in"}
    if not isinstance(ex, Mapping) or len(ex) != 1 or next(iter(ex)) not in ops:
        raise ProfileError(f"{where} must be one of {_CONDITIONS}; got {ex!r}")
    op, value = next(iter(ex.items()))
    if op == "in":
        if not isinstance(value, list):
            raise ProfileError(f"{where}.in must be a list")
    else:
        value = _num(value, f"{where}.{op}")
    return op, value


def _cap(cap: Any, where: str) -> tuple[str, str, Any]:
    """A ``cap = { verdict = "review", below = X }`` table: ``(verdict, op, value)``, checked. The
    condition is written as an ``exclude``'s; where it holds the site's verdict is no better than
    ``verdict`` (its score is unchanged)."""
    shape = f'cap = {{ verdict = "review", below = X }} (verdict one of {", ".join(CAP_VERDICTS)}; a condition like exclude\'s: {_CONDITIONS})'
    if not isinstance(cap, Mapping):
        raise ProfileError(f"{where} must be a table: {shape}; got {cap!r}")
    verdict = cap.get("verdict")
    if verdict not in CAP_VERDICTS:
        raise ProfileError(f"{where}.verdict: {verdict!r} is not one of {', '.join(CAP_VERDICTS)} ({shape})")
    op, value = _condition({k: v for k, v in cap.items() if k != "verdict"}, where)
    return verdict, op, value


def renormalised(weights) -> dict[str, float]:
    """Effective weights from ``(name, weight, evaluated)`` triples: each evaluated criterion's weight
    over the sum of the evaluated criteria's weights; 0 for one not evaluated (or when no evaluated
    criterion has weight). The one rule the score, the manifest and every surface use."""
    items = list(weights)
    total = sum(w for _, w, evaluated in items if evaluated)
    return {name: (w / total if evaluated and total else 0.0) for name, w, evaluated in items}


def effective_weights(profile: Profile, evaluated) -> dict[str, float]:
    """Each criterion's share of the score once the criteria not evaluated (``evaluated``: the names
    of those that were) are dropped: :func:`renormalised` over the profile's weights."""
    names = set(evaluated)
    return renormalised((c.name, c.weight, c.name in names) for c in profile.criteria)
