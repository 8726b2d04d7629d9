"""bench/peers.py: DuckDB spatial and SedonaDB compute the four vector criteria with the SQL of the
bench, on a tiny world whose answers follow from its boxes; a criterion a peer cannot compute is
null with a reason, never a number."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

pytest.importorskip("duckdb")
pytest.importorskip("sedonadb")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import peers  # noqa: E402

CRS = "EPSG:5070"
SIDE = 100.0  # sites are 100 m squares
A = (-20.0, -20.0, 60.0, 120.0)  # protected; site 10 has [0, 60] × [0, 100] inside it
B = (-10.0, -30.0, 50.0, 130.0)  # protected, stacked on A: inside the site it lies within A
F = (-5.0, 50.0, 105.0, 200.0)  # federal: the site's upper half
W_SPLIT = 30.0  # watersheds: x < 30 is HUC ...01, x > 30 is HUC ...02
SITES = {11: (1000.0, 0.0), 10: (0.0, 0.0), 12: (50_000.0, 50_000.0)}  # not in id order


def _write(path: Path, geoms, **cols) -> Path:
    gpd.GeoDataFrame(cols, geometry=list(geoms), crs=CRS).to_parquet(path)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("peers")
    sites = _write(d / "sites.parquet", [shapely.box(x, y, x + SIDE, y + SIDE) for x, y in SITES.values()],
                   site_id=np.array(list(SITES), dtype=np.int64))
    layers = {
        "protected": _write(d / "protected.parquet", [shapely.box(*A), shapely.box(*B)]),
        "federal": _write(d / "federal.parquet", [shapely.box(*F)]),
        "watersheds": _write(d / "watersheds.parquet",
                             [shapely.box(-1000, -1000, W_SPLIT, 1000), shapely.box(W_SPLIT, -1000, 2000, 1000)],
                             huc12=["100000000001", "100000000002"]),
    }
    return sites, layers


def expected() -> dict:
    """Per site in file order (11, 10, 12), from the boxes."""
    area = SIDE * SIDE
    union_10 = (A[2] - 0) * SIDE / area  # B adds nothing inside the site: counted once, not 0.6 + 0.5
    near_11 = 1000.0 - A[2]  # site 11's west edge to A's east edge (B's is 10 m further)
    return {
        "federal_overlap": (np.array([0.0, SIDE * (SIDE - F[1]) / area, 0.0]), None),
        "protected_overlap": (np.array([0.0, union_10, 0.0]), None),
        "protected_distance": (np.array([near_11, 0.0, np.inf]), None),  # site 12 is > 10 km away
        # site 10: 30 % in ...01, 70 % in ...02; site 12 in no watershed
        "huc12_majority": (np.array([1.0, 1.0, 0.0]), np.array(["100000000002", "100000000002", None], dtype=object)),
    }


def _check(answers: dict, who: str) -> None:
    for crit, (v, code) in expected().items():
        got_v, got_code = answers[crit]
        np.testing.assert_allclose(got_v, v, rtol=0, atol=1e-9, err_msg=f"{who} {crit}")
        if code is not None:
            assert list(got_code) == list(code), f"{who} {crit}"


def test_ours_and_both_peers_give_the_answers_of_the_boxes(world):
    sites, layers = world
    crits = peers.criteria(False)
    mine, seconds, read = peers.ours(sites, layers, crits)
    _check(mine, "ours")
    assert set(seconds) == set(crits) and set(read) == {"sites", *layers}
    ids = np.array(list(SITES), dtype=np.int64)
    for name, engine in peers.ENGINES.items():
        answers, q_seconds, _ = peers.peer_side(engine(), sites, ids, layers, crits)
        _check(answers, name)
        assert set(q_seconds) == set(crits)


def test_the_json_keys_compare_each_peer_with_ours(world):
    sites, layers = world
    keys, detail = peers.measure_files(sites, layers, peers.criteria(False), say=lambda _: None)
    for peer in peers.PEERS:
        for crit in peers.criteria(False):
            assert keys[f"vs_{peer}_{crit}"] > 0
            assert keys[f"peer_max_diff_{peer}_{crit}"] < 1e-9
            assert keys[f"peer_n_differ_{peer}_{crit}"] == 0
        assert keys[f"vs_{peer}_all"] > 0
        assert detail[peer]["compare"]["huc12_majority"]["n_code_differ"] == 0


class _NoDistance(peers.DuckDB):
    """A peer lacking the distance join (as SedonaDB 0.5 lacks arg_max)."""

    name = "sedonadb"

    def query(self, sql: str):
        if "ST_KNN" in sql:
            raise RuntimeError("Invalid function 'st_knn'")
        return super().query(sql)


def test_a_criterion_a_peer_cannot_compute_is_null_with_its_reason(world, monkeypatch):
    sites, layers = world
    monkeypatch.setitem(peers.ENGINES, "sedonadb", _NoDistance)
    keys, _ = peers.measure_files(sites, layers, peers.criteria(False), say=lambda _: None)
    assert keys["vs_sedonadb_protected_distance"] is None
    assert keys["peer_max_diff_sedonadb_protected_distance"] is None
    assert "st_knn" in keys["vs_sedonadb_protected_distance_reason"]
    assert keys["vs_sedonadb_all"] is None  # not all four computed: no total
    assert keys["vs_sedonadb_federal_overlap"] > 0  # the others still compared
    assert keys["peer_n_differ_sedonadb_huc12_majority"] == 0


def test_a_peer_that_cannot_start_has_every_criterion_null(world, monkeypatch):
    sites, layers = world

    def missing():
        raise ImportError("No module named 'sedonadb'")

    monkeypatch.setitem(peers.ENGINES, "sedonadb", missing)
    keys, _ = peers.measure_files(sites, layers, peers.criteria(False), say=lambda _: None)
    for crit in peers.criteria(False):
        assert keys[f"vs_sedonadb_{crit}"] is None
        assert "No module named" in keys[f"vs_sedonadb_{crit}_reason"]
        assert keys[f"vs_duckdb_{crit}"] > 0


def test_compare_counts_sites_beyond_the_tolerance():
    ours = (np.array([0.5, 0.25, 0.0, np.inf]), None)
    theirs = (np.array([0.5 + 1e-12, 0.25 + 1e-6, 0.0, 5.0]), None)
    cmp = peers.compare(ours, theirs, "union")
    assert cmp["max_diff"] == pytest.approx(1e-6)
    assert cmp["n_differ"] == 2  # 1e-6 beyond 1e-9, and a value on one side only
    codes = peers.compare((np.ones(2), np.array(["a", "b"], dtype=object)),
                          (np.ones(2), np.array(["a", "c"], dtype=object)), "majority")
    assert codes["n_code_differ"] == 1 and codes["n_differ"] == 1
