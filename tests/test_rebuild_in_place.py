"""``sitescreen map DIR`` and ``sitescreen report DIR`` rebuild the run folder's own page without
``--overwrite`` (issue 14, item 2: the README's commands work as typed) — but only while that file
is the page the run (or an earlier rebuild) wrote, by the SHA-256 in the manifest's ``outputs``.
Anything else there still needs ``--overwrite`` (and the issue-9 guards behind it)."""

from __future__ import annotations

import hashlib
import json

import pytest

import tinyworld as tw
from edgecases import assert_error, run_cli


@pytest.fixture()
def run_dir(tmp_path):
    w = tw.build(tmp_path / "w")
    args = [a for a in w.args() if a not in ("--no-map", "--no-report")]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    return w.out


def _recorded(out, name):
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"][name]["sha256"]


@pytest.mark.parametrize("cmd,name", [("map", "map.html"), ("report", "report.html")])
def test_the_runs_own_page_is_rebuilt_in_place(run_dir, cmd, name):
    res = run_cli([cmd, str(run_dir)] + (["--offline"] if cmd == "map" else []))
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(run_dir / name)
    assert _recorded(run_dir, name) == hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
    res = run_cli([cmd, str(run_dir)])  # and again: the rebuilt page is the run's own page too
    assert res.exit_code == 0, res.output
    res = run_cli(["verify", str(run_dir)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("cmd,name", [("map", "map.html"), ("report", "report.html")])
def test_a_page_changed_since_the_run_needs_overwrite(run_dir, cmd, name):
    page = run_dir / name
    text = page.read_text(encoding="utf-8") + "<!-- reviewer's note -->"
    page.write_text(text, encoding="utf-8")
    res = run_cli([cmd, str(run_dir)])
    assert_error(res, [f"{page}: exists and changed since the run wrote it; pass --overwrite to replace it"], 1)
    assert page.read_text(encoding="utf-8") == text
    res = run_cli([cmd, str(run_dir), "--overwrite"])
    assert res.exit_code == 0, res.output


def test_a_page_the_run_did_not_write_needs_overwrite(tmp_path):
    """A run without a map: a map.html put there later is not the run's (the manifest records none)."""
    w = tw.build(tmp_path / "w")
    assert run_cli(w.args()).exit_code == 0
    mine = w.out / "map.html"
    mine.write_text("<html>sitescreen notes of my own</html>", encoding="utf-8")
    res = run_cli(["map", str(w.out)])
    assert_error(res, [f"{mine}: exists; pass --overwrite to replace it"], 1)
    assert mine.read_text(encoding="utf-8") == "<html>sitescreen notes of my own</html>"


def test_a_manifest_without_outputs_trusts_only_a_sitescreen_page(run_dir):
    """An older manifest records no ``outputs``: the page is the run's own only when it names
    sitescreen (as the run's pages do); any other file there needs --overwrite."""
    data = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    data.pop("outputs")
    (run_dir / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    assert b"sitescreen" in (run_dir / "map.html").read_bytes()
    res = run_cli(["map", str(run_dir), "--offline"])
    assert res.exit_code == 0, res.output
    (run_dir / "report.html").write_text("<p>minutes of the review meeting</p>", encoding="utf-8")
    res = run_cli(["report", str(run_dir)])
    assert_error(res, [f"{run_dir / 'report.html'}: exists; pass --overwrite to replace it"], 1)
    assert (run_dir / "report.html").read_text(encoding="utf-8") == "<p>minutes of the review meeting</p>"
