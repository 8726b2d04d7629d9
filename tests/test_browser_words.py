"""One wording on every surface, checked in a real browser (issue 10, items 4 and 5).

The Idaho records (screened as the README says, with no DEM, so the weights are renormalised over
the criteria evaluated) and the demo are mapped with ``sitescreen map --offline``; for up to 20
sites of every verdict the popup, as Chromium shows it, is compared with ``sitescreen explain
--json`` and with the site's breakdown in the review report (opened in Chromium too): the same
measurements with their units, suitabilities, effective weights, rules, sources and score; and the
popup's rows (suitability × effective weight) add up to the score it shows.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fixtures_results import make_manifest
from fixtures_results import demo_out  # noqa: F401 - a fixture
from test_browser import Offline
from sitescreen.cli import main
from sitescreen.outputs import report as report_module
from sitescreen.rules.verdicts import VERDICTS
from sitescreen.rules.wording import weight_text

pytestmark = pytest.mark.browser

PER_VERDICT = 20

# the popup of site i, as the page shows it: one entry per criterion row
READ_POPUPS = """ids => ids.map(id => {
    const S = sitescreen.sites, i = S.find(id);
    S.openSite(i, false);
    const open = document.querySelectorAll('.ss-popup .leaflet-popup-content');  // a closed one may still fade out
    const pop = open[open.length - 1];
    const rows = [...pop.querySelectorAll('table.ss-crit tbody tr')].map(tr => {
        const td = tr.querySelectorAll('td'), q = s => [...td[0].querySelectorAll(s)].map(e => e.innerText);
        return {label: q('.ss-clabel')[0], rules: q('.ss-rule:not(.ss-excl):not(.ss-status)'), exclusion: q('.ss-excl')[0] || '',
                source: q('.ss-source')[0] || '', measured: td[1].innerText, suitability: td[2].innerText,
                weight: td[3].innerText};
    });
    return {id: pop.querySelector('.ss-pop-id').innerText, score: pop.querySelector('.ss-pop-score').innerText,
            rows: rows};
})"""

# the breakdown cards of the report: one per site, rows as their cells' texts
READ_BREAKDOWNS = """() => Object.fromEntries([...document.querySelectorAll('article.site')].map(a => [
    a.querySelector('h3 .muted').innerText,
    {score: a.querySelector('.score').innerText,
     rows: [...a.querySelectorAll('table.crit tbody tr')].map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText))}]))"""

# the report's "what each criterion contributes" table: label → sites without data
READ_WITHOUT_DATA = """() => Object.fromEntries([...document.querySelectorAll('table.contrib tbody tr')].map(tr => {
    const td = tr.querySelectorAll('td'); return [td[0].innerText, td[3].innerText]; }))"""


def run(*args: str):
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


@pytest.fixture(scope="module")
def idaho_out(shared_data, tmp_path_factory):
    """The README's Idaho screening (no DEM), through the CLI."""
    d = shared_data
    out = tmp_path_factory.mktemp("idaho-words") / "idaho-out"
    run("-q", "screen", str(d / "mineral_deposits/lanthanum_datafile.csv"), "--sites-where", "state=Idaho",
        "--layer", f"federal_land={d / 'federal_lands/padus_ID.geojson'}",
        "--layer", f"watershed={d / 'watersheds/huc8_pnw.geojson'}",
        "--layer", f"protected={d / 'protected_areas/nps_national_parks.geojson'}",
        "--layer", f"protected={d / 'protected_areas/wilderness_usgs_national_atlas/wilderness.shp'}",
        "--out", str(out))
    return out


def surfaces(out, tmp, browser, monkeypatch):
    """The offline map and a report with every site's breakdown, both rebuilt from ``out`` into ``tmp``."""
    import geopandas as gpd
    sites = gpd.read_parquet(out / "sites.parquet")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    run("map", str(out), "--offline", "-o", str(tmp / "map.html"))
    monkeypatch.setattr(report_module, "BREAKDOWN_LIMIT", len(sites))  # every site gets its card
    run("report", str(out), "-o", str(tmp / "report.html"))
    sample = []
    for v in VERDICTS:
        ids = sorted(sites.loc[sites["verdict"] == v, "site_id"].astype(str))
        sample += [(v, i) for i in ids[:PER_VERDICT]]
    o = Offline(browser)
    try:
        o.open_map(tmp / "map.html")
        popups = dict(zip([i for _, i in sample], o.js(READ_POPUPS, [i for _, i in sample])))
        o.page.goto((tmp / "report.html").as_uri(), wait_until="load")
        cards = o.js(READ_BREAKDOWNS)
        without = o.js(READ_WITHOUT_DATA)
        assert o.errors == [] and o.failed == [] and o.dialogs == []
    finally:
        o.close()
    return sites, manifest, sample, popups, cards, without


#: How a measurement in each unit ends (besides "no data" and text categories).
UNIT_ENDS = {"fraction": (" %",), "m": (" m", " km", " search radius"), "sites": (" sites",), "degrees": (" degrees",)}


def check_surfaces(out, tmp, browser, monkeypatch):
    sites, manifest, sample, popups, cards, without = surfaces(out, tmp, browser, monkeypatch)
    crits = manifest["criteria"]
    verdicts = {v for v, _ in sample}
    assert verdicts == set(sites["verdict"])  # every verdict of the run is sampled
    for verdict, sid in sample:
        info = json.loads(run("explain", str(out), sid, "--json").stdout)
        pop, card = popups[sid], cards[sid]
        assert pop["id"] == sid and info["verdict"] == verdict
        assert pop["score"] == info["score_text"] + "/100" and card["score"] == info["score_text"]
        assert len(pop["rows"]) == len(card["rows"]) == len(info["criteria"]) == len(crits)
        total = 0.0
        for row, cells, c, m in zip(pop["rows"], card["rows"], info["criteria"], crits):
            assert row["label"] == cells[0] == c["label"] == m["label"]
            # the same measurement with its unit, suitability and effective weight on all three
            assert row["measured"] == cells[1] == c["measurement_text"], (sid, c["name"])
            assert row["suitability"] == cells[2] == c["suitability_text"], (sid, c["name"])
            assert row["weight"] == cells[3] == c["effective_weight_text"] == weight_text(m["effective_weight"])
            if verdict != "excluded":  # the points (suitability × effective weight × 100): report as explain
                assert cells[4] == c["points_text"], (sid, c["name"], cells[4], c["points_text"])
            assert row["source"] == f"source: {c['source']}"
            rule = "; ".join(row["rules"][:1] + ([row["exclusion"]] if row["exclusion"] else []))
            assert rule == c["rule"] or (not rule and c["rule"].startswith("informational")), (sid, c["name"])
            if m["unit"] in UNIT_ENDS and c["evaluated"] and c["measurement"] is not None:
                assert row["measured"].endswith(UNIT_ENDS[m["unit"]]), (sid, c["name"], row["measured"])
            if row["suitability"] != "—" and row["weight"] != "—":
                total += float(row["suitability"]) * float(row["weight"].rstrip(" %").replace(",", ""))
        if verdict in ("favorable", "review", "unfavorable"):
            assert abs(total - float(info["score_text"])) <= 0.1 + 1e-9, (sid, total, info["score_text"])
    # "sites without data" in the report is the manifest's count, per criterion
    for m in crits:
        if m["label"] in without:
            assert int(without[m["label"]].replace(",", "")) == m["sites_without_data"], m["name"]
    return sites, manifest, without


@pytest.mark.realdata
def test_idaho_popup_explain_and_report_agree(idaho_out, tmp_path, browser, monkeypatch):
    sites, manifest, without = check_surfaces(idaho_out, tmp_path, browser, monkeypatch)
    by = {c["name"]: c for c in manifest["criteria"]}
    # no DEM: steep terrain is not evaluated and the other weights are renormalised, as the popup shows
    assert not by["steep_terrain"]["evaluated"]
    evaluated = sum(c["weight"] for c in manifest["criteria"] if c["evaluated"])
    assert evaluated < 1 and by["protected_setback"]["effective_weight"] == pytest.approx(
        by["protected_setback"]["weight"] / evaluated)
    # the example: the sites outside the watershed layer are counted as without data
    pressure = by["watershed_pressure"]
    assert without[pressure["label"]] == str(int(sites[pressure["measure_column"]].isna().sum())) != "0"


def test_demo_popup_explain_and_report_agree(demo_out, tmp_path, browser, monkeypatch):
    check_surfaces(demo_out, tmp_path, browser, monkeypatch)


def test_popup_shows_python_words_for_every_kind_and_unit(browser, tmp_path):
    """Per kind and unit, the text Chromium shows in a popup is wording.measure_texts' text
    (no formatter in the page), and text from a data file shows as text."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from test_wording import KIND_UNITS, NUMBERS, RADIUS
    from fixtures_results import XSS_IMG
    from sitescreen.outputs.mapping import render_map
    from sitescreen.rules.wording import NO_DATA, measure_texts

    n = len(NUMBERS)
    rng = np.random.default_rng(5)
    columns, criteria, expect = {}, [], {}
    categories = np.array(["17040201", None, XSS_IMG] * n, dtype=object)[:n]
    for k, (kind, unit) in enumerate(KIND_UNITS + [("attribute", "text")]):
        name = f"c{k}_{kind}"
        values = categories if unit == "text" else NUMBERS[rng.permutation(n)]
        unit = "" if unit == "text" else unit
        params = {"search_radius_m": RADIUS} if kind == "distance" else {}
        columns[f"m_{name}"] = values
        expect[name] = measure_texts(values, unit, params.get("search_radius_m"))
        criteria.append({"name": name, "label": f"{kind} in {unit or 'its own unit'}", "kind": kind, "unit": unit, "roles": ["r"],
                         "params": params, "measure_column": f"m_{name}", "score_column": None, "weight": 0.0,
                         "effective_weight": 0.0, "transform": None, "exclusion": None, "safeguard": "s",
                         "source": "src", "evaluated": True, "note": ""})
    xy = np.c_[-1_400_000 + 3000 * np.arange(n), np.full(n, 2_500_000.0)]
    sites = gpd.GeoDataFrame({"site_id": [f"K{i:02d}" for i in range(n)], "name": [f"Site {i}" for i in range(n)],
                              "verdict": ["review"] * n, "score": np.full(n, 50.0), "reasons": [""] * n, **columns},
                             geometry=shapely.buffer(shapely.points(xy), 1000.0), crs="EPSG:5070")
    manifest = {**make_manifest(sites), "title": "kinds and units", "criteria": criteria}
    path = tmp_path / "map.html"
    path.write_text(render_map(sites, [], manifest, self_contained=True, basemap="none"), encoding="utf-8")
    o = Offline(browser)
    try:
        o.open_map(path)
        scripts = o.js("document.scripts.length")
        popups = o.js(READ_POPUPS, list(sites["site_id"]))
        assert o.js("document.scripts.length") == scripts and o.js("document.querySelectorAll('img').length") == 0
        assert o.errors == [] and o.dialogs == []
    finally:
        o.close()
    for i, pop in enumerate(popups):
        assert pop["id"] == f"K{i:02d}"
        shown = [r["measured"] for r in pop["rows"]]
        assert shown == [str(expect[c["name"]][i]) for c in criteria]
    assert any(NO_DATA == r["measured"] for p in popups for r in p["rows"])
    assert any(XSS_IMG == r["measured"] for p in popups for r in p["rows"])


def test_idaho_report_prints_compactly_with_every_excluded_and_incomplete_site(idaho_out, browser):
    """The report a review board prints (issue 12, item 6): Letter pages from headless Chromium, at most
    60 for the Idaho run; every excluded and incomplete site has its breakdown; the overview map is at
    the top. Screenshots of the printed layout go to test-artifacts/ for people to look at."""
    import re

    import geopandas as gpd
    from test_browser import ARTIFACTS
    sites = gpd.read_parquet(idaho_out / "sites.parquet")
    o = Offline(browser)
    try:
        o.page.goto((idaho_out / "report.html").as_uri(), wait_until="load")
        cards = set(o.js("() => [...document.querySelectorAll('article.site h3 .muted')].map(e => e.innerText)"))
        must = set(sites.loc[sites["verdict"].isin(["excluded", "incomplete"]), "site_id"].astype(str))
        assert must and must <= cards
        assert o.js("() => document.querySelectorAll('#summary figure.overview circle').length") == len(sites)
        pdf = o.page.pdf(format="Letter", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "idaho-report.pdf").write_bytes(pdf)
        o.page.emulate_media(media="print")
        o.page.set_viewport_size({"width": 740, "height": 965})  # a Letter page's printable area at 96 dpi
        for section in ("summary", "sites"):
            top = o.js("s => document.getElementById(s).getBoundingClientRect().top + window.scrollY", section)
            o.page.screenshot(path=str(ARTIFACTS / f"idaho-report-print-{section}.png"), full_page=True,
                              clip={"x": 0, "y": top, "width": 740, "height": 965})
        assert o.errors == [] and o.failed == []
    finally:
        o.close()
    assert 5 <= pages <= 60, f"{pages} Letter pages"
