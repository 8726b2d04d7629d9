"""`sitescreen diff A B`: inputs, profile rules and every site that changed, each with its cause;
text, --json and a self-contained HTML page. Every expectation is derived from the two runs'
sites.parquet and manifest.json, never typed in."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, run_cli
from sitescreen.record.manifest import read_record
from sitescreen.review.diff import diff_runs
from sitescreen.review.diffcause import excluded_by

BUILTIN = Path(__file__).resolve().parents[1] / "layers" / "profiles" / "federal-safeguards.toml"


def _screen(args: list[str]) -> None:
    r = run_cli(["-q", *args])
    assert r.exit_code == 0, r.output


def _profile_copy(path: Path, *edits: tuple[str, str], drop: str | None = None) -> Path:
    """The built-in profile with ``edits`` (each found once) and without the criterion ``drop`` (its
    table, up to the next criterion's)."""
    text = BUILTIN.read_text(encoding="utf-8")
    if drop is not None:
        head, sep, rest = text.partition(f"[criteria.{drop}]")
        assert sep, drop
        after = rest.find("\n[criteria.")
        text = head + (rest[after + 1:] if after >= 0 else "")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run A: the tiny world. Run B: the wilderness moved onto site 1002, site 1004 dropped and a
    site 1005 added, and a profile copy with federal_land's weight 0.25 → 0.3, protected_setback's 0.35 → 0.3,
    favorable 70 → 60 and without the stream_buffer criterion."""
    root = tmp_path_factory.mktemp("diff")
    w = tw.build(root / "a")
    _screen(w.args())
    b = tw.build(root / "b")
    b.out = root / "b" / "out"
    shutil.copyfile(w.federal, b.federal)  # the same file (a GeoPackage written again has other bytes)
    tw.write_vector(tw.wilderness_frame([shapely.box(-114.42, 44.53, -114.38, 44.57)]), b.protected)
    sites = [s for s in tw.SITES if s[0] != "1004"] + [("1005", "Echo Prospect (synthetic)", -114.35, 44.62)]
    tw.write_csv(b.sites, tw.deposit_rows(sites))
    prof = _profile_copy(root / "b" / "profile.toml", ("weight = 0.25", "weight = 0.3"),
                         ("weight = 0.35", "weight = 0.3"), ("favorable = 70", "favorable = 60"),
                         drop="stream_buffer")
    b.extra = ["--profile", str(prof)]
    _screen(b.args())
    return w.out, b.out


def _frames(a: Path, b: Path):
    sa, sb = (gpd.read_parquet(d / "sites.parquet").set_index("site_id") for d in (a, b))
    return sa, sb, read_record(a / "manifest.json"), read_record(b / "manifest.json")


def test_inputs_changed_by_hash(two_runs):
    a, b = two_runs
    d = diff_runs(a, b)
    ra, rb = read_record(a / "manifest.json"), read_record(b / "manifest.json")
    expect = {("sites", ra.sites.sha256, rb.sites.sha256), ("profile", ra.profile.sha256, rb.profile.sha256)}
    expect |= {(i.role, i.sha256, j.sha256) for i in ra.inputs for j in rb.inputs
               if (i.role, i.name) == (j.role, j.name) and i.sha256 != j.sha256}
    assert {(i.what, i.sha256_a, i.sha256_b) for i in d.inputs} == expect
    assert {i.change for i in d.inputs} == {"changed"}
    assert "protected" in {i.what for i in d.inputs} and "federal_land" not in {i.what for i in d.inputs}


def test_rule_changes_name_the_criterion_and_the_number(two_runs):
    a, b = two_runs
    d = diff_runs(a, b)
    ra, rb = read_record(a / "manifest.json"), read_record(b / "manifest.json")
    kept = [c for c in ra.criteria if c.name != "stream_buffer"]
    eff = {(c.name, "effective_weight", c.effective_weight, rb.criterion(c.name).effective_weight)
           for c in kept if c.effective_weight != rb.criterion(c.name).effective_weight}
    assert eff, "a weight change renormalises the effective weights"
    expect = {(None, "verdicts.favorable", ra.profile.verdicts.favorable, rb.profile.verdicts.favorable),
              *{(n, "weight", ra.criterion(n).weight, rb.criterion(n).weight) for n in ("federal_land", "protected_setback")},
              ("stream_buffer", "(criterion)", "in the profile", None)} | eff
    assert {(r.criterion, r.field, r.before, r.after) for r in d.rules} == expect


def test_sites_added_removed_and_changed_match_the_parquet_files(two_runs):
    a, b = two_runs
    sa, sb, _, _ = _frames(a, b)
    d = diff_runs(a, b)
    assert {r.site_id for r in d.added} == set(sb.index) - set(sa.index) == {"1005"}
    assert {r.site_id for r in d.removed} == set(sa.index) - set(sb.index) == {"1004"}
    common = sa.index.intersection(sb.index)
    moved = [s for s in common if sa.at[s, "verdict"] != sb.at[s, "verdict"]
             or not np.isclose(sa.at[s, "score"], sb.at[s, "score"], rtol=0, atol=1e-9)]
    assert sorted(c.site_id for c in d.changed) == sorted(moved) and moved
    verdicts = {s for s in common if sa.at[s, "verdict"] != sb.at[s, "verdict"]}
    assert {c.site_id for c in d.verdict_changes} == verdicts


def test_each_change_names_the_criterion_that_moved_it(two_runs):
    a, b = two_runs
    sa, sb, ra, rb = _frames(a, b)
    for c in diff_runs(a, b).changed:
        if sb.at[c.site_id, "verdict"] == "excluded" != sa.at[c.site_id, "verdict"]:
            # the first criterion (profile order) whose exclusion holds in B and not in A, in scoring's own words
            held = [re.findall(r"excluded by (\w+):", str(s.at[c.site_id, "reasons"])) for s in (sa, sb)]
            flips = [n for n in held[1] if n not in held[0]]
            assert (c.cause, c.cause_kind) == (flips[0], "exclusion")
            continue
        pts = {k.name: (np.nan_to_num(sb.at[c.site_id, k.score_column]) * k.effective_weight
                        - np.nan_to_num(sa.at[c.site_id, k.score_column]) * ra.criterion(k.name).effective_weight) * 100
               for k in rb.criteria if k.score_column}
        top = max(pts, key=lambda n: abs(pts[n]))
        assert (c.cause, c.cause_kind) == (top, "contribution") and c.points == pytest.approx(pts[top])
    assert any(c.cause_kind == "exclusion" and c.cause == "protected_overlap" for c in diff_runs(a, b).changed)


def test_excluded_by_reads_every_exclusion_form_of_the_record(two_runs):
    a, _ = two_runs
    rec = read_record(a / "manifest.json").criterion("protected_setback")
    vals = pd.Series([100.0, 300.0, np.nan, 5000.0])
    assert excluded_by(rec, vals).tolist() == [True, False, False, False]
    from dataclasses import replace
    assert excluded_by(replace(rec, exclusion="in ['17040201', 17]"),
                       pd.Series(["17040201", "17", None, "9"], dtype=object)).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="not one of"):
        excluded_by(replace(rec, exclusion="~ 3"), vals)


def test_text_counts_first_and_json_shape(two_runs):
    a, b = two_runs
    r = run_cli(["diff", str(a), str(b)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    d = diff_runs(a, b)
    assert lines[1].startswith("  inputs: 3 changed, 0 added, 0 removed")
    assert f"{len(d.verdict_changes)} verdicts changed" in lines[2] and "1 added, 1 removed" in lines[2]
    for c in d.changed:
        assert any(ln.strip().startswith(f"{c.site_id} ") and c.cause in ln for ln in lines), c
    j = run_cli(["diff", str(a), str(b), "--json"])
    data = json.loads(j.output)
    assert set(data) == {"a", "b", "counts", "inputs", "rules", "verdict_changes", "score_changes", "sites_added",
                         "sites_removed"}
    assert data["counts"]["verdict_changes"] == len(data["verdict_changes"]) == len(d.verdict_changes)
    assert data["counts"]["score_changes"] == len(data["score_changes"])
    assert set(data["verdict_changes"][0]) == {"site_id", "name", "verdict_a", "verdict_b", "score_a", "score_b",
                                               "cause", "cause_kind", "points", "why"}
    assert [s["site_id"] for s in data["sites_added"]] == ["1005"]


def test_html_page_is_self_contained_with_a_map_of_verdict_changes(two_runs, tmp_path):
    a, b = two_runs
    page = tmp_path / "diff.html"
    r = run_cli(["diff", str(a), str(b), "--html", str(page)])
    assert r.exit_code == 0, r.output
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html), "the page loads nothing from the network"
    assert "<script" not in html and "<link" not in html
    vc = diff_runs(a, b).verdict_changes
    assert html.count('<circle class="site"') == len(vc) > 0
    for c in vc:
        assert f"<title>{c.site_id} " in html
    again = run_cli(["diff", str(a), str(b), "--html", str(page)])
    assert_error(again, [str(page), "exists"], 1)


def test_a_run_against_itself_has_no_change(two_runs):
    a, _ = two_runs
    d = diff_runs(a, a)
    assert not (d.inputs or d.rules or d.changed or d.added or d.removed)


def test_diff_of_a_folder_that_is_not_a_run(two_runs, tmp_path):
    a, _ = two_runs
    r = run_cli(["diff", str(a), str(tmp_path)])
    assert_error(r, [str(tmp_path), "not a sitescreen output folder"], 1)


@pytest.mark.realdata
def test_idaho_with_a_1000_m_setback(shared_data, tmp_path_factory):
    """The issue's example: the README's Idaho run (as tests/test_browser_words.py idaho_out, without
    map and report) against the same run with a 1,000 m setback."""
    d = shared_data
    root = tmp_path_factory.mktemp("idaho-diff")
    layers = ["--layer", f"federal_land={d / 'federal_lands/padus_ID.geojson'}",
              "--layer", f"watershed={d / 'watersheds/huc8_pnw.geojson'}",
              "--layer", f"protected={d / 'protected_areas/nps_national_parks.geojson'}",
              "--layer", f"protected={d / 'protected_areas/wilderness_usgs_national_atlas/wilderness.shp'}"]
    base = ["screen", str(d / "mineral_deposits/lanthanum_datafile.csv"), "--sites-where", "state=Idaho", *layers,
            "--no-map", "--no-report"]
    prof = _profile_copy(root / "setback1000.toml", ("exclude = { below = 300 }", "exclude = { below = 1000 }"),
                         ("points = [[300, 0.0], [1500, 0.6]", "points = [[1000, 0.0], [1500, 0.6]"))
    _screen([*base, "--out", str(root / "a")])
    _screen([*base, "--profile", str(prof), "--out", str(root / "b")])
    sa, sb, _, _ = _frames(root / "a", root / "b")
    differ = sorted(s for s in sa.index if sa.at[s, "verdict"] != sb.at[s, "verdict"])
    assert differ and set(sa.index) == set(sb.index)
    r = run_cli(["diff", str(root / "a"), str(root / "b"), "--json"])
    data = json.loads(r.output)
    assert sorted(c["site_id"] for c in data["verdict_changes"]) == differ
    assert {c["cause"] for c in data["verdict_changes"] + data["score_changes"]} == {"protected_setback"}
    assert {(x["criterion"], x["field"]) for x in data["rules"]} == {("protected_setback", "exclusion"),
                                                                     ("protected_setback", "transform.points[0][0]")}


def test_no_data_and_lifted_exclusions_are_causes(two_runs):
    """causes() on small frames: data going missing, an exclusion no longer holding, a pure threshold move."""
    from sitescreen.review.diffcause import causes
    a, _ = two_runs
    rec = read_record(a / "manifest.json")
    base = {"m_protected_overlap": [0.0, 0.2, 0.0], "m_protected_setback": [2000.0, 0.0, 3000.0],
            "s_protected_setback": [0.7, 0.0, 0.8], "m_federal_land": [1.0, 1.0, 0.5], "s_federal_land": [1.0, 1.0, 0.5],
            "verdict": ["favorable", "excluded", "review"]}
    sa = pd.DataFrame(base)
    sb = sa.copy()
    sb.loc[0, ["m_federal_land", "s_federal_land", "verdict"]] = [np.nan, np.nan, "incomplete"]
    sb.loc[1, ["m_protected_overlap", "m_protected_setback", "s_protected_setback", "verdict"]] = [0.0, 2500.0, 0.75, "review"]
    sb.loc[2, "verdict"] = "favorable"
    why = causes(rec, rec, sa, sb)
    assert why.criterion.tolist() == ["federal_land", "protected_overlap", ""]
    assert why.kind.tolist() == ["no data", "exclusion", ""]
    back = causes(rec, rec, sb, sa)  # the other way round: the data appears, the exclusion holds again
    assert back.criterion.tolist() == ["federal_land", "protected_overlap", ""]
    assert back.kind.tolist() == ["new data", "exclusion", ""]


def test_duplicate_site_ids_stop_the_diff(two_runs, tmp_path):
    a, _ = two_runs
    bad = tmp_path / "dup"
    shutil.copytree(a, bad)
    s = gpd.read_parquet(bad / "sites.parquet")
    pd.concat([s, s.iloc[[0]]]).to_parquet(bad / "sites.parquet")
    assert_error(run_cli(["diff", str(a), str(bad)]), [str(bad / "sites.parquet"), "site_id", "not unique"], 1)


def test_carrying_decisions_into_the_same_run_is_refused(two_runs):
    a, _ = two_runs
    assert_error(run_cli(["diff", str(a), str(a), "--carry-decisions"]), [str(a), "carry them to another run"], 1)
