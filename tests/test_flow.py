"""One flow: in-memory and streamed runs go through the same loop, with one chunk size; a raster's
footprint is a typed record; the engines keep their own state."""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sitescreen.errors import SitescreenError
from sitescreen.inputs.spec import LayerSpec
from sitescreen.measure.engine import LocalEngine
from sitescreen.run import stream
from sitescreen.run.config import load_config
from sitescreen.run.pipeline import RasterInfo, prepare, screen
from sitescreen.run.sources import FileSource, FrameSource
from sitescreen.record.manifest import to_data


@pytest.fixture(scope="module")
def claims(demo_result, tmp_path_factory):
    """The demo's footprints as a polygon sites file, in lon/lat, shuffled."""
    path = tmp_path_factory.mktemp("claims") / "claims.parquet"
    polys = demo_result.sites[["site_id", "name", "geometry"]].rename(columns={"site_id": "record_id"}).to_crs(4326)
    polys.sample(frac=1.0, random_state=5).reset_index(drop=True).to_parquet(path)
    return path


def _claims_config(demo_dir, claims):
    return dataclasses.replace(load_config(demo_dir / "sitescreen.toml"), sites=LayerSpec(role="sites", path=claims))


def _spy_loop(monkeypatch) -> list:
    """Record the source of every call of the one loop."""
    seen = []
    real = stream.screen_run
    monkeypatch.setattr(stream, "screen_run", lambda config, source, *a, **k: seen.append(source) or real(config, source, *a, **k))
    return seen


def test_in_memory_and_streamed_runs_take_the_same_loop(demo_dir, claims, tmp_path, monkeypatch):
    seen = _spy_loop(monkeypatch)
    cfg = _claims_config(demo_dir, claims)
    memory = screen(cfg, chunk_size=70)
    manifest = to_data(stream.screen_streamed(cfg, tmp_path / "out", chunk_size=70))
    assert [type(s) for s in seen] == [FrameSource, FileSource]
    assert [s.mode for s in seen] == [{"flow": "in memory"}, manifest["mode"]] == [to_data(memory.manifest)["mode"], manifest["mode"]]
    saved = gpd.read_parquet(tmp_path / "out" / "sites.parquet").sort_values("site_id").reset_index(drop=True)
    expect = memory.sites.sort_values("site_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.DataFrame(saved.drop(columns="geometry")), pd.DataFrame(expect.drop(columns="geometry")),
                                  check_dtype=False, check_exact=True)
    assert saved.geometry.geom_equals_exact(expect.geometry, tolerance=0).all()
    assert manifest["inputs"] == json.loads(json.dumps(to_data(memory.manifest)["inputs"], default=str))


@pytest.mark.parametrize("chunk_size", [1, 40, 229, 230, 10_000])
def test_chunk_size_is_the_sites_measured_scored_and_written_together(demo_dir, demo_result, chunk_size, monkeypatch):
    """One meaning in memory as streamed: every chunk holds at most chunk_size sites, measured in
    one call and scored in one call; the result does not depend on it."""
    measured, scored = [], []
    real_measure, real_score = LocalEngine.begin, stream.scored
    monkeypatch.setattr(LocalEngine, "begin", lambda self, p, sites, *a: measured.append(len(sites)) or real_measure(self, p, sites, *a))
    monkeypatch.setattr(stream, "scored", lambda sites, *a, **k: scored.append(len(sites)) or real_score(sites, *a, **k))
    run = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=chunk_size)
    n = len(demo_result.sites)
    assert measured == scored and sum(measured) == n and max(measured) <= chunk_size
    assert len(measured) == -(-n // chunk_size)
    assert run.sites.equals(demo_result.sites)


def test_file_source_reads_in_pieces_whatever_the_chunk_size(demo_dir, claims, tmp_path, monkeypatch):
    """The read batch is an I/O detail of the file source, not the chunk size; the file is read once
    per run (placing reads the first pass's scratch pieces, selected and repaired once)."""
    from sitescreen.run import sources
    asked = []
    real = sources.read_batches
    monkeypatch.setattr(sources, "read_batches", lambda spec, rows, **k: asked.append(rows) or real(spec, rows, **k))
    for size in (25, 60):
        stream.screen_streamed(_claims_config(demo_dir, claims), tmp_path / f"out{size}", chunk_size=size)
    assert asked == [sources.READ_ROWS] * 2  # one read per run


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_chunk_size_is_refused_before_any_work(demo_dir, claims, tmp_path, bad):
    with pytest.raises(SitescreenError, match=rf"chunk size must be a whole number of sites ≥ 1, got {bad!r}"):
        screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=bad)
    with pytest.raises(SitescreenError, match="chunk size must be a whole number"):
        stream.screen_streamed(_claims_config(demo_dir, claims), tmp_path / "out", chunk_size=bad)
    assert list(tmp_path.iterdir()) == []


def test_raster_footprint_is_a_typed_record(demo_dir, demo_result):
    prep = prepare(load_config(demo_dir / "sitescreen.toml"))
    (dem,) = prep.rasters
    assert isinstance(dem, RasterInfo) and dem.spec.role == "dem"
    assert isinstance(dem.footprint, shapely.Polygon)
    fp = prep.sites.geometry.to_numpy()
    assert dem.sites_covered == int(shapely.intersects(fp, dem.footprint).sum()) == dem.covered(fp) > 0
    # the manifest's entry is rendered from the record: no private footprint in it
    (entry,) = prep.raster_info
    assert entry == dem.info() and "_box" not in entry and entry["sites_covered"] == dem.sites_covered
    recorded = [i for i in to_data(demo_result.manifest)["inputs"] if i["kind"] == "raster"]
    assert [{k: v for k, v in i.items() if k not in ("sha256", "bytes", "modified")} for i in recorded] == [entry]


def test_streamed_run_counts_raster_coverage_over_its_chunks(demo_dir, claims, demo_result, tmp_path):
    manifest = to_data(stream.screen_streamed(_claims_config(demo_dir, claims), tmp_path / "out", chunk_size=30))
    streamed = [i["sites_covered"] for i in manifest["inputs"] if i["kind"] == "raster"]
    memory = [i["sites_covered"] for i in to_data(demo_result.manifest)["inputs"] if i["kind"] == "raster"]
    assert streamed == memory and memory[0] > 0


def test_dask_engine_streamed_equals_local(demo_dir, claims, tmp_path):
    """The Dask engine (one client and one transport of the layers per run, its partitions each
    preparing their own features) gives the local engine's numbers in a streamed run too."""
    pytest.importorskip("dask_geopandas")
    cfg = _claims_config(demo_dir, claims)
    stream.screen_streamed(cfg, tmp_path / "local", chunk_size=50)
    stream.screen_streamed(cfg, tmp_path / "dask", chunk_size=50, engine="dask", workers=2)
    assert (tmp_path / "local" / "sites.parquet").read_bytes() == (tmp_path / "dask" / "sites.parquet").read_bytes()


def test_engine_state_lives_in_the_engine_module():
    """The raster side process and the Dask transport are the engine's: measuring is stateless."""
    from sitescreen.measure import criteria, engine
    assert not hasattr(criteria, "_SIDE") and not hasattr(criteria, "_side_pool")
    assert not hasattr(criteria.Inputs, "unshared") and "__getstate__" not in vars(criteria.Inputs)
    assert callable(engine._side_pool) and isinstance(engine.open_engine("local"), engine.LocalEngine)
    with pytest.raises(SitescreenError, match="unknown engine 'spark'; allowed: local, dask"):
        engine.open_engine("spark")
    assert np.array_equal(engine.spatial_order(gpd.GeoDataFrame(geometry=[])), np.arange(0))
