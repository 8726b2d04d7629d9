"""`sitescreen sensitivity`: sampled rescoring of a finished run (issue 12 item 1)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.errors import ProfileError
from sitescreen.record.manifest import read_record
from sitescreen.review.sensitivityrun import sensitivity
from sitescreen.rules.profile import profile_from_dict
from sitescreen.rules.ranges import _broadcast_interp, sampled_suitability
from sitescreen.rules.scoring import verdict_codes, weighted_total
from sitescreen.rules.verdicts import VERDICTS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny world screened through the CLI (no map, no report)."""
    w = tw.build(tmp_path_factory.mktemp("sens") / "world")
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    return w.out


@pytest.fixture(scope="module")
def record(tiny_run):
    return read_record(tiny_run / "manifest.json")


def synthetic(record, rows: list[dict]) -> pd.DataFrame:
    """Sites with the given suitabilities (1 where not given), score and verdict made by the run's
    own formula from the record's effective weights; ``verdict`` in a row forces excluded/incomplete."""
    crits = [c for c in record.criteria if c.effective_weight > 0 and c.score_column]
    fav, rev = record.profile.verdicts.favorable, record.profile.verdicts.review
    out = []
    for i, r in enumerate(rows):
        s = {c.score_column: float(r.get(c.name, 1.0)) for c in crits}
        total = weighted_total([np.array([s[c.score_column]]) for c in crits], [c.effective_weight for c in crits])
        verdict = r.get("verdict") or VERDICTS[int(verdict_codes(total, fav, rev)[0])]
        score = {"excluded": 0.0, "incomplete": np.nan}.get(verdict, float(np.round(total[0] * 100, 4)))
        out.append({"site_id": f"s{i}", "verdict": verdict, "score": score, **s})
    return pd.DataFrame(out)


def test_every_suitability_one_is_favorable_at_100_and_excluded_stays(record):
    sites = synthetic(record, [{}, {"verdict": "excluded"}, {"verdict": "incomplete"}])
    table, sec = sensitivity(sites, record, samples=2000, seed=3)
    by = table.set_index("site_id")
    assert by.loc["s0", "verdict"] == "favorable" and by.loc["s0", "p_favorable"] == 1.0
    assert by.loc["s1", "p_excluded"] == 1.0 and by.loc["s1", "p_favorable"] == 0.0
    assert by.loc["s2", "p_incomplete"] == 1.0 and by.loc["s2", "p_flip"] == 0.0
    assert sec.sites_rescored == 1 and sec.sites_fixed == 2


def test_site_at_a_threshold_is_near_half(record):
    crits = [c for c in record.criteria if c.effective_weight > 0 and c.score_column]
    t, d = record.profile.verdicts.favorable / 100, 0.2
    a, b = crits[0], crits[1]
    row = {c.name: t for c in crits}
    # the weighted mean stays t: w_a·(d·w_b) − w_b·(d·w_a) = 0
    row[a.name] = t + d * b.effective_weight
    row[b.name] = t - d * a.effective_weight
    sites = synthetic(record, [row])
    assert abs(sites["score"].iloc[0] - record.profile.verdicts.favorable) < 1e-9
    table, _ = sensitivity(sites, record, samples=10_000, seed=5)
    assert table["p_favorable"].iloc[0] == pytest.approx(0.5, abs=0.05)
    assert table["p_favorable"].iloc[0] + table["p_review"].iloc[0] == pytest.approx(1.0)
    assert table["hinge"].iloc[0] in (a.name, b.name)


def test_same_seed_same_numbers_other_seed_other_samples(record, tiny_run):
    import geopandas as gpd
    sites = gpd.read_parquet(tiny_run / "sites.parquet")
    one, sec1 = sensitivity(sites, record, samples=3000, seed=11)
    two, sec2 = sensitivity(sites, record, samples=3000, seed=11)
    pd.testing.assert_frame_equal(one, two)
    assert sec1 == sec2
    other, _ = sensitivity(sites, record, samples=3000, seed=12)
    moving = one["p_flip"] > 0
    assert moving.any() and not one.loc[moving, "score_p05"].equals(other.loc[moving, "score_p05"])


def test_sobol_indices_are_sensible(record, tiny_run):
    import geopandas as gpd
    _, sec = sensitivity(gpd.read_parquet(tiny_run / "sites.parquet"), record, samples=4000, seed=2)
    idx = sec.sobol["mean_score"]
    assert set(idx) == {p.name for p in sec.parameters}
    for i in idx.values():
        assert -0.05 <= i.S1 <= 1.05 and -0.05 <= i.ST <= 1.05
        assert i.S1 <= i.ST + max(i.S1_conf, i.ST_conf) + 0.02
    assert sum(i.S1 for i in idx.values()) <= 1.1


def test_sampled_threshold_range_gives_its_share(record):
    """All suitabilities 0.75: weights change nothing; favorable uniform in [60, 80] → P(fav) = 0.75."""
    verdicts = replace(record.profile.verdicts, range={"favorable": (60.0, 80.0)})
    rec = replace(record, profile=replace(record.profile, verdicts=verdicts))
    crits = [c.name for c in record.criteria if c.effective_weight > 0 and c.score_column]
    table, sec = sensitivity(synthetic(record, [{c: 0.75 for c in crits}]), rec, samples=10_000, seed=1)
    expected = (75 - 60) / (80 - 60)
    assert table["p_favorable"].iloc[0] == pytest.approx(expected, abs=0.02)
    assert table["hinge"].iloc[0] == "verdicts.favorable"
    assert "verdicts.favorable" in {p.name for p in sec.parameters}


def test_broadcast_interp_is_numpy_interp_at_fixed_points():
    xs, ys = [300.0, 1500.0, 5000.0], [0.0, 0.6, 1.0]
    m = np.array([0, 300, 301, 900, 1500, 4999.5, 5000, 9000, np.inf])
    got = _broadcast_interp(m[:, None], [np.array([x]) for x in xs], ys)[:, 0]
    np.testing.assert_allclose(got, np.interp(m, xs, ys), rtol=0, atol=1e-15)
    tr = {"kind": "threshold", "threshold": 10.0, "below": 0.0, "above": 1.0}
    s = sampled_suitability(tr, np.array([[5.0], [np.nan]]), {"threshold": np.array([4.0, 6.0])})
    assert s[0].tolist() == [1.0, 0.0] and np.isnan(s[1]).all()


PROFILE = {"verdicts": {"favorable": 70, "review": 40},
           "criteria": {"near": {"kind": "distance", "role": "protected", "weight": 1.0, "safeguard": "s",
                                 "source": "x", "transform": {"kind": "linear", "points": [[300, 0.0], [1500, 1.0]]}}}}


def _profile(**over):
    import copy
    data = copy.deepcopy(PROFILE)
    for path, value in over.items():
        where, key = path.rsplit(".", 1) if "." in path else ("", path)
        node = data
        for k in where.split(".") if where else []:
            node = node[k]
        node[key] = value
    return profile_from_dict(data, "p.toml")


def test_profile_ranges_are_read_and_checked():
    p = _profile(**{"verdicts.range": {"favorable": [65, 75]}, "criteria.near.transform.range": {"x0": [200, 400]}})
    assert p.verdict_ranges == {"favorable": (65.0, 75.0)}
    assert p.criteria[0].transform["range"] == {"x0": [200, 400]}
    bad = {
        "verdicts.range": ({"favorable": [71, 75]}, r"must hold the number \(70\)"),
        "criteria.near.transform.range": ({"x0": [200, 1600]}, "could cross"),
    }
    for key, (value, words) in bad.items():
        with pytest.raises(ProfileError, match=words):
            _profile(**{key: value})
    with pytest.raises(ProfileError, match="allowed: x0, x1"):
        _profile(**{"criteria.near.transform.range": {"threshold": [1, 2]}})
    with pytest.raises(ProfileError, match=r"review's range < favorable's range"):
        _profile(**{"verdicts.range": {"review": [30, 72]}})


def test_cli_writes_records_and_verify_repeats(tiny_run, tmp_path):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    res = run_cli(["sensitivity", str(out), "--samples", "500", "--seed", "4"])
    assert res.exit_code == 0, res.output
    rec = read_record(out / "manifest.json")
    assert rec.sensitivity.seed == 4 and set(rec.sensitivity.files) <= set(rec.outputs)
    csv = pd.read_csv(out / "sensitivity.csv")
    assert len(csv) == len(pd.read_parquet(out / "sites.parquet"))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    again = run_cli(["sensitivity", str(out)])
    assert_error(again, "sensitivity.parquet: exists; pass --overwrite to replace it", 1)
    ok = run_cli(["verify", str(out)])
    assert ok.exit_code == 0, ok.output
    table = pd.read_parquet(out / "sensitivity.parquet")
    table.loc[table["p_flip"] > 0, "p_flip"] = 0.0
    table.to_parquet(out / "sensitivity.parquet", index=False)
    bad = run_cli(["verify", str(out)])
    assert bad.exit_code == 1 and "sensitivity.parquet" in bad.output


def test_cli_refuses_a_file_it_did_not_write(tiny_run, tmp_path):
    import shutil
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    (out / "sensitivity.csv").write_text("mine\n", encoding="utf-8")
    before = {p.name for p in out.iterdir()}
    res = run_cli(["sensitivity", str(out), "--overwrite", "--samples", "100"])
    assert_error(res, "sensitivity.csv: not written by sitescreen", 1)
    assert (out / "sensitivity.csv").read_text(encoding="utf-8") == "mine\n"
    assert_nothing_left(out, before)
    assert run_cli(["sensitivity", str(out), "--spread", "0"]).exit_code == 2


@pytest.fixture(scope="module")
def idaho_run(shared_data, tmp_path_factory):
    d = shared_data
    out = tmp_path_factory.mktemp("idaho-sens") / "idaho-out"
    res = run_cli(["-q", "screen", str(d / "mineral_deposits/lanthanum_datafile.csv"), "--sites-where", "state=Idaho",
                   "--layer", f"federal_land={d / 'federal_lands/padus_ID.geojson'}",
                   "--layer", f"watershed={d / 'watersheds/huc8_pnw.geojson'}",
                   "--layer", f"protected={d / 'protected_areas/nps_national_parks.geojson'}",
                   "--layer", f"protected={d / 'protected_areas/wilderness_usgs_national_atlas/wilderness.shp'}",
                   "--out", str(out), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    return out


def test_idaho_two_seeds_agree_at_10000(idaho_run):
    import geopandas as gpd
    sites = gpd.read_parquet(idaho_run / "sites.parquet")
    record = read_record(idaho_run / "manifest.json")
    a, _ = sensitivity(sites, record, samples=10_000, seed=1)
    b, _ = sensitivity(sites, record, samples=10_000, seed=2)
    cols = [f"p_{v}" for v in VERDICTS]
    assert (a[cols] - b[cols]).abs().to_numpy().max() <= 0.02
    np.testing.assert_allclose(a[cols].sum(axis=1), 1.0)
    fixed = a["verdict"].isin(["excluded", "incomplete"])
    assert fixed.any() and (a.loc[fixed, "p_flip"] == 0).all()
    assert (a.loc[a["verdict"] == "excluded", "p_excluded"] == 1).all()
    scored = ~fixed
    assert (a.loc[scored, "rank_p05"] <= a.loc[scored, "rank_p95"]).all()
    assert (a.loc[scored, "score_p05"] <= a.loc[scored, "score_p95"]).all()
