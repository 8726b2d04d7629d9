"""Streamed screening: chunks read, measured, scored and appended give what an in-memory run gives."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sitescreen.measure.engine import LocalEngine
from sitescreen.run import stream
from sitescreen.cli import main
from sitescreen.run.config import load_config
from sitescreen.errors import SitescreenError
from sitescreen.inputs.spec import LayerSpec
from sitescreen.run.pipeline import screen
from sitescreen.run.stream import NotStreamable, screen_streamed, screen_to_folder
from sitescreen.review.verify import verify
from sitescreen.record.manifest import to_data


@pytest.fixture(scope="module")
def polygon_sites(demo_dir, demo_result, tmp_path_factory) -> dict[str, Path]:
    """The demo's footprints as a polygon sites file (claims), in lon/lat, shuffled, in three formats."""
    folder = tmp_path_factory.mktemp("polygon-sites")
    polys = demo_result.sites[["site_id", "name", "geometry"]].rename(columns={"site_id": "record_id"}).to_crs(4326)
    polys = polys.sample(frac=1.0, random_state=3).reset_index(drop=True)
    paths = {"parquet": folder / "claims.parquet", "gpkg": folder / "claims.gpkg",
             "noid": folder / "claims-noid.parquet"}
    polys.to_parquet(paths["parquet"])
    pyogrio.write_dataframe(polys, paths["gpkg"], layer="claims")
    polys.drop(columns="record_id").to_parquet(paths["noid"])
    return paths


def _config(demo_dir: Path, sites: Path):
    cfg = load_config(demo_dir / "sitescreen.toml")
    return dataclasses.replace(cfg, sites=LayerSpec(role="sites", path=sites))


def _same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    a = a.sort_values("site_id").reset_index(drop=True)
    b = b.sort_values("site_id").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")),
                                  check_dtype=False)
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-9).all()


@pytest.mark.parametrize("fmt", ["parquet", "gpkg", "noid"])
def test_streamed_equals_in_memory(demo_dir, polygon_sites, tmp_path, fmt, monkeypatch):
    cfg = _config(demo_dir, polygon_sites[fmt])
    memory = screen(cfg)
    seen = []
    real = LocalEngine.begin
    monkeypatch.setattr(LocalEngine, "begin", lambda self, profile, sites, *a: seen.append(len(sites)) or real(self, profile, sites, *a))
    manifest = to_data(screen_streamed(cfg, tmp_path / "out", chunk_size=40))
    n = len(memory.sites)
    # every site measured once, in chunks no larger than the chunk size (site_density is counted over
    # the measured chunks, then every chunk is scored)
    assert max(seen) <= 40 and sum(seen) == n and len(seen) == -(-n // 40)
    saved = gpd.read_parquet(tmp_path / "out" / "sites.parquet")
    _same(memory.sites, saved)
    assert manifest["counts"] == memory.manifest.counts
    assert manifest["mode"] == {"flow": "streamed", "chunk_size": 40}
    for key in ("sites", "inputs", "criteria", "crs", "profile"):
        assert manifest[key] == json.loads(json.dumps(to_data(memory.manifest)[key], default=str)), key
    # rows are written chunk by chunk in one file each; no scratch files left behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "sites.csv", "sites.csvt", "sites.gpkg", "sites.parquet"]
    assert pyogrio.read_info(tmp_path / "out" / "sites.gpkg", layer="sites")["features"] == n
    csv = pd.read_csv(tmp_path / "out" / "sites.csv")
    assert len(csv) == n and list(csv["site_id"].astype(str)) == list(saved["site_id"])


def test_streamed_parquet_metadata_covers_every_chunk(demo_dir, polygon_sites, tmp_path):
    screen_streamed(_config(demo_dir, polygon_sites["parquet"]), tmp_path / "out", chunk_size=25)
    saved = gpd.read_parquet(tmp_path / "out" / "sites.parquet")
    geo = json.loads(pq.read_metadata(tmp_path / "out" / "sites.parquet").metadata[b"geo"])
    col = geo["columns"]["geometry"]
    np.testing.assert_allclose(col["bbox"], saved.total_bounds)
    assert col["geometry_types"] == sorted(set(saved.geom_type))


def test_verify_repeats_a_streamed_run(demo_dir, polygon_sites, tmp_path):
    out = tmp_path / "out"
    screen_streamed(_config(demo_dir, polygon_sites["parquet"]), out, chunk_size=50)
    report = verify(out)
    assert report.ok, report.differences
    assert report.sites_compared == len(gpd.read_parquet(out / "sites.parquet"))
    sites = gpd.read_parquet(out / "sites.parquet")
    sites.loc[3, "score"] = 99.0
    sites.to_parquet(out / "sites.parquet")
    bad = verify(out)
    assert not bad.ok and any("score" in str(d) for d in bad.differences)


def test_failure_in_a_late_chunk_leaves_nothing(demo_dir, polygon_sites, tmp_path, monkeypatch):
    calls = []
    real = stream.scored

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise SitescreenError("disk vanished")
        return real(*a, **k)

    monkeypatch.setattr(stream, "scored", failing)
    with pytest.raises(SitescreenError, match="disk vanished"):
        screen_streamed(_config(demo_dir, polygon_sites["parquet"]), tmp_path / "out", chunk_size=30)
    assert list(tmp_path.iterdir()) == []  # no output folder, no partial sibling, no scratch


def test_points_are_not_streamed(demo_dir, tmp_path):
    cfg = load_config(demo_dir / "sitescreen.toml")
    assert stream.stream_refusal(cfg) is not None  # deposits.csv: merged whole
    with pytest.raises(NotStreamable, match="leave out --stream"):
        screen_to_folder(cfg, tmp_path / "out", stream=True)
    assert not (tmp_path / "out").exists()


def test_point_file_in_a_streamable_format_falls_back(demo_dir, demo_result, tmp_path, monkeypatch):
    """Deposit points as GeoParquet: merged across the whole file, so screened in memory."""
    cfg = load_config(demo_dir / "sitescreen.toml")
    deposits = gpd.GeoDataFrame({"record_id": demo_result.sites["site_id"], "name": demo_result.sites["name"],
                                 "commodity": "REE"}, geometry=demo_result.sites.geometry.centroid,
                                crs=demo_result.sites.crs)
    deposits.to_parquet(tmp_path / "deposits.parquet")
    cfg = dataclasses.replace(cfg, sites=LayerSpec(role="sites", path=tmp_path / "deposits.parquet"))
    with pytest.raises(NotStreamable, match="points"):
        screen_streamed(cfg, tmp_path / "forced")
    assert not (tmp_path / "forced").exists()
    monkeypatch.setattr(stream, "STREAM_MIN_SITES", 10)  # auto: large enough to try, falls back to memory
    manifest = to_data(screen_to_folder(cfg, tmp_path / "auto", options=stream.MapOptions(write_map=False, write_report=False)))
    assert manifest["mode"] == {"flow": "in memory"}
    assert (tmp_path / "auto" / "sites.parquet").exists()


def test_cli_stream_flag(demo_dir, polygon_sites, tmp_path):
    text = (demo_dir / "sitescreen.toml").read_text()
    text = text.replace('path = "deposits.csv"', f'path = "{polygon_sites["gpkg"]}"')
    for rel in ("padus.gpkg", "watersheds.gpkg", "parks.geojson", "wilderness/wilderness.shp", "dem.tif"):
        text = text.replace(f'path = "{rel}"', f'path = "{demo_dir / rel}"')
    cfg = tmp_path / "claims.toml"
    cfg.write_text(text)
    r = CliRunner().invoke(main, ["-q", "screen", "--config", str(cfg), "--out", str(tmp_path / "s"), "--stream",
                                  "--chunk-size", "60", "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["mode"] == {"flow": "streamed", "chunk_size": 60}
    assert manifest["sites"]["sites"] == len(gpd.read_parquet(tmp_path / "s" / "sites.parquet"))
    r = CliRunner().invoke(main, ["screen", "--config", str(demo_dir / "sitescreen.toml"), "--out", str(tmp_path / "p"),
                                  "--stream"])
    assert r.exit_code == 1 and "Error: cannot stream this run" in r.output and "deposits.csv" not in r.output
    assert not (tmp_path / "p").exists()
