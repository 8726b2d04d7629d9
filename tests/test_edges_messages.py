"""Issue 9, class 7: messages point at the real cause, and every suggested fix works when followed.

Each error names the file and the actual problem; for each message that suggests a fix, a test
follows the advice literally and checks that the run then works. Inputs that are only unusual
(semicolons, tabs, UTF-16, a folder with ``@``, a ``.geotiff`` DEM, ``.json``/KML/zip layers) are
read and give the same numbers as the plain tiny world, computed here with shapely and pyproj.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import tinyworld as tw
from edgecases import Catalogue, assert_error, run_case, run_cli

CASES = Catalogue()
case = CASES.case


def _wkt_rows() -> list[dict]:
    return [{"id": r, "name": n, "wkt": f"POINT ({x} {y})"} for r, n, x, y in tw.SITES]


def _shapefile(w) -> "tw.Path":
    return tw.write_vector(tw.wilderness_frame(), w.root / "wild" / "wild.shp")


# ---------------------------------------------------------------------------------------------
# The examples


@case("sites-where-no-such-state", "deposits.csv", "no record matches the sites filter state = 'Hawaii'",
      "values of state in the file: 'Idaho'", "--sites-where state=VALUE")
def _(w, **_):
    w.extra += ["--sites-where", "state=Hawaii"]


@case("radius-nan", "--radius", "got nan", code=2)
def _(w, **_):
    w.extra += ["--radius", "nan"]


@case("shapefile-without-dbf", "wild.shp", ".dbf file (its attribute table) is missing", "copy them all together")
def _(w, **_):
    shp = _shapefile(w)
    shp.with_suffix(".dbf").unlink()
    w.layers[0] = f"protected={shp}"


@case("path-with-at-sign-not-found", "survey@2024/missing.geojson", "not found")
def _(w, **_):
    (w.root / "survey@2024").mkdir()
    w.layers[0] = f"protected={w.root / 'survey@2024' / 'missing.geojson'}"


@case("wkt-csv-without-crs", "points.csv", "no CRS", "[sites]", "points.csv@EPSG:XXXX")
def _(w, **_):
    w.sites = tw.write_csv(w.root / "points.csv", _wkt_rows())
    w.extra += ["--commodity", "any"]


# Cases of our own


@case("shapefile-without-shx", "wild.shp", ".shx file (its index) is missing", "copy them all together")
def _(w, **_):
    shp = _shapefile(w)
    shp.with_suffix(".shx").unlink()
    w.layers[0] = f"protected={shp}"


@case("sites-spreadsheet", "deposits.xlsx", "spreadsheet", "export the sheet as CSV")
def _(w, **_):
    p = w.root / "deposits.xlsx"
    with zipfile.ZipFile(p, "w") as z:  # the outside of an .xlsx: a zip GDAL's vector drivers do not read as a layer
        z.writestr("[Content_Types].xml", "<Types/>")
    w.sites = p


@case("dbf-given-as-layer", "wild.dbf", "give the .shp file")
def _(w, **_):
    w.layers[0] = f"protected={_shapefile(w).with_suffix('.dbf')}"


@case("csv-unquoted-separator-in-a-value", "deposits.csv", "line 3 has 9 fields but the header has 8",
      "put quotes around values that contain commas")
def _(w, **_):
    lines = w.sites.read_text().splitlines()
    assert '"Cerium,Lanthanum"' in lines[2]
    lines[2] = lines[2].replace('"Cerium,Lanthanum"', "Cerium,Lanthanum")
    w.sites.write_text("\n".join(lines) + "\n")


@case("csv-semicolons-with-unquoted-semicolon", "deposits.csv", "line 2 has 9 fields", "separated by semicolons",
      "put quotes around values that contain semicolons")
def _(w, **_):
    pd.DataFrame(tw.deposit_rows()).to_csv(w.sites, sep=";", index=False)
    lines = w.sites.read_text().splitlines()
    lines[1] = lines[1].replace("Alpha Prospect", "Alpha; Prospect")
    w.sites.write_text("\n".join(lines) + "\n")


@case("utf16-without-byte-order-mark", "deposits.csv", "not UTF-8", "re-save the file as UTF-8")
def _(w, **_):
    w.sites.write_bytes(w.sites.read_text().encode("utf-16-le"))


# ---------------------------------------------------------------------------------------------
# Issue 9 probes: a grid has no columns to blame; a byte-order mark is not a TOML error.


@case("grid-aoi-outside-every-layer", "--aoi: no cell of the grid", "give an area of interest the layers cover",
      "lat -89.")
def _(w, **_):
    w.command = ["screen", "--aoi", "-10,-90,10,-85", "--grid", "50000", *sum((["--layer", s] for s in w.layers), []),
                 "--out", str(w.out), "--no-map", "--no-report"]


@case("config-grid-aoi-outside-every-layer", "run.toml: [run] aoi: no cell of the grid", "layers that cover it")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"\nradius_m = 1000', "grid_cell_m = 20000")
                   .replace('profile = "federal-safeguards"', 'profile = "federal-safeguards"\naoi = [100, 30, 101, 31]'))


@pytest.mark.parametrize("name", ["grid-aoi-outside-every-layer", "config-grid-aoi-outside-every-layer"])
def test_a_grid_outside_the_layers_does_not_blame_columns(name, tmp_path, monkeypatch, request):
    """The grid's message once asked whether the longitude/latitude columns were swapped (a grid has
    none) and gave the corners of the cells' box (lat 74.9 for an area of interest north of 80°)."""
    msg = run_case(CASES, name, tmp_path, monkeypatch, request)
    assert "swapped" not in msg and "columns" not in msg


@pytest.mark.parametrize("which", ["config", "profile", "jobs"])
def test_toml_files_with_a_byte_order_mark_read_as_without(which, tmp_path):
    """Windows editors write a UTF-8 byte-order mark: it once gave 'not valid TOML: Invalid statement
    (at line 1, column 1)'. With or without it, the run's numbers are the same."""
    results = []
    for bom in (b"", b"\xef\xbb\xbf"):
        w = tw.build(tmp_path / f"w{len(bom)}")
        w.write_config(tw.CONFIG)
        args = w.args()
        if which == "profile":
            prof = w.root / "mine.toml"
            prof.write_bytes(bom + (Path(tw.__file__).parents[1] / "layers/profiles/federal-safeguards.toml").read_bytes())
            args += ["--profile", str(prof)]
        elif which == "jobs":
            (w.root / "jobs.toml").write_bytes(bom + b'[[jobs]]\nname = "one"\nconfig = "run.toml"\nout = "out"\n')
            args = ["batch", str(w.root / "jobs.toml")]
        target = w.config if which == "config" else None
        if target is not None:
            target.write_bytes(bom + target.read_bytes())
        r = run_cli(args)
        assert r.exit_code == 0, r.output
        results.append(pd.read_csv(w.out / "sites.csv", dtype=str))
    assert len(results[0]) == len(tw.SITES)
    pd.testing.assert_frame_equal(results[0], results[1])


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_edge(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)


def test_radius_nan_does_not_blame_the_columns(tmp_path):
    w = tw.build(tmp_path / "w")
    result = run_cli(w.args() + ["--radius", "nan"])
    assert result.exit_code == 2 and "swapped" not in result.output and "column" not in result.output


# ---------------------------------------------------------------------------------------------
# The advice works when followed


def _ok(args: list[str], w) -> dict:
    result = run_cli(args)
    assert result.exit_code == 0, result.output
    return json.loads((w.out / "manifest.json").read_text())


def _fail(args: list[str], *expect: str) -> str:
    return assert_error(run_cli(args), expect, 1)


def test_sites_where_advice_works(tmp_path):
    w = tw.build(tmp_path / "w")
    msg = _fail(w.args() + ["--sites-where", "state=Hawaii"], "values of state in the file")
    value = re.search(r"values of state in the file: '([^']+)'", msg).group(1)
    advice = re.search(r"\(--sites-where (\S+)=VALUE", msg).group(1)
    assert _ok(w.args() + ["--sites-where", f"{advice}={value}"], w)["sites"]["sites"] == len(tw.SITES)


def test_wkt_csv_without_crs_advice_works_on_the_command_line_and_in_a_config(tmp_path):
    w = tw.build(tmp_path / "w")
    w.sites = tw.write_csv(w.root / "points.csv", _wkt_rows())
    msg = _fail(w.args() + ["--commodity", "any"], "no CRS")
    suggested = re.search(r"on the command line as (\S+@EPSG:XXXX)", msg).group(1)
    args = w.args() + ["--commodity", "any"]
    args[1] = suggested.replace("XXXX", "4326")  # SITES, as the message says
    assert _ok(args, w)["sites"]["sites"] == len(tw.SITES)
    shutil.rmtree(w.out)
    assert 'crs = "EPSG:…" in [sites]' in msg
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"', 'path = "points.csv"\ncrs = "EPSG:4326"\ncommodity = "any"'))
    assert _ok(w.args(), w)["sites"]["sites"] == len(tw.SITES)


def test_shapefile_advice_works(tmp_path):
    """Copy all the shapefile's files together: the run works."""
    w = tw.build(tmp_path / "w")
    shp = _shapefile(w)
    kept = shp.with_suffix(".dbf").read_bytes()
    shp.with_suffix(".dbf").unlink()
    w.layers[0] = f"protected={shp}"
    _fail(w.args(), "copy them all together")
    shp.with_suffix(".dbf").write_bytes(kept)
    assert _ok(w.args(), w)["sites"]["sites"] == len(tw.SITES)


def test_spreadsheet_advice_works(tmp_path):
    """Export the sheet as CSV with a WKT column: the run works (the tiny world's CSV is that export)."""
    w = tw.build(tmp_path / "w")
    csv = w.sites
    w.sites = w.root / "deposits.xlsx"
    with zipfile.ZipFile(w.sites, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    _fail(w.args(), "export the sheet as CSV")
    w.sites = csv
    assert _ok(w.args(), w)["sites"]["sites"] == len(tw.SITES)


def test_quoting_advice_works(tmp_path):
    w = tw.build(tmp_path / "w")
    good = w.sites.read_text()
    assert '"Cerium,Lanthanum"' in good
    w.sites.write_text(good.replace('"Cerium,Lanthanum"', "Cerium,Lanthanum"))
    _fail(w.args(), "put quotes around values")
    w.sites.write_text(good)
    assert _ok(w.args(), w)["sites"]["sites"] == len(tw.SITES)


# ---------------------------------------------------------------------------------------------
# Unusual but readable inputs: the same numbers as computed independently


def _expected_setback() -> dict[str, float]:
    """Each tiny-world site's distance from its 1 km footprint to the wilderness box, in EPSG:5070."""
    pts = gpd.GeoSeries([shapely.Point(x, y) for _, _, x, y in tw.SITES], crs=4326).to_crs(5070)
    wild = gpd.GeoSeries([shapely.box(*tw.WILDERNESS_BOX)], crs=4326).to_crs(5070).iloc[0]
    fp = pts.buffer(1000.0, quad_segs=16).to_numpy()
    return {r: float(d) for (r, *_), d in zip(tw.SITES, shapely.distance(fp, wild))}


def _setbacks(w) -> dict[str, float]:
    gdf = gpd.read_file(w.out / "sites.gpkg", layer="sites")
    return dict(zip(gdf["site_id"].astype(str), gdf["m_protected_setback"].astype(float)))


def _assert_numbers(w) -> None:
    manifest = _ok(w.args(), w)
    assert manifest["sites"]["sites"] == len(tw.SITES)
    got, want = _setbacks(w), _expected_setback()
    assert set(got) == set(want)
    assert all(0 < v < 50_000 for v in want.values())  # within the search radius: real distances, not inf
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=0.5), k


@pytest.mark.parametrize("how", ["semicolons", "tabs", "utf-16", "utf-8-bom"])
def test_sites_csv_dialects_give_the_same_numbers(how, tmp_path):
    w = tw.build(tmp_path / "w")
    df = pd.DataFrame(tw.deposit_rows())
    if how == "semicolons":
        df.to_csv(w.sites, sep=";", index=False)  # commodity "Cerium,Lanthanum" holds a comma, unquoted
    elif how == "tabs":
        df.to_csv(w.sites, sep="\t", index=False)
    else:
        df.to_csv(w.sites, index=False, encoding="utf-16" if how == "utf-16" else "utf-8-sig")
    _assert_numbers(w)


@pytest.mark.parametrize("how", ["folder-with-at", "json-suffix", "kml", "zipped-shapefile", "file-name-with-at"])
def test_layer_forms_give_the_same_numbers(how, tmp_path):
    w = tw.build(tmp_path / "w")
    if how == "folder-with-at":
        (w.root / "survey@2024").mkdir()
        p = shutil.copy(w.protected, w.root / "survey@2024" / "wild.geojson")
    elif how == "file-name-with-at":
        p = shutil.copy(w.protected, w.root / "wild@v2.geojson")
    elif how == "json-suffix":
        p = shutil.copy(w.protected, w.root / "wild.json")
    elif how == "kml":
        p = w.root / "wild.kml"
        tw.wilderness_frame().to_file(p, driver="KML")
    else:
        shp = _shapefile(w)
        p = w.root / "wild.zip"
        with zipfile.ZipFile(p, "w") as z:
            for f in shp.parent.iterdir():
                z.write(f, f.name)
    w.layers[0] = f"protected={p}"
    _assert_numbers(w)


def test_geotiff_suffix_is_a_raster(tmp_path):
    """A DEM named .geotiff is read as a raster (it was "not a vector format")."""
    w = tw.build(tmp_path / "w")
    w.layers.append(f"dem={tw.write_dem(w.root / 'dem.geotiff')}")
    manifest = _ok(w.args(), w)
    dem = next(e for e in manifest["inputs"] if e["role"] == "dem")
    assert dem["kind"] == "raster" and dem["sites_covered"] == len(tw.SITES)
    tif = tw.build(tmp_path / "t")
    tif.layers.append(f"dem={tw.write_dem(tif.root / 'dem.tif')}")
    _ok(tif.args(), tif)
    a = gpd.read_file(w.out / "sites.gpkg", layer="sites").sort_values("site_id")
    b = gpd.read_file(tif.out / "sites.gpkg", layer="sites").sort_values("site_id")
    assert np.allclose(a["m_steep_terrain"], b["m_steep_terrain"])


def test_tiff_without_a_known_suffix_is_a_raster(tmp_path):
    from sitescreen.inputs.spec import is_raster
    dem = tw.write_dem(tmp_path / "dem.tif")
    odd = tmp_path / "dem.elevation"
    shutil.copy(dem, odd)
    assert is_raster(odd)
    assert not is_raster(tw.write_csv(tmp_path / "x.txt", tw.deposit_rows()))
