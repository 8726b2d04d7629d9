"""`sitescreen verify DIR`: passes on a fresh run; fails, naming the file, when one input byte or
one result value changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner

from sitescreen.cli import main
from sitescreen.run.config import config_from_manifest, load_config
from sitescreen.review.verify import compare_frames, diff_json, verify
from sitescreen.record.manifest import read_record


def _screen(config: Path, out: Path) -> None:
    r = CliRunner().invoke(main, ["-q", "screen", "--config", str(config), "--out", str(out), "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def demo_run(demo_dir, tmp_path_factory) -> tuple[Path, Path]:
    """(a private copy of the demo data, a fresh run of it)."""
    root = tmp_path_factory.mktemp("verify")
    data = root / "data"
    shutil.copytree(demo_dir, data)
    _screen(data / "sitescreen.toml", root / "out")
    return data, root / "out"


def _verify(out: Path):
    return CliRunner().invoke(main, ["verify", str(out)])


def test_verify_passes_on_a_fresh_run(demo_run):
    _, out = demo_run
    r = _verify(out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("OK: ")
    assert "7 input files re-hashed" in r.output  # sites, 5 layers (a shapefile counts once), the profile
    assert "DIFFERENT" not in r.output


def test_manifest_records_the_run_as_data(demo_run, demo_dir):
    data, out = demo_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert config_from_manifest(read_record(manifest)) == load_config(data / "sitescreen.toml")
    assert manifest["run"]["sites"]["path"] == str((data / "deposits.csv").resolve())


def test_verify_fails_naming_the_input_when_one_byte_changes(demo_run, tmp_path):
    data0, out0 = demo_run
    data = tmp_path / "data"
    shutil.copytree(data0, data)
    out = tmp_path / "out"
    _screen(data / "sitescreen.toml", out)
    parks = data / "parks.geojson"
    raw = bytearray(parks.read_bytes())
    i = raw.index(b"(synthetic)")
    raw[i + 1] = ord("S")  # "(Synthetic)": one byte of one park name
    parks.write_bytes(bytes(raw))
    r = _verify(out)
    assert r.exit_code == 1, r.output
    assert f"DIFFERENT {parks}: protected layer file has changed since the run" in r.output
    assert r.output.rstrip().splitlines()[-1].startswith("FAILED: ")
    assert "Traceback" not in r.output


def test_verify_fails_naming_the_site_and_column_when_a_result_is_edited(demo_run, tmp_path):
    _, out0 = demo_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    sites = gpd.read_parquet(out / "sites.parquet")
    row = int(sites["score"].notna().to_numpy().argmax())
    site = sites.loc[row, "site_id"]
    original = float(sites.loc[row, "score"])
    sites.loc[row, "score"] = edited = original + 1.0
    sites.to_parquet(out / "sites.parquet", index=False)
    r = _verify(out)
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("DIFFERENT ")]
    assert len(lines) == 2 and lines[0].startswith(f"DIFFERENT {out / 'sites.parquet'}: changed since the run (sha256 ")
    assert lines[1] == (f"DIFFERENT {out / 'sites.parquet'}: site {site}, column 'score': "
                        f"{edited!r} saved, {original!r} re-run")


def test_verify_fails_when_the_csv_or_manifest_is_edited(demo_run, tmp_path):
    _, out0 = demo_run
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    csv = (out / "sites.csv").read_text().replace(',"favorable",', ',"FAVORABLE",', 1)
    assert "FAVORABLE" in csv
    (out / "sites.csv").write_text(csv)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["counts"]["excluded"] -= 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    r = _verify(out)
    assert r.exit_code == 1
    assert f"DIFFERENT {out / 'sites.csv'}: site " in r.output and "'FAVORABLE' saved, 'favorable' re-run" in r.output
    assert f"DIFFERENT {out / 'manifest.json'}: counts.excluded: " in r.output


def test_verify_reports_a_missing_input(demo_run, tmp_path):
    data0, _ = demo_run
    data = tmp_path / "data"
    shutil.copytree(data0, data)
    out = tmp_path / "out"
    _screen(data / "sitescreen.toml", out)
    (data / "dem.tif").unlink()
    report = verify(out)
    assert not report.ok
    assert [str(d) for d in report.differences] == [f"{data / 'dem.tif'}: dem layer file not found (it was an input of the run)"]


def test_verify_of_a_folder_that_is_not_a_run():
    r = CliRunner().invoke(main, ["verify", "/nonexistent/folder"])
    assert r.exit_code == 1
    assert r.output.startswith("Error: /nonexistent/folder: not a sitescreen output folder")


def test_compare_frames_tolerates_only_tiny_float_differences():
    import pandas as pd
    a = pd.DataFrame({"site_id": ["a", "b"], "score": [50.0, float("nan")], "verdict": ["review", None]})
    b = a.copy()
    b.loc[0, "score"] = 50.0 + 5e-10
    assert compare_frames(a, b, "f") == []
    b.loc[0, "score"] = 50.0 + 1e-8
    b.loc[1, "verdict"] = "review"
    assert [str(d) for d in compare_frames(a, b, "f")] == [
        "f: site a, column 'score': 50.0 saved, 50.00000001 re-run",
        "f: site b, column 'verdict': no value saved, 'review' re-run"]


def test_diff_json_ignores_times_and_paths_only():
    a = {"created": "x", "timings": {"t": 1}, "counts": {"review": 3}, "inputs": [{"path": "a", "repairs": 1}]}
    b = {"created": "y", "timings": {"t": 2}, "counts": {"review": 3}, "inputs": [{"path": "b", "repairs": 2}]}
    assert diff_json(a, b) == ["inputs[0].repairs: 1 saved, 2 re-run"]
