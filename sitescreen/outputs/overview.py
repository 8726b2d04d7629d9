"""The report's overview map: every site as a dot coloured by its verdict, drawn as inline SVG in the
run CRS (projected, so shapes are true), with the excluded and incomplete sites drawn last so they
stay visible. Above :data:`DOT_LIMIT` sites the dots become grid cells coloured by the verdict that
matters most in the cell (excluded, then incomplete, unfavorable, review, favorable). Sites given out
in lon/lat (a run in measuring zones, EPSG:4269) are drawn in a Lambert azimuthal equal-area
centred on them, without a scale bar (over zones far apart no one length holds everywhere)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from sitescreen.inputs.crs import ExtentBuilder, local_equal_area
from sitescreen.outputs.htmlsafe import esc
from sitescreen.rules.verdicts import COLORS, LABELS, STROKES, VERDICTS

WIDTH, MAX_HEIGHT, PAD = 720, 440, 10
DOT_LIMIT = 5000
GRID = 180  # cells across when binned
#: Drawn last = on top: the verdicts a reviewer looks for first.
DRAW_ORDER = ("favorable", "review", "unfavorable", "incomplete", "excluded")


def overview_map(sites: gpd.GeoDataFrame) -> str:
    """The SVG overview of ``sites`` (empty when the sites have no geometry)."""
    if not isinstance(sites, gpd.GeoDataFrame) or not len(sites) or sites.geometry.isna().all():
        return ""
    pts = shapely.centroid(sites.geometry.to_numpy())
    lonlat = sites.crs is not None and CRS(sites.crs).is_geographic
    if lonlat:
        ext = ExtentBuilder().add(shapely.get_x(pts), shapely.get_y(pts)).extent()
        pts = gpd.GeoSeries(pts, crs=sites.crs).to_crs(local_equal_area(ext.lon, ext.lat)).to_numpy() if ext else pts
    xy = shapely.get_coordinates(pts)
    ok = np.isfinite(xy).all(axis=1) if len(xy) == len(sites) else np.zeros(len(sites), bool)
    if not ok.any():
        return ""
    verdict = sites["verdict"].astype(str).to_numpy()[ok]
    x, y = xy[ok, 0], xy[ok, 1]
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    span = max(x1 - x0, y1 - y0, 1.0)
    scale = min((WIDTH - 2 * PAD) / max(x1 - x0, span * 1e-3), (MAX_HEIGHT - 2 * PAD) / max(y1 - y0, span * 1e-3))
    height = int(min(MAX_HEIGHT, (y1 - y0) * scale + 2 * PAD))
    sx = PAD + (x - x0) * scale + (WIDTH - 2 * PAD - (x1 - x0) * scale) / 2
    sy = height - PAD - (y - y0) * scale
    body = _dots(sx, sy, verdict) if len(x) <= DOT_LIMIT else _cells(sx, sy, verdict, height)
    km = "" if lonlat else _scale_bar(scale, height)
    where = "drawn in an equal-area projection centred on them" if lonlat else "in the run CRS"
    legend = "".join(f'<span class="ov-key"><i style="background:{COLORS[v]}"></i>{esc(LABELS[v])}</span>'
                     for v in VERDICTS if (verdict == v).any())
    return (f'<figure class="overview"><svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
            f'role="img" aria-label="map of the sites by verdict" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="{WIDTH}" height="{height}" fill="#f8fafc"/>{body}{km}</svg>'
            f'<figcaption class="small muted">{legend} · {len(x):,} sites {where}'
            f'{"" if len(x) <= DOT_LIMIT else f", binned into cells of {GRID} across"}</figcaption></figure>')


def _dots(sx: np.ndarray, sy: np.ndarray, verdict: np.ndarray) -> str:
    r = 3.2 if len(sx) <= 800 else 2.0
    groups = []
    for v in DRAW_ORDER:
        sel = verdict == v
        if sel.any():
            circles = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{r}"/>' for a, b in zip(sx[sel], sy[sel]))
            groups.append(f'<g fill="{COLORS[v]}" stroke="{STROKES[v]}" stroke-width="0.6" fill-opacity="0.9">'
                          f'<title>{esc(LABELS[v])}: {int(sel.sum()):,}</title>{circles}</g>')
    return "".join(groups)


def _cells(sx: np.ndarray, sy: np.ndarray, verdict: np.ndarray, height: int) -> str:
    size = WIDTH / GRID
    rows = int(height // size) + 1
    cell = (sx // size).astype(np.int64) * rows + (sy // size).astype(np.int64)
    code = pd.Series(verdict).map({v: i for i, v in enumerate(DRAW_ORDER)}).fillna(-1).to_numpy(np.int64)
    top = pd.Series(code).groupby(cell).max()  # per cell: the verdict drawn last (the one that matters most)
    parts = []
    for i, v in enumerate(DRAW_ORDER):
        cells = top.index.to_numpy()[top.to_numpy() == i]
        if len(cells):
            rects = "".join(f'<rect x="{(k // rows) * size:.1f}" y="{(k % rows) * size:.1f}" '
                            f'width="{size:.2f}" height="{size:.2f}"/>' for k in cells)
            parts.append(f'<g fill="{COLORS[v]}"><title>{esc(LABELS[v])}</title>{rects}</g>')
    return "".join(parts)


def _scale_bar(scale: float, height: int) -> str:
    """A scale bar of a round length (the run CRS is in metres)."""
    target = 120 / scale  # metres across about 120 px
    step = 10 ** np.floor(np.log10(target))
    length = max(s for s in (step, 2 * step, 5 * step) if s <= target)
    px = length * scale
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    y = height - 6
    return (f'<g class="scalebar"><line x1="{PAD}" y1="{y}" x2="{PAD + px:.1f}" y2="{y}" stroke="#1f2933" stroke-width="2"/>'
            f'<text x="{PAD}" y="{y - 4}" class="tick">{label}</text></g>')


__all__ = ["overview_map", "DOT_LIMIT"]
