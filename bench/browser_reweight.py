"""Live re-weighting at scale in headless Chromium: from a slider's input event to the repainted page.

    python bench/browser_reweight.py [--sites 100000] [--moves 7]   # one JSON object on the last line

The demo run (``sitescreen demo``: its record, profile and per-criterion suitabilities) is resampled
to N sites (each a demo site's row, moved by a random offset of up to ~60 km, so the scores and
verdicts stay the run's own), written as the self-contained map and the review report, and opened
from file:// with the network cut off. A weight slider is moved ``--moves`` times (an ``input``
event, as a drag sends); each time is measured from just before the event until the frame after
the page repainted (the map: every current tile canvas redrawn in place; the report: its counts,
tables and cards). The map is measured in both of its layouts: at the zoom it opens at, where the
sites are dots, and with the sites packed ten times closer (offsets up to ~6 km) and the map at
footprint zoom or closer, where every site is its footprint (overlapping ones included). The report
is measured as opened (its top), scrolled to the ranked table and scrolled to the site breakdowns
(a move rewrites the rows and cards in and near the viewport at once, the rest when the sliders
rest or the page is printed: ``settle_ms`` and ``print_fill`` time those). Keys:
``reweight_update_100k_ms``, ``reweight_update_100k_footprints_ms``,
``reweight_report_update_100k_ms``, ``reweight_report_update_100k_ranking_ms`` and
``reweight_report_update_100k_cards_ms`` (medians, ``_<N>`` for another N); target 200 ms
(issue 12 item 4).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TARGET_MS = 200.0

#: One move: set the first weight slider, send ``input``, resolve on the frame after the repaint.
MOVES = """async ([moves, first]) => {
  const R = sitescreen.reweight, input = document.querySelector(`input[name='w-${first}']`), out = [];
  for (let k = 0; k < moves; k++) {
    out.push(await new Promise(done => {
      let t0 = 0;
      R.onPainted = () => requestAnimationFrame(() => done(performance.now() - t0));
      input.value = String(0.15 + 0.1 * k);
      t0 = performance.now();
      input.dispatchEvent(new Event('input', { bubbles: true }));
    }));
    await new Promise(r => setTimeout(r, 100));
  }
  R.onPainted = null;
  const S = sitescreen.sites;
  return { ms: out, rescore_ms: R.ms, paint_ms: R.drawMs, changed: R.changed,
           tiles: S ? Object.keys(S.layer._tiles).length : null, zoom: S ? S.map.getZoom() : null,
           footprints: S ? S.layer.footprints(S.map.getZoom()) : null };
}"""

#: The footprint layout: the map at footprint zoom (meta.zf) or closer, once its tiles are drawn.
TO_FOOTPRINTS = """() => new Promise(done => { const S = sitescreen.sites, map = S.map;
  if (S.layer.footprints(map.getZoom())) return done();
  S.layer.once('load', () => requestAnimationFrame(() => done())); map.setZoom(S.meta.zf, {animate: false}); })"""


#: The report scrolled to one of its sections (the rows or cards in view are rewritten on each move).
TO_SECTION = """() => new Promise(done => { document.querySelector('%s').scrollIntoView();
  requestAnimationFrame(() => requestAnimationFrame(() => done())); })"""

#: The report after the moves: until every row and card off screen follows the last one (the sliders
#: at rest: RW.idleMs, then a frame's budget at a time), and a print's catch-up of all of them (beforeprint).
SETTLE = """() => new Promise(done => { const R = sitescreen.reweight, t0 = performance.now();
  const wait = () => R.stale() ? requestAnimationFrame(wait) : done(performance.now() - t0);
  R.model.setWeight(0, 0.58); R.apply(); requestAnimationFrame(wait); })"""
PRINT_FILL = """() => { const R = sitescreen.reweight; R.idleMs = Infinity; R.model.setWeight(0, 0.62); R.apply();
  return new Promise(done => requestAnimationFrame(() => { const n = R.stale(), t0 = performance.now();
    window.dispatchEvent(new Event('beforeprint')); document.body.offsetHeight;
    done({ stale: n, ms: performance.now() - t0, left: R.stale() }); })); }"""


def resampled_demo(n: int, workdir: Path, seed: int = 11, spreads: tuple[float, ...] = (60_000.0,)):
    """The demo run's sites resampled to ``n`` once per spread (rows kept, points moved by up to
    ``spread`` metres), with the run's record."""
    from sitescreen.demo.demo import generate_demo
    from sitescreen.run.config import load_config
    from sitescreen.run.pipeline import screen
    result = screen(load_config(generate_demo(workdir / "demo")))
    return [resample(result.sites, n, seed, spread) for spread in spreads], result.manifest


def resample(base: gpd.GeoDataFrame, n: int, seed: int, spread: float) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), n)
    sites = base.iloc[pick].reset_index(drop=True)
    xy = shapely.get_coordinates(shapely.centroid(sites.geometry.to_numpy())) + rng.uniform(-spread, spread, (n, 2))
    sites = gpd.GeoDataFrame(sites.drop(columns=sites.geometry.name),
                             geometry=shapely.buffer(shapely.points(xy), 1000.0), crs=base.crs)
    sites["site_id"] = [f"B{i:07d}" for i in range(n)]
    return sites


def measure_page(browser, path: Path, ready: str, moves: int, first: str, setup: str | None = None,
                 after: dict[str, str] | None = None) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
    page.wait_for_function(ready, timeout=300_000)
    if setup:
        page.evaluate(setup)
    out = page.evaluate(MOVES, [moves, first])
    extra = {key: page.evaluate(script) for key, script in (after or {}).items()}
    page.close()
    return {"median_ms": round(statistics.median(out["ms"]), 1), "ms": [round(t, 1) for t in out["ms"]],
            "rescore_ms": round(out["rescore_ms"], 1), "paint_ms": round(out["paint_ms"], 1),
            "changed": out["changed"], "tiles": out["tiles"], "zoom": out["zoom"], "footprints": out["footprints"],
            **extra, "errors": errors[:3]}


def measure(n: int = 100_000, moves: int = 7) -> dict:
    """Both pages at ``n`` sites: the JSON keys of :mod:`bench.run` and the details."""
    from playwright.sync_api import sync_playwright

    from sitescreen.outputs.mapping import render_map
    from sitescreen.outputs.report import build_report
    from sitescreen.outputs.reweight import weighted
    from sitescreen.record.manifest import as_record
    with tempfile.TemporaryDirectory(prefix="ss-bench-rw-") as tmp:
        tmp = Path(tmp)
        (sites, packed), manifest = resampled_demo(n, tmp, spreads=(60_000.0, 6_000.0))
        first = weighted(as_record(manifest))[0].name
        (tmp / "map.html").write_text(render_map(sites, [], manifest, self_contained=True, basemap="none"), encoding="utf-8")
        (tmp / "report.html").write_text(build_report(sites, manifest), encoding="utf-8")
        (tmp / "map-fp.html").write_text(render_map(packed, [], manifest, self_contained=True, basemap="none"), encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                ready = "window.sitescreen && sitescreen.sites && sitescreen.sites.ready && sitescreen.reweight"
                m = measure_page(browser, tmp / "map.html", ready, moves, first)
                f = measure_page(browser, tmp / "map-fp.html", ready, moves, first, TO_FOOTPRINTS)
                ready = "window.sitescreen && sitescreen.reweight"
                r = measure_page(browser, tmp / "report.html", ready, moves, first,
                                 after={"settle_ms": SETTLE, "print_fill": PRINT_FILL})
                rr = measure_page(browser, tmp / "report.html", ready, moves, first, TO_SECTION % "#ranking")
                rc = measure_page(browser, tmp / "report.html", ready, moves, first, TO_SECTION % "#sites")
            finally:
                browser.close()
    tag = "100k" if n == 100_000 else str(n)
    return {f"reweight_update_{tag}_ms": m["median_ms"], f"reweight_update_{tag}_footprints_ms": f["median_ms"],
            f"reweight_report_update_{tag}_ms": r["median_ms"], f"reweight_report_update_{tag}_ranking_ms": rr["median_ms"],
            f"reweight_report_update_{tag}_cards_ms": rc["median_ms"],
            "reweight_detail": {"sites": n, "moves": moves, "target_ms": TARGET_MS, "map": m, "map_footprints": f,
                                "report": r, "report_at_ranking": rr, "report_at_cards": rc}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=100_000)
    ap.add_argument("--moves", type=int, default=7, help="slider moves (the median is reported; at least 5)")
    args = ap.parse_args(argv)
    res = measure(args.sites, max(args.moves, 5))
    d = res["reweight_detail"]
    print(f"re-weighting {args.sites:,} sites: map {d['map']['median_ms']} ms as dots, "
          f"{d['map_footprints']['median_ms']} ms as footprints (target {TARGET_MS:.0f}), "
          f"report {d['report']['median_ms']} ms at its top, {d['report_at_ranking']['median_ms']} ms at the ranked table, "
          f"{d['report_at_cards']['median_ms']} ms at the breakdowns, median of {d['moves']} moves", file=sys.stderr)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
