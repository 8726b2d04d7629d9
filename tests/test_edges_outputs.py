"""Issue 9, the output edges: classes 1 (never delete or overwrite what the run did not make),
8 (``verify`` covers every output and every recorded fact) and the write-error half of 10 (every
write failure is one ``Error:`` naming the output folder, never the staging folder).

The catalogue runs each bad case through the CLI (:func:`edgecases.run_case`: exit code, one-line
message naming the file and what is allowed, no traceback, nothing left in or next to the output
folder). Cases that must succeed, ``verify`` after each kind of edit, two runs on one output and
the properties of the guard are ordinary tests below.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinyworld as tw
from edgecases import Catalogue, assert_error, run_case, run_cli
from sitescreen.outputs import staging
from sitescreen.errors import OutputError
from sitescreen.outputs.staging import PARTIAL_PREFIX, guard_replace, staged_dir

CASES = Catalogue()
case = CASES.case
STAGING = PARTIAL_PREFIX  # never named in a message: the user knows the output folder only


def _partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(PARTIAL_PREFIX)) if folder.is_dir() else []


def _screened(w, *extra: str) -> None:
    """A finished run of the tiny world into w.out (map and report too when ``extra`` asks)."""
    args = [a for a in w.args() if a not in ("--no-map", "--no-report")] if "--html" in extra else w.args()
    r = run_cli([*args, *[e for e in extra if e != "--html"]])
    assert r.exit_code == 0, r.output


# ---------------------------------------------------------------------------------------------
# Class 1: --overwrite replaces only an earlier sitescreen output (or an empty folder) that holds
# no file of the run, never the current directory or a root; batch outputs resolved and distinct.


@case("overwrite-the-current-directory", "is the current directory", "new folder")
def _(w, monkeypatch, **_):
    """The issue: `screen … --out "$PWD" --overwrite` from a project folder deleted its data/ and notes."""
    (w.root / "data").mkdir()
    (w.root / "data" / "field-notes.txt").write_text("samples 1-40 (synthetic)")
    (w.root / "notes.md").write_text("project notes")
    monkeypatch.chdir(w.root)
    w.out = w.root
    w.extra.append("--overwrite")


@case("batch-out-dot-deletes-the-jobs-file", "jobs.toml", "job 'here'", "holds", "which the run reads")
def _(w, **_):
    """The issue: batch `out = "."` with --overwrite deleted jobs.toml, the run config and the sites."""
    w.write_config(tw.CONFIG)
    jobs = w.root / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "here"\nconfig = "run.toml"\nout = "."\n')
    w.out = w.root
    w.command = ["batch", str(jobs), "--overwrite"]


@case("batch-two-jobs-one-folder", "jobs 'a' and 'b'", "same output folder", "out/../out/x", "each job needs its own")
def _(w, **_):
    """The issue: jobs `out/x` and `out/../out/x` both wrote one folder and both reported done."""
    w.write_config(tw.CONFIG)
    jobs = w.root / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nconfig = "run.toml"\nout = "out/x"\n'
                    '[[jobs]]\nname = "b"\nconfig = "run.toml"\nout = "out/../out/x"\n')
    w.out = w.root / "out" / "x"
    w.command = ["batch", str(jobs)]


@case("overwrite-a-folder-holding-the-sites-file", "proj", "data/deposits.csv", "which the run reads")
def _(w, **_):
    proj = w.root / "proj"
    (proj / "data").mkdir(parents=True)
    w.sites = Path(shutil.move(w.sites, proj / "data" / "deposits.csv"))
    w.out = proj
    w.extra.append("--overwrite")


@case("overwrite-a-symlink-to-the-inputs-folder", "outlink", "holds", "deposits.csv", "which the run reads")
def _(w, **_):
    w.out = w.root.parent / "outlink"
    w.out.symlink_to(w.root, target_is_directory=True)
    w.extra.append("--overwrite")


@case("overwrite-an-ancestor-of-the-current-directory", "is the current directory or holds it")
def _(w, monkeypatch, **_):
    (w.root / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(w.root / "a" / "b")
    w.out = w.root / "a"
    w.extra.append("--overwrite")


@case("overwrite-the-current-directory-spelt-relative", "../sub", "is the current directory")
def _(w, monkeypatch, **_):
    (w.root / "sub").mkdir()  # empty: replacing it would still pull the directory from under the shell
    monkeypatch.chdir(w.root / "sub")
    w.out = Path("../sub")


@case("overwrite-a-folder-that-is-not-a-sitescreen-output", "thesis", "not an earlier sitescreen output",
      "or an empty one")
def _(w, **_):
    w.out = w.root / "thesis"
    w.out.mkdir()
    (w.out / "chapter1.docx").write_text("draft")
    w.extra.append("--overwrite")


@case("overwrite-a-folder-with-another-tools-manifest", "not an earlier sitescreen output")
def _(w, **_):
    w.out.mkdir()
    (w.out / "manifest.json").write_text(json.dumps({"tool": {"name": "othertool"}}))
    (w.out / "sites.csv").write_text("id\n1\n")
    w.extra.append("--overwrite")


@case("overwrite-an-earlier-output-holding-user-notes", "holds notes.txt", "which sitescreen did not write",
      "sites.gpkg, sites.parquet")
def _(w, **_):
    _screened(w)
    (w.out / "notes.txt").write_text("reviewer notes on the run")
    w.extra.append("--overwrite")


@case("overwrite-an-earlier-output-holding-the-config", "holds", "out/run.toml", "config")
def _(w, **_):
    _screened(w)
    text = tw.CONFIG.replace('"deposits.csv"', f'"{w.sites}"').replace('"protected.geojson"', f'"{w.protected}"')
    w.write_config(text.replace('"federal.gpkg"', f'"{w.federal}"'), name="out/run.toml")
    w.extra.append("--overwrite")


@case("overwrite-an-earlier-output-holding-the-profile", "holds", "my-profile.toml", "profile")
def _(w, **_):
    from sitescreen.rules.profile import builtin_profiles
    _screened(w)
    shutil.copy(builtin_profiles()["federal-safeguards"], w.out / "my-profile.toml")
    w.extra += ["--profile", str(w.out / "my-profile.toml"), "--overwrite"]


@case("batch-nested-job-outputs", "job 'b'", "inside the output folder", "job 'a'")
def _(w, **_):
    w.write_config(tw.CONFIG)
    jobs = w.root / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nconfig = "run.toml"\nout = "res"\n'
                    '[[jobs]]\nname = "b"\nconfig = "run.toml"\nout = "res/b"\n')
    w.out = w.root / "res"
    w.command = ["batch", str(jobs), "--overwrite"]


@case("batch-job-output-holds-another-jobs-config", "job 'a'", "cfg", "holds", "run.toml")
def _(w, **_):
    w.write_config(tw.CONFIG)
    (w.root / "cfg").mkdir()
    text = tw.CONFIG.replace('"deposits.csv"', '"../deposits.csv"').replace('"protected.geojson"', '"../protected.geojson"')
    (w.root / "cfg" / "run.toml").write_text(text.replace('"federal.gpkg"', '"../federal.gpkg"'))
    jobs = w.root / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nconfig = "run.toml"\nout = "cfg"\n'
                    '[[jobs]]\nname = "b"\nconfig = "cfg/run.toml"\nout = "out"\n')
    w.out = w.root / "cfg"
    w.command = ["batch", str(jobs), "--overwrite"]


@case("map-overwrite-an-input-file", "deposits.csv", "a file of the run", "only an earlier sitescreen map or report")
def _(w, **_):
    _screened(w)
    w.command = ["map", str(w.out), "-o", str(w.sites), "--overwrite"]


@case("report-overwrite-the-runs-csv", "sites.csv", "a file of the run")
def _(w, **_):
    _screened(w)
    w.command = ["report", str(w.out), "-o", str(w.out / "sites.csv"), "--overwrite"]


@case("map-overwrite-a-users-html-file", "notes.html", "not a map or report written by sitescreen")
def _(w, **_):
    _screened(w)
    (w.root / "notes.html").write_text("<html><body>my notes</body></html>")
    w.command = ["map", str(w.out), "-o", str(w.root / "notes.html"), "--overwrite"]


@case("demo-output-holds-its-data-folder", "proj", "holds", "data", "which the run reads")
def _(w, **_):
    w.out = w.root / "proj"
    w.out.mkdir()
    w.command = ["demo", "--out", str(w.out), "--data", str(w.out / "data"), "--overwrite", "--no-map", "--no-report"]


# ---------------------------------------------------------------------------------------------
# Class 8: verify's own errors (its differences are tested below)


@case("verify-manifest-not-json", "manifest.json", "not valid JSON")
def _(w, **_):
    _screened(w)
    (w.out / "manifest.json").write_text('{"tool": ')
    w.command = ["verify", str(w.out)]


@case("verify-a-folder-that-is-not-a-run", "empty", "not a sitescreen output folder", "sites.parquet")
def _(w, **_):
    w.out = w.root / "empty"
    w.out.mkdir()
    w.command = ["verify", str(w.out)]


@case("verify-manifest-without-its-run", "manifest.json", "no 'run' section", "run the screening again")
def _(w, **_):
    _screened(w)
    m = json.loads((w.out / "manifest.json").read_text())
    del m["run"]
    (w.out / "manifest.json").write_text(json.dumps(m))
    w.command = ["verify", str(w.out)]


@case("verify-parquet-truncated", "sites.parquet", "cannot read")
def _(w, **_):
    _screened(w)
    data = (w.out / "sites.parquet").read_bytes()
    (w.out / "sites.parquet").write_bytes(data[: len(data) // 2])
    w.command = ["verify", str(w.out)]


# ---------------------------------------------------------------------------------------------
# Class 10 (writing): every failure while writing is one Error naming the output folder


@case("disk-full-while-writing-geopackage-features", "/out:", "no space left", "nothing was written")
def _(w, monkeypatch, **_):
    """The issue: a full disk during GeoPackage writing gave a pyogrio traceback."""
    import pyogrio

    def full(*a, **k):  # as GDAL's GeoPackage driver reports it when a feature cannot be added
        raise pyogrio.errors.FeatureError("Could not add feature to layer at index 3: "
                                          "sqlite3_step() failed: database or disk is full")
    monkeypatch.setattr(pyogrio, "write_dataframe", full)


@case("disk-full-while-storing-the-qgis-style", "/out:", "no space left", "nothing was written")
def _(w, monkeypatch, **_):
    import sitescreen.outputs.qgis

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(sitescreen.outputs.qgis, "write_qgis_style", full)


@case("geopackage-layer-io-error", "/out:", "cannot write results", "disk I/O error", "nothing was written")
def _(w, monkeypatch, **_):
    import pyogrio

    def broken(*a, **k):
        raise pyogrio.errors.DataLayerError("sqlite3_step() failed: disk I/O error")
    monkeypatch.setattr(pyogrio, "write_dataframe", broken)


@case("quota-exceeded-writing-the-csv", "/out:", "no space left", "nothing was written")
def _(w, monkeypatch, **_):
    import pyarrow.csv as pc

    class QuotaWriter:  # pyarrow's CSVWriter is immutable: a stand-in that fails like it on a full quota
        def __init__(self, *a, **k):
            pass

        def write_table(self, *a, **k):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")

        def close(self):
            pass
    monkeypatch.setattr(pc, "CSVWriter", QuotaWriter)


@case("read-only-device-writing-the-map", "/out/map.html:", "cannot write results", "Read-only file system")
def _(w, monkeypatch, **_):
    real = tempfile.mkstemp

    def read_only(*a, prefix=None, dir=None, **k):
        if prefix and prefix.startswith(".map.html"):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*a, prefix=prefix, dir=dir, **k)
    monkeypatch.setattr(staging.tempfile, "mkstemp", read_only)
    w.command = [a for a in w.args() if a != "--no-map"]


@case("arrow-fails-writing-the-parquet", "/out:", "cannot write results", "column mismatch", "nothing was written")
def _(w, monkeypatch, **_):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def fails(*a, **k):
        raise pa.ArrowInvalid("column mismatch in row group")
    monkeypatch.setattr(pq.ParquetWriter, "write_table", fails)


@case("final-move-not-permitted", "/out:", "cannot write results", "Permission denied", "nothing was written")
def _(w, monkeypatch, **_):
    def denied(tmp, real):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp))
    monkeypatch.setattr(staging, "_swap", denied)


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_output_edge(name, tmp_path, monkeypatch, request):
    msg = run_case(CASES, name, tmp_path, monkeypatch, request)
    assert STAGING not in msg, msg


WRITE_ERRORS = {"disk-full-while-writing-geopackage-features", "disk-full-while-storing-the-qgis-style",
                "geopackage-layer-io-error", "quota-exceeded-writing-the-csv", "read-only-device-writing-the-map",
                "arrow-fails-writing-the-parquet", "final-move-not-permitted"}


def test_catalogue_covers_each_class():
    """Each class: the issue's examples and at least four more."""
    names = set(CASES)
    replace = {n for n in names if n.startswith(("overwrite-", "batch-", "map-", "report-", "demo-"))}
    assert len(replace) >= 3 + 4
    assert len({n for n in names if n.startswith("verify-")}) >= 4
    assert WRITE_ERRORS <= names and len(WRITE_ERRORS) >= 1 + 4


# ---------------------------------------------------------------------------------------------
# Class 1, what must succeed: a symlinked --out, replacing an earlier output, two runs on one output


def test_symlinked_out_replaces_its_target_and_leaves_no_old_entry(tmp_path):
    """The issue: `--out` as a symlink left a `.sitescreen-partial-…-old-PID` link behind."""
    w = tw.build(tmp_path / "w")
    target = tmp_path / "store" / "results"
    target.parent.mkdir()
    w.out = target
    _screened(w)
    first = json.loads((target / "manifest.json").read_text())["created"]
    link = tmp_path / "w" / "latest"
    link.symlink_to(target, target_is_directory=True)
    w.out = link
    time.sleep(1.1)  # "created" has a resolution of one second
    _screened(w, "--overwrite")
    assert link.is_symlink() and Path(os.readlink(link)) == target
    assert json.loads((target / "manifest.json").read_text())["created"] != first
    assert _partials(link.parent) == [] and _partials(target.parent) == []
    assert run_cli(["verify", str(link)]).exit_code == 0


def test_overwrite_replaces_an_earlier_output(tmp_path):
    w = tw.build(tmp_path / "w")
    _screened(w, "--html")
    names = sorted(p.name for p in w.out.iterdir())
    _screened(w, "--overwrite")  # no map, no report this time: the earlier ones go with the folder
    assert names == sorted(staging.RESULT_FILES + ("map.html", "report.html"))  # sensitivity files come later, by request
    assert sorted(p.name for p in w.out.iterdir()) == sorted(staging.RESULT_FILES)
    assert _partials(w.root) == []


def test_a_second_run_stops_and_leaves_the_first_runs_staging_folder(tmp_path):
    """The issue: a second `screen` on the same --out removed a first, still-running run's staging
    folder, and the first then failed."""
    w = tw.build(tmp_path / "w")
    with staged_dir(w.out, overwrite=False) as tmp:
        r = run_cli(w.args())
        assert_error(r, [str(w.out), f"is being written by another sitescreen run (pid {os.getpid()})",
                         "wait for it to finish"], 1)
        assert tmp.is_dir()
        (tmp / "sites.csv").write_text("site_id\nS1\n")
    assert (w.out / "sites.csv").read_text() == "site_id\nS1\n"  # the first run completed
    assert _partials(w.root) == []


_HOLDER = """
import sys, time
from pathlib import Path
from sitescreen.outputs.staging import staged_dir
with staged_dir(Path(sys.argv[1]), overwrite=False) as tmp:
    print(tmp, flush=True)
    time.sleep(60)
"""


def test_a_staging_folder_is_removed_only_when_its_owner_is_gone(tmp_path):
    w = tw.build(tmp_path / "w")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(w.out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        tmp = Path(proc.stdout.readline().strip())
        assert tmp.is_dir()
        r = run_cli(w.args())
        assert_error(r, [f"is being written by another sitescreen run (pid {proc.pid})"], 1)
        assert staging.clean_stale(w.out) == [] and tmp.is_dir()
        os.kill(proc.pid, signal.SIGKILL)  # the owner is gone: its lock goes with it
        proc.wait(timeout=30)
        _screened(w)
        assert not tmp.exists() and _partials(w.root) == []
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_batch_job_outputs_are_compared_resolved(tmp_path):
    from sitescreen.run.batch import JobsFileError, load_jobs
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nconfig = "a.toml"\nout = "real/x"\n'
                    '[[jobs]]\nname = "b"\nconfig = "b.toml"\nout = "alias/x"\n')
    with pytest.raises(JobsFileError, match=r"jobs 'a' and 'b' have the same output folder .*real/x"):
        load_jobs(jobs)


def test_guard_refuses_a_filesystem_root():
    with pytest.raises(OutputError, match="is the root of a filesystem"):
        guard_replace(Path("/"))


# ---------------------------------------------------------------------------------------------
# Class 8: verify fails, naming the file, after an edit to each output and to the recorded paths


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple[tw.World, Path]:
    """A finished run of the tiny world with map and report; site 1002 is in the wilderness."""
    w = tw.build(tmp_path_factory.mktemp("verify") / "w")
    tw.write_vector(tw.wilderness_frame([shapely.box(-114.45, 44.5, -114.35, 44.6)]), w.protected)
    _screened(w, "--html")
    return w, w.out


def _copy(run_folder, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(run_folder[1], out)
    return out


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x20
    path.write_bytes(bytes(raw))


def _edit_manifest(out: Path, fn) -> None:
    m = json.loads((out / "manifest.json").read_text())
    fn(m)
    (out / "manifest.json").write_text(json.dumps(m, indent=2))


def _differences(out: Path) -> list[str]:
    r = run_cli(["verify", str(out)])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert r.output.rstrip().splitlines()[-1].startswith(f"FAILED: {out} does not reproduce")
    return [ln[len("DIFFERENT "):] for ln in r.output.splitlines() if ln.startswith("DIFFERENT ")]


def test_verify_passes_on_the_run_with_every_output_checked(run_folder):
    w, out = run_folder
    r = run_cli(["verify", str(out)])
    assert r.exit_code == 0, r.output
    recorded = json.loads((out / "manifest.json").read_text())["outputs"]
    assert sorted(recorded) == sorted(set(staging.OUTPUT_FILES) - {"manifest.json"} - set(staging.SENSITIVITY_FILES)
                                      - set(staging.OPTIONAL_RESULT_FILES))  # merges.csv: only when records merged
    for name, entry in recorded.items():  # the recorded hashes are the files' (hashlib, independently)
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert "6 output files checked" in r.output  # gpkg, parquet, csv, csvt, map, report


def test_verify_names_an_excluded_site_turned_favorable_in_the_geopackage(run_folder, tmp_path):
    """The issue: editing sites.gpkg (an excluded site turned favorable/95) passed verify."""
    out = _copy(run_folder, tmp_path)
    saved = gpd.read_parquet(out / "sites.parquet")
    site = saved.loc[saved["verdict"] == "excluded", "site_id"].iloc[0]
    import pyogrio
    gpkg = pyogrio.read_dataframe(out / "sites.gpkg", layer="sites")
    gpkg.loc[gpkg["site_id"] == site, ["verdict", "score"]] = ["favorable", 95.0]
    pyogrio.write_dataframe(gpkg, out / "sites.gpkg", layer="sites", driver="GPKG")
    diffs = _differences(out)
    gpkg = out / "sites.gpkg"
    assert diffs[0].startswith(f"{gpkg}: changed since the run (sha256 ")
    assert f"{gpkg}: site {site}, column 'verdict': 'favorable' saved, 'excluded' re-run" in diffs
    assert f"{gpkg}: site {site}, column 'score': 95.0 saved, 0.0 re-run" in diffs


def _edit_parquet(out: Path) -> None:
    sites = gpd.read_parquet(out / "sites.parquet")
    sites.loc[0, "score"] = float(sites.loc[0, "score"]) + 1.0
    sites.to_parquet(out / "sites.parquet", index=False)


EDITS = {
    "sites.parquet": _edit_parquet,
    "sites.csv": lambda out: (out / "sites.csv").write_text((out / "sites.csv").read_text().replace('"1001"', '"1009"', 1)),
    "map.html": lambda out: _flip_byte(out / "map.html"),
    "report.html": lambda out: _flip_byte(out / "report.html"),
    "sites.gpkg": lambda out: _flip_byte(out / "sites.gpkg"),  # any byte, not only a site's values
    "sites.csvt": lambda out: (out / "sites.csvt").write_text((out / "sites.csvt").read_text().replace('"Real"', '"String"', 1)),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_verify_names_each_edited_output_file(run_folder, tmp_path, name):
    """The issue: one byte of map.html or report.html passed verify."""
    out = _copy(run_folder, tmp_path)
    EDITS[name](out)
    diffs = _differences(out)
    assert any(d.startswith(f"{out / name}: changed since the run (sha256 ") for d in diffs), diffs


def _set_input_path(m):
    m["inputs"][0]["path"] = "/somewhere/else/protected.geojson"


def _set_sites_path(m):
    m["sites"]["path"] = "other/deposits.csv"


MANIFEST_EDITS = {
    "input-path": (_set_input_path, "manifest.json: inputs[0].path: '/somewhere/else/protected.geojson' recorded, but the run read"),
    "sites-path": (_set_sites_path, "manifest.json: sites.path: 'other/deposits.csv' recorded, but the run read"),
    "config-path": (lambda m: m.update(config="/tmp/run.toml"), "manifest.json: config: '/tmp/run.toml' recorded"),
    "output-unrecorded": (lambda m: m["outputs"].pop("map.html"), "map.html: is not an output of the run"),
    "outputs-removed": (lambda m: m.pop("outputs"), "manifest.json: records no SHA-256 of the output files"),
    "output-hash": (lambda m: m["outputs"]["sites.csv"].update(sha256="0" * 64), "sites.csv: changed since the run"),
}


@pytest.mark.parametrize("name", list(MANIFEST_EDITS))
def test_verify_names_each_edited_manifest_record(run_folder, tmp_path, name):
    """The issue: editing the manifest's recorded input paths passed verify."""
    out = _copy(run_folder, tmp_path)
    fn, expect = MANIFEST_EDITS[name]
    _edit_manifest(out, fn)
    diffs = _differences(out)
    assert any(expect in d for d in diffs), diffs


def test_verify_names_a_missing_output(run_folder, tmp_path):
    out = _copy(run_folder, tmp_path)
    (out / "report.html").unlink()
    assert _differences(out) == [f"{out / 'report.html'}: is missing (an output of the run)"]


def test_map_and_report_rebuilt_in_the_run_folder_keep_verify_passing(run_folder, tmp_path):
    out = _copy(run_folder, tmp_path)
    before = json.loads((out / "manifest.json").read_text())["outputs"]
    for cmd in ("map", "report"):
        r = run_cli([cmd, str(out), "--overwrite"] + (["--offline"] if cmd == "map" else []))
        assert r.exit_code == 0, r.output
    after = json.loads((out / "manifest.json").read_text())["outputs"]
    assert sorted(after) == sorted(before)
    for name, entry in after.items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest(), name
    assert after["map.html"] != before["map.html"]  # an offline map is another file
    r = run_cli(["verify", str(out)])
    assert r.exit_code == 0, r.output
    assert _partials(out) == [] and not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_map_written_elsewhere_is_not_the_runs_output(run_folder, tmp_path):
    out = _copy(run_folder, tmp_path)
    manifest = (out / "manifest.json").read_bytes()
    r = run_cli(["map", str(out), "-o", str(tmp_path / "region.html")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "region.html").is_file() and (out / "manifest.json").read_bytes() == manifest
    assert run_cli(["verify", str(out)]).exit_code == 0
    r = run_cli(["map", str(out), "-o", str(tmp_path / "region.html"), "--overwrite"])  # its own earlier map
    assert r.exit_code == 0, r.output


def test_a_map_rebuilt_into_a_run_without_one_is_recorded(tmp_path):
    w = tw.build(tmp_path / "w")
    _screened(w)
    assert run_cli(["map", str(w.out)]).exit_code == 0
    recorded = json.loads((w.out / "manifest.json").read_text())["outputs"]
    assert recorded["map.html"]["sha256"] == hashlib.sha256((w.out / "map.html").read_bytes()).hexdigest()
    assert run_cli(["verify", str(w.out)]).exit_code == 0


# ---------------------------------------------------------------------------------------------
# Property: --overwrite never removes a file that existed before the run outside an earlier
# sitescreen output, whatever the arrangement of folders (nested, equal, symlinked, relative).

DIRS = ["a", "a/b", "a/b/c", "d", "d/e"]


@st.composite
def arrangements(draw):
    outs = draw(st.sets(st.sampled_from(DIRS)))           # folders holding an earlier sitescreen output
    notes = draw(st.sets(st.sampled_from(DIRS)))          # folders holding a user's file
    inputs = draw(st.sets(st.sampled_from(DIRS)))         # folders holding an input of the run
    links = draw(st.dictionaries(st.sampled_from(["l1", "a/l2", "d/l3"]), st.sampled_from(DIRS + ["."]), max_size=2))
    cwd = draw(st.sampled_from(["."] + DIRS))
    base = draw(st.sampled_from(DIRS + ["l1", "a/l2", "d/l3", ".", "new", "a/new"]))
    spelling = draw(st.sampled_from(["absolute", "relative", "dotted"]))
    return outs, notes, inputs, links, cwd, base, spelling


def _lay_out(root: Path, outs, notes, inputs, links) -> tuple[list[Path], set[Path]]:
    for d in DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    for d in outs:
        (root / d / "manifest.json").write_text(json.dumps({"tool": {"name": "sitescreen"}}))
        (root / d / "sites.csv").write_text("site_id\n")
    for d in notes:
        (root / d / "notes.txt").write_text("mine")
    protected = []
    for d in inputs:
        protected.append(root / d / "deposits.csv")
        protected[-1].write_text("record_id\n")
    for name, target in links.items():
        if not (root / name).exists():
            (root / name).symlink_to((root / target).resolve(), target_is_directory=True)
    made = {p.resolve() for d in outs for p in (root / d / "manifest.json", root / d / "sites.csv")}
    return protected, made


def _spell(root: Path, cwd: Path, base: str, how: str) -> Path:
    if how == "absolute":
        return root / base
    rel = Path(os.path.relpath(root / base, cwd))
    return Path(os.path.relpath(root, cwd)) / "x" / ".." / base if how == "dotted" else rel


def _files(root: Path) -> set[Path]:
    """Every file, by its real location (a folder reached through a link once)."""
    return {Path(os.path.realpath(Path(d) / f)) for d, _, fs in os.walk(root) for f in fs}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrangements())
def test_overwrite_guard_never_lets_a_run_remove_a_file_it_did_not_make(monkeypatch, arrangement):
    outs, notes, inputs, links, cwd, base, how = arrangement
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as t:
        root = Path(t).resolve() / "r"
        protected, made = _lay_out(root, outs, notes, inputs, links)
        (root / "x").mkdir()
        monkeypatch.chdir(root / cwd)
        try:
            out = _spell(root, Path.cwd(), base, how)
            try:
                guard_replace(out, protected)
            except OutputError as exc:
                assert str(exc).startswith(f"{out}: ") and "\n" not in str(exc)
                return
            real = Path(os.path.realpath(out))
            removed = {f for f in _files(root) if real in f.parents}  # what replacing the folder takes with it
            assert removed <= made, f"{out} would remove {sorted(removed - made)}"
            assert real not in [Path.cwd(), *Path.cwd().parents]
            assert not any(real in p.resolve().parents for p in protected)
        finally:
            os.chdir(home)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["sites-folder", "cwd", "parent-of-cwd", "earlier-output", "earlier-output+notes",
                        "link-to-inputs", "link-to-earlier-output", "empty", "new"]),
       st.booleans())
def test_overwrite_through_the_cli_keeps_every_file_it_did_not_make(monkeypatch, where, relative):
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as t:
        w = tw.build(Path(t).resolve() / "w")
        (w.root / "work" / "sub").mkdir(parents=True)
        (w.root / "work" / "notes.md").write_text("notes")
        earlier = w.root / "earlier"
        w.out = earlier
        _screened(w)
        made = _files(earlier)
        if where == "earlier-output+notes":
            (earlier / "notes.txt").write_text("mine")
        (w.root / "empty").mkdir()
        (w.root / "l-in").symlink_to(w.root, target_is_directory=True)
        (w.root / "l-out").symlink_to(earlier, target_is_directory=True)
        target = {"sites-folder": w.root, "cwd": w.root / "work", "parent-of-cwd": w.root / "work",
                  "earlier-output": earlier, "earlier-output+notes": earlier, "link-to-inputs": w.root / "l-in",
                  "link-to-earlier-output": w.root / "l-out", "empty": w.root / "empty", "new": w.root / "new"}[where]
        monkeypatch.chdir(w.root / "work" / ("sub" if where == "parent-of-cwd" else ""))
        try:
            _overwrite_keeps_what_it_did_not_make(w, target, where, relative, made)
        finally:
            os.chdir(home)


def _overwrite_keeps_what_it_did_not_make(w, target: Path, where: str, relative: bool, made: set[Path]) -> None:
    """Run screen --overwrite on ``target``; every file it did not make stays as it was."""
    w.out = Path(os.path.relpath(target)) if relative else target
    before = {f: f.read_bytes() for f in _files(w.root)}
    r = run_cli([*w.args(), "--overwrite"])
    assert "Traceback" not in r.output
    after = _files(w.root)
    for f, data in before.items():
        if f not in made:
            assert f in after and f.read_bytes() == data, f"{f} was removed or changed ({where})"
    assert not [p for p in after if PARTIAL_PREFIX in str(p)]
    if r.exit_code == 0:
        assert where in ("earlier-output", "link-to-earlier-output", "empty", "new")
    else:
        assert_error(r, [], 1)
