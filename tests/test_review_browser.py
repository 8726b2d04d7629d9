"""The map popup shows a site's review decisions, in Python's words (record.decisions.decision_text),
and no other site's popup shows one; checked in headless Chromium with the network cut off."""

from __future__ import annotations

import pytest

import tinyworld as tw
from edgecases import run_cli
from test_browser import Offline
from sitescreen.record.decisions import read_decisions, with_decisions

pytestmark = pytest.mark.browser

READ = """id => { const S = sitescreen.sites; S.openSite(S.find(id), false);
    const open = document.querySelectorAll('.ss-popup .leaflet-popup-content');
    const d = open[open.length - 1].querySelector('.ss-decisions'); return d ? d.innerText : null; }"""


def test_popup_shows_the_sites_decisions(tmp_path, browser):
    import geopandas as gpd
    w = tw.build(tmp_path / "w")
    assert run_cli(["-q", *w.args()]).exit_code == 0
    for note in ("first look", "second <look>"):
        r = run_cli(["review", str(w.out), "1002", "--decision", "needs-data", "--note", note, "--by", "dana"])
        assert r.exit_code == 0, r.output
    assert run_cli(["map", str(w.out), "--offline", "-o", str(tmp_path / "map.html")]).exit_code == 0
    words = with_decisions(gpd.read_parquet(w.out / "sites.parquet"), w.out).set_index("site_id")["decisions"]
    assert len(read_decisions(w.out)) == 2
    o = Offline(browser)
    try:
        o.open_map(tmp_path / "map.html")
        shown = {s: o.js(READ, s) for s in ("1001", "1002", "1003")}
        assert not o.errors and not o.failed
    finally:
        o.context.close()
    assert shown["1002"] == "Review decisions:\n" + words["1002"]
    assert shown["1001"] is None and shown["1003"] is None


READ_STABILITY = """id => { const S = sitescreen.sites; S.openSite(S.find(id), false);
    const open = document.querySelectorAll('.ss-popup .leaflet-popup-content');
    const d = open[open.length - 1].querySelector('.ss-stability'); return d ? d.innerText : null; }"""


def test_popup_says_how_often_a_site_keeps_its_verdict(tmp_path, browser):
    """After `sitescreen sensitivity`, a rebuilt map's popup says "favorable in 87 % … of N sampled
    weightings", the same shares as sensitivity.parquet and the report's stability table; an excluded
    or incomplete site's popup says nothing of it."""
    import pandas as pd

    from sitescreen.record.manifest import read_record
    from sitescreen.rules.reviewwords import verdict_shares
    w = tw.build(tmp_path / "w")
    assert run_cli(["-q", *w.args()]).exit_code == 0
    r = run_cli(["sensitivity", str(w.out), "--samples", "400", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert run_cli(["map", str(w.out), "--offline", "-o", str(tmp_path / "map.html")]).exit_code == 0
    assert run_cli(["report", str(w.out), "--overwrite"]).exit_code == 0
    table = pd.read_parquet(w.out / "sensitivity.parquet").set_index("site_id")
    samples = read_record(w.out / "manifest.json").sensitivity.samples
    o = Offline(browser)
    try:
        o.open_map(tmp_path / "map.html")
        shown = {s: o.js(READ_STABILITY, s) for s in table.index}
        assert not o.errors and not o.failed
    finally:
        o.context.close()
    report = (w.out / "report.html").read_text(encoding="utf-8")
    scored = table["verdict"].isin(["favorable", "review", "unfavorable"])
    assert scored.any()
    for sid, row in table.iterrows():
        parts = verdict_shares(row)  # the shares, independently of the sentence
        if not scored[sid]:
            assert shown[sid] is None, sid
            continue
        expect = ", ".join(f"{v} in {pct}" for v, pct in parts) + f" of {samples:,} sampled weightings"
        assert shown[sid] == expect[0].upper() + expect[1:], sid
        for v, pct in parts:  # the report's stability table shows the same percentages
            assert f"{v.capitalize()} {pct}" in report
        assert abs(sum(float(p[:-2]) for _, p in parts) - 100) <= len(parts)  # the shares add up (rounded)
