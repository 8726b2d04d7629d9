"""Issue 11 item 2: WBD as published — the national GDB's layers WBDHU2 … WBDHU12 (EPSG:4269) with
lowercase fields, the NHDPlus HR files' capitalised ones, HUC-12 chosen as the level of cumulative
pressure, and ``tohuc`` named in the words ("drains to <name> <huc>").

Expected codes and counts are derived here with shapely/pandas from the files themselves."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings, strategies as st

import pubschema as ps
import tinyworld as tw
from edgecases import run_cli
from sitescreen.errors import LayerConfigError
from sitescreen.inputs.read import choose_layer
from sitescreen.inputs.schemas import known_schemas
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.wording import watershed_texts

WEST, EAST, FAR = "170602040101", "170602040102", "170602049999"


def write_sites(path, points) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "site_name", "location", "crs", "state_or_province"])
        for i, (x, y) in enumerate(points):
            w.writerow([f"s{i}", f"Site {i} (synthetic)", f"POINT ({x} {y})", "EPSG:4326", "Idaho"])


def screen(tmp_path, sites, watershed: str, federal_box) -> tuple[pd.DataFrame, dict]:
    fed = tw.write_vector(tw.padus_frame([shapely.box(*federal_box)]), tmp_path / "federal.gpkg", layer="padus")
    out = tmp_path / "out"
    r = run_cli(["screen", str(sites), "--layer", f"federal_land={fed}:padus", "--layer", f"watershed={watershed}",
                 "--out", str(out), "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    table = pd.read_csv(out / "sites.csv", dtype={"site_id": str, "m_watershed": str}).set_index("site_id")
    return table, json.loads((out / "manifest.json").read_text())


def national_gdb(path, spelling=ps.WBD_LOWER):
    """WBDHU2 … WBDHU12 (EPSG:4269): two HUC-12s around the sites, WEST draining to EAST, EAST to a
    unit 400 km away (outside what is read around the sites: its name comes from the whole layer)."""
    west, east = shapely.box(-115.0, 44.0, -114.45, 45.0), shapely.box(-114.45, 44.0, -114.0, 45.0)
    far = shapely.box(-110.0, 44.0, -109.5, 44.5)
    both = shapely.box(-115.0, 44.0, -114.0, 45.0)
    units = {2: [("17", "Pacific Northwest Region", "", both)], 4: [("1706", "Lower Snake", "", both)],
             6: [("170602", "Salmon", "", both)], 8: [("17060204", "Lemhi", "", both)],
             10: [("1706020401", "Test Creek", "", both)],
             12: [(WEST, "West Test Creek", EAST, west), (EAST, "East Test Creek", FAR, east),
                  (FAR, "Far Downstream Creek", "OCEAN", far)]}
    return ps.write_wbd(path, units, spelling)


@pytest.mark.parametrize("spelling", [ps.WBD_LOWER, ps.WBD_CAPITAL], ids=["lowercase", "capitalised"])
def test_national_gdb_is_read_at_huc12_and_names_where_each_drains(tmp_path, spelling):
    gdb = national_gdb(tmp_path / "WBD_National_GDB.gdb", spelling)
    sites = tmp_path / "sites.csv"
    east_points = [(-114.40 + 0.05 * i, 44.5) for i in range(7)]  # 7 sites in EAST: pressure below 0.5
    write_sites(sites, [(-114.7, 44.5)] + east_points)
    out, manifest = screen(tmp_path, sites, str(gdb), (-116, 43, -113, 46))
    entry = next(e for e in manifest["inputs"] if e["role"] == "watershed")
    assert entry["layer"] == "WBDHU12" and entry["schema"] == "wbd" and entry["source_crs"] == "EPSG:4269"
    hu12 = gpd.read_file(gdb, layer="WBDHU12")
    code, name, tohuc = (next(c for c in hu12.columns if c.lower() == k) for k in ("huc12", "name", "tohuc"))
    names = dict(zip(hu12[code], hu12[name]))
    pts = gpd.GeoSeries(gpd.points_from_xy(*zip(*([(-114.7, 44.5)] + east_points))), crs="EPSG:4326").to_crs(hu12.crs)
    inside = hu12.sjoin(gpd.GeoDataFrame(geometry=pts), predicate="contains").sort_values("index_right")
    assert out["m_watershed"].tolist() == inside[code].tolist()
    counts = inside[code].value_counts()
    assert out["m_watershed_pressure"].tolist() == [float(counts[c]) for c in inside[code]]
    down = dict(zip(hu12[code], hu12[tohuc]))
    for sid, c in zip(out.index, inside[code]):
        words = f"{names[c]} {c}, drains to {names[down[c]]} {down[c]}"
        assert out.loc[sid, "f_watershed"] == f"{words}, layer WBDHU12"
        assert out.loc[sid, "f_watershed_pressure"] == words
    low = out.loc[out["m_watershed"] == EAST, "reasons"]
    assert low.str.contains(f"drains to Far Downstream Creek (synthetic) {FAR}", regex=False).all()


def test_capitalised_huc12_file_drives_watershed_pressure(tmp_path, shared_data):
    """The NHDPlus HR WBD HUC-12 shapefile of HUC-8 17060304 (Middle Fork Clearwater, Idaho County;
    not the REE belt): one site per HUC-12 plus four more in the first."""
    path = shared_data / "watersheds" / "wbd_17060304" / "WBDHU12.shp"
    hu12 = gpd.read_file(path)
    pts = list(hu12.geometry.representative_point())
    first = hu12.geometry.iloc[0]
    extra = [p for p in (shapely.Point(pts[0].x + dx, pts[0].y + dy) for dx in (-0.01, 0.01) for dy in (-0.01, 0.01))
             if first.buffer(-0.01).contains(p)]
    points = [(p.x, p.y) for p in pts + extra]
    sites = tmp_path / "sites.csv"
    write_sites(sites, points)
    out, manifest = screen(tmp_path, sites, str(path), (-116.5, 45.5, -115.0, 46.5))
    assert next(e for e in manifest["inputs"] if e["role"] == "watershed")["schema"] == "wbd"
    where = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*zip(*points), crs="EPSG:4326"))
    inside = hu12.sjoin(where, predicate="contains").sort_values("index_right")
    assert len(inside) == len(points)
    assert out["m_watershed"].tolist() == inside["HUC12"].tolist()
    counts = inside["HUC12"].value_counts()
    assert out["m_watershed_pressure"].tolist() == [float(counts[c]) for c in inside["HUC12"]]
    assert counts.max() == 1 + len(extra) >= 3
    names = dict(zip(hu12["HUC12"], hu12["Name"]))
    for sid, (_, row) in zip(out.index, inside.iterrows()):
        to = row["ToHUC"]
        down = f"drains to {names[to]} {to}" if to in names else f"drains to {to}"  # 170603060501: another HUC-8
        assert out.loc[sid, "f_watershed_pressure"] == f"{row['Name']} {row['HUC12']}, {down}"


def test_muddy_creek_geopackage_reads_wbdhu12_by_definition(tmp_path, shared_data):
    """The NHDPlus HR GeoPackage of HUC-10 1002000107 (Montana, 40 km east of Lemhi Pass): many
    layers (NHDFlowline, NHDPlusCatchment, WBDHU2 (empty) … WBDHU12); no layer name given."""
    path = shared_data / "streams" / "nhdplushr_1002000107_muddy_creek.gpkg"
    hu12 = gpd.read_file(path, layer="WBDHU12")
    points = [(p.x, p.y) for p in hu12.geometry.representative_point()]
    sites = tmp_path / "sites.csv"
    write_sites(sites, points)
    out, manifest = screen(tmp_path, sites, str(path), (-113.5, 44.3, -112.0, 45.5))
    entry = next(e for e in manifest["inputs"] if e["role"] == "watershed")
    assert entry["layer"] == "WBDHU12" and entry["features_in_file"] == len(hu12)
    assert out["m_watershed"].tolist() == hu12["HUC12"].tolist()
    to = dict(zip(hu12["HUC12"], hu12["ToHUC"]))
    names = dict(zip(hu12["HUC12"], hu12["Name"]))
    for sid, c in zip(out.index, hu12["HUC12"]):
        down = f"drains to {names[to[c]]} {to[c]}" if to[c] in names else f"drains to {to[c]}"
        assert out.loc[sid, "f_watershed"] == f"{names[c]} {c}, {down}, layer WBDHU12"


def test_preferred_level_and_empty_layers(tmp_path):
    wbd = known_schemas()["wbd"]
    assert wbd.named_layers([f"WBDHU{n}" for n in (2, 4, 6, 8, 10, 12, 14, 16)]) == ["WBDHU12"]
    assert wbd.named_layers(["WBDHU8", "WBDHU10"]) == ["WBDHU10"]
    path = tmp_path / "wbd.gpkg"
    box = shapely.box(-115, 44, -114, 45)
    ps.write_wbd(path, {10: [("1706020401", "Test Creek", "", box)], 8: [("17060204", "Lemhi", "", box)]})
    ps.write_layer(path, "WBDHU12", [ps.polygon_wkb(box)], [{"huc12": "x", "name": "y"}], crs="EPSG:4269",
                   geometry_type="Polygon")
    import pyogrio
    pyogrio.write_dataframe(gpd.read_file(path, layer="WBDHU12").iloc[:0], path, layer="WBDHU12")
    assert choose_layer(LayerSpec(role="watershed", path=path)).layer == "WBDHU10"  # WBDHU12 is empty


def test_a_file_with_layers_of_two_definitions_and_a_role_neither_serves_is_an_error(tmp_path):
    path = tmp_path / "mixed.gpkg"
    ps.write_layer(path, "PADUS4_0Fee", [ps.polygon_wkb(shapely.box(0, 0, 1, 1))], [ps.padus_record("A", 3, "NF")])
    ps.write_wbd(path, {12: [("170602040101", "Test Creek", "", shapely.box(-115, 44, -114, 45))]})
    with pytest.raises(LayerConfigError) as exc:
        choose_layer(LayerSpec(role="context", path=path))
    msg = str(exc.value)  # a definition of other roles never names this role's layer: both are listed
    assert "has 2 layers" in msg and "'PADUS4_0Fee'" in msg and "'WBDHU12'" in msg and "--layer context=" in msg
    assert choose_layer(LayerSpec(role="watershed", path=path)).layer == "WBDHU12"  # the role tells
    assert choose_layer(LayerSpec(role="federal_land", path=path)).layer == "PADUS4_0Fee"


codes = st.from_regex(r"[0-9]{12}", fullmatch=True)
words = st.text(st.characters(codec="ascii", categories=("L", "Nd", "Zs")), min_size=1, max_size=20).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(words, codes, words, st.one_of(codes, st.just(""), st.sampled_from(["OCEAN", "CLOSED BASIN"]))),
                min_size=1, max_size=8, unique_by=lambda t: t[1]))
def test_watershed_words_are_one_per_code_and_say_where_it_drains(rows):
    name, code, to_name, to_code = (np.array(c, dtype=object) for c in zip(*rows))
    text = watershed_texts(name, code, to_name, to_code)
    assert len(set(text)) == len(rows)  # counting sites by these words is counting them by code
    for t, c, tc in zip(text, code, to_code):
        assert c in t
        assert ("drains to" in t or "closed basin" in t) == (tc != "")
        if tc and tc not in ("OCEAN", "CLOSED BASIN"):
            assert t.endswith(f" {tc}")
