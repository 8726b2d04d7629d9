"""The registry of criterion kinds: every property of a kind is read from it (profile validation,
measurement, reading margins, polygon roles, the run CRS check, units), so a kind is added in one place."""

from __future__ import annotations

import pytest

from sitescreen.measure import criteria

from sitescreen.measure import overlap

from sitescreen.rules import kinds

from sitescreen.run import layers

from sitescreen.measure import zonal
from sitescreen.errors import ProfileError
from sitescreen.rules.kinds import KINDS, Kind, ParamSpec
from sitescreen.inputs.numbers import RANGES
from sitescreen.rules.profile import builtin_profiles, load_profile, profile_from_dict

COMMON = {"kind", "label", "select", "role", "weight", "transform", "exclude", "cap", "safeguard", "source",
          "optional", "description", "unit"}


def _valid(spec: ParamSpec):
    """A valid value of a parameter, from its spec alone."""
    if spec.type == "number":
        return RANGES[spec.range].high / 2 if spec.range else 2.5
    if spec.type == "codes":
        return [90, 95]
    return spec.choices[-1] if spec.type == "choice" else "huc"


def _rule(kind: str, role: str = "r", **params) -> dict:
    given = {n: _valid(s) for n, s in KINDS[kind].params.items() if s.required or s.needed_when}
    rule = {"kind": kind, "role": role, "safeguard": "s", "source": "src", **given, **params}
    # class codes are refused where the stat takes none (rules.kinds._raster_codes): given only where needed
    return {k: v for k, v in rule.items() if k in params or not _codes_unneeded(KINDS[kind].params.get(k), rule)}


def _codes_unneeded(spec: ParamSpec | None, rule: dict) -> bool:
    return spec is not None and spec.type == "codes" and not spec.needed(rule)


def _profile(**rules):
    first = next(iter(rules))
    rules[first] = {**rules[first], "weight": 1.0, "transform": {"kind": "threshold", "threshold": 1, "below": 0, "above": 1}}
    return profile_from_dict({"name": "t", "criteria": rules}, "p.toml")


@pytest.mark.parametrize("name", tuple(KINDS))
def test_every_kind_has_words_unit_and_a_measure_function(name):
    k = KINDS[name]
    assert k.name == name
    assert k.words.strip() and k.words == k.words.strip()
    assert isinstance(k.unit, str) and (k.unit or k.unit_by is not None or not k.vector or k.name == "attribute")
    assert callable(criteria.measure_function(name))
    assert (name in criteria.VECTOR_KINDS) == k.vector and (name in criteria.RASTER_KINDS) != k.vector
    for pname, spec in k.params.items():
        assert spec.name == pname and spec.type in kinds.PARAM_TYPES
        assert spec.range is None or spec.range in RANGES
        assert spec.type != "choice" or spec.choices


def test_measure_functions_cover_exactly_the_registry():
    assert set(criteria.VECTOR_KINDS) | set(criteria.RASTER_KINDS) == set(KINDS)
    assert not set(criteria.VECTOR_KINDS) & set(criteria.RASTER_KINDS)


def test_parameter_choices_are_what_the_kernels_compute():
    assert kinds.AREA_WEIGHTED_METHODS == overlap.AREA_WEIGHTED_METHODS
    assert kinds.RASTER_STATS == zonal.ZONAL_STATS
    assert kinds.RASTER_DERIVATIONS == zonal.DERIVATIONS


@pytest.mark.parametrize("name", tuple(KINDS))
def test_unknown_key_lists_the_kinds_parameters(name):
    allowed = ", ".join(sorted(COMMON | set(KINDS[name].params)))
    with pytest.raises(ProfileError, match=f"unknown key\\(s\\) bogus for kind '{name}'; allowed: {allowed}$"):
        _profile(x=_rule(name, bogus=1))


@pytest.mark.parametrize("name", tuple(KINDS))
def test_a_rule_with_its_needed_parameters_loads_with_the_defaults_filled_in(name):
    c = _profile(x=_rule(name)).criteria[0]
    k = KINDS[name]
    given = {n for n, s in k.params.items() if s.required or s.needed_when}
    defaults = {n: s.default for n, s in k.params.items() if n not in given and s.default is not None}
    assert c.params == {**{n: _valid(k.params[n]) for n in given}, **defaults}
    assert list(c.params) == [n for n in k.params if n in given] + list(defaults)
    assert c.unit == k.unit_of(c.params) and c.words == k.words


@pytest.mark.parametrize("name, param", [(k.name, p.name) for k in KINDS.values() for p in k.params.values()
                                         if p.required])
def test_a_missing_required_parameter_is_named(name, param):
    rule = _rule(name)
    del rule[param]
    with pytest.raises(ProfileError, match=f"p.toml: criteria.x: {name} needs {param}"):
        _profile(x=rule)


@pytest.mark.parametrize("name, param", [(k.name, p.name) for k in KINDS.values() for p in k.params.values()])
def test_a_parameter_of_the_wrong_type_is_refused_naming_it_and_what_is_allowed(name, param):
    spec = KINDS[name].params[param]
    bad = "far" if spec.type == "number" else 7
    expect = {"number": (f"criteria.x: {param} must be a number, got 'far'; allowed: {RANGES[spec.range].text()}"
                         if spec.range else f"criteria.x.{param}: expected a number, got 'far'"),
              "choice": f"criteria.x.{param}: 7 is not one of {', '.join(spec.choices)}",
              "text": f"criteria.x: {name} needs {param}{spec.hint}; got 7",
              "codes": f"criteria.x.{param}: expected a list of distinct whole-number class codes (e.g. [90, 95]), "
                       f"got 7"}[spec.type]
    with pytest.raises(ProfileError) as err:
        _profile(x=_rule(name, **{param: bad}))
    assert str(err.value) == "p.toml: " + expect


def test_a_raster_threshold_is_checked_even_when_the_stat_does_not_use_it():
    with pytest.raises(ProfileError, match=r"criteria.x.threshold: expected a finite number, got inf"):
        _profile(x=_rule("raster", stat="mean", threshold=float("inf")))


def test_reach_margins_polygon_roles_and_area_criteria_come_from_the_registry():
    p = _profile(a=_rule("distance", "near", search_radius_m=1234), b=_rule("count_within", "near", distance_m=99),
                 c=_rule("overlap", "land"), d=_rule("count_within", "far", distance_m=5000),
                 e=_rule("raster", "dem", stat="mean"))
    assert layers._role_margins(p) == {"near": 1234.0, "far": 5000.0, "land": 0.0, "dem": 0.0}
    area = {c.name for c in p.criteria if KINDS[c.kind].measures_area}
    assert area == {"c"}
    assert layers._polygon_roles(p) == {"land"}


def test_every_builtin_criterion_takes_its_unit_from_the_registry():
    for name in builtin_profiles():
        for c in load_profile(name).criteria:
            raw = load_profile(name).raw["criteria"][c.name]
            assert c.unit == (raw.get("unit") or KINDS[c.kind].unit_of(c.params))


def test_a_new_kind_is_one_registry_entry(monkeypatch):
    """A kind added to the registry is validated, reaches and needs polygons without any other change;
    measuring it needs its function (the import-time check says so)."""
    new = Kind("length_near", "length of the features within reach_m of the footprint, of", "m",
               {"reach_m": ParamSpec("reach_m", "number", range="distance_m", required=True, unit="m")},
               measures_area=True, reach=lambda p: float(p["reach_m"]))
    monkeypatch.setitem(KINDS, "length_near", new)
    p = _profile(x=_rule("length_near", "streams", reach_m=750))
    assert p.criteria[0].params == {"reach_m": 750} and p.criteria[0].unit == "m"
    assert layers._role_margins(p) == {"streams": 750.0}
    assert layers._polygon_roles(p) == {"streams"}
    with pytest.raises(ProfileError, match="reach_m must be > 0 and ≤ 1,000,000 m; got -1"):
        _profile(x=_rule("length_near", reach_m=-1))
    with pytest.raises(RuntimeError, match="the registry of kinds has .*length_near"):
        kinds.check_measures(criteria.VECTOR_KINDS, vector=True)
