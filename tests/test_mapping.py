"""The map's Python side: encodings, escaping, self-containment, basemaps, display preparation.

What happens in a browser is checked in test_browser.py.
"""

from __future__ import annotations

import json
import math
import re

import geopandas as gpd
from geopandas.testing import assert_geodataframe_equal
import numpy as np
import pytest
import shapely

from fixtures_results import *  # noqa: F403
from fixtures_results import TEMPLATE, XSS_IMG, XSS_SCRIPT, make_layers, make_manifest, make_sites
from sitescreen.outputs import mapping, payload
from sitescreen.errors import CRSError, SitescreenError
from sitescreen.outputs.mapping import BASEMAPS, DisplayLayer, build_map, external_resources, render_map


def decode_uvarints(text: str) -> list[int]:
    out, v, f = [], 0, 1
    for ch in text:
        c = ord(ch) - 63
        v += (c & 31) * f
        if c & 32:
            f *= 32
        else:
            out.append(v)
            v, f = 0, 1
    return out


def json_blocks(html: str) -> dict[str, object]:
    return {m.group(1): json.loads(m.group(2)) for m in
            re.finditer(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)}


def sites_block(html: str) -> dict:
    return next(v for v in json_blocks(html).values() if isinstance(v, dict) and "c" in v)


@pytest.fixture(scope="module")
def html(result_sites, display, result_manifest) -> str:
    return render_map(result_sites, display, result_manifest, self_contained=True, basemap="none")


# ------------------------------------------------------------------ encodings

@pytest.mark.parametrize("values", [[0], [1, 31, 32, 33, 1023, 1024], [2**40 + 12345], list(range(0, 5000, 7))])
def test_uvarint_round_trip(values):
    text = payload._uvarint(np.array(values))
    assert decode_uvarints(text) == values
    assert all(63 <= ord(c) <= 126 for c in text)


def test_zigzag_deltas_round_trip():
    q = np.array([[5, -3], [-700000, 12], [-699990, 13], [0, 0]], dtype=np.int64)
    z = decode_uvarints(payload._zigzag_deltas(q))
    d = [(v >> 1) if v % 2 == 0 else -((v + 1) >> 1) for v in z]
    assert np.array_equal(np.cumsum(np.array(d).reshape(-1, 2), axis=0), q)


def test_encode_polygons_drops_closing_vertex_and_collapsed_rings():
    square = shapely.box(0, 0, 100, 100)
    with_hole = shapely.box(0, 0, 100, 100).difference(shapely.box(40, 40, 60, 60))
    tiny = shapely.box(0, 0, 0.1, 0.1)  # collapses at q = 1
    block, kept = payload.encode_geoms(np.array([square, with_hole, tiny]), "polygon", 1.0)
    assert kept.tolist() == [True, True, False]
    assert block["n"] == 2 and block["nrings"] == 3
    assert decode_uvarints(block["nv"]) == [4, 4, 4]
    assert decode_uvarints(block["nr"]) == [1, 2]


def test_measure_column_keeps_no_data_and_beyond_radius():
    import pandas as pd
    crit = {"unit": "m", "radius": 50_000.0}
    col = payload._measure_column(pd.Series([1234.5678, np.nan, math.inf, 0.000123456]), crit)
    assert col == {"list": ["1,235 m", None, "beyond the 50 km search radius", "0.0001235 m"]}


# ------------------------------------------------------------------ escaping

def test_hostile_names_never_reach_markup_raw(html):
    for bad in (XSS_IMG, XSS_SCRIPT, "<script>alert(1)</script>"):
        assert bad not in html
    # exactly the scripts we wrote: Leaflet, runtime, data blocks and the map script
    assert html.count("</script>") == html.count("<script")
    assert "alert(1)" in html  # the names are there, as escaped JSON text


def test_names_survive_as_data(html, result_sites):
    data = sites_block(html)
    assert sorted(data["name"]) == sorted(result_sites["name"])
    assert XSS_SCRIPT in data["name"] and XSS_IMG in data["name"]


def test_template_syntax_in_data_is_not_evaluated(result_sites, display, result_manifest):
    html = render_map(result_sites, display, result_manifest)
    assert "{{ 7*7 }}" in json.dumps(sites_block(html)["name"]) or TEMPLATE in sites_block(html)["name"]
    assert "49 {% raw %}" not in html
    # in the layer control (which passes through Folium's Jinja templates) braces are entities
    layer_control = html[html.index("L.control.layers"):]
    assert "{{" not in layer_control.split(")")[0]


def test_title_and_legend_are_escaped(html):
    assert "<title>Salmon River test screening &lt;img src=x onerror=alert(1)&gt;</title>" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


# ------------------------------------------------------------------ self-contained

def test_self_contained_has_no_external_script_style_or_font(html):
    assert external_resources(html) == []
    for tag in re.findall(r"<(?:script|link)\b[^>]*>", html, re.I):
        assert "http://" not in tag and "https://" not in tag
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I):
        assert not re.search(r"url\(\s*['\"]?https?:", css) and "@import" not in css and "@font-face" not in css
    assert "leaflet-control-layers-toggle" in html  # Leaflet's CSS is inlined...
    assert "data:image/png;base64," in html         # ...with its images


def test_cdn_mode_loads_only_leaflet_from_cdn(result_sites, display, result_manifest):
    # issue 14: the default is the self-contained page; the CDN page is asked for (--cdn)
    assert external_resources(render_map(result_sites, display, result_manifest)) == []
    html = render_map(result_sites, display, result_manifest, self_contained=False)
    found = external_resources(html)
    assert len(found) == 2 and all("leaflet@1.9.3" in f for f in found)
    for absent in ("jquery", "bootstrap", "font-awesome", "fontawesome", "awesome-markers"):
        assert absent not in html.lower()


def test_external_resources_detects_references_and_ignores_data():
    assert external_resources('<script src="https://x/y.js"></script>')
    assert external_resources('<link rel="stylesheet" href="//cdn/x.css">')
    assert external_resources("<style>@import 'x.css';</style>")
    assert external_resources("<style>a{background:url(https://x/y.png)}</style>")
    assert not external_resources("<style>a{background:url(data:image/png;base64,AA==)}</style>")
    assert not external_resources('<script type="application/json">{"n":"url(https://x) @import"}</script>')


@pytest.mark.parametrize("basemap", list(BASEMAPS))
def test_basemaps(result_sites, display, result_manifest, basemap):
    html = render_map(result_sites, display, result_manifest, self_contained=True, basemap=basemap)
    assert external_resources(html) == []
    has_tiles = "L.tileLayer" in html
    assert has_tiles == (basemap != "none")
    if basemap == "osm":
        assert html.index("tile.openstreetmap.org") < html.index("basemap.nationalmap.gov")
    if basemap == "none":
        assert "ss-nobase" in html and "tile.openstreetmap.org" not in html


def test_unknown_basemap_lists_choices(result_sites, display, result_manifest):
    with pytest.raises(ValueError, match="unknown basemap 'google'; choose one of osm, imagery, none"):
        build_map(result_sites, display, result_manifest, basemap="google")


# ------------------------------------------------------------------ contents

def overlay_names(html: str) -> list[str]:
    block = html[html.index("overlays :"):html.index("L.control.layers")]
    return [json.loads(k) for k in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block, re.M)]


def test_one_overlay_per_input_layer_and_per_verdict(html, display, result_sites):
    names = overlay_names(html)
    assert len(names) == len(display) + result_sites["verdict"].nunique()
    for layer in display:
        assert sum(mapping.esc(layer.name) in n for n in names) == 1
    for v in set(result_sites["verdict"]):
        assert sum(f">{mapping.VERDICT_LABELS[v]}<" in n for n in names) == 1
    assert all("<img" not in n for n in names)


def test_sites_payload(html, result_sites):
    data = sites_block(html)
    n = len(result_sites)
    assert data["n"] == n and len(data["id"]) == n and len(data["v"]) == n
    # 12 buffered points are drawn as circles of their radius; the claim polygon as a polygon
    radii = decode_uvarints(data["fpr"])
    assert sorted(radii)[1:] == [10000] * (n - 1) and sorted(radii)[0] == 0
    assert data["fpg"]["n"] == 1
    # scores: NaN (incomplete) encodes as 0, others as score*10+1
    order = [list(result_sites["site_id"]).index(i) for i in data["id"]]
    sc = decode_uvarints(data["sc"])
    for k, row in enumerate(order):
        s = result_sites["score"].iloc[row]
        assert sc[k] == (0 if np.isnan(s) else round(s * 10) + 1)
    # categorical measurements stay text even when they look like numbers
    huc = data["m"][[c["name"] for c in CRITERIA].index("huc")]
    assert set(huc["dict"]) <= {"17040201", "17040202", "17060203"}
    # beyond the search radius is worded with the radius, no data is null
    dist = data["m"][1]
    dist = dist["list"] if "list" in dist else [dist["dict"][k - 1] if k else None for k in decode_uvarints(dist["idx"])]
    assert None not in dist and "beyond the 50 km search radius" in dist


def test_reasons_dictionary(html, result_sites):
    rs = sites_block(html)["rs"]
    flat = decode_uvarints(rs["idx"])
    assert len(flat) == rs["count"]
    assert "within 300 m of a protected area" in rs["dict"]
    assert XSS_IMG in rs["dict"]


def test_display_layers_are_reprojected_clipped_and_simplified(result_sites):
    # a long wiggly line far beyond the sites is clipped to the area around them
    x0, y0, x1, y1 = result_sites.total_bounds
    t = np.linspace(0, 1, 20000)
    line = shapely.LineString(np.c_[x0 - 2e6 + t * 4e6, y0 + 50 * np.sin(t * 5000)])
    layer = DisplayLayer("Long river", "streams", gpd.GeoDataFrame({"name": ["r"]}, geometry=[line], crs=RUN_CRS))
    m = build_map(result_sites, [layer], make_manifest(result_sites), basemap="none")
    html = m.get_root().render()
    block = [v for v in json_blocks(html).values() if isinstance(v, dict) and v.get("name") == "Long river"][0]
    g = block["groups"][0]
    assert g["type"] == "line" and g["nvtx"] < 2000  # 20,000 vertices in, far fewer drawn
    assert block["tolerance_m"] > 0


def test_layer_without_crs_is_refused(result_sites, result_manifest):
    layer = DisplayLayer("No CRS", "protected", gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]))
    with pytest.raises(CRSError, match="display layer 'No CRS' has no CRS"):
        build_map(result_sites, [layer], result_manifest)


def test_sites_must_follow_the_contract(result_sites, result_manifest):
    with pytest.raises(SitescreenError, match="lack column"):
        build_map(result_sites.drop(columns=["verdict"]), [], result_manifest)
    bad = result_sites.copy()
    bad.loc[bad.index[0], "verdict"] = "maybe"
    with pytest.raises(SitescreenError, match="unknown verdict.*'maybe'.*allowed: favorable, review"):
        build_map(bad, [], result_manifest)


def test_inputs_are_not_mutated(result_sites, display, result_manifest):
    before = result_sites.copy()
    layers_before = [lyr.gdf.copy() for lyr in display]
    manifest_before = json.dumps(result_manifest, sort_keys=True, default=str)
    render_map(result_sites, display, result_manifest)
    assert_geodataframe_equal(result_sites, before)
    for lyr, b in zip(display, layers_before):
        assert_geodataframe_equal(lyr.gdf, b)
    assert json.dumps(result_manifest, sort_keys=True, default=str) == manifest_before


def test_sites_without_geometry_are_left_off_and_noted(result_manifest, caplog):
    sites = make_sites()
    sites.loc[sites.index[0], "geometry"] = None
    html = render_map(sites, [], result_manifest)
    assert sites_block(html)["n"] == len(sites) - 1
    assert "1 site(s) without geometry are not shown" in html
    assert "no geometry" in caplog.text


def test_point_sites_and_geographic_crs(result_manifest):
    sites = make_sites().to_crs("EPSG:4326")
    sites = sites.set_geometry(shapely.centroid(np.asarray(sites.geometry.values)))
    html = render_map(sites, [], result_manifest)
    assert sites_block(html)["n"] == len(sites)


def test_results_without_manifest_criteria_use_columns(result_sites):
    html = render_map(result_sites, [], None)
    meta = next(v for v in json_blocks(html).values() if isinstance(v, dict) and "criteria" in v and "zf" in v)
    assert {c["name"] for c in meta["criteria"]} == {"protected_overlap", "park_distance", "stream_count", "huc", "slope"}


def test_empty_results_render(result_manifest):
    empty = make_sites().iloc[0:0]
    html = render_map(empty, make_layers(make_sites()), result_manifest, self_contained=True, basemap="none")
    assert sites_block(html)["n"] == 0


# ------------------------------------------------------------------ the `map` command

@pytest.fixture
def results_dir(demo_out, tmp_path):
    import shutil
    d = tmp_path / "out"
    shutil.copytree(demo_out, d)
    return d


def test_map_command_rebuilds_without_screening(results_dir, monkeypatch):
    from click.testing import CliRunner

    import sitescreen.run.pipeline as pipeline
    from sitescreen.cli import main
    monkeypatch.setattr(pipeline, "screen", lambda *a, **k: pytest.fail("map must not re-screen"))
    (results_dir / "map.html").unlink()
    res = CliRunner().invoke(main, ["map", str(results_dir), "--offline"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(results_dir / "map.html")
    html = (results_dir / "map.html").read_text(encoding="utf-8")
    assert external_resources(html) == [] and "L.tileLayer" not in html
    n = len(gpd.read_parquet(results_dir / "sites.parquet"))
    assert sites_block(html)["n"] == n
    assert len([b for b in json_blocks(html).values() if isinstance(b, dict) and "groups" in b]) >= 3
    assert (results_dir / "map.html").stat().st_mode & 0o044  # readable by others, like any output


def test_map_command_options(results_dir):
    from click.testing import CliRunner

    from sitescreen.cli import main
    runner = CliRunner()
    res = runner.invoke(main, ["map", str(results_dir)])  # the run's own map: rebuilt in place (issue 14)
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(results_dir / "map.html")
    with open(results_dir / "map.html", "a", encoding="utf-8") as f:
        f.write("<!-- a reviewer's note -->")  # no longer the page the run recorded
    res = runner.invoke(main, ["map", str(results_dir)])
    assert res.exit_code == 1
    assert res.output.strip() == (f"Error: {results_dir / 'map.html'}: exists and changed since the run wrote it; "
                                  f"pass --overwrite to replace it")
    assert (results_dir / "map.html").read_text(encoding="utf-8").endswith("<!-- a reviewer's note -->")
    res = runner.invoke(main, ["map", str(results_dir), "--offline", "--basemap", "osm"])
    assert res.exit_code == 2 and "--offline draws no basemap" in res.output
    res = runner.invoke(main, ["map", str(results_dir), "--basemap", "google"])
    assert res.exit_code == 2 and "'osm', 'imagery', 'none'" in res.output
    out = results_dir / "cdn.html"
    res = runner.invoke(main, ["map", str(results_dir), "-o", str(out), "--basemap", "imagery", "--cdn"])
    assert res.exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert [f for f in external_resources(html) if "leaflet" in f] and "basemap.nationalmap.gov" in html
    res = runner.invoke(main, ["map", str(results_dir), "--self-contained", "--overwrite"])
    assert res.exit_code == 0
    assert external_resources((results_dir / "map.html").read_text(encoding="utf-8")) == []


def test_map_command_without_input_files_still_maps_the_sites(results_dir, caplog):
    import json as _json

    from click.testing import CliRunner

    from sitescreen.cli import main
    manifest = _json.loads((results_dir / "manifest.json").read_text())
    for e in manifest["inputs"]:
        e["path"] = str(results_dir / "gone" / "missing.gpkg")
    (results_dir / "manifest.json").write_text(_json.dumps(manifest))
    res = CliRunner().invoke(main, ["map", str(results_dir), "-o", str(results_dir / "m.html")])
    assert res.exit_code == 0, res.output
    assert sites_block((results_dir / "m.html").read_text())["n"] > 0
