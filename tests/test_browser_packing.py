"""Packed data elements (sitescreen.outputs.packing): gzip + base64 written in Python, unpacked in
the page by DecompressionStream; the packed map shows the same sites, words and search as the plain one."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from sitescreen.outputs import packing
from sitescreen.outputs.htmlsafe import script_json
from sitescreen.outputs.mapping import _asset, render_map
from fixtures_results import make_layers, make_manifest, make_sites
from test_browser import Offline, open_popup_of

TEXT = script_json({"a": "Zone « é » </script> ≤ 5 %", "n": list(range(2000)), "s": "x" * 5000})


def test_small_texts_stay_plain_and_big_ones_pack_losslessly(monkeypatch):
    plain = packing.data_element("d", TEXT)
    assert plain == f'<script type="application/json" id="d">{TEXT}</script>'
    monkeypatch.setattr(packing, "PACK_MIN_CHARS", 100)
    packed = packing.data_element("d", TEXT)
    assert packed.startswith(f'<script type="{packing.PACKED_TYPE}" id="d">') and "</script>" not in packed[:-9]
    b64 = packed[packed.index(">") + 1:-len("</script>")]
    assert gzip.decompress(base64.b64decode(b64)).decode("utf-8") == TEXT
    assert len(b64) < len(TEXT) / 2
    assert packing.pack(TEXT) == packing.pack(TEXT)  # no time stamp: the same page twice is the same file


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    """The test map written plain and with every data element packed."""
    sites = make_sites()
    d = tmp_path_factory.mktemp("packing")
    plain = render_map(sites, make_layers(sites), make_manifest(sites), self_contained=True, basemap="none")
    mp = pytest.MonkeyPatch()
    mp.setattr(packing, "PACK_MIN_CHARS", 0)
    try:
        packed = render_map(sites, make_layers(sites), make_manifest(sites), self_contained=True, basemap="none")
    finally:
        mp.undo()
    assert f'type="{packing.PACKED_TYPE}"' not in plain and packed.count(f'type="{packing.PACKED_TYPE}"') >= 2
    (d / "plain.html").write_text(plain, encoding="utf-8")
    (d / "packed.html").write_text(packed, encoding="utf-8")
    return d / "plain.html", d / "packed.html", sites


STATE = """() => ({n: sitescreen.sites.count, ids: sitescreen.sites.D.id, names: sitescreen.sites.D.name,
    verdict: Array.from(sitescreen.sites.D.verdict), score: Array.from(sitescreen.sites.D.score),
    layers: sitescreen.layers.map(l => l.count), reweight: !!sitescreen.reweight,
    found: sitescreen.sites.find(sitescreen.sites.D.id[3])})"""


def test_packed_map_is_the_plain_map(browser, maps):
    plain, packed, sites = maps
    seen = []
    for path in (plain, packed):
        o = Offline(browser)
        try:
            o.open_map(path)
            state = o.js(STATE)
            popup = open_popup_of(o, 2)
            assert not [e for e in o.errors if "pageerror" in e], o.errors
            assert o.js("document.getElementById('ss-noscript')") is None
            seen.append((state, popup))
        finally:
            o.close()
    assert seen[0] == seen[1]
    assert seen[1][0]["n"] == len(sites) and seen[1][0]["found"] == 3


def test_browser_gunzip_round_trips_python_gzip(browser):
    o = Offline(browser)
    try:
        o.page.set_content("<!DOCTYPE html><html><body></body></html>")
        o.page.add_script_tag(content=_asset("sitescreen-unpack.js"))
        back = o.js("b64 => sitescreen.gunzip(b64)", packing.pack(TEXT))
        assert back == TEXT and json.loads(back)["a"] == "Zone « é » </script> ≤ 5 %"
    finally:
        o.close()


def test_without_decompressionstream_the_page_says_why(browser, maps):
    _, packed, _ = maps
    o = Offline(browser)
    try:
        o.page.add_init_script("delete window.DecompressionStream;")
        o.page.goto(packed.as_uri(), wait_until="load")
        o.page.wait_for_timeout(300)
        box = o.page.locator("#ss-noscript")
        assert box.is_visible() and packing.UNPACK_FAILED in box.inner_text()
        assert o.js("!window.sitescreen.sites")
    finally:
        o.close()
