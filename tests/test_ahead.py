"""Reading ahead: chunk k+1 is read, and its measuring begun (its raster criteria handed to the side
process), in a thread while chunk k is measured; the values do not change, errors are not lost, a
run that stops early leaves nothing handed out, and the side process is always spawned by the main
thread (a child's parent-death signal is tied to the thread that spawned it)."""

from __future__ import annotations

import threading

import pytest
from geopandas.testing import assert_geodataframe_equal

from sitescreen.measure import criteria, engine
from sitescreen.run.behind import ahead
from sitescreen.run.config import load_config
from sitescreen.run.pipeline import screen


def test_the_next_item_is_started_while_the_caller_holds_this_one():
    started_two = threading.Event()

    def start(x):
        if x == 2:
            started_two.set()
        return x * 10

    got = []
    for y in ahead(range(4), start):
        if y == 10:  # while the caller holds item 1, item 2 is started in the thread
            assert started_two.wait(10)
        got.append(y)
    assert got == [0, 10, 20, 30]


def test_an_error_in_reading_is_raised_for_that_item_after_the_ones_before():
    def items():
        yield 1
        yield 2
        raise OSError("chunk 3 unreadable")

    got = []
    with pytest.raises(OSError, match="chunk 3 unreadable"):
        for y in ahead(items(), lambda x: x):
            got.append(y)
    assert got == [1, 2]


def test_an_error_in_starting_is_raised_for_that_item():
    def start(x):
        if x == 2:
            raise ValueError("bad chunk 2")
        return x

    got = []
    with pytest.raises(ValueError, match="bad chunk 2"):
        for y in ahead(range(5), start):
            got.append(y)
    assert got == [0, 1]


def test_a_caller_that_stops_early_has_the_item_started_ahead_stopped():
    started, stopped, two = [], [], threading.Event()

    def start(x):
        started.append(x)
        two.set() if x == 2 else None
        return x

    gen = ahead(range(10), start, stopped.append)
    assert next(gen) == 0
    assert next(gen) == 1
    assert two.wait(10)
    gen.close()
    assert started == [0, 1, 2] and stopped == [2]  # only the one started ahead, nothing more read


def test_an_empty_source_yields_nothing():
    assert list(ahead([], lambda x: x, lambda x: pytest.fail("nothing was started"))) == []


def test_a_chunk_begun_off_the_main_thread_never_spawns_the_side_process(demo_dir, demo_result, monkeypatch):
    """Without a side process started by the main thread, a chunk begun in another thread measures
    its raster criteria where it is finished: the same values, and no process spawned."""
    monkeypatch.setattr(criteria, "SIDE_PROCESS_MIN_SITES", 1)
    monkeypatch.setattr(criteria.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(engine, "_SIDE", [])
    monkeypatch.setattr(engine.LocalEngine, "start", lambda self, profile, largest: None)
    spawned = []
    monkeypatch.setattr(engine, "_side_pool", lambda: spawned.append(threading.current_thread().name))
    run = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=100)
    assert spawned == []
    assert_geodataframe_equal(run.sites, demo_result.sites)


def test_the_side_process_is_started_by_the_main_thread_before_reading_ahead(demo_dir, demo_result, monkeypatch):
    """A run whose chunks are large enough starts the side process from the main thread, then begins
    every chunk in the reading thread with its raster criteria sent there: the same values."""
    monkeypatch.setattr(criteria, "SIDE_PROCESS_MIN_SITES", 1)
    monkeypatch.setattr(criteria.os, "cpu_count", lambda: 2)
    pools, begun_in = [], []
    real_pool, real_begin = engine._side_pool, engine.LocalEngine.begin
    monkeypatch.setattr(engine, "_side_pool", lambda: pools.append(threading.current_thread()) or real_pool())
    monkeypatch.setattr(engine.LocalEngine, "begin",
                        lambda self, *a: begun_in.append(threading.current_thread()) or real_begin(self, *a))
    sent = []
    real_start = criteria._start_rasters
    monkeypatch.setattr(criteria, "_start_rasters", lambda *a: sent.append(real_start(*a)) or sent[-1])
    run = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=100)
    assert pools and pools[0] is threading.main_thread()  # started (and spawned) before any chunk was begun
    assert len(begun_in) == 3 and all(t is not threading.main_thread() for t in begun_in)
    assert [len(p) for p in sent if p] == [criteria.SIDE_PARTS] * 3  # each chunk's raster criterion went to the side
    assert_geodataframe_equal(run.sites, demo_result.sites)


def test_small_chunks_start_no_side_process(demo_dir, monkeypatch):
    """Chunks below the side process's size never start it."""
    monkeypatch.setattr(criteria, "SIDE_PROCESS_MIN_SITES", 10_000)
    started = []
    monkeypatch.setattr(engine, "_side_pool", lambda: started.append(1))
    screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=100)
    assert started == []


def test_a_failing_run_drops_the_chunk_read_ahead(demo_dir, monkeypatch):
    """A chunk that fails to measure stops the run with its error; the chunk begun ahead of it is
    cancelled (its side-process parts dropped), and nothing after it is read."""
    begun, cancelled = [], []
    real_begin = engine.LocalEngine.begin

    def begin(self, profile, sites, inputs):
        m = real_begin(self, profile, sites, inputs)
        k = len(begun)
        begun.append(k)

        def result():
            if k == 0:
                raise RuntimeError("measuring failed on purpose")
            return m.result()
        return engine.Measuring(result, lambda: cancelled.append(k) or m.cancel())
    monkeypatch.setattr(engine.LocalEngine, "begin", begin)
    with pytest.raises(RuntimeError, match="on purpose"):
        screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=50)
    assert begun in ([0], [0, 1]) and cancelled == begun[1:]  # the one read ahead, if begun, was dropped


def test_the_timings_give_the_reading_its_own_stage(demo_dir):
    """Chunks read (and begun) in the reading thread are timed as their own stage, beside measuring."""
    t = screen(load_config(demo_dir / "sitescreen.toml"), chunk_size=60).manifest.timings
    assert {"read", "measure", "score"} <= set(t) and t["read"] > 0 and t["measure"] > 0
