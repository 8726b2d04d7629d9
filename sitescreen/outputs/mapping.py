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

In self-contained mode Leaflet's JS and CSS (with its images) come from the installed
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
from typing import Any, Iterable, Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement

from sitescreen.errors import CRSError, SitescreenError
from sitescreen.outputs.htmlsafe import esc, script_json
from sitescreen.values import text_values
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import STROKES, meanings
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.wording import (NO_DATA, NOT_EVALUATED, exclusion_text, measure_texts, number, search_radius,
                                      suitability_texts, transform_text, weight_text)
from sitescreen.run.record import RunRecord, as_record

log = logging.getLogger(__name__)

__all__ = ["BASEMAPS", "Basemap", "DisplayLayer", "ROLE_STYLES", "build_map", "render_map"]

WEB_MERCATOR = "EPSG:3857"
_HALF = math.pi * 6378137.0
_WORLD = 2 * _HALF
MAX_ZOOM = 19
#: Total vertices kept across all display layers; the tolerance doubles until they fit.
VERTEX_BUDGET = 2_500_000
#: Layers with more features than this are drawn without their feature names (payload size).
NAMED_FEATURE_LIMIT = 50_000

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

#: Canvas styles by layer role; unknown roles take a colour from ``_PALETTE``.
ROLE_STYLES: dict[str, dict[str, Any]] = {
    "protected": {"stroke": "#2f6b34", "fill": "#6fae6a", "fillOpacity": 0.22, "weight": 1.3, "hatch": True},
    "wilderness": {"stroke": "#1f5130", "fill": "#4f8f5a", "fillOpacity": 0.28, "weight": 1.3, "hatch": True},
    "federal_land": {"stroke": "#a8781c", "fill": "#f2d479", "fillOpacity": 0.3, "weight": 0.9},
    "watershed": {"stroke": "#2563a8", "fill": "#5b9bd5", "fillOpacity": 0.05, "weight": 1.2, "dash": [6, 4]},
    "water": {"stroke": "#1d6fb8", "fill": "#7fb6e6", "fillOpacity": 0.35, "weight": 1.2},
    "streams": {"stroke": "#1d6fb8", "fill": None, "weight": 1.4},
    "deposits": {"stroke": "#3b1f5c", "fill": "#7c4dba", "fillOpacity": 0.9, "radius": 3.5, "shape": "diamond", "weight": 1},
}
_PALETTE = ["#8e5ea2", "#3c8dbc", "#c2549d", "#6b8e23", "#d2691e", "#4b6584", "#b8860b"]


# ------------------------------------------------------------------------------------------
# Compact encodings (decoded by assets/sitescreen-map.js)


def _uvarint(values: np.ndarray) -> str:
    """Non-negative integers as 5-bit chunks, low first, 0x20 = more, offset 63 (polyline)."""
    z = np.asarray(values, dtype=np.uint64)
    if z.size == 0:
        return ""
    nch = np.ones(z.shape, dtype=np.int64)
    t = z >> np.uint64(5)
    while t.any():
        nch += t > 0
        t >>= np.uint64(5)
    vi = np.repeat(np.arange(z.size), nch)
    starts = np.cumsum(nch) - nch
    k = (np.arange(vi.size) - starts[vi]).astype(np.uint64)
    chunk = (z[vi] >> (np.uint64(5) * k)) & np.uint64(31)
    more = (k < (nch[vi] - 1).astype(np.uint64)).astype(np.uint64) << np.uint64(5)
    return ((chunk | more) + np.uint64(63)).astype(np.uint8).tobytes().decode("ascii")


def _zigzag_deltas(q: np.ndarray) -> str:
    """Interleaved x,y integer coordinates as zigzag deltas (one continuous stream)."""
    if len(q) == 0:
        return ""
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).reshape(-1)
    return _uvarint(np.where(d < 0, -2 * d - 1, 2 * d))


def _dict_column(values: Sequence[Any]) -> dict[str, Any] | None:
    """Strings dictionary-encoded: ``{"dict": [...], "idx": varints}`` with 0 meaning missing."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if len(uniques) == 0:
        return None
    return {"dict": [str(u) for u in uniques], "idx": _uvarint(codes + 1)}


def _text_column(values: Sequence[Any]) -> dict[str, Any] | None:
    """Strings for a column: dictionary-encoded when values repeat, else a plain list."""
    ser = pd.Series(values, dtype=object)
    present = ser.notna()
    if not present.any():
        return None
    uniques = ser[present].nunique()
    if uniques * 2 > len(ser):
        return {"list": ser.where(present, None).map(lambda v: v if v is None else str(v)).tolist()}
    return _dict_column(ser.tolist())


class _RawJSON(str):
    """JSON text inserted verbatim by :func:`_dumps`."""


def _dumps(obj: Any) -> str:
    """script_json() that splices pre-serialized :class:`_RawJSON` parts in without re-encoding."""
    raws: list[str] = []

    def swap(o: Any) -> Any:
        if isinstance(o, _RawJSON):
            raws.append(o)
            return f"\x00{len(raws) - 1}\x00"
        if isinstance(o, dict):
            return {k: swap(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            if o and all(isinstance(v, (str, int, float)) and not isinstance(v, _RawJSON) for v in o[:1]) and \
                    not any(isinstance(v, _RawJSON) for v in o):
                return o
            return [swap(v) for v in o]
        return o

    text = script_json(swap(obj))
    return re.sub(r'"\\u0000(\d+)\\u0000"', lambda m: raws[int(m.group(1))], text)


def _encode_geoms(geoms: np.ndarray, kind: str, q: float) -> tuple[dict[str, Any], np.ndarray]:
    """Encode shapely geometries (EPSG:3857) of one kind; returns (block, kept-feature mask).

    Rings lose their closing vertex, coordinates are rounded to multiples of ``q`` metres and
    consecutive duplicates dropped; polygon rings left with fewer than 3 vertices are dropped, and
    so are features left with no ring.
    """
    n = len(geoms)
    if kind == "polygon":
        geoms = shapely.orient_polygons(geoms)
        parts, part_feat = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        ring_feat = part_feat[ring_part]
        min_vertices = 3
    else:
        rings, ring_feat = shapely.get_parts(geoms, return_index=True)
        min_vertices = 2 if kind == "line" else 1
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    qc = np.round(coords / q).astype(np.int64)
    keep = np.ones(len(qc), dtype=bool)
    if len(qc):
        same_ring = ring_of[1:] == ring_of[:-1]
        if kind == "polygon":
            keep[:-1] &= same_ring  # drop each ring's closing vertex
            keep[-1] = False
        dup = np.zeros(len(qc), dtype=bool)
        dup[1:] = same_ring & (qc[1:] == qc[:-1]).all(axis=1)
        keep &= ~dup
    qc, ring_of = qc[keep], ring_of[keep]
    nv = np.bincount(ring_of, minlength=len(rings))
    ok_ring = nv >= min_vertices
    vmask = ok_ring[ring_of]
    qc = qc[vmask]
    nr = np.bincount(ring_feat[ok_ring], minlength=n)
    kept = nr > 0
    block = {
        "type": kind, "n": int(kept.sum()), "nrings": int(ok_ring.sum()), "nvtx": int(len(qc)), "q": q,
        "xy": _zigzag_deltas(qc),
        "nv": None if kind == "point" else _uvarint(nv[ok_ring]),
        "nr": None if (nr[kept] == 1).all() else _uvarint(nr[kept]),
    }
    return block, kept


# ------------------------------------------------------------------------------------------
# Display preparation


def _zoom_for(size_3857: float, pixels: float) -> float:
    """The zoom at which ``size_3857`` metres of Web Mercator span ``pixels`` screen pixels."""
    return math.log2(pixels * _WORLD / (256 * max(size_3857, 1e-6)))


def _pixel(zoom: float) -> float:
    return _WORLD / (256 * 2 ** zoom)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 metres to longitude, latitude (spherical Mercator inverse)."""
    return math.degrees(x / 6378137.0), math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)


def _as_array(gs: gpd.GeoSeries) -> np.ndarray:
    return np.asarray(gs.values, dtype=object)


def _style_for(role: str, index: int) -> dict[str, Any]:
    style = dict(ROLE_STYLES.get(role) or {
        "stroke": _PALETTE[index % len(_PALETTE)], "fill": _PALETTE[index % len(_PALETTE)],
        "fillOpacity": 0.18, "weight": 1.2, "radius": 3.5})
    fill = style.get("fill")
    if fill and style.get("hatch"):
        swatch = (f"background:repeating-linear-gradient(135deg,{style['stroke']} 0 1.5px,"
                  f"{_rgba(fill, 0.35)} 1.5px 4px);border:1.5px solid {style['stroke']}")
    elif fill:
        swatch = f"background:{_rgba(fill, max(style.get('fillOpacity', 0.3), 0.3))};border:1.5px solid {style['stroke']}"
    else:
        dash = "dashed" if style.get("dash") else "solid"
        swatch = f"background:transparent;border:2px {dash} {style['stroke']}"
    style["swatch"] = swatch
    return style


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def _aoi_filter(gdf: gpd.GeoDataFrame, aoi: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Features whose envelope meets the area of interest (EPSG:3857 bounds), via the index."""
    box = shapely.segmentize(shapely.box(*aoi), (aoi[2] - aoi[0]) / 16)
    src_bounds = gpd.GeoSeries([box], crs=WEB_MERCATOR).to_crs(gdf.crs).total_bounds
    if not np.all(np.isfinite(src_bounds)):
        return gdf
    idx = gdf.sindex.query(shapely.box(*src_bounds), predicate="intersects")
    return gdf.iloc[np.sort(idx)]


def _prepare_layer(layer: DisplayLayer, aoi: tuple[float, float, float, float]) -> tuple[dict[str, np.ndarray], Any]:
    """Clip a layer to the AOI in EPSG:3857; returns geometries by kind and the names."""
    gdf = layer.gdf
    if gdf.crs is None:
        raise CRSError(f"display layer {layer.name!r} has no CRS; cannot place it on the map")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if len(gdf):
        gdf = _aoi_filter(gdf, aoi)
    geoms = _as_array(gdf.geometry.to_crs(WEB_MERCATOR)) if len(gdf) else np.array([], dtype=object)
    names = gdf["name"].to_numpy(dtype=object) if "name" in gdf.columns else None
    aoi_box = shapely.box(*aoi)
    shapely.prepare(aoi_box)
    inside = shapely.contains_properly(aoi_box, geoms)
    if (~inside).any():
        geoms = geoms.copy()
        geoms[~inside] = shapely.clip_by_rect(geoms[~inside], *aoi)
    type_ids = shapely.get_type_id(geoms)
    kinds = {"polygon": np.isin(type_ids, (3, 6)), "line": np.isin(type_ids, (1, 2, 5)), "point": np.isin(type_ids, (0, 4))}
    collections = np.flatnonzero(type_ids == 7)
    if len(collections):  # clipping can return collections: keep their polygons
        geoms = geoms.copy()
        for i in collections:
            polys = [p for p in shapely.get_parts(geoms[i]) if shapely.get_type_id(p) in (3, 6)]
            geoms[i] = shapely.union_all(polys) if polys else shapely.Polygon()
        kinds["polygon"][collections] = True
    by_kind = {k: np.flatnonzero(m & ~shapely.is_empty(geoms)) for k, m in kinds.items()}
    return {k: geoms[i] for k, i in by_kind.items() if len(i)}, (names, by_kind)


def _simplify(geoms: np.ndarray, tol: float) -> np.ndarray:
    """Fast simplification; features it would collapse are simplified preserving topology instead,
    so a small protected area stays on the map as a small shape."""
    out = shapely.simplify(geoms, tol, preserve_topology=False)
    lost = shapely.is_empty(out) & ~shapely.is_empty(geoms)
    if lost.any():
        out[lost] = shapely.simplify(geoms[lost], tol, preserve_topology=True)
    return out


def _layer_payloads(layers: Sequence[DisplayLayer], aoi: tuple[float, float, float, float],
                    base_tol: float) -> list[dict[str, Any]]:
    prepared = [(layer, *_prepare_layer(layer, aoi)) for layer in layers]
    tol = base_tol
    for _ in range(10):
        simplified = []
        total = 0
        for layer, groups, _ in prepared:
            out = {}
            for kind, geoms in groups.items():
                g = geoms if kind == "point" else _simplify(geoms, tol)
                out[kind] = g
                total += int(shapely.get_num_coordinates(g).sum()) - (len(g) if kind == "polygon" else 0)
            simplified.append(out)
        if total <= VERTEX_BUDGET:
            break
        log.info("display layers have %d vertices at %.0f m tolerance; simplifying further", total, tol)
        tol *= 2
    payloads = []
    for i, ((layer, _, (names, by_kind)), groups) in enumerate(zip(prepared, simplified)):
        style = _style_for(layer.role, i)
        blocks = []
        count = 0
        with_names = names is not None and sum(len(g) for g in groups.values()) <= NAMED_FEATURE_LIMIT
        if names is not None and not with_names:
            log.info("layer %r: more than %d features; drawn without feature names", layer.name, NAMED_FEATURE_LIMIT)
        for kind, geoms in groups.items():
            block, kept = _encode_geoms(geoms, kind, 1.0 if kind == "point" else max(tol / 2, 0.5))
            if with_names:
                block["names"] = _text_column(names[by_kind[kind]][kept])
            blocks.append(block)
            count += block["n"]
        payloads.append({"name": layer.name, "role": layer.role, "style": style, "groups": blocks,
                         "count": count, "tolerance_m": tol, "named": with_names})
        log.debug("layer %r: %d features for display", layer.name, count)
    return payloads


@dataclass(frozen=True)
class _SiteGeometry:
    """Where each site is drawn: an anchor in EPSG:3857, a ground radius for circular footprints
    (buffered points; 0 otherwise) and the footprint's half-size in EPSG:3857 units."""

    anchor: np.ndarray
    radius: np.ndarray
    half: np.ndarray

    def take(self, order: np.ndarray) -> "_SiteGeometry":
        return _SiteGeometry(self.anchor[order], self.radius[order], self.half[order])


def _site_geometry(sites: gpd.GeoDataFrame) -> _SiteGeometry:
    """Anchors and footprint facts without reprojecting whole footprints (100k × 64 vertices)."""
    geom = _as_array(sites.geometry)
    n = len(geom)
    radius = np.zeros(n)
    if sites.crs.is_projected:
        cent = shapely.centroid(geom)
        # a buffered point: one ring, no holes, every vertex at the same distance from the centroid
        coords, which = shapely.get_coordinates(shapely.get_exterior_ring(geom), return_index=True)
        if len(coords):
            d = np.hypot(*(coords - shapely.get_coordinates(cent)[which]).T)
            nvert = np.bincount(which, minlength=n)
            safe = np.minimum(np.searchsorted(which, np.arange(n)), len(d) - 1)
            dmax = np.where(nvert > 0, np.maximum.reduceat(d, safe), 0)
            dmin = np.where(nvert > 0, np.minimum.reduceat(d, safe), 0)
            circle = (shapely.get_type_id(geom) == 3) & (shapely.get_num_interior_rings(geom) == 0) & \
                (nvert >= 16) & (dmax - dmin <= 1e-3 * dmax + 0.01)
            radius = np.where(circle, dmax, 0.0)
        anchor = np.where(radius > 0, cent, shapely.point_on_surface(geom))
        anchor3857 = shapely.get_coordinates(_as_array(gpd.GeoSeries(anchor, crs=sites.crs).to_crs(WEB_MERCATOR)))
        b = shapely.bounds(geom)
        scale = np.cosh(anchor3857[:, 1] / 6378137.0)  # Web Mercator scale at the anchor's latitude
        half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2 * scale
    else:
        g3857 = sites.geometry.to_crs(WEB_MERCATOR)
        anchor3857 = shapely.get_coordinates(_as_array(g3857.representative_point()))
        b = g3857.bounds.to_numpy()
        half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2
    return _SiteGeometry(anchor3857, radius, np.nan_to_num(half))


def _text_list(col: pd.Series) -> list[str]:
    return text_values(col).tolist()


def _site_payload(sites: gpd.GeoDataFrame, geo: _SiteGeometry, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """Sites (already in spatial order) as compact columns, decoded by sitescreen-map.js."""
    n = len(sites)
    radius = geo.radius
    fp_rows = np.flatnonzero((radius == 0) & (shapely.get_type_id(_as_array(sites.geometry)) >= 3))
    fp_block = None
    if len(fp_rows):
        fp = _as_array(sites.geometry.iloc[fp_rows].to_crs(WEB_MERCATOR))
        fp = shapely.simplify(fp, 1.0, preserve_topology=True)
        fp_block, kept = _encode_geoms(fp, "polygon", 1.0)
        fp_rows = fp_rows[kept]
    hasfp = np.zeros(n, dtype=bool)
    hasfp[fp_rows] = True
    anchor_xy = geo.anchor

    verdict_code = {v: i for i, v in enumerate(VERDICT_ORDER)}
    codes = sites["verdict"].map(verdict_code).to_numpy()
    score = pd.to_numeric(sites["score"], errors="coerce").to_numpy(dtype=float)
    payload: dict[str, Any] = {
        "n": n,
        "c": _zigzag_deltas(np.round(anchor_xy).astype(np.int64)),
        "v": "".join(chr(48 + int(c)) for c in codes),
        "sc": _uvarint(np.where(np.isnan(score), 0, np.clip(np.round(score * 10), 0, 1000) + 1)),
        "fpr": _uvarint(np.round(radius * 10)) if (radius > 0).any() else None,
        "fpg": fp_block,
        "hasfp": "".join("1" if h else "0" for h in hasfp) if fp_block else None,
        "id": _text_list(sites["site_id"]),
        "name": _text_list(sites["name"]),
        "rec": None,
        "rs": None,
        "m": [],
        "s": [],
    }
    if "record_ids" in sites.columns:
        rec = _text_list(sites["record_ids"])
        if any(rec):
            payload["rec"] = rec
    if "reasons" in sites.columns:
        parts = sites["reasons"].map(lambda v: [] if _missing(v) or not str(v).strip() else
                                     [p.strip() for p in str(v).split("; ") if p.strip()])
        flat = parts.explode().dropna()
        if len(flat):
            codes_r, uniq = pd.factorize(flat)
            counts = parts.map(len).to_numpy()
            seq = np.empty(n + len(codes_r), dtype=np.int64)
            pos = np.arange(n) + np.concatenate([[0], np.cumsum(counts)[:-1]])
            seq[pos] = counts
            mask = np.ones(len(seq), dtype=bool)
            mask[pos] = False
            seq[mask] = codes_r
            payload["rs"] = {"dict": [str(u) for u in uniq], "idx": _uvarint(seq), "count": int(len(seq))}
    for c in criteria:
        mcol, scol = c["measure_column"], c["score_column"]
        payload["m"].append(_measure_column(sites[mcol], c) if mcol in sites.columns else None)
        if scol in sites.columns:
            s = pd.to_numeric(sites[scol], errors="coerce").to_numpy(dtype=float)
            payload["s"].append(_words_column(suitability_texts(s), np.isnan(s)))
        else:
            payload["s"].append(None)
    return payload


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _measure_column(col: pd.Series, criterion: Mapping[str, Any]) -> dict[str, Any] | None:
    """A criterion's measurements as the popup shows them, worded by :mod:`sitescreen.rules.wording`
    (numbers with their unit; text, e.g. HUC codes even when they look numeric, as written);
    missing values are null (the popup says ``no data``)."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        values = col.to_numpy(dtype=float, na_value=np.nan)
    elif pd.api.types.infer_dtype(col, skipna=True) in ("floating", "integer", "mixed-integer-float", "decimal", "empty"):
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    else:
        values = col.to_numpy(dtype=object)
    texts = measure_texts(values, criterion["unit"], criterion["radius"])
    return _words_column(texts, pd.isna(pd.Series(values, dtype=values.dtype)).to_numpy(dtype=bool))


def _words_column(texts: np.ndarray, missing: np.ndarray) -> dict[str, Any] | None:
    """Texts for one column of the popup, dictionary-encoded when they repeat; ``missing`` ones are null."""
    if missing.all():
        return None
    out = np.asarray(texts, dtype=object).copy()
    out[missing] = None
    if len(pd.unique(out[~missing])) * 2 > len(out):
        return {"list": out.tolist()}
    return _dict_column(out.tolist())


# ------------------------------------------------------------------------------------------
# Criteria, legend and title (HTML built here is escaped here)


def _criteria(manifest: RunRecord | None, sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    if manifest is None or not manifest.criteria:  # results without a record: derive from the columns
        return [{"name": c[2:], "label": c[2:].replace("_", " "), "unit": "", "measure_column": c,
                 "score_column": f"s_{c[2:]}", "weight": weight_text(0.0), "effective_weight": 0.0, "rule": "",
                 "exclusion": exclusion_text(None, ""), "radius": None, "safeguard": "", "source": "",
                 "evaluated": True, "note": ""}
                for c in sites.columns if c.startswith("m_")]
    out = []
    for c in manifest.criteria:
        out.append({
            "name": c.name,
            "label": c.label,
            "unit": c.unit,
            "measure_column": c.measure_column,
            "score_column": c.score_column or f"s_{c.name}",
            "weight": weight_text(c.effective_weight),
            "effective_weight": c.effective_weight,
            "rule": transform_text(c.transform, c.unit) if c.transform else "",
            "exclusion": exclusion_text(c.exclusion, c.unit),
            "radius": search_radius(c.params),
            "safeguard": c.safeguard,
            "source": c.source,
            "evaluated": c.evaluated,
            "note": c.note,
        })
    return out


def _verdict_meaning(manifest: RunRecord | None) -> dict[str, str]:
    th = manifest.profile.verdicts if manifest is not None else None
    return meanings(*((th.favorable, th.review) if th is not None else (70, 40)))


def _scale_text(zoom: int, lat: float) -> str:
    """The map scale (1:N, rounded) at a zoom level and latitude, for 0.28 mm screen pixels."""
    denom = _pixel(zoom) * math.cos(math.radians(lat)) / 0.00028
    digits = max(0, len(str(int(denom))) - 2)
    return f"1:{int(round(denom, -digits)):,}"


def _legend_html(counts: Mapping[str, int], meaning: Mapping[str, str], layers: list[dict[str, Any]],
                 zf: int, lat: float, tolerance: float | None, hidden: int) -> str:
    rows = "".join(
        f'<div class="ss-row"><span class="ss-dot" style="background:{VERDICT_COLORS[v]}"></span>'
        f'<span><b>{esc(VERDICT_LABELS[v])}</b> <span class="ss-muted">{esc(meaning[v])}</span></span></div>'
        for v in VERDICT_ORDER if counts.get(v))
    sizes = "".join(f'<i style="width:{d}px;height:{d}px"></i>' for d in (6, 10, 15))
    html = f"<h2>Verdict</h2><div>{rows}</div>"
    html += (f'<h2>Score</h2><div><div class="ss-sizes">{sizes}<span>larger = higher score</span></div>'
             + (f'<div class="ss-muted">Footprints, shaded by score, from about {_scale_text(zf, lat)}</div>'
                if zf <= MAX_ZOOM else "") + "</div>")
    if layers:
        lrows = "".join(
            f'<div class="ss-row"><span class="ss-swatch" style="{p["style"]["swatch"]}"></span>'
            f'<span>{esc(p["name"])} <span class="ss-muted">{esc(p["role"].replace("_", " "))}</span></span></div>'
            for p in layers)
        html += f"<h2>Layers</h2><div>{lrows}</div>"
    note = "Map geometry is simplified for display"
    if tolerance:
        note += f" (±{number(tolerance, 2)} m)"
    note += " and clipped to the area around the sites; scores use the full geometry."
    if hidden:
        note += f" {hidden} site(s) without geometry are not shown."
    return html + f'<div class="ss-note">{esc(note)}</div>'


def _title_html(manifest: RunRecord | None, n: int, counts: Mapping[str, int]) -> str:
    title = _title(manifest)
    profile = manifest.profile.name if manifest is not None else None
    created = str((manifest.created if manifest is not None else None) or "")[:10]
    sub = " · ".join(x for x in (f"{n:,} sites", f"profile {profile}" if profile else "", created) if x)
    chips = "".join(
        f'<span><span class="ss-dot" style="background:{VERDICT_COLORS[v]}"></span>'
        f'{counts[v]:,} {esc(VERDICT_LABELS[v].lower())}</span>' for v in VERDICT_ORDER if counts.get(v))
    return f'<h1>{esc(title)}</h1><div class="ss-sub">{esc(sub)}</div><div class="ss-counts">{chips}</div>'


def _title(manifest: RunRecord | None) -> str:
    return (manifest.title if manifest is not None else None) or "Site screening"


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
            figure.html.add_child(
                _Raw(f'<script type="application/json" id="{self.get_name()}-data">{self._payload}</script>'),
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
              self_contained: bool = False, basemap: str = "osm") -> folium.Map:
    """The screening map: input layers by role, sites by verdict, popups with the full breakdown.

    ``sites`` follows the results contract (site_id, name, verdict, score, reasons, record_ids,
    m_*/s_* columns, footprint geometry, projected CRS); ``layers`` are shown clipped to the
    area around the sites and simplified; ``manifest`` gives the title, thresholds and criteria.
    With ``self_contained`` the page embeds Leaflet instead of loading it from a CDN.
    Render with :func:`render_map` (which also checks self-containment).
    """
    if basemap not in BASEMAPS:
        raise ValueError(f"unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}")
    manifest = as_record(manifest)
    _check_sites(sites)
    layers = list(layers)
    empty = sites.geometry.isna() | sites.geometry.is_empty
    hidden = int(empty.sum())
    if hidden:
        log.warning("%d site(s) have no geometry and are not shown on the map", hidden)
    shown = sites[~empty]
    geo = _site_geometry(shown)
    if len(shown):  # spatial order: short coordinate deltas, compact payload
        order = np.argsort(gpd.GeoSeries(shapely.points(geo.anchor)).hilbert_distance(level=16).to_numpy(), kind="stable")
        shown, geo = shown.iloc[order], geo.take(order)
    criteria = _criteria(manifest, sites)
    counts = {v: int(n) for v, n in shown["verdict"].value_counts().items()}

    # the view and the detail zoom follow the sites
    if len(shown):
        pad = float(geo.half.max())
        b3857 = np.r_[geo.anchor.min(axis=0) - pad, geo.anchor.max(axis=0) + pad]
        fp_size = float(np.median(2 * geo.half))
    else:
        b3857 = np.array([-1.39e7, 2.8e6, -7.35e6, 6.4e6])  # the lower 48, for an empty run
        fp_size = 0.0
    w, h = b3857[2] - b3857[0], b3857[3] - b3857[1]
    margin = max(0.5 * max(w, h), 20_000.0)
    aoi = (max(b3857[0] - margin, -_HALF), max(b3857[1] - margin, -_HALF),
           min(b3857[2] + margin, _HALF), min(b3857[3] + margin, _HALF))
    site_payload = _site_payload(shown, geo, criteria)
    zf = int(min(max(math.ceil(_zoom_for(fp_size, 16)), 3), 17)) if fp_size > 0 else MAX_ZOOM + 1
    detail_zoom = min(max(zf + 2, 10), 16)
    layer_payloads = _layer_payloads(layers, aoi, 0.5 * _pixel(detail_zoom))

    meta = {
        "verdicts": [{"key": v, "label": VERDICT_LABELS[v], "color": VERDICT_COLORS[v],
                      "stroke": STROKES[v], "count": counts.get(v, 0)} for v in VERDICT_ORDER],
        "criteria": [{k: c[k] for k in ("name", "label", "unit", "weight", "effective_weight", "rule", "exclusion",
                                        "safeguard", "source", "evaluated", "note")} for c in criteria],
        "nodata": NO_DATA, "notevaluated": NOT_EVALUATED,
        "zf": zf,
    }

    m = _SitescreenMap(location=[0, 0], zoom_start=2, tiles=None, control_scale=True,
                       maxZoom=MAX_ZOOM, minZoom=2)
    title = _title(manifest)
    m.get_root().title = esc(title)
    root = m.get_root()
    if self_contained:
        m.default_js, m.default_css = [], []
        js, css = _leaflet_inline()
        root.header.add_child(_Raw(f"<style>{css}</style>"), name="leaflet_css")
        root.header.add_child(_Raw(_inline_script(js)), name="leaflet")
    root.header.add_child(_Raw(f"<style>{_asset('sitescreen-map.css')}</style>"), name="sitescreen_css")
    root.header.add_child(_Raw(_inline_script(_asset("sitescreen-map.js"))), name="sitescreen_js")

    lon0, lat0 = _lonlat(b3857[0], b3857[1])
    lon1, lat1 = _lonlat(b3857[2], b3857[3])
    bounds = [[float(lat0), float(lon0)], [float(lat1), float(lon1)]]
    _Script(f"sitescreen.fitView({m.get_name()}, {script_json(bounds)}, 15);").add_to(m)

    # basemaps: the chosen one on, the other offered in the layer control
    base = BASEMAPS[basemap]
    if base.url:
        for key in [basemap] + [k for k in BASEMAPS if k not in (basemap, "none")]:
            b = BASEMAPS[key]
            folium.TileLayer(tiles=b.url, attr=b.attribution, name=b.label, max_zoom=MAX_ZOOM,
                             max_native_zoom=b.max_native_zoom, overlay=False, control=True,
                             show=key == basemap).add_to(m)
    else:
        _Script(f"{m.get_name()}.getContainer().classList.add('ss-nobase');").add_to(m)

    sites_layer = _DataLayer("sites", "sitescreen.sitesLayer(MAP, DATA, META)", _dumps(site_payload),
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

    used: set[str] = set()
    for p in layer_payloads:
        name = f'<span class="ss-swatch" style="{p["style"]["swatch"]}"></span>{esc(p["name"])}' \
               f'<span class="ss-lc-count">{p["count"]:,}</span>'
        if not used:
            name = '<span class="ss-lc-first-layers"></span>' + name
        while name in used:
            name += "&#8203;"
        used.add(name)
        _DataLayer(name, "sitescreen.featureLayer(MAP, DATA)", _dumps(p)).add_to(m)

    mid_lat = (lat0 + lat1) / 2
    tol = max((p["tolerance_m"] for p in layer_payloads if p["count"]), default=None)
    if tol is not None:
        tol *= math.cos(math.radians(mid_lat))  # Web Mercator units to metres on the ground
    opts = {"title": _title_html(manifest, len(shown), counts),
            "legend": _legend_html(counts, _verdict_meaning(manifest), layer_payloads, zf, mid_lat, tol, hidden)}
    _Script(f"sitescreen.init({m.get_name()}, {script_json(opts)});"
            f"{sites_layer.get_name()}.addTo({m.get_name()});").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def render_map(sites: gpd.GeoDataFrame, layers: Iterable[DisplayLayer], manifest: RunRecord | Mapping[str, Any] | None, *,
               self_contained: bool = False, basemap: str = "osm") -> str:
    """The full HTML of :func:`build_map`'s map; in self-contained mode it is verified to load
    no script, stylesheet or font from anywhere else."""
    m = build_map(sites, layers, manifest, self_contained=self_contained, basemap=basemap)
    html = m.get_root().render()
    if self_contained:
        found = external_resources(html)
        if found:
            raise SitescreenError(f"self-contained map still references external resources: {found[:3]}")
    return html
