"""Issue 13 item 5: the national map's hexagon aggregate (outputs/maphexes.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fixtures_results import make_manifest, make_sites
from sitescreen.outputs import maphexes, payload
from sitescreen.outputs.mapping import render_map
from sitescreen.rules.verdicts import VERDICTS


@pytest.fixture(scope="module")
def clustered():
    """20,000 sites in EPSG:3857 around three districts of the western US, verdict codes at random."""
    rng = np.random.default_rng(5)
    centres = np.array([[-1.27e7, 5.6e6], [-1.25e7, 5.2e6], [-1.2e7, 4.4e6]])
    xy = centres[rng.integers(0, 3, 20_000)] + rng.normal(0, 30_000, (20_000, 2))
    return xy, rng.integers(0, len(VERDICTS), 20_000)


def test_counts_per_hexagon_sum_to_the_sites_at_every_zoom(clustered):
    xy, verdict = clustered
    zs = maphexes.site_zoom(xy, payload.MAX_ZOOM)
    bins = maphexes.bin_sites(xy, verdict, zs)
    assert bins is not None and bins.site_zoom == zs > maphexes.MIN_ZOOM
    assert [lv.zoom for lv in bins.levels] == list(range(maphexes.MIN_ZOOM, zs))
    per_verdict = np.bincount(verdict, minlength=len(VERDICTS))
    for lv in bins.levels:
        assert lv.counts.shape == (len(lv.qr), len(VERDICTS))
        np.testing.assert_array_equal(lv.counts.sum(axis=0), per_verdict)
        assert (lv.counts.sum(axis=1) > 0).all()  # only occupied hexagons are sent
        assert len(np.unique(lv.qr, axis=0)) == len(lv.qr)
    fine = bins.levels[-1]
    # each site's finest hexagon is the cell that holds it
    np.testing.assert_array_equal(fine.qr[bins.site_hex], maphexes.hex_cells(xy, fine.size))
    # and a coarser level's hexagon of a site is the one holding its finest hexagon's centre
    coarse = bins.levels[0]
    centres = maphexes.hex_centres(fine.qr, fine.size)
    np.testing.assert_array_equal(coarse.qr[coarse.up], maphexes.hex_cells(centres, coarse.size))


def test_site_zoom_is_where_no_tile_is_crowded(clustered):
    xy, _ = clustered
    zs = maphexes.site_zoom(xy, payload.MAX_ZOOM)

    def busiest(z):
        t = np.floor((xy + payload.HALF) / (512 * payload.pixel(z))).astype(np.int64)
        return np.unique(t, axis=0, return_counts=True)[1].max()
    assert busiest(zs) <= maphexes.TILE_SITES < busiest(zs - 1)
    assert maphexes.site_zoom(xy[:maphexes.TILE_SITES], payload.MAX_ZOOM) == maphexes.MIN_ZOOM


def test_hex_cells_is_the_nearest_centre():
    rng = np.random.default_rng(2)
    xy = rng.uniform(-5e5, 5e5, (5000, 2))
    size = 12_345.0
    cells = maphexes.hex_cells(xy, size)
    d_own = np.hypot(*(maphexes.hex_centres(cells, size) - xy).T)
    # the six neighbouring cells are never nearer (a hexagon is the Voronoi cell of its centre)
    for dq, dr in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)]:
        d_nb = np.hypot(*(maphexes.hex_centres(cells + [dq, dr], size) - xy).T)
        assert (d_own <= d_nb + 1e-6).all()
    assert (d_own <= size + 1e-6).all()


def test_verdict_mix_on_a_known_layout():
    """Three groups of sites near three cells' centres, each group with a known verdict mix."""
    zs = 9
    size = maphexes.hex_size(zs - 1)
    cells = np.array([[0, 0], [10, 0], [0, 10]])  # 10 cells apart: within 0.3 of a zoom-2 hexagon of the origin
    mix = [{"favorable": 3, "excluded": 1}, {"review": 2}, {"incomplete": 1, "unfavorable": 4, "favorable": 1}]
    rng = np.random.default_rng(0)
    xy, verdict, group = [], [], []
    for g, (cell, m) in enumerate(zip(cells, mix)):
        for v, k in m.items():
            centre = maphexes.hex_centres(cell[None, :], size)[0]
            xy += list(centre + rng.uniform(-0.4, 0.4, (k, 2)) * size)
            verdict += [VERDICTS.index(v)] * k
            group += [g] * k
    bins = maphexes.bin_sites(np.array(xy), np.array(verdict), zs)
    fine = bins.levels[-1]
    assert len(fine.qr) == 3
    for g, (cell, m) in enumerate(zip(cells, mix)):
        h = [tuple(c) for c in fine.qr].index(tuple(cell))
        assert dict(zip(VERDICTS, fine.counts[h])) == {v: m.get(v, 0) for v in VERDICTS}
        assert set(bins.site_hex[np.array(group) == g]) == {h}
    coarsest = bins.levels[0]
    assert len(coarsest.qr) == 1  # at zoom 2 the three groups share one hexagon
    assert dict(zip(VERDICTS, coarsest.counts[0])) == {v: sum(m.get(v, 0) for m in mix) for v in VERDICTS}


def test_bin_sites_without_a_zoom_for_hexagons():
    assert maphexes.bin_sites(np.zeros((3, 2)), np.zeros(3, dtype=int), maphexes.MIN_ZOOM) is None
    assert maphexes.bin_sites(np.zeros((0, 2)), np.zeros(0, dtype=int), 9) is None


def _hex_call(html: str) -> dict | None:
    m = re.search(r"sitescreen\.hexLayer\([^,]+, [^,]+, (\{.*?\})\);", html)
    return json.loads(m.group(1)) if m else None


def test_small_map_has_no_hexagons():
    sites = make_sites()
    html = render_map(sites, [], make_manifest(sites), basemap="none")
    assert "SS.hexLayer = function" in html  # the runtime is there, unused
    assert _hex_call(html) is None


def test_big_map_carries_the_hexagons_of_its_sites():
    sites = make_sites(maphexes.TILE_SITES + 500)
    html = render_map(sites, [], make_manifest(sites), basemap="none")
    data = _hex_call(html)
    assert data is not None and data["n"] == len(sites) and data["nv"] == len(VERDICTS)
    coarsest = data["levels"][0]
    counts = np.array(payload_decode(coarsest["counts"])).reshape(coarsest["n"], len(VERDICTS))
    expected = sites["verdict"].value_counts()
    assert {v: int(c) for v, c in zip(VERDICTS, counts.sum(axis=0))} == {v: int(expected.get(v, 0)) for v in VERDICTS}


def payload_decode(text: str) -> list[int]:
    out, v, f = [], 0, 1
    for ch in text:
        c = ord(ch) - 63
        v += (c & 31) * f
        if c & 32:
            f *= 32
        else:
            out.append(v)
            v, f = 0, 1
    return out
