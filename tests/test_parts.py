"""What an overlap is made of (issue 11, item 10): the parts of a share, by name and agency.

Every expected share is derived here with shapely (intersection areas over the footprint's area),
not by sitescreen's kernels.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyworld as tw
from edgecases import run_cli
from sitescreen.measure.parts import overlap_with_parts
from sitescreen.rules.wording import measure_texts, part_labels, parts_texts

ALBERS = "EPSG:5070"


def _shares(fp, geoms):
    return np.array([shapely.intersection(fp, g).area / fp.area for g in geoms])


def test_two_agencies_under_one_footprint_give_both_shares():
    fp = shapely.box(0, 0, 1000, 1000)
    geoms = np.array([shapely.box(-500, -500, 600, 1500), shapely.box(600, 200, 2000, 700),
                      shapely.box(5000, 5000, 6000, 6000)])
    labels = part_labels(["Salmon Field Office", "Salmon National Forest", "Far Away"], ["BLM", "USFS", "BLM"])
    frac, best, _, p = overlap_with_parts(np.array([fp]), geoms, labels)
    want = _shares(fp, geoms)
    assert frac[0] == pytest.approx(want.sum(), rel=1e-12) and best[0] == 0
    assert p.site.tolist() == [0, 0]
    assert p.label.tolist() == ["Salmon Field Office (agency BLM)", "Salmon National Forest (agency USFS)"]
    assert p.share == pytest.approx(want[:2], rel=1e-12)
    text = parts_texts(1, p.site, p.label, p.share, p.more, p.more_share)[0]
    pct = measure_texts(want[:2], "fraction")
    assert text == f"Salmon Field Office (agency BLM) {pct[0]} + Salmon National Forest (agency USFS) {pct[1]}"


def test_features_of_one_label_add_up_and_overlaps_are_attributed_in_proportion():
    fp = shapely.box(0, 0, 100, 100)
    a1, a2 = shapely.box(0, 0, 30, 100), shapely.box(30, 0, 50, 100)  # one agency, two units
    b = shapely.box(40, 0, 100, 100)  # overlaps a2 over 40..50
    geoms = np.array([a1, a2, b])
    frac, _, _, p = overlap_with_parts(np.array([fp]), geoms, np.array(["A", "A", "B"], dtype=object))
    union = shapely.union_all(geoms).intersection(fp).area / fp.area
    own = {"A": (a1.area + a2.area) / fp.area, "B": b.area / fp.area}
    scale = union / sum(own.values())
    assert frac[0] == pytest.approx(union, rel=1e-12)
    assert dict(zip(p.label, p.share)) == pytest.approx({k: v * scale for k, v in own.items()}, rel=1e-12)
    assert p.share.sum() == pytest.approx(frac[0], rel=1e-12)


def test_more_than_three_parts_are_summed():
    fp = shapely.box(0, 0, 100, 100)
    w = (np.arange(5) + 1.0)[::-1]  # widths 25, 20, 15, 10, 5: shares in that order
    geoms = np.array([shapely.box(sum(w[:i]) * 5, 0, sum(w[:i + 1]) * 5, 100) for i in range(5)])
    _, _, _, p = overlap_with_parts(np.array([fp]), geoms, np.array(list("ABCDE"), dtype=object))
    want = _shares(fp, geoms)
    assert p.label.tolist() == ["A", "B", "C"] and p.more[0] == 2
    assert p.more_share[0] == pytest.approx(want[3:].sum(), rel=1e-12)
    text = parts_texts(1, p.site, p.label, p.share, p.more, p.more_share)[0]
    assert text.endswith(" + 2 more " + measure_texts([want[3:].sum()], "fraction")[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-50, 150), st.integers(-50, 150), st.integers(1, 120), st.integers(1, 120),
                          st.sampled_from("ABCD")), min_size=1, max_size=7),
       st.integers(1, 100))
def test_parts_add_up_to_the_union_share(boxes, size):
    """Property: per site, the parts are positive, at most the covered share each, sum to the covered
    share, and without overlaps between features each equals its own intersection share."""
    fps = np.array([shapely.box(0, 0, size, size), shapely.box(200, 200, 210, 210)])
    geoms = np.array([shapely.box(x, y, x + w, y + h) for x, y, w, h, _ in boxes])
    labels = np.array([lab for *_, lab in boxes], dtype=object)
    frac, _, _, p = overlap_with_parts(fps, geoms, labels)
    total = np.bincount(p.site, weights=p.share, minlength=2) + p.more_share
    assert (p.share > 0).all() and (p.share <= frac[p.site] + 1e-12).all()
    assert total == pytest.approx(frac, abs=1e-12)
    assert frac[0] == pytest.approx(shapely.union_all(geoms).intersection(fps[0]).area / fps[0].area, abs=1e-12)
    pieces = shapely.intersection(fps[0], geoms)
    if shapely.union_all(pieces).area == pytest.approx(shapely.area(pieces).sum(), abs=1e-9):  # no overlaps
        own = {lab: 0.0 for lab in labels}
        for lab, a in zip(labels, shapely.area(pieces)):
            own[lab] += a / fps[0].area
        named = dict(zip(p.label[p.site == 0], p.share[p.site == 0]))
        assert named == pytest.approx({k: v for k, v in own.items() if k in named}, abs=1e-12)


def test_tinyworld_federal_share_names_both_agencies_in_results_explain_and_report(tmp_path):
    w = tw.build(tmp_path / "w")
    x, y = tw.SITES[0][2], tw.SITES[0][3]  # Alpha: half BLM, a third of the rest USFS, the rest state
    boxes = [(-115.0, 44.0, x, 45.0), (x, 44.0, x + 0.004, 45.0), (x + 0.004, 44.0, -114.0, 45.0)]
    frame = tw.padus_frame([shapely.box(*b) for b in boxes])
    frame["Mang_Name"], frame["Mang_Type"] = ["BLM", "USFS", "SDNR"], ["FED", "FED", "STAT"]
    frame["Unit_Nm"] = ["Salmon Field Office (synthetic)", "Salmon National Forest (synthetic)", "State land (synthetic)"]
    tw.write_vector(frame, w.federal, layer="padus")
    args = [a for a in w.args() if a not in ("--no-map", "--no-report")]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(w.out / "sites.gpkg", layer="sites")
    alpha = sites.loc[sites["site_id"] == "1001"]
    fp = alpha.geometry.iloc[0]
    units = frame.to_crs(sites.crs).geometry.to_numpy()
    want = _shares(fp, units)
    assert want[0] > 0.3 and want[1] > 0.1 and want[2] > 0.1  # the footprint straddles all three
    pct = measure_texts(np.r_[want[:2].sum(), want[:2]], "fraction")
    parts = (f"Salmon Field Office (synthetic) (agency BLM) {pct[1]} + "
             f"Salmon National Forest (synthetic) (agency USFS) {pct[2]}")
    assert alpha["parts_federal_land"].iloc[0] == parts
    res = run_cli(["explain", str(w.out), "1001", "--json"])
    assert res.exit_code == 0, res.output
    crit = {c["name"]: c for c in json.loads(res.output)["criteria"]}
    assert crit["federal_land"]["measurement_text"] == f"{pct[0]}: {parts}"
    report = (w.out / "report.html").read_text(encoding="utf-8")
    assert f"{pct[0]}: {parts}" in report
