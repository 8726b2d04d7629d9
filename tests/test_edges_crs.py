"""Edges of the working CRS (issue 9, classes 2 and 3).

Class 2: the run CRS must make the numbers true — projected, in metres, lengths true at the sites
and equal-area where the profile measures areas; anything else is refused naming the CRS and what
to use instead, before any work, in ``screen``, ``check`` and streamed runs alike.

Class 3: sites on both sides of the antimeridian get a CRS centred on them and layers read with
boxes split at ±180°; a layer's coordinates are judged against its own CRS as a whole file (the
National Atlas wilderness in EPSG:5070 holds Alaska and Hawaii).

Error cases are in ``CASES`` (through the CLI, :func:`edgecases.run_case`); cases that must succeed
are ordinary tests whose numbers are derived independently (pyproj + shapely in a CRS centred on
each site).
"""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS, Proj

import tinyworld as tw
from edgecases import Catalogue, run_case, run_cli
from sitescreen.inputs.crs import MAX_AREA_ERROR, MAX_LENGTH_ERROR, ExtentBuilder, choose_crs, split_box

CASES = Catalogue()
case = CASES.case

ALEUTIANS = (("2001", "Attu side (synthetic)", 172.95, 52.5), ("2002", "Atka side (synthetic)", -170.05, 52.5))
ON_THE_LINE = (("2003", "Dateline (synthetic)", 179.99, 52.5),)
RADIUS = 1000.0


def aleutian_world(root: Path, sites=ALEUTIANS, federal_crs="EPSG:4326") -> tw.World:
    """Sites at 172.95 E and 170.05 W; one federal unit across ±180° (a MultiPolygon split at the
    line, PAD-US schema, EPSG:4326) covering both; a wilderness ~2.4 km from each footprint."""
    root.mkdir(parents=True, exist_ok=True)
    csv = tw.write_csv(root / "deposits.csv", tw.deposit_rows(sites))
    fed = shapely.MultiPolygon([shapely.box(172.5, 52.0, 180.0, 53.0), shapely.box(-180.0, 52.0, -169.5, 53.0)])
    federal = tw.write_vector(tw.padus_frame([fed], crs=federal_crs), root / "federal.gpkg", layer="padus")
    wild = [shapely.box(173.0, 52.45, 173.05, 52.55), shapely.box(-170.0, 52.45, -169.95, 52.55),
            shapely.box(-179.97, 52.45, -179.9, 52.55)]
    protected = tw.write_vector(tw.wilderness_frame(wild), root / "protected.geojson")
    return tw.World(root=root, sites=csv, protected=protected, federal=federal, out=root / "out",
                    layers=[f"protected={protected}", f"federal_land={federal}:padus"])


def local_laea(lon, lat) -> CRS:
    return CRS.from_proj4(f"+proj=laea +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs")


def independent(sites, protected: gpd.GeoDataFrame, federal: gpd.GeoDataFrame) -> pd.DataFrame:
    """Federal share and setback of each site, each in a LAEA centred on that site (no antimeridian
    in sight: every longitude is taken relative to the site)."""
    rows = []
    for rid, _, lon, lat in sites:
        crs = local_laea(lon, lat)
        fp = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(crs).buffer(RADIUS, quad_segs=16).iloc[0]
        prot = protected.to_crs(crs).geometry
        fed = shapely.union_all(federal.to_crs(crs).geometry.to_numpy())
        rows.append({"site_id": rid, "federal": shapely.area(shapely.intersection(fp, fed)) / shapely.area(fp),
                     "setback": float(prot.distance(fp).min())})
    return pd.DataFrame(rows).set_index("site_id")


def screened(w: tw.World) -> pd.DataFrame:
    r = run_cli(w.args())
    assert r.exit_code == 0, r.output
    return pd.read_csv(w.out / "sites.csv", dtype={"site_id": str}).set_index("site_id")


# ---------------------------------------------------------------------------------------------
# Class 3 — sites across the antimeridian: numbers right, not zero/inf


def test_aleutian_sites_across_the_antimeridian_get_true_numbers(tmp_path):
    w = aleutian_world(tmp_path / "w")
    got = screened(w)
    want = independent(ALEUTIANS, gpd.read_file(w.protected), gpd.read_file(w.federal, layer="padus"))
    assert want["federal"].tolist() == pytest.approx([1.0, 1.0])  # the fixture covers both footprints
    assert want["setback"].between(2300, 2500).all()              # and puts a wilderness ~2.4 km away
    np.testing.assert_allclose(got.loc[want.index, "m_federal_land"], want["federal"], rtol=1e-9)
    np.testing.assert_allclose(got.loc[want.index, "m_protected_setback"], want["setback"], rtol=MAX_LENGTH_ERROR)
    m = json.loads((w.out / "manifest.json").read_text())
    assert m["crs"] == "EPSG:3338"  # Alaska Albers: it holds 172.95 E to 170.05 W


def test_each_aleutian_site_alone_gives_what_the_pair_gives(tmp_path):
    both = screened(aleutian_world(tmp_path / "both"))
    for i, site in enumerate(ALEUTIANS):
        alone = screened(aleutian_world(tmp_path / f"alone{i}", sites=(site,)))
        for col in ("m_federal_land", "m_protected_setback", "score"):
            assert alone.loc[site[0], col] == pytest.approx(both.loc[site[0], col], rel=1e-6), col


def test_a_site_at_179_99_east_measures_across_the_line(tmp_path):
    """The nearest wilderness is across ±180° (at 179.97 W): the distance goes across the line."""
    w = aleutian_world(tmp_path / "w", sites=ON_THE_LINE)
    got = screened(w)
    want = independent(ON_THE_LINE, gpd.read_file(w.protected), gpd.read_file(w.federal, layer="padus"))
    assert 1500 < want.loc["2003", "setback"] < 2000
    np.testing.assert_allclose(got.loc["2003", "m_protected_setback"], want.loc["2003", "setback"], rtol=MAX_LENGTH_ERROR)
    assert got.loc["2003", "m_federal_land"] == pytest.approx(1.0)


def test_layer_written_with_longitudes_0_to_360_is_read(tmp_path):
    """EPSG:4326 with longitudes past 180 (189.95 for 170.05 W): the read box is shifted by 360°."""
    w = aleutian_world(tmp_path / "w")
    wild = gpd.read_file(w.protected)
    shifted = wild.set_geometry(wild.geometry.apply(
        lambda g: shapely.transform(g, lambda xy: np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]]))))
    assert shifted.total_bounds[2] > 180
    p = tw.write_vector(shifted, w.root / "wild360.geojson")
    w.layers[0] = f"protected={p}"
    got = screened(w)
    want = independent(ALEUTIANS, wild, gpd.read_file(w.federal, layer="padus"))
    np.testing.assert_allclose(got.loc[want.index, "m_protected_setback"], want["setback"], rtol=MAX_LENGTH_ERROR)


def test_federal_layer_in_alaska_albers_across_the_line(tmp_path):
    """The same world with the federal unit stored in EPSG:3338 (projected: one polygon, no split)."""
    w = aleutian_world(tmp_path / "w", federal_crs="EPSG:3338")
    got = screened(w)
    assert got.loc[["2001", "2002"], "m_federal_land"].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)


def test_streamed_polygon_sites_across_the_line_equal_in_memory(tmp_path):
    w = aleutian_world(tmp_path / "w")
    pts = gpd.GeoDataFrame({"record_id": [s[0] for s in ALEUTIANS], "site_name": [s[1] for s in ALEUTIANS]},
                           geometry=[shapely.Point(s[2], s[3]) for s in ALEUTIANS], crs=4326)
    polys = pts.copy()
    polys.geometry = [gpd.GeoSeries([p], crs=4326).to_crs(local_laea(p.x, p.y)).buffer(RADIUS, quad_segs=16).to_crs(4326).iloc[0]
                      for p in pts.geometry]
    w.sites = tw.write_vector(polys, w.root / "claims.gpkg", layer="claims")
    w.extra += ["--commodity", "any"]
    mem = screened(w)
    w.out = w.root / "out-streamed"
    w.extra += ["--stream", "--chunk-size", "1"]
    streamed = screened(w)
    for col in ("m_federal_land", "m_protected_setback", "score"):
        assert streamed.loc[mem.index, col].tolist() == pytest.approx(mem[col].tolist(), rel=1e-9), col
    assert mem["m_federal_land"].tolist() == pytest.approx([1.0, 1.0], abs=1e-6)


def _cap(lat: float) -> shapely.Polygon:
    """The cap north of ``lat`` as a lon/lat ring (it closes round the pole once projected)."""
    return shapely.Polygon([(lon, lat) for lon in np.linspace(-180, 180, 721)])


def test_polar_sites_get_a_crs_centred_on_them(tmp_path):
    """Sites round the North Pole (at every longitude): a polar equal-area CRS and true numbers."""
    sites = tuple((str(3000 + i), f"Polar {i} (synthetic)", float(lon), 89.2) for i, lon in enumerate(range(-180, 180, 45)))
    pole = "+proj=laea +lat_0=90 +lon_0=0 +datum=WGS84 +units=m +no_defs"
    root = tmp_path / "w"
    root.mkdir()
    csv = tw.write_csv(root / "deposits.csv", tw.deposit_rows(sites))
    prot = tw.write_vector(tw.wilderness_frame([_cap(89.5)], crs=pole), root / "cap.gpkg")
    fed = tw.write_vector(tw.padus_frame([_cap(88.0)], crs=pole), root / "federal.gpkg", layer="padus")
    w = tw.World(root=root, sites=csv, protected=prot, federal=fed, out=root / "out",
                 layers=[f"protected={prot}", f"federal_land={fed}:padus"])
    got = screened(w)
    m = json.loads((w.out / "manifest.json").read_text())
    assert "+proj=laea +lat_0=90" in m["crs"] or "+lat_0=89.9" in m["crs"], m["crs"]
    ids = [s[0] for s in sites]
    want = independent(sites, gpd.read_file(prot), gpd.read_file(fed, layer="padus"))
    assert want["setback"].between(30_000, 35_000).all()  # 0.3° of latitude, less the radius
    np.testing.assert_allclose(got.loc[ids, "m_protected_setback"], want.loc[ids, "setback"], rtol=MAX_LENGTH_ERROR)
    np.testing.assert_allclose(got.loc[ids, "m_federal_land"], 1.0, rtol=1e-9)


def test_a_lonlat_layer_round_a_pole_keeps_its_area(tmp_path):
    """A cap written in lon/lat as a box, ``box(-180, 88, 180, 90)`` (its south edge is the whole 88°
    parallel), once collapsed to a line when projected vertex by vertex: federal share 0 and no
    setback, exit 0. Its numbers are those of the same caps written in a polar CRS."""
    sites = tuple((str(3100 + i), f"Polar {i} (synthetic)", float(lon), 89.2) for i, lon in enumerate(range(-180, 180, 60)))
    pole = "+proj=laea +lat_0=90 +lon_0=0 +datum=WGS84 +units=m +no_defs"
    got = {}
    for how in ("polar", "lonlat"):
        root = tmp_path / how
        root.mkdir()
        csv = tw.write_csv(root / "deposits.csv", tw.deposit_rows(sites))
        caps = {"polar": (_cap(89.5), _cap(88.0)), "lonlat": (shapely.box(-180, 89.5, 180, 90), shapely.box(-180, 88, 180, 90))}[how]
        crs = pole if how == "polar" else "EPSG:4326"
        prot = tw.write_vector(tw.wilderness_frame([caps[0]], crs=crs), root / "cap.gpkg")
        fed = tw.write_vector(tw.padus_frame([caps[1]], crs=crs), root / "federal.gpkg", layer="padus")
        assert gpd.read_file(prot).crs == CRS(crs)
        got[how] = screened(tw.World(root=root, sites=csv, protected=prot, federal=fed, out=root / "out",
                                     layers=[f"protected={prot}", f"federal_land={fed}:padus"]))
    ids = [s[0] for s in sites]
    assert got["polar"].loc[ids, "m_protected_setback"].between(30_000, 35_000).all()
    np.testing.assert_allclose(got["lonlat"].loc[ids, "m_federal_land"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(got["lonlat"].loc[ids, "m_protected_setback"], got["polar"].loc[ids, "m_protected_setback"],
                               rtol=1e-4)


def test_hawaii_site_with_the_shared_wilderness_file(tmp_path, shared_data):
    """The National Atlas wilderness (EPSG:5070, CONUS + Alaska + Hawaii) for a site in Hawaii:
    not refused for lying outside CONUS, and the setback is the true distance."""
    shp = shared_data / "protected_areas" / "wilderness_usgs_national_atlas" / "wilderness.shp"
    wild = gpd.read_file(shp)
    hawaii = wild[wild["STATE"] == "HI"]
    assert len(hawaii)
    target = hawaii.to_crs(4326).geometry.iloc[0]
    c = target.representative_point()
    site = (("4001", "Hawaii prospect (synthetic)", round(c.x + 0.06, 5), round(c.y, 5)),)
    root = tmp_path / "w"
    root.mkdir()
    csv = tw.write_csv(root / "deposits.csv", tw.deposit_rows(site))
    x, y = site[0][2], site[0][3]
    fed = tw.write_vector(tw.padus_frame([shapely.box(x - 0.5, y - 0.5, x + 0.5, y + 0.5)], crs="EPSG:4326"), root / "federal.gpkg", layer="padus")
    w = tw.World(root=root, sites=csv, protected=shp, federal=fed, out=root / "out",
                 layers=[f"protected={shp}", f"federal_land={fed}:padus"])
    got = screened(w)
    assert got.loc["4001", "m_federal_land"] == pytest.approx(1.0)
    crs = local_laea(site[0][2], site[0][3])
    fp = gpd.GeoSeries([shapely.Point(site[0][2], site[0][3])], crs=4326).to_crs(crs).buffer(RADIUS, quad_segs=16).iloc[0]
    want = float(hawaii.to_crs(crs).distance(fp).min())
    assert np.isfinite(got.loc["4001", "m_protected_setback"])
    np.testing.assert_allclose(got.loc["4001", "m_protected_setback"], want, rtol=MAX_LENGTH_ERROR, atol=1.0)


# ---------------------------------------------------------------------------------------------
# The extent and the CRS choice as functions


def test_extent_across_the_antimeridian_wraps():
    ext = ExtentBuilder().add([172.95, -170.05], [52.5, 52.5]).extent()
    assert (ext.west, ext.east) == (172.95, -170.05)
    assert ext.width == pytest.approx(17.0)
    assert ext.lon == pytest.approx(-178.55, abs=1e-9) and ext.lat > 52.5  # the great-circle midpoint
    assert split_box(ext.bounds) == ((172.95, 52.5, 180.0, 52.5), (-180.0, 52.5, -170.05, 52.5))


def test_extent_built_in_pieces_equals_extent_at_once():
    rng = np.random.default_rng(9)
    lon, lat = rng.uniform(160, 200, 500), rng.uniform(50, 55, 500)
    whole = ExtentBuilder().add(lon, lat).extent()
    parts = ExtentBuilder()
    for k in range(0, 500, 37):
        parts.add(lon[k:k + 37], lat[k:k + 37])
    assert astuple(parts.extent()) == pytest.approx(astuple(whole), rel=1e-12)
    assert whole.west == pytest.approx(((lon.min() + 180) % 360) - 180) and whole.east == pytest.approx(lon.max() - 360)


@pytest.mark.parametrize("bounds, centre", [((8.0, 48.0, 12.0, 52.0), (10.0, 50.0)),
                                            ((150.0, -35.0, 152.0, -33.0), (151.0, -34.0))])
def test_outside_the_us_the_chosen_crs_is_equal_area_centred_on_the_sites(bounds, centre):
    crs = choose_crs(bounds)
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    assert crs.coordinate_operation.method_name == "Lambert Azimuthal Equal Area"
    assert (params["Longitude of natural origin"], params["Latitude of natural origin"]) == centre
    f = Proj(crs).get_factors(np.linspace(bounds[0], bounds[2], 5), np.linspace(bounds[1], bounds[3], 5))
    assert np.all(np.abs(np.asarray(f.areal_scale) - 1) < MAX_AREA_ERROR)


def test_a_conformal_crs_is_accepted_when_the_profile_measures_no_areas(tmp_path):
    """UTM 13N for Idaho (9.5° from its meridian): lengths within 0.7 %, areas 1.3 % off. Refused for
    the default profile (case crs-conformal-not-equal-area), accepted for a distances-only profile."""
    w = tw.build(tmp_path / "w")
    (w.root / "dist.toml").write_text(
        'name = "distances"\n[criteria.setback]\nkind = "distance"\nrole = "protected"\nunit = "m"\n'
        'search_radius_m = 50000\nweight = 1.0\ntransform = { kind = "linear", points = [[0, 0.0], [5000, 1.0]] }\n'
        'safeguard = "test"\nsource = "test"\n', encoding="utf-8")
    w.layers = w.layers[:1]
    w.extra += ["--crs", "EPSG:32613", "--profile", str(w.root / "dist.toml")]
    got = screened(w)
    wild = gpd.read_file(w.protected)
    want = [float(wild.to_crs(local_laea(x, y)).distance(gpd.GeoSeries([shapely.Point(x, y)], crs=4326)
                  .to_crs(local_laea(x, y)).buffer(RADIUS, quad_segs=16).iloc[0]).min()) for _, _, x, y in tw.SITES]
    np.testing.assert_allclose(got.loc[[s[0] for s in tw.SITES], "m_setback"], want, rtol=MAX_LENGTH_ERROR, atol=1.0)


# ---------------------------------------------------------------------------------------------
# Class 2 — run CRSs that would make the numbers wrong (the three, then more)


@case("crs-geographic-4326", "--crs EPSG:4326", "geographic", "EPSG:5070 (CONUS Albers)")
def _(w, **_):
    w.extra += ["--crs", "EPSG:4326"]


@case("crs-us-feet-2241", "--crs EPSG:2241", "US survey foot, not metres", "EPSG:5070")
def _(w, **_):
    w.extra += ["--crs", "EPSG:2241"]


@case("crs-web-mercator-3857", "--crs EPSG:3857", "distorts lengths", "not equal-area", "protected_overlap",
      "use EPSG:5070 (CONUS Albers)")
def _(w, **_):
    w.extra += ["--crs", "EPSG:3857"]


@case("crs-international-feet", "--crs EPSG:2222", "foot, not metres")
def _(w, **_):
    w.extra += ["--crs", "EPSG:2222"]  # NAD83 / Arizona East (ft): international feet


@case("crs-geographic-as-wkt", "[run] crs", "geographic", "NAD83")
def _(w, **_):
    wkt = CRS.from_epsg(4269).to_wkt().replace('"', '\\"')
    w.write_config(tw.CONFIG.replace('profile = "federal-safeguards"', f'profile = "federal-safeguards"\ncrs = "{wkt}"'))


@case("crs-geocentric", "--crs EPSG:4978", "not a projected CRS")
def _(w, **_):
    w.extra += ["--crs", "EPSG:4978"]


@case("crs-equal-area-other-side-of-globe", "+proj=laea", "distorts lengths", "use EPSG:5070")
def _(w, **_):
    w.extra += ["--crs", "+proj=laea +lat_0=-44 +lon_0=66 +datum=WGS84 +units=m"]  # equal-area, but at the antipode


@case("crs-utm-wrong-zone", "--crs EPSG:32618", "distorts lengths", "use EPSG:5070")
def _(w, **_):
    w.extra += ["--crs", "EPSG:32618"]  # UTM 18N for Idaho


@case("crs-conformal-not-equal-area", "--crs EPSG:32613", "not equal-area", "protected_overlap", "use EPSG:5070")
def _(w, **_):
    w.extra += ["--crs", "EPSG:32613"]  # UTM 13N: lengths within 1 %, areas 1.3 % off


@case("crs-refused-by-check", "--crs EPSG:3857", "distorts lengths")
def _(w, **_):
    w.command = ["check", str(w.sites), *sum((["--layer", x] for x in w.layers), []), "--crs", "EPSG:3857"]


@case("crs-refused-streamed", "--crs EPSG:3857", "not equal-area")
def _(w, **_):
    polys = gpd.GeoDataFrame({"record_id": ["1", "2"]}, geometry=[shapely.box(-114.5, 44.5, -114.49, 44.51),
                                                                 shapely.box(-114.3, 44.3, -114.29, 44.31)], crs=4326)
    w.sites = tw.write_vector(polys, w.root / "claims.gpkg", layer="claims")
    w.extra += ["--stream", "--commodity", "any", "--crs", "EPSG:3857"]


# Class 3 — sites too spread for one CRS, or a CRS for the wrong side of the line


@case("sites-round-the-globe", "measuring zone local equal-area", "cannot project every site", "run of their own")
def _(w, **_):  # 2° apart all round the equator: one cluster no CRS measures (zones: tests/test_zones.py)
    tw.write_csv(w.sites, tw.deposit_rows(tuple((str(i), f"S{i} (synthetic)", float(lon), 0.0)
                                                for i, lon in enumerate(range(-180, 180, 2)))))


@case("crs-centred-near-europe-for-aleutians", "+proj=laea", "distorts lengths", "EPSG:3338 (Alaska Albers)")
def _(w, **_):
    a = aleutian_world(w.root / "a")
    w.sites, w.layers = a.sites, a.layers
    w.extra += ["--crs", "+proj=laea +lat_0=52.5 +lon_0=1.45 +datum=WGS84 +units=m"]  # the old choice


@case("crs-utm-1n-for-both-sides", "--crs EPSG:32601", "not equal-area", "EPSG:3338")
def _(w, **_):
    a = aleutian_world(w.root / "a")
    w.sites, w.layers = a.sites, a.layers
    w.extra += ["--crs", "EPSG:32601"]  # UTM 1N (177 W): 172.95 E is 10° off its meridian


@case("sites-at-both-poles-and-a-given-crs", "--crs EPSG:3413", "distorts lengths")
def _(w, **_):  # without --crs each pole is a measuring zone of its own (tests/test_zones.py)
    tw.write_csv(w.sites, tw.deposit_rows((("1", "North (synthetic)", 0.0, 85.0), ("2", "South (synthetic)", 0.0, -85.0))))
    w.extra += ["--crs", "EPSG:3413"]


def test_aleutian_sites_with_a_site_in_the_alps_are_two_zones_with_the_aleutian_numbers(tmp_path):
    """The Aleutians across ±180° and the Alps: no one CRS; Alaska Albers measures the Aleutian
    sites as a run of them alone does, a local equal-area the Alpine one."""
    alone = screened(aleutian_world(tmp_path / "alone"))
    w = aleutian_world(tmp_path / "both", sites=ALEUTIANS + (("9", "Alps (synthetic)", 10.0, 46.0),))
    both = screened(w)
    zones = json.loads((w.out / "manifest.json").read_text())["zones"]
    assert [(z["label"], z["sites"]) for z in zones] == [("EPSG:3338 (Alaska Albers)", 2),
                                                         ("local equal-area (centred on 46.00, 10.00)", 1)]
    for col in ("m_federal_land", "m_protected_setback", "score"):
        np.testing.assert_allclose(both.loc[["2001", "2002"], col], alone.loc[["2001", "2002"], col], rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# A raster's grid must place its cells truly: a rotated or sheared geotransform (read north-up,
# every cell would lie elsewhere) is refused with advice that works (issue 9 probes).

PLANE_SLOPE_DEG = 22.0  # steeper than the profile's 20° threshold: every footprint is all steep


def rotated_plane_dem(path: Path, degrees: float = 10.0) -> Path:
    """A plane rising PLANE_SLOPE_DEG to the east (values from each cell centre's true easting), on a
    grid of 100 m cells rotated by ``degrees`` (UTM 11N), covering the tiny world's sites."""
    import rasterio
    from affine import Affine
    x0, y0, x1, y1 = gpd.GeoSeries([shapely.box(-114.75, 44.3, -114.15, 44.75)], crs=4326).to_crs(26911).total_bounds
    n = int(np.ceil(max(x1 - x0, y1 - y0) * 1.3 / 100.0))
    t = Affine.translation(x0 - 0.15 * (x1 - x0), y1 + 0.15 * (y1 - y0)) @ Affine.rotation(degrees) @ Affine.scale(100.0, -100.0)
    rows, cols = np.mgrid[0:n, 0:n] + 0.5
    east = t.c + t.a * cols + t.b * rows
    z = (np.tan(np.radians(PLANE_SLOPE_DEG)) * (east - x0)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs="EPSG:26911",
                       transform=t, nodata=-9999.0) as dst:
        dst.write(z, 1)
    return path


@case("dem-rotated-geotransform", "dem.tif", "rotated or sheared", "north-up", "gdalwarp")
def _(w, **_):
    w.layers.append(f"dem={rotated_plane_dem(w.root / 'dem.tif')}")


def test_a_rotated_dem_once_crashed_and_its_advice_works(tmp_path):
    """A rotated DEM gave a Python traceback (exactextract: rotated rasters are not supported). The
    advice (gdalwarp to a north-up grid) gives the plane's numbers: every footprint all steep."""
    import shutil
    import subprocess
    if not shutil.which("gdalwarp"):
        pytest.skip("gdalwarp is not installed")
    w = tw.build(tmp_path / "w")
    dem = rotated_plane_dem(w.root / "dem.tif")
    r = run_cli([*w.args(), "--layer", f"dem={dem}"])
    msg = r.stderr.strip().splitlines()[-1]
    advice = msg[msg.index("(gdalwarp") + 1: msg.index(") and give")]
    subprocess.run(advice.split(), cwd=w.root, check=True, capture_output=True)
    r = run_cli([*w.args(), "--layer", f"dem={w.root / 'north-up.tif'}"])
    assert r.exit_code == 0, r.output
    got = pd.read_csv(w.out / "sites.csv", dtype={"site_id": str})
    assert (got["m_steep_terrain"] == 1.0).all(), got["m_steep_terrain"]


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_crs_edge(name, tmp_path, monkeypatch, request):
    run_case(CASES, name, tmp_path, monkeypatch, request)
