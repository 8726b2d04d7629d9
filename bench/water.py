"""Step 12 of bench/run.py: the streams and the land cover (issue 13 item 2).

On the NHD-like ``streams.parquet`` (2.1 million flowlines) and the NLCD-like ``landcover_30m.tif``
of bench/hydro.py: our kernels for the profile's three optional criteria on the comparison sites
(``streams_distance_seconds``: distance to the nearest perennial, intermittent or unstated stream
within 5 km; ``streams_length_seconds``: perennial stream length inside the footprint;
``landcover_share_seconds``: the exact share of NLCD wetland classes 90 and 95), DuckDB and SedonaDB
on the two stream criteria (bench/peers.py: ``vs_<peer>_stream_distance``, ``…_stream_length``;
the class share is null with a reason: neither reads rasters), and the real pipeline with the two
layers given (``sites_<N>_with_water_seconds``), compared with the same run without them.

    PYTHONPATH=<checkout> python bench/water.py [--sites 20000] [--peers 20000] [--pipeline]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import peers  # noqa: E402
import workload  # noqa: E402

WETLAND = [90, 95]  # the class-share criterion of bench/national-profile.toml (wetland_cover)
KNOWN = [11, 12, 21, 22, 23, 24, 31, 41, 42, 43, 51, 52, 71, 72, 73, 74, 81, 82, 90, 95]
NO_RASTER = {"duckdb": "DuckDB spatial has no raster type and no zonal statistics: it cannot read the land-cover GeoTIFF",
             "sedonadb": "SedonaDB 0.5 reads vector data only (no raster type, no zonal statistics)"}


@contextmanager
def _timer(name: str, say=print):
    t = time.perf_counter()
    rec = {}
    yield rec
    rec["seconds"] = time.perf_counter() - t
    say(f"  {name:44s} {rec['seconds']:9.2f} s")


def layer_summary(streams_path: Path, landcover_path: Path) -> dict:
    """What the two layers hold: flowlines per FCode, file sizes, the raster's grid."""
    import pyarrow.parquet as pq
    import rasterio

    fcode = pq.read_table(streams_path, columns=["FCode"])["FCode"].to_numpy()
    codes, counts = np.unique(fcode, return_counts=True)
    with rasterio.open(landcover_path) as ds:
        grid = {"width": ds.width, "height": ds.height, "res_m": ds.res[0], "dtype": ds.dtypes[0],
                "block": ds.block_shapes[0], "compress": str(ds.compression), "colormap": len(ds.colormap(1))}
    return {"streams": int(fcode.size), "streams_by_fcode": {int(c): int(n) for c, n in zip(codes, counts)},
            "streams_mb": round(streams_path.stat().st_size / 1e6, 1), "landcover": grid,
            "landcover_mb": round(landcover_path.stat().st_size / 1e6, 1)}


def ours(sites_path: Path, streams_path: Path, landcover_path: Path, say=print) -> tuple[dict, dict]:
    """Our kernels for the three criteria on the sites of ``sites_path``: (keys, answers)."""
    import geopandas as gpd

    from sitescreen.measure import lengths, nearest
    from sitescreen.measure.zonal import zonal_stats

    with _timer("read sites + streams (gpd.read_parquet)", say) as rd:
        sites = gpd.read_parquet(sites_path, columns=["site_id", "geometry"])
        streams = gpd.read_parquet(streams_path, columns=peers.columns("streams"))
    fp, g, fcode = sites.geometry.values, streams.geometry.values, streams["FCode"]
    with _timer("ours: stream distance (<= 5 km)", say) as dist:
        d = nearest.nearest(fp, g[fcode.isin(peers.SMCRA_FCODES).to_numpy()], peers.STREAM_DISTANCE)[0]
    with _timer("ours: perennial stream length", say) as ln:
        length = lengths.length_within(fp, g[fcode.isin(peers.PERENNIAL_FCODES).to_numpy()])
    with _timer("ours: wetland class share (30 m)", say) as cs:
        share = zonal_stats(sites.geometry, landcover_path, ["class_share"], classes=WETLAND, known=KNOWN)
    share = share["class_share"].to_numpy()
    keys = {"streams_read_seconds": round(rd["seconds"], 2), "streams_distance_seconds": round(dist["seconds"], 2),
            "streams_length_seconds": round(ln["seconds"], 2), "landcover_share_seconds": round(cs["seconds"], 2),
            "water_sites": len(sites)}
    answers = {"stream_distance": d, "stream_length": length, "landcover_share": share}
    say(f"  -> {len(sites):,} sites: {np.isfinite(d).mean():.1%} within 5 km of a selected stream "
        f"({(d == 0).mean():.1%} touch one), {(length > 0).mean():.1%} hold perennial stream (mean "
        f"{np.mean(length) / 1000:.2f} km), wetland share mean {np.nanmean(share):.3f} ({np.isnan(share).sum()} no data)")
    return keys, answers


def peer_keys(sites_path: Path, streams_path: Path, say=print) -> tuple[dict, dict]:
    """Both peers on the stream criteria (bench/peers.py), the class share null with a reason."""
    keys, detail = peers.measure_files(sites_path, {"streams": streams_path}, peers.water_criteria(), say=say)
    for peer, why in NO_RASTER.items():
        keys.update({f"vs_{peer}_landcover_share": None, f"vs_{peer}_landcover_share_reason": why,
                     f"peer_max_diff_{peer}_landcover_share": None, f"peer_n_differ_{peer}_landcover_share": None})
        say(f"  {peer:9s} {'landcover_share':28s} not computed: {why}")
    return keys, detail


def pipeline_keys(paths: dict, n: int, data: Path, runs: Path, without: dict, without_dir: Path, full_pipeline,
                  say=print) -> dict:
    """The real streamed CLI run on ``n`` sites with the streams and the land cover given, against
    ``without`` (the same run without them, from step 6): wall time, peak RSS, and whether every
    column the two share is identical (the optional criteria change nothing else)."""
    water = {**paths, "streams": workload.ensure_layer("streams", data), "landcover": workload.ensure_landcover(data)}
    out = runs / f"sites_{n}_water"
    res = full_pipeline(water, paths[f"sites_{n}"], out, flow="streamed")
    same, why = same_shared_columns(without_dir, out)
    ratio = res["seconds"] / without["seconds"]
    say(f"  -> with streams + land cover: {res['seconds']:.1f} s, peak RSS {res['peak_rss_gb']:.2f} GB "
        f"({ratio:.2f}× the run without them: {without['seconds']:.1f} s); measure stage "
        f"{res['timings'].get('measure', float('nan')):.1f} s vs {without['timings'].get('measure', float('nan')):.1f} s; "
        f"shared columns identical: {same} ({why})")
    return {f"sites_{n}_with_water_seconds": round(res["seconds"], 1),
            f"sites_{n}_with_water_peak_rss_gb": round(res["peak_rss_gb"], 2),
            "water_pipeline_vs_without": round(ratio, 3), "water_pipeline_same_old_columns": same,
            "water_pipeline": {"seconds": round(res["seconds"], 2), "peak_rss_gb": round(res["peak_rss_gb"], 3),
                               "timings": res["timings"], "cmd": res["cmd"]}}


def same_shared_columns(dir_a: Path, dir_b: Path) -> tuple[bool, str]:
    """Whether two runs' sites.parquet agree on every column they share (by site_id)."""
    import geopandas as gpd
    import pandas as pd

    a = gpd.read_parquet(Path(dir_a) / "sites.parquet").sort_values("site_id").reset_index(drop=True)
    b = gpd.read_parquet(Path(dir_b) / "sites.parquet").sort_values("site_id").reset_index(drop=True)
    shared = [c for c in a.columns if c in b.columns and c != a.geometry.name]
    try:
        pd.testing.assert_frame_equal(a[shared], b[shared], check_exact=True)
    except AssertionError as exc:
        return False, str(exc).splitlines()[0]
    if not bool(a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()):
        return False, "geometries differ"
    new = [c for c in b.columns if c not in a.columns]
    return True, f"{len(a):,} rows × {len(shared)} shared columns identical; new: {', '.join(new)}"


def step(n_cmp: int, n_peers: int, data: Path, say=print) -> tuple[dict, dict]:
    """Steps 12a-b: the layers, our kernels on ``n_cmp`` sites and the peers on ``n_peers``."""
    t = time.perf_counter()
    streams, landcover = workload.ensure_layer("streams", data), workload.ensure_landcover(data)
    summary = layer_summary(streams, landcover)
    say(f"  layers ready in {time.perf_counter() - t:.1f} s: {summary['streams']:,} flowlines "
        f"({summary['streams_mb']} MB; by FCode {summary['streams_by_fcode']}), land cover "
        f"{summary['landcover']['width']:,}² at {summary['landcover']['res_m']:g} m ({summary['landcover_mb']} MB)")
    keys, _ = ours(workload.ensure_sites(n_cmp, data), streams, landcover, say=say)
    pk, detail = peer_keys(workload.ensure_sites(n_peers, data), streams, say=say)
    return {**keys, **pk}, {"layers": summary, "peers": detail}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="the streams and land-cover step of the bench, alone")
    ap.add_argument("--sites", type=int, default=20_000, help="sites of our kernels")
    ap.add_argument("--peers", type=int, default=20_000, help="sites of the peers")
    ap.add_argument("--data", type=Path, default=workload.DATA)
    args = ap.parse_args(argv)
    keys, detail = step(args.sites, args.peers, args.data)
    print(json.dumps({**keys, "water": detail}))


if __name__ == "__main__":
    main()
