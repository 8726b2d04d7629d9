"""`sitescreen batch JOBS.toml`: parallel jobs, failures reported, resumable, atomic outputs.

The kill tests start a real batch in a subprocess over copies of the demo data, kill it mid-way
(SIGKILL, SIGTERM, SIGINT), check that every output folder that exists is complete, re-run, and
compare the results with an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

import tinyworld as tw
from sitescreen.run.batch import Job, JobsFileError, load_jobs, summary_table, JobResult
from sitescreen.cli import main
from sitescreen.outputs.staging import PARTIAL_PREFIX, RESULT_FILES
from sitescreen.review.verify import compare_frames

SITESCREEN = str(Path(sys.executable).parent / "sitescreen")
NO_HTML = "[defaults]\nmap = false\nreport = false\n"


def _jobs_text(jobs: list[tuple[str, str, str]], head: str = NO_HTML) -> str:
    return head + "".join(f'\n[[jobs]]\nname = "{n}"\nconfig = "{c}"\nout = "{o}"\n' for n, c, o in jobs)


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(PARTIAL_PREFIX)) if folder.is_dir() else []


def _assert_complete(out: Path) -> None:
    """An output folder that exists holds every result file and a valid manifest."""
    names = {p.name for p in out.iterdir()}
    assert set(RESULT_FILES) <= names, f"{out} is half-written: {sorted(names)}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run"] and manifest["counts"]
    assert len(gpd.read_parquet(out / "sites.parquet")) == manifest["sites"]["sites"]


# ---------------------------------------------------------------------------------------------
# Small, in-process


@pytest.fixture()
def two_worlds(tmp_path) -> Path:
    for name in ("a", "b"):
        w = tw.build(tmp_path / name)
        w.write_config(tw.CONFIG)
    (tmp_path / "jobs.toml").write_text(_jobs_text([("a", "a/run.toml", "out/a"), ("b", "b/run.toml", "out/b"),
                                                    ("broken", "missing/run.toml", "out/broken")]))
    return tmp_path


def _batch(*args: str):
    return CliRunner().invoke(main, ["batch", *args])


def test_a_failing_job_is_reported_and_the_others_complete(two_worlds):
    r = _batch(str(two_worlds / "jobs.toml"))
    assert r.exit_code == 1
    table = r.stdout.splitlines()
    assert table[0].split() == ["job", "status", "sites", "seconds", "error"]
    assert table[1].split()[:3] == ["a", "done", "4"]
    assert table[2].split()[:3] == ["b", "done", "4"]
    assert table[3].split()[:2] == ["broken", "failed"]
    assert f"{two_worlds / 'missing' / 'run.toml'}: config file not found" in table[3]
    assert "1 of 3 job(s) failed" in r.stderr
    _assert_complete(two_worlds / "out" / "a")
    _assert_complete(two_worlds / "out" / "b")
    assert not (two_worlds / "out" / "broken").exists()
    assert _partials(two_worlds / "out") == []


def test_rerun_skips_up_to_date_jobs_and_redoes_changed_ones(two_worlds):
    jobs = two_worlds / "jobs.toml"
    jobs.write_text(_jobs_text([("a", "a/run.toml", "out/a"), ("b", "b/run.toml", "out/b")]))
    assert _batch(str(jobs)).exit_code == 0
    r = _batch(str(jobs), "--json")
    assert r.exit_code == 0
    assert [x["status"] for x in json.loads(r.stdout)] == ["up to date", "up to date"]
    # one byte of one input of job b changes: b is no longer up to date
    rows = tw.deposit_rows()
    rows[0]["site_name"] = "Alpha Prospect (synthetiC)"
    tw.write_csv(two_worlds / "b" / "deposits.csv", rows)
    r = _batch(str(jobs), "--json")
    assert r.exit_code == 1
    res = {x["name"]: x for x in json.loads(r.stdout)}
    assert res["a"]["status"] == "up to date"
    assert res["b"]["status"] == "failed" and "pass --overwrite" in res["b"]["error"]
    r = _batch(str(jobs), "--json", "--overwrite")
    assert [x["status"] for x in json.loads(r.stdout)] == ["up to date", "done"]
    assert "synthetiC" in (two_worlds / "out" / "b" / "sites.csv").read_text()


def test_a_changed_config_or_profile_is_not_up_to_date(two_worlds):
    jobs = two_worlds / "jobs.toml"
    jobs.write_text(_jobs_text([("a", "a/run.toml", "out/a")]))
    assert _batch(str(jobs)).exit_code == 0
    cfg = two_worlds / "a" / "run.toml"
    cfg.write_text(cfg.read_text().replace("radius_m = 1000", "radius_m = 1200"))
    r = _batch(str(jobs), "--json", "--overwrite")
    assert json.loads(r.stdout)[0]["status"] == "done"
    profile = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()
    (two_worlds / "strict.toml").write_text(profile.replace("favorable = 70", "favorable = 80"))
    jobs.write_text(_jobs_text([("a", "a/run.toml", "out/a")], head=NO_HTML + 'profile = "strict.toml"\n'))
    r = _batch(str(jobs), "--json", "--overwrite")
    assert json.loads(r.stdout)[0]["status"] == "done"
    manifest = json.loads((two_worlds / "out" / "a" / "manifest.json").read_text())
    assert manifest["profile"]["verdicts"]["favorable"] == 80
    assert json.loads(_batch(str(jobs), "--json").stdout)[0]["status"] == "up to date"


def test_stale_temporary_folders_are_removed_by_the_next_run(two_worlds):
    jobs = two_worlds / "jobs.toml"
    jobs.write_text(_jobs_text([("a", "a/run.toml", "out/a"), ("a2", "a/run.toml", "out/a-2")]))
    (two_worlds / "out").mkdir()
    stale = two_worlds / "out" / f"{PARTIAL_PREFIX}a-abcd1234"
    stale.mkdir()
    (stale / "sites.gpkg").write_text("half")
    assert _batch(str(jobs)).exit_code == 0
    assert _partials(two_worlds / "out") == []
    _assert_complete(two_worlds / "out" / "a")


def test_paths_resolve_against_the_jobs_file(two_worlds, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / "a")  # anywhere but the jobs file's folder
    jobs = load_jobs(two_worlds / "jobs.toml")
    assert jobs[0] == Job(name="a", config=two_worlds.resolve() / "a/run.toml", out=two_worlds.resolve() / "out/a",
                          map=False, report=False)


@pytest.mark.parametrize("text, expect", [
    ('[[jobs]]\nname = "a"\nconfig = "a.toml"\n', "jobs[0]: 'out' is required"),
    ('[[jobs]]\nname = "a"\nconfig = "a.toml"\nout = "o"\nthreads = 4\n', "unknown key(s) threads; allowed: name, config, out, profile, crs, map, report"),
    ('[defaults]\nmap = "no"\n[[jobs]]\nname = "a"\nconfig = "a.toml"\nout = "o"\n', "[defaults]: map must be a bool, got 'no'"),
    ('[[jobs]]\nname = "a"\nconfig = "a.toml"\nout = "o"\n[[jobs]]\nname = "b"\nconfig = "b.toml"\nout = "o"\n',
     "jobs 'a' and 'b' have the same output folder"),
    ('[[job]]\nname = "a"\n', "unknown key(s) job; allowed: defaults, jobs"),
    ('jobs = 3\n', "needs at least one [[jobs]] table"),
    ('[[jobs]\n', "not valid TOML"),
], ids=["missing-out", "unknown-key", "bad-type", "same-out", "misspelt-table", "not-a-table", "not-toml"])
def test_bad_jobs_files(tmp_path, text, expect):
    p = tmp_path / "jobs.toml"
    p.write_text(text)
    r = _batch(str(p))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {p}: ")
    assert expect in r.stderr
    assert "Traceback" not in r.output
    with pytest.raises(JobsFileError):
        load_jobs(p)


def test_summary_table_layout():
    text = summary_table([JobResult("idaho", "done", "o", 230, 3.14), JobResult("mt", "failed", "o2", None, 0.5, "boom")])
    assert text.splitlines() == ["job    status  sites  seconds  error",
                                 "idaho  done      230      3.1",
                                 "mt     failed             0.5  boom"]


# ---------------------------------------------------------------------------------------------
# Real batch processes, killed mid-way


@pytest.fixture(scope="module")
def demo_jobs(demo_dir, tmp_path_factory) -> Path:
    """A jobs file with four demo-sized jobs (copies of the demo data); no map or report."""
    root = tmp_path_factory.mktemp("batch-demo")
    for i in range(1, 5):
        shutil.copytree(demo_dir, root / f"region{i}")
    (root / "jobs.toml").write_text(_jobs_text([(f"region{i}", f"region{i}/sitescreen.toml", f"out/region{i}")
                                                for i in range(1, 5)]))
    return root


def _fresh(demo_jobs: Path, tmp_path: Path) -> Path:
    root = tmp_path / "b"
    shutil.copytree(demo_jobs, root, ignore=shutil.ignore_patterns("out"))
    return root


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([SITESCREEN, "batch", str(root / "jobs.toml"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_first_output(root: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    t0 = time.monotonic()
    while not (root / "out" / "region1" / "manifest.json").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the first job did not finish in time"
        time.sleep(0.02)


def _check_after_kill(root: Path) -> list[str]:
    done = sorted(p.name for p in (root / "out").iterdir() if not p.name.startswith("."))
    assert "region1" in done
    assert len(done) < 4, "the batch finished before it was killed; the test proves nothing"
    for name in done:
        _assert_complete(root / "out" / name)
    return done


def _rerun_and_compare(root: Path, reference: gpd.GeoDataFrame, done_before: list[str], *args: str) -> None:
    p = subprocess.run([SITESCREEN, "batch", str(root / "jobs.toml"), "--json", *args], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    status = {r["name"]: r["status"] for r in json.loads(p.stdout)}
    assert status == {f"region{i}": ("up to date" if f"region{i}" in done_before else "done") for i in range(1, 5)}
    assert _partials(root / "out") == []
    for i in range(1, 5):
        out = root / "out" / f"region{i}"
        _assert_complete(out)
        assert [str(d) for d in compare_frames(gpd.read_parquet(out / "sites.parquet"), reference, str(out))] == []


@pytest.fixture(scope="module")
def reference(demo_result):
    """The sites of an uninterrupted run, as sites.parquet holds them."""
    from sitescreen.review.verify import _roundtrip
    return _roundtrip(demo_result.sites)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_killed_with_sigkill_leaves_no_half_written_folder_and_resumes(demo_jobs, reference, tmp_path, workers):
    root = _fresh(demo_jobs, tmp_path)
    proc = _start(root, "--jobs", workers)
    _wait_for_first_output(root, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers, as a scheduler or the OOM killer would
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = _check_after_kill(root)
    _rerun_and_compare(root, reference, done, "--jobs", workers)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_batch_stopped_with_a_signal_removes_the_job_in_progress(demo_jobs, tmp_path, sig):
    root = _fresh(demo_jobs, tmp_path)
    proc = _start(root)
    _wait_for_first_output(root, proc)
    os.kill(proc.pid, sig)  # the batch process only: it unwinds and removes the job in progress
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted; no partial output was left." in err
    assert "Traceback" not in err
    assert _partials(root / "out") == []
    _check_after_kill(root)  # (resuming is the same as after SIGKILL, tested above)


def test_stale_cleanup_touches_only_its_own_folders_temporary_siblings(tmp_path):
    """Parallel jobs "a" and "a-2": cleaning up for "a" must not remove the folder "a-2" is writing."""
    from sitescreen.outputs.staging import clean_stale
    mine = [tmp_path / f"{PARTIAL_PREFIX}a-k3j_x9q2", tmp_path / f"{PARTIAL_PREFIX}a-old-1234"]
    theirs = [tmp_path / f"{PARTIAL_PREFIX}a-2-abcdefgh", tmp_path / f"{PARTIAL_PREFIX}ab-abcdefgh"]
    for p in mine + theirs:
        p.mkdir()
    assert clean_stale(tmp_path / "a") == sorted(mine)
    assert _partials(tmp_path) == sorted(p.name for p in theirs)
