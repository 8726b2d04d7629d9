"""Issue 14, items 1 and 6, in a real browser with the network cut off (see test_browser.Offline):
the map ``screen`` writes by default starts Leaflet offline; a ``--cdn`` page says why it is empty;
the legend never covers the layer control."""

from __future__ import annotations

import pytest

import tinyworld as tw
from edgecases import run_cli

from test_browser import Offline, fixture_map  # noqa: F401 - a fixture
from test_browser_words import idaho_out  # noqa: F401 - a fixture: the README's Idaho command
from sitescreen.outputs.mapnotice import SCRIPTS_FAILED

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny world screened with the defaults (no map flag at all)."""
    w = tw.build(tmp_path_factory.mktemp("tiny-map") / "w")
    res = run_cli([a for a in w.args() if a != "--no-map"])
    assert res.exit_code == 0, res.output
    return w.out


def test_default_screen_map_starts_leaflet_with_no_network(browser, tiny_run):
    o = Offline(browser)
    try:
        o.open_map(tiny_run / "map.html")
        assert o.js("typeof L === 'object' && typeof L.map === 'function' && !!sitescreen.map")
        assert o.js("sitescreen.sites.drawnCount()") == o.js("sitescreen.sites.count") > 0
        assert o.js("document.getElementById('ss-noscript')") is None  # the script removed the message
        assert not [e for e in o.errors if "pageerror" in e]
        assert all("tile" in u or "basemap" in u for u in o.failed)  # only basemap tiles needed the network
    finally:
        o.close()


def test_cdn_map_with_no_network_says_its_scripts_could_not_load(browser, tiny_run, tmp_path):
    page = tmp_path / "cdn.html"
    res = run_cli(["map", str(tiny_run), "--cdn", "-o", str(page)])
    assert res.exit_code == 0, res.output
    o = Offline(browser)
    try:
        o.page.goto(page.as_uri(), wait_until="load")
        o.page.wait_for_timeout(300)
        assert o.js("typeof L") == "undefined" and any("leaflet" in u for u in o.failed)
        box = o.page.locator("#ss-noscript")
        assert box.is_visible()
        text = box.inner_text()
        assert SCRIPTS_FAILED in text and "sitescreen map" in text and "--cdn" in text
        o.shot("map-cdn-no-network.png")
    finally:
        o.close()


# ------------------------------------------------------------------ legend and layer control

BOXES = """() => {
    const r = e => { const b = document.querySelector(e).getBoundingClientRect();
                     return [b.left, b.top, b.right, b.bottom]; };
    return {legend: r('.ss-legend'), control: r('.leaflet-control-layers'),
            collapsed: document.querySelector('.ss-legend').classList.contains('ss-collapsed')};
}"""


def apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def open_at(browser, path, width, height) -> Offline:
    o = Offline(browser)
    o.page.set_viewport_size({"width": width, "height": height})
    o.open_map(path)
    o.page.wait_for_function("sitescreen.controlsApart === true", timeout=10_000)
    return o


@pytest.mark.parametrize("width, height, collapsed", [(800, 600, True), (1400, 900, False)])
def test_legend_never_covers_the_layer_control(browser, fixture_map, width, height, collapsed):
    o = open_at(browser, fixture_map[0], width, height)
    try:
        b = o.js(BOXES)
        assert b["collapsed"] is collapsed  # collapsed at first on a small screen only
        assert apart(b["legend"], b["control"]), b
        o.page.click(".ss-legend .ss-collapse")  # the reader opens (or folds) it: still apart
        b2 = o.js(BOXES)
        assert b2["collapsed"] is not collapsed and apart(b2["legend"], b2["control"]), b2
        assert o.errors == [] and o.failed == []
    finally:
        o.close()


# ------------------------------------------------------------------ the Idaho map at state zoom

IDAHO = [[41.99, -117.24], [49.0, -111.04]]

# per verdict: sites drawn in view, their smallest dot radius, and a few isolated sites' screen points
DOTS = """([bounds]) => new Promise(done => {
    const S = sitescreen.sites, map = S.map, D = S.D, layer = S.layer;
    const finish = () => requestAnimationFrame(() => requestAnimationFrame(() => {
        const z = map.getZoom(), size = map.getSize(), d = S.meta.dots;
        const pts = [...Array(D.n).keys()].map(i => map.latLngToContainerPoint(S.latLng(i)));
        const inView = i => pts[i].x >= 0 && pts[i].y >= 0 && pts[i].x <= size.x && pts[i].y <= size.y;
        layer.radiusPx(0, z);
        const f = layer._density[z], mid = Math.max(d.min, (d.small + (d.large - d.small) * 0.5) * f);
        const out = {zoom: z, min: d.min, mid: mid, verdicts: {}};
        S.meta.verdicts.forEach((v, k) => {
            const ids = [...Array(D.n).keys()].filter(i => D.verdict[i] === k && inView(i));
            if (!ids.length) return;
            const r = ids.map(i => layer.radiusPx(i, z));
            const lone = ids.filter(i => pts.every((p, j) => j === i || Math.hypot(p.x - pts[i].x, p.y - pts[i].y) > 18));
            out.verdicts[v.key] = {n: ids.length, drawn: ids.filter(i => layer.drawn[i]).length, color: v.color,
                                   unscored: !!v.unscored, minR: Math.min(...r),
                                   maxScoreAtMid: Math.max(0, ...ids.filter(i => D.score[i] && D.score[i] <= 501).map(i => layer.radiusPx(i, z))),
                                   lone: lone.slice(0, 5).map(i => [pts[i].x, pts[i].y, layer.radiusPx(i, z)])};
        });
        done(out);
    }));
    map.once('moveend', finish);
    map.fitBounds(bounds, {animate: false});
})"""

# the colour (r, g, b, a) the sites canvas has at a container point
PIXEL = """([x, y]) => {
    const c = sitescreen.map.getContainer().getBoundingClientRect();
    for (const cv of sitescreen.map.getPane('ssSites').querySelectorAll('canvas')) {
        const b = cv.getBoundingClientRect(), px = c.left + x, py = c.top + y;
        if (px < b.left || px >= b.right || py < b.top || py >= b.bottom) continue;
        const k = cv.width / b.width;
        return [...cv.getContext('2d').getImageData(Math.floor((px - b.left) * k), Math.floor((py - b.top) * k), 1, 1).data];
    }
    return null;
}"""


def hex_rgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


@pytest.mark.realdata
def test_idaho_map_at_state_zoom(browser, idaho_out):
    """The README's Idaho command, map as written by default: every verdict's dots are drawn, none
    under the minimum, excluded and incomplete ones at least mid size; legend and control apart."""
    import geopandas as gpd
    verdicts = set(gpd.read_parquet(idaho_out / "sites.parquet")["verdict"])
    o = open_at(browser, idaho_out / "map.html", 1400, 900)
    try:
        assert o.js("typeof L.map === 'function'") and o.js("document.getElementById('ss-noscript')") is None
        dots = o.js(DOTS, [IDAHO])
        assert 5 <= dots["zoom"] <= 7  # state zoom: the whole of Idaho in view
        assert set(dots["verdicts"]) == verdicts and len(verdicts) >= 3
        for key, v in dots["verdicts"].items():
            assert v["drawn"] == v["n"] > 0, key
            assert v["minR"] >= dots["min"], key
            if v["unscored"]:
                assert v["minR"] >= dots["mid"] - 1e-9 and v["minR"] >= v["maxScoreAtMid"], key
            for x, y, r in v["lone"]:  # what is on the screen: the verdict's colour at the dot, inside its radius
                for dx in (0, r - 2.5):  # inside the white outline
                    rgba = o.js(PIXEL, [x + dx, y])
                    assert rgba and rgba[3] > 200 and max(abs(a - b) for a, b in zip(rgba, hex_rgb(v["color"]))) < 40, \
                        (key, x, y, dx, rgba)
        b = o.js(BOXES)
        assert not b["collapsed"] and apart(b["legend"], b["control"]), b
        names = o.js("[...document.querySelectorAll('.leaflet-control-layers .ss-ltitle')].map(e => e.innerText)")
        assert {"Federal and state land (PAD-US)", "Watersheds (HUC-8)", "National parks", "Wilderness areas"} <= set(names)
        legend = o.page.inner_text(".ss-legend")
        assert "Federal" in legend and "State" in legend and "padus_ID.geojson" in legend
        o.shot("idaho-state-zoom.png")
        assert not [e for e in o.errors if "pageerror" in e]
    finally:
        o.close()


@pytest.mark.realdata
def test_idaho_map_at_800x600(browser, idaho_out):
    o = open_at(browser, idaho_out / "map.html", 800, 600)
    try:
        o.js(DOTS, [IDAHO])
        b = o.js(BOXES)
        assert b["collapsed"] and apart(b["legend"], b["control"]), b
        o.shot("idaho-800x600.png")
        o.page.click(".ss-legend .ss-collapse")
        b = o.js(BOXES)
        assert not b["collapsed"] and apart(b["legend"], b["control"]), b
        o.shot("idaho-800x600-legend-open.png")
    finally:
        o.close()
