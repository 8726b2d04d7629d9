"""Reproducible runs: the same inputs and profile give identical result files (the manifest's
timestamp and timings aside), in separate processes with different hash seeds; shuffling the rows
of every input (deposit records, layer features) gives the same per-site results."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal

from sitescreen.run.config import load_config
from sitescreen.run.pipeline import screen
from sitescreen.review.verify import compare_frames

SITESCREEN = str(Path(sys.executable).parent / "sitescreen")


def _run(config: Path, out: Path, seed: str) -> None:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    p = subprocess.run([SITESCREEN, "-q", "screen", "--config", str(config), "--out", str(out), "--no-map", "--no-report"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr


def _manifest(out: Path) -> dict:
    m = json.loads((out / "manifest.json").read_text())
    m.pop("created")
    m.pop("timings")
    m["outputs"].pop("sites.gpkg")  # a GeoPackage carries its write time (its content is compared below)
    return m


@pytest.mark.slow
def test_same_inputs_give_identical_result_files(demo_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _run(demo_dir / "sitescreen.toml", a, seed="1")
    _run(demo_dir / "sitescreen.toml", b, seed="2")  # set and dict orders differ between the two processes
    assert (a / "sites.parquet").read_bytes() == (b / "sites.parquet").read_bytes()
    assert (a / "sites.csv").read_bytes() == (b / "sites.csv").read_bytes()
    assert _manifest(a) == _manifest(b)
    # A GeoPackage carries its write time: compare its content, table by table.
    assert pyogrio.list_layers(a / "sites.gpkg").tolist() == pyogrio.list_layers(b / "sites.gpkg").tolist()
    for name, _ in pyogrio.list_layers(a / "sites.gpkg"):
        fa = pyogrio.read_dataframe(a / "sites.gpkg", layer=name)
        fb = pyogrio.read_dataframe(b / "sites.gpkg", layer=name)
        if hasattr(fa, "geometry"):
            assert_geodataframe_equal(fa, fb)
        else:  # e.g. the QGIS style table: equal but for its write time
            stamps = [c for c in fa.columns if str(fa[c].dtype).startswith("datetime")]
            assert fa.drop(columns=stamps).equals(fb.drop(columns=stamps))


def _shuffle_csv(src: Path, dst: Path, rng: random.Random) -> None:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    body = lines[1:]
    rng.shuffle(body)
    dst.write_text(lines[0] + "".join(body), encoding="utf-8")


def _shuffle_geojson(src: Path, dst: Path, rng: random.Random) -> None:
    data = json.loads(src.read_text(encoding="utf-8"))  # coordinates kept exactly as written
    rng.shuffle(data["features"])
    dst.write_text(json.dumps(data), encoding="utf-8")


def _shuffle_vector(src: Path, dst: Path, rng: random.Random, layer: str | None = None) -> None:
    gdf = pyogrio.read_dataframe(src, layer=layer)
    order = list(range(len(gdf)))
    rng.shuffle(order)
    dst.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(gdf.iloc[order].reset_index(drop=True), dst, layer=layer)


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_input_rows_give_the_same_results(demo_dir, demo_result, tmp_path, seed):
    rng = random.Random(seed)
    d = tmp_path / "shuffled"
    d.mkdir()
    shutil.copy(demo_dir / "sitescreen.toml", d)
    shutil.copy(demo_dir / "dem.tif", d)
    _shuffle_csv(demo_dir / "deposits.csv", d / "deposits.csv", rng)
    _shuffle_geojson(demo_dir / "parks.geojson", d / "parks.geojson", rng)
    _shuffle_vector(demo_dir / "padus.gpkg", d / "padus.gpkg", rng, layer="padus")
    _shuffle_vector(demo_dir / "watersheds.gpkg", d / "watersheds.gpkg", rng, layer="wbdhu10")
    _shuffle_vector(demo_dir / "wilderness" / "wilderness.shp", d / "wilderness" / "wilderness.shp", rng)
    assert (d / "deposits.csv").read_bytes() != (demo_dir / "deposits.csv").read_bytes()
    result = screen(load_config(d / "sitescreen.toml"))
    assert result.sites["site_id"].tolist() == demo_result.sites["site_id"].tolist()
    assert [str(x) for x in compare_frames(demo_result.sites, result.sites, "sites")] == []
    assert result.manifest.counts == demo_result.manifest.counts


def test_ties_between_features_resolve_the_same_whatever_their_order(tmp_path):
    """A site inside two overlapping protected areas: the one named in its reasons does not depend
    on the order of the features in the file."""
    import shapely

    import tinyworld as tw

    reasons = []
    for k, order in enumerate(([0, 1], [1, 0])):
        w = tw.build(tmp_path / f"w{k}")
        big = [shapely.box(-114.55, 44.45, -114.45, 44.55), shapely.box(-114.56, 44.44, -114.44, 44.56)]
        frame = tw.wilderness_frame(big)
        tw.write_vector(frame.iloc[order].reset_index(drop=True), w.protected)
        result = screen(load_config(w.write_config(tw.CONFIG)))
        reasons.append(result.sites.set_index("site_id")["reasons"].to_dict())
    assert "excluded by protected_overlap" in reasons[0]["1001"]
    assert reasons[0] == reasons[1]
