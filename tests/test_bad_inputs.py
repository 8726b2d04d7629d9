"""The catalogue of bad inputs: each one through the CLI, one test each.

Every case asserts the exit code, that the error is one line ``Error: …`` that names the file and
the field or value and says what is allowed or what to do, that no traceback is printed, and that
nothing is left behind (the output folder does not exist and no ``.sitescreen-partial-*`` sibling
remains). A few inputs are messy but usable (invalid polygons, null geometries, unparseable rows
with --skip-invalid): those run to the end and the manifest counts what was repaired or dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import tinyworld as tw
from edgecases import Catalogue, run_case, run_cli
from sitescreen.rules.profile import load_profile

#: The roles of the default profile, as the error lists them (sorted)
DEFAULT_ROLES = ", ".join(sorted({r for c in load_profile("federal-safeguards").criteria for r in c.roles}))

CASES = Catalogue()
case = CASES.case


# ---------------------------------------------------------------------------------------------
# Files that are not there, not files, not readable, or not a format GDAL can open


@case("sites-file-missing", "nowhere.csv", "not found", "check the path")
def _(w, **_):
    w.sites = w.root / "nowhere.csv"


@case("layer-file-missing", "wild_missing.geojson", "protected", "not found", "check the path")
def _(w, **_):
    w.layers[0] = f"protected={w.root / 'wild_missing.geojson'}"


@case("sites-path-is-a-directory", "adir", "is a directory", "expected a file")
def _(w, **_):
    (w.root / "adir").mkdir()
    w.sites = w.root / "adir"


@case("layer-path-is-a-directory", "ldir", "is a directory", "expected a file")
def _(w, **_):
    (w.root / "ldir").mkdir()
    w.layers[0] = f"protected={w.root / 'ldir'}"


@case("layer-file-unreadable", "protected.geojson", "not readable", "permissions")
def _(w, monkeypatch, **_):
    w.protected.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate what every other user sees
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == w.protected else real(p, mode, *a, **k))


@case("geopackage-truncated", "federal.gpkg", "not a vector format GDAL can open", "malformed")
def _(w, **_):
    data = w.federal.read_bytes()
    w.federal.write_bytes(data[: len(data) // 3])


@case("geojson-truncated", "protected.geojson", "GDAL can open")
def _(w, **_):
    data = w.protected.read_bytes()
    w.protected.write_bytes(data[: len(data) // 2])


@case("shapefile-truncated", "wild.shp", "truncated", "copy or download it again")
def _(w, **_):
    shp = tw.write_vector(tw.wilderness_frame([shapely.box(-114.47, 44.47, -114.42, 44.52).buffer(0.01)]), w.root / "wild" / "wild.shp")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) - 200])
    w.layers[0] = f"protected={shp}"


@case("format-gdal-cannot-open", "notes.txt", "not a vector format GDAL can open")
def _(w, **_):
    p = w.root / "notes.txt"
    p.write_text("these are field notes, not a map\n")
    w.layers[0] = f"protected={p}"


@case("raster-not-a-raster", "dem.tif", "not a raster GDAL can open")
def _(w, **_):
    p = w.root / "dem.tif"
    p.write_text("not a GeoTIFF")
    w.layers.append(f"dem={p}")


# ---------------------------------------------------------------------------------------------
# Layers that are empty, named wrongly, or have the wrong geometry


@case("layer-empty", "empty.geojson", "no features", "leave the layer out")
def _(w, **_):
    p = w.root / "empty.geojson"
    p.write_text('{"type": "FeatureCollection", "features": []}')
    w.layers[0] = f"protected={p}"


@case("sites-file-empty", "deposits.csv", "no records")
def _(w, **_):
    tw.write_csv(w.sites, [], columns=tw.DEPOSIT_COLUMNS)


@case("geopackage-layer-name-unknown", "federal.gpkg", "'nope'", "layers in the file: padus")
def _(w, **_):
    w.layers[1] = f"federal_land={w.federal}:nope"


@case("layer-without-crs", "wild.shp", "no CRS", "@EPSG:")
def _(w, **_):
    shp = tw.write_vector(tw.wilderness_frame(crs="EPSG:5070"), w.root / "wild" / "wild.shp")
    shp.with_suffix(".prj").unlink()
    w.layers[0] = f"protected={shp}"


@case("csv-xy-without-crs", "sites_xy.csv", "no CRS", "crs")
def _(w, **_):
    rows = [{"id": r, "name": n, "x": x, "y": y} for r, n, x, y in tw.SITES]
    w.sites = tw.write_csv(w.root / "sites_xy.csv", rows)
    w.extra += ["--commodity", "any"]


@case("dem-tagged-4326-but-metres", "reynolds_creek_tollgate_topo_50m.tif", "EPSG:4326", "override", "@EPSG:")
def _(w, request, **_):
    shared = request.getfixturevalue("shared_data")
    w.layers.append(f"dem={shared / 'rasters' / 'reynolds_creek_tollgate_topo_50m.tif'}")


@case("vector-tagged-4326-but-metres", "utm.geojson", "EPSG:4326", "outside", "override")
def _(w, **_):
    gdf = tw.wilderness_frame(crs="EPSG:32611").set_crs("EPSG:4326", allow_override=True)
    p = w.root / "utm.geojson"
    gdf.to_file(p, driver="GeoJSON")
    w.layers[0] = f"protected={p}"


@case("points-where-polygons-required", "wild_points.geojson", "points", "polygons are required", "protected")
def _(w, **_):
    gdf = tw.wilderness_frame([shapely.Point(-114.45, 44.5)])
    w.layers[0] = f"protected={tw.write_vector(gdf, w.root / 'wild_points.geojson')}"


@case("points-as-watershed-layer", "huc_points.geojson", "points", "polygons are required", "watershed")
def _(w, **_):
    gdf = gpd.GeoDataFrame({"huc8": ["17060204"], "name": ["Test (synthetic)"]},
                           geometry=[shapely.Point(-114.45, 44.5)], crs="EPSG:4326")
    w.layers.append(f"watershed={tw.write_vector(gdf, w.root / 'huc_points.geojson')}")


@case("lines-as-sites", "lines.csv", "LINESTRING", "all points", "or all polygons")
def _(w, **_):
    rows = tw.deposit_rows(location=lambda x, y: f"LINESTRING ({x} {y}, {x + 0.01} {y + 0.01})")
    w.sites = tw.write_csv(w.root / "lines.csv", rows)


@case("layer-all-geometries-null", "nulls.geojson", "null or empty geometry", "leave the layer out")
def _(w, **_):
    p = w.root / "nulls.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NAME1": "A (synthetic)", "FEATURE1": "Wilderness FS", "AGBUR": "FS",
                                           "NAME2": "x"}, "geometry": None}]}))
    w.layers[0] = f"protected={p}"


@case("sites-all-geometries-empty", "deposits.csv", "no site has a location")
def _(w, **_):
    tw.write_csv(w.sites, tw.deposit_rows(location=lambda x, y: "POINT EMPTY"))


# ---------------------------------------------------------------------------------------------
# Rows and fields


@case("csv-wkt-does-not-parse", "deposits.csv", "location", "line 3, 5", "POINT (-114.4", "--skip-invalid")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[1]["location"] = "POINT (-114.4 44.55"
    rows[3]["location"] = "PIONT (-114.6 44.6)"
    tw.write_csv(w.sites, rows)


@case("csv-lonlat-not-numbers", "lonlat.csv", "'lon'/'lat'", "not numbers", "line(s) 4")
def _(w, **_):
    rows = [{"id": r, "name": n, "lon": x, "lat": y} for r, n, x, y in tw.SITES]
    rows[2]["lat"] = "44°27'N"
    w.sites = tw.write_csv(w.root / "lonlat.csv", rows)
    w.extra += ["--commodity", "any"]


@case("csv-lonlat-swapped", "lonlat.csv", "latitude", "swapped")
def _(w, **_):
    rows = [{"id": r, "name": n, "lon": y, "lat": x} for r, n, x, y in tw.SITES]
    w.sites = tw.write_csv(w.root / "lonlat.csv", rows)
    w.extra += ["--commodity", "any"]


@case("sites-outside-every-layer", "florida.csv", "no site lies within any layer", "swapped")
def _(w, **_):
    far = [(r, n, x + 33.0, y - 17.0) for r, n, x, y in tw.SITES]  # Florida, far from the Idaho layers
    w.sites = tw.write_csv(w.root / "florida.csv", tw.deposit_rows(far))


@case("csv-without-geometry-columns", "plain.csv", "without a geometry", "columns present: id, name")
def _(w, **_):
    w.sites = tw.write_csv(w.root / "plain.csv", [{"id": "1", "name": "x"}])


@case("mapped-field-missing-inline-definition", "protected.geojson", "'WILD_NAME'", "fields present: NAME1, FEATURE1, AGBUR, NAME2")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "protected.geojson"',
                                     'path = "protected.geojson"\ndefinition = { fields = { name = "WILD_NAME" } }'))


@case("mapped-field-missing-known-schema", "protected.geojson", "'NAME2'", "fields present: NAME1, FEATURE1, AGBUR")
def _(w, **_):
    gdf = tw.wilderness_frame().drop(columns="NAME2")
    tw.write_vector(gdf, w.protected)


@case("sites-filter-field-missing", "deposits.csv", "'county'", "fields")
def _(w, **_):
    w.extra += ["--sites-where", "county=Lemhi"]


@case("csv-not-utf8", "deposits.csv", "not UTF-8", "re-save the file as UTF-8")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[0]["site_name"] = "Montaña Prospect (synthetic)"
    tw.write_csv(w.sites, rows, encoding="latin-1")


@case("shapefile-text-not-in-its-declared-encoding", "wild.shp", "'NAME1'", "not valid UTF-8", ".cpg", "LATIN1")
def _(w, **_):
    gdf = tw.wilderness_frame()
    gdf["NAME1"] = ["Montaña Wilderness (synthetic)"]
    shp = tw.write_vector(gdf, w.root / "wild" / "wild.shp")  # .cpg says UTF-8 ...
    dbf = shp.with_suffix(".dbf")  # ... but the text is Latin-1 (same length: ñ is one byte, padded)
    dbf.write_bytes(dbf.read_bytes().replace("ña Wilderness (synthetic)".encode(), "ña Wilderness (synthetic) ".encode("latin-1")))
    w.layers[0] = f"protected={shp}"


@case("geojson-text-not-utf8", "latin.geojson", "'NAME1'", "not valid UTF-8", "re-save the file as UTF-8")
def _(w, **_):
    p = w.root / "latin.geojson"
    tw.wilderness_frame().to_file(p, driver="GeoJSON")
    p.write_bytes(p.read_bytes().replace(b"Test Wilderness 0", "Montaña".encode("latin-1")))
    w.layers[0] = f"protected={p}"


@case("duplicate-site-ids", "claims.geojson", "duplicate site ids", "'7'", "must be unique")
def _(w, **_):
    gdf = gpd.GeoDataFrame({"record_id": ["7", "7", "8"], "name": ["A (synthetic)", "B (synthetic)", "C (synthetic)"]},
                           geometry=[shapely.box(-114.6, 44.4, -114.58, 44.42), shapely.box(-114.3, 44.6, -114.28, 44.62),
                                     shapely.box(-114.2, 44.3, -114.18, 44.32)], crs="EPSG:4326")
    w.sites = tw.write_vector(gdf, w.root / "claims.geojson")


@case("no-record-matches-commodity", "deposits.csv", "commodity", "'rare-earths'")
def _(w, **_):
    rows = tw.deposit_rows()
    for r in rows:
        r["commodity"] = "Gold,Silver"
    tw.write_csv(w.sites, rows)


@case("raster-does-not-overlap-sites", "far_dem.tif", "does not overlap any site", "leave the layer out")
def _(w, **_):
    w.layers.append(f"dem={tw.write_dem(w.root / 'far_dem.tif', bounds_lonlat=(-117.0, 42.2, -116.8, 42.4))}")


# ---------------------------------------------------------------------------------------------
# Profiles

PROFILE = (Path(__file__).resolve().parent.parent / "layers" / "profiles" / "federal-safeguards.toml").read_text()


def _profile(w, old: str, new: str, count: int = 1) -> None:
    text = PROFILE.replace(old, new, count)
    assert text != PROFILE, old
    p = w.root / "my-profile.toml"
    p.write_text(text, encoding="utf-8")
    w.extra += ["--profile", str(p)]


@case("profile-unknown-criterion-kind", "my-profile.toml", "protected_overlap", "'overlaps'", "allowed: overlap, distance")
def _(w, **_):
    _profile(w, 'kind = "overlap"', 'kind = "overlaps"')


@case("profile-role-without-layer", "my-profile.toml", "criterion steep_terrain", "role dem", "--layer dem=PATH")
def _(w, **_):
    _profile(w, 'weight = 0.2\noptional = true\nsafeguard = "Protect watersheds from toxic runoff',
             'weight = 0.2\noptional = false\nsafeguard = "Protect watersheds from toxic runoff')


@case("layer-role-unknown-to-profile", "protectd", "unknown role", f"uses roles {DEFAULT_ROLES}")
def _(w, **_):
    w.layers[0] = f"protectd={w.protected}"


@case("profile-unknown-selection", "my-profile.toml", "'protect'", "selections: protected, federal")
def _(w, **_):
    _profile(w, 'select = "protected"', 'select = "protect"')


@case("profile-negative-weight", "my-profile.toml", "federal_land", "weight must be ≥ 0", "-0.25")
def _(w, **_):
    _profile(w, "weight = 0.25", "weight = -0.25")


@case("profile-non-numeric-weight", "my-profile.toml", "federal_land", "weight must be a number", "'0.25'")
def _(w, **_):
    _profile(w, "weight = 0.25", 'weight = "0.25"')


@case("profile-weights-not-summing-to-1", "my-profile.toml", "weights must sum to 1", "sum to 1.1")
def _(w, **_):
    _profile(w, "weight = 0.25", "weight = 0.35")


@case("profile-verdict-thresholds-overlap", "my-profile.toml", "verdict thresholds overlap", "review=80", "favorable=70")
def _(w, **_):
    _profile(w, "review = 40", "review = 80")


@case("profile-transform-range-inverted", "my-profile.toml", "protected_setback", "increasing x", "inverted")
def _(w, **_):
    _profile(w, "points = [[300, 0.0], [1500, 0.6], [5000, 1.0]]", "points = [[5000, 0.0], [1500, 0.6], [300, 1.0]]")


@case("profile-suitability-outside-0-1", "my-profile.toml", "federal_land", "[0, 1]", "2.0")
def _(w, **_):
    _profile(w, "points = [[0.0, 0.0], [1.0, 1.0]]", "points = [[0.0, 0.0], [1.0, 2.0]]")


@case("profile-not-toml", "my-profile.toml", "not valid TOML")
def _(w, **_):
    _profile(w, "[verdicts]", "[verdicts")


@case("profile-name-unknown", "'federal-safeguard'", "built-in profiles: federal-safeguards")
def _(w, **_):
    w.extra += ["--profile", "federal-safeguard"]


@case("profile-file-missing", "missing-profile.toml", "not found")
def _(w, **_):
    w.extra += ["--profile", str(w.root / "missing-profile.toml")]


# ---------------------------------------------------------------------------------------------
# Run configs and options


@case("config-unknown-key", "run.toml", "layres", "allowed: title, sites, run, layers")
def _(w, **_):
    w.write_config(tw.CONFIG + '\n[[layres]]\nrole = "x"\n')


@case("crs-option-unknown", "--crs", "'EPSG:99999'", "e.g. EPSG:5070")
def _(w, **_):
    w.extra += ["--crs", "EPSG:99999"]


@case("layer-option-malformed", "--layer", "ROLE=PATH", code=2)
def _(w, **_):
    w.layers[0] = "protected"


# ---------------------------------------------------------------------------------------------
# The output folder


@case("output-is-a-file", "out", "is a file, not a folder")
def _(w, **_):
    w.out = w.root / "out.txt"
    w.out.write_text("x")


@case("output-parent-is-a-file", "afile", "not a folder")
def _(w, **_):
    (w.root / "afile").write_text("x")
    w.out = w.root / "afile" / "out"


@case("output-parent-not-writable", "ro", "not writable")
def _(w, monkeypatch, **_):
    ro = w.root / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    w.out = ro / "out"
    if os.geteuid() == 0:  # root writes anywhere: simulate what every other user sees
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == ro else real(p, mode, *a, **k))


@case("output-exists-without-overwrite", "out", "not empty", "--overwrite")
def _(w, **_):
    w.out.mkdir()
    (w.out / "keep.txt").write_text("earlier results")


@case("disk-full-while-writing", "out", "no space left", "nothing was written")
def _(w, monkeypatch, **_):
    import pyarrow.parquet as pq

    def full(*a, **k):  # as pyarrow reports it: an OSError without errno, the errno in its text
        raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")
    # sites.gpkg is written first; the disk "fills up" at sites.parquet
    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)


@case("disk-full-while-writing-the-geopackage", "out", "no space left", "nothing was written")
def _(w, monkeypatch, **_):
    import pyogrio

    def full(*a, **k):
        raise pyogrio.errors.DataSourceError("sqlite3_exec(COMMIT) failed: database or disk is full: No space left on device")
    monkeypatch.setattr(pyogrio, "write_dataframe", full)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)


def test_catalogue_size():
    assert len(CASES) >= 30


# ---------------------------------------------------------------------------------------------
# Messy but usable: repaired or dropped, counted in the manifest, exit 0


def _ok(w) -> dict:
    result = run_cli(w.args())
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return json.loads((w.out / "manifest.json").read_text())


def test_invalid_geometries_are_repaired_and_counted(tmp_path):
    w = tw.build(tmp_path / "w")
    bowtie = shapely.Polygon([(-114.47, 44.47), (-114.42, 44.52), (-114.42, 44.47), (-114.47, 44.52)])
    assert not bowtie.is_valid
    tw.write_vector(tw.wilderness_frame([bowtie, shapely.box(-114.36, 44.36, -114.34, 44.38)]), w.protected)
    manifest = _ok(w)
    entry = next(e for e in manifest["inputs"] if e["role"] == "protected")
    assert entry["repairs"] == 1
    assert entry["features_used"] == 2


def test_invalid_site_polygons_are_repaired_and_counted(tmp_path):
    w = tw.build(tmp_path / "w")
    bowtie = shapely.Polygon([(-114.6, 44.6), (-114.58, 44.62), (-114.58, 44.6), (-114.6, 44.62)])
    gdf = gpd.GeoDataFrame({"record_id": ["1", "2"], "name": ["A (synthetic)", "B (synthetic)"]},
                           geometry=[bowtie, shapely.box(-114.3, 44.6, -114.28, 44.62)], crs="EPSG:4326")
    w.sites = tw.write_vector(gdf, w.root / "claims.geojson")
    manifest = _ok(w)
    assert manifest["sites"]["repairs"] == 1
    assert manifest["sites"]["sites"] == 2


def test_null_and_empty_geometries_are_dropped_and_counted(tmp_path):
    w = tw.build(tmp_path / "w")
    p = w.root / "mixed.geojson"
    props = {"NAME1": "A (synthetic)", "FEATURE1": "Wilderness FS", "AGBUR": "FS", "NAME2": "x"}
    box = shapely.geometry.mapping(shapely.box(*tw.WILDERNESS_BOX))
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": None},
        {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": []}},
        {"type": "Feature", "properties": props, "geometry": box}]}))
    w.layers[0] = f"protected={p}"
    manifest = _ok(w)
    entry = next(e for e in manifest["inputs"] if e["role"] == "protected")
    assert entry["features_used"] == 1
    assert entry["features_in_file"] == 3  # the two without geometry are never read: they are nowhere


def test_sites_without_location_are_counted(tmp_path):
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[0]["location"] = ""
    rows[1]["location"] = "POINT EMPTY"
    tw.write_csv(w.sites, rows)
    manifest = _ok(w)
    assert manifest["sites"]["records_without_location"] == 2
    assert manifest["sites"]["sites"] == 2


def test_unparseable_rows_skipped_with_skip_invalid_are_counted(tmp_path):
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[1]["location"] = "POINT (-114.4 44.55"
    tw.write_csv(w.sites, rows)
    w.extra.append("--skip-invalid")
    manifest = _ok(w)
    assert manifest["sites"]["records_skipped_invalid"] == 1
    assert manifest["sites"]["sites"] == 3


def test_tollgate_dem_with_the_suggested_override_runs(tmp_path, shared_data):
    """The fix the CRS error suggests works: the Tollgate DEM with @EPSG:32611."""
    w = tw.build(tmp_path / "w")
    sites = [("2001", "Tollgate A (synthetic)", -116.80, 43.20), ("2002", "Tollgate B (synthetic)", -116.75, 43.25)]
    tw.write_csv(w.sites, tw.deposit_rows(sites))
    tw.write_vector(tw.padus_frame([shapely.box(-117.2, 42.9, -116.3, 43.5)]), w.federal, layer="padus")
    dem = shared_data / "rasters" / "reynolds_creek_tollgate_topo_50m.tif"
    w.layers.append(f"dem={dem}@EPSG:32611")
    manifest = _ok(w)
    entry = next(e for e in manifest["inputs"] if e["role"] == "dem")
    assert entry["crs_override"] == "EPSG:32611"
    assert entry["sites_covered"] == 2
