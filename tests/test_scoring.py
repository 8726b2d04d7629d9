"""Scores, verdicts and reasons from measurements (unit level), and through a tiny screening."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from sitescreen.run.config import config_from_dict
from sitescreen.rules.measurement import Measurement
from sitescreen.run.pipeline import screen
from sitescreen.rules.profile import profile_from_dict
from sitescreen.rules.scoring import score
from sitescreen.record.manifest import to_data

NAN = np.nan
ALBERS = "EPSG:5070"

PROFILE = {
    "name": "unit",
    "verdicts": {"favorable": 70, "review": 40},
    "criteria": {
        "excl": {"kind": "overlap", "role": "protected", "label": "Overlap with wilderness",
                 "exclude": {"above": 0}, "safeguard": "No mining in wilderness", "source": "Wilderness Act"},
        "fed": {"kind": "overlap", "role": "federal_land", "weight": 0.6, "label": "Federal share",
                "transform": {"kind": "linear", "points": [[0, 0], [1, 1]]}, "safeguard": "federal", "source": "EO"},
        "slope": {"kind": "raster", "role": "dem", "stat": "frac_above", "threshold": 20, "weight": 0.4,
                  "optional": True, "transform": {"kind": "linear", "points": [[0, 1], [0.5, 0]]},
                  "safeguard": "runoff", "source": "NRCS"},
    },
}


@pytest.fixture(scope="module")
def profile():
    return profile_from_dict(PROFILE, "unit.toml")


def sites(n: int) -> gpd.GeoDataFrame:
    ids = [f"S{k}" for k in range(n)]
    return gpd.GeoDataFrame({"site_id": ids, "name": [f"site {k}" for k in range(n)]},
                            geometry=[box(k * 10_000, 0, k * 10_000 + 1000, 1000) for k in range(n)], crs=ALBERS)


def measures(excl, fed, slope, *, slope_evaluated=True, fed_reason=None, excl_feature=None):
    n = len(excl)
    return {
        "excl": Measurement(np.array(excl, dtype=float),
                            feature=np.array(excl_feature or [""] * n, dtype=object),
                            feature_layer=np.array(["wilderness" if f else "" for f in (excl_feature or [""] * n)],
                                                   dtype=object),
                            nodata_reason=np.full(n, "", dtype=object)),
        "fed": Measurement(np.array(fed, dtype=float), feature=np.full(n, "", dtype=object),
                           nodata_reason=np.array(fed_reason or [""] * n, dtype=object)),
        "slope": Measurement(np.array(slope, dtype=float), nodata_reason=np.full(n, "", dtype=object),
                             evaluated=slope_evaluated),
    }


def test_scores_and_verdicts(profile):
    # fed 1, slope 0 -> 100; fed .5, slope .25 -> .6*.5 + .4*.5 = 50; fed .1, slope .5 -> 6
    out = score(sites(3), profile, measures([0, 0, 0], [1.0, 0.5, 0.1], [0.0, 0.25, 0.5]))
    np.testing.assert_allclose(out["score"], [100.0, 50.0, 6.0])
    assert list(out["verdict"]) == ["favorable", "review", "unfavorable"]
    np.testing.assert_allclose(out["s_fed"], [1.0, 0.5, 0.1])
    np.testing.assert_allclose(out["s_slope"], [1.0, 0.5, 0.0])
    np.testing.assert_allclose(out["m_slope"], [0.0, 0.25, 0.5])
    assert list(out.columns[:5]) == ["site_id", "name", "verdict", "score", "reasons"]
    assert "s_excl" not in out  # an exclusion-only rule has no score column


def test_exclusion_wins_over_score(profile):
    out = score(sites(2), profile, measures([0.3, 0.0], [1.0, 1.0], [0.0, 0.0],
                                            excl_feature=["Sawtooth Wilderness", ""]))
    assert list(out["verdict"]) == ["excluded", "favorable"]
    assert list(out["score"]) == [0.0, 100.0]
    reasons = out["reasons"].iloc[0]
    assert reasons.startswith("excluded by excl: overlap with wilderness is 30 % (exclude if > 0 %)")
    assert "(Sawtooth Wilderness, layer wilderness)" in reasons
    assert "safeguard: No mining in wilderness" in reasons


def test_exclusion_wins_over_missing_data(profile):
    out = score(sites(1), profile, measures([0.5], [NAN], [0.0], fed_reason=["outside the coverage of layer padus"]))
    assert out["verdict"].iloc[0] == "excluded" and out["score"].iloc[0] == 0.0


def test_incomplete_when_weighted_criterion_has_no_data(profile):
    out = score(sites(2), profile, measures([0, 0], [NAN, 1.0], [0.0, NAN],
                                            fed_reason=["outside the coverage of layer padus", ""]))
    assert list(out["verdict"]) == ["incomplete", "incomplete"]
    assert out["score"].isna().all()
    assert "no data for fed: outside the coverage of layer padus" in out["reasons"].iloc[0]
    assert "no data for slope: no value" in out["reasons"].iloc[1]


def test_incomplete_when_exclusion_has_no_data(profile):
    out = score(sites(1), profile, measures([NAN], [1.0], [0.0]))
    assert out["verdict"].iloc[0] == "incomplete"
    assert "no data for excl" in out["reasons"].iloc[0]


def test_weights_renormalised_when_optional_criterion_not_evaluated(profile):
    m = measures([0, 0, 0], [1.0, 0.5, 0.1], [NAN, NAN, NAN], slope_evaluated=False)
    out = score(sites(3), profile, m)
    np.testing.assert_allclose(out["score"], [100.0, 50.0, 10.0])  # fed alone, weight 0.6 / 0.6
    assert list(out["verdict"]) == ["favorable", "review", "unfavorable"]
    assert not out["reasons"].str.contains("slope").any()


def test_low_scores_are_explained(profile):
    out = score(sites(1), profile, measures([0], [0.1], [0.0]))
    assert "fed: federal share 10 % → suitability 0.100" in out["reasons"].iloc[0]
    out = score(sites(1), profile, measures([0], [0.9], [0.0]))
    assert out["reasons"].iloc[0] == "clears every exclusion; all weighted criteria score 0.5 or better"


def test_score_does_not_mutate_sites(profile):
    s = sites(2)
    before = s.copy()
    score(s, profile, measures([0, 0], [1.0, 0.5], [0.0, 0.0]))
    assert_geodataframe_equal(s, before)


# ------------------------------------------------------------------------------------------
# through a tiny screening with the default profile: reasons name the features


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    x0, y0 = -1_450_000.0, 2_700_000.0  # central Idaho in CONUS Albers
    wild = gpd.GeoDataFrame({"NAME1": ["Sawtooth Wilderness"], "FEATURE1": ["Wilderness FS"], "AGBUR": ["FS"],
                             "NAME2": ["Sawtooth NRA"]},
                            geometry=[box(x0, y0, x0 + 5000, y0 + 5000)], crs=ALBERS)
    wild.to_file(d / "wilderness.gpkg")
    land = gpd.GeoDataFrame({"name": ["Challis Field Office", "Idaho Department of Lands"], "agency": ["BLM", "STA"],
                             "acres": [1.0, 1.0], "state": ["ID", "ID"]},
                            geometry=[box(x0 - 30_000, y0 - 30_000, x0 + 30_000, y0),
                                      box(x0 - 30_000, y0, x0 + 30_000, y0 + 30_000)], crs=ALBERS)
    land.to_file(d / "land.gpkg")
    claims = gpd.GeoDataFrame(
        {"site_id": ["IN", "NEAR", "BLM", "STATE"], "name": ["in", "near", "on BLM", "on state land"]},
        geometry=[box(x0 + 1000, y0 + 1000, x0 + 2000, y0 + 2000),            # inside the wilderness
                  box(x0 + 5200, y0 + 1000, x0 + 6200, y0 + 2000),            # 200 m east of it
                  box(x0 - 20_000, y0 - 20_000, x0 - 19_000, y0 - 19_000),    # on BLM, far away
                  box(x0 - 20_000, y0 + 19_000, x0 - 19_000, y0 + 20_000)],   # on state land, far away
        crs=ALBERS)
    claims.to_file(d / "claims.gpkg")
    cfg = config_from_dict({"sites": {"path": "claims.gpkg"},
                            "layers": [{"role": "protected", "path": "wilderness.gpkg"},
                                       {"role": "federal_land", "path": "land.gpkg"}]}, d, "tiny")
    return screen(cfg)


def test_tiny_screening_reasons_and_scores(tiny):
    out = tiny.sites.set_index("site_id")
    assert out.loc["IN", "verdict"] == "excluded"
    assert "excluded by protected_overlap" in out.loc["IN", "reasons"]
    assert "Sawtooth Wilderness" in out.loc["IN", "reasons"]
    assert out.loc["NEAR", "verdict"] == "excluded"
    assert out.loc["NEAR", "m_protected_setback"] == pytest.approx(200.0)
    assert "excluded by protected_setback" in out.loc["NEAR", "reasons"]
    assert "Sawtooth Wilderness" in out.loc["NEAR", "reasons"]
    # setback > 5 km scores 1; federal share 1 (BLM) or 0 (state); the watershed and DEM criteria are
    # not evaluated, so the weights renormalise over protected_setback (0.35) and federal_land (0.25)
    assert out.loc["BLM", "m_federal_land"] == pytest.approx(1.0)
    assert out.loc["STATE", "m_federal_land"] == pytest.approx(0.0)
    assert out.loc["BLM", "score"] == pytest.approx(100.0)
    assert out.loc["STATE", "score"] == pytest.approx(100 * 0.35 / 0.60, abs=1e-3)
    assert (out.loc["BLM", "verdict"], out.loc["STATE", "verdict"]) == ("favorable", "review")
    assert "federal_land: share of the footprint on federal land 0 %" in out.loc["STATE", "reasons"]
    assert "excluded" not in out.loc["STATE", "reasons"]
    crit = {c["name"]: c for c in to_data(tiny.manifest)["criteria"]}
    assert crit["protected_setback"]["effective_weight"] == pytest.approx(0.35 / 0.60)
    assert crit["steep_terrain"]["evaluated"] is False and crit["steep_terrain"]["effective_weight"] == 0.0
    assert tiny.manifest.counts == {"excluded": 2, "unfavorable": 0, "review": 1, "favorable": 1, "incomplete": 0}


CATEGORICAL = {
    "name": "categorical",
    "verdicts": {"favorable": 70, "review": 40},
    "criteria": {
        "basin": {"kind": "attribute", "role": "watershed", "field": "huc", "weight": 0.5, "label": "Basin",
                  "transform": {"kind": "categorical", "table": {"17060203": 1.0, "17060204": 0.4}},
                  "safeguard": "watersheds", "source": "WBD"},
        "fed": {"kind": "overlap", "role": "federal_land", "weight": 0.5, "label": "Federal share",
                "transform": {"kind": "linear", "points": [[0, 0], [1, 1]]}, "safeguard": "federal", "source": "EO"},
    },
}


def test_a_value_with_no_suitability_is_no_data_not_zero():
    """A weighted criterion whose measurement has no suitability (a categorical value not in the table,
    which has no default) leaves the site without data for it: incomplete, counted as without data,
    never scored as if the criterion gave 0."""
    from sitescreen.rules.scoring import without_data
    from sitescreen.run.pipeline import tally
    prof = profile_from_dict(CATEGORICAL, "categorical.toml")
    ms = {"basin": Measurement(np.array(["17060203", "16010101", None], dtype=object)),
          "fed": Measurement(np.array([1.0, 1.0, 1.0]))}
    out = score(sites(3), prof, ms)
    assert list(out["verdict"]) == ["favorable", "incomplete", "incomplete"]
    assert out["score"].iloc[0] == 100.0 and out["score"].iloc[1:].isna().all()
    assert "no data for basin: 16010101 has no suitability" in out["reasons"].iloc[1]
    basin = prof.criteria[0]
    assert without_data(basin, out).tolist() == [False, True, True]
    assert tally(out, prof, ms).without_data == {"basin": 2, "fed": 0}
