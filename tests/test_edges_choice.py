"""Issue 9 follow-ups found by probing, classes 4 (never guess which data to use) and 7 (messages
point at the real cause, and their advice works when followed).

Failures go through the CLI catalogue (one line ``Error: …``, nothing left behind); the inputs that
must run are ordinary tests whose expected numbers are derived from a run on unambiguous input.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

import tinyworld as tw
from edgecases import Catalogue, error_lines, run_case, run_cli

CASES = Catalogue()
case = CASES.case


def _sites_csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "sites.csv", dtype={"site_id": str}).set_index("site_id")


def _ok(args) -> None:
    r = run_cli(args)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output


# ---------------------------------------------------------------------------------------------
# Rasters of several bands: the band is named or the run stops (never band 1 by default)


def _slopes(w: int, degrees_lo: float, degrees_hi: float) -> np.ndarray:
    slope = np.radians(degrees_lo + (degrees_hi - degrees_lo) * np.sin(np.arange(w) / 9.0) ** 2)
    return 1000 + np.cumsum(np.tan(slope)) * 100.0


def multiband_dem(path: Path, descriptions=("gentle", "steep"), count: int = 2) -> Path:
    """A DEM (UTM 11N, 100 m cells) of ``count`` bands: band 1 slopes 2°–8° (never above 20°),
    band 2 10°–35° (partly above), band 3 and on flat; each band described as ``descriptions``."""
    x0, _, x1, y1 = gpd.GeoSeries([shapely.box(-114.7, 44.35, -114.2, 44.7)], crs=4326).to_crs(26911).total_bounds
    w = h = int(np.ceil((x1 - x0) / 100.0))
    bands = [_slopes(w, 2, 8), _slopes(w, 10, 35)] + [np.full(w, 1000.0)] * (count - 2)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=count, dtype="float32", crs="EPSG:26911",
                       transform=Affine(100.0, 0, x0, 0, -100.0, y1), nodata=-9999.0) as dst:
        for i, z in enumerate(bands[:count], start=1):
            dst.write(np.broadcast_to(z, (h, w)).astype("float32"), i)
            if i <= len(descriptions) and descriptions[i - 1]:
                dst.set_band_description(i, descriptions[i - 1])
    return path


@case("dem-two-bands-none-named", "dem.tif", "2 bands", "names none", "1 (gentle, gray)", "2 (steep, undefined)",
      "--layer dem=", ":N", "band = N")
def _(w, **_):
    w.layers.append(f"dem={multiband_dem(w.root / 'dem.tif')}")


@case("dem-three-bands-undescribed", "dem.tif", "3 bands", "names none", "bands: 1 (gray); 2 (undefined); 3 (undefined)")
def _(w, **_):
    w.layers.append(f"dem={multiband_dem(w.root / 'dem.tif', descriptions=(), count=3)}")


@case("dem-band-description-unknown", "dem.tif", "no band is described as 'elevation'", "1 (gentle", ":N")
def _(w, **_):
    w.layers.append(f"dem={multiband_dem(w.root / 'dem.tif')}:elevation")


@case("dem-band-description-twice", "dem.tif", "several bands are described as 'same'")
def _(w, **_):
    w.layers.append(f"dem={multiband_dem(w.root / 'dem.tif', descriptions=('same', 'same'))}:same")


@case("dem-band-number-too-high", "dem.tif", "band 3 does not exist", "2 band(s)", "2 (steep")
def _(w, **_):
    w.layers.append(f"dem={multiband_dem(w.root / 'dem.tif')}:3")


@case("config-band-and-layer-disagree", "dem.tif", "band 1 and layer 'steep' (band 2) name different bands")
def _(w, **_):
    multiband_dem(w.root / "dem.tif")
    w.write_config(tw.CONFIG + '[[layers]]\nrole = "dem"\npath = "dem.tif"\nband = 1\nlayer = "steep"\n')


@case("config-multiband-without-band", "dem.tif", "2 bands", "names none", "band = N")
def _(w, **_):
    multiband_dem(w.root / "dem.tif")
    w.write_config(tw.CONFIG + '[[layers]]\nrole = "dem"\npath = "dem.tif"\n')


# ---------------------------------------------------------------------------------------------
# Text that is the same text is the same value: "1001 " is site 1001, "FED " is FED (inputs/text.py)


@case("site-ids-differ-only-by-trailing-space", "deposits.csv", "duplicate site ids '1001'",
      "(records 1, 4)", "field 'record_id'", "must be unique")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[3]["record_id"] = "1001 "
    tw.write_csv(w.sites, rows)


@case("site-ids-differ-only-by-unicode-composition", "deposits.csv", "duplicate site ids 'Ré1'",
      "(records 1, 2)")
def _(w, **_):
    rows = tw.deposit_rows()
    rows[0]["record_id"], rows[1]["record_id"] = "R\u00e91", "Re\u03011"
    tw.write_csv(w.sites, rows)


@case("id-field-flag-with-a-leading-space", "claims.geojson", "duplicate site ids '7'", "(--id-field)",
      "(records 1, 2: ' 7')")
def _(w, **_):
    pts = [shapely.Point(x, y) for _, _, x, y in tw.SITES[:2]]
    w.sites = tw.write_vector(gpd.GeoDataFrame({"claim": ["7", " 7"]}, geometry=pts, crs=4326), w.root / "claims.geojson")
    w.extra += ["--id-field", "claim"]


@case("sites-where-differs-only-by-case", "deposits.csv", "no record matches the sites filter state = 'idaho'",
      "values of state in the file: 'Idaho'")
def _(w, **_):
    w.extra += ["--sites-where", "state=idaho"]


# ---------------------------------------------------------------------------------------------
# More sources that offer several answers: refused, naming them, with advice that works


def generic_csv(w, **columns) -> None:
    """A sites CSV of no known definition: the tiny world's sites with ``columns`` beside their ids
    (and their CRS, which a WKT column needs)."""
    pd.DataFrame({"id": [s[0] for s in tw.SITES], "crs": "EPSG:4326", **columns}).to_csv(w.sites, index=False)


WKT = [f"POINT ({x} {y})" for _, _, x, y in tw.SITES]
LON = [x for _, _, x, _ in tw.SITES]
LAT = [y for *_, y in tw.SITES]
ELSEWHERE = [x + 0.2 for x in LON]  # another place for every site


@case("csv-wkt-and-lonlat-columns", "deposits.csv", "2 geometries", "'WKT', 'lon'/'lat'", "no layer definition names one",
      "[sites] table", 'definition = { geometry = { wkt = "COLUMN" } }', 'lon = "X", lat = "Y"')
def _(w, **_):
    generic_csv(w, WKT=WKT, lon=ELSEWHERE, lat=LAT)


@case("csv-two-lonlat-pairs", "deposits.csv", "2 geometries", "'lon'/'lat', 'longitude'/'latitude'")
def _(w, **_):
    generic_csv(w, lon=LON, lat=LAT, longitude=ELSEWHERE, latitude=LAT)


@case("csv-lonlat-and-xy", "deposits.csv", "2 geometries", "'lon'/'lat', 'x'/'y'")
def _(w, **_):
    generic_csv(w, x=ELSEWHERE, y=LAT, lon=LON, lat=LAT)


@case("layer-csv-two-geometries", "wild.csv", "2 geometries", "[[layers]] table with role = \"protected\"")
def _(w, **_):
    box = shapely.box(*tw.WILDERNESS_BOX)
    attrs = tw.wilderness_frame().drop(columns="geometry")
    attrs.assign(wkt=[box.wkt], geometry=[box.buffer(0.05).wkt]).to_csv(w.root / "wild.csv", index=False)
    w.layers[0] = f"protected={w.root / 'wild.csv'}"


@case("two-id-like-fields", "claims.geojson", "fields 'claim_id', 'lease_id' all look like site ids",
      "--id-field FIELD", 'id_field = "FIELD"')
def _(w, **_):
    pts = [shapely.Point(x, y) for _, _, x, y in tw.SITES]
    w.sites = tw.write_vector(gpd.GeoDataFrame({"claim_id": list("abcd"), "lease_id": list("wxyz")}, geometry=pts,
                                               crs=4326), w.root / "claims.geojson")


@case("folder-of-two-shapefiles", "shp", "is a directory", "holds the shapefiles a.shp, b.shp", "give one of them")
def _(w, **_):
    tw.write_vector(tw.wilderness_frame(), w.root / "shp" / "a.shp")
    tw.write_vector(tw.wilderness_frame([shapely.box(-114.9, 44.9, -114.8, 44.95)]), w.root / "shp" / "b.shp")
    w.layers[0] = f"protected={w.root / 'shp'}"


@case("folder-with-a-layer-name", "shp", "is a directory", "holds the shapefiles a.shp")
def _(w, **_):
    tw.write_vector(tw.wilderness_frame(), w.root / "shp" / "a.shp")
    w.layers[0] = f"protected={w.root / 'shp'}:a"


@case("two-rasters-for-one-role", "b.tif", "a second raster for role 'dem'", "a.tif", "gdalbuildvrt")
def _(w, **_):
    w.layers += [f"dem={tw.write_dem(w.root / 'a.tif')}", f"dem={tw.write_dem(w.root / 'b.tif', cell_m=100)}"]


@case("same-layer-twice-for-a-role", "protected.geojson", "given twice for role 'protected'", "count twice")
def _(w, **_):
    w.layers.append(f"protected={w.protected}")


@case("config-same-layer-twice", "federal.gpkg", "given twice for role 'federal_land'", "run.toml")
def _(w, **_):
    w.write_config(tw.CONFIG + '[[layers]]\nrole = "federal_land"\npath = "./federal.gpkg"\nlayer = "padus"\n')


@case("config-band-on-a-vector-layer", "run.toml", "layers[0]", "'band' is only for a raster layer", "remove band")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "protected.geojson"', 'path = "protected.geojson"\nband = 2'))


@case("csv-layer-with-a-layer-name", "wild.csv", "a csv file holds one layer", "layer 'other'", "remove the layer name")
def _(w, **_):
    box = shapely.box(*tw.WILDERNESS_BOX)
    tw.wilderness_frame().drop(columns="geometry").assign(wkt=[box.wkt], crs="EPSG:4326").to_csv(w.root / "wild.csv", index=False)
    w.layers[0] = f"protected={w.root / 'wild.csv'}:other"


@case("parquet-layer-with-a-layer-name", "wild.parquet", "a parquet file holds one layer", "layer 'draft'")
def _(w, **_):
    tw.wilderness_frame().to_parquet(w.root / "wild.parquet")
    w.layers[0] = f"protected={w.root / 'wild.parquet'}:draft"


@case("sites-csv-with-a-layer-name", "deposits.csv", "a csv file holds one layer", "layer 'sheet2'")
def _(w, **_):
    w.command = ["screen", f"{w.sites}:sheet2", *w.args()[2:]]


@case("config-sites-csv-with-a-layer", "deposits.csv", "a csv file holds one layer", "layer 'x'")
def _(w, **_):
    w.write_config(tw.CONFIG.replace('path = "deposits.csv"', 'path = "deposits.csv"\nlayer = "x"'))


def _zip_of(w, name: str, frames: dict) -> Path:
    import zipfile
    folder = w.root / f"{name}-parts"
    for stem, frame in frames.items():
        tw.write_vector(frame, folder / f"{stem}.shp")
    path = w.root / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, p.name)
    return path


@case("zip-of-two-shapefiles", "wild.zip", "2 layers", "'a'", "'b'", "match a layer definition", ":LAYER")
def _(w, **_):
    far = tw.wilderness_frame([shapely.box(-114.9, 44.9, -114.8, 44.95)])
    w.layers[0] = f"protected={_zip_of(w, 'wild', {'a': tw.wilderness_frame(), 'b': far})}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_edge(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)


def _single_band(path: Path, src: Path, band: int) -> Path:
    with rasterio.open(src) as s:
        profile = {**s.profile, "count": 1}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(s.read(band), 1)
    return path


@pytest.mark.parametrize("band", [1, 2])
def test_multiband_advice_works_when_followed(tmp_path, band):
    """Following the error's advice (``:N`` on the flag, ``band = N`` in a config, or the band's
    description) measures band N: the numbers of the same band written as a single-band raster,
    and the manifest records the band."""
    w = tw.build(tmp_path / "w")
    dem = multiband_dem(w.root / "dem.tif")
    r = run_cli([*w.args(), "--layer", f"dem={dem}"])
    assert r.exit_code == 1
    msg = error_lines(r)[0]
    flag = msg[msg.index("--layer ") + len("--layer "): msg.index(" or band = N")].replace(":N", f":{band}")
    alone = tw.build(tmp_path / "alone")
    _ok([*alone.args(), "--layer", f"dem={_single_band(alone.root / 'one.tif', dem, band)}"])
    want = _sites_csv(alone.out)["m_steep_terrain"]
    assert (want > 0).any() == (band == 2)  # the two bands give different numbers
    ways = {"flag": [*w.args(), "--layer", flag],
            "description": [*w.args(), "--layer", f"dem={dem}:{('gentle', 'steep')[band - 1]}"]}
    w.write_config(tw.CONFIG + f'[[layers]]\nrole = "dem"\npath = "dem.tif"\nband = {band}\n')
    ways["config"] = w.args()
    for how, args in ways.items():
        _ok([*args, "--overwrite"])
        pd.testing.assert_series_equal(_sites_csv(w.out)["m_steep_terrain"], want, check_exact=True, obj=how)
        record = json.loads((w.out / "manifest.json").read_text())
        assert [i["band"] for i in record["inputs"] if i["kind"] == "raster"] == [band], how


def test_single_band_raster_needs_no_band_and_records_band_1(tmp_path):
    w = tw.build(tmp_path / "w")
    dem = tw.write_dem(w.root / "dem.tif")
    _ok([*w.args(), "--layer", f"dem={dem}"])
    record = json.loads((w.out / "manifest.json").read_text())
    assert [i["band"] for i in record["inputs"] if i["kind"] == "raster"] == [1]


# ---------------------------------------------------------------------------------------------
# Project files are decoded once (sitescreen.inputs.tomlfile): what the run read, the map re-reads


def test_profile_with_a_byte_order_mark_keeps_the_maps_reweight_panel(tmp_path):
    """A profile saved with a UTF-8 BOM (accepted by the run) once made the map's re-weighting
    unavailable ("cannot be read as TOML"): the map re-reads it with the run's one decoder."""
    from sitescreen.outputs import reweight
    from sitescreen.record.manifest import read_record
    from sitescreen.rules.profile import builtin_profiles
    w = tw.build(tmp_path / "w")
    profile = w.root / "bom.toml"
    profile.write_bytes(b"\xef\xbb\xbf" + builtin_profiles()["federal-safeguards"].read_bytes())
    _ok([*w.args(), "--profile", str(profile)])
    record = read_record(w.out / "manifest.json")
    names = [c.name for c in reweight.weighted(record)]
    text, note = reweight.profile_template(record, names)
    assert note == "" and text is not None
    plain = tw.build(tmp_path / "plain")
    _ok([*plain.args(), "--profile", str(builtin_profiles()["federal-safeguards"])])
    want, _ = reweight.profile_template(read_record(plain.out / "manifest.json"), names)
    assert text.split("\n", 3)[3] == want.split("\n", 3)[3]  # the same rules; only the header's hash differs


def test_site_id_with_surrounding_space_is_the_id_without(tmp_path):
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[1]["record_id"] = " 1002\t"
    tw.write_csv(w.sites, rows)
    _ok(w.args())
    assert sorted(_sites_csv(w.out).index) == sorted(s[0] for s in tw.SITES)


def test_layer_text_with_surrounding_space_selects_like_the_clean_text(tmp_path):
    """PAD-US Mang_Type "FED " (padded, as some exports write it) once failed to select as federal
    land with exit 0; the designation and manager fields compare as their clean text."""
    want = tw.build(tmp_path / "clean")
    _ok(want.args())
    w = tw.build(tmp_path / "padded")
    tw.write_vector(tw.padus_frame(mang="FED ", des=" NF"), w.federal, layer="padus")
    _ok(w.args())
    got, ref = _sites_csv(w.out), _sites_csv(want.out)
    assert (ref["m_federal_land"] > 0).all()  # the selection matters to the numbers
    pd.testing.assert_frame_equal(got.filter(regex="^(m_|s_|score|verdict)"), ref.filter(regex="^(m_|s_|score|verdict)"))


def test_sites_where_matches_values_with_surrounding_space(tmp_path):
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    rows[0]["state_or_province"], rows[1]["state_or_province"] = "Idaho ", "Montana"
    tw.write_csv(w.sites, rows)
    w.extra += ["--sites-where", "state=Idaho"]
    _ok(w.args())
    assert sorted(_sites_csv(w.out).index) == ["1001", "1003", "1004"]


def test_csv_geometry_advice_works_when_followed(tmp_path):
    """Naming the geometry as the error says reads the named columns: the numbers of a CSV that has
    only those columns (and the other column's places would give other numbers)."""
    only = tw.build(tmp_path / "only")
    generic_csv(only, WKT=WKT)
    _ok(only.args())
    other = tw.build(tmp_path / "other")
    generic_csv(other, lon=ELSEWHERE, lat=LAT)
    _ok(other.args())
    want = _sites_csv(only.out).filter(regex="^m_")
    assert not want.equals(_sites_csv(other.out).filter(regex="^m_"))
    w = tw.build(tmp_path / "w")
    generic_csv(w, WKT=WKT, lon=ELSEWHERE, lat=LAT)
    r = run_cli(w.args())
    msg = error_lines(r)[0]
    definition = msg[msg.index("definition = "): msg.index(" or definition")].replace("COLUMN", "WKT")
    w.write_config(tw.CONFIG.replace('radius_m = 1000', f'radius_m = 1000\n{definition}'))
    _ok(w.args())
    pd.testing.assert_frame_equal(_sites_csv(w.out).filter(regex="^m_"), want)


def test_a_known_definition_names_the_geometry_of_a_csv_with_extra_lonlat(tmp_path):
    """The deposit definition names the WKT column: extra lon/lat columns do not make it ambiguous."""
    want = tw.build(tmp_path / "plain")
    _ok(want.args())
    w = tw.build(tmp_path / "w")
    rows = tw.deposit_rows()
    for row, x in zip(rows, ELSEWHERE):
        row["lon"], row["lat"] = x, 44.5
    tw.write_csv(w.sites, rows)
    _ok(w.args())
    pd.testing.assert_frame_equal(_sites_csv(w.out).filter(regex="^m_"), _sites_csv(want.out).filter(regex="^m_"))


def test_two_id_like_fields_advice_works_when_followed(tmp_path):
    w = tw.build(tmp_path / "w")
    pts = [shapely.Point(x, y) for _, _, x, y in tw.SITES]
    w.sites = tw.write_vector(gpd.GeoDataFrame({"claim_id": list("abcd"), "lease_id": list("wxyz")}, geometry=pts,
                                               crs=4326), w.root / "claims.geojson")
    r = run_cli(w.args())
    assert r.exit_code == 1 and "--id-field FIELD" in error_lines(r)[0]
    _ok([*w.args(), "--id-field", "lease_id"])
    assert sorted(_sites_csv(w.out).index) == list("wxyz")


def test_folder_advice_works_when_followed(tmp_path):
    want = tw.build(tmp_path / "plain")
    _ok(want.args())
    w = tw.build(tmp_path / "w")
    tw.write_vector(tw.wilderness_frame(), w.root / "shp" / "a.shp")
    w.layers[0] = f"protected={w.root / 'shp'}"
    msg = error_lines(run_cli(w.args()))[0]
    w.layers[0] = f"protected={msg[msg.index('e.g. ') + 5: -1]}"
    _ok(w.args())
    pd.testing.assert_frame_equal(_sites_csv(w.out).filter(regex="^m_"), _sites_csv(want.out).filter(regex="^m_"))


@pytest.mark.parametrize("how", ["zip", "zip-named-layer", "layer-name-case"])
def test_sources_read_as_the_plain_file(tmp_path, how):
    """A zipped shapefile (one, or one named of two) and a GeoPackage layer named in another case
    read the same features as the plain file: the same numbers."""
    want = tw.build(tmp_path / "plain")
    _ok(want.args())
    w = tw.build(tmp_path / "w")
    far = tw.wilderness_frame([shapely.box(-114.9, 44.9, -114.8, 44.95)])
    if how == "zip":
        w.layers[0] = f"protected={_zip_of(w, 'wild', {'a': tw.wilderness_frame()})}"
    elif how == "zip-named-layer":
        w.layers[0] = f"protected={_zip_of(w, 'wild', {'a': tw.wilderness_frame(), 'b': far})}:a"
    else:
        w.layers[1] = f"federal_land={w.federal}:PADUS"
    _ok(w.args())
    pd.testing.assert_frame_equal(_sites_csv(w.out).filter(regex="^m_"), _sites_csv(want.out).filter(regex="^m_"))
