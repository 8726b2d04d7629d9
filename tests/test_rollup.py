"""``sitescreen rollup``: sites, scores and footprint areas added up per unit, checked against an
independent geopandas overlay (a tiny synthetic world, and the Idaho run by watershed)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from edgecases import assert_error, run_cli
from sitescreen.errors import CRSError
from sitescreen.review.rollup import OUTSIDE, check_equal_area, rollup
from sitescreen.rules.verdicts import VERDICTS
from tinyworld import build, write_vector

#: Two synthetic counties split at lon -114.497 (site 1001, at -114.50, is split: most of it lies west), one far away; site 1004
#: (lon -114.60) has about a quarter of its footprint in the west county: outside every unit.
COUNTIES = {"West County (synthetic)": (-114.597, 44.3, -114.497, 44.7),
            "East County (synthetic)": (-114.497, 44.3, -114.2, 44.7),
            "Far County (synthetic)": (-110.0, 40.0, -109.0, 41.0)}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    world = build(tmp_path_factory.mktemp("rollup-tiny"))
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    units = gpd.GeoDataFrame({"county": list(COUNTIES), "NAME": [f"n{i}" for i in range(len(COUNTIES))]},
                             geometry=[shapely.box(*b) for b in COUNTIES.values()], crs="EPSG:4326")
    path = write_vector(units, world.root / "counties.gpkg")
    return world.out, path


def independent(sites: gpd.GeoDataFrame, units: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    """The roll-up by geopandas overlay: the unit with the largest intersection when at least half the
    footprint lies in the units; footprint area per unit from the dissolved footprints."""
    units = units.to_crs(sites.crs)[[key, "geometry"]].dissolve(by=key).reset_index()
    fp = sites[["site_id", "verdict", "geometry"]].copy()
    fp["fp_area"] = fp.area
    pieces = gpd.overlay(fp, units, how="intersection", keep_geom_type=True)
    pieces["a"] = pieces.area
    inside = pieces.groupby("site_id")["a"].sum() / fp.set_index("site_id")["fp_area"]
    best = pieces.sort_values(["site_id", "a"], ascending=[True, False]).drop_duplicates("site_id").set_index("site_id")[key]
    assigned = best[inside.reindex(best.index) >= 0.5].reindex(fp["site_id"]).fillna(OUTSIDE)
    counts = pd.crosstab(assigned.to_numpy(), fp["verdict"].to_numpy()).reindex(columns=list(VERDICTS), fill_value=0)
    dissolved = fp.dissolve()
    area = gpd.overlay(units, dissolved[["geometry"]], how="intersection", keep_geom_type=True)
    area = area.set_index(key).area / 1e6
    share = area / (units.set_index(key).area / 1e6).reindex(area.index)
    return counts, area, share, units


def test_rollup_by_file_field_matches_an_overlay(tiny_run):
    out, path = tiny_run
    sites = gpd.read_parquet(out / "sites.parquet")
    r = rollup(out, f"{path}:county")
    t = r.table.set_index("unit")
    counts, area, share, units = independent(sites, gpd.read_file(path), "county")
    assert list(t.index)[-1] == OUTSIDE and "Far County (synthetic)" not in t.index  # no site, no footprint there
    for unit, row in counts.iterrows():
        assert [t.loc[unit, f"n_{v}"] for v in VERDICTS] == row.tolist()
    assert t["sites"].sum() == len(sites) and t.loc[OUTSIDE, "sites"] >= 1  # site 1004: a quarter inside
    inner = t.drop(index=OUTSIDE)
    assert np.allclose(inner["area_km2"], area.reindex(inner.index), rtol=1e-9)
    assert np.allclose(inner["share"], share.reindex(inner.index), rtol=1e-9)
    assert (inner["share"].between(0, 1)).all()
    # the west county holds part of an outside site's footprint: areas count footprints wherever they lie
    assert inner.loc["West County (synthetic)", "area_km2"] > 0
    assert inner.loc["West County (synthetic)", "sites"] == 1 and inner.loc["East County (synthetic)", "sites"] == 2
    whole = sites.geometry.union_all().area / 1e6
    assert t["area_km2"].sum() == pytest.approx(whole, rel=1e-9)  # in units + outside = every footprint once


def test_rollup_score_statistics_are_over_scored_sites(tiny_run):
    out, path = tiny_run
    sites = gpd.read_parquet(out / "sites.parquet")
    r = rollup(out, f"{path}:county")
    from sitescreen.review.rollup import assign
    unit = pd.Series(assign(sites.geometry.to_numpy(), r.units)).fillna(OUTSIDE).to_numpy()
    scored = sites["score"].notna() & (sites["verdict"] != "excluded")
    for name, row in r.table.set_index("unit").iterrows():
        s = sites.loc[scored & (unit == name), "score"]
        got = row[["score_min", "score_median", "score_mean", "score_max"]].to_numpy(dtype=float)
        want = [s.min(), s.median(), s.mean(), s.max()] if len(s) else [np.nan] * 4
        assert np.allclose(got, want, equal_nan=True), name


def test_rollup_cli_writes_gpkg_csv_and_json(tiny_run, tmp_path):
    out, path = tiny_run
    r = rollup(out, f"{path}:county")
    for name in ("r.gpkg", "r.csv"):
        res = run_cli(["rollup", str(out), "--by", f"{path}:county", "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    g = gpd.read_file(tmp_path / "r.gpkg", layer="rollup")
    assert list(g["unit"]) == list(r.table["unit"]) and list(g.columns[:-1]) == list(r.table.columns)
    inner = g[g["unit"] != OUTSIDE]
    assert np.allclose(inner.area / 1e6, inner["unit_km2"], rtol=1e-9) and g.geometry.iloc[-1] is None
    c = pd.read_csv(tmp_path / "r.csv")
    assert c["sites"].tolist() == r.table["sites"].tolist()
    assert np.allclose(c["area_km2"], r.table["area_km2"], rtol=1e-12)
    res = run_cli(["rollup", str(out), "--by", f"{path}:county", "--json"])
    data = json.loads(res.output)
    assert [u["unit"] for u in data["units"]] == list(r.table["unit"]) and data["field"] == "county"
    res = run_cli(["rollup", str(out), "--by", f"{path}:county"])
    assert res.exit_code == 0 and OUTSIDE in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.gpkg"]  # nothing temporary left


def test_rollup_default_field_is_a_name_field(tiny_run):
    out, path = tiny_run
    r = rollup(out, str(path))
    assert r.units.field == "NAME" and set(r.table["unit"]) - {OUTSIDE} <= {"n0", "n1", "n2"}


def test_rollup_errors(tiny_run, tmp_path):
    out, path = tiny_run
    points = write_vector(gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(-114.5, 44.5)], crs="EPSG:4326"),
                          tmp_path / "points.geojson")
    noname = write_vector(gpd.GeoDataFrame({"GEOID": ["16001"]}, geometry=[shapely.box(-115, 44, -114, 45)], crs="EPSG:4326"),
                          tmp_path / "noname.geojson")
    cases = [
        ([str(tmp_path / "missing.gpkg")], ["missing.gpkg", "does not exist", "FILE[:FIELD]"]),
        ([f"{tmp_path / 'missing.gpkg'}:county"], ["missing.gpkg", "does not exist"]),
        ([f"{path}:COUNTY_NAME"], ["'COUNTY_NAME' is not a field", "fields: county, NAME"]),
        ([str(points)], ["points.geojson", "points", "polygons"]),
        ([str(noname)], ["noname.geojson", "no name field", "fields: GEOID"]),
        (["watershed"], ["no watershed layer", "--by FILE[:FIELD]"]),
        (["huc8"], ["no watershed layer"]),
        (["huc7"], ["--by huc7", "huc2, huc4"]),
    ]
    for by, expect in cases:
        assert_error(run_cli(["rollup", str(out), "--by", *by]), expect, 1)
    target = tmp_path / "r.csv"
    target.write_text("mine", encoding="utf-8")
    assert_error(run_cli(["rollup", str(out), "--by", f"{path}:county", "--out", str(target)]), ["exists", "--overwrite"], 1)
    assert target.read_text(encoding="utf-8") == "mine"  # never replaced without --overwrite
    assert_error(run_cli(["rollup", str(out), "--by", f"{path}:county", "--out", str(tmp_path / "r.txt")]), [".gpkg or .csv"], 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noname.geojson", "points.geojson", "r.csv"]


def test_rollup_refuses_a_run_crs_that_is_not_equal_area():
    sites = gpd.GeoDataFrame({"site_id": ["a"]}, geometry=[shapely.Point(-114.5, 44.5).buffer(0.01)],
                             crs="EPSG:4326").to_crs("EPSG:3857")  # web Mercator: neither lengths nor areas true
    with pytest.raises(CRSError, match="roll-up"):
        check_equal_area(sites, Path("run"))


def test_report_rollup_section_shows_the_same_rows(tiny_run, tmp_path):
    import re
    out, path = tiny_run
    r = rollup(out, f"{path}:county")
    res = run_cli(["report", str(out), "--rollup", f"{path}:county", "-o", str(tmp_path / "report.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    body = re.search(r'<section id="rollup-1"><h2>Roll-up by [^<]*counties.gpkg:county</h2>.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    assert [row[0] for row in rows] == list(r.table["unit"])
    assert [int(row[1]) for row in rows] == r.table["sites"].tolist()
    assert [row[7] for row in rows] == [f"{a:,.2f}" for a in r.table["area_km2"]]
    res = run_cli(["report", str(out), "-o", str(tmp_path / "plain.html")])
    assert res.exit_code == 0 and "Roll-up by" not in (tmp_path / "plain.html").read_text(encoding="utf-8")
    assert_error(run_cli(["report", str(out), "--rollup", "huc8", "-o", str(tmp_path / "bad.html")]), ["no watershed layer"], 1)
    assert not (tmp_path / "bad.html").exists()


def test_map_rollup_layer_names_each_unit_with_its_verdict_mix(tiny_run, tmp_path):
    from sitescreen.outputs.rollupsection import unit_summaries
    out, path = tiny_run
    r = rollup(out, f"{path}:county")
    res = run_cli(["map", str(out), "--rollup", f"{path}:county", "--offline", "-o", str(tmp_path / "map.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    inner = r.table[r.table["unit"] != OUTSIDE]
    lines = unit_summaries(inner)
    assert len(lines) == len(inner) and all(f"{u}: " in line for u, line in zip(inner["unit"], lines))
    for line in lines:
        assert json.dumps(line)[1:-1] in html or json.dumps(line, ensure_ascii=False)[1:-1] in html, line
    assert "Roll-up by" in html
    west = inner.set_index("unit").loc["West County (synthetic)"]
    v = max(VERDICTS, key=lambda k: west[f"n_{k}"])
    assert f"{int(west[f'n_{v}'])} {v}" in lines[list(inner["unit"]).index("West County (synthetic)")]


@pytest.fixture(scope="module")
def split_run(tmp_path_factory):
    """A run whose watershed layer splits site 1001's footprint 40 % into basin 17070101 and 30 % each
    into 17060101 and 17060102: its HUC-8 is 17070101, but most of it (60 %) lies in HUC-6 170601."""
    from pyproj import Transformer
    world = build(tmp_path_factory.mktemp("rollup-split"))
    cx, cy = Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True).transform(-114.50, 44.50)
    circle = shapely.Point(cx, cy).buffer(1000, 64)
    lo, hi = -1000.0, 1000.0
    for _ in range(60):  # the chord x = cx + t with 40 % of the footprint west of it
        t = (lo + hi) / 2
        west = shapely.intersection(circle, shapely.box(cx - 5000, cy - 5000, cx + t, cy + 5000)).area / circle.area
        lo, hi = (t, hi) if west < 0.4 else (lo, t)
    r = 5000
    basins = {"17070101": shapely.box(cx - r, cy - r, cx + t, cy + r),
              "17060101": shapely.box(cx + t, cy, cx + r, cy + r), "17060102": shapely.box(cx + t, cy - r, cx + r, cy)}
    wbd = gpd.GeoDataFrame({"huc8": list(basins), "name": [f"Basin {k} (synthetic)" for k in basins]},
                           geometry=list(basins.values()), crs="EPSG:5070")
    write_vector(wbd, world.root / "wbd.gpkg")
    world.layers.append(f"watershed={world.root / 'wbd.gpkg'}")
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    return world.out


def test_a_huc_level_assigns_by_the_majority_at_that_level_not_a_prefix(split_run):
    sites = gpd.read_parquet(split_run / "sites.parquet").set_index("site_id")
    assert sites.loc["1001", "m_watershed"] == "17070101"  # the run's own majority basin
    fine = rollup(split_run, "watershed").table.set_index("unit")
    coarse = rollup(split_run, "huc6").table.set_index("unit")
    assert fine.loc["17070101", "sites"] == 1 and fine.loc[OUTSIDE, "sites"] == 3
    # the prefix of 17070101 would be 170701; most of the footprint lies in 170601
    assert coarse.loc["170601", "sites"] == 1 and ("170701" not in coarse.index or coarse.loc["170701", "sites"] == 0)
    wbd = gpd.read_file(split_run.parent / "wbd.gpkg").to_crs(sites.crs)
    east = wbd.loc[wbd["huc8"].str.startswith("170601")].union_all()
    fp = sites.loc["1001"].geometry
    assert coarse.loc["170601", "area_km2"] == pytest.approx(fp.intersection(east).area / 1e6, rel=1e-9)
    assert 0.55 < fp.intersection(east).area / fp.area < 0.65


def test_overwrite_replaces_only_an_earlier_rollup(tiny_run, tmp_path):
    """--overwrite replaces an earlier roll-up, never the --by file itself, the run's results or any
    other file of that suffix (each left byte for byte)."""
    import shutil
    out, path = tiny_run
    units = tmp_path / "units.gpkg"
    shutil.copy(path, units)  # the --by file, a GeoPackage like a roll-up
    for target in (units, out / "sites.gpkg", out / "sites.csv"):
        before = target.read_bytes()
        assert_error(run_cli(["rollup", str(out), "--by", f"{units}:county", "--out", str(target), "--overwrite"]),
                     [str(target), "not a roll-up", "--overwrite replaces only an earlier roll-up"], 1)
        assert target.read_bytes() == before
    for name in ("r.gpkg", "r.csv"):  # an earlier roll-up is replaced
        target = tmp_path / name
        assert run_cli(["rollup", str(out), "--by", f"{units}:county", "--out", str(target)]).exit_code == 0
        res = run_cli(["rollup", str(out), "--by", f"{units}:county", "--out", str(target), "--overwrite"])
        assert res.exit_code == 0, res.output
