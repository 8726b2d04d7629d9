"""Live re-weighting in the offline map (issue 12 item 4), in a real browser with the network cut off.

The browser's scores and verdicts are checked against Python's own scoring
(:func:`sitescreen.rules.scoring.score` with a profile carrying the same weights and thresholds),
and the downloaded TOML is screened again through the CLI.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fixtures_results import demo_out, make_manifest, make_sites  # noqa: F401 (demo_out: a fixture)
from test_browser import Offline
from sitescreen.cli import main
from sitescreen.outputs import reweight
from sitescreen.outputs.files import read_results
from sitescreen.outputs.mapping import render_map
from sitescreen.record.manifest import as_record
from sitescreen.rules.measurement import Measurement
from sitescreen.rules.profile import profile_from_dict
from sitescreen.rules.scoring import score

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_map(demo_out, tmp_path_factory):
    """The demo run's sites, record and re-weighting data, and its offline map."""
    sites, manifest = read_results(demo_out)
    record = as_record(manifest)
    path = tmp_path_factory.mktemp("rw") / "map.html"
    path.write_text(render_map(sites, [], record, self_contained=True, basemap="none"), encoding="utf-8")
    return sites, record, reweight.reweight_data(sites, record), path


@pytest.fixture
def page(browser, demo_map):
    o = Offline(browser)
    o.open_map(demo_map[3])
    o.page.wait_for_function("window.sitescreen && sitescreen.reweight", timeout=10_000)
    yield o
    assert not o.errors and not o.failed
    o.close()


def python_rescore(sites: pd.DataFrame, record, toml_text: str) -> pd.DataFrame:
    """Python's scoring of the run's measurements under the profile ``toml_text``, by site id."""
    profile = profile_from_dict(tomllib.loads(toml_text), "reweighted.toml")
    nan = np.full(len(sites), np.nan)
    measures = {c.name: Measurement(values=sites[c.measure_column].to_numpy() if c.measure_column in sites else nan,
                                    evaluated=c.evaluated) for c in record.criteria}
    return score(pd.DataFrame(sites[["site_id", "name"]]), profile, measures).set_index("site_id")[["verdict", "score"]]


def browser_result(js: dict) -> pd.DataFrame:
    return pd.DataFrame({"verdict": js["verdict"], "score": js["score"]}, index=pd.Index(js["id"], name="site_id"))


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.loc[want.index]
    assert (got["verdict"].to_numpy() == want["verdict"].to_numpy()).all(), \
        (got["verdict"] != want["verdict"]).sum()
    # bit-identical scores (NaN for incomplete sites)
    np.testing.assert_array_equal(got["score"].to_numpy(dtype=float), want["score"].to_numpy(dtype=float))


def test_js_scoring_equals_python_for_random_weights_on_every_site(page, demo_map):
    sites, record, data, _ = demo_map
    names = [c["name"] for c in data["criteria"]]
    assert len(names) >= 2 and data["toml"], data["note"]
    rng = np.random.default_rng(12)
    scored = sites.loc[~sites["verdict"].isin(["excluded", "incomplete"]), "score"].to_numpy()
    for k in range(12):
        w = rng.dirichlet(np.ones(len(names)) * 0.7).tolist()
        fav = float(np.median(scored)) if k == 0 else float(rng.uniform(30, 95))  # k = 0: a threshold on a score
        rev = float(rng.uniform(0, fav - 1))
        got = browser_result(page.js("a => sitescreen.reweight.score(a[0], a[1], a[2])", [w, fav, rev]))
        want = python_rescore(sites, record, reweight.fill(data["toml"], dict(zip(names, w)), fav, rev))
        assert_same(got, want)


def test_sliders_recolour_the_map_and_the_downloaded_profile_screens_the_same(page, demo_map, demo_out, tmp_path):
    sites, record, data, _ = demo_map
    first = data["criteria"][0]["name"]
    page.page.click(".ss-rw-toggle")
    page.page.locator(f"input[name='w-{first}']").fill("0.7")
    page.page.locator("input[name='t-favorable']").fill("55")
    page.page.locator("input[name='t-review']").fill("35.5")
    page.page.wait_for_function("!sitescreen.reweight.pending")
    state = page.js("() => { const M = sitescreen.reweight.model; return [M.w, M.favorable, M.review]; }")
    assert state[0][0] == 0.7 and abs(sum(state[0]) - 1) < 1e-12 and state[1:] == [55, 35.5]
    shown = browser_result(page.js("""() => { const S = sitescreen.sites, R = sitescreen.reweight;
        return { id: S.D.id, verdict: Array.from(S.D.verdict, c => S.meta.verdicts[c].key),
                 score: R.score(R.model.w, R.model.favorable, R.model.review).score }; }"""))
    assert page.js("() => sitescreen.reweight.changed") == (shown["verdict"] != sites.set_index("site_id")["verdict"].loc[shown.index]).sum() > 0
    with page.page.expect_download() as dl:
        page.page.click(".ss-rw-download")
    toml_path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(toml_path)
    text = toml_path.read_text(encoding="utf-8")
    assert_same(shown, python_rescore(sites, record, text))
    res = CliRunner().invoke(main, ["-q", "screen", "--config", str(demo_out.parent / "data" / "sitescreen.toml"),
                                    "--profile", str(toml_path), "-o", str(tmp_path / "again"), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    again = pd.read_parquet(tmp_path / "again" / "sites.parquet").set_index("site_id")[["verdict", "score"]]
    assert sorted(again.index) == sorted(shown.index)
    assert_same(shown, again)
    page.shot("reweight-demo.png")


def test_update_of_100k_sites_is_fast(browser, tmp_path):
    sites = make_sites(100_000)
    path = tmp_path / "map100k.html"
    path.write_text(render_map(sites, [], make_manifest(sites), self_contained=True, basemap="none"), encoding="utf-8")
    o = Offline(browser)
    try:
        o.open_map(path)
        o.page.wait_for_function("window.sitescreen && sitescreen.reweight", timeout=10_000)
        ms = o.js("""() => { const R = sitescreen.reweight, M = R.model, t = [];
            for (let k = 0; k < 5; k++) { M.setWeight(0, 0.2 + 0.1 * k); M.setThreshold('favorable', 50 + k); t.push(R.apply()); }
            return t; }""")
        o.page.wait_for_function("!sitescreen.reweight.pending")
        assert o.js("() => sitescreen.reweight.changed") > 0
        assert o.js("() => document.querySelector('.ss-rw-download').disabled")  # the fixture's profile file does not exist
        draw = o.js("() => sitescreen.reweight.drawMs")
        print(f"re-weighting 100,000 sites: {', '.join(f'{t:.0f}' for t in ms)} ms per update (rescore + verdicts); "
              f"redrawing the visible tiles: {draw:.0f} ms")
        assert sorted(ms)[2] < 1000  # the target is 200 ms; loose for a shared CI machine
        assert not o.errors and not o.failed
    finally:
        o.close()


def test_a_threshold_change_recolours_the_tiles_in_place(page, demo_map):
    """New verdicts repaint the tile canvases the map already has (no tile rebuilt), and what is on
    the screen follows: a lone review or unfavorable site's dot turns the favorable colour when the
    favorable threshold drops to 0.5 (every scored site is favorable then)."""
    from test_browser_map import PIXEL, hex_rgb
    from sitescreen.rules.verdicts import COLORS
    o = page
    o.js("""() => new Promise(done => { const S = sitescreen.sites, map = S.map, z = Math.min(map.getZoom(), S.meta.zf - 1);
        if (map.getZoom() === z) return requestAnimationFrame(() => done());
        S.layer.once('load', () => requestAnimationFrame(() => done())); map.setZoom(z, {animate: false}); })""")
    lone = o.js("""() => { const S = sitescreen.sites, map = S.map, D = S.D, size = map.getSize();
        const pts = [...Array(D.n).keys()].map(i => map.latLngToContainerPoint(S.latLng(i)));
        if (S.layer.footprints(map.getZoom())) return null;
        return [...Array(D.n).keys()].filter(i => pts[i].x > 20 && pts[i].y > 20 && pts[i].x < size.x - 20 && pts[i].y < size.y - 20
            && pts.every((p, j) => j === i || Math.hypot(p.x - pts[i].x, p.y - pts[i].y) > 18))
          .map(i => [i, S.meta.verdicts[D.verdict[i]].key, pts[i].x, pts[i].y]); }""")
    assert lone is not None  # dots, not footprints, at this zoom
    moving = [s for s in lone if s[1] in ("review", "unfavorable")]
    assert moving, lone
    o.js("() => { window._tiles = [...sitescreen.map.getPane('ssSites').querySelectorAll('canvas')]; }")

    def close_to(rgba, color):
        return rgba and rgba[3] > 200 and max(abs(a - b) for a, b in zip(rgba, hex_rgb(color))) < 40
    for _, verdict, x, y in moving:
        assert close_to(o.js(PIXEL, [x, y]), COLORS[verdict]), (verdict, x, y)
    o.page.click(".ss-rw-toggle")
    o.page.locator("input[name='t-favorable']").fill("0.5")
    o.page.wait_for_function("!sitescreen.reweight.pending")
    assert o.js("() => [sitescreen.reweight.model.favorable, sitescreen.reweight.model.review]") == [0.5, 0]
    assert o.js("() => { const now = [...sitescreen.map.getPane('ssSites').querySelectorAll('canvas')];"
                " return now.length === _tiles.length && now.every(c => _tiles.includes(c)); }")
    for _, verdict, x, y in moving:
        assert close_to(o.js(PIXEL, [x, y]), COLORS["favorable"]), (verdict, x, y)
