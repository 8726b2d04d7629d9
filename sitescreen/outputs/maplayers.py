"""The map's input layers: clipped to the area around the sites, simplified to a vertex budget and
encoded (:mod:`sitescreen.outputs.payload`), each with its canvas style."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import geopandas as gpd
import numpy as np
import shapely

from pathlib import Path

from pyproj import CRS

from sitescreen.errors import CRSError, SitescreenError
from sitescreen.outputs import mapland
from sitescreen.inputs.crs import lonlat_boxes
from sitescreen.inputs.load import load_vector
from sitescreen.inputs.schemas import known_schemas
from sitescreen.inputs.spec import LayerSpec
from sitescreen.record.manifest import RunRecord
from sitescreen.outputs.payload import WEB_MERCATOR, as_array, encode_geoms, text_column

if TYPE_CHECKING:
    from sitescreen.outputs.mapping import DisplayLayer

log = logging.getLogger(__name__)

__all__ = ["ROLE_STYLES", "layer_payloads", "display_layers"]

#: Total vertices kept across all display layers; the tolerance doubles until they fit.
VERTEX_BUDGET = 2_500_000
#: Layers with more features than this are drawn without their feature names (payload size).
NAMED_FEATURE_LIMIT = 50_000

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


def _style_for(role: str, index: int) -> dict[str, Any]:
    style = dict(ROLE_STYLES.get(role) or {
        "stroke": _PALETTE[index % len(_PALETTE)], "fill": _PALETTE[index % len(_PALETTE)],
        "fillOpacity": 0.18, "weight": 1.2, "radius": 3.5})
    style["swatch"] = _swatch(style)
    return style


def _swatch(style: dict[str, Any]) -> str:
    """The CSS of a legend swatch drawn like the layer."""
    fill = style.get("fill")
    if fill and style.get("hatch"):
        swatch = (f"background:repeating-linear-gradient(135deg,{style['stroke']} 0 1.5px,"
                  f"{_rgba(fill, 0.35)} 1.5px 4px);border:1.5px solid {style['stroke']}")
    elif fill:
        swatch = f"background:{_rgba(fill, max(style.get('fillOpacity', 0.3), 0.3))};border:1.5px solid {style['stroke']}"
    else:
        dash = "dashed" if style.get("dash") else "solid"
        swatch = f"background:transparent;border:2px {dash} {style['stroke']}"
    return swatch


def _classes_swatch(styles: list[dict[str, Any]]) -> str:
    """A swatch split into the fills of the classes drawn (distinct, in order)."""
    fills = list(dict.fromkeys(_rgba(s["fill"], max(s.get("fillOpacity", 0.3), 0.3)) for s in styles))
    step = 100 / len(fills)
    stops = ",".join(f"{f} {k * step:.0f}% {(k + 1) * step:.0f}%" for k, f in enumerate(fills))
    return f"background:linear-gradient(90deg,{stops});border:1.5px solid {styles[0]['stroke']}"


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
    geoms = as_array(gdf.geometry.to_crs(WEB_MERCATOR)) if len(gdf) else np.array([], dtype=object)
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


def _fit_budget(prepared: list, base_tol: float) -> tuple[list[dict[str, np.ndarray]], float]:
    """Every part simplified at one tolerance, doubled until all vertices fit :data:`VERTEX_BUDGET`."""
    tol = base_tol
    for _ in range(10):
        simplified = []
        total = 0
        for _layer, groups, _ in prepared:
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
    return simplified, tol


def layer_payloads(layers: Sequence[DisplayLayer], aoi: tuple[float, float, float, float],
                    base_tol: float) -> list[dict[str, Any]]:
    """One payload per layer; a land layer's features come in one block per manager class
    (:mod:`sitescreen.outputs.mapland`), each with its colours, listed in ``classes``."""
    parts = [(i, cls, part) for i, layer in enumerate(layers) for cls, part in mapland.land_parts(layer)]
    prepared = [(part, *_prepare_layer(part, aoi)) for _, _, part in parts]
    simplified, tol = _fit_budget(prepared, base_tol)
    payloads = []
    for i, layer in enumerate(layers):
        style = _style_for(layer.role, i)
        mine = [k for k, part in enumerate(parts) if part[0] == i]
        has_names = all(prepared[k][2][0] is not None for k in mine)
        with_names = has_names and sum(len(g) for k in mine for g in simplified[k].values()) <= NAMED_FEATURE_LIMIT
        if has_names and not with_names:
            log.info("layer %r: more than %d features; drawn without feature names", layer.name, NAMED_FEATURE_LIMIT)
        blocks, classes = [], []
        for k in mine:
            cls, (names, by_kind) = parts[k][1], prepared[k][2]
            first = len(blocks)
            for kind, geoms in simplified[k].items():
                block, kept = encode_geoms(geoms, kind, 1.0 if kind == "point" else max(tol / 2, 0.5))
                if with_names:
                    block["names"] = text_column(names[by_kind[kind]][kept])
                if cls is not None:
                    block["style"] = mapland.class_style(style, cls)
                blocks.append(block)
            if cls is not None:
                classes.append({"label": cls.label, "swatch": _swatch(mapland.class_style(style, cls)),
                                "count": sum(b["n"] for b in blocks[first:])})
        if len(classes) > 1:  # the layer control's swatch shows every class drawn
            style["swatch"] = _classes_swatch([b["style"] for b in blocks if "style" in b])
        count = sum(b["n"] for b in blocks)
        payloads.append({"name": layer.name, "role": layer.role, "style": style, "groups": blocks,
                         "count": count, "tolerance_m": tol, "named": with_names, "classes": classes})
        log.debug("layer %r: %d features for display", layer.name, count)
    return payloads


def display_layers(manifest: RunRecord | None, sites: gpd.GeoDataFrame):
    """The vector inputs of a finished run, re-read around its sites, for drawing on a map."""
    from sitescreen.outputs.mapping import DisplayLayer
    out = []
    pad = 20_000.0
    for entry in (manifest.inputs if manifest is not None else ()):
        if entry.kind != "vector":
            continue
        # an inline definition is recorded by where it was written ("run.toml: layers[0].definition"), not
        # by a schema name: the layer is then read with its fields detected, or left off the map
        spec = LayerSpec(role=entry.role, path=Path(entry.path), layer=entry.layer, layers=tuple(entry.layers or ()), name=entry.name,
                         schema=entry.schema if entry.schema in known_schemas() and entry.schema != "generic" else None,
                         crs=entry.crs_override)
        if not spec.path.exists():
            log.warning("%s: input no longer exists; left off the map", spec.path)
            continue
        try:
            lyr = load_vector(spec, CRS(sites.crs), lonlat_boxes(sites.total_bounds, sites.crs, pad), polygonal=False)
        except SitescreenError as exc:
            log.warning("%s: cannot be drawn (%s); left off the map", spec.path, exc)
            continue
        out.append(DisplayLayer(name=spec.label, role=spec.role, gdf=lyr.gdf))
    return out
