"""Live re-weighting in the review report (issue 12 item 4), in a real browser with the network cut off.

The report's panel is the map's (same assets, same data): after moving a weight and a threshold,
every verdict, score, rank, count, verdict meaning, effective weight and points the page shows must
be what Python's rescoring gives (:func:`test_browser_reweight.python_rescore`) and what the report
of the re-screening with the downloaded profile shows, text for text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fixtures_results import demo_out  # noqa: F401 (a fixture)
from test_browser import Offline
from test_browser_reweight import python_rescore
from sitescreen.cli import main
from sitescreen.outputs.files import read_results
from sitescreen.outputs.report import build_report
from sitescreen.record.manifest import as_record
from sitescreen.rules.verdicts import LABELS
from sitescreen.rules.wording import score_text

pytestmark = pytest.mark.browser

#: What the report shows for every site it lists, read from the page (``inView``: only the rows and cards on screen).
READ = """(inView) => {
  const keep = e => { if (!inView) return true; const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; };
  return {
  ranked: [...document.querySelectorAll('#ranking table.ranked tbody tr')].filter(keep).map(tr =>
    [tr.cells[0].textContent, tr.cells[1].textContent, tr.cells[3].textContent, tr.cells[4].textContent]),
  cards: [...document.querySelectorAll('#sites article.site')].filter(keep).map(a => [a.querySelector('header h3 .muted').textContent,
    a.querySelector('header .badge').textContent, a.querySelector('header .score').textContent,
    [...a.querySelectorAll('table.crit tbody tr')].map(tr => [tr.cells[0].textContent, tr.cells[3].textContent, tr.cells[4].textContent])]),
  counts: [...document.querySelectorAll('#summary .cards .card')].map(c =>
    [c.querySelector('.num').textContent, c.querySelector('.muted').textContent]),
}; }"""
#: Scroll (no animation) and resolve two frames later, once the scroll event has run.
SCROLL = """(where) => new Promise(done => {
  const rows = document.querySelectorAll('#ranking table.ranked tbody tr'), cards = document.querySelectorAll('#sites article.site');
  (where === 'middle row' ? rows[rows.length >> 1] : cards[cards.length - 1]).scrollIntoView({block: 'center'});
  requestAnimationFrame(() => requestAnimationFrame(done)); })"""


@pytest.fixture(scope="module")
def demo_report(demo_out, tmp_path_factory):
    sites, manifest = read_results(demo_out)
    path = tmp_path_factory.mktemp("rwr") / "report.html"
    path.write_text(build_report(sites, manifest), encoding="utf-8")
    return sites, as_record(manifest), path


def open_report(browser, path) -> Offline:
    o = Offline(browser)
    o.page.goto(path.as_uri(), wait_until="load")
    o.page.wait_for_function("window.sitescreen && sitescreen.reweight", timeout=10_000)
    return o


def test_report_sliders_recompute_every_verdict_and_score_and_the_profile_screens_the_same(browser, demo_report, demo_out, tmp_path):
    sites, record, path = demo_report
    o = open_report(browser, path)
    try:
        before = o.js(READ, False)
        first = o.js("() => sitescreen.reweight.model.R.criteria[0].name")
        o.js("() => { sitescreen.reweight.idleMs = Infinity; }")  # no settling: only what is near the viewport follows
        o.page.click(".ss-rw-toggle")
        o.page.locator(f"input[name='w-{first}']").fill("0.7")
        o.page.locator("input[name='t-favorable']").fill("55")
        o.page.locator("input[name='t-review']").fill("35.5")
        o.page.wait_for_function("!sitescreen.reweight.pending")
        assert o.js("() => sitescreen.reweight.changed") > 0
        top = o.js(READ, True)
        o.js(SCROLL, "middle row")  # rows and cards far from the first screen: brought up to date as they come near
        middle = o.js(READ, True)
        o.js(SCROLL, "last card")
        last = o.js(READ, True)
        stale = o.js("() => sitescreen.reweight.stale()")
        assert 0 < stale < len(sites) + o.js("() => sitescreen.reweight.model.R.cards.length")  # the rest still waits
        o.page.pdf(format="Letter")  # printing: every row and card follows the move first (beforeprint)
        assert o.js("() => sitescreen.reweight.stale()") == 0
        after = o.js(READ, False)
        assert o.js("() => !document.querySelector('.ss-rw-banner').hidden")
        assert o.js("() => document.querySelector('#charts').classList.contains('ss-rw-stale')")
        o.shot("reweight-report-moved.png")
        with o.page.expect_download() as dl:
            o.page.click(".ss-rw-download")
        toml_path = tmp_path / dl.value.suggested_filename
        dl.value.save_as(toml_path)
        o.page.emulate_media(media="print")  # printing: the panel hidden, the what-if banner kept
        assert o.js("() => getComputedStyle(document.querySelector('.ss-reweight')).display") == "none"
        assert o.js("() => getComputedStyle(document.querySelector('.ss-rw-banner')).display") != "none"
        o.page.emulate_media(media="screen")
        o.js("() => { sitescreen.reweight.idleMs = 0; }")  # settling: the rest follows once the sliders rest
        o.page.click(".ss-rw-reset")
        o.page.wait_for_function("!sitescreen.reweight.pending && sitescreen.reweight.stale() === 0")
        assert o.js(READ, False) == before  # Reset: the page as Python wrote it, text for text
        assert o.js("() => document.querySelector('.ss-rw-banner').hidden")
        assert not o.errors and not o.failed
    finally:
        o.close()
    # every site the page lists: Python's rescoring with the downloaded numbers
    want = python_rescore(sites, record, toml_path.read_text(encoding="utf-8"))
    assert len(after["ranked"]) == len(sites)
    for _, sid, verdict, score in after["ranked"]:
        assert (verdict, score) == (LABELS[want.loc[sid, "verdict"]], score_text(want.loc[sid, "score"])), sid
    assert before != after
    # what came into view when scrolled is what the whole page shows once printed: nothing left behind
    assert middle["ranked"] and last["cards"]
    assert not {r[1] for r in middle["ranked"]} & {r[1] for r in top["ranked"]}  # not on the first screen
    assert all(r in after["ranked"] for r in middle["ranked"]) and all(c in after["cards"] for c in last["cards"])
    assert middle["counts"] == top["counts"] == after["counts"]  # the counts are of every site from the first frame
    # ... and, text for text, the report of the run screened again with that profile
    res = CliRunner().invoke(main, ["-q", "screen", "--config", str(demo_out.parent / "data" / "sitescreen.toml"),
                                    "--profile", str(toml_path), "-o", str(tmp_path / "again"), "--no-map"])
    assert res.exit_code == 0, res.output
    again = pd.read_parquet(tmp_path / "again" / "sites.parquet").set_index("site_id")
    np.testing.assert_array_equal(again.loc[want.index, "score"].to_numpy(float), want["score"].to_numpy(float))
    assert (again.loc[want.index, "verdict"] == want["verdict"]).all()
    o = Offline(browser)
    try:
        o.page.goto((tmp_path / "again" / "report.html").as_uri(), wait_until="load")
        rescreened = o.js(READ, False)
    finally:
        o.close()
    assert after["ranked"] == rescreened["ranked"]  # ranks, ids, verdicts, scores, in the re-screened order
    assert after["counts"] == rescreened["counts"]  # counts and the verdicts' meanings with the new thresholds
    cards = {c[0]: c[1:] for c in rescreened["cards"]}
    shared = [c for c in after["cards"] if c[0] in cards]
    assert len(shared) >= len(after["cards"]) * 0.8
    for c in shared:
        assert c[1:] == cards[c[0]], c[0]  # verdict, score, and per criterion the effective weight and points


def test_the_pages_numbers_are_worded_as_python_words_them(browser, demo_report):
    """The panel's words for the numbers it computes (scores, points, effective weights) equal
    rules/wording.py's for awkward values: exact binary ties (half to even), near-ties, tiny, 100."""
    from sitescreen.rules.wording import points_text, weight_text
    rng = np.random.default_rng(4)
    points = [0.125, 0.375, 0.625, 2.675, 1.005, 12.345, 0.005, 0.015, 99.995, 100.0, 0.0, 1e-9, 33.33333333333333]
    points += list(rng.uniform(0, 100, 200)) + list(np.round(rng.uniform(0, 100, 200), 3))
    scores = [72.25, 72.35, 0.05, 0.15, 99.95, 100.0, 0.0] + list(np.round(rng.uniform(0, 100, 200), 4))
    weights = [0.5, 0.25, 1 / 3, 0.123456, 0.0012345, 0.999, 1e-4] + list(rng.dirichlet(np.ones(4), 50).ravel())
    o = open_report(browser, demo_report[2])
    try:
        got = o.js("""([p, s, w]) => { const W = sitescreen.reweightWords;
            return [p.map(W.points), s.map(W.score), w.map(W.weight)]; }""", [points, scores, weights])
    finally:
        o.close()
    assert got[0] == [points_text(p) for p in points]
    assert got[1] == [score_text(s) for s in scores]
    assert got[2] == [weight_text(w) for w in weights]
