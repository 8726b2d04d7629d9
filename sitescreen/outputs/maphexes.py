"""The map's low-zoom aggregate: sites binned into hexagons, coloured by their verdict mix.

A map of a million sites cannot draw every site at national zoom. Below the *site zoom* (the first
zoom at which no 512-pixel tile holds more than :data:`TILE_SITES` sites) the map shows hexagons
(pointy-top, in Web Mercator, about :data:`HEX_PX` pixels wide at their zoom) with the count of
sites of each verdict; from the site zoom on it shows the sites themselves. Small maps (no tile
ever that crowded) have no hexagons at all.

The bins nest by construction, so every zoom counts the same sites: each site falls in one hexagon
of the finest level, and each coarser level bins the *centres* of the finest hexagons. The page
therefore needs only each site's finest hexagon and each level's parent index to recount the mix
after live re-weighting (``assets/sitescreen-hexes.js``). Everything here is vectorized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sitescreen.outputs import payload
from sitescreen.outputs.htmlsafe import script_json
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER

__all__ = ["HEX_PX", "TILE_SITES", "HexBins", "HexLevel", "bin_sites", "hex_cells", "hex_centres", "page_call",
           "site_zoom"]

#: A hexagon's width on screen at its zoom, in pixels.
HEX_PX = 28.0
#: Individual sites are drawn from the first zoom at which no 512-px tile holds more sites than this.
TILE_SITES = 4000
#: The map's lowest zoom (mapping.py creates the map with ``minZoom=2``).
MIN_ZOOM = 2
_SQ3 = math.sqrt(3.0)


@dataclass(frozen=True)
class HexLevel:
    """The hexagons of one zoom: axial cells, circumradius (EPSG:3857 m), sites per verdict
    (columns in :data:`VERDICT_ORDER`) and, per finest hexagon, its hexagon at this level."""

    zoom: int
    size: float
    qr: np.ndarray
    counts: np.ndarray
    up: np.ndarray


@dataclass(frozen=True)
class HexBins:
    """Hexagons for the zooms below ``site_zoom`` (coarsest first) and each site's finest hexagon."""

    site_zoom: int
    levels: list[HexLevel]
    site_hex: np.ndarray


def hex_size(zoom: int) -> float:
    """The circumradius (EPSG:3857 m) of a hexagon :data:`HEX_PX` pixels wide at ``zoom``."""
    return HEX_PX / _SQ3 * payload.pixel(zoom)


def hex_cells(xy: np.ndarray, size: float) -> np.ndarray:
    """The axial cell (q, r) of pointy-top hexagons of circumradius ``size`` holding each point."""
    x, y = np.asarray(xy, dtype=float).T
    q = (_SQ3 / 3 * x - y / 3) / size
    r = (2 / 3 * y) / size
    s = -q - r
    rq, rr, rs = np.round(q), np.round(r), np.round(s)
    dq, dr, ds = np.abs(rq - q), np.abs(rr - r), np.abs(rs - s)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    rq = np.where(fix_q, -rr - rs, rq)
    rr = np.where(fix_r, -rq - rs, rr)
    return np.stack([rq, rr], axis=1).astype(np.int64)


def hex_centres(qr: np.ndarray, size: float) -> np.ndarray:
    """The centres (EPSG:3857) of axial cells ``qr``."""
    q, r = np.asarray(qr, dtype=float).T
    return np.stack([size * _SQ3 * (q + r / 2), size * 1.5 * r], axis=1)


def site_zoom(xy: np.ndarray, max_zoom: int) -> int:
    """The first zoom from :data:`MIN_ZOOM` at which no 512-px tile holds over :data:`TILE_SITES` sites."""
    for z in range(MIN_ZOOM, max_zoom + 1):
        t = np.floor((np.asarray(xy) + payload.HALF) / (512 * payload.pixel(z))).astype(np.int64)
        _, n = np.unique(t[:, 0] * (1 << 31) + t[:, 1], return_counts=True)
        if not len(n) or n.max() <= TILE_SITES:
            return z
    return max_zoom


def _cells(xy: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cells of the points, numbered by first appearance, and each point's cell number."""
    qr = hex_cells(xy, size)
    keys = qr[:, 0] * (1 << 32) + qr[:, 1]
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return qr[first[order]], rank[inv.reshape(-1)]


def bin_sites(xy: np.ndarray, verdict: np.ndarray, zs: int) -> HexBins | None:
    """Hexagon counts for the zooms below the site zoom ``zs`` of sites at EPSG:3857 ``xy`` with
    verdict codes (indices into VERDICT_ORDER); None when ``zs`` leaves no zoom for hexagons."""
    if zs <= MIN_ZOOM or not len(xy):
        return None
    nv = len(VERDICT_ORDER)
    fine_size = hex_size(zs - 1)
    fine_qr, site_hex = _cells(xy, fine_size)
    fine_counts = np.bincount(site_hex * nv + verdict, minlength=len(fine_qr) * nv).reshape(-1, nv)
    levels = [HexLevel(zs - 1, fine_size, fine_qr, fine_counts, np.arange(len(fine_qr)))]
    centres = hex_centres(fine_qr, fine_size)
    for z in range(zs - 2, MIN_ZOOM - 1, -1):
        size = hex_size(z)
        qr, up = _cells(centres, size)
        counts = np.stack([np.bincount(up, weights=fine_counts[:, v], minlength=len(qr)) for v in range(nv)], axis=1)
        levels.append(HexLevel(z, size, qr, counts.astype(np.int64), up))
    return HexBins(zs, levels[::-1], site_hex)


def _zigzag(a: np.ndarray) -> np.ndarray:
    return np.where(a < 0, -2 * a - 1, 2 * a)


def hex_payload(bins: HexBins) -> dict[str, Any]:
    """The bins as compact JSON for sitescreen-hexes.js (varints as payload.py writes them)."""
    levels = [{"z": lv.zoom, "size": lv.size, "n": int(len(lv.qr)), "qr": payload._zigzag_deltas(lv.qr),
               "counts": payload._uvarint(lv.counts.reshape(-1)),
               "up": None if lv.zoom == bins.site_zoom - 1 else payload._uvarint(lv.up)}
              for lv in bins.levels]
    d = np.diff(bins.site_hex, prepend=0)
    return {"zs": bins.site_zoom, "px": HEX_PX, "nv": len(VERDICT_ORDER), "levels": levels,
            "n": int(len(bins.site_hex)), "site": payload._uvarint(_zigzag(d))}


def page_call(xy: np.ndarray, verdicts: Any, map_name: str, sites_name: str) -> str | None:
    """The script line that adds the hexagon layer for sites at EPSG:3857 ``xy`` with ``verdicts``
    (names), or None for a map without hexagons."""
    codes = pd.Categorical(np.asarray(verdicts, dtype=object), categories=list(VERDICT_ORDER)).codes.astype(np.int64)
    if (codes < 0).any():  # mapping._check_sites refuses these first
        raise ValueError("verdicts outside VERDICT_ORDER")
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    bins = bin_sites(xy, codes, site_zoom(xy, payload.MAX_ZOOM)) if len(xy) else None
    if bins is None:
        return None
    return f"sitescreen.hexLayer({map_name}, {sites_name}, {script_json(hex_payload(bins))});"
