"""Real data (../shared/data): NLCD class shares in Zion, Utah, and NWI wetland overlap in the District
of Columbia, each screened through its recipe (docs/datasets/nlcd.md, nwi.md) and checked against
an independent computation written here: every raster cell's square intersected with the footprint
by shapely (not exactextract), and the union of the wetland polygons intersected with the
footprint by shapely (not sitescreen's area kernel). Neither place has REE records: the sites are
synthetic, placed over the data; the federal-land and wilderness layers are synthetic too."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.windows import Window, from_bounds

from edgecases import run_cli
from sitescreen.rules.wording import measure_text
from coverworld import link, recipe, screen, write_world
from sitescreen.measure.coverage import MIN_COVERAGE

NLCD = "landcover/nlcd2011_zion.tif"
NWI = "wetlands/nwi_dc/DC_Wetlands.shp"
WETLAND_CLASSES = [90, 95]


def direct_class_share(path, footprint, classes) -> tuple[float, float]:
    """(share of ``footprint`` — in the raster's CRS — on cells of ``classes``, share on valid cells),
    from each cell's square intersected with the footprint."""
    with rasterio.open(path) as ds:
        w = from_bounds(*footprint.bounds, transform=ds.transform)
        c0, r0 = max(0, int(np.floor(w.col_off))), max(0, int(np.floor(w.row_off)))
        c1 = min(ds.width, int(np.ceil(w.col_off + w.width)))
        r1 = min(ds.height, int(np.ceil(w.row_off + w.height)))
        win = Window(c0, r0, c1 - c0, r1 - r0)
        vals = ds.read(1, window=win)
        t, nodata = ds.transform, ds.nodata  # north-up
    rows, cols = np.indices(vals.shape)
    rows, cols = rows + r0, cols + c0
    cells = shapely.box(t.c + cols * t.a, t.f + (rows + 1) * t.e, t.c + (cols + 1) * t.a, t.f + rows * t.e)
    inter = shapely.area(shapely.intersection(cells, footprint))
    area = footprint.area
    return float(inter[np.isin(vals, classes)].sum() / area), float(inter[vals != nodata].sum() / area)


def _zion_sites(path) -> list[tuple[float, float]]:
    """Site centres (lon, lat): on wetland cells spread through the raster, on two other cells, and
    two near the raster's east edge (one mostly off it, one mostly on it)."""
    with rasterio.open(path) as ds:
        a, t, crs = ds.read(1), ds.transform, ds.crs
    r, c = np.nonzero(np.isin(a, WETLAND_CLASSES))
    picks = [(r[i], c[i]) for i in np.linspace(0, len(r) - 1, 8).astype(int)]
    picks += [(a.shape[0] // 3, a.shape[1] // 4), (2 * a.shape[0] // 3, a.shape[1] // 2)]
    xy = [(t.c + (cc + 0.5) * t.a, t.f + (rr + 0.5) * t.e) for rr, cc in picks]
    east = t.c + a.shape[1] * t.a
    ymid = t.f + a.shape[0] / 2 * t.e
    xy += [(east + 250, ymid), (east - 250, ymid)]  # 1 km footprints: about 25 % and 75 % on the raster
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return [to_lonlat.transform(x, y) for x, y in xy]


def test_nlcd_wetland_shares_in_zion_equal_a_direct_computation(shared_data, tmp_path):
    tif = shared_data / NLCD
    root = tmp_path / "zion"
    root.mkdir()
    link(root, tif)
    config = write_world(root, _zion_sites(tif), "Utah", 500, recipe("nlcd"))
    sites = screen(config)
    with rasterio.open(tif) as ds:
        raster_crs = ds.crs
    footprints = sites.geometry.to_crs(raster_crs)
    expect, covered = zip(*(direct_class_share(tif, fp, WETLAND_CLASSES) for fp in footprints))
    expect, covered = np.array(expect), np.array(covered)
    short = covered < MIN_COVERAGE
    assert short[-2] and not short[-1] and short.sum() == 1  # the edge sites are on both sides of the rule
    got = sites["m_wetland_cover"].to_numpy(dtype=float)
    assert np.isnan(got[short]).all()
    np.testing.assert_allclose(got[~short], expect[~short], rtol=0, atol=1e-6)
    assert (expect[:8] > 0).all() and (expect > 0.05).sum() >= 4  # the sites on wetland cells do see wetland
    reasons = sites.loc[short, "reasons"].iloc[0]
    assert "no data for wetland_cover" not in reasons  # unweighted, no exclusion: informational only
    assert (sites["verdict"] != "incomplete").all()
    result = run_cli(["explain", str(root / "out"), str(sites["site_id"].iloc[3]), "--json"])
    crit = next(c for c in json.loads(result.stdout)["criteria"] if c["name"] == "wetland_cover")
    assert crit["unit"] == "fraction" and crit["measurement"] == pytest.approx(got[3])
    assert crit["measurement_text"] == measure_text(got[3], "fraction") and crit["measurement_text"].endswith(" %")
    assert crit["measured"].endswith("nlcd2011_zion")


def _dc_sites(nwi: gpd.GeoDataFrame) -> list[tuple[float, float]]:
    """Site centres (lon, lat): on some of the largest wetland polygons, and between them."""
    big = nwi.loc[nwi.area.sort_values(ascending=False).index[:6]]
    pts = list(big.representative_point())
    hull = nwi.union_all().convex_hull
    pts += [hull.centroid, shapely.Point(hull.bounds[0] + 4000, hull.bounds[1] + 9000)]
    lonlat = gpd.GeoSeries(pts, crs=nwi.crs).to_crs("EPSG:4326")
    return [(p.x, p.y) for p in lonlat]


def test_nwi_wetland_overlap_in_dc_equals_a_direct_shapely_computation(shared_data, tmp_path):
    shp = shared_data / NWI
    nwi = gpd.read_file(shp)
    root = tmp_path / "dc"
    root.mkdir()
    link(root, shp)
    # the recipe declares the download's project-metadata polygons as coverage: a stand-in is
    # written here (the District's wetlands' convex hull, 2 km wider; not in the shared data)
    cover = gpd.GeoDataFrame(geometry=[nwi.union_all().convex_hull.buffer(2000)], crs=nwi.crs)
    cover.to_file(root / "DC_Wetlands_Project_Metadata.shp")
    config = write_world(root, _dc_sites(nwi), "District of Columbia", 300, recipe("nwi"))
    sites = screen(config)
    run_crs = sites.crs
    wet = gpd.GeoSeries(shapely.make_valid(nwi.geometry.to_numpy()), crs=nwi.crs).to_crs(run_crs)
    tree = shapely.STRtree(wet.to_numpy())
    expect = []
    for fp in sites.geometry:
        near = wet.to_numpy()[tree.query(fp, predicate="intersects")]
        expect.append(shapely.intersection(shapely.union_all(near), fp).area / fp.area if len(near) else 0.0)
    got = sites["m_wetland_overlap"].to_numpy(dtype=float)
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)
    assert (np.array(expect)[:6] > 0.01).all() and (np.array(expect) < 1).any()
    largest = sites["f_wetland_overlap"].iloc[0]
    assert largest.removesuffix(", layer DC_Wetlands") in set(nwi["WETLAND_TY"])  # the reasons and popups name the wetland type
