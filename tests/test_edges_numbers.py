"""Issue 9, class 6 (numbers are checked where they enter) and class 4b (a flag beside --config
overrides it, recorded, or is refused — never dropped).

Every number from a flag, a run config or a profile is checked once (sitescreen.inputs.numbers): finite,
in range, with units; the error names the flag or key and the allowed range. Bad flags exit 2.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

import tinyworld as tw
from edgecases import Catalogue, run_case, run_cli
from sitescreen.cli.options import build_config
from sitescreen.cli.screen import screen_command
from sitescreen.run.config import OVERRIDE_FLAGS, Overrides
from sitescreen.errors import ConfigError
from sitescreen.inputs.numbers import RANGES
from sitescreen.sites.aoi import aoi_geometry, apply_aoi, parse_aoi
from sitescreen.sites.grid import grid_sites
from sitescreen.sites.options import SiteStats

CASES = Catalogue()
case = CASES.case
PROFILE = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()
BOX = "-114.7,44.35,-114.2,44.7"  # the tiny world's sites and layers


def _profile(w, old: str, new: str) -> None:
    text = PROFILE.replace(old, new, 1)
    assert text != PROFILE, old
    (w.root / "my-profile.toml").write_text(text, encoding="utf-8")
    w.extra += ["--profile", str(w.root / "my-profile.toml")]


def _config(w, old: str, new: str) -> None:
    text = tw.CONFIG.replace(old, new, 1)
    assert text != tw.CONFIG, old
    w.write_config(text)


def _grid_command(w, *flags: str) -> None:
    w.command = ["screen", *flags, "--layer", w.layers[0], "--layer", w.layers[1], "--out", str(w.out), "--no-map", "--no-report"]


# ---------------------------------------------------------------------------------------------
# Class 6, the issue's examples


@case("radius-inf", "--radius", "> 0 and ≤ 100,000 m", "got inf", code=2)
def _(w, **_):
    w.extra += ["--radius", "inf"]


@case("radius-1e9", "--radius", "≤ 100,000 m", "got 1,000,000,000", code=2)
def _(w, **_):
    w.extra += ["--radius", "1e9"]


@case("grid-nan", "--grid", "> 0 and ≤ 1,000,000 m", "got nan", code=2)
def _(w, **_):
    _grid_command(w, "--grid", "nan", "--aoi", BOX)


@case("grid-inf", "--grid", "≤ 1,000,000 m", "got inf", code=2)
def _(w, **_):
    _grid_command(w, "--grid", "inf", "--aoi", BOX)


@case("profile-search-radius-negative", "my-profile.toml", "criteria.protected_setback", "search_radius_m", "> 0", "got -100")
def _(w, **_):
    _profile(w, "search_radius_m = 50000", "search_radius_m = -100")


@case("profile-search-radius-inf", "my-profile.toml", "criteria.protected_setback", "search_radius_m", "≤ 1,000,000 m", "got inf")
def _(w, **_):
    _profile(w, "search_radius_m = 50000", "search_radius_m = inf")


@case("config-aoi-three-numbers", "run.toml", "[run].aoi", "3 value(s)", "four numbers west, south, east, north")
def _(w, **_):
    _config(w, 'profile = "federal-safeguards"', 'profile = "federal-safeguards"\naoi = [-114.7, 44.35, -114.2]')


@case("config-aoi-strings", "run.toml", "[run].aoi", "west (min longitude) must be a number", "'-114.7'")
def _(w, **_):
    _config(w, 'profile = "federal-safeguards"', 'profile = "federal-safeguards"\naoi = ["-114.7", "44.35", "-114.2", "44.7"]')


@case("aoi-west-east-swapped", "--aoi", "span 359.5°", "write [-114.7, 44.35, -114.2, 44.7]", code=2)
def _(w, **_):
    w.extra += ["--aoi", "-114.2,44.35,-114.7,44.7"]  # not a box crossing 180°: the pair is swapped


@case("aoi-file-of-points", "aoi_points.geojson", "must be polygons", "POINT")
def _(w, **_):
    pts = gpd.GeoDataFrame({"n": [1, 2]}, geometry=[shapely.Point(-114.5, 44.5), shapely.Point(-114.3, 44.45)], crs=4326)
    w.extra += ["--aoi", str(tw.write_vector(pts, w.root / "aoi_points.geojson"))]


@case("sites-longitudes-0-360", "deposits.csv", "0–360", "subtract 360", "245.7 → -114.3")
def _(w, **_):
    tw.write_csv(w.sites, tw.deposit_rows([(r, n, x + 360, y) for r, n, x, y in tw.SITES]))


@case("sites-multipoint", "deposits.csv", "MULTIPOINT", "record_id 1002", "one POINT per record")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[1]["location"] = "MULTIPOINT ((-114.4 44.55), (-114.41 44.56))"
    tw.write_csv(w.sites, rows)


@case("config-toml-nested-3000-deep", "run.toml", "nested more than 16 deep")
def _(w, **_):
    w.write_config(tw.CONFIG + "deep = " + "[" * 3000 + "]" * 3000 + "\n")


# Class 6, cases of our own


@case("profile-toml-nested-40-deep", "my-profile.toml", "nested more than 16 deep")
def _(w, **_):
    _profile(w, "[verdicts]", "deep = " + "[" * 40 + "1" + "]" * 40 + "\n[verdicts]")


@case("config-merge-distance-negative", "run.toml", "[sites]", "merge_distance_m", "≥ 0 and ≤ 100,000 m", "got -1")
def _(w, **_):
    _config(w, "radius_m = 1000", "radius_m = 1000\nmerge_distance_m = -1")


@case("config-radius-a-string", "run.toml", "[sites]", "radius_m must be a number", "'1000'")
def _(w, **_):
    _config(w, "radius_m = 1000", 'radius_m = "1000"')


@case("config-radius-toml-nan", "run.toml", "[sites]", "radius_m", "got nan")
def _(w, **_):
    _config(w, "radius_m = 1000", "radius_m = nan")


@case("config-grid-cell-inf", "run.toml", "[sites]", "grid_cell_m", "got inf")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', "grid_cell_m = inf")
                   .replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\naoi = [{BOX}]'))


@case("config-layer-band-zero", "run.toml", "layers[0]", "band must be a whole number ≥ 1", "got 0")
def _(w, **_):
    _config(w, 'path = "protected.geojson"', 'path = "protected.geojson"\nband = 0')


@case("config-skip-invalid-a-string", "run.toml", "skip_invalid must be true or false", "'yes'")
def _(w, **_):
    _config(w, "radius_m = 1000", 'radius_m = 1000\nskip_invalid = "yes"')


@case("profile-favorable-150", "my-profile.toml", "verdicts.favorable", "≥ 0 and ≤ 100 points", "got 150")
def _(w, **_):
    _profile(w, "favorable = 70", "favorable = 150")


@case("profile-weights-sum-1.7", "my-profile.toml", "weights must sum to 1", "sum to 1.7")
def _(w, **_):
    text = PROFILE.replace("weight = 0.35", "weight = 0.85", 1).replace("weight = 0.2\n", "weight = 0.4\n", 1)
    assert text.count("weight = 0.85") == 1 and text.count("weight = 0.4\n") == 1  # 0.85 + 0.25 + 0.4 + 0.2
    (w.root / "my-profile.toml").write_text(text, encoding="utf-8")
    w.extra += ["--profile", str(w.root / "my-profile.toml")]


@case("profile-exclusion-inf", "my-profile.toml", "exclude.below", "expected a finite number", "inf")
def _(w, **_):
    _profile(w, "exclude = { below = 300 }", "exclude = { below = inf }")


@case("profile-breakpoint-nan", "my-profile.toml", "protected_setback", "expected a number", "nan")
def _(w, **_):
    _profile(w, "[1500, 0.6]", "[nan, 0.6]")


@case("radius-with-unit", "--radius", "must be a number", "'1km'", code=2)
def _(w, **_):
    w.extra += ["--radius", "1km"]


@case("aoi-latitude-95", "--aoi", "north (max latitude)", "≤ 90 degrees", "got 95", code=2)
def _(w, **_):
    w.extra += ["--aoi", "-114.7,44.35,-114.2,95"]


@case("chunk-size-0", "--chunk-size", "x>=1", code=2)
def _(w, **_):
    w.extra += ["--chunk-size", "0"]


@case("workers-0", "--workers", "x>=1", code=2)
def _(w, **_):
    w.extra += ["--engine", "dask", "--workers", "0"]


# ---------------------------------------------------------------------------------------------
# Class 4b: flags beside --config are applied or refused


@case("config-with-radius-0", "--radius", "> 0", "got 0", code=2)
def _(w, **_):
    w.write_config(tw.CONFIG)
    w.extra += ["--radius", "0"]


@case("config-sites-file-with-grid", "--grid", "run.toml", "deposits.csv", "a grid replaces a sites file")
def _(w, **_):
    w.write_config(tw.CONFIG)
    w.extra += ["--grid", "2000"]


@case("config-grid-with-radius", "--radius", "run.toml", "grid of cells", "apply to a sites file only")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', "grid_cell_m = 5000")
                   .replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\naoi = [{BOX}]'))
    w.extra += ["--radius", "500"]


@case("config-grid-with-sites-where", "--sites-where", "grid of cells", "apply to a sites file only")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', "grid_cell_m = 5000")
                   .replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\naoi = [{BOX}]'))
    w.extra += ["--sites-where", "state=Idaho"]


@case("quick-sites-with-grid", "SITES or --grid", "not both", code=2)
def _(w, **_):
    w.extra += ["--grid", "2000", "--aoi", BOX]


@case("quick-grid-with-commodity", "--commodity", "not to a grid of cells", code=2)
def _(w, **_):
    _grid_command(w, "--grid", "5000", "--aoi", BOX, "--commodity", "any")


@case("config-with-sites-argument", "either --config FILE or SITES", code=2)
def _(w, **_):
    w.write_config(tw.CONFIG)
    w.command = ["screen", str(w.sites), "--config", str(w.config), "--out", str(w.out)]


# ---------------------------------------------------------------------------------------------
# Coordinates and cell values are numbers too: a coordinate that is not finite (1e400 overflows to
# infinity) and a raster band storing scaled values are refused where they enter (issue 9 probes).


@case("sites-wkt-coordinate-1e400", "deposits.csv", "1 line(s)", "not a finite number", "(line 3)", "1e400")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[1]["location"] = "POINT (-114.4 1e400)"
    tw.write_csv(w.sites, rows)


@case("sites-lonlat-columns-inf", "deposits.csv", "(line 2)", "not a finite number")
def _(w, **_):
    w.sites.write_text("record_id,lon,lat\nA1,inf,44.5\nA2,-114.4,44.55\n", encoding="utf-8")


@case("sites-geopackage-infinite-coordinate", "sites.gpkg", "(record 2)", "not a finite number")
def _(w, **_):
    pts = [shapely.Point(x, y) for _, _, x, y in tw.SITES]
    pts[1] = shapely.Point(-np.inf, 44.55)
    w.sites = tw.write_vector(gpd.GeoDataFrame({"site_id": [s[0] for s in tw.SITES]}, geometry=pts, crs=4326),
                              w.root / "sites.gpkg")


@case("layer-polygon-with-an-infinite-vertex", "protected.gpkg", "1 feature(s)", "not a finite number")
def _(w, **_):
    box = shapely.box(*tw.WILDERNESS_BOX)
    bad = shapely.Polygon([*box.exterior.coords[:2], (np.inf, 44.5), *box.exterior.coords[2:]])
    path = tw.write_vector(tw.wilderness_frame([box, bad]), w.root / "protected.gpkg")
    w.layers[0] = f"protected={path}"


def steep_dem(path: Path, scale: float | None = None) -> Path:
    """A DEM (UTM 11N, 100 m cells) whose slope varies from 10° to 25° west to east (its true
    values); with ``scale`` the band stores value / scale and declares the scale (GDAL's convention)."""
    import rasterio
    from affine import Affine
    x0, _, x1, y1 = gpd.GeoSeries([shapely.box(-114.7, 44.35, -114.2, 44.7)], crs=4326).to_crs(26911).total_bounds
    w = h = int(np.ceil((x1 - x0) / 100.0))
    slope = np.radians(10 + 15 * np.sin(np.arange(w) / 9.0) ** 2)
    z = np.broadcast_to(1000 + np.cumsum(np.tan(slope)) * 100.0, (h, w)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:26911",
                       transform=Affine(100.0, 0, x0, 0, -100.0, y1), nodata=-9999.0) as dst:
        dst.write(z if scale is None else (z / scale).astype("float32"), 1)
        if scale is not None:
            dst.scales, dst.offsets = (scale,), (0.0,)
    return path


@case("dem-band-stores-scaled-values", "dem.tif", "band 1 stores scaled values", "scale 0.1", "gdal_translate -unscale")
def _(w, **_):
    w.layers.append(f"dem={steep_dem(w.root / 'dem.tif', scale=0.1)}")


def test_a_scaled_dem_once_gave_a_wrong_slope_share_with_exit_0(tmp_path):
    """Read raw, a DEM storing elevation / 0.1 made every footprint 100 % steep (exit 0). The advice
    (gdal_translate -unscale) gives the numbers of the DEM holding the true values."""
    import shutil
    import subprocess
    if not shutil.which("gdal_translate"):
        pytest.skip("gdal_translate is not installed")
    true, scaled = (tw.build(tmp_path / n) for n in ("true", "scaled"))
    true.layers.append(f"dem={steep_dem(true.root / 'dem.tif')}")
    r = run_cli(true.args())
    assert r.exit_code == 0, r.output
    want = pd.read_csv(true.out / "sites.csv", dtype={"site_id": str})["m_steep_terrain"]
    assert want.between(0.01, 0.99).all()  # a share the scale would change
    dem = steep_dem(scaled.root / "dem.tif", scale=0.1)
    r = run_cli([*scaled.args(), "--layer", f"dem={dem}"])
    msg = r.stderr.strip().splitlines()[-1]
    advice = msg[msg.index("(gdal_translate") + 1: msg.index(") and give")]
    subprocess.run(advice.split(), cwd=scaled.root, check=True, capture_output=True)
    r = run_cli([*scaled.args(), "--layer", f"dem={scaled.root / 'unscaled.tif'}"])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(scaled.out / "sites.csv", dtype={"site_id": str})["m_steep_terrain"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# HUC codes stored as numbers lose their leading zeros (01701020 → 1701020): cut to a level they
# would name another watershed. They are text of the width their field names (issue 9 probes).


def _watershed(w, codes, name: str = "huc8") -> str:
    """Two watershed polygons, west and east of lon -114.45, with ``codes`` in field ``name``."""
    gdf = gpd.GeoDataFrame({name: codes, "name": ["West (synthetic)", "East (synthetic)"]},
                           geometry=[shapely.box(-115, 44, -114.45, 45), shapely.box(-114.45, 44, -114, 45)], crs=4326)
    return f"watershed={tw.write_vector(gdf, w.root / 'wbd.gpkg', layer='WBDHU8')}:WBDHU8"


def test_huc_codes_stored_as_numbers_get_their_leading_zeros_back(tmp_path):
    """Numeric HUC-8 codes once gave m_watershed '1701020' and a HUC-4 roll-up unit '1701' (exit 0)."""
    got = {}
    for how, codes in (("text", ["01701020", "17010205"]), ("numbers", [1701020, 17010205])):
        w = tw.build(tmp_path / how)
        w.layers.append(_watershed(w, codes))
        r = run_cli(w.args())
        assert r.exit_code == 0, r.output
        sites = pd.read_csv(w.out / "sites.csv", dtype=str)
        r = run_cli(["rollup", str(w.out), "--by", "huc4", "--json"])
        assert r.exit_code == 0, r.output
        rollup = json.loads(r.stdout)
        assert rollup.pop("source").startswith(str(w.root / "wbd.gpkg"))
        got[how] = sites, rollup
    pd.testing.assert_frame_equal(got["numbers"][0], got["text"][0])
    assert set(got["numbers"][0]["m_watershed"]) == {"01701020", "17010205"}
    assert got["numbers"][1] == got["text"][1]
    assert {u["unit"] for u in got["numbers"][1]["units"]} - {"outside every unit"} == {"0170", "1701"}


@case("huc-number-longer-than-its-level", "wbd.gpkg", "field 'huc8' holds numbers", "leading zeros", "of 8 digits",
      "store the field as text")
def _(w, **_):
    w.layers.append(_watershed(w, [1701020, 170102051]))


@case("huc-number-not-whole", "wbd.gpkg", "field 'huc8' holds numbers", "store the field as text")
def _(w, **_):
    w.layers.append(_watershed(w, [17010205.5, 17010206.0]))


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_edge(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)


def test_catalogue_covers_the_issue_examples():
    examples = {"radius-inf", "radius-1e9", "grid-nan", "grid-inf", "profile-search-radius-negative",
                "profile-search-radius-inf", "config-aoi-three-numbers", "config-aoi-strings", "aoi-file-of-points",
                "sites-longitudes-0-360", "sites-multipoint", "config-toml-nested-3000-deep", "config-with-radius-0",
                "config-sites-file-with-grid"}
    assert examples <= set(CASES)
    assert len(set(CASES) - examples) >= 8


def test_the_radius_error_names_the_flag_not_swapped_columns(tmp_path):
    """`--radius nan` once said the lon/lat columns may be swapped."""
    w = tw.build(tmp_path / "w")
    result = run_cli(w.args() + ["--radius", "nan"])
    assert result.exit_code == 2 and "--radius" in result.output and "swapped" not in result.output


# ---------------------------------------------------------------------------------------------
# What succeeds: the numbers are right


def _manifest(w, *extra: str) -> dict:
    result = run_cli(w.args() + list(extra))
    assert result.exit_code == 0, result.output
    return json.loads((w.out / "manifest.json").read_text())


def test_aoi_crossing_180_is_one_box_not_flipped():
    """[170, 50, -170, 55] is 20° wide across 180°, not the 340° from -170 to 170."""
    box = parse_aoi([170, 50, -170, 55], "run.toml: [run].aoi")
    assert box == (170.0, 50.0, -170.0, 55.0)
    area = aoi_geometry(box)
    laea = CRS.from_proj4("+proj=laea +lat_0=52.5 +lon_0=180 +datum=WGS84 +units=m +no_defs")
    expected = gpd.GeoSeries([shapely.segmentize(shapely.box(170, 50, 180, 55), 0.1),
                              shapely.segmentize(shapely.box(-180, 50, -170, 55), 0.1)], crs=4326).to_crs(laea).area.sum()
    assert area.to_crs(laea).area.iloc[0] == pytest.approx(expected, rel=1e-3)


def test_aoi_crossing_180_keeps_sites_on_both_sides():
    sites = gpd.GeoDataFrame({"record_id": ["w", "e", "far"]},
                             geometry=[shapely.Point(175, 52), shapely.Point(-175, 52), shapely.Point(0, 52)], crs=4326)
    stats = SiteStats()
    kept = apply_aoi(sites, aoi_geometry(parse_aoi("170,50,-170,55")), stats)
    assert list(kept["record_id"]) == ["w", "e"]
    assert stats.records_outside_aoi == 1


def test_grid_over_an_aoi_crossing_180_covers_both_sides():
    laea = CRS.from_proj4("+proj=laea +lat_0=52.5 +lon_0=180 +datum=WGS84 +units=m +no_defs")
    cells = grid_sites(aoi_geometry(parse_aoi("170,50,-170,55")), laea, 50_000.0)
    lon = cells.geometry.centroid.to_crs(4326).x.to_numpy()
    assert (lon > 170).any() and (lon < -170).any() and not ((lon > -169) & (lon < 169)).any()
    west = gpd.GeoSeries([shapely.segmentize(shapely.box(170, 50, 180, 55), 0.1)], crs=4326).to_crs(laea).iloc[0]
    east = gpd.GeoSeries([shapely.segmentize(shapely.box(-180, 50, -170, 55), 0.1)], crs=4326).to_crs(laea).iloc[0]
    touching = shapely.intersects(cells.geometry.to_numpy(), west) | shapely.intersects(cells.geometry.to_numpy(), east)
    assert touching.all()
    covered = cells.union_all().buffer(1.0)
    assert covered.contains(west) and covered.contains(east)


def test_single_point_multipoints_are_points(tmp_path):
    """Shapefiles often store points as one-part MULTIPOINTs: each is its point, the same site."""
    w = tw.build(tmp_path / "w")
    tw.write_csv(w.sites, tw.deposit_rows(location=lambda x, y: f"MULTIPOINT (({x} {y}))"))
    plain = tw.build(tmp_path / "plain")
    a, b = _manifest(w), _manifest(plain)
    assert a["sites"]["sites"] == b["sites"]["sites"] == len(tw.SITES)
    ga = gpd.read_file(w.out / "sites.gpkg", layer="sites").sort_values("site_id")
    gb = gpd.read_file(plain.out / "sites.gpkg", layer="sites").sort_values("site_id")
    assert list(ga["site_id"]) == list(gb["site_id"])
    assert np.allclose(ga["m_protected_overlap"], gb["m_protected_overlap"])


def test_the_0_360_advice_works(tmp_path):
    """Following the advice (subtract 360 from longitudes above 180) gives a run that works."""
    w = tw.build(tmp_path / "w")
    shifted = [(r, n, x + 360, y) for r, n, x, y in tw.SITES]
    tw.write_csv(w.sites, tw.deposit_rows([(r, n, x - 360 if x > 180 else x, y) for r, n, x, y in shifted]))
    assert _manifest(w)["sites"]["sites"] == len(tw.SITES)


def test_flag_ranges_are_the_documented_ranges():
    """The --help text and the errors render the same range (one table, sitescreen.inputs.numbers.RANGES)."""
    helps = {p.opts[0]: p.help for p in screen_command.params if p.opts and p.opts[0] in ("--radius", "--grid")}
    assert RANGES["radius_m"].text() in helps["--radius"]
    assert RANGES["grid_cell_m"].text() in helps["--grid"]


# ---------------------------------------------------------------------------------------------
# Class 4b: every option of `screen` works with --config or is refused


#: What each flag overrides, and how to see it in the manifest (flag → (args, check(manifest, world))).
def _override_cases(w) -> dict:
    profile = w.root / "copy-profile.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    inside = [r for r, _, x, y in tw.SITES if -114.55 <= x <= -114.35 and 44.45 <= y <= 44.6]  # counted independently
    return {
        "--radius": (["--radius", "500"], lambda m: m["sites"]["radius_m"] == 500 and m["run"]["site_options"]["radius_m"] == 500),
        "--profile": (["--profile", str(profile)], lambda m: m["run"]["profile"] == str(profile.resolve())),
        "--crs": (["--crs", "EPSG:32611"], lambda m: m["crs"] == "EPSG:32611"),
        "--aoi": (["--aoi", "-114.55,44.45,-114.35,44.6"], lambda m: m["sites"]["sites"] == len(inside) == 2),
        "--commodity": (["--commodity", "any"], lambda m: m["run"]["site_options"]["commodity"] == "any"),
        "--sites-where": (["--sites-where", "record_id=1001"], lambda m: m["sites"]["sites"] == 1),
        "--skip-invalid": (["--skip-invalid"], lambda m: m["run"]["site_options"]["skip_invalid"] is True),
        "--grid": (["--grid", "20000"], lambda m: m["sites"]["grid_cell_m"] == 20000),
        "--id-field": (["--id-field", "record_id"], lambda m: m["run"]["site_options"]["id_field"] == "record_id"
                       and m["sites"]["id_field"] == "record_id"),
        "--name-field": (["--name-field", "site_name"], lambda m: m["run"]["site_options"]["name_field"] == "site_name"
                         and m["sites"]["name_field"] == "site_name"),
        "--merge-distance": (["--merge-distance", "120"], lambda m: m["run"]["site_options"]["merge_distance_m"] == 120),
    }


@pytest.mark.parametrize("flag", list(OVERRIDE_FLAGS.values()))
def test_flag_beside_config_overrides_it_and_is_recorded(flag, tmp_path):
    w = tw.build(tmp_path / "w")
    if flag == "--grid":  # --grid overrides the cell size of a grid config
        w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', "grid_cell_m = 5000")
                       .replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\naoi = [{BOX}]'))
    else:
        w.write_config(tw.CONFIG)
    args, check = _override_cases(w)[flag]
    manifest = _manifest(w, *args)
    assert check(manifest), manifest["run"]
    assert any(o.split(" ")[0] == flag for o in manifest["run"]["overrides"]), manifest["run"]["overrides"]


def test_override_is_repeated_by_verify(tmp_path):
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG)
    manifest = _manifest(w, "--radius", "400")
    assert manifest["run"]["overrides"] == ["--radius 400"]
    result = run_cli(["verify", str(w.out)])
    assert result.exit_code == 0, result.output


def test_every_option_of_screen_is_applied_with_config_or_refused():
    """Introspect `screen`: every input flag reaches build_config and is an override (tested above)
    or refused beside --config; every other option is a run option no config holds."""
    params = {p.name: p for p in screen_command.params}
    inputs = set(inspect.signature(build_config).parameters)
    overrides = set(Overrides.__dataclass_fields__)
    refused = {"sites", "layers"}  # refused beside --config (cases config-with-sites-argument, layer…)
    assert inputs - {"config_path"} == overrides | refused
    assert set(OVERRIDE_FLAGS) == overrides  # each override has a flag, each is tested above
    flags = {p.name: p.opts[0] for p in screen_command.params if p.opts and p.opts[0].startswith("--")}
    assert {flags[n] for n in overrides} == set(OVERRIDE_FLAGS.values())
    run_options = set(params) - inputs
    from sitescreen.run.config import RunConfig
    config_fields = set(RunConfig.__dataclass_fields__)
    assert not run_options & config_fields, "a run option that a config also holds could be silently shadowed"
    assert run_options == {"out_dir", "overwrite", "no_map", "no_report", "self_contained", "offline", "basemap",
                           "engine", "scheduler", "workers", "chunk_size", "stream", "as_json",
                           "verbose", "quiet"}  # the group's -v/-q, accepted after the subcommand too (issue 14)


def test_layer_beside_config_is_refused(tmp_path):
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG)
    result = run_cli(w.args() + ["--layer", f"protected={w.protected}"])
    assert result.exit_code == 2 and "not both" in result.output
    assert not w.out.exists()


def test_overrides_are_validated_like_the_config(tmp_path):
    w = tw.build(tmp_path / "w")
    w.write_config(tw.CONFIG)
    with pytest.raises(ConfigError, match="commodity 'gold-ish' is not one of rare-earths, any"):
        build_config(None, w.config, (), None, None, None, None, "gold-ish", {}, None, False)
