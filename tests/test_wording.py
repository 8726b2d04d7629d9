"""One wording (issue 10, item 4): every surface puts a fact into words with rules/wording.py.

Measurements of every kind and unit, rules with their units, effective weights, the verdicts'
order and colours, and the report's count of sites without data: each is checked on the surfaces
that show it (reasons, explain, report, map payload, QGIS style) against the one function or table.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fixtures_results import *  # noqa: F403
from fixtures_results import CRITERIA, make_layers, make_manifest, make_sites
from sitescreen.cli import main
from sitescreen.outputs import mapping, payload
from sitescreen.outputs.qgis import style_qml, style_sld
from sitescreen.outputs.report import build_report
from sitescreen.rules import profile, verdicts
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.wording import (NO_DATA, exclusion_text, measure_text, measure_texts, rule_text, score_text,
                                      score_texts, search_radius, suitability_text, suitability_texts,
                                      transform_text, value_text, weight_text, with_parts)
from sitescreen.record.manifest import as_record, to_data

RADIUS = 50_000.0
NUMBERS = np.array([0.0, 0.000123456, 0.4375, 0.99951, 1051.3, 9_999.4, 12_345.6, 123_456_789.0, -3.5,
                    np.nan, np.inf])


def kind_units() -> list[tuple[str, str]]:
    """Every (kind, unit) a criterion can have: each kind with every combination of its choices."""
    pairs = set()
    for kind in KINDS.values():
        choices = [[None, *p.choices] for p in kind.params.values() if p.type == "choice"]
        names = [p.name for p in kind.params.values() if p.type == "choice"]
        for combo in itertools.product(*choices):
            pairs.add((kind.name, kind.unit_of({k: v for k, v in zip(names, combo) if v is not None})))
    return sorted(pairs)


KIND_UNITS = kind_units()


def test_every_kind_and_unit_is_covered():
    units = {u for _, u in KIND_UNITS}
    assert {"fraction", "m", "count", "sites", "degrees", ""} <= units
    assert {k for k, _ in KIND_UNITS} == set(KINDS)


def decode(col: dict | None, n: int) -> list:
    """A payload text column (as sitescreen-map.js decodes it)."""
    if col is None:
        return [None] * n
    if "list" in col:
        return col["list"]
    from test_mapping import decode_uvarints
    return [col["dict"][k - 1] if k else None for k in decode_uvarints(col["idx"])]


@pytest.mark.parametrize("kind,unit", KIND_UNITS)
def test_one_measurement_text_per_kind_and_unit(kind, unit):
    radius = RADIUS if kind == "distance" else None
    texts = measure_texts(NUMBERS, unit, radius)
    # a single value reads as it does inside a column (explain and the report word one value at a time)
    assert [measure_text(v, unit, radius) for v in NUMBERS] == list(texts)
    # the map's popup column is those texts, missing ones null (the popup says "no data")
    col = payload._measure_column(pd.Series(NUMBERS), {"unit": unit, "radius": radius})
    assert decode(col, len(NUMBERS)) == [None if t == NO_DATA else t for t in texts]
    assert texts[-2] == NO_DATA
    assert texts[-1] == (f"beyond the {RADIUS / 1000:g} km search radius" if radius else "beyond the search radius")
    finite = texts[:-2]
    if unit == "fraction":
        assert all(t.endswith(" %") for t in finite) and texts[2] == "43.8 %"
    elif unit == "m":
        assert texts[4] == "1,051 m" and texts[6] == "12.35 km"  # one distance formatter: never "1.05 km"
    elif unit in ("count", ""):
        assert texts[4] == ("1,051" if unit == "" else "1,051.3")  # count: 6 significant digits, others 4
        assert all(re.fullmatch(r"−?[\d,.]+", t) for t in finite)  # no unit word
    else:
        assert all(t.endswith(f" {unit}") for t in finite)


def test_text_measurements_stay_as_written():
    values = np.array(["17040201", None, "<img src=x onerror=alert(1)>", np.nan], dtype=object)
    assert list(measure_texts(values, "")) == ["17040201", NO_DATA, "<img src=x onerror=alert(1)>", NO_DATA]
    col = payload._measure_column(pd.Series(values), {"unit": "", "radius": None})
    assert decode(col, 4) == ["17040201", None, "<img src=x onerror=alert(1)>", None]


def test_rules_carry_units():
    # the issue's examples
    assert exclusion_text("< 300", "m") == "exclude if < 300 m"
    assert transform_text({"kind": "linear", "points": [[0, 0], [1, 1]]}, "fraction") == "linear: 0 % → 0, 100 % → 1"
    # a rule's threshold reads as a measurement of it does
    for unit in ("m", "fraction", "sites", "degrees", "count"):
        for v in (300, 0.25, 12_345.6):
            assert value_text(v, unit) == measure_text(v, unit)
    assert exclusion_text("≥ 0.5", "fraction") == "exclude if ≥ 50 %"
    assert rule_text({"kind": "threshold", "threshold": 20_000, "below": 0, "above": 1}, "> 0", "m") == \
        "below 20 km → 0, else 1; exclude if > 0 m"
    assert rule_text(None, None, "").startswith("informational")


def test_effective_weights_read_as_percentages_that_add_up():
    assert weight_text(0.35 / 0.8) == "43.75 %"  # the issue's example
    assert weight_text(0.0) == "—" and weight_text(None) == "—"
    rng = np.random.default_rng(3)
    for _ in range(50):
        k = int(rng.integers(2, 7))
        w = rng.dirichlet(np.ones(k))
        s = rng.random((500, k))
        score = np.round((s * w).sum(axis=1) * 100, 4)
        shown = sum(suitability_texts(s[:, j]).astype(float) * float(weight_text(w[j])[:-2]) for j in range(k))
        assert np.abs(shown - score_texts(score).astype(float)).max() <= 0.1 + 1e-9
    assert [suitability_text(x) for x in (0.43749, 1, None)] == ["0.437", "1.000", "—"]
    assert [score_text(x) for x in (81.96, 0, float("nan"))] == ["82.0", "0.0", "—"]


# ------------------------------------------------------------------------------------------
# the surfaces, on a real run


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def test_reasons_word_measurements_as_explain_does(demo_out):
    """Every measurement a reason names reads exactly as explain (and so the report and popup) words it."""
    sites = gpd.read_parquet(demo_out / "sites.parquet")
    manifest = json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))
    checked = 0
    for c in manifest["criteria"]:
        if not c["evaluated"]:
            continue
        texts = measure_texts(sites[c["measure_column"]].to_numpy(), c["unit"], search_radius(c["params"]))
        parts = f"parts_{c['name']}"  # what an overlap is made of: explain words it after the value (issue 11)
        if parts in sites:
            texts = with_parts(texts, sites[parts].to_numpy(dtype=object, na_value=None))
        label = c["label"].lower()
        for reasons, text in zip(sites["reasons"], texts):
            for part in str(reasons).split("; "):
                if part.startswith(f"{c['name']}: "):
                    assert part.startswith(f"{c['name']}: {label} {text}"), part
                    checked += 1
                elif part.startswith(f"excluded by {c['name']}: "):
                    rule = exclusion_text(c["exclusion"], c["unit"])
                    assert part.startswith(f"excluded by {c['name']}: {label} is {text} ({rule})"), part
                    checked += 1
    assert checked > 20


def test_explain_of_the_issue_site(demo_out):
    """`sitescreen explain demo-out 10448949`: one distance text in reasons and table, effective
    weights labelled as percentages that add up to the score, units with rules, the legal source."""
    info = json.loads(run("explain", demo_out, "10448949", "--json").stdout)
    text = run("explain", demo_out, "10448949").stdout
    setback = next(c for c in info["criteria"] if c["name"] == "protected_setback")
    assert setback["measurement_text"] in info["reasons"] and setback["measurement_text"].endswith(" m")
    line = next(x for x in text.splitlines() if x.startswith("protected_setback "))
    assert setback["measurement_text"] in line and setback["effective_weight_text"] in line
    assert "exclude if < 300 m" in line
    assert "effective weight" in text.splitlines()[2]
    total = sum(float(c["suitability_text"]) * float(c["effective_weight_text"][:-2])
                for c in info["criteria"] if c["suitability_text"] != "—" and c["effective_weight_text"] != "—")
    assert abs(total - float(info["score_text"])) <= 0.1 + 1e-9
    for c in info["criteria"]:
        assert f"source: {c['source']}" in text
        assert c["effective_weight_text"] == weight_text(c["effective_weight"])


def test_beyond_the_search_radius_everywhere(result_sites, result_manifest):
    crit = next(c for c in CRITERIA if c["kind"] == "distance")
    beyond = f"beyond the {crit['params']['search_radius_m'] / 1000:g} km search radius"
    inf_site = result_sites.loc[np.isinf(result_sites[crit["measure_column"]]), "site_id"].iloc[0]
    report = build_report(result_sites, result_manifest)
    card = report[report.index(f'id="site-{inf_site}"'):]
    assert beyond in card[:card.index("</article>")]
    html = mapping.render_map(result_sites, [], result_manifest, basemap="none")
    from test_mapping import sites_block
    data = sites_block(html)
    col = decode(data["m"][[c["name"] for c in CRITERIA].index(crit["name"])], data["n"])
    assert dict(zip(data["id"], col))[inf_site] == beyond


# ------------------------------------------------------------------------------------------
# the report's count of sites without data


def contrib_without_data(html: str) -> dict[str, int]:
    table = html[html.index('<table class="contrib">'):]
    table = table[:table.index("</table>")]
    return {m[0]: int(m[1].replace(",", "")) for m in
            re.findall(r"<tr><td>([^<]*)</td><td class=num>[^<]*</td><td class=num>[^<]*</td><td class=num>([\d,]+)</td>", table)}


def test_report_sites_without_data_is_the_manifests_count(result_sites, result_manifest):
    manifest = to_data(as_record(result_manifest))
    # results without the count: counted over every site, incomplete ones too
    counts = contrib_without_data(build_report(result_sites, manifest))
    for c in manifest["criteria"]:
        if c["label"] in counts:
            assert counts[c["label"]] == int(result_sites[c["measure_column"]].isna().sum())
    # the incomplete sites have no stream count: they are counted (the old table counted scored sites only)
    assert counts["Streams within 1 km"] == int((result_sites["verdict"] == "incomplete").sum()) > 0
    # with the manifest's count, that number is shown
    for i, c in enumerate(manifest["criteria"]):
        c["sites_without_data"] = 100 + i
    counts = contrib_without_data(build_report(result_sites, manifest))
    for i, c in enumerate(manifest["criteria"]):
        if c["label"] in counts:
            assert counts[c["label"]] == 100 + i


def test_report_counts_match_a_real_run(demo_result):
    html = build_report(demo_result.sites, demo_result.manifest)
    counts = contrib_without_data(html)
    assert counts
    for c in to_data(demo_result.manifest)["criteria"]:
        if c["label"] in counts:
            assert counts[c["label"]] == c["sites_without_data"] == int(demo_result.sites[c["measure_column"]].isna().sum())


# ------------------------------------------------------------------------------------------
# verdicts: one order, one set of colours


def test_one_verdict_order_and_colours(demo_result):
    assert profile.VERDICTS is verdicts.VERDICTS
    assert list(to_data(demo_result.manifest)["counts"]) == list(verdicts.VERDICTS)
    qml = ET.fromstring(style_qml().split("\n", 1)[1])
    assert [c.get("value") for c in qml.iter("category")] == list(verdicts.VERDICTS)
    se = "{http://www.opengis.net/se}"
    rules = ET.fromstring(style_sld()).iter(f"{se}Rule")
    fills = [(r.find(f"{se}Name").text, r.find(f".//{se}Fill/{se}SvgParameter[@name='fill']").text) for r in rules
             if r.find(f"{se}Name").text != "labels"]
    assert fills == [(v, verdicts.COLORS[v]) for v in verdicts.VERDICTS]
    sites = make_sites()
    html = mapping.render_map(sites, make_layers(sites), make_manifest(sites), basemap="none")
    meta = next(v for k, v in _json_blocks(html).items() if isinstance(v, dict) and "verdicts" in v)
    assert [(v["key"], v["label"], v["color"], v["stroke"]) for v in meta["verdicts"]] == \
        [(v, verdicts.LABELS[v], verdicts.COLORS[v], verdicts.STROKES[v]) for v in verdicts.VERDICTS]
    report = build_report(sites, make_manifest(sites))
    cards = re.findall(r'class="card" style="border-top-color:(#[0-9a-f]{6})"><div class="num">[\d,]+</div>'
                       r'<div class="what">(\w+)</div>', report)
    assert cards == [(verdicts.COLORS[v], verdicts.LABELS[v]) for v in verdicts.VERDICTS]


def _json_blocks(html: str) -> dict:
    from test_mapping import json_blocks
    return json_blocks(html)


def test_no_number_formatter_left_in_the_map_script():
    js = mapping._asset("sitescreen-map.js")
    assert "fmtMeasure" not in js and "toLocaleString" not in js and "toFixed(2)" not in js


# ------------------------------------------------------------------------------------------
# explain's points and what a criterion measured (issue 14, item 9)


def test_points_are_suitability_times_effective_weight_and_add_up():
    from sitescreen.rules.wording import POINTS_DECIMALS, points, points_text
    weights = np.array([0.35, 0.25, 0.2, 0.2]) / 1.0
    suits = np.array([1.0, 0.8123, 0.19955, 0.6666])
    parts = [points(s, w) for s, w in zip(suits, weights)]
    score = float(np.sum(suits * weights) * 100)
    assert abs(sum(float(points_text(p)) for p in parts) - score) <= len(parts) * 0.5 * 10 ** -POINTS_DECIMALS
    assert points_text(parts[0]) == "35.00" and points(None, 0.3) is None and points(0.5, 0.0) is None
    assert points_text(None) == "—"


def test_feature_and_measured_texts():
    from sitescreen.rules.wording import feature_texts, measured_text
    got = feature_texts(np.array(["Demo Park (synthetic)", "", None], dtype=object),
                        np.array(["PAD-US land", "PAD-US land", ""], dtype=object))
    assert list(got) == ["Demo Park (synthetic), layer PAD-US land", "", ""]
    assert list(feature_texts(np.array(["1706020302"], dtype=object))) == ["1706020302"]
    assert measured_text("Distance to land", got[0]) == "distance to land: Demo Park (synthetic), layer PAD-US land"
    assert measured_text("Slope", "", ("DEM",)) == "slope: layer DEM"
    assert measured_text("Overlap", "", ("A", "B")) == "overlap: layers A, B"
    assert measured_text("Distance to streams") == "distance to streams"
