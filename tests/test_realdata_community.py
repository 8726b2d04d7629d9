"""The Idaho rare-earth records against the Census tribal areas and the eastern-Idaho TIGER roads in
../shared/data (issue 11 items 6 and 7): a site on or within the cap's distance of tribal land is
never favorable and says why; a site beyond it is unaffected; no score changes; road distances
agree with an independent shapely computation. Both files are real: the AIANNH file is national
(Fort Hall, Nez Perce, Coeur d'Alene, Kootenai … around Idaho), the roads are cropped to lon
-114..-112, lat 43..45 (declared as the layer's coverage here)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from sitescreen.run.config import config_from_dict
from sitescreen.run.pipeline import screen
from sitescreen.rules.profile import builtin_profiles
from test_realdata_idaho import idaho_config

AIANNH = "tribal_lands/cb_2018_us_aiannh_500k.shp"
ROADS = "roads/tiger_prisecroads_eastern_idaho.gpkg"
CAP_M = 1000.0  # the default profile's tribal_lands cap (below = 1000)


def _run(data, tmp, extra, profile=None):
    cfg = idaho_config(data)
    cfg["layers"] += extra
    if profile is not None:
        cfg["run"] = {"profile": str(profile)}
    return screen(config_from_dict(cfg, tmp, "test_realdata_community"))


@pytest.fixture(scope="module")
def area(tmp_path_factory):
    d = tmp_path_factory.mktemp("roads_area")
    gpd.GeoDataFrame({"name": ["inldata crop"]}, geometry=[box(-114, 43, -112, 45)], crs="EPSG:4326").to_file(d / "crop.gpkg")
    return d / "crop.gpkg"


@pytest.fixture(scope="module")
def runs(shared_data, area, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("community_runs")
    base = _run(shared_data, tmp, [])
    full = _run(shared_data, tmp, [{"role": "tribal_lands", "path": str(shared_data / AIANNH)},
                                   {"role": "roads", "path": str(shared_data / ROADS), "coverage": str(area)}])
    return base, full


@pytest.fixture(scope="module")
def tribal_distance(shared_data, runs):
    """Each site's distance to the nearest AIANNH area, computed here (shapely, STRtree nearest)."""
    sites = runs[1].sites
    areas = gpd.read_file(shared_data / AIANNH).to_crs(sites.crs)
    fps = sites.geometry.to_numpy()
    tree = shapely.STRtree(areas.geometry.to_numpy())
    (i_fp, i_area), dist = tree.query_nearest(fps, return_distance=True, all_matches=False)
    out = np.full(len(fps), np.inf)
    out[i_fp] = dist
    names = np.full(len(fps), "", dtype=object)
    names[i_fp] = areas["NAME"].to_numpy()[i_area]
    return out, names


def test_scores_never_change_and_sites_beyond_the_cap_are_unaffected(runs, tribal_distance):
    base, full = (r.sites.set_index("site_id") for r in runs)
    np.testing.assert_array_equal(full["score"].to_numpy(), base.loc[full.index, "score"].to_numpy())
    dist, _ = tribal_distance
    beyond = dist >= CAP_M + 1  # 1 m clear of the limit: the measured and independent distances agree within it
    assert beyond.sum() > 300
    assert (full["verdict"].to_numpy()[beyond] == base.loc[full.index, "verdict"].to_numpy()[beyond]).all()


def test_sites_within_the_distance_are_review_with_the_reason(runs, tribal_distance):
    full = runs[1].sites.reset_index(drop=True)
    dist, names = tribal_distance
    near = np.flatnonzero(dist < CAP_M - 1)
    assert len(near) >= 2  # Gay Mine on the Fort Hall Reservation, Cavendish Summit 876 m from Nez Perce
    np.testing.assert_allclose(full["m_tribal_lands"].to_numpy()[near], dist[near], atol=1.0)
    for i in near:
        r = full.iloc[i]
        assert r["verdict"] in ("review", "unfavorable", "excluded", "incomplete"), r["site_id"]
        if r["verdict"] in ("review", "unfavorable"):
            assert "review required by tribal_lands: distance to tribal land is" in r["reasons"]
            assert f"({names[i]}, layer cb_2018_us_aiannh_500k)" in r["reasons"]
            assert "government-to-government consultation" in r["reasons"]
    assert set(names[near]) >= {"Fort Hall", "Nez Perce"}


def test_a_wider_cap_turns_favorable_sites_near_reservations_to_review(shared_data, runs, tribal_distance, tmp_path):
    """With the cap at 5 km (a copy of the default profile), the favorable sites within 5 km become
    review (in the shared file: Wawa Claims, Scheller Prospect, Hall Mountain near Kootenai) and
    the ones beyond (Craig Black Sands, 5,030 m from Nez Perce) stay favorable."""
    text = builtin_profiles()["federal-safeguards"].read_text(encoding="utf-8")
    wide = text.replace('cap = { verdict = "review", below = 1000 }', 'cap = { verdict = "review", below = 5000 }')
    assert wide != text
    (tmp_path / "wide.toml").write_text(wide, encoding="utf-8")
    res = _run(shared_data, tmp_path, [{"role": "tribal_lands", "path": str(shared_data / AIANNH)}],
               profile=tmp_path / "wide.toml").sites.reset_index(drop=True)
    base = runs[0].sites.set_index("site_id").loc[res["site_id"]].reset_index()
    dist, _ = tribal_distance
    was_fav = base["verdict"].to_numpy() == "favorable"
    inside, outside = was_fav & (dist < 4999), was_fav & (dist > 5001)
    assert inside.sum() >= 3
    assert (res["verdict"].to_numpy()[inside] == "review").all()
    assert (res["verdict"].to_numpy()[outside] == "favorable").all()
    assert outside.sum() == (base["verdict"] == "favorable").sum() - inside.sum() - (was_fav & (abs(dist - 5000) <= 1)).sum()
    np.testing.assert_array_equal(res["score"].to_numpy(), base["score"].to_numpy())


def test_road_distance_agrees_with_shapely_inside_the_declared_area(shared_data, runs, area):
    full = runs[1].sites
    roads = gpd.read_file(shared_data / ROADS).to_crs(full.crs)
    crop = gpd.read_file(area).to_crs(full.crs).geometry.iloc[0]
    fps = full.geometry.to_numpy()
    inside = shapely.within(fps, crop)
    assert inside.sum() >= 40  # ~60 Idaho REE records lie in the crop
    tree = shapely.STRtree(roads.geometry.to_numpy())
    (i_fp, _), dist = tree.query_nearest(fps[inside], return_distance=True, all_matches=False)
    expected = np.full(inside.sum(), np.inf)
    expected[i_fp] = dist
    expected[expected > 50_000] = np.inf  # beyond the 50 km search radius
    got = full["m_road_distance"].to_numpy()[inside]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1.0)
    outside = ~shapely.intersects(fps, crop)
    assert outside.sum() > 100 and np.isnan(full["m_road_distance"].to_numpy()[outside]).all()
