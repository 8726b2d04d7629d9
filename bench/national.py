"""The bench's run config: the real ``sitescreen screen`` over the synthetic national workload.

:func:`write_config` writes a run config (TOML) pointing at the bench data and at the bench
profile (``bench/national-profile.toml``); :func:`screen_cli` runs ``sitescreen -q screen`` on it in
a child process, as a batch user would, and returns its wall time and peak RSS.

    python bench/national.py --sites 100000 [--engine dask --workers 2] [--stream] OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILE = HERE / "national-profile.toml"
WATER_PROFILE = HERE / "national-water-profile.toml"  # PROFILE + the stream and land-cover criteria

# The bench layers have no known schema: say what their fields mean and where they have data.
LAYER_DEFINITIONS = {
    "protected": {"fields": {"name": "unit_id", "designation": "designation", "gap_status": "gap_status"},
                  "coverage": "global"},
    "federal": {"fields": {"name": "parcel_id", "agency": "agency"}, "coverage": "global"},
    "watersheds": {"fields": {"huc": "huc12", "name": "huc12"}, "coverage": "features"},
}
ROLES = {"protected": "protected", "federal": "federal_land", "watersheds": "watershed"}
# The water step's layers (bench/hydro.py), in the config only when ``paths`` has them (then with
# WATER_PROFILE): the streams read by the real NHD flowline definition (they have its fields),
# national coverage; the land cover as the landcover role's raster.
WATER = {"streams": ["[[layers]]", 'role = "streams"', "{path}", 'schema = "nhd_flowline"', 'coverage = "global"'],
         "landcover": ["[[layers]]", 'role = "landcover"', "{path}"]}


def _toml_value(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a TOML basic string is a JSON string for these values


def write_config(paths: dict, sites_path: Path, folder: Path, name: str | None = None) -> Path:
    """A run config for ``sites_path`` against the bench layers, written into ``folder`` (with the
    streams and the land cover and the water profile when ``paths`` has them)."""
    folder = Path(folder)
    profile = WATER_PROFILE if any(k in paths for k in WATER) else PROFILE
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"title = {_toml_value('sitescreen bench: ' + Path(sites_path).stem)}", "",
             "[sites]", f"path = {_toml_value(Path(sites_path).resolve())}",
             'definition = { fields = { record_id = "site_id" } }', "",
             "[run]", f"profile = {_toml_value(profile)}", 'crs = "EPSG:5070"', ""]
    for key, role in ROLES.items():
        lines += ["[[layers]]", f"role = {_toml_value(role)}", f"path = {_toml_value(Path(paths[key]).resolve())}",
                  f"definition = {_toml_value(LAYER_DEFINITIONS[key])}", ""]
    lines += ["[[layers]]", 'role = "dem"', f"path = {_toml_value(Path(paths['dem']).resolve())}", ""]
    for key in (k for k in WATER if k in paths):
        lines += [x.format(path=f"path = {_toml_value(Path(paths[key]).resolve())}") for x in WATER[key]] + [""]
    water = "-water" if profile == WATER_PROFILE else ""
    cfg = folder / f"{name or 'run-' + Path(sites_path).stem + water}.toml"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    return cfg


def sitescreen_exe() -> list[str]:
    exe = Path(sys.executable).with_name("sitescreen")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sitescreen.cli"]


def run_child(cmd: list[str]) -> dict:
    """Run ``cmd`` in a child process: wall seconds and peak RSS (the child's own ru_maxrss, and
    psutil's peak of the child and its children sampled every 50 ms); exits on a failure."""
    res = run_child_status(cmd)
    if res["returncode"] != 0:
        sys.stderr.write(res["output"])
        raise SystemExit(f"{cmd[1] if len(cmd) > 1 else cmd[0]} failed (exit {res['returncode']}): {' '.join(cmd)}")
    return res


def run_child_status(cmd: list[str]) -> dict:
    """:func:`run_child` without the exit: also ``returncode`` and ``output`` (stdout + stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0, 0.0]  # bytes, seconds after start
    stop = threading.Event()

    def sample():
        import psutil
        try:
            p = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                    if rss > peak[0]:
                        peak[0], peak[1] = rss, time.perf_counter() - t
                except psutil.Error:
                    break
                time.sleep(0.05)
        except Exception:
            pass

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    stop.set()
    th.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of the children is the max over all waited-for children: it is this child's own
    # only when it exceeds every earlier child's; psutil's sample is always this child's
    maxrss = after * 1024 if after > before else None
    return {"seconds": wall, "peak_rss_gb": max(peak[0], maxrss or 0) / 1e9, "sampled_rss_gb": peak[0] / 1e9,
            "ru_maxrss_gb": None if maxrss is None else maxrss / 1e9, "peak_at_s": round(peak[1], 1),
            "returncode": proc.returncode, "output": out + err, "cmd": " ".join(cmd)}


def screen_cli(config: Path, out_dir: Path, *, engine: str = "local", workers: int | None = None,
               extra: list[str] | None = None) -> dict:
    """``sitescreen -q screen --config CFG --out DIR --no-map --no-report --overwrite`` in a child
    process (:func:`run_child`), with the manifest's timings and counts."""
    res = run_child(screen_cmd(config, out_dir, engine=engine, workers=workers, extra=extra))
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text())
    res.update(timings=manifest.get("timings", {}), counts=manifest.get("counts", {}))
    return res


def screen_cmd(config: Path, out_dir: Path, *, engine: str = "local", workers: int | None = None,
               extra: list[str] | None = None) -> list[str]:
    cmd = sitescreen_exe() + ["-q", "screen", "--config", str(config), "--out", str(out_dir), "--no-map",
                              "--no-report", "--overwrite", "--engine", engine]
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd + (extra or [])


def main(argv=None) -> None:
    sys.path.insert(0, str(HERE))
    import workload

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--sites", type=int, default=100_000)
    ap.add_argument("--dem-size", type=int, default=8_000)
    ap.add_argument("--engine", default="local")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                    help="--stream / --no-stream for sitescreen screen (default: its own choice)")
    args = ap.parse_args(argv)
    paths = workload.ensure(args.sites, args.dem_size)
    cfg = write_config(paths, paths["sites"], args.out.parent / "configs")
    extra = [] if args.stream is None else ["--stream" if args.stream else "--no-stream"]
    print(json.dumps(screen_cli(cfg, args.out, engine=args.engine, workers=args.workers, extra=extra), indent=1))


if __name__ == "__main__":
    main()
