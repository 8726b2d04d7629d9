"""bench/hydro.py generates what it says at tiny sizes (a stream tree per cell with NHD permanence
codes; a categorical NLCD-like raster), the same from the seed every time; and bench/peers.py's
stream criteria give the answers that follow from a few lines, for us and both peers."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hydro  # noqa: E402
import peers  # noqa: E402
import workload  # noqa: E402

SIDE = 30_000.0  # 3 × 3 cells of 10 km
STREAMS = {**workload.DEFAULTS["streams"], "nodes": 40, "unstated_share": 0.2}
LANDCOVER = {"res": 300.0, "coarse": 3_000.0, "fine": 900.0, "window": 48}  # 100² cells, 3 × 3 windows


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    path = tmp_path_factory.mktemp("streams") / "streams.parquet"
    hydro.gen_streams(path, STREAMS, side=SIDE)
    return gpd.read_parquet(path)


def test_streams_count_codes_and_nhd_fields(streams):
    cells = int(SIDE / STREAMS["block"]) ** 2
    assert len(streams) == cells * STREAMS["nodes"]
    assert set(streams["FCode"]) == set(hydro.FCODE.values())  # all four permanence codes, no other
    assert (streams["FType"] == 460).all() and (streams["FlowDir"] == 1).all()
    np.testing.assert_allclose(streams["LengthKM"], streams.length / 1000, rtol=1e-12)
    assert shapely.get_num_coordinates(streams.geometry.values).tolist() == [STREAMS["vertices"]] * len(streams)
    assert streams["ReachCode"].is_unique and streams["ReachCode"].str.len().eq(14).all()
    # permanence follows the points draining through a reach (unstated: a share of the others)
    up, fc = streams["upstream"], streams["FCode"]
    assert (up[fc == 46006] >= STREAMS["perennial_min"]).all()
    assert ((up[fc == 46003] >= STREAMS["intermittent_min"]) & (up[fc == 46003] < STREAMS["perennial_min"])).all()
    assert (up[fc == 46007] < STREAMS["intermittent_min"]).all()
    assert streams["GNIS_Name"].notna().eq(fc == 46006).all()


def test_streams_form_one_tree_per_cell(streams):
    """Each reach ends where its downstream reach starts, or at its cell's outlet on the cell edge;
    each cell's reaches drain to one outlet, and the reaches there carry all its points."""
    start = shapely.get_coordinates(shapely.get_point(streams.geometry.values, 0))
    end = shapely.get_coordinates(shapely.get_point(streams.geometry.values, -1))
    starts = {tuple(p): i for i, p in enumerate(start)}
    down = np.array([starts.get(tuple(p), -1) for p in end])
    cell = streams["ReachCode"].str[:8].astype(int).to_numpy()
    inner = down >= 0
    assert (cell[down[inner]] == cell[inner]).all()  # no reach drains into another cell
    rel = (end[~inner] - workload.X0) % STREAMS["block"], (end[~inner, 1] - workload.Y0) % STREAMS["block"]
    on_edge = np.isclose(rel[0][:, 0], 0) | np.isclose(rel[1], 0)
    assert on_edge.all()
    for c in np.unique(cell):
        outlets = {tuple(p) for p in end[~inner & (cell == c)]}
        assert len(outlets) == 1
        assert streams["upstream"][~inner & (cell == c)].sum() == STREAMS["nodes"]
        # upstream counts add up: a reach carries itself plus what drains into it
        mine = np.flatnonzero(cell == c)
        into = np.bincount(down[mine][down[mine] >= 0], weights=streams["upstream"].to_numpy()[mine][down[mine] >= 0],
                           minlength=len(streams))
        assert (streams["upstream"].to_numpy()[mine] == 1 + into[mine]).all()


def test_streams_same_from_the_seed(tmp_path, streams):
    hydro.gen_streams(tmp_path / "again.parquet", STREAMS, side=SIDE)
    again = gpd.read_parquet(tmp_path / "again.parquet")
    assert again.drop(columns="geometry").equals(streams.drop(columns="geometry"))
    assert again.geometry.geom_equals_exact(streams.geometry, tolerance=0).all()
    other = hydro.stream_strip(1, STREAMS, SIDE)  # another row of cells: another draw
    assert not np.array_equal(other["upstream"], hydro.stream_strip(0, STREAMS, SIDE)["upstream"])


def _landcover(path: Path, window: int) -> np.ndarray:
    import rasterio

    hydro.gen_landcover(path, {**LANDCOVER, "window": window}, side=SIDE)
    with rasterio.open(path) as ds:
        assert (ds.width, ds.height, ds.dtypes[0], ds.nodata) == (100, 100, "uint8", 0)
        assert ds.block_shapes[0] == (512, 512) and ds.compression.name.lower() == "deflate"
        assert ds.res == (LANDCOVER["res"], LANDCOVER["res"]) and ds.crs.to_epsg() == 5070
        cmap = ds.colormap(1)  # a colour table: the band is categorical
        assert all(cmap[code][:3] == rgb for code, rgb in hydro.NLCD.items())
        return ds.read(1)


def test_landcover_codes_patches_and_windows(tmp_path):
    a = _landcover(tmp_path / "a.tif", LANDCOVER["window"])
    assert set(np.unique(a)) <= set(hydro.NLCD) and len(np.unique(a)) >= 6
    same_right = (a[:, 1:] == a[:, :-1]).mean()
    assert same_right > 0.7  # patches, not noise: most neighbours share their class
    whole = _landcover(tmp_path / "b.tif", 128)  # one window: the same cells as written in nine
    assert np.array_equal(a, whole)


def test_the_class_share_kernel_reads_it_as_categorical(tmp_path):
    """sitescreen's class share measures the generated raster; a mean of class codes is refused."""
    from sitescreen.errors import SitescreenError
    from sitescreen.measure.zonal import zonal_stats

    a = _landcover(tmp_path / "lc.tif", 64)
    x0, y1 = workload.X0, workload.Y0 + SIDE
    box = gpd.GeoSeries([shapely.box(x0, y1 - 3000, x0 + 3000, y1)], crs=workload.CRS)  # 10 × 10 cells
    got = zonal_stats(box, tmp_path / "lc.tif", ["class_share"], classes=[90, 95])["class_share"].iloc[0]
    assert got == pytest.approx(np.isin(a[:10, :10], [90, 95]).mean(), abs=1e-12)
    with pytest.raises(SitescreenError):
        zonal_stats(box, tmp_path / "lc.tif", ["mean"])


# ------------------------------------------------------------------------------- the peers


def test_stream_criteria_ours_and_both_peers(tmp_path):
    pytest.importorskip("duckdb")
    pytest.importorskip("sedonadb")
    sq = {10: (0.0, 0.0), 11: (1000.0, 0.0), 12: (90_000.0, 0.0)}  # 100 m squares
    sites = tmp_path / "sites.parquet"
    gpd.GeoDataFrame({"site_id": np.array(list(sq), dtype=np.int64)},
                     geometry=[shapely.box(x, y, x + 100, y + 100) for x, y in sq.values()], crs=workload.CRS).to_parquet(sites)
    lines = [((-50, 50), (150, 50), 46006),      # perennial across site 10: 100 m inside
             ((1140, -50), (1140, 150), 46003),  # intermittent 40 m east of site 11
             ((1050, -50), (1050, 150), 46007),  # ephemeral across site 11: neither criterion's
             ((-50, 20), (30, 20), 46000)]       # unstated, 30 m inside site 10 (distance 0 anyway)
    streams = tmp_path / "streams.parquet"
    gpd.GeoDataFrame({"FCode": np.array([c for *_, c in lines], dtype=np.int32)},
                     geometry=[shapely.LineString([a, b]) for a, b, _ in lines], crs=workload.CRS).to_parquet(streams)
    expected = {"stream_distance": [0.0, 40.0, np.inf], "stream_length": [100.0, 0.0, 0.0]}
    crits = peers.water_criteria()
    mine, _, _ = peers.ours(sites, {"streams": streams}, crits)
    ids = np.array(list(sq), dtype=np.int64)
    for who, answers in [("ours", mine)] + [(n, peers.peer_side(e(), sites, ids, {"streams": streams}, crits)[0])
                                           for n, e in peers.ENGINES.items()]:
        for crit, want in expected.items():
            np.testing.assert_allclose(answers[crit][0], want, rtol=0, atol=1e-9, err_msg=f"{who} {crit}")
    keys, _ = peers.measure_files(sites, {"streams": streams}, crits, say=lambda *_: None)
    assert keys["peer_n_differ_duckdb_stream_distance"] == keys["peer_n_differ_sedonadb_stream_length"] == 0
    assert "vs_duckdb_all" not in keys  # the four-criteria key only for the four
