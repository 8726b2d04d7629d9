"""Maps and reports in a real browser: Debian's Chromium, driven by Playwright, network cut off.

The pages are opened from file:// and every request that is not file: or data: is aborted, so
these tests prove the self-contained pages need nothing else. Screenshots go to
test-artifacts/ (gitignored) for people to look at.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures_results import *  # noqa: F403
from fixtures_results import XSS_IMG, XSS_SCRIPT, TEMPLATE, make_layers, make_manifest, make_sites
from sitescreen.cli import main
from sitescreen.outputs.mapping import render_map
from sitescreen.outputs.report import build_report

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
TILE_HOSTS = ("tile.openstreetmap.org", "basemap.nationalmap.gov")


class Offline:
    """A page with the network cut off that records console errors, page errors, dialogs and failed requests."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.failed: list[str] = []
        self.page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))

        def dialog(d):
            self.dialogs.append(d.message)
            d.dismiss()
        self.page.on("dialog", dialog)

    def open_map(self, path: Path) -> None:
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.wait_for_function("window.sitescreen && sitescreen.sites && sitescreen.sites.ready === true",
                                    timeout=30_000)

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def site_point(self, index: int) -> tuple[float, float]:
        """Where site `index` is on screen, once the map has stopped moving (a popup's auto-pan is animated)."""
        box = self.page.locator(".leaflet-container").bounding_box()
        x, y = self.js("""i => new Promise(done => {
            const at = () => { const p = sitescreen.map.latLngToContainerPoint(sitescreen.sites.latLng(i)); return [p.x, p.y]; };
            let last = at(), still = 0;
            const tick = () => { const p = at();
                still = (p[0] === last[0] && p[1] === last[1]) ? still + 1 : 0; last = p;
                if (still >= 3) done(p); else requestAnimationFrame(tick); };
            requestAnimationFrame(tick); })""", index)
        return box["x"] + x, box["y"] + y

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline(browser):
    o = Offline(browser)
    yield o
    o.close()


@pytest.fixture(scope="module")
def fixture_map(tmp_path_factory) -> tuple[Path, object]:
    sites = make_sites()
    path = tmp_path_factory.mktemp("maps") / "map.html"
    path.write_text(render_map(sites, make_layers(sites), make_manifest(sites), self_contained=True, basemap="none"),
                    encoding="utf-8")
    return path, sites


@pytest.fixture(scope="module")
def demo_offline_map(demo_out, tmp_path_factory) -> Path:
    """The demo's results re-mapped with `sitescreen map --offline` (fully self-contained, no basemap)."""
    out = tmp_path_factory.mktemp("demo-map") / "map.html"
    res = CliRunner().invoke(main, ["map", str(demo_out), "--offline", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def open_popup_of(o: Offline, index: int) -> str:
    x, y = o.site_point(index)
    o.page.mouse.move(x, y)
    o.page.mouse.click(x, y)
    o.page.wait_for_selector(".ss-popup .leaflet-popup-content", timeout=5000)
    return o.page.inner_text(".ss-popup .leaflet-popup-content")


# ------------------------------------------------------------------ the demo

def test_demo_map_offline(offline, demo_offline_map, demo_out):
    import geopandas as gpd
    n = len(gpd.read_parquet(demo_out / "sites.parquet"))
    offline.open_map(demo_offline_map)
    assert offline.js("typeof L === 'object' && typeof L.map === 'function' && !!sitescreen.map")
    assert offline.js("sitescreen.sites.count") == n
    assert offline.js("sitescreen.sites.drawnCount()") == n  # every site painted at the first view
    assert offline.js("sitescreen.layers.length") >= 3 and offline.js("sitescreen.layers.every(l => l.count > 0)")
    # click the best site: its popup shows its score and breakdown
    best = offline.js("() => { const D = sitescreen.sites.D; let b = 0;"
                      " for (let i = 1; i < D.n; i++) if (D.score[i] > D.score[b]) b = i; return b; }")
    text = open_popup_of(offline, best)
    score = offline.js("i => ((sitescreen.sites.D.score[i] - 1) / 10).toFixed(1)", best)
    assert score in text and "FAVORABLE" in text.upper() and "Criterion" in text
    offline.shot("demo-map-popup.png")
    offline.page.keyboard.press("Escape")
    assert offline.errors == [] and offline.dialogs == [] and offline.failed == []


def test_demo_map_as_written_by_demo_works_without_tiles(offline, demo_out):
    """The demo's own map.html (self-contained, OSM basemap): with no network only tiles fail."""
    offline.open_map(demo_out / "map.html")
    assert offline.js("sitescreen.sites.drawnCount()") == offline.js("sitescreen.sites.count")
    offline.page.wait_for_selector(".ss-offline", timeout=10_000)  # "basemap unavailable (offline)"
    assert offline.failed and all(any(h in u for h in TILE_HOSTS) for u in offline.failed)
    assert all(e.startswith("Failed to load resource") for e in offline.errors)
    assert not [e for e in offline.errors if "pageerror" in e]
    offline.shot("demo-map-no-tiles.png")


def test_demo_report(offline, demo_out):
    offline.page.goto((demo_out / "report.html").as_uri(), wait_until="load")
    page = offline.page
    assert page.locator("section#summary .card").count() == 5
    assert page.locator("svg.chart").count() >= 3
    n_rows = page.locator("table.ranked tbody tr").count()
    import geopandas as gpd
    assert n_rows == min(len(gpd.read_parquet(demo_out / "sites.parquet")), 2000)
    assert page.locator("#rules table.rules tbody tr").count() >= 4
    assert page.locator("#manifest code.hash").count() >= 3
    assert offline.errors == [] and offline.failed == [] and offline.dialogs == []
    offline.shot("demo-report.png")
    pdf = ARTIFACTS / "demo-report.pdf"
    page.emulate_media(media="print")
    page.pdf(path=str(pdf), format="Letter")
    assert pdf.stat().st_size > 20_000
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"


# ------------------------------------------------------------------ behaviour on fixture data

def test_feature_count_and_layers(offline, fixture_map):
    path, sites = fixture_map
    offline.open_map(path)
    assert offline.js("sitescreen.sites.count") == len(sites)
    assert offline.js("sitescreen.sites.drawnCount()") == len(sites)
    assert offline.js("sitescreen.layers.map(l => l.count)") == [3, 2, 2, 2, len(sites)]
    assert offline.js("document.querySelectorAll('.leaflet-control-layers-overlays input').length") == \
        5 + sites["verdict"].nunique()
    assert offline.js("document.querySelector('.leaflet-control-scale') !== null")
    assert offline.js("document.querySelector('.ss-fullscreen a') !== null")
    assert offline.js("document.querySelector('.ss-legend') !== null")
    assert offline.errors == [] and offline.failed == []


def test_click_opens_popup_with_score_and_breakdown(offline, fixture_map):
    path, sites = fixture_map
    offline.open_map(path)
    i = offline.js("sitescreen.sites.find('S0000')")
    text = open_popup_of(offline, i)
    row = sites.set_index("site_id").loc["S0000"]
    assert f"{row['score']:.1f}" in text
    assert "Lemhi Pass" in text and "Distance to protected areas" in text
    assert "linear: 300 m → 0, 1,500 m → 1" in text and "Setbacks from parks and wilderness" in text
    assert "exclude if > 0 %" in text and "40 %" in text
    offline.shot("fixture-popup.png")


def test_hover_shows_tooltip(offline, fixture_map):
    path, _ = fixture_map
    offline.open_map(path)
    i = offline.js("sitescreen.sites.find('S0005')")
    x, y = offline.site_point(i)
    offline.page.mouse.move(x, y)
    offline.page.wait_for_selector(".ss-tooltip", timeout=5000)
    assert "S0005" in offline.page.inner_text(".ss-tooltip")


def test_injected_names_show_as_text_and_run_nothing(offline, fixture_map):
    path, _ = fixture_map
    offline.open_map(path)
    scripts = offline.js("document.scripts.length")
    for sid, name in (("S0001", XSS_IMG), ("S0002", XSS_SCRIPT), ("S0003", TEMPLATE)):
        i = offline.js(f"sitescreen.sites.find('{sid}')")
        offline.js("i => sitescreen.sites.openSite(i, false)", i)
        offline.page.wait_for_function("id => (document.querySelector('.ss-popup .ss-pop-id') || {}).textContent === id", arg=sid)
        assert name in offline.page.inner_text(".ss-popup .leaflet-popup-content")
        x, y = offline.site_point(i)
        offline.page.mouse.move(x, y)
        offline.page.wait_for_selector(".ss-tooltip")
    # layer names and feature names too: the layer control and a click on the protected area
    assert XSS_IMG in offline.page.inner_text(".leaflet-control-layers")
    assert XSS_IMG in offline.page.inner_text(".ss-title")
    assert offline.js("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert offline.js("document.scripts.length") == scripts  # nothing injected
    offline.page.wait_for_timeout(200)
    assert offline.dialogs == [] and offline.errors == []


def test_layer_toggles(offline, fixture_map):
    path, sites = fixture_map
    offline.open_map(path)
    page = offline.page
    label = page.locator(".leaflet-control-layers-overlays label", has_text="Federal land")
    assert offline.js("sitescreen.map.hasLayer(sitescreen.layers[1])")
    label.locator("input").uncheck()
    assert not offline.js("sitescreen.map.hasLayer(sitescreen.layers[1])")
    assert offline.js("sitescreen.map.getPane('ssLayers').querySelectorAll('canvas').length") > 0
    label.locator("input").check()
    assert offline.js("sitescreen.map.hasLayer(sitescreen.layers[1])")
    # a verdict toggle hides those sites from the drawing and from clicks
    n_excluded = int((sites["verdict"] == "excluded").sum())
    page.locator(".leaflet-control-layers-overlays label", has_text="Excluded").locator("input").uncheck()
    page.wait_for_function("sitescreen.sites.drawnCount() === %d" % (len(sites) - n_excluded))
    i = offline.js("sitescreen.sites.find('S0001')")  # an excluded site
    x, y = offline.site_point(i)
    page.mouse.click(x, y)
    page.wait_for_timeout(300)
    assert page.locator(".ss-popup .ss-pop-id", has_text="S0001").count() == 0
    page.locator(".leaflet-control-layers-overlays label", has_text="Excluded").locator("input").check()
    page.wait_for_function("sitescreen.sites.drawnCount() === %d" % len(sites))
    assert offline.errors == []


def test_search_box_jumps_to_site(offline, fixture_map):
    path, _ = fixture_map
    offline.open_map(path)
    box = offline.page.locator(".ss-search input")
    box.fill("lemhi")
    offline.page.wait_for_selector(".ss-results li")
    assert "Lemhi Pass" in offline.page.inner_text(".ss-results")
    box.press("Enter")
    offline.page.wait_for_selector(".ss-popup .leaflet-popup-content")
    assert "S0000" in offline.page.inner_text(".ss-popup .leaflet-popup-content")
    assert offline.js("sitescreen.map.getZoom()") >= offline.js("sitescreen.sites.meta.zf")
    offline.shot("fixture-search-footprints.png")
    box.fill("S0012")
    box.press("Enter")
    offline.page.wait_for_function("document.querySelector('.ss-popup .ss-pop-id').textContent === 'S0012'")


def test_click_on_input_layer_names_the_feature(offline, fixture_map):
    path, _ = fixture_map
    offline.open_map(path)
    # the middle of the protected box (west of the centre of the sites) away from any site
    ll = offline.js("""() => { const g = sitescreen.layers[0].groups[0]; const b = g.bbox;
        const x = (b[0] + b[2]) / 2, y = b[1] + (b[3] - b[1]) * 0.85;
        const p = L.CRS.EPSG3857.unproject(L.point(x, y)); return [p.lat, p.lng]; }""")
    offline.js("ll => sitescreen.map.setView(ll, 12, {animate: false})", ll)
    box = offline.page.locator(".leaflet-container").bounding_box()
    offline.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    offline.page.wait_for_selector(".ss-popup .ss-hit")
    assert "Frank Church Wilderness" in offline.page.inner_text(".ss-popup")


def test_fullscreen_control(offline, fixture_map):
    path, _ = fixture_map
    offline.open_map(path)
    offline.page.click(".ss-fullscreen a")
    offline.page.wait_for_function(
        "document.fullscreenElement !== null || sitescreen.map.getContainer().classList.contains('ss-pseudo-full')")
    assert offline.errors == []


def test_osm_basemap_offline_still_works(offline, tmp_path):
    sites = make_sites()
    path = tmp_path / "map.html"
    path.write_text(render_map(sites, make_layers(sites), make_manifest(sites), self_contained=True, basemap="osm"),
                    encoding="utf-8")
    offline.open_map(path)
    assert offline.js("sitescreen.sites.drawnCount()") == len(sites)
    offline.page.wait_for_selector(".ss-offline")
    text = open_popup_of(offline, 0)
    assert "/100" in text
    assert all(any(h in u for h in TILE_HOSTS) for u in offline.failed)
    assert not [e for e in offline.errors if not e.startswith("Failed to load resource")]


def test_fixture_report_in_browser(offline, tmp_path):
    sites = make_sites()
    path = tmp_path / "report.html"
    path.write_text(build_report(sites, make_manifest(sites)), encoding="utf-8")
    offline.page.goto(path.as_uri(), wait_until="load")
    text = offline.page.inner_text("body")
    for name in (XSS_IMG, XSS_SCRIPT, TEMPLATE):
        assert name in text
    assert offline.js("document.querySelectorAll('img').length") == 0
    # the only scripts are the re-weight panel's (its data, its assets, its call: issue 12 item 4)
    assert offline.js("[...document.scripts].map(s => s.type || s.id)") == ["application/json", "", ""]
    assert offline.js("!!(window.sitescreen && sitescreen.reweight)")
    assert offline.errors == [] and offline.dialogs == [] and offline.failed == []
    # ranked-table links jump to the breakdowns
    offline.page.click("table.ranked a >> nth=0")
    assert re.search(r"#site-", offline.page.url)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / "fixture-report.html")
