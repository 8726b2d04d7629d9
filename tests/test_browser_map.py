"""Issue 14, items 1 and 6, in a real browser with the network cut off (see test_browser.Offline):
the map ``screen`` writes by default starts Leaflet offline; a ``--cdn`` page says why it is empty;
the legend never covers the layer control."""

from __future__ import annotations

import pytest

import tinyworld as tw
from edgecases import run_cli
from test_browser import Offline
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
