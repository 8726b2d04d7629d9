"""The engines a GIS engineer would pick instead: DuckDB spatial and SedonaDB, on the bench's data.

Each peer computes the four vector criteria sitescreen computes, with the SQL a competent user
would write (below, verbatim in ``SQL``), on the same sites file and layers; the answers are
compared with our kernels' site by site. Every side reads the inputs a criterion needs once with
its own reader (ours ``sitescreen.inputs.read.read_geoparquet``, the pipeline's: only the columns
a criterion maps, pyarrow + ``shapely.from_wkb``; DuckDB ``CREATE TABLE … FROM read_parquet``;
SedonaDB ``read_parquet(…).to_memtable()``), and a criterion's time is that reading plus the
query (or kernel) and fetching its answer into numpy:

    vs_<peer>_<criterion> = peer time / our time        (higher: we are faster)
    peer_max_diff_<peer>_<criterion> = largest |difference| from our answer
    peer_n_differ_<peer>_<criterion> = sites differing beyond 1e-9 (fractions) / 1 m (distances)

A criterion a peer cannot compute is null, with a ``_reason`` key saying why: never faked.

    python bench/peers.py [--sites 100000] [--stacked]   # standalone, on bench/data
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workload  # noqa: E402

MAX_DISTANCE = 10_000.0  # the search radius of the distance criterion (m), as in bench/run.py
STREAM_DISTANCE = 5_000.0  # the stream distance criterion's search radius (bench/national-profile.toml)
PEERS = ("duckdb", "sedonadb")
TOLERANCE = {"overlap": 1e-9, "distance": 1.0, "majority": 1e-9, "length": 1e-6}  # beyond these a site "differs"
# the profile's stream selections by NHD FCode: perennial, intermittent, unstated / perennial only
SMCRA_FCODES, PERENNIAL_FCODES = (46006, 46003, 46000), (46006,)


def criteria(stacked: bool) -> dict[str, tuple[str, str]]:
    """criterion -> (layer, kind): the four vector criteria, or the two on the stacked layer."""
    if stacked:
        return {"protected_overlap_stacked": ("protected_stacked", "union"),
                "protected_distance_stacked": ("protected_stacked", "distance")}
    return {"federal_overlap": ("federal", "sum"), "protected_overlap": ("protected", "union"),
            "protected_distance": ("protected", "distance"), "huc12_majority": ("watersheds", "majority")}


def water_criteria() -> dict[str, tuple[str, str]]:
    """The stream criteria of the water step: distance to the nearest perennial, intermittent or
    unstated stream within 5 km; perennial stream length inside the footprint (metres)."""
    return {"stream_distance": ("streams", "stream_distance"), "stream_length": ("streams", "stream_length")}


def radius(kind: str) -> float:
    return STREAM_DISTANCE if kind == "stream_distance" else MAX_DISTANCE


_PAIRS = "FROM sites s JOIN {layer} l ON ST_Intersects(s.geometry, l.geometry)"
_MAJORITY_PAIRS = ("WITH pairs AS (SELECT s.site_id AS id, l.huc12 AS code, "
                   "SUM(ST_Area(ST_Intersection(s.geometry, l.geometry))) AS a, MIN(ST_Area(s.geometry)) AS fa "
                   + _PAIRS + " GROUP BY s.site_id, l.huc12) ")
SQL = {
    "sum": ("SELECT s.site_id AS id, SUM(ST_Area(ST_Intersection(s.geometry, l.geometry))) "
            "/ MIN(ST_Area(s.geometry)) AS v " + _PAIRS + " GROUP BY s.site_id"),
    "union": ("SELECT s.site_id AS id, ST_Area(ST_Union_Agg(ST_Intersection(s.geometry, l.geometry))) "
              "/ MIN(ST_Area(s.geometry)) AS v " + _PAIRS + " GROUP BY s.site_id"),
    ("duckdb", "distance"): ("SELECT s.site_id AS id, MIN(ST_Distance(s.geometry, l.geometry)) AS v "
                             "FROM sites s JOIN {layer} l ON ST_DWithin(s.geometry, l.geometry, {radius}) "
                             "GROUP BY s.site_id"),
    # SedonaDB's nearest-neighbour join (its ST_DWithin join took 688 s on 100k sites: see README)
    ("sedonadb", "distance"): ("SELECT s.site_id AS id, ST_Distance(s.geometry, l.geometry) AS v "
                               "FROM sites s JOIN {layer} l ON ST_KNN(s.geometry, l.geometry, 1, false)"),
    # the streams: the selection is a WHERE on the layer's FCode, as a user filters NHD flowlines
    ("duckdb", "stream_distance"): ("SELECT s.site_id AS id, MIN(ST_Distance(s.geometry, l.geometry)) AS v "
                                    "FROM sites s JOIN {layer} l ON ST_DWithin(s.geometry, l.geometry, {radius}) "
                                    "WHERE l.\"FCode\" IN {smcra} GROUP BY s.site_id"),
    ("sedonadb", "stream_distance"): ("SELECT s.site_id AS id, ST_Distance(s.geometry, l.geometry) AS v FROM sites s "
                                      "JOIN (SELECT geometry FROM {layer} WHERE \"FCode\" IN {smcra}) l "
                                      "ON ST_KNN(s.geometry, l.geometry, 1, false)"),
    "stream_length": ("SELECT s.site_id AS id, SUM(ST_Length(ST_Intersection(s.geometry, l.geometry))) AS v "
                      + _PAIRS + " WHERE l.\"FCode\" IN {perennial} GROUP BY s.site_id"),
    ("duckdb", "majority"): (_MAJORITY_PAIRS + "SELECT id, arg_max(code, a) AS code, SUM(a) / MIN(fa) AS v "
                             "FROM pairs GROUP BY id"),
    # no arg_max / max_by in SedonaDB 0.5: rank the pairs
    ("sedonadb", "majority"): (_MAJORITY_PAIRS + ", ranked AS (SELECT id, code, SUM(a) OVER (PARTITION BY id) / fa AS v, "
                               "row_number() OVER (PARTITION BY id ORDER BY a DESC) AS rk FROM pairs) "
                               "SELECT id, code, v FROM ranked WHERE rk = 1"),
}


def sql_for(peer: str, kind: str, layer: str) -> str:
    return SQL.get((peer, kind), SQL.get(kind, "")).format(
        layer=layer, radius=repr(radius(kind)), smcra=str(SMCRA_FCODES), perennial=f"({PERENNIAL_FCODES[0]})")


# ------------------------------------------------------------------------------- engines


def duckdb_connect():
    """A DuckDB connection with the spatial extension LOADed from the duckdb-ext-spatial wheel's
    folder (never INSTALLed from the network), on as many threads as the machine has cores."""
    import duckdb
    import duckdb_ext

    ext = Path(next(iter(duckdb_ext.__path__))) / "extensions"
    if not any(ext.glob(f"v{duckdb.__version__}/*/spatial.duckdb_extension")):
        raise RuntimeError(f"no spatial extension for duckdb {duckdb.__version__} in {ext} "
                           "(duckdb-ext-spatial must have the same version as duckdb)")
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "threads": os.cpu_count() or 1})
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET extension_directory = '{ext}'")
    con.execute("LOAD spatial")
    return con


class DuckDB:
    name = "duckdb"

    def __init__(self):
        self.con = duckdb_connect()

    def read(self, table: str, path: Path, columns: list[str]) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(columns)} FROM read_parquet('{path}')")

    def query(self, sql: str):
        return self.con.execute(sql).df()

    def drop(self, table: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {table}")


class SedonaDB:
    name = "sedonadb"

    def __init__(self):
        import geoarrow.pyarrow  # noqa: F401  (the GeoArrow types SedonaDB hands back)
        import sedonadb

        self.sd = sedonadb.connect()

    def read(self, table: str, path: Path, columns: list[str]) -> None:
        self.sd.read_parquet(str(path)).select(*columns).to_memtable().to_view(table, overwrite=True)

    def query(self, sql: str):
        return self.sd.sql(sql).to_pandas()

    def drop(self, table: str) -> None:
        self.sd.drop_view(table)


ENGINES = {"duckdb": DuckDB, "sedonadb": SedonaDB}


# ------------------------------------------------------------------------------- the three sides


COLUMNS = {"sites": ["site_id", "geometry"], "watersheds": ["huc12", "geometry"],  # what each side reads
           "streams": ["FCode", "geometry"]}


def columns(name: str) -> list[str]:
    return COLUMNS.get(name, ["geometry"])


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def ours(sites_path: Path, layers: dict[str, Path], crits: dict) -> tuple[dict, dict, dict]:
    """Our kernels: (answers, seconds per criterion without reading, reading seconds per input)."""
    import shapely

    from sitescreen.inputs.read import read_geoparquet
    from sitescreen.measure import lengths, nearest, overlap

    # the compiled kernel, compiled or loaded from its cache before timing (as bench/run.py does)
    overlap.overlap_fraction(np.array([shapely.box(0, 0, 2, 2)]), np.array([shapely.box(1, 1, 3, 3)]))
    frames, read = {}, {}
    for name, path in {"sites": sites_path, **layers}.items():
        frames[name], read[name] = timed(read_geoparquet, path, columns(name))
    fp = frames["sites"].geometry.values
    run = {"sum": lambda g, _: (overlap.overlap_fraction(fp, g), None),  # federal parcels never overlap
           "union": lambda g, _: (overlap.overlap_fraction(fp, g), None),
           "distance": lambda g, _: (nearest.nearest(fp, g, MAX_DISTANCE)[0], None),
           "majority": lambda g, f: overlap.area_weighted(fp, g, f["huc12"].to_numpy(dtype=object), "majority")[::-1],
           "stream_distance": lambda g, f: (nearest.nearest(fp, g[f["FCode"].isin(SMCRA_FCODES).to_numpy()],
                                                            STREAM_DISTANCE)[0], None),
           "stream_length": lambda g, f: (lengths.length_within(fp, g[f["FCode"].isin(PERENNIAL_FCODES).to_numpy()]),
                                          None)}
    answers, seconds = {}, {}
    for crit, (layer, kind) in crits.items():
        answers[crit], seconds[crit] = timed(run[kind], frames[layer].geometry.values, frames[layer])
    return answers, seconds, read


def peer_side(engine, sites_path: Path, site_ids: np.ndarray, layers: dict[str, Path], crits: dict):
    """One peer: (answers or an exception per criterion, query seconds, reading seconds)."""
    read = {}
    for name, path in {"sites": sites_path, **layers}.items():
        _, read[name] = timed(engine.read, name, path, columns(name))
    answers, seconds = {}, {}
    for crit, (layer, kind) in crits.items():
        try:
            df, seconds[crit] = timed(engine.query, sql_for(engine.name, kind, layer))
        except Exception as exc:  # a function the peer lacks, an engine error: said, not faked
            answers[crit] = exc
            continue
        answers[crit] = _aligned(df, site_ids, kind)
    for name in read:
        engine.drop(name)
    return answers, seconds, read


def _aligned(df, site_ids: np.ndarray, kind: str):
    """A peer's (id, v[, code]) rows as arrays in the sites' order, filled where it has no row:
    fraction 0, distance inf (and beyond the radius: ST_KNN has none), majority code None."""
    import pandas as pd

    df = df.set_index("id")
    dist = kind.endswith("distance")
    v = np.array(pd.to_numeric(df["v"]).reindex(site_ids).fillna(np.inf if dist else 0.0), dtype=np.float64)
    if dist:
        v[v > radius(kind)] = np.inf
    if kind != "majority":
        return v, None
    code = df["code"].astype(object).reindex(site_ids).to_numpy(dtype=object)
    return v, np.where(pd.isna(code), None, code)


# ------------------------------------------------------------------------------- comparing


def compare(mine, theirs, kind: str) -> dict:
    """Largest |difference| where both have a value, and how many sites differ: beyond the
    tolerance, a value on one side only (a distance within the radius), or another majority code."""
    a, b = mine[0], theirs[0]
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    tol = TOLERANCE[{"stream_distance": "distance", "stream_length": "length"}.get(
        kind, kind if kind in ("distance", "majority") else "overlap")]
    out = {"max_diff": float(diff.max()) if diff.size else None,
           "n_differ": int((diff > tol).sum() + (np.isfinite(a) != np.isfinite(b)).sum()), "tolerance": tol}
    if kind == "majority":
        codes = np.asarray(mine[1] != theirs[1], dtype=bool)
        out["n_code_differ"] = int(codes.sum())
        out["n_differ"] += int((codes & ~(np.abs(a - b) > tol)).sum())  # each site counted once
    return out


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]


def measure(n_sites: int, *, stacked: bool = False, data: Path = workload.DATA, say=print) -> tuple[dict, dict]:
    """Ours and both peers on ``n_sites`` bench sites (``sites_<n>.parquet``) and the bench layers
    (or the stacked protected layer). Returns (the JSON keys, the details: seconds and differences)."""
    crits = criteria(stacked)
    return measure_files(workload.ensure_sites(n_sites, data), _layer_paths(crits, data), crits, say=say)


def measure_files(sites_path: Path, layers: dict[str, Path], crits: dict, *, say=print) -> tuple[dict, dict]:
    """:func:`measure` on given files: ``layers`` maps the layer names of ``crits`` to GeoParquet."""
    mine, t_mine, r_mine = ours(sites_path, layers, crits)
    site_ids = pq.read_table(sites_path, columns=["site_id"])["site_id"].to_numpy()
    n_sites = site_ids.size
    keys, detail = {}, {"sites": n_sites, "layers": {k: str(v) for k, v in layers.items()},
                        "ours": {"read_seconds": r_mine, "seconds": t_mine}}
    for peer in PEERS:
        detail[peer] = side = {"sql": {c: sql_for(peer, k, l) for c, (l, k) in crits.items()}}
        try:
            engine = ENGINES[peer]()
            answers, t_peer, r_peer = peer_side(engine, sites_path, site_ids, layers, crits)
        except Exception as exc:  # not installed, extension missing: every criterion null, said why
            answers, t_peer, r_peer = {c: exc for c in crits}, {}, {}
        side.update(read_seconds=r_peer, seconds=t_peer)
        for crit, (layer, kind) in crits.items():
            key = f"vs_{peer}_{crit}"
            if isinstance(answers[crit], BaseException):
                keys[key] = keys[f"peer_max_diff_{peer}_{crit}"] = keys[f"peer_n_differ_{peer}_{crit}"] = None
                keys[key + "_reason"] = side.setdefault("reasons", {})[crit] = _reason(answers[crit])
                say(f"  {peer:9s} {crit:28s} not computed: {keys[key + '_reason']}")
                continue
            ours_s = r_mine["sites"] + r_mine[layer] + t_mine[crit]
            peer_s = r_peer["sites"] + r_peer[layer] + t_peer[crit]
            side.setdefault("compare", {})[crit] = cmp = compare(mine[crit], answers[crit], kind)
            keys[key] = round(peer_s / ours_s, 2)
            keys[f"peer_max_diff_{peer}_{crit}"] = cmp["max_diff"]
            keys[f"peer_n_differ_{peer}_{crit}"] = cmp["n_differ"]
            say(f"  {peer:9s} {crit:28s} {peer_s:8.2f} s vs ours {ours_s:6.2f} s: {keys[key]:6.2f}×; "
                f"max |diff| {_fmt(cmp['max_diff'])}, {cmp['n_differ']:,} of {n_sites:,} sites beyond {cmp['tolerance']:g}"
                + (f" ({cmp['n_code_differ']:,} other majority codes)" if "n_code_differ" in cmp else ""))
        if set(crits) == set(criteria(False)):  # the four criteria, not the stacked or stream pairs
            keys[f"vs_{peer}_all"] = _all(r_mine, t_mine, r_peer, t_peer, crits)
    return keys, detail


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.1e}"


def _all(r_mine, t_mine, r_peer, t_peer, crits) -> float | None:
    """All criteria with every input read once: peer seconds / ours (None unless the peer did all)."""
    if set(t_peer) != set(crits):
        return None
    return round((sum(r_peer.values()) + sum(t_peer.values())) / (sum(r_mine.values()) + sum(t_mine.values())), 2)


def _layer_paths(crits: dict, data: Path) -> dict[str, Path]:
    return {name: workload.ensure_layer(name, data) for name in sorted({layer for layer, _ in crits.values()})}


def stacked_step(n_cmp: int, n_peers: int, n_overlay: int, overlay, *, data: Path = workload.DATA,
                 say=print) -> tuple[dict, dict]:
    """The stacked protected layer (4-5 deep where covered): our overlap fraction and distance on
    ``n_cmp`` sites, ``overlay`` (bench/run.py's gpd.overlay + dissolve) on ``n_overlay`` of them
    scaled linearly, and both peers on ``n_peers`` sites. Keys end in ``_stacked``."""
    import geopandas as gpd

    layer_path = workload.ensure_layer("protected_stacked", data)
    sites = gpd.read_parquet(workload.ensure_sites(n_cmp, data))
    layer = gpd.read_parquet(layer_path)
    share, depth = workload.stacking_depth(layer.geometry.values)
    say(f"  {len(layer):,} features, {share:.1%} of the square covered, {depth:.2f} deep where covered")
    mine, t_mine, _ = ours(workload.ensure_sites(n_cmp, data), {"protected_stacked": layer_path}, criteria(True))
    idx = np.sort(np.random.default_rng(7).choice(len(sites), size=min(n_overlay, len(sites)), replace=False))
    ref, t_ov = timed(overlay, sites.iloc[idx], layer)
    t_ov *= len(sites) / len(idx)
    diff = float(np.nanmax(np.abs(ref - mine["protected_overlap_stacked"][0][idx])))
    keys = {"protected_stacked_depth": round(depth, 2), "protected_stacked_covered_share": round(share, 3),
            "protected_overlap_stacked_seconds": round(t_mine["protected_overlap_stacked"], 2),
            "protected_distance_stacked_seconds": round(t_mine["protected_distance_stacked"], 2),
            "overlap_vs_overlay_stacked": round(t_ov / t_mine["protected_overlap_stacked"], 2)}
    say(f"  ours on {n_cmp:,} sites: overlap {t_mine['protected_overlap_stacked']:.2f} s, distance "
        f"{t_mine['protected_distance_stacked']:.2f} s; gpd.overlay + dissolve on {len(idx):,} sites scaled: "
        f"{t_ov:.1f} s, {keys['overlap_vs_overlay_stacked']:.1f}× ours (max |difference| {diff:.1e})")
    peer_keys, detail = measure(n_peers, stacked=True, data=data, say=say)
    detail["overlay_max_diff"] = diff
    return {**keys, **peer_keys}, detail


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="DuckDB spatial and SedonaDB against sitescreen's kernels")
    ap.add_argument("--sites", type=int, default=100_000)
    ap.add_argument("--stacked", action="store_true", help="the stacked protected layer (2 criteria)")
    ap.add_argument("--data", type=Path, default=workload.DATA)
    args = ap.parse_args(argv)
    keys, detail = measure(args.sites, stacked=args.stacked, data=args.data)
    print(json.dumps({**keys, "peers": detail}))


if __name__ == "__main__":
    main()
