"""The map's compact payload: geometries and site columns encoded for assets/sitescreen-map.js.

Every geometry is in Web Mercator, quantized and delta-encoded; text columns are dictionary-encoded
when their values repeat; the sites' popup columns are worded by :mod:`sitescreen.rules.wording`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescreen.outputs.htmlsafe import script_json
from sitescreen.record.decisions import DECISIONS_COLUMN
from sitescreen.outputs.reportsensitivity import STABILITY_COLUMN
from sitescreen.values import is_missing, text_values
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.profile import parts_column
from sitescreen.rules.wording import measure_texts, suitability_texts, with_parts

WEB_MERCATOR = "EPSG:3857"
HALF = math.pi * 6378137.0
_WORLD = 2 * HALF
MAX_ZOOM = 19


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


def text_column(values: Sequence[Any]) -> dict[str, Any] | None:
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
    """JSON text inserted verbatim by :func:`dumps`."""


def dumps(obj: Any) -> str:
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


def encode_geoms(geoms: np.ndarray, kind: str, q: float) -> tuple[dict[str, Any], np.ndarray]:
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


def zoom_for(size_3857: float, pixels: float) -> float:
    """The zoom at which ``size_3857`` metres of Web Mercator span ``pixels`` screen pixels."""
    return math.log2(pixels * _WORLD / (256 * max(size_3857, 1e-6)))


def pixel(zoom: float) -> float:
    return _WORLD / (256 * 2 ** zoom)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 metres to longitude, latitude (spherical Mercator inverse)."""
    return math.degrees(x / 6378137.0), math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)


def as_array(gs: gpd.GeoSeries) -> np.ndarray:
    return np.asarray(gs.values, dtype=object)


@dataclass(frozen=True)
class SiteGeometry:
    """Where each site is drawn: an anchor in EPSG:3857, a ground radius for circular footprints
    (buffered points; 0 otherwise) and the footprint's half-size in EPSG:3857 units."""

    anchor: np.ndarray
    radius: np.ndarray
    half: np.ndarray

    def take(self, order: np.ndarray) -> "SiteGeometry":
        return SiteGeometry(self.anchor[order], self.radius[order], self.half[order])


def site_geometry(sites: gpd.GeoDataFrame) -> SiteGeometry:
    """Anchors and footprint facts without reprojecting whole footprints (100k × 64 vertices)."""
    geom = as_array(sites.geometry)
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
        anchor3857 = shapely.get_coordinates(as_array(gpd.GeoSeries(anchor, crs=sites.crs).to_crs(WEB_MERCATOR)))
        b = shapely.bounds(geom)
        scale = np.cosh(anchor3857[:, 1] / 6378137.0)  # Web Mercator scale at the anchor's latitude
        half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2 * scale
    else:
        g3857 = sites.geometry.to_crs(WEB_MERCATOR)
        anchor3857 = shapely.get_coordinates(as_array(g3857.representative_point()))
        b = g3857.bounds.to_numpy()
        half = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) / 2
    return SiteGeometry(anchor3857, radius, np.nan_to_num(half))


def _radii(radius: np.ndarray) -> str | int | None:
    """Circular footprints' radii in decimetres: varints, one number when every site has the same, None if none."""
    dm = np.round(radius * 10)
    if not (radius > 0).any():
        return None
    return int(dm[0]) if (dm == dm[0]).all() else _uvarint(dm)


def _text_list(col: pd.Series) -> list[str]:
    return text_values(col).tolist()


def site_payload(sites: gpd.GeoDataFrame, geo: SiteGeometry, criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """Sites (already in spatial order) as compact columns, decoded by sitescreen-map.js."""
    n = len(sites)
    radius = geo.radius
    fp_rows = np.flatnonzero((radius == 0) & (shapely.get_type_id(as_array(sites.geometry)) >= 3))
    fp_block = None
    if len(fp_rows):
        fp = as_array(sites.geometry.iloc[fp_rows].to_crs(WEB_MERCATOR))
        fp = shapely.simplify(fp, 1.0, preserve_topology=True)
        fp_block, kept = encode_geoms(fp, "polygon", 1.0)
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
        "fpr": _radii(radius),
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
    for col in ("name", "rec"):  # a column that only repeats the ids is sent as "id" (sitescreen-map.js: the ids)
        if payload[col] == payload["id"]:
            payload[col] = "id"
    if DECISIONS_COLUMN in sites.columns:  # the reviewers' decisions, in words (record.decisions.with_decisions)
        dec = _text_list(sites[DECISIONS_COLUMN])
        payload["dec"] = text_column([t or None for t in dec])
    if STABILITY_COLUMN in sites.columns:  # verdicts under sampled weightings, in words (reportsensitivity.with_stability)
        payload["stab"] = text_column([t or None for t in _text_list(sites[STABILITY_COLUMN])])
    if "reasons" in sites.columns:
        parts = sites["reasons"].map(lambda v: [] if is_missing(v) or not str(v).strip() else
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
            payload["rs"] = {**_reason_dict([str(u) for u in uniq]), "idx": _uvarint(seq), "count": int(len(seq))}
    for c in criteria:
        mcol, scol = c["measure_column"], c["score_column"]
        pcol = parts_column(c["name"])
        payload["m"].append(_measure_column(sites[mcol], c, sites[pcol] if pcol in sites.columns else None)
                            if mcol in sites.columns else None)
        if scol in sites.columns:
            s = pd.to_numeric(sites[scol], errors="coerce").to_numpy(dtype=float)
            payload["s"].append(_words_column(suitability_texts(s), np.isnan(s)))
        else:
            payload["s"].append(None)
    return payload


_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_HOLE = "\x1f"


def _reason_dict(texts: list[str]) -> dict[str, Any]:
    """The distinct reason parts: ``{"dict": texts}``, or, when most differ only in their numbers (a
    million sites give a million "distance to protected areas 886.2 m"), the same texts losslessly as
    templates with a hole per number, each text's template and its numbers in order:
    ``{"tpl": [...], "ti": varints, "nd": len(texts), "tok": text column, "ntok": count}``."""
    ser = pd.Series(texts, dtype=object)
    tpl_text = ser.str.replace(_NUMBER, _HOLE, regex=True)
    ti, tpl = pd.factorize(tpl_text)
    if len(tpl) * 2 > len(texts) or ser.str.contains(_HOLE, regex=False).any():
        return {"dict": texts}
    tokens = ser.str.findall(_NUMBER).explode().dropna().tolist()
    return {"tpl": [str(t) for t in tpl], "ti": _uvarint(ti), "nd": len(texts),
            "tok": text_column(tokens), "ntok": len(tokens)}


def _measure_column(col: pd.Series, criterion: Mapping[str, Any], parts: pd.Series | None = None) -> dict[str, Any] | None:
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
    if parts is not None:  # what each value is made of, worded once (sitescreen.rules.wording.with_parts)
        texts = with_parts(texts, parts.to_numpy(dtype=object, na_value=None))
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
