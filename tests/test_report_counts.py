"""Sites without data per criterion: the report, the manifest and sites.parquet give one count
(issue 12 item 6), including a value the rule's table has no suitability for."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

from edgecases import run_cli
from tinyworld import build, write_vector

PROFILE = """\
name = "counts (synthetic)"
description = "a categorical rule on the watershed code and the federal share"
[verdicts]
favorable = 70
review = 40
[criteria.basin]
label = "Basin (synthetic)"
kind = "attribute"
role = "watershed"
field = "huc"
method = "majority"
weight = 0.5
transform = { kind = "categorical", table = { "17060203" = 1.0 } }
safeguard = "watersheds"
source = "synthetic"
[criteria.fed]
label = "Federal share (synthetic)"
kind = "overlap"
role = "federal_land"
weight = 0.5
transform = { kind = "linear", points = [[0, 0], [1, 1]] }
safeguard = "federal land"
source = "synthetic"
"""

#: Basin A (in the table) holds sites 1001 and 1002, basin B (not in the table, no default) site 1003;
#: site 1004 lies outside both (no measurement).
BASINS = {"17060203": (-114.55, 44.4, -114.35, 44.65), "17060204": (-114.35, 44.4, -114.2, 44.65)}


@pytest.fixture(scope="module")
def counts_run(tmp_path_factory):
    world = build(tmp_path_factory.mktemp("report-counts"))
    (world.root / "counts.toml").write_text(PROFILE, encoding="utf-8")
    wbd = gpd.GeoDataFrame({"huc8": list(BASINS), "name": [f"Basin {k} (synthetic)" for k in BASINS]},
                           geometry=[shapely.box(*b) for b in BASINS.values()], crs="EPSG:4326")
    write_vector(wbd, world.root / "wbd.gpkg")
    args = ["screen", str(world.sites), "--layer", f"federal_land={world.federal}:padus",
            "--layer", f"watershed={world.root / 'wbd.gpkg'}", "--profile", str(world.root / "counts.toml"),
            "--out", str(world.out), "--no-map"]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    return world.out


def report_counts(html: str, table: str, name_of) -> dict[str, str]:
    body = re.search(rf'<table class="{table}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows[name_of(row, cells)] = cells
    return rows


def test_sites_without_data_agree_in_report_manifest_and_parquet(counts_run):
    sites = gpd.read_parquet(counts_run / "sites.parquet")
    manifest = json.loads((counts_run / "manifest.json").read_text(encoding="utf-8"))
    html = (counts_run / "report.html").read_text(encoding="utf-8")
    rules = report_counts(html, "rules", lambda row, cells: re.search(r"<code class=small>(.*?)</code>", row).group(1))
    contrib = report_counts(html, "contrib", lambda row, cells: cells[0])
    for c in manifest["criteria"]:
        m, s = sites[c["measure_column"]], sites.get(c["score_column"]) if c["score_column"] else None
        lacking = m.isna() | (s.isna() if s is not None and c["weight"] > 0 else False)
        assert c["sites_without_data"] == int(lacking.sum()), c["name"]
        assert rules[c["name"]][5] == f"{int(lacking.sum()):,}", c["name"]
        if c["effective_weight"] > 0:
            assert contrib[c["label"]][3] == f"{int(lacking.sum()):,}", c["name"]
    basin = sites.set_index("site_id")
    # 1003's basin has no suitability: no data, like 1004 outside every basin; never scored as 0
    assert basin.loc["1003", "m_basin"] == "17060204" and basin.loc[["1003", "1004"], "verdict"].tolist() == ["incomplete"] * 2
    assert next(c for c in manifest["criteria"] if c["name"] == "basin")["sites_without_data"] == 2
    assert manifest["counts"]["incomplete"] == int((sites["verdict"] == "incomplete").sum()) == 2
