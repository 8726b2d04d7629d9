"""The command line: help for every command, a working run of each on the demo, and the user errors
(exit code, the key parts of the message, never a traceback)."""

from __future__ import annotations

import json
import re
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from sitescreen.cli import main
from sitescreen.rules.profile import builtin_profiles, load_profile

KNOWN = ("screen", "check", "explain", "demo", "map", "report", "verify", "batch", "sources", "sensitivity", "rollup",
         "diff", "review")
NO_HTML = ["--no-map", "--no-report"]


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_user_error(res, code: int, *parts: str) -> str:
    """Exit ``code``, every part in the message, no traceback; exit 1 is one ``Error: …`` line."""
    out = res.output
    assert res.exit_code == code, out
    assert isinstance(res.exception, SystemExit), res.exception  # handled, not a crash
    assert "Traceback" not in out
    for part in parts:
        assert part in out, (part, out)
    if code == 1:
        assert out.startswith("Error: ") and out.count("\n") == 1, out
    return out


# ------------------------------------------------------------------------------------------
# help


@pytest.mark.parametrize("name", sorted(set(KNOWN) | set(main.commands)))
def test_every_command_has_help(name):
    cmd = main.commands[name]
    assert cmd.help and cmd.help.strip(), f"{name} has no docstring"
    res = run(name, "--help")
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"Usage: main {name}")
    first = cmd.help.strip().splitlines()[0]
    assert first in res.output.replace("\n", " ") or first[:40] in res.output


def test_core_commands_are_registered():
    assert {"screen", "check", "explain", "demo"} <= set(main.commands)
    assert set(KNOWN) <= set(main.commands), "every command is always registered (no optional commands)"
    unknown = set(main.commands) - set(KNOWN)
    assert not unknown, f"commands without tests here: {unknown}"


def test_group_help_and_version():
    res = run("--help")
    assert res.exit_code == 0
    for name in main.commands:
        assert name in res.output
    res = run("--version")
    assert res.exit_code == 0 and re.search(r"sitescreen, version \d", res.output)


# ------------------------------------------------------------------------------------------
# working runs on the demo


@pytest.fixture(scope="module")
def config(demo_dir):
    return demo_dir / "sitescreen.toml"


@pytest.fixture(scope="module")
def screened(config, tmp_path_factory):
    """The demo screened through the CLI (no map or report): (result, output folder)."""
    out = tmp_path_factory.mktemp("cli") / "out"
    res = run("screen", "--config", config, "--out", out, *NO_HTML)
    return res, out


def test_screen_writes_results(screened):
    res, out = screened
    assert res.exit_code == 0, res.output
    for name in ("sites.gpkg", "sites.parquet", "sites.csv", "manifest.json"):
        assert (out / name).is_file()
    assert not (out / "map.html").exists() and not (out / "report.html").exists()
    sites = gpd.read_parquet(out / "sites.parquet")
    assert f"Screened {len(sites)} sites" in res.output
    assert f"Results in {out}/" in res.output
    assert "Open " not in res.output  # no map or report was written: nothing to open
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sum(manifest["counts"].values()) == len(sites)
    for v, n in manifest["counts"].items():
        if n:
            assert f"{n} {v}" in res.output


def test_screen_says_which_pages_to_open(demo_dir, tmp_path):
    out = tmp_path / "out"
    res = run("screen", "--config", demo_dir / "sitescreen.toml", "--out", out, "--no-report")
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == f"Open {out / 'map.html'} (the map)."
    res = run("demo", "--out", tmp_path / "demo")
    assert res.exit_code == 0, res.output
    demo = tmp_path / "demo"
    assert res.output.splitlines()[-1] == f"Open {demo / 'map.html'} (the map) and {demo / 'report.html'} (the review report)."


def test_screen_json(config, tmp_path, screened):
    res = run("screen", "--config", config, "--out", tmp_path / "o", *NO_HTML, "--json")
    assert res.exit_code == 0, res.output
    manifest = json.loads(res.output)
    assert manifest == json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    first = json.loads((screened[1] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"] == first["counts"]


def test_screen_quiet_and_overwrite(config, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("stale", encoding="utf-8")
    res = run("screen", "--config", config, "--out", out, *NO_HTML)
    assert_user_error(res, 1, f"{out}: output folder exists and is not empty; pass --overwrite")
    assert (out / "old.txt").exists()
    res = run("-q", "screen", "--config", config, "--out", out, *NO_HTML, "--overwrite")
    assert_user_error(res, 1, f"{out}: not an earlier sitescreen output")  # old.txt is the user's: never removed
    assert (out / "old.txt").exists()
    (out / "old.txt").unlink()
    assert run("-q", "screen", "--config", config, "--out", out, *NO_HTML).exit_code == 0
    before = (out / "manifest.json").read_text(encoding="utf-8")
    res = run("-q", "screen", "--config", config, "--out", out, *NO_HTML, "--overwrite")
    assert res.exit_code == 0 and res.output == ""  # an earlier sitescreen output is replaced
    assert (out / "sites.parquet").exists() and (out / "manifest.json").read_text(encoding="utf-8") != before


def test_check(config, screened):
    res = run("check", "--config", config)
    assert res.exit_code == 0, res.output
    assert res.output.startswith("Run CRS: EPSG:5070; profile: federal-safeguards")
    assert res.output.rstrip().endswith("OK")
    res = run("check", "--config", config, "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    sites = gpd.read_parquet(screened[1] / "sites.parquet")
    assert report["sites"]["sites"] == len(sites)
    assert {lyr["role"] for lyr in report["layers"]} == {"federal_land", "watershed", "protected", "dem"}
    given = {lyr["role"] for lyr in report["layers"]}
    optional = {r for c in load_profile("federal-safeguards").criteria if c.optional for r in c.roles}
    assert "streams" in report["roles_missing"] and report["roles_missing"] == sorted(optional - given)


def test_explain(screened):
    _, out = screened
    sites = gpd.read_parquet(out / "sites.parquet")
    excluded = sites[sites["verdict"] == "excluded"].iloc[0]
    res = run("explain", out, excluded["site_id"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{excluded['site_id']} {excluded['name']}: excluded (score 0.0 of 100)")
    assert f"Reasons: {excluded['reasons']}" in res.output
    for c in load_profile("federal-safeguards").criteria:
        assert c.name in res.output
    res = run("explain", out, excluded["site_id"], "--json")
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["site_id"] == excluded["site_id"] and info["verdict"] == "excluded" and info["score"] == 0.0
    by = {c["name"]: c for c in info["criteria"]}
    assert by["federal_land"]["measurement"] == pytest.approx(excluded["m_federal_land"])
    assert by["protected_overlap"]["rule"] == "exclude if > 0 %"


def test_explain_unknown_site(screened):
    assert_user_error(run("explain", screened[1], "NO-SUCH-SITE"), 1, "no site with id 'NO-SUCH-SITE'")


def test_explain_not_an_output_folder(tmp_path):
    assert_user_error(run("explain", tmp_path / "nothing", "S1"), 1, f"{tmp_path / 'nothing'}: not a sitescreen output folder")


def test_demo(tmp_path):
    out, data = tmp_path / "demo-out", tmp_path / "demo-data"
    res = run("demo", "--out", out, "--data", data, *NO_HTML)
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC" in res.output
    assert (data / "sitescreen.toml").is_file() and (out / "sites.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sites"]["records_read"] >= 200  # issue 2: at least 200 deposit points
    assert len(gpd.read_parquet(out / "sites.parquet")) == manifest["sites"]["sites"]
    assert f"Screened {manifest['sites']['sites']} sites" in res.output
    res = run("demo", "--out", out, "--data", data, *NO_HTML)
    assert_user_error(res, 1, "pass --overwrite")


def test_verify(screened):
    res = run("verify", screened[1])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output


def test_map_and_report_commands(screened, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(screened[1], out)
    for name in ("map", "report"):
        res = run(name, out)
        assert res.exit_code == 0, res.output


def test_batch(config, screened, tmp_path):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text("[defaults]\nmap = false\nreport = false\n\n[[jobs]]\n"
                    f'name = "demo"\nconfig = "{config}"\nout = "out/demo"\n', encoding="utf-8")
    res = run("batch", jobs, "--json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert [(r["name"], r["status"]) for r in first] == [("demo", "done")]
    expected = json.loads((screened[1] / "manifest.json").read_text(encoding="utf-8"))
    assert first[0]["sites"] == expected["sites"]["sites"]
    assert (tmp_path / "out" / "demo" / "sites.parquet").is_file()
    res = run("batch", jobs, "--json")  # resumable: a finished job is not run again
    assert res.exit_code == 0, res.output
    assert [r["status"] for r in json.loads(res.stdout)] == ["up to date"]


# ------------------------------------------------------------------------------------------
# user errors


@pytest.fixture
def deposits(demo_dir):
    return demo_dir / "deposits.csv"


def test_missing_sites_file(tmp_path, demo_dir):
    missing = tmp_path / "nope.csv"
    res = run("screen", missing, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--out", tmp_path / "o")
    assert_user_error(res, 1, f"Error: {missing}", "not found")
    assert not (tmp_path / "o").exists()


def test_missing_layer_file(tmp_path, deposits):
    missing = tmp_path / "gone" / "wilderness.shp"
    res = run("check", deposits, "--layer", f"protected={missing}")
    assert_user_error(res, 1, str(missing), "not found")


def test_missing_config(tmp_path):
    res = run("check", "--config", tmp_path / "run.toml")
    assert_user_error(res, 1, f"{tmp_path / 'run.toml'}: config file not found")


def test_layer_without_crs(tmp_path, deposits, demo_dir):
    parks = gpd.read_file(demo_dir / "parks.geojson").to_crs(5070)
    shp = tmp_path / "parks.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        parks.set_crs(None, allow_override=True).to_file(shp)
    assert not shp.with_suffix(".prj").exists()
    res = run("check", deposits, "--layer", f"protected={shp}")
    assert_user_error(res, 1, str(shp), "has no CRS", f"--layer protected={shp}@EPSG:XXXX")
    # with the federal_land layer the profile needs (check refuses what screen refuses: issue 14)
    res = run("check", deposits, "--layer", f"protected={shp}@EPSG:5070", "--layer", f"federal_land={demo_dir / 'padus.gpkg'}")
    assert res.exit_code == 0, res.output


def test_unknown_role(tmp_path, deposits, demo_dir):
    res = run("check", deposits, "--layer", f"runways={demo_dir / 'parks.geojson'}")
    out = assert_user_error(res, 1, "unknown role 'runways'", "profile federal-safeguards uses roles")
    for role in load_profile("federal-safeguards").roles:
        assert role in out


def test_unrecognised_schema(tmp_path, deposits):
    path = tmp_path / "areas.gpkg"
    gpd.GeoDataFrame({"zone_code": ["Z1"], "zone_label": ["a zone"]}, geometry=[box(-1.45e6, 2.7e6, -1.44e6, 2.71e6)],
                     crs=5070).to_file(path)
    res = run("check", deposits, "--layer", f"protected={path}")
    assert_user_error(res, 1, str(path), "unrecognised protected layer", "zone_code", "zone_label",
                      "Give a layer definition", "definition = {")


def test_profile_not_toml(tmp_path, deposits, demo_dir):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = 'broken'\n[criteria.a\nkind = 'overlap'\n", encoding="utf-8")
    res = run("check", deposits, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--profile", bad)
    assert_user_error(res, 1, f"{bad}: not valid TOML")


def test_profile_weights_do_not_sum_to_one(tmp_path, deposits, demo_dir):
    text = builtin_profiles()["federal-safeguards"].read_text(encoding="utf-8")
    assert "weight = 0.35" in text
    bad = tmp_path / "heavy.toml"
    bad.write_text(text.replace("weight = 0.35", "weight = 0.5"), encoding="utf-8")
    res = run("check", deposits, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--profile", bad)
    assert_user_error(res, 1, f"{bad}: weights must sum to 1", "they sum to 1.15")


def test_unknown_profile_name(deposits, demo_dir):
    res = run("check", deposits, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--profile", "lenient")
    assert_user_error(res, 1, "unknown profile 'lenient'", "federal-safeguards")


def test_bad_flags_exit_2(tmp_path, config):
    res = run("screen", "--config", config, "--out", tmp_path / "o", "--basemap", "nope")
    assert_user_error(res, 2, "Invalid value for '--basemap'", "'nope' is not one of")
    res = run("screen", "--config", config, "--out", tmp_path / "o", "--colour", "red")
    assert_user_error(res, 2, "No such option '--colour'")
    res = run("check", "deposits.csv", "--layer", "wilderness.shp")
    assert_user_error(res, 2, "Invalid value for '--layer'", "expected ROLE=PATH[:LAYER][@CRS]")
    res = run("screen", "--config", config)
    assert_user_error(res, 2, "Missing option '-o' / '--out'")
    res = run("check", "--config", config, "deposits.csv")
    assert_user_error(res, 2, "give either --config FILE or SITES with --layer options, not both")
    assert not (tmp_path / "o").exists()


def test_no_inputs_is_a_usage_error():
    assert_user_error(run("check"), 2, "give SITES")


def test_bad_aoi(deposits, demo_dir):
    res = run("check", deposits, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--aoi", "-114,46,-115,45")
    assert_user_error(res, 2, "--aoi", "'-114,46,-115,45'", "south 46 must be below north 45")


def test_unparseable_sites_rows(tmp_path, deposits, demo_dir):
    df = pd.read_csv(deposits, dtype=str, keep_default_na=False)
    df.loc[3, "location"] = "POINT (one two)"
    bad = tmp_path / "deposits.csv"
    df.to_csv(bad, index=False)
    res = run("check", bad, "--layer", f"protected={demo_dir / 'parks.geojson'}")
    assert_user_error(res, 1, str(bad), "line 5", "--skip-invalid")
    res = run("check", bad, "--layer", f"protected={demo_dir / 'parks.geojson'}", "--skip-invalid", "--json",
              "--layer", f"federal_land={demo_dir / 'padus.gpkg'}")  # the layer the profile needs (issue 14)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["sites"]["records_skipped_invalid"] == 1


def test_map_of_a_region(screened, tmp_path):
    """`sitescreen map --aoi` draws only the sites touching the area (a region of a large run)."""
    sites = gpd.read_parquet(screened[1] / "sites.parquet")
    mid = float(np.median(sites.geometry.centroid.to_crs(4326).x))
    sites = sites.to_crs(4326)
    minx, miny, maxx, maxy = sites.total_bounds
    box = f"{minx - 0.1},{miny - 0.1},{mid},{maxy + 0.1}"
    res = run("map", screened[1], "--aoi", box, "-o", tmp_path / "west.html", "--offline")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "west.html").read_text(encoding="utf-8")
    west = sites.intersects(shapely.box(minx - 0.1, miny - 0.1, mid, maxy + 0.1))
    assert 0 < west.sum() < len(sites)
    for sid in sites.loc[west, "site_id"]:
        assert json.dumps(sid) in html
    for sid in sites.loc[~west, "site_id"]:
        assert json.dumps(sid) not in html
    res = run("map", screened[1], "--aoi", "10,10,11,11", "-o", tmp_path / "none.html")
    assert_user_error(res, 1, "no site of the run touches the area 10,10,11,11")
    assert not (tmp_path / "none.html").exists()


def test_progress_counts_the_chunks_of_a_stage():
    """The bar counts the sites of a stage against the run's number of sites (issue 14 item 8: the
    total no longer grows by a stage's chunks); silent when quiet."""
    import io

    from sitescreen.cli.options import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    p = Progress(False, file=Tty())
    assert p.bar is None  # quiet: no bar at all
    p = Progress(True, file=Tty())
    for stage in ("sites", "layers"):
        p(stage)
    for done in (0, 2, 4, 5):
        p("screen", done, 5)
        assert p.bar.total == 5
    p("write")
    assert (p.bar.n, p.bar.total, p.stage) == (5, 5, "write")
    p.close()
