"""Issue 14, item 6: map layers named by what they are (the file second), land drawn by manager type,
a visible minimum dot size for every verdict. One name per layer: legend, layer control, click popup
and report all read sitescreen.outputs.layernames."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

import tinyworld as tw
from edgecases import run_cli
from sitescreen.inputs.schemas import known_schemas
from sitescreen.outputs.htmlsafe import esc
from sitescreen.outputs.layernames import layer_name


def json_blocks(html: str) -> list:
    return [json.loads(m.group(1)) for m in
            re.finditer(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)]


def control_names(html: str) -> list[str]:
    """The overlay names of the page's layer control (JSON keys of L.control.layers)."""
    block = html[html.index("overlays :"):html.index("L.control.layers(")]
    return [json.loads(f'"{k}"') for k in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:\s*macro_element', block)]


def layer_blocks(html: str) -> dict[str, dict]:
    return {b["name"]: b for b in json_blocks(html) if isinstance(b, dict) and "groups" in b}


@pytest.mark.parametrize("schema, path, title", [
    ("padus-units", "padus_ID.geojson", "Federal and state land (PAD-US)"),
    ("padus", "PADUS3_0Combined.gpkg", "Federal and state land (PAD-US)"),
    ("nps", "nps_national_parks.geojson", "National parks"),
    ("wilderness", "wilderness.shp", "Wilderness areas"),
    ("wbd", "huc8_pnw.geojson", "Watersheds"),
])
def test_a_layer_is_named_by_its_definition_with_the_file_second(schema, path, title):
    assert known_schemas()[schema].label == title  # the definition carries the name
    stem = path.rsplit(".", 1)[0]
    assert layer_name(stem, path, None, schema) == (layer_name(stem, path, None, schema).__class__(title, path))


def test_watershed_names_carry_the_huc_level_of_their_codes():
    gdf = gpd.GeoDataFrame({"huc": ["17040201", "17060304"]}, geometry=[shapely.box(0, 0, 1, 1)] * 2, crs="EPSG:5070")
    assert layer_name("huc8_pnw", "huc8_pnw.geojson", None, "wbd", gdf).title == "Watersheds (HUC-8)"
    gdf4 = gdf.assign(huc=["1704", "1706"])
    assert layer_name("huc4", "huc4.gpkg", None, "wbd", gdf4).title == "Watersheds (HUC-4)"
    mixed = gdf.assign(huc=["1704", "17060304"])  # no one level: no level claimed
    assert layer_name("h", "h.gpkg", None, "wbd", mixed).title == "Watersheds"


def test_the_users_own_name_wins_and_unknown_layers_keep_their_file_name():
    n = layer_name("Salmon claims", "claims.gpkg", "claims2024", "padus")
    assert (n.title, n.file) == ("Salmon claims", "claims.gpkg · claims2024")
    n = layer_name("nhd", "nhd.shp", None, "generic")
    assert (n.title, n.file) == ("nhd", "nhd.shp")
    n = layer_name("padus", "federal.gpkg", "padus", "padus")  # named after its layer: not the user's name
    assert (n.title, n.file) == ("Federal and state land (PAD-US)", "federal.gpkg · padus")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    w = tw.build(tmp_path_factory.mktemp("names") / "w")
    res = run_cli([a for a in w.args() if a not in ("--no-map", "--no-report")])
    assert res.exit_code == 0, res.output
    return w.out, (w.out / "map.html").read_text(encoding="utf-8"), (w.out / "report.html").read_text(encoding="utf-8")


def test_legend_control_popup_and_report_use_one_name(tiny):
    _, html, report = tiny
    blocks = layer_blocks(html)
    assert set(blocks) == {"Wilderness areas", "Federal and state land (PAD-US)"}
    assert blocks["Wilderness areas"]["file"] == "protected.geojson"
    assert blocks["Federal and state land (PAD-US)"]["file"] == "federal.gpkg · padus"
    for title, b in blocks.items():
        shown = f'<span class="ss-ltitle" title="{esc(b["file"])}">{esc(title)}</span>'
        legend = json.loads(re.search(r"sitescreen\.init\([^,]+, (\{.*?\})\);", html).group(1))["legend"]
        assert shown in legend  # the legend
        assert any(shown in name for name in control_names(html))  # the layer control
        assert f"<b>{esc(title)}</b>" in report  # the report's inputs table
    assert "padus</span>" not in html  # the file stem is no longer the title


# ------------------------------------------------------------------ land by manager type

def land_frame(codes):
    boxes = [shapely.box(-1_400_000 + 20_000 * i, 2_500_000, -1_390_000 + 20_000 * i, 2_510_000) for i in range(len(codes))]
    return gpd.GeoDataFrame({"name": [f"unit {i}" for i in range(len(codes))], "manager_type": codes},
                            geometry=boxes, crs="EPSG:5070")


def test_land_is_drawn_by_manager_type_and_the_legend_lists_the_classes():
    from sitescreen.outputs import maplegend
    from sitescreen.outputs.mapland import LAND_CLASSES
    from sitescreen.outputs.maplayers import layer_payloads
    from sitescreen.outputs.mapping import DisplayLayer
    codes = ["FED", "STAT", "LOC", None, "fed ", "TRIB", "PVT"]
    gdf = land_frame(codes)
    aoi = (-1.6e7, 0.0, -1.0e7, 8.0e6)
    p = layer_payloads([DisplayLayer("land", "federal_land", gdf.to_crs("EPSG:3857"))], aoi, 10.0)[0]
    by_label = {c["label"]: c["count"] for c in p["classes"]}
    fed, state, other = (c.label for c in LAND_CLASSES)
    # derived from the codes: FED (any case/space) federal, STAT state, the rest (and missing) other
    assert by_label == {fed: 2, state: 1, other: 4} and sum(by_label.values()) == p["count"] == len(codes)
    fills = [b["style"]["fill"] for b in p["groups"]]
    assert len(set(fills)) == 3 == len({c.fill for c in LAND_CLASSES}) and fills == [c.fill for c in LAND_CLASSES]
    names = [n for b in p["groups"] for n in (b["names"]["list"] if "list" in b["names"] else b["names"]["dict"])]
    assert sorted(names) == sorted(gdf["name"])  # every feature keeps its name for the click popup
    legend = maplegend.legend_html({"review": 1}, {"review": "r"}, [{**p, "file": "padus_ID.geojson"}], 12, 44.0, None, 0)
    for label in (fed, state, other):
        assert f"{esc(label)} <span" in legend


def test_other_layers_keep_their_role_colour_whatever_their_manager_type():
    from sitescreen.outputs.maplayers import ROLE_STYLES, layer_payloads
    from sitescreen.outputs.mapping import DisplayLayer
    p = layer_payloads([DisplayLayer("wild", "protected", land_frame(["FED", "STAT"]))], (-1.6e7, 0.0, -1.0e7, 8.0e6), 10.0)[0]
    assert p["classes"] == [] and all("style" not in b for b in p["groups"])
    assert p["style"]["fill"] == ROLE_STYLES["protected"]["fill"]
    # a land layer without the field: one colour, as before
    q = layer_payloads([DisplayLayer("land", "federal_land", land_frame(["FED"]).drop(columns="manager_type"))],
                       (-1.6e7, 0.0, -1.0e7, 8.0e6), 10.0)[0]
    assert q["classes"] == [] and q["style"]["fill"] == ROLE_STYLES["federal_land"]["fill"]
