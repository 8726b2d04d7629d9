"""Issue 13 item 5 in a real browser with the network cut off: a map of ~20,000 sites shows hexagons
coloured by verdict mix (counts on hover) at low zoom and the sites themselves when zoomed in."""

from __future__ import annotations

import base64
import gzip
import re

import numpy as np
import pytest

from fixtures_results import make_manifest, make_sites
from test_browser import Offline
from test_map_reasons import numbered_reasons
from sitescreen.outputs import maphexes, packing
from sitescreen.outputs.mapping import render_map
from sitescreen.rules.verdicts import VERDICTS

pytestmark = pytest.mark.browser

PAINTED = """pane => { let n = 0;
  document.querySelectorAll('.leaflet-' + pane + '-pane canvas').forEach(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) n += d[i] > 0; });
  return n; }"""


@pytest.fixture(scope="module")
def big_map(tmp_path_factory):
    sites = make_sites(20_000)
    sites["reasons"] = numbered_reasons(len(sites))  # distinct texts: the payload sends templates
    path = tmp_path_factory.mktemp("hexmap") / "map.html"
    path.write_text(render_map(sites, [], make_manifest(sites), basemap="none"), encoding="utf-8")
    return path, sites


@pytest.fixture()
def page(browser, big_map):
    o = Offline(browser)
    o.open_map(big_map[0])
    o.page.wait_for_function("sitescreen.hexes && sitescreen.hexes.ready === true", timeout=30_000)
    yield o
    o.close()


def test_low_zoom_shows_hexagons_with_counts_not_sites(page, big_map):
    _, sites = big_map
    o = page
    zs = o.js("sitescreen.hexes.zs")
    assert o.js("sitescreen.map.getZoom()") < zs
    assert o.js("sitescreen.sites.drawnCount()") == 0 and o.js(PAINTED, "ssSites") == 0
    assert o.js(PAINTED, "ssHexes") > 1000
    # the busiest hexagon of this zoom: its tooltip gives its count and verdict mix
    h, centre, counts = o.js("""() => { const H = sitescreen.hexes, lv = H.level(sitescreen.map.getZoom()), nv = H.nv;
        let best = 0, bt = -1;
        for (let h = 0; h < lv.n; h++) { let t = 0; for (let v = 0; v < nv; v++) t += lv.counts[h * nv + v]; if (t > bt) { bt = t; best = h; } }
        const p = sitescreen.map.latLngToContainerPoint(L.CRS.EPSG3857.unproject(L.point(lv.cx[best], lv.cy[best])));
        return [best, [p.x, p.y], Array.from(lv.counts.slice(best * nv, best * nv + nv))]; }""")
    box = o.page.locator(".leaflet-container").bounding_box()
    o.page.mouse.move(box["x"] + centre[0], box["y"] + centre[1])
    tip = o.page.locator(".ss-hex-tip")
    tip.wait_for(timeout=5_000)
    text = tip.inner_text()
    assert f"{sum(counts):,} sites" in text
    labels = o.js("sitescreen.sites.meta.verdicts.map(v => v.label)")
    for label, c in zip(labels, counts):
        assert (f"{label} {c:,}" in text) == (c > 0)
    # every zoom's hexagons hold all the sites, by verdict
    totals = o.js("""() => sitescreen.hexes.levels.map(lv => { const t = new Array(sitescreen.hexes.nv).fill(0);
        for (let i = 0; i < lv.counts.length; i++) t[i % t.length] += lv.counts[i]; return t; })""")
    expected = [int((sites["verdict"] == v).sum()) for v in VERDICTS]
    assert all(t == expected for t in totals)
    o.shot("map-hexes-low-zoom.png")
    assert not o.errors


def test_zoomed_in_shows_sites_not_hexagons(page):
    o = page
    zs = o.js("sitescreen.hexes.zs")
    o.js("""z => new Promise(done => { const S = sitescreen.sites;
        S.layer.once('load', () => requestAnimationFrame(() => done()));
        sitescreen.map.setView(S.latLng(0), z, { animate: false }); })""", zs)
    assert o.js("sitescreen.map.getZoom()") == zs
    assert o.js("sitescreen.sites.drawnCount()") > 0 and o.js(PAINTED, "ssSites") > 0
    assert o.js(PAINTED, "ssHexes") == 0
    x, y = o.site_point(0)
    o.page.mouse.move(x, y)
    o.page.locator(".ss-tip").first.wait_for(timeout=5_000)
    assert o.page.locator(".ss-hex-tip").count() == 0
    o.shot("map-hexes-zoomed-in.png")
    assert not o.errors


def test_hexagons_recount_when_verdicts_change(page, big_map):
    _, sites = big_map
    o = page
    k = VERDICTS.index("excluded")
    o.js("""k => { const S = sitescreen.sites, v = new Uint8Array(S.D.n).fill(k);
        S.restyle(v, S.D.score.slice()); }""", k)
    totals = o.js("""() => sitescreen.hexes.levels.map(lv => { const t = new Array(sitescreen.hexes.nv).fill(0);
        for (let i = 0; i < lv.counts.length; i++) t[i % t.length] += lv.counts[i]; return t; })""")
    assert all(t == [len(sites) if i == k else 0 for i in range(len(VERDICTS))] for t in totals)
    assert not o.errors


def test_the_map_is_big_enough_for_hexagons(big_map):
    """The fixture is a map with hexagons: more than TILE_SITES sites in one tile at the lowest zoom."""
    _, sites = big_map
    assert len(sites) > maphexes.TILE_SITES and np.ptp(sites.total_bounds[[0, 2]]) < 200_000


def unpacked(html: str) -> str:
    """The page with its packed data elements (sitescreen.outputs.packing) as the JSON they hold."""
    return re.sub(f'(<script type="{packing.PACKED_TYPE}"[^>]*>)([^<]*)',
                  lambda m: m.group(1) + gzip.decompress(base64.b64decode(m.group(2))).decode("utf-8"), html)


def test_reasons_sent_as_templates_read_back_unchanged(page, big_map):
    path, sites = big_map
    o = page
    html = path.read_text(encoding="utf-8")
    assert f'type="{packing.PACKED_TYPE}"' in html  # the big map's sites are packed
    assert '"rs":{"tpl":' in unpacked(html)
    rows = [0, 1, 2, 777, len(sites) - 1]
    got = o.js("""ids => ids.map(id => { const S = sitescreen.sites; return S.D.reasons(S.find(id)).join('; '); })""",
               [sites["site_id"].iloc[i] for i in rows])
    assert got == [sites["reasons"].iloc[i] for i in rows]
    assert not o.errors


def test_hexagons_follow_a_weight_slider(page):
    """Re-weighting (sitescreen-reweight.js) repaints the hexagons with the sites' new verdicts."""
    o = page
    assert o.js("!!document.querySelector('input[name^=\"w-\"]')")
    before = o.js("Array.from(sitescreen.hexes.levels[0].counts)")
    o.js("""() => new Promise(done => { const R = sitescreen.reweight, input = document.querySelector("input[name^='w-']");
        R.onPainted = () => { R.onPainted = null; done(); };
        input.value = String(Number(input.value) > 0.5 ? 0 : 1);
        input.dispatchEvent(new Event('input', { bubbles: true })); })""")
    per_verdict, totals = o.js("""() => { const H = sitescreen.hexes, D = sitescreen.sites.D, t = new Array(H.nv).fill(0);
        for (let i = 0; i < D.n; i++) t[D.verdict[i]] += 1;
        return [t, H.levels.map(lv => { const s = new Array(H.nv).fill(0);
            for (let i = 0; i < lv.counts.length; i++) s[i % H.nv] += lv.counts[i]; return s; })]; }""")
    assert all(t == per_verdict for t in totals)
    assert o.js("Array.from(sitescreen.hexes.levels[0].counts)") != before  # the slider changed some verdicts
    assert not o.errors


def test_a_site_found_by_search_is_shown_at_the_site_zoom(page, big_map):
    _, sites = big_map
    o = page
    zs = o.js("sitescreen.hexes.zs")
    box = o.page.locator("input[type=search]")
    box.fill(sites["site_id"].iloc[123])
    o.page.keyboard.press("Enter")
    i = o.js("id => sitescreen.sites.find(id)", sites["site_id"].iloc[123])
    o.page.wait_for_function("i => sitescreen.sites.openIndex === i", arg=i, timeout=10_000)
    assert o.js("sitescreen.map.getZoom()") >= zs
    assert o.js("!!sitescreen.map._popup && sitescreen.map.hasLayer(sitescreen.map._popup)")
    assert not o.errors


def test_names_sent_as_the_ids_read_as_the_ids(browser, tmp_path):
    sites = make_sites(10).iloc[:-1]  # circles only: one radius, sent once
    sites = sites.assign(name=sites["site_id"], record_ids=sites["site_id"])
    path = tmp_path / "same.html"
    path.write_text(render_map(sites, [], make_manifest(sites), basemap="none"), encoding="utf-8")
    assert '"name":"id"' in path.read_text(encoding="utf-8") and '"fpr":10000,' in path.read_text(encoding="utf-8")
    o = Offline(browser)
    try:
        o.open_map(path)
        i = o.js("id => sitescreen.sites.find(id)", "S0003")
        assert o.js("i => [sitescreen.sites.D.name[i], sitescreen.sites.D.rec[i]]", i) == ["S0003", "S0003"]
        # 1,000 m on the ground in EPSG:3857 units at the site's latitude (about 45° N: × 1.41)
        assert o.js("() => Array.from(sitescreen.sites.D.radius).every(r => r > 1300 && r < 1500)")
        o.js("i => sitescreen.sites.openSite(i, true)", i)
        pop = o.page.locator(".ss-popup")
        pop.wait_for(timeout=10_000)
        assert "Records: S0003" in pop.inner_text()
        assert not o.errors
    finally:
        o.close()
