"""Verdict caps in the map's live re-weighting, in a real browser with the network cut off: the
browser's verdicts under random weights and thresholds equal Python's scoring of the same
profile, caps included (sites on, near tribal land or in a disadvantaged tract stay `review`)."""

from __future__ import annotations

import numpy as np
import pytest

from edgecases import run_cli
from test_browser import Offline
from test_browser_reweight import assert_same, browser_result, python_rescore
from test_community_layers import COMMUNITY, write_world
from sitescreen.outputs import reweight
from sitescreen.outputs.files import read_results
from sitescreen.outputs.mapping import render_map
from sitescreen.record.manifest import as_record

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def capped_map(tmp_path_factory):
    d = tmp_path_factory.mktemp("caps_map")
    write_world(d)
    (d / "run.toml").write_text(COMMUNITY, encoding="utf-8")
    res = run_cli(["screen", "--config", str(d / "run.toml"), "--out", str(d / "out"), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    sites, manifest = read_results(d / "out")
    record = as_record(manifest)
    path = d / "map.html"
    path.write_text(render_map(sites, [], record, self_contained=True, basemap="none"), encoding="utf-8")
    return sites, record, reweight.reweight_data(sites, record), path


def test_js_applies_caps_as_python_does(browser, capped_map):
    sites, record, data, path = capped_map
    assert "cap" in data
    o = Offline(browser)
    o.open_map(path)
    o.page.wait_for_function("window.sitescreen && sitescreen.reweight", timeout=10_000)
    names = [c["name"] for c in data["criteria"]]
    rng = np.random.default_rng(7)
    for _ in range(6):
        w = rng.dirichlet(np.ones(len(names))).tolist()
        fav = float(rng.uniform(30, 95))
        rev = float(rng.uniform(0, fav - 1))
        got = browser_result(o.js("a => sitescreen.reweight.score(a[0], a[1], a[2])", [w, fav, rev]))
        want = python_rescore(sites, record, reweight.fill(data["toml"], dict(zip(names, w)), fav, rev))
        assert_same(got, want)
        assert (got.loc[["ON", "NEAR", "TRACT"], "verdict"] == "review").all()
        assert (got.loc[["FAR", "SPLIT"], "verdict"] == "favorable").all()
    assert not o.errors and not o.failed
    o.close()
