"""National-scale benchmark: sitescreen's kernels against the alternatives, measured in one run.

    python bench/run.py [--sites N] [--quick]

Prints one line per stage (wall seconds, peak RSS) and the ratios, and ends with ONE JSON object
on its last line (also written to bench/results/latest.json). Ratios are "how many times faster"
(alternative time / our time) except vector_vs_io_floor, zonal_vs_exactextract and scaling_2x,
which are our time / reference time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import national  # noqa: E402
import workload  # noqa: E402

MAX_DISTANCE = 10_000.0  # nearest-feature search radius (m), the same for us and sjoin_nearest


# ------------------------------------------------------------------------------- measuring


class PeakRSS:
    """Samples this process's RSS (children included) every 20 ms in a background thread."""

    def __init__(self):
        import psutil

        self._proc = psutil.Process()
        self._peak = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except Exception:  # child gone
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            rss = self._rss()
            with self._lock:
                self._peak = max(self._peak, rss)
            time.sleep(0.02)

    def reset(self) -> None:
        with self._lock:
            self._peak = self._rss()

    def peak(self) -> int:
        with self._lock:
            return max(self._peak, self._rss())


RESULTS: dict[str, dict] = {}
_SAMPLER: PeakRSS | None = None


@contextmanager
def stage(name: str, note: str = ""):
    global _SAMPLER
    if _SAMPLER is None:
        _SAMPLER = PeakRSS()
    _SAMPLER.reset()
    t = time.perf_counter()
    rec = {}
    yield rec
    rec["seconds"] = time.perf_counter() - t
    rec["peak_rss_gb"] = _SAMPLER.peak() / 1e9
    RESULTS[name] = rec
    extra = f"  ({note})" if note else ""
    print(f"  {name:44s} {rec['seconds']:9.2f} s   peak RSS {rec['peak_rss_gb']:5.2f} GB{extra}",
          flush=True)


def say(msg: str = "") -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------- stages


def read_inputs(paths, sites_path):
    import geopandas as gpd

    sites = gpd.read_parquet(sites_path)
    layers = {name: gpd.read_parquet(paths[name]) for name in ("protected", "federal", "watersheds")}
    return sites, layers


def vector_criteria(sites, layers) -> dict:
    """The four vector criteria (our kernels). Returns the measurement columns."""
    from sitescreen.measure import nearest, overlap

    fp = sites.geometry.values
    out = {}
    with stage("  overlap fraction, protected"):
        out["m_protected_overlap"] = overlap.overlap_fraction(fp, layers["protected"].geometry.values)
    with stage("  overlap fraction, federal"):
        out["m_federal_overlap"] = overlap.overlap_fraction(fp, layers["federal"].geometry.values)
    with stage("  nearest protected (<= 10 km)"):
        out["m_protected_distance"], _ = nearest.nearest(
            fp, layers["protected"].geometry.values, MAX_DISTANCE)
    with stage("  majority HUC-12 (area-weighted)"):
        ws = layers["watersheds"]
        out["m_huc12"], out["m_huc12_covered"] = overlap.area_weighted(
            fp, ws.geometry.values, ws["huc12"].to_numpy(dtype=object), "majority")
    return out


def full_pipeline(paths: dict, sites_path: Path, out_dir: Path, *, engine: str = "local",
                  workers: int | None = None, flow: str | None = None) -> dict:
    """The whole screening of one site file by the real ``sitescreen`` CLI, as a batch user runs it:

        sitescreen -q screen --config CFG --out DIR --no-map --no-report --overwrite

    with a run config written for the bench data and the bench profile (bench/national-profile.toml:
    four vector criteria, one raster criterion). Runs in a child process, so the peak RSS is its
    own; writes sites.gpkg, sites.parquet, sites.csv and manifest.json. Returns wall seconds, peak
    RSS and the stage timings of the manifest.
    """
    cfg = national.write_config(paths, sites_path, Path(out_dir).parent / "configs")
    res = national.screen_cli(cfg, out_dir, engine=engine, workers=workers,
                              extra={"streamed": ["--stream"], "in memory": ["--no-stream"]}.get(flow))
    res["n"] = int(Path(sites_path).stem.split("_")[-1]) if Path(sites_path).stem.startswith("sites_") else None
    res["config"] = str(cfg)
    return res


def describe_run(label: str, res: dict) -> str:
    t = res["timings"]
    rest = res["seconds"] - t.get("total", 0.0)  # outside the manifest's total: start-up, and writing in memory runs
    write = f"writing {t['write']:.1f}, start-up {rest:.1f}" if "write" in t else f"start-up + writing {rest:.1f}"
    return (f"  {label}: {res['seconds']:.1f} s wall (sites {t.get('sites', 0):.1f}, layers {t.get('layers', 0):.1f}, "
            f"measure {t.get('measure', 0):.1f}, score {t.get('score', 0):.1f}, {write}), peak RSS {res['peak_rss_gb']:.2f} GB (sampled at {res.get('peak_at_s', 0):.0f} s: "
            f"{_stage_at(res)})")


def cpu_busy(res: dict) -> dict:
    """How busy the cores were in one CLI run (issue 13): CPU seconds of the run and its children
    (the run record's ``cpu_measure`` and ``cpu_total``, :mod:`sitescreen.run.cpu`) over wall
    seconds × cores, for the measuring stage and for the whole run (start-up included), and
    ``pipeline_overhead`` = end-to-end wall / measuring wall. None where the run could not count."""
    t, cores = res["timings"], os.cpu_count() or 1
    measure, cpu_m, cpu_t = t.get("measure"), t.get("cpu_measure"), t.get("cpu_total")
    return {"cpu_busy_measure": round(cpu_m / (measure * cores), 3) if cpu_m is not None and measure else None,
            "cpu_busy_run": round(cpu_t / (res["seconds"] * cores), 3) if cpu_t is not None else None,
            "pipeline_overhead": round(res["seconds"] / measure, 3) if measure else None}


def _stage_at(res: dict) -> str:
    """The pipeline stage running when the peak RSS was sampled (from the manifest's timings)."""
    t, at = res["timings"], res.get("peak_at_s", 0.0)
    end = 0.0
    if "write" in t:  # streamed: measure, score and write alternate chunk by chunk after sites and layers
        for name in ("profile", "sites", "layers"):
            end += t.get(name, 0.0)
            if at <= end + 3.0:
                return name
        return "the chunk loop (measure, score, write per chunk)"
    for name in ("profile", "sites", "layers", "measure", "score"):
        end += t.get(name, 0.0)
        if at <= end + 3.0:  # a few seconds of interpreter start-up before the first stage
            return name
    return "writing the outputs"


def same_results(dir_a: Path, dir_b: Path, by: str | None = None) -> tuple[bool, str]:
    """Whether two runs wrote the same sites.parquet (every column, every value; same order, or
    ordered ``by`` a column first: a streamed run writes rows in spatial chunks)."""
    import geopandas as gpd
    import pandas as pd

    a = gpd.read_parquet(Path(dir_a) / "sites.parquet")
    b = gpd.read_parquet(Path(dir_b) / "sites.parquet")
    if by:
        a = a.sort_values(by).reset_index(drop=True)
        b = b.sort_values(by).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a.drop(columns=a.geometry.name), b.drop(columns=b.geometry.name),
                                      check_exact=True)
    except AssertionError as exc:
        return False, str(exc).splitlines()[0]
    if not bool(a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()):
        return False, "geometries differ"
    return True, f"{len(a):,} rows × {a.shape[1]} columns identical"


# ------------------------------------------------------------------------------- alternatives


def alt_overlay(sites, protected) -> np.ndarray:
    """The geopandas way: overlay + dissolve per site."""
    import geopandas as gpd

    a = sites[["geometry"]].assign(site=np.arange(len(sites)))
    ov = gpd.overlay(a, protected[["geometry"]], how="intersection", keep_geom_type=True)
    covered = ov.dissolve("site").area.reindex(np.arange(len(sites)), fill_value=0.0)
    return covered.to_numpy() / a.area.to_numpy()


def alt_sjoin_nearest(sites, protected) -> np.ndarray:
    import geopandas as gpd

    j = gpd.sjoin_nearest(sites[["geometry"]], protected[["geometry"]], how="left",
                          max_distance=MAX_DISTANCE, distance_col="d")
    d = j["d"].groupby(level=0).min()
    return d.reindex(sites.index).fillna(np.inf).to_numpy()


def subset(n_total: int, n: int, seed: int = 7) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False))


# ------------------------------------------------------------------------------- streams and land cover


def water_step(args, paths: dict, n_cmp: int, n_peers: int, runs: Path, local: dict, local_dir: Path):
    """[12] the streams and the land cover (bench/water.py): our kernels on ``n_cmp`` sites, the peers
    on ``n_peers``, and the streamed CLI run of ``n_cmp`` sites with the two layers, against
    ``local`` (the same run without them, step 6). Returns (keys, detail)."""
    import water

    say(f"\n[12] streams (2.1M NHD-like flowlines) and land cover (NLCD-like, 30 m): ours on {n_cmp:,} sites, "
        f"the peers on {n_peers:,}, the real pipeline with both layers")
    with stage("streams and land cover: kernels and peers"):
        keys, detail = water.step(n_cmp, n_peers, args.data, say=say)
    with stage(f"streams and land cover: pipeline, {n_cmp:,} sites"):
        pipe = water.pipeline_keys(paths, n_cmp, args.data, runs, local, local_dir, full_pipeline, say=say)
    detail["pipeline"] = pipe.pop("water_pipeline")
    return {**keys, **pipe}, detail


# ------------------------------------------------------------------------------- main


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="sitescreen national-scale benchmark")
    ap.add_argument("--sites", type=int, default=1_000_000, help="sites of the full-pipeline run")
    ap.add_argument("--quick", action="store_true", help="100,000 sites, 8,000² DEM, smaller subsets")
    ap.add_argument("--dem-size", type=int, default=None, help="DEM side in pixels (20,000; quick 8,000)")
    ap.add_argument("--data", type=Path, default=workload.DATA)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    ap.add_argument("--runs", type=Path, default=None,
                    help="folder for the screenings' outputs (default: DATA/runs, replaced on every run)")
    ap.add_argument("--dask-workers", type=int, default=2, help="workers (processes) of the Dask engine runs")
    ap.add_argument("--soak-runs", type=int, default=None, help="Dask runs of the soak (20; quick 3)")
    ap.add_argument("--soak-sites", type=int, default=None, help="sites of each soak run (100,000; quick 10,000)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sites = min(args.sites, 100_000)
    if args.dem_size is None:
        args.dem_size = 8_000 if args.quick else 20_000
    args.soak_runs = args.soak_runs or (3 if args.quick else 20)
    args.soak_sites = args.soak_sites or (10_000 if args.quick else 100_000)

    n_cmp = 100_000  # the comparisons run on 100,000 sites, as in the issue
    sub_overlay = 5_000 if args.quick else 10_000
    sub_nearest = 20_000 if args.quick else 100_000
    sub_rasterstats = 1_000 if args.quick else 2_000
    sub_peers = 20_000 if args.quick else n_cmp  # DuckDB and SedonaDB are slow: fewer sites in quick runs
    half = args.sites // 2

    say(f"sitescreen bench: {args.sites:,} sites, DEM {args.dem_size:,}², "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    say(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    t0 = time.perf_counter()
    paths = workload.ensure(args.sites, args.dem_size, args.data)
    for extra in {n_cmp, half} - {args.sites}:
        paths[f"sites_{extra}"] = workload.ensure_sites(extra, args.data)
    paths[f"sites_{args.sites}"] = paths["sites"]
    say(f"workload ready in {time.perf_counter() - t0:.1f} s ({args.data})")

    import pyogrio  # noqa: F401  (imported before timing)

    from sitescreen.measure import overlap
    from sitescreen.measure.zonal import zonal_stats

    # the compiled area kernel (numba): compiled on a machine's first run, then loaded from its
    # cache (sitescreen/__pycache__); a one-time cost like the imports, timed here on its own
    import shapely
    with stage("area kernel: numba compile or cache load (once)"):
        overlap.overlap_fraction(np.array([shapely.box(0, 0, 2, 2)]), np.array([shapely.box(1, 1, 3, 3)]))

    # ---------------------------------------------------------------- I/O floor, 100k sites
    say("\n[1] I/O floor and all vector criteria, 100,000 sites × 4 layers")
    with stage("read inputs (gpd.read_parquet)"):
        sites, layers = read_inputs(paths, paths[f"sites_{n_cmp}"])
    with stage("all vector criteria (ours)") as vec:
        ours = vector_criteria(sites, layers)
    io_floor = RESULTS["read inputs (gpd.read_parquet)"]["seconds"]
    vector_vs_io = vec["seconds"] / io_floor
    say(f"  -> vector criteria / I/O floor = {vector_vs_io:.1f} (target <= 10)")

    # ---------------------------------------------------------------- overlap vs overlay
    say(f"\n[2] overlap fraction vs gpd.overlay + dissolve ({len(sites):,} sites × "
        f"{len(layers['protected']):,} protected polygons)")
    idx = subset(len(sites), sub_overlay)
    sub = sites.iloc[idx]
    with stage(f"gpd.overlay + dissolve on {len(sub):,} random sites",
               "scaled linearly to 100,000"):
        ref = alt_overlay(sub, layers["protected"])
    with stage(f"ours on the same {len(sub):,} sites"):
        mine = overlap.overlap_fraction(sub.geometry.values, layers["protected"].geometry.values)
    agree = float(np.nanmax(np.abs(ref - mine))) if len(sub) else 0.0
    t_overlay = RESULTS[f"gpd.overlay + dissolve on {len(sub):,} random sites"]["seconds"] * len(sites) / len(sub)
    t_ours = RESULTS["  overlap fraction, protected"]["seconds"]
    overlap_vs_overlay = t_overlay / t_ours
    same_subset = (RESULTS[f"gpd.overlay + dissolve on {len(sub):,} random sites"]["seconds"]
                   / RESULTS[f"ours on the same {len(sub):,} sites"]["seconds"])
    say(f"  -> overlay scaled to {len(sites):,}: {t_overlay:.1f} s; ours {t_ours:.1f} s; "
        f"{overlap_vs_overlay:.1f}× faster (on the subset itself {same_subset:.1f}×); "
        f"max |difference| {agree:.1e} (target >= 20)")

    # ---------------------------------------------------------------- nearest vs sjoin_nearest
    say(f"\n[3] distance to the nearest protected area vs gpd.sjoin_nearest (max_distance {MAX_DISTANCE:.0f} m)")
    idx = subset(len(sites), sub_nearest)
    sub = sites.iloc[idx]
    scaled = len(sub) < len(sites)
    with stage(f"gpd.sjoin_nearest on {len(sub):,} sites",
               "scaled linearly to 100,000" if scaled else ""):
        ref_d = alt_sjoin_nearest(sub, layers["protected"])
    t_sj = RESULTS[f"gpd.sjoin_nearest on {len(sub):,} sites"]["seconds"] * len(sites) / len(sub)
    t_near = RESULTS["  nearest protected (<= 10 km)"]["seconds"]
    mine_d = ours["m_protected_distance"][idx]
    fin = np.isfinite(ref_d)
    agree_d = float(np.max(np.abs(ref_d[fin] - mine_d[fin]))) if fin.any() else 0.0
    distance_vs_sjoin = t_sj / t_near
    say(f"  -> sjoin_nearest {t_sj:.1f} s; ours {t_near:.1f} s; {distance_vs_sjoin:.1f}× faster; "
        f"max |difference| {agree_d:.1e} m; same misses: {bool((np.isinf(ref_d) == np.isinf(mine_d)).all())} "
        f"(target >= 5)")

    # ---------------------------------------------------------------- zonal statistics
    say(f"\n[4] zonal statistics mean + max, {len(sites):,} footprints on the {args.dem_size:,}² DEM")
    import exactextract
    import rasterstats

    with stage("ours: sitescreen.measure.zonal.zonal_stats"):
        z = zonal_stats(sites.geometry, paths["dem"], ["mean", "max"])
    with stage("exactextract.exact_extract, default strategy"):
        ee1 = exactextract.exact_extract(str(paths["dem"]), sites[["geometry"]], ["mean", "max"],
                                         output="pandas")
    with stage("exactextract.exact_extract, raster-sequential"):
        ee2 = exactextract.exact_extract(str(paths["dem"]), sites[["geometry"]], ["mean", "max"],
                                         output="pandas", strategy="raster-sequential")
    idx = subset(len(sites), sub_rasterstats)
    with stage(f"rasterstats.zonal_stats on {len(idx):,} sites", "scaled linearly to 100,000"):
        rs = rasterstats.zonal_stats(list(sites.geometry.values[idx]), str(paths["dem"]),
                                     stats=["mean", "max"], nodata=-9999.0)
    t_z = RESULTS["ours: sitescreen.measure.zonal.zonal_stats"]["seconds"]
    t_ee = min(RESULTS["exactextract.exact_extract, default strategy"]["seconds"],
               RESULTS["exactextract.exact_extract, raster-sequential"]["seconds"])
    t_rs = RESULTS[f"rasterstats.zonal_stats on {len(idx):,} sites"]["seconds"] * len(sites) / len(idx)
    zonal_vs_rasterstats = t_rs / t_z
    zonal_vs_exactextract = t_z / t_ee
    ee_diff = float(np.nanmax(np.abs(z["mean"].to_numpy() - ee2["mean"].to_numpy())))
    rs_mean = np.array([r["mean"] if r["mean"] is not None else np.nan for r in rs], dtype=float)
    rs_diff = float(np.nanmedian(np.abs(z["mean"].to_numpy()[idx] - rs_mean)))
    say(f"  -> rasterstats {t_rs:.1f} s (scaled): ours {zonal_vs_rasterstats:.1f}× faster (target >= 5); "
        f"ours / best direct exactextract = {zonal_vs_exactextract:.2f} (target <= 1.5)")
    say(f"     same values as exactextract (max |Δ mean| {ee_diff:.1e}); rasterstats counts cell "
        f"centres, not covered fractions: median |Δ mean| {rs_diff:.2f} m")
    del sites, layers, ours, z, ee1, ee2, rs

    # ---------------------------------------------------------------- full pipeline and scaling
    runs = args.runs or (args.data / "runs")
    runs.mkdir(parents=True, exist_ok=True)
    say(f"\n[5] the real pipeline: sitescreen -q screen --config CFG --out DIR --no-map --no-report "
        f"--overwrite\n    (profile bench/national-profile.toml: 4 vector criteria + mean elevation; writes "
        f"GeoPackage, GeoParquet, CSV, manifest; fresh process each; outputs in {runs})")
    big = full_pipeline(paths, paths[f"sites_{args.sites}"], runs / f"sites_{args.sites}", flow="streamed")
    say(describe_run(f"{args.sites:,} sites, --stream", big))
    busy = cpu_busy(big)
    say(f"  -> cpu_busy {busy['cpu_busy_measure']} measuring (target >= 0.85), {busy['cpu_busy_run']} whole run "
        f"(target >= 0.75); pipeline_overhead {busy['pipeline_overhead']} (target <= 1.15)")
    small = full_pipeline(paths, paths[f"sites_{half}"], runs / f"sites_{half}", flow="streamed")
    say(describe_run(f"{half:,} sites, --stream", small))
    scaling_2x = big["seconds"] / small["seconds"]
    memory_2x = big["peak_rss_gb"] / small["peak_rss_gb"]
    say(f"  -> cost of 2× the sites: {scaling_2x:.2f}× time (target <= 2.2), {memory_2x:.2f}× peak RSS "
        f"(bounded: ~1); {args.sites:,} sites in {big['seconds']:.0f} s (target < 600 s), peak RSS "
        f"{big['peak_rss_gb']:.2f} GB (target < 8 GB)")
    say(f"     command: {big['cmd']}")
    small_mem = full_pipeline(paths, paths[f"sites_{half}"], runs / f"sites_{half}_memory", flow="in memory")
    say(describe_run(f"{half:,} sites, --no-stream (whole frame in memory)", small_mem))
    same_flow, why_flow = same_results(runs / f"sites_{half}", runs / f"sites_{half}_memory", by="site_id")
    say(f"  -> streamed vs in memory at {half:,} sites: peak RSS {small['peak_rss_gb']:.2f} vs "
        f"{small_mem['peak_rss_gb']:.2f} GB, time {small['seconds']:.0f} vs {small_mem['seconds']:.0f} s; "
        f"same results: {same_flow} ({why_flow})")

    # ---------------------------------------------------------------- Dask engine
    say(f"\n[6] Dask engine: the same screening of {n_cmp:,} sites, --engine local vs "
        f"--engine dask --workers {args.dask_workers} (a local cluster of processes)")
    if args.sites == n_cmp:
        local = big
        local_dir = runs / f"sites_{n_cmp}"
    else:
        local_dir = runs / f"sites_{n_cmp}"
        local = full_pipeline(paths, paths[f"sites_{n_cmp}"], local_dir, flow="streamed")
    say(describe_run("local", local))
    dask_dir = runs / f"sites_{n_cmp}_dask"
    dsk = full_pipeline(paths, paths[f"sites_{n_cmp}"], dask_dir, engine="dask", workers=args.dask_workers,
                        flow="streamed")
    say(describe_run(f"dask ({args.dask_workers} workers)", dsk))
    dask_identical, why = same_results(local_dir, dask_dir)
    dask_speedup = local["seconds"] / dsk["seconds"]
    measure_speedup = local["timings"].get("measure", np.nan) / dsk["timings"].get("measure", np.nan)
    say(f"  -> dask_overhead (local / dask) with {args.dask_workers} workers: {dask_speedup:.2f}× on the whole run (target >= 0.9), "
        f"{measure_speedup:.2f}× on the measure stage; identical sites.parquet: {dask_identical} ({why})")

    import dasksoak  # bench/dasksoak.py: many Dask runs, each compared with the local engine's
    soak_dir = runs / f"sites_{args.soak_sites}"
    if args.soak_sites == n_cmp:
        soak_local = local_dir
    else:
        paths[f"sites_{args.soak_sites}"] = workload.ensure_sites(args.soak_sites, args.data)
        full_pipeline(paths, paths[f"sites_{args.soak_sites}"], soak_dir, flow="streamed")
        soak_local = soak_dir
    say(f"  soak: {args.soak_runs} Dask runs of {args.soak_sites:,} sites (--workers {args.dask_workers})")
    with stage("dask soak"):
        soak = dasksoak.soak(national.write_config(paths, paths[f"sites_{args.soak_sites}"], runs / "configs"),
                             runs / f"sites_{args.soak_sites}_dask_soak", soak_local, args.soak_runs,
                             args.dask_workers, same_results)
    say(f"  -> soak: {soak['runs'] - soak['failures']}/{soak['runs']} runs completed, {soak['not_identical']} "
        f"not identical to local; median {soak['median_seconds']} s")

    # ---------------------------------------------------------------- sensitivity
    import sensitivity as sens_bench  # bench/sensitivity.py: sitescreen sensitivity on the run folders
    say("\n[7] sitescreen -q sensitivity RUN_DIR --samples S --overwrite (child process; peak RSS of it)")
    idaho_sized = workload.ensure_sites(332, args.data)
    full_pipeline(paths, idaho_sized, runs / "sites_332", flow="streamed")
    with stage("sensitivity"):
        sens_idaho = sens_bench.measure(runs / "sites_332", 10_000)
        say(sens_bench.describe(sens_idaho))
        sens_half = sens_bench.measure(runs / f"sites_{half}", 1_000)
        say(sens_bench.describe(sens_half))
        sens_big = sens_bench.measure(runs / f"sites_{args.sites}", 1_000)
        say(sens_bench.describe(sens_big))
    sens_memory_2x = sens_big["peak_rss_gb"] / sens_half["peak_rss_gb"]
    say(f"  -> sensitivity peak RSS {args.sites:,} / {half:,} sites = {sens_memory_2x:.2f} (grows with the "
        f"sites, never with sites × samples: chunks of at most sensitivity.CELLS numbers)")
    big_label = sens_bench.label(args.sites)
    import peers  # bench/peers.py: DuckDB spatial and SedonaDB, the same data in the same run
    say(f"\n[8] peers: DuckDB spatial and SedonaDB, the four vector criteria on {sub_peers:,} sites "
        f"(peer time / ours, each side reading its inputs)")
    with stage("peers: four vector criteria"):
        peer_keys, peer_detail = peers.measure(sub_peers, data=args.data, say=say)
    say("\n[9] the stacked protected layer (PAD-US-like, 4-5 deep): ours, gpd.overlay, the peers")
    with stage("stacked protected layer"):
        stacked_keys, stacked_detail = peers.stacked_step(n_cmp, sub_peers, sub_overlay, alt_overlay,
                                                          data=args.data, say=say)
    import browser_reweight  # bench/browser_reweight.py: slider input to repainted map and report, headless Chromium
    say("\n[10] live re-weighting in the map and the report, 100,000 sites (headless Chromium)")
    with stage("live re-weighting, 100,000 sites"):
        rw = browser_reweight.measure(100_000)
    say(f"  -> re-weighting 100,000 sites: map {rw['reweight_update_100k_ms']} ms as dots, "
        f"{rw['reweight_update_100k_footprints_ms']} ms as footprints (target "
        f"{browser_reweight.TARGET_MS:.0f}), report {rw['reweight_report_update_100k_ms']} ms, slider input to repaint")
    import natmap  # bench/natmap.py: `sitescreen map` of the big run in headless Chromium (issue 13 item 5)
    with stage(f"national map, {args.sites:,} sites"):
        nm = natmap.measure(runs / f"sites_{args.sites}", args.sites)
    say(f"  -> map of {args.sites:,} sites: {nm['map_detail']['html_mb']} MB (target <= {natmap.TARGET_MB:g}), "
        f"interactive in {nm['map_detail']['interactive_s']} s (target < {natmap.TARGET_S:g})")
    water_keys, water_detail = water_step(args, paths, n_cmp, sub_peers, runs, local, local_dir)
    result = {
        "overlap_vs_overlay": round(overlap_vs_overlay, 2),
        "distance_vs_sjoin_nearest": round(distance_vs_sjoin, 2),
        "zonal_vs_rasterstats": round(zonal_vs_rasterstats, 2),
        "zonal_vs_exactextract": round(zonal_vs_exactextract, 3),
        "vector_vs_io_floor": round(vector_vs_io, 2),
        "scaling_2x": round(scaling_2x, 3),
        "memory_2x": round(memory_2x, 3),
        "streamed_same_as_in_memory": same_flow,
        "sites_1m_seconds" if args.sites == 1_000_000 else f"sites_{args.sites}_seconds": round(big["seconds"], 1),
        "sites_1m_peak_rss_gb" if args.sites == 1_000_000 else f"sites_{args.sites}_peak_rss_gb": round(big["peak_rss_gb"], 2),
        **cpu_busy(big),
        "dask_speedup_2_workers" if args.dask_workers == 2 else f"dask_speedup_{args.dask_workers}_workers": round(dask_speedup, 3),
        "dask_identical": dask_identical,
        "dask_overhead": round(dask_speedup, 3),
        "dask_soak_runs": soak["runs"],
        "dask_soak_failures": soak["failures"],
        "dask_soak_identical": soak["not_identical"] == 0 and soak["failures"] == 0,
        "dask_soak_sites": args.soak_sites,
        "sensitivity_332x10000_seconds": sens_idaho["seconds"],
        "sensitivity_332x10000_peak_rss_gb": sens_idaho["peak_rss_gb"],
        f"sensitivity_{big_label}_x1000_seconds": sens_big["seconds"],
        f"sensitivity_{big_label}_peak_rss_gb": sens_big["peak_rss_gb"],
        "sensitivity_memory_2x": round(sens_memory_2x, 3),
        **peer_keys,
        **stacked_keys,
        **rw,
        **nm,
        **water_keys,
        "sites": args.sites,
        "quick": args.quick,
        "dem_size": args.dem_size,
        "notes": {
            "overlay": f"measured on {sub_overlay} random sites, scaled linearly to 100000",
            "sjoin_nearest": f"measured on {min(sub_nearest, n_cmp)} sites, scaled linearly to 100000",
            "rasterstats": f"measured on {sub_rasterstats} sites, scaled linearly to 100000",
            "exactextract": "best of default and raster-sequential strategies",
            "vector_vs_io_floor": "4 criteria computed on inputs in memory / reading the 4 inputs",
            "pipeline": ("sitescreen -q screen --config CFG --out DIR --no-map --no-report --overwrite in a child "
                         "process, profile bench/national-profile.toml, writes sites.gpkg/.parquet/.csv + manifest; "
                         "peak RSS of the child (psutil sampling every 50 ms, and ru_maxrss)"),
            "dask": f"{n_cmp} sites, whole CLI run local vs --engine dask --workers {args.dask_workers} (a local "
                    f"cluster of processes); dask_overhead = local wall / dask wall; measure stage alone "
                    f"{measure_speedup:.2f}x",
            "peers": f"DuckDB and SedonaDB on sites_{sub_peers}.parquet ({sub_peers} sites, same generator); a criterion's "
                     "time = reading the sites and its layer + the query (ours: + the kernel); vs_<peer>_all: every "
                     "input read once + all four criteria",
            "stacked": f"protected_stacked.parquet; ours on {n_cmp} sites, overlay on {sub_overlay} scaled linearly, "
                       f"peers on {sub_peers}",
            "water": (f"streams.parquet (2.1M flowlines) and landcover_30m.tif; ours on {n_cmp} sites, peers on "
                      f"{sub_peers}, the pipeline with both layers (bench/national-water-profile.toml) on {n_cmp}, "
                      "compared with step 6's local run"),
            "dask_soak": {k: soak[k] for k in ("median_seconds", "max_peak_rss_gb", "failed", "differed", "cmd")},
            "sensitivity": {"332x10000": sens_idaho, f"{sens_bench.label(half)}_x1000": sens_half,
                            f"{big_label}_x1000": sens_big},
        },
        "peers": {"four": peer_detail, "stacked": stacked_detail, "water": water_detail},
        "stages": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in RESULTS.items()},
        "pipeline_runs": {name: {"seconds": round(r["seconds"], 2), "peak_rss_gb": round(r["peak_rss_gb"], 3),
                                 "timings": r["timings"]}
                          for name, r in ((f"sites_{args.sites}", big), (f"sites_{half}", small),
                                          (f"sites_{n_cmp}_local", local), (f"sites_{n_cmp}_dask", dsk))},
    }
    if args.sites != 1_000_000:  # keep the required keys present, marked as not measured at 1M
        result.setdefault("sites_1m_seconds", None)
        result.setdefault("sites_1m_peak_rss_gb", None)
        result.setdefault("map_1m_html_mb", None)
        result.setdefault("map_1m_interactive_seconds", None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    say("")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
