"""The engines give the same numbers: chunked local runs and Dask runs equal one whole local run."""

from __future__ import annotations

import pytest
from geopandas.testing import assert_geodataframe_equal

from sitescreen.run.config import config_from_dict, load_config
from sitescreen.measure.engine import spatial_order
from sitescreen.errors import SitescreenError
from sitescreen.run.pipeline import screen


def test_spatial_order_is_a_permutation(demo_result):
    order = spatial_order(demo_result.sites)
    assert sorted(order.tolist()) == list(range(len(demo_result.sites)))


def test_chunked_local_equals_whole_run(demo_dir, demo_result):
    chunked = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=17)
    assert_geodataframe_equal(chunked.sites, demo_result.sites)


def test_raster_side_process_equals_in_process(demo_dir, demo_result, monkeypatch):
    """Large pieces measure their raster criteria in a side process (both cores work): same values."""
    from sitescreen.measure import criteria
    monkeypatch.setattr(criteria, "SIDE_PROCESS_MIN_SITES", 1)
    monkeypatch.setattr(criteria.os, "cpu_count", lambda: 2)
    submitted = []
    real = criteria._start_rasters
    monkeypatch.setattr(criteria, "_start_rasters", lambda *a: submitted.append(real(*a)) or submitted[-1])
    run = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=100)
    # 230 sites: 3 pieces, one raster criterion, each sent in SIDE_PARTS parts of consecutive sites
    assert [sorted({part.criterion.name for part in p}) for p in submitted if p] == [["steep_terrain"]] * 3
    assert all(len(p) == criteria.SIDE_PARTS for p in submitted if p)
    assert_geodataframe_equal(run.sites, demo_result.sites)


def test_raster_parts_the_side_process_has_not_started_are_measured_here(demo_dir, demo_result, monkeypatch):
    """Once the vector criteria are done, the parts still waiting for the side process are taken
    back, from the last, and measured in this process (both cores work to the end): same values."""
    from concurrent.futures import Future
    from sitescreen.measure import criteria, engine
    monkeypatch.setattr(criteria, "SIDE_PROCESS_MIN_SITES", 1)
    monkeypatch.setattr(criteria.os, "cpu_count", lambda: 2)
    sent: list[Future] = []

    def side(c, wkb, crs, rasters):  # the side process has started the first 3 parts of each piece
        fut = Future()
        if len(sent) % criteria.SIDE_PARTS < 3:
            fut.set_running_or_notify_cancel()
            fut.set_result(engine._raster_job(c, wkb, crs, rasters))
        sent.append(fut)
        return fut
    monkeypatch.setattr(engine, "_submit_raster", side)
    run = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=100)
    assert len(sent) == 3 * criteria.SIDE_PARTS
    assert [f.cancelled() for f in sent[:criteria.SIDE_PARTS]] == [False] * 3 + [True] * (criteria.SIDE_PARTS - 3)
    assert_geodataframe_equal(run.sites, demo_result.sites)


def test_dask_engine_equals_local_on_demo(demo_dir, demo_result):
    pytest.importorskip("dask_geopandas")
    dask_run = screen(load_config(demo_dir / "sitescreen.toml"), engine="dask", workers=2, chunk_size=40)
    assert_geodataframe_equal(dask_run.sites, demo_result.sites)
    assert dask_run.manifest.counts == demo_result.manifest.counts


@pytest.mark.realdata
def test_dask_engine_equals_local_on_idaho(shared_data, tmp_path):
    pytest.importorskip("dask_geopandas")
    d = shared_data
    cfg = config_from_dict({
        "sites": {"path": str(d / "mineral_deposits/lanthanum_datafile.csv"), "where": {"state": ["Idaho"]}},
        "layers": [
            {"role": "federal_land", "path": str(d / "federal_lands/padus_ID.geojson")},
            {"role": "watershed", "path": str(d / "watersheds/huc8_pnw.geojson")},
            {"role": "protected", "path": str(d / "protected_areas/nps_national_parks.geojson")},
            {"role": "protected", "path": str(d / "protected_areas/wilderness_usgs_national_atlas/wilderness.shp")},
        ]}, tmp_path, "idaho")
    local = screen(cfg)
    distributed = screen(cfg, engine="dask", workers=2, chunk_size=60)
    assert len(local.sites) > 300
    assert_geodataframe_equal(distributed.sites, local.sites)


def test_unknown_engine_is_refused(demo_dir):
    with pytest.raises(SitescreenError, match="unknown engine 'spark'; allowed: local, dask"):
        screen(load_config(demo_dir / "sitescreen.toml"), engine="spark")


@pytest.mark.parametrize("n, workers, expect", [(50_000, 2, 6), (4, 2, 4), (1, 2, 1), (7, 3, 7), (500_000, 2, 8),
                                                (20_000, 2, 2), (20_001, 2, 4)])
def test_dask_partitions_are_whole_rounds_over_the_workers(n, workers, expect, monkeypatch):
    """No worker waits through a last round that only the others have work in."""
    pytest.importorskip("dask_geopandas")
    from sitescreen.measure import engine
    monkeypatch.setattr(engine, "PARTITION_SITES", 10_000 if n > 100 else 1)
    assert engine.DaskEngine(workers=workers)._partitions(n) == expect


def test_a_local_workers_failed_heartbeat_at_close_is_not_printed():
    """The shutdown race of a local cluster (scheduler gone first) logs a traceback in the worker;
    the worker's filter drops just that record."""
    import logging
    from sitescreen.measure.engine import _no_heartbeat_at_close

    def rec(msg):
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None, None)
    assert not _no_heartbeat_at_close(rec("Failed to communicate with scheduler during heartbeat."))
    assert _no_heartbeat_at_close(rec("Compute Failed"))
