"""Issue 14, item 8: progress and messages.

Mistyped keys of every project TOML file are named with a suggestion; file kinds are named once
("jobs file", never "jobs file file"); ``-q``/``-v`` work before and after the subcommand; one rule
for a missing parent of ``--out`` (created, for ``screen`` and ``batch`` alike, and removed again
when the run fails); a job that is not up to date says what changed.
"""

from __future__ import annotations

import json

import pytest

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.errors import ConfigError, LayerConfigError, ProfileError
from sitescreen.run.batch import JobsFileError, load_jobs

JOB = '[[jobs]]\nname = "a"\nconfig = "a/run.toml"\nout = "out/a"\n'


# ---------------------------------------------------------------------------------------------
# Mistyped keys: named, with the nearest allowed key


def test_did_you_mean_names_the_nearest_allowed_key():
    from sitescreen.inputs.tomlfile import check_keys, did_you_mean
    assert did_you_mean(["confg"], ["name", "config", "out"]) == "; did you mean 'config'?"
    assert did_you_mean(["nmae", "otu"], ["name", "config", "out"]) == "; did you mean 'name' for 'nmae', 'out' for 'otu'?"
    assert did_you_mean(["threads"], ["name", "config", "out"]) == ""
    with pytest.raises(ConfigError) as exc:
        check_keys({"confg": 1, "name": 2}, ("name", "config"), "f.toml", ConfigError)
    assert str(exc.value) == "f.toml: unknown key(s) confg; allowed: name, config; did you mean 'config'?"


def test_a_mistyped_jobs_key_is_named_not_reported_as_a_missing_one(tmp_path):
    """The issue: `confg = "idaho.toml"` said "'config' is required"."""
    p = tmp_path / "jobs.toml"
    p.write_text('[[jobs]]\nname = "a"\nconfg = "a/run.toml"\nout = "out/a"\n')
    r = run_cli(["batch", str(p)])
    msg = assert_error(r, [], 1)
    assert msg == (f"Error: {p}: jobs[0]: unknown key(s) confg; allowed: name, config, out, profile, crs, map, "
                   f"report, cdn; did you mean 'config'?")
    p.write_text('[defaults]\nrepot = false\n' + JOB)
    with pytest.raises(JobsFileError) as exc:
        load_jobs(p)
    assert str(exc.value) == (f"{p}: [defaults]: unknown key(s) repot; allowed: profile, crs, map, report, cdn; "
                              f"did you mean 'report'?")
    p.write_text('[[job]]\nname = "a"\n')
    with pytest.raises(JobsFileError) as exc:
        load_jobs(p)
    assert str(exc.value) == f"{p}: unknown key(s) job; allowed: defaults, jobs; did you mean 'jobs'?"


@pytest.mark.parametrize("text, error, expect", [
    (tw.CONFIG.replace("[run]", "[rn]"), ConfigError,
     "run.toml: unknown key(s) rn; allowed: title, sites, run, layers; did you mean 'run'?"),
    (tw.CONFIG.replace("radius_m = 1000", "radus_m = 1000"), ConfigError,
     "run.toml: [sites]: unknown key(s) radus_m; allowed: commodity, crs, definition, grid_cell_m, id_field, layer, "
     "merge_distance_m, name_field, path, radius_m, schema, skip_invalid, where; did you mean 'radius_m'?"),
    (tw.CONFIG.replace('profile = "federal-safeguards"', 'profle = "federal-safeguards"'), ConfigError,
     "run.toml: [run]: unknown key(s) profle; allowed: profile, crs, aoi; did you mean 'profile'?"),
    (tw.CONFIG.replace('layer = "padus"', 'layr = "padus"'), LayerConfigError,
     "unknown key(s) layr; allowed: band, coverage, crs, definition, layer, name, path, role, schema, where; "
     "did you mean 'layer'?"),
], ids=["top", "sites", "run", "layer"])
def test_a_mistyped_config_key_is_named_with_a_suggestion(tmp_path, text, error, expect):
    from sitescreen.run.config import load_config
    w = tw.build(tmp_path)
    with pytest.raises(error) as exc:
        load_config(w.write_config(text))
    assert str(exc.value).endswith(expect)
    assert str(exc.value).startswith(str(w.config))


def test_a_mistyped_criterion_key_is_named_with_a_suggestion(tmp_path):
    from pathlib import Path

    from sitescreen.rules.profile import load_profile
    text = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()
    assert text.count("\nweight = ") >= 1
    p = tmp_path / "p.toml"
    p.write_text(text.replace("\nweight = ", "\nwieght = ", 1))
    with pytest.raises(ProfileError) as exc:
        load_profile(p)
    assert "unknown key(s) wieght for kind " in str(exc.value)
    assert str(exc.value).endswith("; did you mean 'weight'?")


@pytest.mark.parametrize("kind, setup", [
    ("jobs", lambda p: None),
    ("jobs", lambda p: p.mkdir()),
    ("jobs", lambda p: p.write_bytes(b"\xff\xfe[")),
], ids=["missing", "directory", "not-utf8"])
def test_a_jobs_file_is_named_once(tmp_path, kind, setup):
    """The issue: "jobs file file not found"."""
    p = tmp_path / "jobs.toml"
    setup(p)
    with pytest.raises(JobsFileError) as exc:
        load_jobs(p)
    text = str(exc.value)
    assert "file file" not in text
    assert text.startswith(f"{p}: jobs file ")
    assert text in {f"{p}: jobs file not found; check the path",
                    f"{p}: jobs file is a directory, expected a .toml file",
                    f"{p}: jobs file is not UTF-8 text"}


# ---------------------------------------------------------------------------------------------
# One rule for a missing parent of the output folder: made (screen and batch alike), removed on failure


def test_screen_makes_the_missing_parents_of_out(tmp_path):
    w = tw.build(tmp_path / "w")
    w.out = tmp_path / "results" / "2026" / "idaho"
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    from sitescreen.outputs.staging import RESULT_FILES
    assert sorted(p.name for p in w.out.iterdir()) == sorted(RESULT_FILES)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["2026"]


def test_a_failed_screen_removes_the_parents_it_made(tmp_path):
    w = tw.build(tmp_path / "w")
    w.out = tmp_path / "results" / "2026" / "idaho"
    w.layers = [f"protected={w.root / 'missing.geojson'}"]
    r = run_cli(w.args())
    assert_error(r, ["missing.geojson"], 1)
    assert_nothing_left(w.out)
    assert not (tmp_path / "results").exists()


def test_a_parent_that_is_a_file_is_refused_at_any_depth(tmp_path):
    w = tw.build(tmp_path / "w")
    (tmp_path / "afile").write_text("x")
    w.out = tmp_path / "afile" / "deeper" / "out"
    r = run_cli(w.args())
    msg = assert_error(r, [], 1)
    assert msg == f"Error: {w.out}: {tmp_path / 'afile'} is a file, not a folder; choose another output folder"
    assert (tmp_path / "afile").read_text() == "x"


def test_batch_follows_the_same_rule(tmp_path):
    w = tw.build(tmp_path / "a")
    w.write_config(tw.CONFIG)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[defaults]\nmap = false\nreport = false\n' + JOB.replace('"out/a"', '"out/deep/a"') +
                    '[[jobs]]\nname = "bad"\nconfig = "a/bad.toml"\nout = "out2/deep/bad"\n')
    (tmp_path / "a" / "bad.toml").write_text(tw.CONFIG.replace("protected.geojson", "missing.geojson"))
    r = run_cli(["batch", str(jobs), "--json"])
    assert r.exit_code == 1, r.output
    res = {x["name"]: x["status"] for x in json.loads(r.stdout)}
    assert res == {"a": "done", "bad": "failed"}
    assert (tmp_path / "out" / "deep" / "a" / "manifest.json").is_file()
    assert not (tmp_path / "out2").exists()


# ---------------------------------------------------------------------------------------------
# -q / -v before or after the subcommand


def test_every_subcommand_takes_quiet_and_verbose_after_its_name():
    from click.testing import CliRunner

    from sitescreen.cli import main
    names = sorted(main.commands)
    assert {"batch", "check", "demo", "explain", "map", "report", "screen", "verify"} <= set(names)  # and every other
    for name in names:
        for flag in ("-q", "--quiet", "-v", "-vv", "--verbose"):
            r = CliRunner().invoke(main, [name, flag, "--help"])
            assert r.exit_code == 0, (name, flag, r.output)
            assert "No such option" not in r.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_after_screen_silences_the_summary(tmp_path, where):
    """The issue: `screen … -q` said "No such option: -q"."""
    w = tw.build(tmp_path / "w")
    args = ["-q", *w.args()] if where == "before" else [*w.args(), "-q"]
    r = run_cli(args)
    assert r.exit_code == 0, r.output
    assert (r.stdout, r.stderr) == ("", "")
    loud = run_cli([*w.args(), "--overwrite"])
    n = json.loads((w.out / "manifest.json").read_text())["sites"]["sites"]
    assert loud.stdout.startswith(f"Screened {n} sites (")  # the same run, not quiet: the summary


def test_verbose_after_the_subcommand_adds_to_the_groups(tmp_path, caplog):
    import logging
    w = tw.build(tmp_path / "w")
    r = run_cli([*w.args(), "-v"])
    assert r.exit_code == 0, r.output
    assert logging.getLogger("sitescreen").level == logging.INFO
    r = run_cli(["-v", *w.args(), "--overwrite", "-v"])
    assert r.exit_code == 0, r.output
    assert logging.getLogger("sitescreen").level == logging.DEBUG
    r = run_cli([*w.args(), "--overwrite"])
    assert logging.getLogger("sitescreen").level == logging.WARNING


# ---------------------------------------------------------------------------------------------
# A job that is not up to date says what changed


@pytest.fixture()
def done_job(tmp_path):
    from sitescreen.run.batch import run_job
    w = tw.build(tmp_path / "a")
    w.write_config(tw.CONFIG)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[defaults]\nmap = false\nreport = false\n' + JOB)
    job = load_jobs(jobs)[0]
    assert run_job(job).status == "done"
    assert run_job(job).status == "up to date"
    return w, job


def _redo_error(job) -> str:
    from sitescreen.run.batch import run_job
    res = run_job(job)
    assert res.status == "failed"
    return res.error


def test_a_changed_input_is_named_with_its_hashes(done_job):
    from sitescreen.outputs.staging import sha256
    w, job = done_job
    before = json.loads((job.out / "manifest.json").read_text())["sites"]["sha256"]
    rows = tw.deposit_rows()
    rows[0]["site_name"] = "Alpha Prospect (synthetiC)"
    tw.write_csv(w.sites, rows)
    assert _redo_error(job) == (
        f"{job.out}: holds an earlier run that is not up to date ({w.sites}: sites file has changed since the run "
        f"(sha256 {before[:12]}… in the manifest, {sha256(w.sites)[:12]}… now)); pass --overwrite to replace it")


def test_a_changed_config_names_the_key_and_both_values(done_job):
    w, job = done_job
    w.config.write_text(tw.CONFIG.replace("radius_m = 1000", "radius_m = 1200"))
    assert _redo_error(job) == (f"{job.out}: holds an earlier run that is not up to date (the run config changed: "
                                f"site_options.radius_m was 1000.0, now 1200.0); pass --overwrite to replace it")


def test_another_version_and_a_missing_output_are_named(done_job, monkeypatch):
    import sitescreen
    w, job = done_job
    monkeypatch.setattr(sitescreen, "__version__", "99.0")
    recorded = json.loads((job.out / "manifest.json").read_text())["tool"]["version"]
    assert _redo_error(job) == (f"{job.out}: holds an earlier run that is not up to date (it was made by sitescreen "
                                f"{recorded}, this is sitescreen 99.0); pass --overwrite to replace it")
    monkeypatch.undo()
    (job.out / "sites.csv").unlink()
    (job.out / "sites.gpkg").unlink()
    assert _redo_error(job) == (f"{job.out}: holds an earlier run that is not up to date (sites.gpkg is missing "
                                f"(and 1 more)); pass --overwrite to replace it")


# ---------------------------------------------------------------------------------------------
# screen's progress: sites counted against their number, known before the first is measured


class _Tty:
    """A terminal for the progress bar: its text is kept."""

    def __init__(self):
        import io
        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, text):
        return self.buf.write(text)

    def flush(self):
        pass


def _recorded_run(tmp_path, profile_text=None, chunk_size=2):
    """The progress calls of a real screening of the tiny world (4 sites) through the CLI's bar."""
    from sitescreen.cli.options import Progress
    from sitescreen.run.config import load_config
    from sitescreen.run.stream import screen_to_folder
    w = tw.build(tmp_path / "w")
    text = tw.CONFIG
    if profile_text is not None:
        (w.root / "p.toml").write_text(profile_text)
        text = text.replace('profile = "federal-safeguards"', 'profile = "p.toml"')
    tty = _Tty()
    bar = Progress(True, file=tty)
    calls, totals = [], []

    def progress(*args):
        calls.append(args)
        bar(*args)
        totals.append(bar.bar.total)

    manifest = screen_to_folder(load_config(w.write_config(text)), w.out, chunk_size=chunk_size, progress=progress)
    bar.close()
    return calls, totals, manifest.sites.sites, tty.buf.getvalue()


def test_screen_progress_counts_sites_against_a_fixed_total(tmp_path):
    """The issue: the total jumped from 7 to 21 "stages" and the rate read "stage/s". The default
    profile counts sites per watershed across the run: a measuring pass, then the screening pass."""
    calls, totals, n, text = _recorded_run(tmp_path)
    assert n == len(tw.deposit_rows()) == 4
    assert calls == [("profile",), ("sites",), ("layers",),
                     ("measure", 0, n), ("measure", 2, n), ("measure", 4, n),
                     ("screen", 0, n), ("screen", 2, n), ("screen", 4, n), ("write",)]
    assert totals == [None, None, None] + [n] * 7
    assert f"{n}/{n}" in text and "site/s" in text
    assert "stage" not in text


def test_a_profile_without_run_wide_counts_screens_in_one_pass(tmp_path):
    from pathlib import Path
    text = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()
    start = text.index("[criteria.watershed_pressure]")
    end = text.index("[criteria.", start + 1)
    text = text[:start] + text[end:]
    assert text.count("weight = 0.35\n") == 1  # the removed weight (0.2) goes to protected_setback
    calls, totals, n, _ = _recorded_run(tmp_path, text.replace("weight = 0.35\n", "weight = 0.55\n"), chunk_size=3)
    assert calls == [("profile",), ("sites",), ("layers",), ("screen", 0, n), ("screen", 3, n), ("screen", n, n),
                     ("write",)]
    assert totals[3:] == [n] * 4


def test_progress_is_silent_when_quiet_or_not_a_terminal():
    import io

    from sitescreen.cli.options import Progress
    for p in (Progress(False, file=_Tty()), Progress(True, file=io.StringIO())):
        assert p.bar is None
        p("screen", 1, 4)
        p.close()


# ---------------------------------------------------------------------------------------------
# batch: which jobs run, and how far each is


@pytest.fixture()
def two_jobs(tmp_path):
    for name in ("a", "b"):
        tw.build(tmp_path / name).write_config(tw.CONFIG)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[defaults]\nmap = false\nreport = false\n' + JOB + JOB.replace('"a', '"b').replace("out/a", "out/b"))
    return jobs


def _screen_steps(n: int) -> list[tuple]:
    """The steps of one screening of the tiny world (default profile: a measuring pass first), one chunk."""
    return [("start", None, None), ("profile", None, None), ("sites", None, None), ("layers", None, None),
            ("measure", 0, n), ("measure", n, n), ("screen", 0, n), ("screen", n, n), ("write", None, None)]


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_reports_every_jobs_steps_from_its_process(two_jobs, workers):
    from sitescreen.run.batch import run_batch
    events = []
    results = run_batch(load_jobs(two_jobs), workers=workers, on_event=events.append)
    assert [r.status for r in results] == ["done", "done"]
    n = results[0].sites
    assert n == len(tw.deposit_rows())
    for name in ("a", "b"):
        assert [(e.stage, e.done, e.total) for e in events if e.name == name] == _screen_steps(n)


def _replay(lines: list[str]) -> None:
    """Each line names the jobs running at that moment: replayed from the lines themselves."""
    import re
    running: list[str] = []
    for line in lines:
        start = re.fullmatch(r"\[start\] (\w+) \(running: ([\w, ]+)\)", line)
        if start:
            running.append(start.group(1))
            assert start.group(2).split(", ") == running, line
            continue
        end = re.fullmatch(r"\[(\d)/2\] (\w+): done \(4 sites, \d+\.\d s\)(?:; running: ([\w, ]+))?", line)
        assert end, line
        running.remove(end.group(2))
        assert (end.group(3).split(", ") if end.group(3) else []) == running, line
    assert running == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_batch_prints_a_line_as_each_job_starts_and_ends(two_jobs, workers):
    """The issue: `batch` showed nothing while a job ran. Not a terminal: a line per job start
    (with the jobs running) and end (with its sites and time)."""
    r = run_cli(["batch", str(two_jobs), "--jobs", workers])
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 4
    assert sorted(ln.split()[1] for ln in lines if ln.startswith("[start]")) == ["a", "b"]
    assert [ln.split()[0] for ln in lines if not ln.startswith("[start]")] == ["[1/2]", "[2/2]"]
    _replay(lines)
    if workers == "1":
        assert [ln.split(" (")[0] for ln in lines] == ["[start] a", "[1/2] a: done", "[start] b", "[2/2] b: done"]
    assert run_cli(["-q", "batch", str(two_jobs), "--jobs", workers]).stderr == ""
    assert run_cli(["batch", str(two_jobs), "--jobs", workers, "-q"]).stderr == ""


def test_batch_on_a_terminal_shows_a_bar_per_running_job():
    from sitescreen.cli.batch import JobsProgress
    from sitescreen.run.batch import JobEvent, JobResult
    tty = _Tty()
    shown = JobsProgress(2, enabled=True, file=tty)
    shown.event(JobEvent("a", "start"))
    shown.event(JobEvent("b", "start"))
    assert list(shown.running) == ["a", "b"]
    shown.event(JobEvent("a", "screen", 0, 4))
    shown.event(JobEvent("a", "screen", 4, 4))
    shown.event(JobEvent("b", "measure", 3, 7))
    assert (shown.running["a"].bar.n, shown.running["a"].bar.total) == (4, 4)
    assert (shown.running["b"].bar.n, shown.running["b"].bar.total) == (3, 7)
    shown.done(JobResult("a", "done", "out/a", sites=4, seconds=1.25))
    assert list(shown.running) == ["b"]
    shown.close()
    text = tty.buf.getvalue()
    assert "a: screen" in text and "b: measure" in text and "4/4" in text and "3/7" in text
    assert "[1/2] a: done (4 sites, 1.2 s); running: b\n" in text


# ---------------------------------------------------------------------------------------------
# After a kill: no "leaked semaphore objects" warning (the resource tracker writes to the killed
# run's stderr once it sees the run gone), and no scratch folder left once a next run has started


def _killed_stderr(args: list[str], tmpdir, env_extra=None) -> str:
    """Run ``sitescreen ARGS`` until its raster side process and the resource tracker run, SIGKILL
    it, and return everything written to its stderr until the last process holding it ends."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import psutil
    exe = str(Path(sys.executable).with_name("sitescreen"))
    env = {**os.environ, "SITESCREEN_SIDE_PROCESS_MIN_SITES": "1", "TMPDIR": str(tmpdir), **(env_extra or {})}
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root, t0 = psutil.Process(proc.pid), time.monotonic()
    try:
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            try:
                lines = [" ".join(p.cmdline()) for p in root.children(recursive=True)]
            except psutil.Error:
                lines = []
            if any("resource_tracker" in c for c in lines) and sum("multiprocessing" in c for c in lines) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.5)  # inside the side process's work
        proc.send_signal(signal.SIGKILL)
        return proc.stderr.read()  # EOF: every process that inherited it has ended
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stderr.close()


@pytest.mark.slow
def test_a_killed_screen_prints_no_leaked_semaphore_warning_and_leaves_no_scratch(demo_dir, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    args = ["screen", "--config", str(demo_dir / "sitescreen.toml"), "--no-map", "--no-report"]
    stderr = _killed_stderr([*args, "--out", str(tmp_path / "out")], tmpdir)
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    exe = str(Path(sys.executable).with_name("sitescreen"))
    again = subprocess.run([exe, *args, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=180,
                           env={**os.environ, "SITESCREEN_SIDE_PROCESS_MIN_SITES": "1", "TMPDIR": str(tmpdir)})
    assert again.returncode == 0, again.stderr
    assert "leaked" not in again.stderr
    assert sorted(p.name for p in tmpdir.iterdir()) == []


@pytest.mark.slow
def test_a_killed_batch_prints_no_leaked_semaphore_warning(demo_dir, tmp_path):
    cfg = demo_dir / "sitescreen.toml"
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(f'[defaults]\nmap = false\nreport = false\n'
                    f'[[jobs]]\nname = "a"\nconfig = "{cfg}"\nout = "out/a"\n'
                    f'[[jobs]]\nname = "b"\nconfig = "{cfg}"\nout = "out/b"\n', encoding="utf-8")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    stderr = _killed_stderr(["batch", str(jobs), "--jobs", "2"], tmpdir)
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr


def test_scratch_folders_of_gone_processes_are_removed_and_no_other(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    import tempfile

    from sitescreen import children
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(dead.stdout)
    stale = tmp_path / f"sitescreen-rasters-pid{gone}-abc123"
    stale.mkdir()
    (stale / "derived.tif").write_bytes(b"x")
    alive = tmp_path / f"sitescreen-rasters-pid{os.getppid()}-def456"  # a live process (not this one)
    alive.mkdir()
    foreign = [tmp_path / f"sitescreen-{gone}", tmp_path / f"sitescreen-bench-pid{gone}", tmp_path / "notes"]
    for f in foreign:
        f.mkdir()
    with children.scratch_dir("verify") as mine:
        assert mine.name.startswith(f"sitescreen-verify-pid{os.getpid()}-")
        assert children.clean_stale_scratch() == []  # its own folder is locked and its pid alive
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted([alive.name, mine.name] + [f.name for f in foreign])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name] + [f.name for f in foreign])
