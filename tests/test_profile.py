"""Scoring profiles: transforms, weights, verdict thresholds, exclusions and their validation."""

from __future__ import annotations

import copy
import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from sitescreen.errors import ProfileError
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.profile import TRANSFORMS, builtin_profiles, load_profile, profile_from_dict

CRITERION_KINDS = tuple(KINDS)

NAN = np.nan


def base(**criteria) -> dict:
    """A valid one-criterion profile, with criteria replaced/added from kwargs."""
    data = {
        "name": "t",
        "verdicts": {"favorable": 70, "review": 40},
        "criteria": {
            "a": {"kind": "overlap", "role": "federal_land", "weight": 1.0,
                  "transform": {"kind": "linear", "points": [[0, 0], [1, 1]]},
                  "safeguard": "s", "source": "src"},
        },
    }
    data["criteria"].update(criteria)
    return data


def crit(transform=None, **kw) -> dict:
    c = {"kind": "distance", "role": "protected", "weight": 0.0, "safeguard": "s", "source": "src"}
    if transform is not None:
        c["transform"] = transform
    c.update(kw)
    return c


def scorer(transform: dict):
    """The criterion built from ``transform`` (weight 0: shape only)."""
    p = profile_from_dict(base(x=crit(transform)), "p.toml")
    return next(c for c in p.criteria if c.name == "x")


# ------------------------------------------------------------------------------------------
# transforms


def test_transform_registry_names():
    assert set(TRANSFORMS) == {"linear", "threshold", "categorical", "decay"}


def test_linear_interpolates_and_clamps():
    c = scorer({"kind": "linear", "points": [[300, 0.0], [1500, 0.6], [5000, 1.0]]})
    m = np.array([0, 300, 900, 1500, 3250, 5000, 1e9, NAN, np.inf])
    np.testing.assert_allclose(c.score(m), [0, 0, 0.3, 0.6, 0.8, 1.0, 1.0, NAN, 1.0])


@pytest.mark.parametrize("points", [[[1, 0], [0, 1]], [[0, 0], [0, 1]], [[0, 0], [5, 1], [3, 1]]])
def test_linear_inverted_range_is_an_error(points):
    with pytest.raises(ProfileError, match=r"criteria\.x\.transform: linear transform points must have increasing x.*inverted"):
        profile_from_dict(base(x=crit({"kind": "linear", "points": points})), "p.toml")


@pytest.mark.parametrize("points", [[[0, 0]], "0,1", [[0, 0, 1], [1, 1, 1]]])
def test_linear_needs_two_points(points):
    with pytest.raises(ProfileError, match="at least two"):
        profile_from_dict(base(x=crit({"kind": "linear", "points": points})), "p.toml")


def test_linear_suitability_outside_unit_interval():
    with pytest.raises(ProfileError, match=r"must lie in \[0, 1\]; got \[0.0, 2.0\]"):
        profile_from_dict(base(x=crit({"kind": "linear", "points": [[0, 0], [1, 2]]})), "p.toml")


def test_threshold():
    c = scorer({"kind": "threshold", "threshold": 10, "below": 1.0, "above": 0.25})
    np.testing.assert_allclose(c.score(np.array([0, 9.99, 10, 11, NAN])), [1.0, 1.0, 0.25, 0.25, NAN])


def test_threshold_needs_numbers():
    with pytest.raises(ProfileError, match=r"transform.threshold: expected a number, got '10'"):
        profile_from_dict(base(x=crit({"kind": "threshold", "threshold": "10", "below": 1, "above": 0})), "p.toml")


def test_categorical_table_default_and_missing():
    c = scorer({"kind": "categorical", "table": {"17060204": 0.2, "17060203": 0.9}, "default": 0.5})
    m = np.array(["17060204", "17060203", "16010101", None], dtype=object)
    np.testing.assert_allclose(c.score(m), [0.2, 0.9, 0.5, NAN])


def test_categorical_without_default_is_no_score():
    c = scorer({"kind": "categorical", "table": {"a": 1.0}})
    np.testing.assert_allclose(c.score(np.array(["a", "b"], dtype=object)), [1.0, NAN])


def test_categorical_needs_table():
    with pytest.raises(ProfileError, match="categorical transform needs table"):
        profile_from_dict(base(x=crit({"kind": "categorical", "table": {}})), "p.toml")


def test_decay():
    c = scorer({"kind": "decay", "scale_m": 1000})
    m = np.array([0, 1000, 3000, -5, NAN, np.inf])
    np.testing.assert_allclose(c.score(m), [0, 1 - math.exp(-1), 1 - math.exp(-3), 0, NAN, 1.0])


@pytest.mark.parametrize("scale", [0, -100])
def test_decay_inverted_range(scale):
    with pytest.raises(ProfileError, match="scale_m > 0.*inverted"):
        profile_from_dict(base(x=crit({"kind": "decay", "scale_m": scale})), "p.toml")


def test_unknown_transform_lists_allowed():
    with pytest.raises(ProfileError, match="unknown transform 'sigmoid'; allowed: linear, threshold, categorical, decay"):
        profile_from_dict(base(x=crit({"kind": "sigmoid"})), "p.toml")


# ------------------------------------------------------------------------------------------
# weights and verdicts


def test_weights_must_sum_to_one():
    data = base(b=crit({"kind": "decay", "scale_m": 10}, weight=0.5))
    with pytest.raises(ProfileError, match=r"p.toml: weights must sum to 1 .*sum to 1.5 \(a=1, b=0.5\)"):
        profile_from_dict(data, "p.toml")


def test_weights_within_tolerance_are_accepted():
    data = base(b=crit({"kind": "decay", "scale_m": 10}, weight=0.3))
    data["criteria"]["a"]["weight"] = 0.7 + 1e-9
    p = profile_from_dict(data, "p.toml")
    assert sum(c.weight for c in p.criteria) == pytest.approx(1.0)


@pytest.mark.parametrize("weight, message", [(-0.1, "weight must be ≥ 0"), ("1", "weight must be a number"),
                                             (True, "weight must be a number")])
def test_bad_weight(weight, message):
    data = base()
    data["criteria"]["a"]["weight"] = weight
    with pytest.raises(ProfileError, match=message):
        profile_from_dict(data, "p.toml")


def test_weighted_criterion_needs_transform():
    data = base()
    del data["criteria"]["a"]["transform"]
    with pytest.raises(ProfileError, match="a weighted criterion needs a transform"):
        profile_from_dict(data, "p.toml")


@pytest.mark.parametrize("fav, rev", [(40, 40), (40, 70)])
def test_verdict_thresholds_must_not_overlap(fav, rev):
    data = base()
    data["verdicts"] = {"favorable": fav, "review": rev}
    with pytest.raises(ProfileError, match="verdict thresholds overlap: need 0 ≤ review < favorable ≤ 100"):
        profile_from_dict(data, "p.toml")


@pytest.mark.parametrize("fav, rev, message", [(101, 40, "verdicts.favorable must be ≥ 0 and ≤ 100 points; got 101"),
                                               (70, -1, "verdicts.review must be ≥ 0 and ≤ 100 points; got -1")])
def test_verdict_thresholds_are_scores_0_to_100(fav, rev, message):
    data = base()
    data["verdicts"] = {"favorable": fav, "review": rev}
    with pytest.raises(ProfileError, match=message):
        profile_from_dict(data, "p.toml")


def test_verdict_defaults():
    data = base()
    del data["verdicts"]
    p = profile_from_dict(data, "p.toml")
    assert (p.favorable, p.review) == (70.0, 40.0)


# ------------------------------------------------------------------------------------------
# criteria structure


def test_unknown_kind_lists_allowed():
    with pytest.raises(ProfileError, match="unknown criterion kind 'buffer'; allowed: " + ", ".join(CRITERION_KINDS)):
        profile_from_dict(base(x=crit(kind="buffer")), "p.toml")


@pytest.mark.parametrize("key", ["safeguard", "source"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_every_rule_states_safeguard_and_source(key, value):
    data = base()
    if value is None:
        del data["criteria"]["a"][key]
    else:
        data["criteria"]["a"][key] = value
    with pytest.raises(ProfileError, match=rf"p.toml: criteria.a: every rule states its {key}"):
        profile_from_dict(data, "p.toml")


def test_unknown_key_for_kind():
    with pytest.raises(ProfileError, match="unknown key\\(s\\) distance_m for kind 'distance'"):
        profile_from_dict(base(x=crit(distance_m=5)), "p.toml")


def test_unknown_selection_is_named():
    with pytest.raises(ProfileError, match="select = 'nope' is not a selection of this profile; selections: none"):
        profile_from_dict(base(x={**crit(), "select": "nope"}), "p.toml")


def test_needs_role_or_selection():
    c = crit()
    del c["role"]
    with pytest.raises(ProfileError, match='needs role = "ROLE" or select = "SELECTION"'):
        profile_from_dict(base(x=c), "p.toml")


def test_needs_a_criterion():
    with pytest.raises(ProfileError, match=r"at least one \[criteria.NAME\]"):
        profile_from_dict({"name": "t", "criteria": {}}, "p.toml")


def test_unknown_top_level_key():
    with pytest.raises(ProfileError, match="unknown top-level key\\(s\\) weights"):
        profile_from_dict({**base(), "weights": {}}, "p.toml")


def test_raster_stat_and_derive_are_checked():
    with pytest.raises(ProfileError, match="stat: 'median' is not one of mean, min, max, frac_above"):
        profile_from_dict(base(x=crit(kind="raster", role="dem", stat="median")), "p.toml")
    with pytest.raises(ProfileError, match="derive: 'aspect' is not one of slope"):
        profile_from_dict(base(x=crit(kind="raster", role="dem", stat="mean", derive="aspect")), "p.toml")
    with pytest.raises(ProfileError, match=r"criteria.x: raster needs threshold = NUMBER \(with stat = \"frac_above\""):
        profile_from_dict(base(x=crit(kind="raster", role="dem", stat="frac_above")), "p.toml")
    with pytest.raises(ProfileError, match=r"criteria.x.threshold: expected a number, got '2'"):
        profile_from_dict(base(x=crit(kind="raster", role="dem", stat="frac_above", threshold="2")), "p.toml")


def test_units_by_kind():
    p = profile_from_dict(base(d=crit(), r=crit(kind="raster", role="dem", stat="frac_above", threshold=2),
                               s=crit(kind="raster", role="dem", stat="mean", derive="slope")), "p.toml")
    units = {c.name: c.unit for c in p.criteria}
    assert units == {"a": "fraction", "d": "m", "r": "fraction", "s": "degrees"}
    dist = next(c for c in p.criteria if c.name == "d")
    assert dist.params["search_radius_m"] == 50_000
    assert (dist.measure_column, dist.score_column) == ("m_d", "s_d")


# ------------------------------------------------------------------------------------------
# exclusions


@pytest.mark.parametrize("op, value, expected", [
    ("above", 1, [False, False, True, False]),
    ("at_least", 1, [False, True, True, False]),
    ("below", 1, [True, False, False, False]),
    ("at_most", 1, [True, True, False, False]),
])
def test_numeric_exclusions(op, value, expected):
    p = profile_from_dict(base(x=crit(exclude={op: value})), "p.toml")
    c = next(c for c in p.criteria if c.name == "x")
    np.testing.assert_array_equal(c.excluded(np.array([0.0, 1.0, 2.0, NAN])), expected)
    assert c.exclude_text().endswith(f" {value}")


def test_in_exclusion_on_categories():
    p = profile_from_dict(base(x=crit(kind="attribute", role="watershed", field="huc", exclude={"in": ["17060204"]})),
                          "p.toml")
    c = next(c for c in p.criteria if c.name == "x")
    np.testing.assert_array_equal(c.excluded(np.array(["17060204", "17060203", None], dtype=object)), [True, False, False])


@pytest.mark.parametrize("exclude", [{"above": 0, "below": 5}, {"over": 1}, 3, {"in": "a"}, {"above": "0"}])
def test_bad_exclusions(exclude):
    with pytest.raises(ProfileError, match=r"criteria\.x\.exclude"):
        profile_from_dict(base(x=crit(exclude=exclude)), "p.toml")


# ------------------------------------------------------------------------------------------
# selections


def test_selection_mask_any_of_clauses():
    data = base()
    data["selections"] = {"prot": {"roles": ["protected", "federal_land"],
                                   "any": [{"gap_status": [1, 2]}, {"designation": ["wilderness"]}]}}
    data["criteria"]["b"] = {**crit(), "select": "prot"}
    del data["criteria"]["b"]["role"]
    p = profile_from_dict(data, "p.toml")
    sel = p.selections["prot"]
    attrs = pd.DataFrame({"gap_status": pd.array([1, 3, None, 2], dtype="Int64"),
                          "designation": ["x", "wilderness", "wilderness", None]})
    np.testing.assert_array_equal(sel.mask(attrs), [True, True, True, True])
    np.testing.assert_array_equal(sel.mask(attrs.assign(designation="x")), [True, False, False, True])
    # a layer without the field is simply not selected by that clause
    np.testing.assert_array_equal(sel.mask(attrs[["designation"]]), [False, True, True, False])
    assert p.roles == {"federal_land", "protected"}


def test_selection_needs_roles():
    with pytest.raises(ProfileError, match="selections.s.roles must be a non-empty list"):
        profile_from_dict({**base(), "selections": {"s": {"roles": []}}}, "p.toml")


# ------------------------------------------------------------------------------------------
# loading


def test_builtin_default_profile():
    assert "federal-safeguards" in builtin_profiles()
    p = load_profile("federal-safeguards")
    assert sum(c.weight for c in p.criteria) == pytest.approx(1.0)
    path = builtin_profiles()["federal-safeguards"]
    assert p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for c in p.criteria:
        assert c.safeguard and c.source
    by = {c.name: c for c in p.criteria}
    assert by["protected_overlap"].exclude == ("above", 0)
    # state land is not federal: the federal selection keeps manager type FED only
    attrs = pd.DataFrame({"manager_type": ["FED", "STAT", "PVT", None]})
    np.testing.assert_array_equal(p.selections["federal"].mask(attrs), [True, False, False, False])
    # protected land is defined in the profile: GAP 1–2, wilderness, parks, NPS units, refuges
    prot = pd.DataFrame({"gap_status": pd.array([1, 2, 3, None, None, None, None], dtype="Int64"),
                         "designation": [None, None, None, "wilderness", "nps_unit", "wildlife_refuge", "state_land"]})
    np.testing.assert_array_equal(p.selections["protected"].mask(prot), [True, True, False, True, True, True, False])


def test_profile_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[criteria.a\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=f"{bad}: not valid TOML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match=f"{tmp_path / 'none.toml'}: profile file not found"):
        load_profile(tmp_path / "none.toml")
    with pytest.raises(ProfileError, match="unknown profile 'strict'; built-in profiles: federal-safeguards"):
        load_profile("strict")


def test_profile_from_file_keeps_hash(tmp_path):
    import tomllib
    src = builtin_profiles()["federal-safeguards"].read_text(encoding="utf-8")
    path = tmp_path / "mine.toml"
    path.write_text(src.replace("favorable = 70", "favorable = 80"), encoding="utf-8")
    p = load_profile(path)
    assert p.favorable == 80 and p.path == str(path)
    assert p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p.raw == tomllib.loads(path.read_text(encoding="utf-8"))


def test_profile_from_dict_does_not_mutate_input():
    data = base(x=crit({"kind": "decay", "scale_m": 5}, exclude={"below": 1}))
    before = copy.deepcopy(data)
    profile_from_dict(data, "p.toml")
    assert data == before
