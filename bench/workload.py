"""Seeded generator of a national-scale screening workload, cached in bench/data/.

All layers are in EPSG:5070 (CONUS Albers) over a 1,000 km square inside CONUS:

* ``sites_<N>.parquet``: N candidate footprints, 1 km buffers around uniform random points;
* ``protected.parquet``: 200,000 irregular polygons (10-50 vertices, star-shaped so always
  valid) with PAD-US-like sizes (log-normal, a few very large), about a third of the square
  covered, stacked where designations overlap (clusters of polygons around shared centres);
* ``federal.parquet``: 50,000 non-overlapping federal land parcels (Voronoi cells picked in
  large contiguous blocks, so neighbours touch);
* ``watersheds.parquet``: 100,000 HUC-12-like polygons tiling the square (Voronoi) with a
  12-digit ``huc12`` code;
* ``dem_<size>.tif``: a size × size float32 DEM (tiled 512, DEFLATE), smooth terrain written
  block by block (never whole in memory), a nodata lake in one corner;
* ``streams.parquet`` and ``landcover_30m.tif`` (``--water``; bench/hydro.py): 2.1 million NHD-like
  flowlines with their permanence code (FCode), dendritic per 10 km cell, and NLCD-like land
  cover at 30 m (uint8, a colour table), for the stream and class-share criteria.

Each file is regenerated only when missing or when its parameters changed (``manifest.json``).

    python bench/workload.py [--sites N] [--dem-size 20000] [--data bench/data] [--water]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

log = logging.getLogger("bench.workload")

CRS = "EPSG:5070"
X0, Y0 = -1_000_000.0, 1_500_000.0  # south-west corner: central CONUS in Albers
SIDE = 1_000_000.0
DATA = Path(__file__).resolve().parent / "data"
SEED = 20240604
VERSION = 1  # bump when every generator changes

DEFAULTS = {
    "protected": {"n": 200_000, "clusters": 30_000, "clustered_share": 0.7, "median_r": 500.0,
                  "sigma": 0.9, "max_r": 40_000.0},
    "federal": {"n": 50_000, "seeds": 200_000, "blob_scale": 60_000.0},
    "watersheds": {"n": 100_000, "segment": 400.0, "densify": "canonical"},
    # PAD-US-like stacking: each unit appears as 4-5 designations with nearly the same outline
    "protected_stacked": {"units": 45_000, "members": [4, 5], "median_r": 500.0, "sigma": 0.9,
                          "max_r": 40_000.0, "spike": 0.85, "r_scale": [0.92, 1.0], "jitter": 0.03},
    # NHD-like flowlines (bench/hydro.py): one tree per 10 km cell, 210 reaches each (2.1 million)
    "streams": {"block": 10_000.0, "nodes": 210, "k": 10, "vertices": 5, "meander": 0.12,
                "perennial_min": 12, "intermittent_min": 3, "unstated_share": 0.03},
    # NLCD-like land cover (bench/hydro.py): 30 m cells, patches from 1,200 m and 240 m fields
    "landcover": {"res": 30.0, "coarse": 1_200.0, "fine": 240.0, "window": 2048},
}


# ------------------------------------------------------------------------------- caching


def _key(name: str, params: dict) -> str:
    blob = json.dumps({"name": name, "params": params, "seed": SEED, "version": VERSION,
                       "extent": [X0, Y0, SIDE]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _cached(data: Path, filename: str, params: dict, build) -> Path:
    manifest_path = data / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    path = data / filename
    key = _key(filename, params)
    if path.exists() and manifest.get(filename) == key:
        return path
    data.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    tmp = path.with_name(path.name + ".partial")
    build(tmp)
    tmp.replace(path)
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[filename] = key
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    log.info("generated %s in %.1f s", filename, time.perf_counter() - t)
    return path


def _write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    gdf.to_parquet(path, write_covering_bbox=True, row_group_size=50_000, compression="zstd")


# ------------------------------------------------------------------------------- vector layers


def star_polygons(rng, cx, cy, r, vmin=10, vmax=50, spike=0.55) -> np.ndarray:
    """Irregular star-shaped polygons (always valid), fully vectorized; vertex radii are
    uniform in [spike · r, r]."""
    n = cx.size
    k = rng.integers(vmin, vmax + 1, n)
    owner = np.repeat(np.arange(n), k)
    inc = rng.uniform(0.3, 1.0, owner.size)
    cum = np.cumsum(inc)
    start = np.r_[0, np.cumsum(k)[:-1]]
    base = np.repeat(cum[start] - inc[start], k)
    total = np.repeat(np.add.reduceat(inc, start), k)
    ang = 2 * np.pi * (cum - base - inc) / total  # strictly increasing in [0, 2π)
    rad = r[owner] * rng.uniform(spike, 1.0, owner.size)
    xy = np.c_[cx[owner] + rad * np.cos(ang), cy[owner] + rad * np.sin(ang)]
    rings = shapely.linearrings(xy, indices=owner)
    return shapely.polygons(rings)


def gen_sites(path: Path, n: int) -> None:
    rng = np.random.default_rng([SEED, 1, n])
    xy = np.c_[rng.uniform(X0 + 1000, X0 + SIDE - 1000, n), rng.uniform(Y0 + 1000, Y0 + SIDE - 1000, n)]
    geom = shapely.buffer(shapely.points(xy), 1000.0)  # quad_segs=8: 33 vertices
    gdf = gpd.GeoDataFrame({"site_id": np.arange(n, dtype=np.int64)}, geometry=geom, crs=CRS)
    _write(gdf, path)


def gen_protected(path: Path, p: dict) -> None:
    rng = np.random.default_rng([SEED, 2])
    n = p["n"]
    n_cl = int(n * p["clustered_share"])
    # designations stack: polygons share cluster centres (a forest, its wilderness, a refuge...)
    ccx = rng.uniform(X0, X0 + SIDE, p["clusters"])
    ccy = rng.uniform(Y0, Y0 + SIDE, p["clusters"])
    which = rng.integers(0, p["clusters"], n_cl)
    r = np.minimum(rng.lognormal(np.log(p["median_r"]), p["sigma"], n), p["max_r"])
    jitter = r[:n_cl] * rng.uniform(0, 0.8, n_cl)
    ang = rng.uniform(0, 2 * np.pi, n_cl)
    cx = np.r_[ccx[which] + jitter * np.cos(ang), rng.uniform(X0, X0 + SIDE, n - n_cl)]
    cy = np.r_[ccy[which] + jitter * np.sin(ang), rng.uniform(Y0, Y0 + SIDE, n - n_cl)]
    geom = star_polygons(rng, cx, cy, r)
    perm = rng.permutation(n)
    designation = np.array(["wilderness", "national_park", "wildlife_refuge", "state_park",
                            "conservation_easement", "roadless_area"], dtype=object)
    gdf = gpd.GeoDataFrame(
        {"unit_id": np.arange(n, dtype=np.int64),
         "designation": designation[rng.integers(0, designation.size, n)],
         "gap_status": rng.integers(1, 5, n).astype(np.int8)},
        geometry=geom[perm], crs=CRS)
    _write(gdf, path)


def gen_protected_stacked(path: Path, p: dict) -> None:
    """Protected units stacked 4-5 deep where covered, as PAD-US designations are (a unit's fee,
    designation, easement and proclamation records share nearly one outline): each of
    ``units`` random units is drawn ``members`` times, each member its own star polygon
    (radius ``r_scale`` × the unit's, centre moved by up to ``jitter`` × r)."""
    rng = np.random.default_rng([SEED, 6])
    units = p["units"]
    r = np.minimum(rng.lognormal(np.log(p["median_r"]), p["sigma"], units), p["max_r"])
    cx, cy = rng.uniform(X0, X0 + SIDE, units), rng.uniform(Y0, Y0 + SIDE, units)
    unit = np.repeat(np.arange(units), rng.integers(p["members"][0], p["members"][1] + 1, units))
    shift, ang = r[unit] * rng.uniform(0, p["jitter"], unit.size), rng.uniform(0, 2 * np.pi, unit.size)
    geom = star_polygons(rng, cx[unit] + shift * np.cos(ang), cy[unit] + shift * np.sin(ang),
                         r[unit] * rng.uniform(*p["r_scale"], unit.size), spike=p["spike"])
    perm = rng.permutation(unit.size)
    designation = np.array(["fee", "designation", "easement", "proclamation"], dtype=object)
    gdf = gpd.GeoDataFrame(
        {"unit_id": np.arange(unit.size, dtype=np.int64), "parent_unit": unit[perm],
         "designation": designation[rng.integers(0, designation.size, unit.size)],
         "gap_status": rng.integers(1, 5, unit.size).astype(np.int8)},
        geometry=geom[perm], crs=CRS)
    _write(gdf, path)


def stacking_depth(geom: np.ndarray, n: int = 200_000) -> tuple[float, float]:
    """(share of the square covered, mean number of features over a covered point), estimated at
    n seeded random points."""
    rng = np.random.default_rng([SEED, 7])
    pts = shapely.points(np.c_[rng.uniform(X0, X0 + SIDE, n), rng.uniform(Y0, Y0 + SIDE, n)])
    hits = np.bincount(shapely.STRtree(geom).query(pts, predicate="intersects")[0], minlength=n)
    covered = hits > 0
    return float(covered.mean()), float(hits[covered].mean()) if covered.any() else 0.0


def _voronoi(rng, n: int) -> np.ndarray:
    pts = shapely.points(np.c_[rng.uniform(X0, X0 + SIDE, n), rng.uniform(Y0, Y0 + SIDE, n)])
    box = shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    cells = shapely.clip_by_rect(cells, X0, Y0, X0 + SIDE, Y0 + SIDE)
    cells = cells[~shapely.is_empty(cells)]
    # deterministic order: by position along a Hilbert curve, like HUC codes follow basins
    order = np.argsort(gpd.GeoSeries(cells).hilbert_distance(total_bounds=(X0, Y0, X0 + SIDE, Y0 + SIDE)), kind="stable")
    return cells[order]


def gen_federal(path: Path, p: dict) -> None:
    rng = np.random.default_rng([SEED, 3])
    cells = _voronoi(rng, p["seeds"])
    c = shapely.centroid(cells)
    x, y = shapely.get_x(c), shapely.get_y(c)
    # a smooth random field picks contiguous blocks of cells (BLM/USFS land comes in blocks)
    field = np.zeros(cells.size)
    for _ in range(6):
        kx, ky = rng.normal(0, 2 * np.pi / p["blob_scale"], 2)
        field += np.sin(kx * x + ky * y + rng.uniform(0, 2 * np.pi))
    pick = np.argsort(-field, kind="stable")[: p["n"]]
    pick.sort()
    agency = np.array(["BLM", "USFS", "NPS", "FWS", "DOD", "BOR"], dtype=object)
    gdf = gpd.GeoDataFrame({"parcel_id": np.arange(pick.size, dtype=np.int64),
                            "agency": agency[rng.integers(0, agency.size, pick.size)]},
                           geometry=cells[pick], crs=CRS)
    _write(gdf, path)


def densify_coverage(cells: np.ndarray, max_len: float) -> np.ndarray:
    """Add vertices along every edge (simple polygons), computed from the edge's endpoints in a
    canonical order so that neighbours sharing an edge get bit-identical vertices (a clean
    coverage, as the WBD's HUC-12 boundaries are; shapely.segmentize does not guarantee that)."""
    xy, gi = shapely.get_coordinates(cells, return_index=True)
    same = np.flatnonzero(gi[:-1] == gi[1:])  # edges xy[k] -> xy[k + 1]
    p, q = xy[same], xy[same + 1]
    swap = (q[:, 0] < p[:, 0]) | ((q[:, 0] == p[:, 0]) & (q[:, 1] < p[:, 1]))
    a = np.where(swap[:, None], q, p)
    b = np.where(swap[:, None], p, q)
    nseg = np.maximum(1, np.ceil(np.hypot(*(b - a).T) / max_len).astype(np.int64))
    owner = np.repeat(np.arange(same.size), nseg)  # one output vertex per segment start
    k = np.arange(owner.size) - np.repeat(np.cumsum(nseg) - nseg, nseg)
    frac = np.where(swap[owner], nseg[owner] - k, k) / nseg[owner]  # walk p -> q
    pts = a[owner] + (b[owner] - a[owner]) * frac[:, None]
    pts[k == 0] = p  # the original vertices, exactly
    ring_of = gi[same][owner]
    return shapely.polygons(shapely.linearrings(pts, indices=ring_of))


def gen_watersheds(path: Path, p: dict) -> None:
    rng = np.random.default_rng([SEED, 4])
    cells = densify_coverage(_voronoi(rng, p["n"]), p["segment"])
    region = 10 + (np.arange(cells.size) * 8 // cells.size)  # HU2-like prefix, contiguous
    huc12 = np.array([f"{r:02d}{i:010d}" for r, i in zip(region, np.arange(cells.size))], dtype=object)
    gdf = gpd.GeoDataFrame({"huc12": huc12}, geometry=cells, crs=CRS)
    _write(gdf, path)


# ------------------------------------------------------------------------------- DEM


def gen_dem(path: Path, size: int) -> None:
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    rng = np.random.default_rng([SEED, 5])
    res = SIDE / size
    waves = [(rng.normal(0, 2 * np.pi / L, 2), rng.uniform(0, 2 * np.pi), A)
             for L, A in [(400e3, 800.0), (150e3, 400.0), (60e3, 200.0), (20e3, 120.0), (6e3, 40.0),
                          (2e3, 15.0)]]
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
        "crs": CRS, "transform": Affine(res, 0.0, X0, 0.0, -res, Y0 + SIDE), "nodata": -9999.0,
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "DEFLATE",
        "predictor": 3, "BIGTIFF": "YES", "NUM_THREADS": "ALL_CPUS",
    }
    step = 2048
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, step):
            h = min(step, size - r0)
            y = Y0 + SIDE - (np.arange(r0, r0 + h) + 0.5) * res
            for c0 in range(0, size, step):
                w = min(step, size - c0)
                x = X0 + (np.arange(c0, c0 + w) + 0.5) * res
                xx, yy = np.meshgrid(x, y)
                z = np.full((h, w), 1500.0)
                for (kx, ky), ph, amp in waves:
                    z += amp * np.sin(kx * xx + ky * yy + ph)
                # a nodata lake near the north-east corner
                lake = (xx - (X0 + 0.9 * SIDE)) ** 2 + (yy - (Y0 + 0.9 * SIDE)) ** 2 < (25e3) ** 2
                z[lake] = -9999.0
                dst.write(z.astype(np.float32), 1, window=Window(c0, r0, w, h))


# ------------------------------------------------------------------------------- entry points


def ensure_sites(n: int, data: Path = DATA) -> Path:
    """The footprints file with n sites (generated if missing or stale)."""
    return _cached(Path(data), f"sites_{n}.parquet", {"n": n}, lambda p: gen_sites(p, n))


def ensure_layer(name: str, data: Path = DATA) -> Path:
    """One vector layer of DEFAULTS, ``<name>.parquet`` (generated if missing or stale). The
    stacked protected layer and the streams are only here, not in :func:`ensure`: the pipeline runs
    and the old keys keep their inputs."""
    import hydro  # bench/hydro.py: the streams (and the land cover, ensure_landcover)

    build = {"protected": gen_protected, "federal": gen_federal, "watersheds": gen_watersheds,
             "protected_stacked": gen_protected_stacked, "streams": hydro.gen_streams}[name]
    return _cached(Path(data), f"{name}.parquet", DEFAULTS[name], lambda p: build(p, DEFAULTS[name]))


def ensure_landcover(data: Path = DATA) -> Path:
    """The NLCD-like land-cover raster ``landcover_<res>m.tif`` (bench/hydro.py), like the streams
    only here, not in :func:`ensure`."""
    import hydro

    p = DEFAULTS["landcover"]
    return _cached(Path(data), f"landcover_{p['res']:g}m.tif", p, lambda path: hydro.gen_landcover(path, p))


def ensure(sites: int, dem_size: int = 20_000, data: Path = DATA) -> dict[str, Path]:
    """Generate whatever is missing or stale; return the paths."""
    data = Path(data)
    paths = {
        "sites": ensure_sites(sites, data),
        "protected": _cached(data, "protected.parquet", DEFAULTS["protected"],
                             lambda p: gen_protected(p, DEFAULTS["protected"])),
        "federal": _cached(data, "federal.parquet", DEFAULTS["federal"],
                           lambda p: gen_federal(p, DEFAULTS["federal"])),
        "watersheds": _cached(data, "watersheds.parquet", DEFAULTS["watersheds"],
                              lambda p: gen_watersheds(p, DEFAULTS["watersheds"])),
        "dem": _cached(data, f"dem_{dem_size}.tif", {"size": dem_size},
                       lambda p: gen_dem(p, dem_size)),
    }
    return paths


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=1_000_000)
    ap.add_argument("--dem-size", type=int, default=20_000)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--water", action="store_true", help="also the streams and the land cover (bench/hydro.py)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    paths = ensure(args.sites, args.dem_size, args.data)
    if args.water:
        paths.update(streams=ensure_layer("streams", args.data), landcover=ensure_landcover(args.data))
    for name, path in paths.items():
        print(f"{name:11s} {path}")


if __name__ == "__main__":
    main()
