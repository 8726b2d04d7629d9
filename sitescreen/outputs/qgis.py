"""A default QGIS style stored inside the results GeoPackage, so ``sites.gpkg`` opens styled.

QGIS reads the ``layer_styles`` table of a GeoPackage and applies the row marked
``useAsDefault`` for a layer when it is added. The style written here colours sites by
``verdict`` (a categorized renderer, the map's colours) and labels them by ``name``; an SLD
version is stored beside the QML for other clients. Only SQLite is used: no QGIS needed.
"""

from __future__ import annotations

import logging
import sqlite3
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from sitescreen.errors import OutputError
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import OTHER_COLOR, STROKES, darker
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER

log = logging.getLogger(__name__)

__all__ = ["write_qgis_style", "style_qml", "style_sld", "STYLE_NAME", "LABEL_MIN_SCALE"]

STYLE_NAME = "sitescreen verdict"
#: Labels are drawn from this scale in (1:150,000 and closer); further out they would cover the symbols.
#: (QML names it ``scaleMax``: QGIS stores its "minimum scale", the most zoomed-out one, under that name.)
LABEL_MIN_SCALE = 150_000
#: QGIS label placements beside the symbol: outside a polygon (QgsPalLayerSettings.OutsidePolygons),
#: around a point or a line's middle (AroundPoint), never over it.
_PLACEMENT = {"fill": "8", "line": "0", "marker": "0"}
_QGIS_VERSION = "3.28.0-Firenze"

_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)"""


def _rgba(hex_color: str, alpha: int = 255) -> str:
    h = hex_color.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _props(layer: ET.Element, props: dict[str, str]) -> None:
    """Symbol-layer properties in both forms QGIS reads (<Option> since 3.26, <prop> before)."""
    opt = ET.SubElement(layer, "Option", type="Map")
    for k, v in props.items():
        ET.SubElement(opt, "Option", name=k, type="QString", value=v)
    for k, v in props.items():
        ET.SubElement(layer, "prop", k=k, v=v)


def _symbol(parent: ET.Element, name: str, kind: str, color: str) -> None:
    sym = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    outline = _rgba(darker(color))
    if kind == "fill":
        layer = ET.SubElement(sym, "layer", {"class": "SimpleFill", "pass": "0", "locked": "0", "enabled": "1"})
        _props(layer, {"color": _rgba(color, 170), "style": "solid", "outline_color": outline,
                       "outline_style": "solid", "outline_width": "0.5", "outline_width_unit": "MM",
                       "joinstyle": "round"})
    elif kind == "line":
        layer = ET.SubElement(sym, "layer", {"class": "SimpleLine", "pass": "0", "locked": "0", "enabled": "1"})
        _props(layer, {"line_color": _rgba(color), "line_width": "0.8", "line_width_unit": "MM",
                       "line_style": "solid", "capstyle": "round", "joinstyle": "round"})
    else:
        layer = ET.SubElement(sym, "layer", {"class": "SimpleMarker", "pass": "0", "locked": "0", "enabled": "1"})
        _props(layer, {"name": "circle", "color": _rgba(color), "outline_color": "255,255,255,255",
                       "outline_width": "0.3", "outline_width_unit": "MM", "size": "3", "size_unit": "MM"})


def _symbol_kind(geometry_type: str) -> tuple[str, int]:
    g = geometry_type.upper()
    if "POLYGON" in g or "SURFACE" in g:
        return "fill", 2
    if "LINE" in g or "CURVE" in g:
        return "line", 1
    return "marker", 0


def style_qml(geometry_type: str = "MULTIPOLYGON", *, verdict_field: str = "verdict",
              label_field: str = "name") -> str:
    """The QGIS style (QML): sites coloured by verdict, labelled by name from 1:150,000 in, beside the symbol."""
    kind, gtype = _symbol_kind(geometry_type)
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology|Labeling", labelsEnabled="1")
    rend = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=verdict_field, symbollevels="0",
                         forceraster="0", enableorderby="0", referencescale="-1")
    cats = ET.SubElement(rend, "categories")
    syms = ET.SubElement(rend, "symbols")
    for i, v in enumerate(VERDICT_ORDER):
        ET.SubElement(cats, "category", symbol=str(i), value=v, label=VERDICT_LABELS[v], render="true")
        _symbol(syms, str(i), kind, VERDICT_COLORS[v])
    source = ET.SubElement(rend, "source-symbol")
    _symbol(source, "0", kind, OTHER_COLOR)
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    text = ET.SubElement(settings, "text-style", fieldName=label_field, isExpression="0", fontFamily="Sans Serif",
                         fontSize="8.5", fontSizeUnit="Point", fontWeight="50", textColor="31,41,51,255",
                         textOpacity="1", namedStyle="Regular", multilineHeight="1", blendMode="0")
    ET.SubElement(text, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="0.85", bufferJoinStyle="128", bufferNoFill="1")
    ET.SubElement(settings, "text-format", wrapChar="", multilineAlign="3", formatNumbers="0", plussign="0")
    ET.SubElement(settings, "placement", placement=_PLACEMENT[kind], dist="1.5", distUnits="MM",
                  priority="5", offsetType="0")
    ET.SubElement(settings, "rendering", obstacle="1", displayAll="0", upsidedownLabels="0", limitNumLabels="0",
                  scaleVisibility="1", scaleMax=str(LABEL_MIN_SCALE), scaleMin="0", fontMinPixelSize="3",
                  fontMaxPixelSize="10000", drawLabels="1", labelPerPart="0", mergeLines="0", minFeatureSize="0",
                  zIndex="0")
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "layerGeometryType").text = str(gtype)
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def style_sld(layer: str = "sites", geometry_type: str = "MULTIPOLYGON", *, verdict_field: str = "verdict",
              label_field: str = "name") -> str:
    """The same style as OGC SLD 1.1 (Symbology Encoding), for clients other than QGIS."""
    SLD, SE, OGC = "http://www.opengis.net/sld", "http://www.opengis.net/se", "http://www.opengis.net/ogc"
    ET.register_namespace("sld", SLD)
    ET.register_namespace("se", SE)
    ET.register_namespace("ogc", OGC)
    kind, _ = _symbol_kind(geometry_type)
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", version="1.1.0")
    named = ET.SubElement(root, f"{{{SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{SE}}}Name").text = layer
    style = ET.SubElement(ET.SubElement(named, f"{{{SLD}}}UserStyle"), f"{{{SE}}}FeatureTypeStyle")

    def param(parent: ET.Element, tag: str, name: str, value: str) -> None:
        ET.SubElement(parent, f"{{{SE}}}{tag}", name=name).text = value

    for v in VERDICT_ORDER:
        rule = ET.SubElement(style, f"{{{SE}}}Rule")
        ET.SubElement(rule, f"{{{SE}}}Name").text = v
        ET.SubElement(ET.SubElement(rule, f"{{{SE}}}Description"), f"{{{SE}}}Title").text = VERDICT_LABELS[v]
        eq = ET.SubElement(ET.SubElement(rule, f"{{{OGC}}}Filter"), f"{{{OGC}}}PropertyIsEqualTo")
        ET.SubElement(eq, f"{{{OGC}}}PropertyName").text = verdict_field
        ET.SubElement(eq, f"{{{OGC}}}Literal").text = v
        color, outline = VERDICT_COLORS[v], STROKES[v]
        if kind == "fill":
            sym = ET.SubElement(rule, f"{{{SE}}}PolygonSymbolizer")
            fill = ET.SubElement(sym, f"{{{SE}}}Fill")
            param(fill, "SvgParameter", "fill", color)
            param(fill, "SvgParameter", "fill-opacity", "0.67")
            stroke = ET.SubElement(sym, f"{{{SE}}}Stroke")
            param(stroke, "SvgParameter", "stroke", outline)
            param(stroke, "SvgParameter", "stroke-width", "1.5")
        elif kind == "line":
            stroke = ET.SubElement(ET.SubElement(rule, f"{{{SE}}}LineSymbolizer"), f"{{{SE}}}Stroke")
            param(stroke, "SvgParameter", "stroke", color)
            param(stroke, "SvgParameter", "stroke-width", "2")
        else:
            graphic = ET.SubElement(ET.SubElement(rule, f"{{{SE}}}PointSymbolizer"), f"{{{SE}}}Graphic")
            mark = ET.SubElement(graphic, f"{{{SE}}}Mark")
            ET.SubElement(mark, f"{{{SE}}}WellKnownName").text = "circle"
            param(ET.SubElement(mark, f"{{{SE}}}Fill"), "SvgParameter", "fill", color)
            ET.SubElement(graphic, f"{{{SE}}}Size").text = "10"
    rule = ET.SubElement(style, f"{{{SE}}}Rule")
    ET.SubElement(rule, f"{{{SE}}}Name").text = "labels"
    ET.SubElement(rule, f"{{{SE}}}MaxScaleDenominator").text = str(LABEL_MIN_SCALE)
    text = ET.SubElement(rule, f"{{{SE}}}TextSymbolizer")
    ET.SubElement(ET.SubElement(text, f"{{{SE}}}Label"), f"{{{OGC}}}PropertyName").text = label_field
    font = ET.SubElement(text, f"{{{SE}}}Font")
    param(font, "SvgParameter", "font-size", "11")
    point = ET.SubElement(ET.SubElement(text, f"{{{SE}}}LabelPlacement"), f"{{{SE}}}PointPlacement")
    anchor = ET.SubElement(point, f"{{{SE}}}AnchorPoint")  # the label's left middle, beside the symbol
    ET.SubElement(anchor, f"{{{SE}}}AnchorPointX").text = "0"
    ET.SubElement(anchor, f"{{{SE}}}AnchorPointY").text = "0.5"
    shift = ET.SubElement(point, f"{{{SE}}}Displacement")
    ET.SubElement(shift, f"{{{SE}}}DisplacementX").text = "12"
    ET.SubElement(shift, f"{{{SE}}}DisplacementY").text = "0"
    halo = ET.SubElement(text, f"{{{SE}}}Halo")
    ET.SubElement(halo, f"{{{SE}}}Radius").text = "1.5"
    param(ET.SubElement(halo, f"{{{SE}}}Fill"), "SvgParameter", "fill", "#ffffff")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_qgis_style(gpkg_path: str | Path, layer: str = "sites") -> None:
    """Store the default QGIS style for ``layer`` in the GeoPackage's ``layer_styles`` table.

    Replaces an earlier sitescreen style for the layer and makes it the layer's only default;
    other styles stay. Raises :class:`OutputError` if the file or the layer is missing.
    """
    path = Path(gpkg_path)
    if not path.is_file():
        raise OutputError(f"{path}: GeoPackage not found; cannot store the QGIS style")
    try:
        con = sqlite3.connect(path)
    except sqlite3.Error as exc:  # pragma: no cover - sqlite opens any path lazily
        raise OutputError(f"{path}: cannot open as a GeoPackage ({exc})") from None
    try:
        with con:
            try:
                row = con.execute("SELECT column_name, geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                  (layer,)).fetchone()
            except sqlite3.DatabaseError as exc:
                raise OutputError(f"{path}: not a GeoPackage ({exc})") from None
            if row is None:
                tables = [r[0] for r in con.execute("SELECT table_name FROM gpkg_geometry_columns")]
                raise OutputError(f"{path}: no layer {layer!r} with geometry; layers: {', '.join(tables) or 'none'}")
            geom_col, geom_type = row
            con.execute(_CREATE)
            has_contents = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'").fetchone()
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
            if has_contents:  # keep the GeoPackage valid: every user table is listed in gpkg_contents
                con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                            "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                            "'QGIS layer styles', ?)", (now,))
            con.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?", (layer, STYLE_NAME))
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                "styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL, ?)",
                (layer, geom_col, STYLE_NAME, style_qml(geom_type), style_sld(layer, geom_type),
                 "Sites coloured by verdict, labelled by name (written by sitescreen)", now))
    except sqlite3.Error as exc:
        raise OutputError(f"{path}: cannot store the QGIS style ({exc})") from None
    finally:
        con.close()
    log.debug("%s: QGIS style %r stored for layer %r", path, STYLE_NAME, layer)
