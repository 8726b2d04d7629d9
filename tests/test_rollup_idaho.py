"""Real data: the README's Idaho screening rolled up by watershed (HUC-8) and by a coarser HUC level,
checked against the run's own ``m_watershed`` and an independent geopandas overlay."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from edgecases import assert_error, run_cli
from sitescreen.review.rollup import OUTSIDE, rollup
from sitescreen.rules.verdicts import VERDICTS


@pytest.fixture(scope="module")
def idaho_run(shared_data, tmp_path_factory):
    """The README's Idaho screening (no DEM), through the CLI (as tests/test_browser_words.py runs it)."""
    d = shared_data
    out = tmp_path_factory.mktemp("idaho-rollup") / "idaho-out"
    res = run_cli(["-q", "screen", str(d / "mineral_deposits/lanthanum_datafile.csv"), "--sites-where", "state=Idaho",
                   "--layer", f"federal_land={d / 'federal_lands/padus_ID.geojson'}",
                   "--layer", f"watershed={d / 'watersheds/huc8_pnw.geojson'}",
                   "--layer", f"protected={d / 'protected_areas/nps_national_parks.geojson'}",
                   "--layer", f"protected={d / 'protected_areas/wilderness_usgs_national_atlas/wilderness.shp'}",
                   "--out", str(out), "--no-map"])
    assert res.exit_code == 0, res.output
    return out, d / "watersheds/huc8_pnw.geojson"


def test_idaho_by_watershed_adds_up_and_matches_the_run(idaho_run):
    out, _ = idaho_run
    sites = gpd.read_parquet(out / "sites.parquet")
    t = rollup(out, "watershed").table.set_index("unit")
    has = sites["m_watershed"].notna()
    assert t.drop(index=OUTSIDE)["sites"].sum() == has.sum()  # every site with a watershed, in one unit
    assert t.loc[OUTSIDE, "sites"] == (~has).sum() > 0
    # the outside row holds exactly the sites without a watershed (all incomplete: no data for the pressure)
    assert t.loc[OUTSIDE, "n_incomplete"] == (sites.loc[~has, "verdict"] == "incomplete").sum() == (~has).sum()
    # per unit and verdict, the counts are the run's own: sites by m_watershed
    want = pd.crosstab(sites.loc[has, "m_watershed"], sites.loc[has, "verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    got = t.drop(index=OUTSIDE)[[f"n_{v}" for v in VERDICTS]]
    assert sorted(got.index) == sorted(want.index)
    assert (got.loc[want.index].to_numpy() == want.to_numpy()).all()


def test_idaho_area_shares_match_an_overlay(idaho_run):
    out, huc_file = idaho_run
    sites = gpd.read_parquet(out / "sites.parquet")
    t = rollup(out, "watershed").table.set_index("unit").drop(index=OUTSIDE)
    assert t["share"].between(0, 1).all() and (t["share"] > 0).all()
    hucs = gpd.read_file(huc_file).to_crs(sites.crs)
    hucs = hucs[hucs["huc8"].isin(t.index)][["huc8", "geometry"]].dissolve(by="huc8")
    fps = sites[["verdict", "geometry"]].dissolve(by="verdict").reset_index()
    pieces = gpd.overlay(hucs.reset_index(), fps, how="intersection", keep_geom_type=True)
    pieces["km2"] = pieces.area / 1e6
    by_v = pieces.pivot_table(index="huc8", columns="verdict", values="km2", aggfunc="sum", fill_value=0.0)
    whole = gpd.overlay(hucs.reset_index(), sites[["geometry"]].dissolve(), how="intersection", keep_geom_type=True)
    whole = whole.set_index("huc8").area / 1e6
    unit_km2 = hucs.area / 1e6
    assert np.allclose(t["unit_km2"], unit_km2.reindex(t.index), rtol=1e-9)
    assert np.allclose(t["area_km2"], whole.reindex(t.index), rtol=1e-6)
    assert np.allclose(t["share"], (whole / unit_km2).reindex(t.index), rtol=1e-6)
    for v in VERDICTS:
        want = by_v[v].reindex(t.index, fill_value=0.0) if v in by_v else pd.Series(0.0, index=t.index)
        assert np.allclose(t[f"area_km2_{v}"], want, rtol=1e-6, atol=1e-9), v


def test_idaho_by_a_coarser_huc_level_sums_the_finer_one(idaho_run):
    out, _ = idaho_run
    fine = rollup(out, "huc8").table.set_index("unit")
    coarse = rollup(out, "huc6").table.set_index("unit")
    inner = fine.drop(index=OUTSIDE)
    cols = ["sites", *(f"n_{v}" for v in VERDICTS)]
    summed = inner[cols].groupby(inner.index.str[:6]).sum()
    assert (coarse.drop(index=OUTSIDE)[cols].loc[summed.index] == summed).all().all()
    assert coarse.loc[OUTSIDE, "sites"] == fine.loc[OUTSIDE, "sites"]
    assert_error(run_cli(["rollup", str(out), "--by", "huc10"]), ["huc10", "huc8 codes", "huc2, huc4, huc6, huc8"], 1)
