"""`sitescreen explain`: a breakdown a reviewer can check by hand (issue 14, item 9).

The effective weights as percentages and each criterion's points (suitability × effective weight)
add up to the score; rules carry their units; every criterion names what it measured (the
feature, or the layer); a distance beyond the search radius says so; the legal source is in the
text; a site can be looked up by its name.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, run_cli
from fixtures_results import demo_out  # noqa: F401
from sitescreen.rules.profile import feature_column
from sitescreen.rules.wording import POINTS_DECIMALS, points_text


def explain(out, site, *extra):
    res = run_cli(["explain", str(out), str(site), *extra])
    assert res.exit_code == 0, res.output
    return res.stdout


def rows(text: str, names) -> dict[str, dict]:
    """The table rows of explain's text: measurement, suitability, effective weight, points, rule,
    and the ``measured:``/``source:`` lines under each."""
    lines = text.splitlines()
    out = {}
    for name in names:
        i = next(k for k, ln in enumerate(lines) if ln.startswith(f"{name} "))
        m = re.match(rf"^{re.escape(name)}\s+(.+?)\s+(\d\.\d{{3}}|—)\s+([\d.,]+ %|—)\s+(\d+\.\d+|—)  (.*)$", lines[i])
        assert m, lines[i]
        out[name] = {"measurement": m[1], "suitability": m[2], "weight": m[3], "points": m[4], "rule": m[5],
                     "measured": lines[i + 1].strip(), "safeguard": lines[i + 2].strip(),
                     "source": lines[i + 3].strip()}
    return out


@pytest.fixture(scope="module")
def demo(demo_out):  # noqa: F811
    sites = gpd.read_parquet(demo_out / "sites.parquet")
    manifest = json.loads((demo_out / "manifest.json").read_text())
    return demo_out, sites, manifest


def test_points_add_up_to_the_score_for_every_scored_site(demo):
    """Σ points (as printed) is the score to within 0.05, for every site with a score; the effective
    weights are labelled so and add up to 100 %."""
    out, sites, manifest = demo
    names = [c["name"] for c in manifest["criteria"]]
    scored = sites[sites["verdict"].isin(["favorable", "review", "unfavorable"])]
    assert len(scored) > 50
    for _, site in scored.iterrows():
        text = explain(out, site["site_id"])
        assert "effective weight" in text.splitlines()[2] and "points" in text.splitlines()[2]
        table = rows(text, names)
        printed = [float(r["points"]) for r in table.values() if r["points"] != "—"]
        assert abs(sum(printed) - site["score"]) <= 0.05, (site["site_id"], printed, site["score"])
        weights = [float(r["weight"][:-2]) for r in table.values() if r["weight"] != "—"]
        assert abs(sum(weights) - 100) <= 0.01
        assert f"= score {points_text(site['score'])}" in text
        for r in table.values():  # each row's points are its suitability × its effective weight
            if r["points"] != "—":
                assert abs(float(r["points"]) - float(r["suitability"]) * float(r["weight"][:-2])) <= 0.06
                assert len(r["points"].split(".")[1]) == POINTS_DECIMALS


def test_an_excluded_site_says_why_its_points_do_not_count(demo):
    out, sites, manifest = demo
    site = sites[sites["verdict"] == "excluded"].iloc[0]
    text = explain(out, site["site_id"])
    assert "but a hard exclusion applies: score 0" in text
    site = sites[sites["verdict"] == "incomplete"].iloc[0]
    assert "no score (—)" in explain(out, site["site_id"])


def test_rules_carry_their_units(demo):
    out, sites, manifest = demo
    table = rows(explain(out, sites["site_id"].iloc[0]), [c["name"] for c in manifest["criteria"]])
    assert table["protected_setback"]["rule"].endswith("exclude if < 300 m")
    assert table["federal_land"]["rule"] == "linear: 0 % → 0, 100 % → 1"
    assert table["protected_overlap"]["rule"] == "exclude if > 0 %"


def test_every_criterion_names_what_it_measured(demo):
    """The feature behind the value (as the reasons name it), else the layers it was measured in."""
    out, sites, manifest = demo
    names = [c["name"] for c in manifest["criteria"]]
    excluded = sites[sites["reasons"].str.contains("excluded by protected_setback")]
    assert len(excluded) > 5
    for _, site in excluded.head(10).iterrows():
        table = rows(explain(out, site["site_id"]), names)
        feature = site[feature_column("protected_setback")]
        assert feature and f"({feature})" in site["reasons"]  # one wording: the reasons name the same feature
        assert table["protected_setback"]["measured"] == f"measured: distance to permanently protected land: {feature}"
        for c in manifest["criteria"]:
            measured = table[c["name"]]["measured"]
            assert measured.startswith(f"measured: {c['label'][0].lower()}{c['label'][1:]}")
            where = site.get(feature_column(c["name"]))
            if isinstance(where, str) and where:
                assert measured.endswith(f": {where}")
            elif c["layers"]:
                assert measured.endswith(", ".join(c["layers"]))
        assert all(table[n]["source"].startswith("source: ") for n in names)


@pytest.fixture(scope="module")
def far_world(tmp_path_factory):
    """The tiny world with its wilderness ~350 km away: nothing protected within the 50 km search radius."""
    w = tw.build(tmp_path_factory.mktemp("far") / "w")
    tw.write_vector(tw.wilderness_frame([shapely.box(-110.2, 44.4, -110.1, 44.5)]), w.protected)
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    return w


def test_beyond_the_search_radius_and_the_source_in_the_text(far_world):
    out = far_world.out
    manifest = json.loads((out / "manifest.json").read_text())
    crit = next(c for c in manifest["criteria"] if c["name"] == "protected_setback")
    assert np.isinf(gpd.read_parquet(out / "sites.parquet")["m_protected_setback"]).all()
    text = explain(out, "1001")
    table = rows(text, [c["name"] for c in manifest["criteria"]])
    radius_km = crit["params"]["search_radius_m"] / 1000
    assert table["protected_setback"]["measurement"] == f"beyond the {radius_km:g} km search radius"
    assert radius_km == 50
    for c in manifest["criteria"]:
        assert table[c["name"]]["source"] == f"source: {c['source']}"


def test_a_site_is_found_by_its_name_ignoring_case(far_world):
    out = far_world.out
    by_id = explain(out, "1002")
    assert explain(out, "bravo PROSPECT (synthetic)") == by_id
    assert json.loads(explain(out, "Bravo Prospect (synthetic)", "--json"))["site_id"] == "1002"


def test_an_unknown_name_names_the_close_ones(far_world):
    res = run_cli(["explain", str(far_world.out), "Bravo"])
    msg = assert_error(res, ["no site with id 'Bravo' and none named so", "close names: 'Bravo Prospect (synthetic)'"], 1)
    assert str(far_world.out) in msg
    res = run_cli(["explain", str(far_world.out), "Brava Prospect (synthetic)"])
    assert_error(res, ["close names: 'Bravo Prospect (synthetic)'"], 1)


def test_a_name_two_sites_share_is_an_error_naming_both(tmp_path):
    rows_ = tw.deposit_rows([("2001", "Twin Prospect (synthetic)", -114.50, 44.50),
                             ("2002", "Twin Prospect (synthetic)", -114.30, 44.70)])
    w = tw.build(tmp_path / "w")
    tw.write_csv(w.sites, rows_)
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    res = run_cli(["explain", str(w.out), "twin prospect (synthetic)"])
    assert_error(res, ["2 sites are named 'twin prospect (synthetic)' (site ids 2001, 2002)", "by its site id"], 1)
