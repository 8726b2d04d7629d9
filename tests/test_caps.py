"""Verdict caps (issue 11 item 6): ``cap = { verdict = "review", below = X }`` on any rule holds a site
no better than that verdict where the condition holds, never touches its score, and says why; every
rescoring (sampled weightings, the map's re-weighting) applies caps as the run does."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sitescreen.errors import ProfileError
from sitescreen.rules.caps import floor_codes, parse_condition
from sitescreen.rules.measurement import Measurement
from sitescreen.rules.profile import profile_from_dict
from sitescreen.rules.scoring import capped_codes, score, verdict_codes
from sitescreen.rules.verdicts import VERDICTS
from sitescreen.rules.wording import cap_text, limits_text, rule_text

ALBERS = "EPSG:5070"
NAN = np.nan


def _rule(**kw) -> dict:
    return {"safeguard": "a safeguard (test)", "source": "a source (test)", **kw}


def profile(cap=None, cap2=None):
    tribal = _rule(kind="distance", role="tribal_lands", label="Distance to tribal land", search_radius_m=10_000)
    if cap is not None:
        tribal["cap"] = cap
    crit = {"tribal": tribal,
            "fed": _rule(kind="overlap", role="federal_land", weight=1.0,
                         transform={"kind": "linear", "points": [[0, 0], [1, 1]]})}
    if cap2 is not None:
        crit["community"] = _rule(kind="attribute", role="community", field="disadvantaged", method="max", cap=cap2)
    return profile_from_dict({"name": "caps", "verdicts": {"favorable": 70, "review": 40}, "criteria": crit},
                             "caps.toml")


def sites(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": [f"S{k}" for k in range(n)], "name": [f"site {k}" for k in range(n)]},
                            geometry=[box(k * 10_000, 0, k * 10_000 + 1000, 1000) for k in range(n)], crs=ALBERS)


def measures(tribal, fed, community=None, names=None):
    n = len(fed)
    out = {"tribal": Measurement(np.array(tribal, dtype=float),
                                 feature=np.array(names or [""] * n, dtype=object),
                                 feature_layer=np.array(["aiannh" if f else "" for f in (names or [""] * n)], dtype=object),
                                 nodata_reason=np.full(n, "", dtype=object)),
           "fed": Measurement(np.array(fed, dtype=float), nodata_reason=np.full(n, "", dtype=object))}
    if community is not None:
        out["community"] = Measurement(np.array(community, dtype=float), nodata_reason=np.full(n, "", dtype=object))
    return out


# ------------------------------------------------------------------------------------------
# the profile language


def test_cap_is_parsed_like_an_exclusion():
    p = profile(cap={"verdict": "review", "below": 1000})
    c = p.criteria[0]
    assert c.cap == ("review", "below", 1000.0)
    assert c.cap_condition() == "< 1000"  # as the exclusion is written
    assert c.capped(np.array([0.0, 999.9, 1000.0, np.inf, NAN])).tolist() == [True, True, False, False, False]
    assert profile(cap={"verdict": "unfavorable", "in": ["a"]}).criteria[0].cap == ("unfavorable", "in", ["a"])


@pytest.mark.parametrize("cap, words", [
    ("review", ["caps.toml: criteria.tribal.cap must be a table", 'verdict = "review"', "below = X"]),
    ({"below": 1000}, ["criteria.tribal.cap.verdict: None is not one of review, unfavorable"]),
    ({"verdict": "favorable", "below": 1000}, ["'favorable' is not one of review, unfavorable"]),
    ({"verdict": "excluded", "below": 1000}, ["'excluded' is not one of review, unfavorable"]),
    ({"verdict": "review"}, ["criteria.tribal.cap must be one of { above = X }"]),
    ({"verdict": "review", "below": 1, "above": 2}, ["criteria.tribal.cap must be one of"]),
    ({"verdict": "review", "near": 1}, ["criteria.tribal.cap must be one of"]),
    ({"verdict": "review", "below": "far"}, ["criteria.tribal.cap.below"]),
    ({"verdict": "review", "in": "x"}, ["criteria.tribal.cap.in must be a list"]),
])
def test_bad_caps_are_refused_naming_the_key(cap, words):
    with pytest.raises(ProfileError) as e:
        profile(cap=cap)
    for w in words:
        assert w in str(e.value)


def test_cap_words():
    assert cap_text("review", "< 1000", "m") == "at most review if < 1,000 m"
    assert cap_text("unfavorable", "> 0", "fraction") == "at most unfavorable if > 0 %"
    assert cap_text(None, None) == ""

    class Cap:
        verdict, condition = "review", "< 1000"
    assert limits_text("< 300", "m", Cap()) == "exclude if < 300 m; at most review if < 1,000 m"
    assert limits_text(None, "m", None) == ""
    assert rule_text(None, None, "m", Cap()) == "at most review if < 1,000 m"


# ------------------------------------------------------------------------------------------
# scoring


def test_cap_lowers_favorable_to_review_only_where_it_holds_and_says_why():
    p = profile(cap={"verdict": "review", "below": 1000})
    m = measures([400, 5000, np.inf, 0, 0], [0.9, 0.9, 0.9, 0.5, 0.1],
                 names=["Coeur d'Alene Reservation", "Nez Perce", "", "Fort Hall", "Fort Hall"])
    out = score(sites(5), p, m)
    uncapped = score(sites(5), profile(), m)
    assert out["verdict"].tolist() == ["review", "favorable", "favorable", "review", "unfavorable"]
    assert uncapped["verdict"].tolist() == ["favorable", "favorable", "favorable", "review", "unfavorable"]
    np.testing.assert_array_equal(out["score"].to_numpy(), uncapped["score"].to_numpy())
    assert out["reasons"][0].startswith(
        "review required by tribal: distance to tribal land is 400 m (at most review if < 1,000 m) "
        "(Coeur d'Alene Reservation, layer aiannh) — safeguard: a safeguard (test)")
    assert "review required" not in out["reasons"][1] and "review required" not in out["reasons"][2]
    assert out["reasons"][1] == uncapped["reasons"][1]


def test_strictest_cap_wins_and_missing_cap_data_is_incomplete():
    p = profile(cap={"verdict": "review", "below": 1000}, cap2={"verdict": "unfavorable", "above": 0})
    m = measures([400, 400, 5000, NAN, 5000], [0.9] * 5, community=[1, 0, 1, 0, NAN])
    out = score(sites(5), p, m)
    assert out["verdict"].tolist() == ["unfavorable", "review", "unfavorable", "incomplete", "incomplete"]
    assert "at most unfavorable by community" in out["reasons"][0]
    assert "review required by tribal" in out["reasons"][0]
    assert "no data for tribal" in out["reasons"][3]


def test_excluded_sites_are_not_said_to_be_capped():
    crit = {"tribal": _rule(kind="distance", role="tribal_lands", cap={"verdict": "review", "below": 1000}),
            "prot": _rule(kind="overlap", role="protected", exclude={"above": 0}),
            "fed": _rule(kind="overlap", role="federal_land", weight=1.0,
                         transform={"kind": "linear", "points": [[0, 0], [1, 1]]})}
    p = profile_from_dict({"name": "x", "criteria": crit}, "x.toml")
    m = measures([0.0], [1.0])
    m["prot"] = Measurement(np.array([0.5]), nodata_reason=np.array([""], dtype=object))
    out = score(sites(1), p, m)
    assert out["verdict"].tolist() == ["excluded"]
    assert "review required" not in out["reasons"][0]


# the property: a cap never raises a verdict and never changes a score
_values = st.one_of(st.floats(0, 20_000), st.just(np.inf))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tribal=st.lists(_values, min_size=1, max_size=12), data=st.data(),
       limit=st.floats(1, 15_000), verdict=st.sampled_from(["review", "unfavorable"]))
def test_property_a_cap_never_raises_a_verdict_nor_changes_a_score(tribal, data, limit, verdict):
    n = len(tribal)
    fed = data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    m = measures(tribal, fed)
    capped = score(sites(n), profile(cap={"verdict": verdict, "below": limit}), m)
    free = score(sites(n), profile(), m)
    np.testing.assert_array_equal(capped["score"].to_numpy(), free["score"].to_numpy())
    rank = {v: i for i, v in enumerate(VERDICTS)}
    a = capped["verdict"].map(rank).to_numpy()
    b = free["verdict"].map(rank).to_numpy()
    assert (a >= b).all()                                    # never better than without the cap
    holds = np.array(tribal) < limit
    assert (a[~holds] == b[~holds]).all()                    # unchanged where it does not hold
    assert (a[holds] >= rank[verdict]).all()                 # no better than the cap where it does


def test_capped_codes_only_lower():
    codes = verdict_codes(np.array([0.9, 0.5, 0.1, 0.9]), 70, 40)
    assert capped_codes(codes, np.array([1, 1, 1, 0])).tolist() == [1, 1, 2, 0]
    assert capped_codes(codes, np.array([2, 0, 0, 2])).tolist() == [2, 1, 2, 2]


# ------------------------------------------------------------------------------------------
# the floor read back from a run record (map re-weighting, sensitivity)


class _Cap:
    def __init__(self, verdict, condition):
        self.verdict, self.condition = verdict, condition


class _Crit:
    def __init__(self, name, cap, evaluated=True):
        self.name, self.cap, self.evaluated, self.measure_column = name, cap, evaluated, f"m_{name}"


def test_floor_codes_from_the_record_match_scoring():
    p = profile(cap={"verdict": "review", "below": 1000}, cap2={"verdict": "unfavorable", "above": 0})
    m = measures([400, 400, 5000, 2000], [0.9] * 4, community=[1, 0, 0, 1])
    out = score(sites(4), p, m)
    crit = [_Crit("tribal", _Cap("review", p.criteria[0].cap_condition())),
            _Crit("community", _Cap("unfavorable", p.criteria[2].cap_condition())), _Crit("fed", None)]
    floor = floor_codes(crit, out)
    assert floor.tolist() == [2, 1, 0, 2]
    band = verdict_codes(out["score"].to_numpy() / 100, 70, 40)
    got = np.asarray(VERDICTS, dtype=object)[capped_codes(band, floor)]
    assert got.tolist() == out["verdict"].tolist()
    assert floor_codes([_Crit("tribal", _Cap("review", "< 1000"), evaluated=False)], out).tolist() == [0] * 4
    with pytest.raises(ValueError, match="m_gone"):
        floor_codes([_Crit("gone", _Cap("review", "< 1"))], out)
    assert parse_condition("in ['a', 'b']") == ("in", ["a", "b"])
    with pytest.raises(ValueError, match="is not one of"):
        parse_condition("~ 3")


# ------------------------------------------------------------------------------------------
# diff names a verdict cap as the cause when the cap moved the verdict


def _record(weight_fed: float):
    from types import SimpleNamespace as NS
    from sitescreen.record.manifest import CapRecord
    tribal = NS(name="tribal", exclusion=None, evaluated=True, effective_weight=0.0, weight=0.0, score_column=None,
                measure_column="m_tribal", cap=CapRecord(verdict="review", condition="< 1000"))
    fed = NS(name="fed", exclusion=None, evaluated=True, effective_weight=weight_fed, weight=weight_fed,
             score_column="s_fed", measure_column="m_fed", cap=None)
    return NS(criteria=(tribal, fed))


def _results(tribal, fed, verdict):
    return pd.DataFrame({"m_tribal": tribal, "m_fed": fed, "s_fed": fed, "verdict": verdict})


def test_diff_names_the_cap_that_moved_a_verdict_before_any_contribution():
    from sitescreen.review.diffcause import CAP, CONTRIBUTION, causes
    a = _results([2000.0, 500.0, 2000.0, 500.0], [0.9, 0.9, 0.9, 0.3], ["favorable", "review", "favorable", "unfavorable"])
    # site 0: moved within 1000 m (held at review) and lost 10 points; site 1: moved out of the cap's reach;
    # site 2: lost points to review without a cap; site 3: within the cap but unfavorable in both runs (not the cap)
    b = _results([500.0, 2000.0, 2000.0, 500.0], [0.8, 0.9, 0.6, 0.2], ["review", "favorable", "review", "unfavorable"])
    got = causes(_record(1.0), _record(1.0), a, b)
    assert list(got.kind) == [CAP, CAP, CONTRIBUTION, CONTRIBUTION]
    assert list(got.criterion) == ["tribal", "tribal", "fed", "fed"]
    assert np.isnan(got.points[:2]).all() and got.points[2] == pytest.approx(-30.0)


def test_diff_words_a_cap_cause_once_in_both_directions():
    from sitescreen.review.diff import SiteChange
    from sitescreen.review.diffshow import cause_text
    fields = dict(site_id="S1", name="", score_a=80.0, score_b=80.0, cause="tribal", cause_kind="cap", points=None, x=0.0, y=0.0)
    worse = SiteChange(verdict_a="favorable", verdict_b="review", **fields)
    better = SiteChange(verdict_a="review", verdict_b="favorable", **fields)
    assert cause_text(worse) == "review required by tribal now (its verdict cap holds)"
    assert cause_text(better) == "no longer review required by tribal (its verdict cap no longer holds)"


def _sliced(ms: dict, rows: slice) -> dict:
    return {k: Measurement(v.values[rows], feature=None if v.feature is None else v.feature[rows],
                           feature_layer=None if v.feature_layer is None else v.feature_layer[rows],
                           nodata_reason=v.nodata_reason[rows]) for k, v in ms.items()}


def test_each_cap_counts_the_sites_it_held_and_the_counts_of_chunks_add_up():
    """``sites_held``: sites whose verdict the cap lowered (their score alone gives a better one);
    a capped site already review or unfavorable, or incomplete, is not counted. Scored in two
    chunks, the tallies add up to the whole run's count."""
    from sitescreen.rules.scoring import scored
    from sitescreen.run.pipeline import add_tallies, tally
    p = profile(cap={"verdict": "review", "below": 1000})
    # favorable + within (held), review + within, unfavorable + within, favorable beyond, within without data
    tribal, fed = [10.0, 500.0, 900.0, 5000.0, 20.0], [0.9, 0.5, 0.1, 0.95, NAN]
    ms = measures(tribal, fed)
    whole = scored(sites(5), p, ms)
    assert list(whole.frame["verdict"]) == ["review", "review", "unfavorable", "favorable", "incomplete"]
    f = whole.frame
    assert whole.held == {"tribal": int(((f["m_tribal"] < 1000) & (f["score"] >= 70)).sum())} == {"tribal": 1}
    counted = None
    for rows in (slice(0, 2), slice(2, 5)):
        part = scored(sites(5).iloc[rows], p, _sliced(ms, rows))
        counted = add_tallies(counted, tally(part.frame, p, _sliced(ms, rows), part.held))
    assert counted.held == whole.held and counted.counts["review"] == 2


def test_the_manifest_and_report_say_how_many_sites_each_cap_held(tmp_path):
    """End to end, a profile extending the default with a cap on the protected setback: the run
    record's ``sites_held`` equals the count from the written results, and the report's rules
    table says it in the one wording."""
    import json
    import tinyworld as tw
    from edgecases import run_cli
    from sitescreen.rules.wording import held_text
    w = tw.build(tmp_path)
    prof = tmp_path / "capped.toml"
    prof.write_text('extends = "federal-safeguards"\nname = "capped"\n\n[criteria.protected_setback]\n'
                    'cap = { verdict = "review", below = 20000 }\n', encoding="utf-8")
    w.extra = ["--profile", str(prof)]
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    manifest = json.loads((w.out / "manifest.json").read_text())
    crit, fav = {c["name"]: c for c in manifest["criteria"]}, manifest["profile"]["verdicts"]["favorable"]
    got = pd.read_csv(w.out / "sites.csv")
    held = int(((got["m_protected_setback"] < 20000) & (got["score"] >= fav) & (got["verdict"] == "review")).sum())
    assert held >= 1 and crit["protected_setback"]["sites_held"] == held
    assert all("sites_held" not in c for name, c in crit.items() if name != "protected_setback" and c.get("cap") is None)
    report = tmp_path / "report.html"
    assert run_cli(["report", str(w.out), "-o", str(report)]).exit_code == 0
    assert held_text("review", held) in report.read_text(encoding="utf-8")
