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
