"""A profile that extends another (``extends = …``): tables laid over the base's, one hash over the
chain, clear errors; and the built-in federal-safeguards-water profile, which weights water stress
and road distance on top of the default rules (issue 11 item 12: a second built-in profile)."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import numpy as np
import pytest

from edgecases import run_cli
from sitescreen.errors import ProfileError
from sitescreen.outputs.reweight import profile_template
from sitescreen.record.manifest import read_record
from sitescreen.rules.profile import builtin_profiles, load_profile
from test_community_layers import COMMUNITY, write_world

BASE_TOML = """\
name = "office-base"
[verdicts]
favorable = 70
review = 40
[selections.parks]
roles = ["protected"]
any = [ { designation = ["national_park"] } ]
[criteria.setback]
label = "Distance to parks"
kind = "distance"
select = "parks"
search_radius_m = 20000
transform = { kind = "linear", points = [[0, 0.0], [5000, 1.0]] }
weight = 0.6
safeguard = "s"
source = "base source"
[criteria.federal]
label = "Federal share"
kind = "overlap"
role = "federal_land"
transform = { kind = "linear", points = [[0.0, 0.0], [1.0, 1.0]] }
weight = 0.4
safeguard = "s"
source = "s"
"""


def _write(folder, name, text):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_profile_states_only_what_it_changes(tmp_path):
    base = _write(tmp_path, "base.toml", BASE_TOML)
    child = _write(tmp_path, "office.toml", 'extends = "base.toml"\nname = "office"\n[verdicts]\nfavorable = 80\n'
                   '[criteria.setback]\nweight = 0.5\nsource = "office source"\n[criteria.federal]\nweight = 0.5\n')
    got, parent = load_profile(child), load_profile(base)
    assert got.name == "office" and (got.favorable, got.review) == (80, 40)
    assert {c.name: c.weight for c in got.criteria} == {"setback": 0.5, "federal": 0.5}
    g, p = (next(c for c in prof.criteria if c.name == "setback") for prof in (got, parent))
    assert g.source == "office source" and p.source == "base source"
    assert g.params == p.params and g.transform == p.transform  # untouched keys come from the base
    assert got.selections == parent.selections
    # one hash over the chain: this file's bytes, then the base's
    assert got.sha256 == hashlib.sha256(child.read_bytes() + base.read_bytes()).hexdigest()
    before = got.sha256
    base.write_text(BASE_TOML.replace("search_radius_m = 20000", "search_radius_m = 30000"), encoding="utf-8")
    assert load_profile(child).sha256 != before  # a change in the base is a change of the profile


def test_a_chain_of_two_and_a_name_from_the_file(tmp_path):
    _write(tmp_path, "base.toml", BASE_TOML)
    _write(tmp_path, "mid.toml", 'extends = "base.toml"\n[criteria.setback]\nsearch_radius_m = 8000\n')
    top = _write(tmp_path, "top.toml", 'extends = "mid.toml"\n[verdicts]\nreview = 30\n')
    got = load_profile(top)
    assert got.name == "top" and got.review == 30
    setback = next(c for c in got.criteria if c.name == "setback")
    assert setback.params["search_radius_m"] == 8000 and setback.weight == 0.6


@pytest.mark.parametrize("text, words", [
    ('extends = "nowhere.toml"\n', "extends = 'nowhere.toml': no built-in profile of that name and no file"),
    ("extends = 3\n", "extends must be a built-in profile name"),
    ('extends = ""\n', "extends must be a built-in profile name"),
    ('extends = "loop.toml"\n', "leads back to"),
])
def test_a_bad_extends_names_the_file_and_what_is_allowed(tmp_path, text, words):
    path = _write(tmp_path, "loop.toml", text)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(path) in str(err.value) and words in str(err.value)
    if "built-in" in words or "no built-in" in words:
        assert "federal-safeguards" in str(err.value)


def test_a_cycle_of_two_files_is_refused(tmp_path):
    _write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    _write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ProfileError, match="a profile cannot extend itself"):
        load_profile(tmp_path / "a.toml")


def test_the_water_profile_is_the_default_with_two_more_weights():
    water, default = load_profile("federal-safeguards-water"), load_profile("federal-safeguards")
    assert "federal-safeguards-water" in builtin_profiles()
    assert [c.name for c in water.criteria] == [c.name for c in default.criteria]
    assert sum(c.weight for c in water.criteria) == pytest.approx(1.0)
    weights = {c.name: c.weight for c in water.criteria}
    assert weights["water_stress"] > 0 and weights["road_distance"] > 0
    for w, d in zip(water.criteria, default.criteria):  # every rule but weights (and two sources) is the default's
        assert (w.kind, w.exclude, w.cap, w.roles, w.optional) == (d.kind, d.exclude, d.cap, d.roles, d.optional)
    assert water.selections == default.selections


@pytest.fixture(scope="module")
def water_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("water")
    write_world(d)
    (d / "run.toml").write_text(COMMUNITY, encoding="utf-8")
    res = run_cli(["screen", "--config", str(d / "run.toml"), "--profile", "federal-safeguards-water",
                   "--out", str(d / "out")])
    assert res.exit_code == 0, res.output
    return d / "out"


def test_water_stress_counts_in_the_score(water_run):
    sites = gpd.read_file(water_run / "sites.gpkg", layer="sites").set_index("site_id")
    manifest = json.loads((water_run / "manifest.json").read_text(encoding="utf-8"))
    eff = {c["name"]: c["effective_weight"] for c in manifest["criteria"] if c["effective_weight"]}
    assert eff["water_stress"] > 0 and eff["road_distance"] > 0
    assert sum(eff.values()) == pytest.approx(1.0)
    scored = sites[sites["verdict"].isin(["favorable", "review", "unfavorable"])]
    assert len(scored) >= 3
    expected = 100 * sum(scored[f"s_{n}"].to_numpy() * w for n, w in eff.items())
    np.testing.assert_allclose(scored["score"].to_numpy(), np.round(expected, 4), atol=1e-9)
    assert manifest["profile"]["name"] == "federal-safeguards-water"


def test_the_map_download_of_an_extended_profile_is_the_whole_profile(water_run):
    record = read_record(water_run / "manifest.json")
    names = [c.name for c in record.criteria if c.effective_weight > 0]
    text, why = profile_template(record, names)
    assert text is not None, why
    assert "extends" not in text and "[criteria.protected_overlap]" in text  # the base's rules, written out


def test_verify_checks_the_whole_chain(tmp_path):
    """verify passes on a run with an extended profile, and names the profile when its base changes."""
    write_world(tmp_path)
    _write(tmp_path, "run.toml", COMMUNITY)
    base = _write(tmp_path, "mine-base.toml", (builtin_profiles()["federal-safeguards"]).read_text(encoding="utf-8"))
    mine = _write(tmp_path, "mine.toml", 'extends = "mine-base.toml"\nname = "mine"\n[verdicts]\nfavorable = 75\n')
    res = run_cli(["screen", "--config", str(tmp_path / "run.toml"), "--profile", str(mine), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    ok = run_cli(["verify", str(tmp_path / "out")])
    assert ok.exit_code == 0, ok.output
    base.write_text(base.read_text(encoding="utf-8").replace("favorable = 70", "favorable = 71"), encoding="utf-8")
    bad = run_cli(["verify", str(tmp_path / "out")])
    assert bad.exit_code != 0 and "mine.toml" in bad.output and "profile file has changed" in bad.output, bad.output
