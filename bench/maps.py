"""Map benchmark: HTML size and time until the page is interactive in headless Chromium.

    .venv/bin/python bench/maps.py                 # demo, 10k and 100k sites
    .venv/bin/python bench/maps.py --sizes 100000  # one size
    .venv/bin/python bench/maps.py --sizes demo --keep   # keep the HTML under bench/results/

Synthetic runs place N sites (1 km footprints, the results contract's columns, six criteria) over
a 200,000-polygon layer (irregular 10-gons of 0.4–3 km, unique names) and a deposit-record point
layer, in the western US, in EPSG:5070. Each map is rendered self-contained and opened from
file:// with the network cut off. "Interactive" is the time from navigation until the sites
layer has drawn every visible tile *and* a pan has finished drawing its new tiles. Targets for
100k sites: at most 25 MB and 5 s. For scale, the naive Folium map (GeoJSON polygons with HTML
popups) measured 153 MB at 100k sites (notes/measured-baselines.md): the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from sitescreen.outputs.mapping import DisplayLayer, render_map

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TARGET_MB, TARGET_S = 25.0, 5.0
NAIVE_100K_MB = 153.0
CRS = "EPSG:5070"
REGION = (-1_700_000.0, 1_700_000.0, -700_000.0, 2_700_000.0)  # ~1000 km square, western US (Albers)
VERDICTS = np.array(["excluded", "unfavorable", "review", "favorable", "incomplete"])


def synthetic_sites(n: int, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, dict]:
    x0, y0, x1, y1 = REGION
    # clustered like real deposits: districts with scatter
    centers = rng.uniform((x0, y0), (x1, y1), (max(n // 200, 5), 2))
    pick = rng.integers(0, len(centers), n)
    xy = centers[pick] + rng.normal(0, 25_000, (n, 2))
    geom = shapely.buffer(shapely.points(xy), 1000.0)
    verdict = VERDICTS[rng.choice(5, n, p=[0.3, 0.2, 0.25, 0.2, 0.05])]
    score = np.round(rng.uniform(0, 100, n), 2)
    score[verdict == "excluded"] = 0
    score[verdict == "incomplete"] = np.nan
    crit = ["protected_overlap", "protected_distance", "stream_distance", "water_count", "huc", "slope"]
    cols: dict[str, object] = {
        "site_id": [f"MRDS-{10_000_000 + i}" for i in range(n)],
        "name": [f"{('Lemhi', 'Diamond Creek', 'Bald Mtn', 'Unnamed')[i % 4]} {i}" for i in range(n)],
        "verdict": verdict, "score": score,
        "reasons": np.where(verdict == "excluded",
                            [f"Excluded: overlaps permanently protected land ({p:.0f} % of the footprint)"
                             for p in rng.uniform(1, 100, n)],
                            np.where(verdict == "incomplete", "No data: Mean slope (outside the DEM)",
                                     "Within 1,500 m of a protected area; near streams")),
        "record_ids": [f"MRDS:{10_000_000 + i}" for i in range(n)],
        "m_protected_overlap": np.where(verdict == "excluded", rng.uniform(0.01, 1, n), 0.0),
        "s_protected_overlap": np.full(n, np.nan),
        "m_protected_distance": rng.exponential(4000, n), "s_protected_distance": rng.uniform(0, 1, n),
        "m_stream_distance": rng.exponential(800, n), "s_stream_distance": rng.uniform(0, 1, n),
        "m_water_count": rng.integers(0, 12, n).astype(float), "s_water_count": rng.uniform(0, 1, n),
        "m_huc": np.array([f"1704{i:04d}" for i in range(60)], dtype=object)[rng.integers(0, 60, n)],
        "s_huc": rng.uniform(0, 1, n),
        "m_slope": rng.gamma(2, 4, n), "s_slope": rng.uniform(0, 1, n),
    }
    sites = gpd.GeoDataFrame(cols, geometry=geom, crs=CRS)
    manifest = {
        "tool": {"name": "sitescreen", "version": "bench"}, "title": f"Benchmark: {n:,} synthetic sites",
        "created": "2025-01-01T00:00:00+00:00", "crs": CRS,
        "profile": {"name": "default", "verdicts": {"favorable": 70, "review": 40}},
        "criteria": [{"name": c, "label": c.replace("_", " "), "unit": u, "weight": w,
                      "transform": {"kind": "linear", "points": [[0, 0], [1000, 1]]} if w else None,
                      "exclusion": "> 0" if c == "protected_overlap" else None,
                      "safeguard": "synthetic", "source": "synthetic", "evaluated": True}
                     for c, u, w in zip(crit, ["fraction", "m", "m", "count", "", "degrees"],
                                        [0, 0.3, 0.2, 0.2, 0.15, 0.15])],
        "counts": {v: int((verdict == v).sum()) for v in VERDICTS},
    }
    return sites, manifest


def synthetic_polygons(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """n irregular 10-gons (0.4–3 km) over the region, overlapping like a dense real layer."""
    x0, y0, x1, y1 = REGION
    c = rng.uniform((x0 - 50_000, y0 - 50_000), (x1 + 50_000, y1 + 50_000), (n, 2))
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, 10)), axis=1)
    r = rng.uniform(400, 3000, (n, 1)) * rng.uniform(0.6, 1.0, (n, 10))
    ring = np.stack([c[:, :1] + r * np.cos(ang), c[:, 1:] + r * np.sin(ang)], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    geom = shapely.polygons(ring)
    return gpd.GeoDataFrame({"name": [f"Protected unit {i}" for i in range(n)]}, geometry=geom, crs=CRS)


def demo_run(workdir: Path):
    from sitescreen.run.config import load_config
    from sitescreen.demo.demo import generate_demo
    from sitescreen.outputs.maplayers import display_layers
    from sitescreen.run.pipeline import screen
    config = generate_demo(workdir / "demo")
    result = screen(load_config(config))
    return result.sites, display_layers(result.manifest, result.sites), result.manifest


def measure(html_path: Path, browser) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    t0 = time.perf_counter()
    page.goto(html_path.as_uri(), wait_until="load", timeout=300_000)
    page.wait_for_function("window.sitescreen && sitescreen.sites && sitescreen.sites.ready === true", timeout=300_000)
    ready = time.perf_counter() - t0
    pan_ms = page.evaluate("""() => new Promise(res => {
        const S = sitescreen.sites, t = performance.now();
        S.layer.once('load', () => requestAnimationFrame(() => res(performance.now() - t)));
        sitescreen.map.panBy([500, 300], {animate: false});
    })""")
    interactive = time.perf_counter() - t0
    info = page.evaluate("""() => ({decode_ms: sitescreen.sites.decodeMs, sites: sitescreen.sites.count,
        drawn: sitescreen.sites.drawnCount(),
        features: sitescreen.layers.reduce((a, l) => a + l.count, 0),
        heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null})""")
    page.close()
    return {"ready_s": round(ready, 2), "pan_ms": round(pan_ms), "interactive_s": round(interactive, 2),
            "errors": errors[:3], **info}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="demo,10000,100000", help="comma-separated: demo and/or site counts")
    ap.add_argument("--polygons", type=int, default=200_000, help="polygons in the big layer (default 200000)")
    ap.add_argument("--keep", action="store_true", help="keep the HTML files under bench/results/")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: run `make browser`", file=sys.stderr)
        return 2
    out_dir = Path(__file__).parent / "results" if args.keep else Path(tempfile.mkdtemp(prefix="sitescreen-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    polys = None
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for size in args.sizes.split(","):
            t = time.perf_counter()
            if size == "demo":
                sites, layers, manifest = demo_run(out_dir)
            else:
                n = int(size)
                sites, manifest = synthetic_sites(n, rng)
                if polys is None:
                    polys = synthetic_polygons(args.polygons, rng)
                deposits = gpd.GeoDataFrame({"name": sites["site_id"]}, geometry=sites.geometry.centroid, crs=CRS)
                layers = [DisplayLayer("Protected areas (synthetic)", "protected", polys),
                          DisplayLayer("Deposit records", "deposits", deposits)]
            gen_s = time.perf_counter() - t
            t = time.perf_counter()
            html = render_map(sites, layers, manifest, self_contained=True, basemap="none")
            render_s = time.perf_counter() - t
            path = out_dir / f"map-{size}.html"
            path.write_text(html, encoding="utf-8")
            mb = path.stat().st_size / 1e6
            r = measure(path, browser)
            row = {"case": size, "sites": len(sites), "layer_features": sum(len(lyr.gdf) for lyr in layers),
                   "generate_s": round(gen_s, 2), "render_s": round(render_s, 2), "html_mb": round(mb, 2), **r}
            rows.append(row)
            print(f"{size:>8}: {mb:7.2f} MB  render {render_s:6.2f} s  ready {r['ready_s']:5.2f} s  "
                  f"pan {r['pan_ms']:5d} ms  interactive {r['interactive_s']:5.2f} s  drawn {r['drawn']}/{r['sites']}"
                  + (f"  ERRORS {r['errors']}" if r["errors"] else ""), flush=True)
        browser.close()
    print()
    print(f"{'case':>8} {'sites':>8} {'features':>9} {'HTML MB':>8} {'render s':>9} {'ready s':>8} "
          f"{'pan ms':>7} {'interactive s':>14}")
    for r in rows:
        print(f"{r['case']:>8} {r['sites']:>8,} {r['layer_features']:>9,} {r['html_mb']:>8.2f} {r['render_s']:>9.2f} "
              f"{r['ready_s']:>8.2f} {r['pan_ms']:>7} {r['interactive_s']:>14.2f}")
    big = [r for r in rows if r["case"] == "100000"]
    verdict = {}
    if big:
        b = big[0]
        verdict = {"target_mb": TARGET_MB, "target_s": TARGET_S, "meets_size": b["html_mb"] <= TARGET_MB,
                   "meets_time": b["interactive_s"] <= TARGET_S,
                   "size_ratio_vs_naive_folium": round(NAIVE_100K_MB / b["html_mb"], 1)}
        print(f"\n100k sites: {b['html_mb']:.1f} MB (target ≤ {TARGET_MB:g}; naive Folium GeoJSON {NAIVE_100K_MB:g} MB, "
              f"{verdict['size_ratio_vs_naive_folium']}× smaller), interactive in {b['interactive_s']:.2f} s "
              f"(target ≤ {TARGET_S:g})")
    print(json.dumps({"bench": "maps", "results": rows, **verdict}))
    return 0 if not big or (verdict["meets_size"] and verdict["meets_time"]) else 1


if __name__ == "__main__":
    sys.exit(main())
