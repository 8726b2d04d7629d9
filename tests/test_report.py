"""The review report: contents, escaping, self-containment, limits, and the `report` command."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fixtures_results import *  # noqa: F403
from fixtures_results import TEMPLATE, XSS_IMG, XSS_SCRIPT, make_manifest, make_sites
from sitescreen.outputs import report as report_mod
from sitescreen.cli import main
from sitescreen.errors import SitescreenError
from sitescreen.outputs.mapping import external_resources
from sitescreen.outputs.report import build_report


@pytest.fixture(scope="module")
def html(result_sites, result_manifest) -> str:
    return build_report(result_sites, result_manifest)


def test_hostile_text_is_escaped_everywhere(html):
    assert XSS_IMG not in html and XSS_SCRIPT not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html                      # site name, reason, title, input
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html     # site name, profile description
    assert TEMPLATE in html  # plain text, shown as is
    assert "<img" not in html
    # the only scripts are the re-weight panel's (issue 12 item 4): its data, its assets, its call
    tags = re.findall(r"<script\b[^>]*>", html)
    assert tags == ['<script type="application/json" id="sitescreen-reweight-report-data">', "<script>", "<script>"]
    data = html.split(tags[0], 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data  # hostile text stays inside the JSON, escaped
    assert html.count("</script>") == 3


def test_self_contained_with_print_stylesheet(html):
    assert external_resources(html) == []
    assert "@media print" in html and "break-inside: avoid" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_summary_counts_and_sections(html, result_sites):
    for sec in ("summary", "charts", "ranking", "sites", "rules", "manifest"):
        assert f'id="{sec}"' in html
    counts = result_sites["verdict"].value_counts()
    cards = re.findall(r'<div class="num">([\d,]+)</div><div class="what">(\w+)</div>', html)
    assert {w.lower(): int(n) for n, w in cards} == {v: int(counts.get(v, 0)) for v in
                                                     ("favorable", "review", "unfavorable", "excluded", "incomplete")}
    assert f"<b>{len(result_sites)}</b> sites screened" in html


def test_ranking_is_by_score_with_unscored_last(html, result_sites):
    ranked = re.findall(r"<tr><td class=num>(\d+)</td><td><a href=\"#site-([^\"]+)\">", html)
    ids = [sid for _, sid in ranked]
    score = result_sites.set_index("site_id")["score"]
    values = [score[i] for i in ids]
    scored = [v for v in values if not np.isnan(v)]
    assert scored == sorted(scored, reverse=True)
    assert all(np.isnan(v) for v in values[len(scored):])
    assert len(ids) == len(result_sites)


def test_charts_are_inline_svg(html, result_sites):
    charts = re.findall(r"<svg class=\"chart[^\"]*\"", html)
    assert len(charts) == 4  # verdict bar, overview map, score histogram, contributions
    scored = result_sites[result_sites["score"].notna() & (result_sites["verdict"] != "excluded")]
    bars = re.findall(r"score [\d.]+–[\d.]+: (\d+)</title>", html)
    assert sum(map(int, bars)) == len(scored)
    assert "review ≥ 40" in html and "favorable ≥ 70" in html


def test_contribution_means(result_sites, result_manifest):
    html = build_report(result_sites, result_manifest)
    scored = result_sites[result_sites["score"].notna() & (result_sites["verdict"] != "excluded")]
    mean = (scored["s_park_distance"] * 0.4 * 100).mean()
    assert f"Distance to protected areas: {mean:.1f} of 40.0 points on average" in html


def test_breakdown_rows(html):
    card = html[html.index('id="site-S0002"'):]
    card = card[:card.index("</article>")]
    assert "beyond the 50 km search radius" in card  # +inf distance, with the criterion's search radius
    assert "Watershed (HUC-8)" in card and re.search(r"170[46]020[0-3]", card)
    assert "not evaluated" in card                 # the slope criterion
    # ... said for the whole section too, and its row is left out of the printed breakdowns
    section = html[html.index('<section id="sites">'):html.index('<div class="site-grid">')]
    assert re.search(r"Not evaluated in this run \(see Profile rules[^)]*\): [^<]*[Ss]lope", section), section
    assert "<tr class=skipped>" in card and "tr.skipped { display: none; }" not in html.split("@media print")[0]
    assert "linear: 300 m → 0, 1,500 m → 1" in card and "exclude if &lt; 300 m" in card
    incomplete = html[html.index('id="site-S0004"'):]
    assert '<span class="nodata">no data</span>' in incomplete[:incomplete.index("</article>")]


def test_rules_and_manifest(html, result_manifest):
    rules = html[html.index('id="rules"'):html.index('id="manifest"')]
    for c in result_manifest["criteria"]:
        assert c["safeguard"] in rules.replace("&#x27;", "'")
        assert re.sub("&", "&amp;", c["source"]) in rules or c["source"] in rules
    manifest = html[html.index('id="manifest"'):]
    for e in result_manifest["inputs"]:
        assert e["sha256"] in manifest and e["source_crs"] in manifest
    assert "EPSG:5070" in manifest and "sitescreen 0.1.0" in manifest
    assert "Repairs" in manifest and "fraction: 0.8" in manifest


def test_large_runs_are_capped(monkeypatch, result_manifest):
    monkeypatch.setattr(report_mod, "RANKED_LIMIT", 5)
    monkeypatch.setattr(report_mod, "BREAKDOWN_LIMIT", 3)
    sites = make_sites()
    html = build_report(sites, result_manifest)
    always = int(sites["verdict"].isin(["excluded", "incomplete"]).sum())
    assert always  # the fixture has both
    assert html.count("<article class=\"site\"") == 3 + always  # the best 3 others, and every excluded and incomplete site
    for sid in sites.loc[sites["verdict"].isin(["excluded", "incomplete"]), "site_id"]:
        assert f'id="site-{sid}"' in html
    assert f"Showing the first 5 of {len(sites)} sites" in html
    assert "sitescreen explain" in html


def test_works_without_geometry_or_manifest():
    sites = pd.DataFrame(make_sites().drop(columns="geometry"))
    html = build_report(sites, None)
    assert "Site screening" in html and "protected overlap" in html


def test_missing_columns_are_refused():
    with pytest.raises(SitescreenError, match="lack column.*verdict"):
        build_report(make_sites().drop(columns=["verdict"]), None)


def test_inputs_not_mutated(result_sites, result_manifest):
    before = result_sites.copy()
    build_report(result_sites, result_manifest)
    pd.testing.assert_frame_equal(pd.DataFrame(result_sites), pd.DataFrame(before))


def test_big_report_stays_small():
    rng = np.random.default_rng(1)
    base = make_sites()
    sites = base.iloc[rng.integers(0, len(base), 20_000)].reset_index(drop=True)
    sites["site_id"] = [f"X{i}" for i in range(len(sites))]
    html = build_report(sites, make_manifest(base))
    assert len(html) < 3_000_000


# ------------------------------------------------------------------ the `report` command

@pytest.fixture
def results_dir(demo_out, tmp_path):
    d = tmp_path / "out"
    shutil.copytree(demo_out, d)
    return d


def test_report_command_rebuilds(results_dir, monkeypatch):
    import sitescreen.run.pipeline as pipeline
    monkeypatch.setattr(pipeline, "screen", lambda *a, **k: pytest.fail("report must not re-screen"))
    (results_dir / "report.html").unlink()
    res = CliRunner().invoke(main, ["report", str(results_dir)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(results_dir / "report.html")
    text = (results_dir / "report.html").read_text(encoding="utf-8")
    assert "Sites ranked by score" in text and external_resources(text) == []


def test_report_command_refuses_to_overwrite(results_dir):
    res = CliRunner().invoke(main, ["report", str(results_dir)])  # the run's own report: rebuilt in place
    assert res.exit_code == 0, res.output
    (results_dir / "report.html").write_text("<p>my own notes</p>", encoding="utf-8")
    res = CliRunner().invoke(main, ["report", str(results_dir)])
    assert res.exit_code == 1
    assert res.output.strip() == (f"Error: {results_dir / 'report.html'}: exists and changed since the run wrote it; "
                                  f"pass --overwrite to replace it")
    assert (results_dir / "report.html").read_text(encoding="utf-8") == "<p>my own notes</p>"
    res = CliRunner().invoke(main, ["report", str(results_dir), "--overwrite", "-o", str(results_dir / "r.html")])
    assert res.exit_code == 0 and (results_dir / "r.html").exists()


def test_report_command_on_a_folder_without_results(tmp_path):
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: {tmp_path}: not a sitescreen output folder")
    res = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_every_excluded_and_incomplete_site_gets_its_breakdown_beyond_the_limit(monkeypatch, result_manifest):
    """Breakdowns: the best-ranked others up to the limit, and every excluded and incomplete site
    whatever its rank (they are what a reviewer checks first), in ranked order."""
    monkeypatch.setattr(report_mod, "BREAKDOWN_LIMIT", 1)
    sites = make_sites()
    shown = report_mod.breakdown_sites(report_mod._ranked(sites))
    must = set(sites.loc[sites["verdict"].isin(["excluded", "incomplete"]), "site_id"])
    assert must <= set(shown["site_id"]) and len(shown) == len(must) + 1
    ranked_ids = list(report_mod._ranked(sites)["site_id"])
    assert list(shown["site_id"]) == [i for i in ranked_ids if i in set(shown["site_id"])]


def test_overview_map_draws_every_site_by_verdict():
    from sitescreen.outputs.overview import DRAW_ORDER, overview_map
    from sitescreen.rules.verdicts import COLORS
    sites = make_sites()
    svg = overview_map(sites)
    assert svg.count("<circle") == len(sites)
    for v, n in sites["verdict"].value_counts().items():
        group = svg[svg.index(f'<g fill="{COLORS[v]}"'):]
        assert group[:group.index("</g>")].count("<circle") == n
    drawn = [v for v in DRAW_ORDER if f'<g fill="{COLORS[v]}"' in svg]
    assert drawn == sorted(drawn, key=lambda v: svg.index(f'<g fill="{COLORS[v]}"'))  # excluded drawn last (on top)
    assert "km</text>" in svg or " m</text>" in svg  # a scale bar in the run CRS's metres
    html = build_report(sites, None)
    assert '<figure class="overview">' in html[html.index('id="summary"'):html.index('id="charts"')]


def test_overview_map_of_many_sites_is_binned(monkeypatch):
    import geopandas as gpd
    import numpy as np
    import shapely
    from sitescreen.outputs import overview
    monkeypatch.setattr(overview, "DOT_LIMIT", 50)
    rng = np.random.default_rng(3)
    n = 400
    sites = gpd.GeoDataFrame({"verdict": rng.choice(["favorable", "excluded"], n)},
                             geometry=shapely.points(rng.uniform(0, 1e5, n), rng.uniform(0, 1e5, n)), crs="EPSG:5070")
    svg = overview.overview_map(sites)
    assert "<circle" not in svg and svg.count("<rect") > 10 and "binned" in svg


def test_not_evaluated_is_said_once(html):
    assert "not evaluated: not evaluated" not in html
