"""The Dask engine on real processes: a ``dask scheduler`` and two ``dask worker`` processes on
localhost (``--scheduler``), and the default local cluster of processes; results identical to the
local engine, bit for bit, and no process left behind."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.children import pid_alive

pytest.importorskip("distributed")
pytest.importorskip("dask_geopandas")

REPO = Path(__file__).resolve().parent.parent
START_SECONDS = 60


def _dask_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _sitescreen() -> list[str]:
    exe = Path(sys.executable).with_name("sitescreen")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sitescreen.cli"]


def _die_with_test():
    """In the child (before exec): its own process group, and SIGTERM when the test process dies."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (from /proc: a zombie does not count)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as f:
        return subprocess.Popen(_dask_cmd() + args, stdout=f, stderr=subprocess.STDOUT, env=_env(),
                                preexec_fn=_die_with_test, cwd=log.parent)


def _stop(procs: list[subprocess.Popen]) -> list[int]:
    """SIGTERM to each process group, SIGKILL after 15 s; the pids still alive after that."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_group(p.pid) for p in procs):
        time.sleep(0.2)
    for p in procs:
        for pid in _group(p.pid):
            os.kill(pid, signal.SIGKILL)
        p.wait(timeout=10)
    time.sleep(0.2)
    return [pid for p in procs for pid in _group(p.pid)]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """(scheduler address, the processes): ``dask scheduler`` on a free port and two ``dask worker
    --nthreads 1`` processes; all stopped at the end, and checked gone."""
    from dask.distributed import Client
    folder = tmp_path_factory.mktemp("dask-cluster")
    file = folder / "scheduler.json"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], folder / "scheduler.log")]
    try:
        deadline = time.monotonic() + START_SECONDS
        while not file.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        procs += [_start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--host", "127.0.0.1"], folder / f"worker{i}.log") for i in range(2)]
        with Client(address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
        yield address, procs
    finally:
        left = _stop(procs)
    assert not left, f"dask processes left running: {left}"


def _frames_identical(a: Path, b: Path) -> None:
    """Every column of two runs' sites.parquet equal, bit for bit (geometries as WKB)."""
    fa, fb = pd.read_parquet(a / "sites.parquet"), pd.read_parquet(b / "sites.parquet")
    assert list(fa.columns) == list(fb.columns)
    for col in fa.columns:
        if col == "geometry":
            assert fa[col].tolist() == fb[col].tolist(), col  # WKB bytes
        else:
            pd.testing.assert_series_equal(fa[col], fb[col], check_exact=True, obj=col)
    assert (a / "sites.parquet").read_bytes() == (b / "sites.parquet").read_bytes()
    assert (a / "sites.csv").read_bytes() == (b / "sites.csv").read_bytes()


def test_screen_through_a_running_scheduler_equals_local(dask_cluster, tmp_path, monkeypatch):
    """``--engine dask --scheduler tcp://…`` on two worker processes: the local engine's results."""
    from dask.distributed import Client
    from sitescreen.measure import engine
    address, procs = dask_cluster
    world = tw.build(tmp_path / "world")
    local = run_cli(world.args() + ["--engine", "local"])
    assert local.exit_code == 0, local.output
    world.out = tmp_path / "dask"
    monkeypatch.setattr(engine, "PARTITION_SITES", 1)  # 4 sites: 4 partitions over the 2 workers
    dsk = run_cli(world.args() + ["--engine", "dask", "--scheduler", address])
    assert dsk.exit_code == 0, dsk.output
    _frames_identical(tmp_path / "world" / "out", tmp_path / "dask")
    with Client(address, timeout="20s") as client:
        pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids  # the work ran in the two worker processes
    assert pids <= {pid for p in procs for pid in _group(p.pid)}


def test_default_dask_engine_is_a_local_cluster_of_processes(tmp_path, monkeypatch):
    """``--engine dask --workers 2`` without --scheduler: a local cluster of 2 worker processes of one
    thread each (not threads of this process), gone after the run; results identical to local."""
    from sitescreen.measure.engine import DaskEngine
    seen = {}
    real_close = DaskEngine.close

    def spy(self):  # the cluster as the run leaves it
        if self._client is not None:
            seen["pids"] = set(self._client.run(os.getpid).values())
            seen["threads"] = {w["nthreads"] for w in self._client.scheduler_info()["workers"].values()}
        real_close(self)
    monkeypatch.setattr(DaskEngine, "close", spy)
    world = tw.build(tmp_path / "world")
    assert run_cli(world.args()).exit_code == 0
    world.out = tmp_path / "dask"
    dsk = run_cli(world.args() + ["--engine", "dask", "--workers", "2"])
    assert dsk.exit_code == 0, dsk.output
    _frames_identical(tmp_path / "world" / "out", tmp_path / "dask")
    assert len(seen["pids"]) == 2 and os.getpid() not in seen["pids"]
    assert seen["threads"] == {1}
    deadline = time.monotonic() + 10
    while any(pid_alive(p) for p in seen["pids"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(pid_alive(p) for p in seen["pids"])


def test_workers_do_not_go_with_a_scheduler(tmp_path):
    world = tw.build(tmp_path / "world")
    res = run_cli(world.args() + ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"])
    assert res.exit_code == 2
    assert "--workers sizes the local Dask cluster; a --scheduler's cluster has its own workers" in res.output
    assert not (tmp_path / "world" / "out").exists()


def test_killed_dask_screen_leaves_no_process(tmp_path):
    """SIGKILL of a ``screen --engine dask`` run once its local cluster's two worker processes are
    connected: every process of its tree is gone within 10 s (each worker dies with the run:
    ``engine.dask_setup``)."""
    psutil = pytest.importorskip("psutil")
    world = tw.build(tmp_path / "world")
    grid = ["-q", "screen", "--aoi=-114.9,44.1,-114.1,44.9", "--grid", "500", *sum((["--layer", x] for x in world.layers), []),
            "--out", str(tmp_path / "out"), "--no-map", "--no-report", "--engine", "dask", "--workers", "2"]
    proc = subprocess.Popen(_sitescreen() + grid, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, seen = psutil.Process(proc.pid), {}

    def workers() -> list:  # worker processes connected to the cluster's scheduler (past their start-up)
        out = []
        for p in seen.values():
            try:
                if "spawn_main" in " ".join(p.cmdline()) and any(
                        c.status == psutil.CONN_ESTABLISHED for c in p.net_connections(kind="tcp")):
                    out.append(p)
            except psutil.Error:
                pass
        return out
    try:
        deadline = time.monotonic() + 120
        while len(workers()) < 2 and proc.poll() is None and time.monotonic() < deadline:
            try:
                for child in root.children(recursive=True):
                    seen.setdefault(child.pid, child)
            except psutil.Error:
                break
            time.sleep(0.05)
        assert proc.poll() is None and len(workers()) >= 2, "the run ended (or never started its workers)"
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10

    def alive() -> list[int]:
        out = []
        for p in seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
            except psutil.Error:
                pass
        return out
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = alive()
    for pid in left:  # never leave a process behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"alive 10 s after the run was killed: {left}"


@pytest.mark.parametrize("address", ["x", "tcp://scheduler", "tcp://host:abc", "tcp://host:0", "http://host:8786"])
def test_a_malformed_scheduler_address_is_a_bad_flag(tmp_path, address):
    world = tw.build(tmp_path / "world")
    res = run_cli(world.args() + ["--engine", "dask", "--scheduler", address])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"Dask scheduler address {address!r}: expected tcp://HOST:PORT (or tls://HOST:PORT)" in res.output
    assert not (tmp_path / "world" / "out").exists()


def test_an_unreachable_scheduler_is_one_error_line(tmp_path):
    import socket
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world = tw.build(tmp_path / "world")
    res = run_cli(world.args() + ["--engine", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert_error(res, [f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"], 1)
    assert_nothing_left(tmp_path / "world" / "out")


def test_a_local_dask_run_logs_nothing_at_the_default_level(tmp_path):
    """Dask's scheduler and nannies log their start and stop at INFO: not shown without -v."""
    world = tw.build(tmp_path / "world")
    res = subprocess.run(_sitescreen() + world.args() + ["--engine", "dask", "--workers", "1"], env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "distributed" not in res.stderr, res.stderr
