"""sites.gpkg carries a default QGIS style: checked with nothing but sqlite3 (a plain GeoPackage reader)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import pyogrio
import pytest

from fixtures_results import *  # noqa: F403
from fixtures_results import make_sites
from sitescreen.errors import OutputError
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.outputs.qgis import STYLE_NAME, style_qml, write_qgis_style


@pytest.fixture
def gpkg(tmp_path):
    path = tmp_path / "sites.gpkg"
    pyogrio.write_dataframe(make_sites(), path, layer="sites", driver="GPKG")
    return path


def styles(path, layer="sites"):
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM layer_styles WHERE f_table_name = ?", (layer,))]
    finally:
        con.close()


def test_layer_styles_row_for_sites(gpkg):
    write_qgis_style(gpkg, layer="sites")
    rows = styles(gpkg)
    assert len(rows) == 1
    row = rows[0]
    assert row["f_table_name"] == "sites" and row["f_geometry_column"] == "geom"
    assert row["useAsDefault"] == 1 and row["styleName"] == STYLE_NAME
    assert {"f_table_catalog", "f_table_schema", "styleQML", "styleSLD", "description", "owner", "ui",
            "update_time"} <= set(row)
    qml = ET.fromstring(row["styleQML"].split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "verdict"
    assert [c.get("value") for c in renderer.iter("category")] == list(VERDICT_ORDER)
    colors = [s.find("layer/Option/Option[@name='color']").get("value") for s in renderer.find("symbols")]
    r, g, b = (int(VERDICT_COLORS["excluded"][i:i + 2], 16) for i in (1, 3, 5))
    assert colors[VERDICT_ORDER.index("excluded")].startswith(f"{r},{g},{b},")
    assert qml.get("labelsEnabled") == "1"
    assert qml.find("labeling/settings/text-style").get("fieldName") == "name"
    sld = ET.fromstring(row["styleSLD"].encode())
    assert sld.tag.endswith("StyledLayerDescriptor")


def test_layer_styles_is_registered_and_gpkg_still_reads(gpkg):
    write_qgis_style(gpkg)
    con = sqlite3.connect(gpkg)
    try:
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
        assert kind == ("attributes",)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    back = gpd.read_file(gpkg, layer="sites")
    assert len(back) == len(make_sites())
    assert "sites" in [name for name, _ in pyogrio.list_layers(gpkg)]


def test_rewriting_keeps_one_default(gpkg):
    con = sqlite3.connect(gpkg)
    write_qgis_style(gpkg)
    con.execute("INSERT INTO layer_styles (f_table_name, styleName, useAsDefault) VALUES ('sites', 'mine', 1)")
    con.commit()
    con.close()
    write_qgis_style(gpkg)
    rows = styles(gpkg)
    assert sorted(r["styleName"] for r in rows) == sorted(["mine", STYLE_NAME])
    assert [r["styleName"] for r in rows if r["useAsDefault"]] == [STYLE_NAME]


def test_missing_layer_and_file(gpkg, tmp_path):
    with pytest.raises(OutputError, match=r"no layer 'nope' with geometry; layers: sites"):
        write_qgis_style(gpkg, layer="nope")
    with pytest.raises(OutputError, match="GeoPackage not found"):
        write_qgis_style(tmp_path / "missing.gpkg")
    not_gpkg = tmp_path / "x.gpkg"
    not_gpkg.write_text("hello")
    with pytest.raises(OutputError, match="not a GeoPackage"):
        write_qgis_style(not_gpkg)


def test_point_layers_get_marker_symbols():
    qml = ET.fromstring(style_qml("POINT").split("\n", 1)[1])
    assert {s.get("type") for s in qml.iter("symbol")} == {"marker"}
    assert qml.findtext("layerGeometryType") == "0"
