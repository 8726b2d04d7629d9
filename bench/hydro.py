"""The bench's water and land layers (issue 13 item 2): an NHD-like stream network and an NLCD-like
land-cover raster over the workload's 1,000 km square (EPSG:5070), generated from the fixed seed.

* ``streams.parquet``: a dendritic network per HUC-like cell (a grid of ``block`` m squares).
  Each cell gets ``nodes`` random points and an outlet on its edge; every point drains to the
  nearest of its ``k`` neighbours in the same cell that lies closer to the outlet (or to the outlet
  itself), so every cell holds one tree. Each edge is one flowline (a line of ``vertices``
  vertices meandering as a Brownian bridge between its ends), its permanence from the number of
  points draining through it, as NHD codes it: ``FCode`` 46006 perennial (main stems), 46003
  intermittent, 46007 ephemeral (headwaters), 46000 for a share of unstated permanence; with
  ``FType`` 460, ``FlowDir`` 1, ``LengthKM``, ``ReachCode`` and ``GNIS_Name`` (perennial stems), the
  fields of the ``nhd_flowline`` definition, so the real layer definition reads it.
* ``landcover_<res>m.tif``: uint8 NLCD class codes at ``res`` m, tiled 512, DEFLATE, with the NLCD
  colour table (a categorical band), 0 = unclassified (nodata); patches from smooth low-resolution
  fields (moisture, land use, development, at 1,200 m and 240 m) interpolated bilinearly to the
  cells and classified, written in 2,048² windows (never whole in memory).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numba
import shapely

from workload import CRS, DEFAULTS, SEED, SIDE, X0, Y0, _write

STREAMS, LANDCOVER = DEFAULTS["streams"], DEFAULTS["landcover"]

FCODE = {"perennial": 46006, "intermittent": 46003, "ephemeral": 46007, "unstated": 46000}
# NLCD 2019 legend and its colours (MRLC)
NLCD = {11: (70, 107, 159), 21: (222, 197, 197), 22: (217, 146, 130), 23: (235, 0, 0), 24: (171, 0, 0),
        31: (179, 172, 159), 41: (104, 171, 95), 42: (28, 95, 44), 43: (181, 197, 143), 52: (204, 184, 121),
        71: (223, 223, 194), 81: (220, 217, 57), 82: (171, 108, 40), 90: (184, 217, 235), 95: (108, 159, 184)}


# ------------------------------------------------------------------------------- streams


def _cell_trees(rng, bx: np.ndarray, by: np.ndarray, p: dict):
    """Points and outlets of the cells with south-west corners (bx, by): (xy of points then
    outlets, parent of each point, cell of each point)."""
    from scipy.spatial import cKDTree

    nb, n, b = bx.size, p["nodes"], p["block"]
    cell = np.repeat(np.arange(nb), n)
    pts = np.c_[bx[cell] + rng.uniform(0, b, cell.size), by[cell] + rng.uniform(0, b, cell.size)]
    side, t = rng.integers(0, 4, nb), rng.uniform(0.2, 0.8, nb) * b  # the outlet on one edge
    out = np.c_[bx + np.where(side == 0, 0, np.where(side == 1, b, t)),
                by + np.where(side == 2, 0, np.where(side == 3, b, t))]
    to_out = np.hypot(*(pts - out[cell]).T)
    _, nbr = cKDTree(pts).query(pts, k=p["k"] + 1)
    nbr = nbr[:, 1:]
    ok = (cell[nbr] == cell[:, None]) & (to_out[nbr] < to_out[:, None])
    first = np.argmax(ok, axis=1)
    parent = np.where(ok.any(axis=1), nbr[np.arange(cell.size), first], cell.size + cell)  # else the outlet
    return np.r_[pts, out], parent, cell


def _upstream(parent: np.ndarray, n: int) -> np.ndarray:
    """Points draining through each of the n points (itself included): a point's depth is its hops
    to the outlet, and the levels add up from the deepest (one vectorized step per level)."""
    depth = np.zeros(n, dtype=np.int64)
    cur = parent.copy()
    while (live := cur < n).any():
        depth[live] += 1
        cur[live] = parent[cur[live]]
    acc = np.ones(n, dtype=np.int64)
    order = np.argsort(-depth, kind="stable")
    for lev in np.split(order, np.flatnonzero(np.diff(depth[order])) + 1):
        inner = lev[parent[lev] < n]  # deepest first: a level is complete when it is reached
        np.add.at(acc, parent[inner], acc[inner])
    return acc


def _meanders(rng, a: np.ndarray, b: np.ndarray, p: dict) -> np.ndarray:
    """Lines from a to b with p['vertices'] vertices, offset sideways by a Brownian bridge."""
    m = p["vertices"]
    f = np.linspace(0.0, 1.0, m)
    walk = np.cumsum(rng.normal(0, 1, (a.shape[0], m)), axis=1)
    walk -= walk[:, -1:] * f  # a bridge: 0 at both ends
    walk[:, 0] = 0.0
    d = b - a
    length = np.hypot(*d.T)
    normal = np.c_[-d[:, 1], d[:, 0]] / np.maximum(length, 1e-9)[:, None]
    off = walk * (p["meander"] * length / np.sqrt(m))[:, None]
    xy = a[:, None, :] + f[None, :, None] * d[:, None, :] + off[:, :, None] * normal[:, None, :]
    return shapely.linestrings(xy.reshape(-1, 2), indices=np.repeat(np.arange(a.shape[0]), m))


def stream_strip(row: int, p: dict, side: float = SIDE) -> dict:
    """The flowlines of one row of HUC-like cells (its own seeded generator)."""
    rng = np.random.default_rng([SEED, 8, row])
    ncol = int(round(side / p["block"]))
    bx = X0 + np.arange(ncol) * p["block"]
    by = np.full(ncol, Y0 + row * p["block"])
    xy, parent, cell = _cell_trees(rng, bx, by, p)
    n = parent.size
    acc = _upstream(parent, n)
    geom = _meanders(rng, xy[:n], xy[parent], p)
    flow = np.where(acc >= p["perennial_min"], FCODE["perennial"],
                    np.where(acc >= p["intermittent_min"], FCODE["intermittent"], FCODE["ephemeral"]))
    unstated = (flow != FCODE["perennial"]) & (rng.uniform(0, 1, n) < p["unstated_share"])
    flow = np.where(unstated, FCODE["unstated"], flow).astype(np.int32)
    code = row * ncol + cell  # the cell's number: ReachCode = 8-digit cell + 6-digit reach
    reach = np.char.add(np.char.zfill(code.astype(str), 8), np.char.zfill((np.arange(n) % 10**6).astype(str), 6))
    name = np.where(flow == FCODE["perennial"], np.char.add("Bench Creek ", code.astype(str)), None)
    return {"FCode": flow, "FType": np.full(n, 460, dtype=np.int16), "FlowDir": np.ones(n, dtype=np.int16),
            "LengthKM": shapely.length(geom) / 1000.0, "ReachCode": reach.astype(object),
            "GNIS_Name": name.astype(object), "upstream": acc.astype(np.int32), "geometry": geom}


def gen_streams(path, p: dict = STREAMS, side: float = SIDE) -> None:
    """``streams.parquet``: every row of cells generated on its own, then written as GeoParquet."""
    rows = [stream_strip(r, p, side) for r in range(int(round(side / p["block"])))]
    cols = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    geom = cols.pop("geometry")
    n = geom.size
    gdf = gpd.GeoDataFrame({"stream_id": np.arange(n, dtype=np.int64), **cols}, geometry=geom, crs=CRS)
    _write(gdf, path)


# ------------------------------------------------------------------------------- land cover


def _smooth(rng, shape: tuple[int, int], sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    z = gaussian_filter(rng.normal(0, 1, shape), sigma, mode="wrap")
    return ((z - z.mean()) / z.std()).astype(np.float32)


def _upsampled(coarse: np.ndarray, n: int) -> np.ndarray:
    """A coarse field interpolated bilinearly onto an n × n grid over the same square."""
    f = coarse.shape[0] / n
    u = np.clip((np.arange(n) + 0.5) * f - 0.5, 0, coarse.shape[0] - 1.000001)
    i = u.astype(np.int64)
    w = (u - i).astype(np.float32)
    rows = coarse[i] * (1 - w)[:, None] + coarse[i + 1] * w[:, None]
    return rows[:, i] * (1 - w)[None, :] + rows[:, i + 1] * w[None, :]


@numba.njit(cache=False, nogil=True, inline="always")
def _bil(g, i, j, wu, wv):  # pragma: no cover (compiled)
    return (g[i, j] * (1 - wv) + g[i, j + 1] * wv) * (1 - wu) + (g[i + 1, j] * (1 - wv) + g[i + 1, j + 1] * wv) * wu


@numba.njit(cache=False, nogil=True)
def _classify(moist, use, dev, cell, res, r0, c0, out):  # pragma: no cover (compiled)
    """Each cell of ``out``: the three fields (cells of ``cell`` m) interpolated bilinearly at the
    cell's centre, then classified (moisture × land use; development over all but water)."""
    h, w = out.shape
    n = moist.shape[0]
    for r in range(h):
        u = min(max((r0 + r + 0.5) * res / cell - 0.5, 0.0), n - 1.000001)
        i = int(u)
        wu = u - i
        for c in range(w):
            v = min(max((c0 + c + 0.5) * res / cell - 0.5, 0.0), n - 1.000001)
            j = int(v)
            wv = v - j
            code = _USE[np.searchsorted(_MOISTURE_EDGES, _bil(moist, i, j, wu, wv)),
                        np.searchsorted(_USE_EDGES, _bil(use, i, j, wu, wv))]
            di = np.searchsorted(_DEV_EDGES, _bil(dev, i, j, wu, wv))
            out[r, c] = _DEV_CODES[di] if di > 0 and code != 11 else code


# classification: moisture bins (dry .. open water) × land-use bins; development overrides
_MOISTURE_EDGES = np.array([-1.0, 0.3, 1.5, 1.85, 2.1], dtype=np.float32)
_USE = np.array([[31, 52, 52, 71, 71, 81, 82, 82],     # driest: barren, shrub, grass, pasture, crops
                 [52, 71, 81, 82, 82, 41, 43, 42],     # dry to mesic
                 [71, 81, 82, 41, 43, 42, 42, 41],     # mesic: crops to forest
                 [41, 42, 42, 43, 41, 90, 90, 42],     # moist: forest, woody wetland
                 [90, 90, 95, 95, 90, 95, 90, 90],     # wet: woody and emergent wetlands
                 [11, 11, 11, 11, 11, 11, 11, 11]], dtype=np.uint8)  # open water
_USE_EDGES = np.array([-1.2, -0.6, -0.2, 0.2, 0.6, 1.0, 1.4], dtype=np.float32)
_DEV_EDGES = np.array([2.0, 2.36, 2.73, 3.1], dtype=np.float32)  # 21, 22, 23, 24
_DEV_CODES = np.array([0, 21, 22, 23, 24], dtype=np.uint8)


def _fields(size: int, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moisture, land use and development on the fine grid: a coarse field interpolated onto it
    plus 0.35 × a fine one (both smooth, unit variance)."""
    rng = np.random.default_rng([SEED, 9])
    nc, nf = int(np.ceil(size * p["res"] / p["coarse"])), int(np.ceil(size * p["res"] / p["fine"]))
    out = []
    for sc, sf in ((6.0, 2.0), (4.0, 1.5), (1.5, 1.0)):
        coarse, fine = _smooth(rng, (nc, nc), sc), _smooth(rng, (nf, nf), sf)
        out.append(np.ascontiguousarray(_upsampled(coarse, nf) + np.float32(0.35) * fine))
    return tuple(out)


def landcover_window(fields, p: dict, r0: int, c0: int, h: int, w: int) -> np.ndarray:
    """The class codes of rows r0..r0+h, columns c0..c0+w."""
    out = np.empty((h, w), dtype=np.uint8)
    _classify(*fields, p["fine"], p["res"], r0, c0, out)
    return out


def landcover_size(p: dict = LANDCOVER, side: float = SIDE) -> int:
    return int(np.ceil(side / p["res"]))


def gen_landcover(path, p: dict = LANDCOVER, side: float = SIDE) -> None:
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    size = landcover_size(p, side)
    fields = _fields(size, p)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8", "crs": CRS,
               "transform": Affine(p["res"], 0.0, X0, 0.0, -p["res"], Y0 + side), "nodata": 0,
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "DEFLATE",
               "BIGTIFF": "YES", "NUM_THREADS": "ALL_CPUS", "photometric": "PALETTE"}
    step = p["window"]
    with rasterio.open(path, "w", **profile) as dst:
        dst.write_colormap(1, {code: (*rgb, 255) for code, rgb in NLCD.items()} | {0: (0, 0, 0, 0)})
        for r0 in range(0, size, step):
            for c0 in range(0, size, step):
                h, w = min(step, size - r0), min(step, size - c0)
                dst.write(landcover_window(fields, p, r0, c0, h, w), 1, window=Window(c0, r0, w, h))
