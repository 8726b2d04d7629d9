"""The national map: ``sitescreen map`` of the bench's big run, its size and its time to interactive.

    python bench/natmap.py RUN_DIR        # a run folder of bench/run.py (sites.parquet, manifest.json)

Builds the page as a user does (``sitescreen -q map RUN_DIR --offline -o FILE``, a fresh process:
self-contained, no basemap, the run's input layers as recorded), then opens it from file:// in
headless Chromium with the network cut off. "Interactive" is the time from navigation until the
page has drawn its first view (the hexagons below the site zoom, else the sites) *and* a pan has
drawn its new tiles. Keys: ``map_1m_html_mb``, ``map_1m_interactive_seconds`` (``map_<N>_…`` for
another N); targets for 1M sites: at most 50 MB, under 5 s (issue 13, item 5).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from browser_reweight import ARGS, CHROMIUM
from national import sitescreen_exe

TARGET_MB, TARGET_S = 50.0, 5.0

#: The view is drawn: the sites layer has loaded its tiles, and so has the hexagon layer if the map has one.
READY = ("window.sitescreen && sitescreen.sites && sitescreen.sites.ready === true "
         "&& (!sitescreen.hexes || sitescreen.hexes.ready === true)")
#: A pan, resolved on the frame after the layer that draws this zoom has loaded its new tiles.
PAN = """() => new Promise(res => {
    const m = sitescreen.map, H = sitescreen.hexes, t = performance.now();
    const lyr = H && m.getZoom() < H.zs ? H : sitescreen.sites.layer;
    lyr.once('load', () => requestAnimationFrame(() => res(performance.now() - t)));
    m.panBy([500, 300], {animate: false});
})"""


def build(run_dir: Path, html: Path) -> float:
    """Wall seconds of ``sitescreen -q map RUN_DIR --offline -o HTML`` (raises when it fails)."""
    t = time.perf_counter()
    proc = subprocess.run(sitescreen_exe() + ["-q", "map", str(run_dir), "--offline", "-o", str(html), "--overwrite"],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"sitescreen map failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return time.perf_counter() - t


def interactive(html: Path) -> dict:
    """Seconds from navigation to the first view drawn and a pan drawn, in headless Chromium, offline."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort())
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            t0 = time.perf_counter()
            page.goto(html.as_uri(), wait_until="load", timeout=600_000)
            page.wait_for_function(READY, timeout=600_000)
            ready = time.perf_counter() - t0
            pan_ms = page.evaluate(PAN)
            seconds = time.perf_counter() - t0
            info = page.evaluate("""() => ({sites: sitescreen.sites.count, decode_ms: sitescreen.sites.decodeMs,
                unpack_ms: sitescreen.unpackMs === undefined ? null : sitescreen.unpackMs,
                zoom: sitescreen.map.getZoom(), site_zoom: sitescreen.hexes ? sitescreen.hexes.zs : null,
                hexagons: sitescreen.hexes ? sitescreen.hexes.level(sitescreen.map.getZoom()).n : 0,
                heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null})""")
        finally:
            browser.close()
    return {"interactive_s": round(seconds, 2), "ready_s": round(ready, 2), "pan_ms": round(pan_ms), "errors": errors[:3],
            **info}


def measure(run_dir: Path, n: int) -> dict:
    """The bench keys for the map of ``run_dir`` (``n`` sites) and the details."""
    with tempfile.TemporaryDirectory(prefix="ss-bench-natmap-") as tmp:
        html = Path(tmp) / "map.html"
        build_s = build(Path(run_dir), html)
        mb = html.stat().st_size / 1e6
        detail = interactive(html)
    tag = "1m" if n == 1_000_000 else str(n)
    detail.update(build_s=round(build_s, 1), html_mb=round(mb, 2), target_mb=TARGET_MB, target_s=TARGET_S,
                  command=f"sitescreen -q map {run_dir} --offline -o map.html")
    return {f"map_{tag}_html_mb": round(mb, 2), f"map_{tag}_interactive_seconds": detail["interactive_s"],
            "map_detail": detail}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    args = ap.parse_args(argv)
    n = json.loads((args.run_dir / "manifest.json").read_text(encoding="utf-8"))["sites"]["sites"]
    res = measure(args.run_dir, n)
    d = res["map_detail"]
    print(f"map of {n:,} sites: {d['html_mb']} MB (target ≤ {TARGET_MB:g}), interactive in {d['interactive_s']} s "
          f"(target < {TARGET_S:g}), built in {d['build_s']} s", file=sys.stderr)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
