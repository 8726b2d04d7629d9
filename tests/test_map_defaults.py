"""Issue 14, item 1: every map sitescreen writes opens with no network unless ``--cdn`` is asked
for, and a page whose scripts did not start says so in plain HTML instead of staying blank.

What Chromium shows with the network cut off is checked in test_browser_map.py.
"""

from __future__ import annotations

import re

import pytest

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.outputs.mapping import external_resources
from sitescreen.outputs.mapnotice import CDN_HINT, SCRIPTS_FAILED
from sitescreen.outputs.htmlsafe import esc


def leaflet_from_cdn(html: str) -> bool:
    return any("leaflet" in f for f in external_resources(html))


def screened(tmp_path, *extra: str):
    w = tw.build(tmp_path / "w")
    args = [a for a in w.args() if a != "--no-map"] + list(extra)
    res = run_cli(args)
    return w, res


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    w, res = screened(tmp_path_factory.mktemp("default"), "--no-report")
    assert res.exit_code == 0, res.output
    return w


def test_screen_writes_a_self_contained_map_by_default(default_run):
    html = (default_run.out / "map.html").read_text(encoding="utf-8")
    assert external_resources(html) == [] and not leaflet_from_cdn(html)
    assert "tile.openstreetmap.org" in html  # the default basemap is kept: tiles may fail, the map does not


def test_screen_cdn_writes_the_small_page(tmp_path, default_run):
    w, res = screened(tmp_path, "--no-report", "--cdn")
    assert res.exit_code == 0, res.output
    small = (w.out / "map.html").read_text(encoding="utf-8")
    full = (default_run.out / "map.html").read_text(encoding="utf-8")
    assert leaflet_from_cdn(small) and len(small) < len(full)


def test_offline_stays_accepted_and_still_drops_the_basemap(tmp_path):
    w, res = screened(tmp_path, "--no-report", "--offline")
    assert res.exit_code == 0, res.output
    html = (w.out / "map.html").read_text(encoding="utf-8")
    assert external_resources(html) == [] and "L.tileLayer" not in html


@pytest.mark.parametrize("extra", [["--offline", "--cdn"], ["--cdn", "--offline"]])
def test_screen_offline_with_cdn_is_a_bad_flag_and_writes_nothing(tmp_path, extra):
    w, res = screened(tmp_path, *extra)
    assert_error(res, ["--offline", "--cdn"], code=2)
    assert_nothing_left(w.out)


def test_demo_offline_with_cdn_is_refused_before_any_file_is_written(tmp_path):
    out, data = tmp_path / "demo-out", tmp_path / "demo-data"
    res = run_cli(["demo", "--out", str(out), "--data", str(data), "--cdn", "--offline"])
    assert_error(res, ["--offline", "--cdn"], code=2)
    assert_nothing_left(out)
    assert not data.exists()


def test_map_command_is_self_contained_by_default_and_cdn_opts_in(default_run, tmp_path):
    out = tmp_path / "rebuilt.html"
    res = run_cli(["map", str(default_run.out), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert external_resources(out.read_text(encoding="utf-8")) == []
    res = run_cli(["map", str(default_run.out), "-o", str(out), "--cdn", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert leaflet_from_cdn(out.read_text(encoding="utf-8"))
    res = run_cli(["map", str(default_run.out), "-o", str(tmp_path / "x.html"), "--cdn", "--offline"])
    assert_error(res, ["--offline", "--cdn"], code=2)
    assert not (tmp_path / "x.html").exists()


def test_batch_maps_are_self_contained_unless_a_job_asks_for_cdn(tmp_path):
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG)
    (tmp_path / "jobs.toml").write_text(
        '[defaults]\nreport = false\n'
        f'[[jobs]]\nname = "own"\nconfig = "{w.config}"\nout = "out/own"\n'
        f'[[jobs]]\nname = "small"\nconfig = "{w.config}"\nout = "out/small"\ncdn = true\n', encoding="utf-8")
    res = run_cli(["batch", str(tmp_path / "jobs.toml")])
    assert res.exit_code == 0, res.output
    assert external_resources((tmp_path / "out/own/map.html").read_text(encoding="utf-8")) == []
    assert leaflet_from_cdn((tmp_path / "out/small/map.html").read_text(encoding="utf-8"))
    (tmp_path / "bad.toml").write_text(f'[[jobs]]\nname = "a"\nconfig = "{w.config}"\nout = "o"\ncdn = "yes"\n',
                                       encoding="utf-8")
    res = run_cli(["batch", str(tmp_path / "bad.toml")])
    assert_error(res, ["cdn must be a bool", "'yes'"], code=1)


@pytest.mark.parametrize("flag, hint", [([], None), (["--cdn"], CDN_HINT)])
def test_the_page_says_when_its_scripts_did_not_start(default_run, tmp_path, flag, hint):
    """The message is plain HTML (no script needed to show it) and the map's script removes it."""
    out = tmp_path / "m.html"
    res = run_cli(["map", str(default_run.out), "-o", str(out), *flag])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    div = re.search(r'<div id="ss-noscript"[^>]*>(.*?)</div></div>', html, re.S)
    assert div and esc(SCRIPTS_FAILED) in div.group(1)
    assert hint is None or (esc(hint) in div.group(1) and "sitescreen map" in hint)
    assert "getElementById('ss-noscript')" in html
