"""The map's re-weighting payload and the profile it downloads (outputs/reweight.py, rules/profilefile.py)."""

from __future__ import annotations

import base64
import hashlib
import tomllib

import numpy as np
import pytest

from fixtures_results import *  # noqa: F403
from fixtures_results import make_manifest, make_sites
from test_mapping import decode_uvarints  # the payload's varints, decoded as the map does
from sitescreen.outputs import reweight
from sitescreen.record.manifest import as_record
from sitescreen.rules.profile import builtin_profiles, load_profile, profile_from_dict
from sitescreen.rules.profilefile import Token, profile_toml, toml_text


def _decode(col: dict, n: int) -> np.ndarray:
    if "f64" in col:
        return np.frombuffer(base64.b64decode(col["f64"]), dtype="<f8")
    idx = np.array(decode_uvarints(col["idx"]))
    vals = np.array([np.nan] + col["dict"])
    return vals[idx]


@pytest.mark.parametrize("values", [
    np.r_[np.linspace(0, 1, 50), np.nan, 0.1 + 0.2],               # distinct: float64 bytes
    np.r_[np.repeat([0.0, 1.0, 0.3, 1 / 3], 30), [np.nan] * 5],     # repeating: dictionary
])
def test_exact_column_decodes_to_the_same_doubles(values):
    col = reweight.exact_column(values)
    assert ("dict" in col) == (len(np.unique(values)) * 4 < len(values))
    back = _decode(col, len(values))
    assert back.tobytes() == np.asarray(values, dtype="<f8").tobytes()  # bit for bit, NaN where missing


def test_builtin_profile_round_trips_through_toml_text():
    for path in builtin_profiles().values():
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        back = tomllib.loads(toml_text(data))
        assert back == data
        assert list(back["criteria"]) == list(data["criteria"])  # the order the score sums in


def test_awkward_values_round_trip_and_tokens_are_the_only_nul():
    data = {"name": 'quote " back \\ nul \x00 tab \t new\nline é', "description": "\x7f\x01",
            "verdicts": {"favorable": 70, "review": 40.5},
            "criteria": {"a": {"kind": "attribute", "weight": 0.1 + 0.2, "big": 1e300, "tiny": 5e-324,
                               "transform": {"kind": "categorical", "table": {"17040201": 1.0, "x y": 0.5}},
                               "exclude": {"in": ["a", "b"]}, "flag": True}},
            "odd key.with dots": {"k": [1, [2, 3], {"inner": "v"}]}}
    text = toml_text(data)
    assert "\x00" not in text
    assert tomllib.loads(text) == data
    tpl = profile_toml(data, {"a": Token("w:a")}, Token("favorable"), Token("review"))
    assert tpl.count("\x00") == 6  # three tokens, framed
    filled = reweight.fill(tpl, {"a": 0.7}, 65.5, 30)
    parsed = tomllib.loads(filled)
    assert parsed["criteria"]["a"]["weight"] == 0.7 and parsed["verdicts"] == {"favorable": 65.5, "review": 30.0}
    assert parsed["name"] == data["name"] and parsed["criteria"]["a"]["transform"] == data["criteria"]["a"]["transform"]


def _record(profile_path, sha):
    prof = load_profile(profile_path)
    crit = [{"name": c.name, "label": c.label, "kind": c.kind, "unit": c.unit, "roles": list(c.roles),
             "measure_column": c.measure_column, "score_column": c.score_column if c.scored else None,
             "weight": c.weight, "transform": c.transform, "exclusion": c.exclude_text(),
             "safeguard": c.safeguard, "source": c.source, "evaluated": c.name != "steep_terrain", "note": ""}
            for c in prof.criteria]
    manifest = make_manifest(make_sites())
    manifest["profile"] = {"name": prof.name, "path": str(profile_path), "sha256": sha,
                           "verdicts": {"favorable": prof.favorable, "review": prof.review}}
    manifest["criteria"] = crit
    return as_record(manifest), prof


@pytest.fixture
def profile_copy(tmp_path):
    src = builtin_profiles()["federal-safeguards"]
    dst = tmp_path / "mine.toml"
    dst.write_bytes(src.read_bytes())
    return dst


def test_template_reproduces_weights_and_keeps_every_other_rule(profile_copy):
    rec, prof = _record(profile_copy, hashlib.sha256(profile_copy.read_bytes()).hexdigest())
    names = [c.name for c in reweight.weighted(rec)]
    assert "steep_terrain" not in names  # weighted in the profile, not evaluated in this run
    text, note = reweight.profile_template(rec, names)
    assert note == "" and text is not None
    new = dict(zip(names, np.random.default_rng(3).dirichlet(np.ones(len(names)))))
    back = profile_from_dict(tomllib.loads(reweight.fill(text, new, 62.5, 31)), "x.toml")
    assert {c.name: c.weight for c in back.criteria} == {c.name: new.get(c.name, 0.0) for c in prof.criteria}
    assert (back.favorable, back.review) == (62.5, 31.0)
    for old, c in zip(prof.criteria, back.criteria):  # every other rule as it was
        assert (c.name, c.kind, c.roles, c.transform, c.exclude, c.params, c.safeguard, c.source, c.optional) == \
               (old.name, old.kind, old.roles, old.transform, old.exclude, old.params, old.safeguard, old.source, old.optional)
    assert back.selections == prof.selections


def test_no_download_when_the_profile_file_changed_or_is_gone(profile_copy):
    rec, _ = _record(profile_copy, hashlib.sha256(profile_copy.read_bytes()).hexdigest())
    names = [c.name for c in reweight.weighted(rec)]
    profile_copy.write_text(profile_copy.read_text() + "\n# edited\n")
    text, note = reweight.profile_template(rec, names)
    assert text is None and "has changed since the run" in note and str(profile_copy) in note
    profile_copy.unlink()
    text, note = reweight.profile_template(rec, names)
    assert text is None and "cannot be read" in note


def test_no_reweighting_without_a_record_or_suitabilities(result_sites, result_manifest):
    assert reweight.reweight_data(result_sites, None) is None
    assert reweight.reweight_data(result_sites.drop(columns=["s_huc"]), as_record(result_manifest)) is None
    data = reweight.reweight_data(result_sites, as_record(result_manifest))
    assert [c["name"] for c in data["criteria"]] == ["park_distance", "stream_count", "huc"]
    assert data["toml"] is None and "cannot be read" in data["note"]  # the fixture's profile path does not exist
