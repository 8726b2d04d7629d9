"""Safe by construction: configs and profiles are TOML data, never code; relative paths resolve
against the config file; a run writes nothing outside its output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import tinyworld as tw
from sitescreen.cli import main
from sitescreen.errors import ProfileError
from sitescreen.rules.profile import load_profile

PROFILE = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()
SITESCREEN = str(Path(sys.executable).parent / "sitescreen")


def _marker_code(marker: Path) -> str:
    return f"__import__('os').system('touch {marker}')"


@pytest.mark.parametrize("old, new, expect", [
    ("weight = 0.25", 'weight = "{code}"', "weight must be a number, got"),
    ("exclude = {{ above = 0 }}", 'exclude = {{ above = "{code}" }}', "expected a number, got"),
    ('transform = {{ kind = "linear", points = [[0.0, 0.0], [1.0, 1.0]] }}', 'transform = {{ kind = "{code}" }}',
     "unknown transform"),
    ('kind = "overlap"', 'kind = "{code}"', "unknown criterion kind"),
], ids=["weight", "exclusion", "transform", "kind"])
def test_code_in_a_profile_value_is_rejected_not_run(tmp_path, old, new, expect):
    marker = tmp_path / "PWNED"
    code = _marker_code(marker)
    text = PROFILE.replace(old.format(), new.format(code=code), 1)
    assert code in text
    p = tmp_path / "evil.toml"
    p.write_text(text)
    with pytest.raises(ProfileError, match=expect):
        load_profile(p)
    assert not marker.exists()


def test_code_in_a_profile_text_is_just_text(tmp_path):
    marker = tmp_path / "PWNED"
    code = _marker_code(marker)
    w = tw.build(tmp_path / "w")
    p = tmp_path / "texty.toml"
    p.write_text(PROFILE.replace('label = "Overlap with permanently protected land"', f'label = "{code}"')
                 .replace('safeguard = "No mining in permanently protected places"', 'safeguard = "{7*7} ${7*7} %(x)s"'))
    w.extra += ["--profile", str(p)]
    r = CliRunner().invoke(main, w.args())
    assert r.exit_code == 0, r.output
    manifest = json.loads((w.out / "manifest.json").read_text())
    crit = next(c for c in manifest["criteria"] if c["name"] == "protected_overlap")
    assert crit["label"] == code
    assert crit["safeguard"] == "{7*7} ${7*7} %(x)s"
    assert not marker.exists()


def test_a_python_file_is_not_a_profile_or_a_config(tmp_path):
    marker = tmp_path / "PWNED"
    py = tmp_path / "profile.toml"
    py.write_text(f"import os\nos.system('touch {marker}')\n")
    w = tw.build(tmp_path / "w")
    r = CliRunner().invoke(main, [*w.args(), "--profile", str(py)])
    assert r.exit_code == 1 and "not valid TOML" in r.stderr
    r = CliRunner().invoke(main, ["screen", "--config", str(py), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not valid TOML" in r.stderr
    assert not marker.exists()


def test_code_in_a_config_path_or_crs_is_a_value(tmp_path):
    marker = tmp_path / "PWNED"
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG.replace('path = "protected.geojson"', f'path = "{_marker_code(marker)}"'))
    r = CliRunner().invoke(main, w.args())
    assert r.exit_code == 1 and "file not found" in r.stderr
    w.write_config(tw.CONFIG.replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\ncrs = "{_marker_code(marker)}"'))
    r = CliRunner().invoke(main, w.args())
    assert r.exit_code == 1 and "is not a CRS pyproj understands" in r.stderr
    assert not marker.exists()


def test_relative_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    w = tw.build(tmp_path / "project" / "data")
    (tmp_path / "project" / "profiles").mkdir()
    (tmp_path / "project" / "profiles" / "mine.toml").write_text(PROFILE.replace("favorable = 70", "favorable = 65"))
    cfg = tw.CONFIG.replace('profile = "federal-safeguards"', 'profile = "../profiles/mine.toml"')
    w.write_config(cfg)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (elsewhere / "deposits.csv").write_text("not,the,file\n")  # a same-named file here must not be used
    r = CliRunner().invoke(main, ["screen", "--config", "../project/data/run.toml", "--out", "out", "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((elsewhere / "out" / "manifest.json").read_text())
    assert manifest["run"]["sites"]["path"] == str(w.sites.resolve())
    assert manifest["profile"]["verdicts"]["favorable"] == 65
    assert {e["path"] for e in manifest["inputs"]} == {str(w.protected.resolve()), str(w.federal.resolve())}


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every file (size, mtime) and folder under root (a folder's mtime changes with its listing)."""
    return {str(p.relative_to(root)): ("dir",) if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*")}


def test_a_run_writes_nothing_outside_its_output_folder(tmp_path):
    """Everything under the data folder, the working folder and TMPDIR is as before the run, except
    the output folder (its temporary sibling is gone)."""
    w = tw.build(tmp_path / "data")
    tw.write_dem(w.root / "dem.tif")
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmpdir.mkdir()
    out = tmp_path / "results" / "run1"
    out.parent.mkdir()
    before = _snapshot(tmp_path)
    args = [SITESCREEN, "screen", str(w.sites), *sum((["--layer", x] for x in w.layers), []),
            "--layer", f"dem={w.root / 'dem.tif'}", "--out", str(out)]
    if not (Path(__file__).resolve().parent.parent / "sitescreen" / "report.py").exists():
        args += ["--no-map", "--no-report"]  # (the map and report modules are not in this checkout yet)
    env = dict(os.environ, TMPDIR=str(tmpdir), HOME=str(cwd))
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    after = _snapshot(tmp_path)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    outside = sorted(k for k in changed if not (k == "results/run1" or k.startswith("results/run1/")))
    assert outside == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["run1"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # an ordinary folder, not a private temporary one
    assert "m_steep_terrain" in (out / "sites.csv").read_text().splitlines()[0]
