"""The interactive map of a screening: a Folium map that stays fast at 100,000 sites.

Sites and input layers are not Folium ``GeoJson`` layers (a 100k-site GeoJSON map is 150 MB and
does not open). Instead every geometry is projected to Web Mercator here, simplified for display,
clipped to the area around the sites, quantized and delta-encoded into compact JSON, and drawn by
``assets/sitescreen-map.js`` into canvas tiles; tooltips and popups are built in the browser from
per-column arrays when a site is hovered or clicked. Scoring geometry is never touched: only the
copies made for display are simplified.

Every value from a data file reaches the page as JSON inside ``<script type="application/json">``
(made safe by :func:`htmlsafe.script_json`) and is escaped again when it meets HTML in the browser.
Nothing from the data passes through Folium's templates, which Jinja would evaluate.

In self-contained mode (the default) Leaflet's JS and CSS (with its images) come from the installed
``xstatic-leaflet`` package and are inlined; the page then references no network resource except
basemap tiles, and works without them.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterable, Mapping

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement

from sitescreen.errors import CRSError, SitescreenError
from sitescreen.outputs import layernames, maphexes, maplayers, maplegend, mapnotice, packing, payload, reweight
from sitescreen.outputs.htmlsafe import esc, script_json
from sitescreen.outputs.payload import MAX_ZOOM
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import STROKES
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.wording import NO_DATA, NOT_EVALUATED
from sitescreen.record.manifest import RunRecord, as_record

log = logging.getLogger(__name__)

__all__ = ["BASEMAPS", "Basemap", "DisplayLayer", "build_map", "render_map"]

LEAFLET_CDN_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CDN_CSS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"


# ------------------------------------------------------------------------------------------
# Public types and registries


@dataclass(frozen=True)
class DisplayLayer:
    """An input layer as shown on the map: its name, role, and features (any CRS).

    A ``name`` column, when present, is shown when a feature is clicked.
    """

    name: str
    role: str
    gdf: gpd.GeoDataFrame


@dataclass(frozen=True)
class Basemap:
    """A tile service the map can show under the data."""

    key: str
    label: str
    url: str | None
    attribution: str
    max_native_zoom: int = MAX_ZOOM


#: Basemaps by the name the CLI accepts (``--basemap``).
BASEMAPS: dict[str, Basemap] = {
    "osm": Basemap(
        "osm", "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors', 19),
    "imagery": Basemap(
        "imagery", "Imagery (USGS)",
        "https://basemap.nationalmap.gov/arcgis/rest/services/USGSImageryOnly/MapServer/tile/{z}/{y}/{x}",
        'Imagery: <a href="https://www.usgs.gov/programs/national-geospatial-program/national-map">USGS The National Map</a>',
        16),
    "none": Basemap("none", "No basemap", None, ""),
}


def _template_safe(html: str) -> str:
    """HTML that passes through Folium's Jinja templates unevaluated (no braces left)."""
    return html.replace("{", "&#123;").replace("}", "&#125;")


# ------------------------------------------------------------------------------------------
# Folium elements


class _Raw(Element):
    """Text placed in the page verbatim (never parsed as a template)."""

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class _Script(MacroElement):
    """A script line built only from generated identifiers and JSON."""

    def __init__(self, code: str):
        super().__init__()
        self._code = code

    def render(self, **kwargs: Any) -> None:
        self.get_root().script.add_child(_Raw(self._code), name=self.get_name())


class _DataLayer(folium.map.Layer):
    """A layer-control entry whose JS object is made by a ``sitescreen.*`` factory."""

    def __init__(self, name_html: str, factory: str, payload: str | None = None, *, overlay: bool = True,
                 control: bool = True, show: bool = True):
        super().__init__(name=_template_safe(name_html), overlay=overlay, control=control, show=show)
        self._factory = factory
        self._payload = payload

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        map_name = self._parent.get_name()
        if self._payload is not None:
            figure.html.add_child(_Raw(packing.data_element(f"{self.get_name()}-data", self._payload)),
                                  name=self.get_name() + "-data")
        code = self._factory.replace("MAP", map_name).replace("DATA", f'"{self.get_name()}-data"')
        figure.script.add_child(_Raw(f"var {self.get_name()} = {code};\n"), name=self.get_name())
        if self.show:
            figure.script.add_child(_Raw(f"{self.get_name()}.addTo({map_name});\n"), name=self.get_name() + "_add")


class _SitescreenMap(folium.Map):
    """folium.Map loading only Leaflet (no jQuery, Bootstrap or icon fonts: nothing uses them)."""

    default_js = [("leaflet", LEAFLET_CDN_JS)]
    default_css = [("leaflet_css", LEAFLET_CDN_CSS)]


def _asset(name: str) -> str:
    return resources.files("sitescreen.outputs.assets").joinpath(name).read_text(encoding="utf-8")


def _leaflet_inline() -> tuple[str, str]:
    """Leaflet's JS and CSS from the installed xstatic-leaflet package, images as data: URIs."""
    try:
        import xstatic.pkg.leaflet as xl
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SitescreenError("self-contained maps need the xstatic-leaflet package (pip install xstatic-leaflet)") from exc
    base = resources.files(xl).joinpath("data")
    js = base.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = base.joinpath("leaflet.css").read_text(encoding="utf-8")

    def data_uri(m: re.Match[str]) -> str:
        data = base.joinpath("images", m.group(2)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"""url\((['"]?)images/([\w.-]+\.png)\1\)""", data_uri, css)
    return js, css


def _inline_script(js: str) -> str:
    return "<script>" + js.replace("</script", "<\\/script") + "</script>"


_TAG = re.compile(r"<(script|link)\b[^>]*>", re.IGNORECASE)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_CSS_EXTERNAL = re.compile(r"""@import|@font-face|url\(\s*["']?(?!data:|#)[^)\s"']""", re.IGNORECASE)


def external_resources(html: str) -> list[str]:
    """Scripts, stylesheets and fonts that ``html`` would load from another file or the network.

    Looks at markup only (``<script src>``, ``<link href>``, and ``@import``/``url()``/``@font-face``
    inside ``<style>``), so data text that merely mentions a URL is not a reference.
    """
    found = [m.group(0) for m in _TAG.finditer(html)
             if re.search(r"\s(src|href)\s*=", m.group(0), re.IGNORECASE)]
    for style in _STYLE.finditer(html):
        found += [style.group(1)[m.start():m.start() + 60] for m in _CSS_EXTERNAL.finditer(style.group(1))]
    return found


# ------------------------------------------------------------------------------------------
# Public API


def _check_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    missing = [c for c in ("site_id", "name", "verdict", "score") if c not in sites.columns]
    if missing:
        raise SitescreenError(f"result sites lack column(s) {', '.join(missing)}; "
                              "expected site_id, name, verdict, score, reasons, m_*/s_* columns")
    if sites.crs is None:
        raise CRSError("result sites have no CRS; cannot place them on the map")
    bad = sorted(set(sites["verdict"].dropna().astype(str)) - set(VERDICT_ORDER))
    if bad or sites["verdict"].isna().any():
        shown = bad or ["(missing)"]
        raise SitescreenError(f"unknown verdict(s) {', '.join(map(repr, shown))} in result sites; "
                              f"allowed: {', '.join(VERDICT_ORDER)}")
    return sites


def build_map(sites: gpd.GeoDataFrame, layers: Iterable[DisplayLayer], manifest: RunRecord | Mapping[str, Any] | None, *,
              self_contained: bool = True, basemap: str = "osm") -> folium.Map:
    """The screening map: input layers by role, sites by verdict, popups with the full breakdown.

    ``sites`` follows the results contract (site_id, name, verdict, score, reasons, record_ids,
    m_*/s_* columns, footprint geometry, projected CRS); ``layers`` are shown clipped to the
    area around the sites and simplified; ``manifest`` gives the title, thresholds and criteria.
    The page embeds Leaflet (``self_contained``, the default) or loads it from a CDN; until its
    script starts it shows :func:`mapnotice.scripts_failed_html` instead of a blank page.
    Render with :func:`render_map` (which also checks self-containment).
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}")
    manifest = as_record(manifest)
    _check_sites(sites)
    layers = list(layers)
    shown, geo, hidden = _shown_sites(sites)
    criteria = maplegend.criteria(manifest, sites)
    counts = {v: int(n) for v, n in shown["verdict"].value_counts().items()}
    b3857, aoi, zf, detail_zoom = _view(shown, geo)
    site_payload = payload.site_payload(shown, geo, criteria)
    layer_payloads = maplayers.layer_payloads(layers, aoi, 0.5 * payload.pixel(detail_zoom))
    for p, name in zip(layer_payloads, layernames.display_names(layers, manifest)):
        p["name"], p["file"] = name.title, name.file
    meta = _meta(counts, criteria, zf)
    m = _new_map(manifest, self_contained)
    lat0, lat1 = _fit_view(m, b3857)
    _add_basemaps(m, basemap)
    sites_layer = _add_sites(m, site_payload, meta, counts)
    _add_layers(m, layer_payloads)
    mid_lat = (lat0 + lat1) / 2
    tol = max((p["tolerance_m"] for p in layer_payloads if p["count"]), default=None)
    if tol is not None:
        tol *= math.cos(math.radians(mid_lat))  # Web Mercator units to metres on the ground
    opts = {"title": maplegend.title_html(manifest, len(shown), counts),
            "legend": maplegend.legend_html(counts, maplegend.verdict_meaning(manifest), layer_payloads, zf, mid_lat, tol, hidden)}
    if hexes := maphexes.page_call(geo.anchor, shown["verdict"], m.get_name(), sites_layer.get_name()):
        _Script(hexes).add_to(m)  # the low-zoom hexagons of a big map
    _Script(f"sitescreen.init({m.get_name()}, {script_json(opts)});"
            f"{sites_layer.get_name()}.addTo({m.get_name()});").add_to(m)
    rw = reweight.reweight_data(shown, manifest)
    if rw is not None:  # live re-weighting (assets/sitescreen-reweight.js)
        head, body, call = reweight.page_parts(rw, m.get_name())
        m.get_root().header.add_child(_Raw(head), name="sitescreen_reweight")
        m.get_root().html.add_child(_Raw(body), name="sitescreen_reweight_data")
        _Script(call).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def _shown_sites(sites: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, payload.SiteGeometry, int]:
    """The sites with a geometry, in spatial order, their geometry facts, and how many are hidden."""
    empty = sites.geometry.isna() | sites.geometry.is_empty
    hidden = int(empty.sum())
    if hidden:
        log.warning("%d site(s) have no geometry and are not shown on the map", hidden)
    shown = sites[~empty]
    geo = payload.site_geometry(shown)
    if len(shown):  # spatial order: short coordinate deltas, compact payload
        order = np.argsort(gpd.GeoSeries(shapely.points(geo.anchor)).hilbert_distance(level=16).to_numpy(), kind="stable")
        shown, geo = shown.iloc[order], geo.take(order)
    return shown, geo, hidden


def _view(shown: gpd.GeoDataFrame, geo: payload.SiteGeometry) -> tuple[np.ndarray, tuple[float, float, float, float], int, int]:
    """The view and the detail zoom follow the sites: their EPSG:3857 bounds, the area of interest
    around them, the footprint zoom and the detail zoom."""
    if len(shown):
        pad = float(geo.half.max())
        b3857 = np.r_[geo.anchor.min(axis=0) - pad, geo.anchor.max(axis=0) + pad]
        fp_size = float(np.median(2 * geo.half))
    else:
        b3857 = np.array([-1.39e7, 2.8e6, -7.35e6, 6.4e6])  # the lower 48, for an empty run
        fp_size = 0.0
    w, h = b3857[2] - b3857[0], b3857[3] - b3857[1]
    margin = max(0.5 * max(w, h), 20_000.0)
    aoi = (max(b3857[0] - margin, -payload.HALF), max(b3857[1] - margin, -payload.HALF),
           min(b3857[2] + margin, payload.HALF), min(b3857[3] + margin, payload.HALF))
    zf = int(min(max(math.ceil(payload.zoom_for(fp_size, 16)), 3), 17)) if fp_size > 0 else MAX_ZOOM + 1
    detail_zoom = min(max(zf + 2, 10), 16)
    return b3857, aoi, zf, detail_zoom


def _meta(counts: Mapping[str, int], criteria: list[dict[str, Any]], zf: int) -> dict[str, Any]:
    return {
        "verdicts": [{"key": v, "label": VERDICT_LABELS[v], "color": VERDICT_COLORS[v],
                      "stroke": STROKES[v], "count": counts.get(v, 0), "unscored": v in maplegend.UNSCORED}
                     for v in VERDICT_ORDER],
        "dots": maplegend.DOTS,
        "criteria": [{k: c[k] for k in ("name", "label", "unit", "weight", "effective_weight", "rule", "exclusion",
                                        "safeguard", "source", "evaluated", "note")} for c in criteria],
        "nodata": NO_DATA, "notevaluated": NOT_EVALUATED,
        "zf": zf,
    }


def _new_map(manifest: RunRecord | None, self_contained: bool) -> folium.Map:
    """The page: Leaflet (from a CDN or inlined) and the map's own script and styles."""
    m = _SitescreenMap(location=[0, 0], zoom_start=2, tiles=None, control_scale=True,
                       maxZoom=MAX_ZOOM, minZoom=2)
    title = maplegend.map_title(manifest)
    m.get_root().title = esc(title)
    root = m.get_root()
    root._template = packing.page_template()  # the page's script starts once its packed data is unpacked (packing.py)
    if self_contained:
        m.default_js, m.default_css = [], []
        js, css = _leaflet_inline()
        root.header.add_child(_Raw(f"<style>{css}</style>"), name="leaflet_css")
        root.header.add_child(_Raw(_inline_script(js)), name="leaflet")
    root.html.add_child(_Raw(mapnotice.scripts_failed_html(self_contained)), name="ss_noscript")
    root.header.add_child(_Raw(f"<style>{_asset('sitescreen-map.css')}</style>"), name="sitescreen_css")
    root.header.add_child(_Raw(_inline_script(_asset("sitescreen-unpack.js") + _asset("sitescreen-varint.js") + _asset("sitescreen-map.js") + _asset("sitescreen-hexes.js"))), name="sitescreen_js")
    return m


def _fit_view(m: folium.Map, b3857: np.ndarray) -> tuple[float, float]:
    """Fit the map to the sites' bounds; returns their latitudes (south, north)."""
    lon0, lat0 = payload.lonlat(b3857[0], b3857[1])
    lon1, lat1 = payload.lonlat(b3857[2], b3857[3])
    bounds = [[float(lat0), float(lon0)], [float(lat1), float(lon1)]]
    _Script(f"sitescreen.fitView({m.get_name()}, {script_json(bounds)}, 15);").add_to(m)
    return lat0, lat1


def _add_basemaps(m: folium.Map, basemap: str) -> None:
    """The basemaps: the chosen one on, the other offered in the layer control."""
    base = BASEMAPS[basemap]
    if base.url:
        for key in [basemap] + [k for k in BASEMAPS if k not in (basemap, "none")]:
            b = BASEMAPS[key]
            folium.TileLayer(tiles=b.url, attr=b.attribution, name=b.label, max_zoom=MAX_ZOOM,
                             max_native_zoom=b.max_native_zoom, overlay=False, control=True,
                             show=key == basemap).add_to(m)
    else:
        _Script(f"{m.get_name()}.getContainer().classList.add('ss-nobase');").add_to(m)


def _add_sites(m: folium.Map, site_payload: dict[str, Any], meta: dict[str, Any],
               counts: Mapping[str, int]) -> _DataLayer:
    """The sites layer with its meta data, and one layer-control toggle per verdict present."""
    sites_layer = _DataLayer("sites", "sitescreen.sitesLayer(MAP, DATA, META)", payload.dumps(site_payload),
                             control=False, show=False)
    sites_layer._factory = sites_layer._factory.replace("META", f'"{sites_layer.get_name()}-meta"')
    sites_layer.add_to(m)
    m.get_root().html.add_child(
        _Raw(f'<script type="application/json" id="{sites_layer.get_name()}-meta">{script_json(meta)}</script>'),
        name=sites_layer.get_name() + "-meta")
    first = True
    for v in VERDICT_ORDER:
        if not counts.get(v):
            continue
        label = (f'{"<span class=ss-lc-first-sites></span>" if first else ""}'
                 f'<span class="ss-dot" style="background:{VERDICT_COLORS[v]}"></span>{esc(VERDICT_LABELS[v])}'
                 f'<span class="ss-lc-count">{counts[v]:,}</span>')
        first = False
        _DataLayer(label, f"sitescreen.verdictToggle({sites_layer.get_name()}, {script_json(v)}, true)").add_to(m)
    return sites_layer


def _add_layers(m: folium.Map, layer_payloads: list[dict[str, Any]]) -> None:
    """One layer-control entry per input layer (names kept distinct)."""
    used: set[str] = set()
    for p in layer_payloads:
        name = f'<span class="ss-swatch" style="{p["style"]["swatch"]}"></span>{maplegend.layer_title_html(p)}' \
               f'<span class="ss-lc-count">{p["count"]:,}</span>'
        if not used:
            name = '<span class="ss-lc-first-layers"></span>' + name
        while name in used:
            name += "&#8203;"
        used.add(name)
        _DataLayer(name, "sitescreen.featureLayer(MAP, DATA)", payload.dumps(p)).add_to(m)


def render_map(sites: gpd.GeoDataFrame, layers: Iterable[DisplayLayer], manifest: RunRecord | Mapping[str, Any] | None, *,
               self_contained: bool = True, basemap: str = "osm") -> str:
    """The full HTML of :func:`build_map`'s map; in self-contained mode it is verified to load
    no script, stylesheet or font from anywhere else."""
    m = build_map(sites, layers, manifest, self_contained=self_contained, basemap=basemap)
    html = m.get_root().render()
    if self_contained:
        found = external_resources(html)
        if found:
            raise SitescreenError(f"self-contained map still references external resources: {found[:3]}")
    return html
