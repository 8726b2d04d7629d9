"""The report's re-weighting data and its limits (outputs/reportreweight.py); the browser side is
tests/test_browser_report_reweight.py."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from fixtures_results import *  # noqa: F403
from fixtures_results import make_manifest, make_sites
from test_reweight import _decode
from sitescreen.outputs import report as report_mod
from sitescreen.outputs import reportreweight
from sitescreen.outputs.report import build_report
from sitescreen.record.manifest import as_record
from sitescreen.rules.verdicts import MEANING_TEMPLATES, VERDICTS, meanings


def _data(html: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{reportreweight.DATA_ID}">(.*?)</script>', html)
    return json.loads(m.group(1))


def test_data_is_in_the_ranked_tables_order_with_the_cards_sites():
    sites = make_sites(400)
    html = build_report(sites, make_manifest(sites))
    data = _data(html)
    ranked_ids = re.findall(r"<tr><td class=num>\d+</td><td>(?:<a href=\"#site-[^\"]+\">)?([^<]+)", html)
    order = report_mod._ranked(pd.DataFrame(sites.drop(columns="geometry")))
    assert ranked_ids == list(order["site_id"]) and data["listed"] == len(ranked_ids) == data["n"]
    assert "".join(VERDICTS[int(c)] [0] for c in data["v"]) == "".join(v[0] for v in order["verdict"])
    np.testing.assert_array_equal(_decode(data["sc"], data["n"]), order["score"].to_numpy(float))
    card_ids = re.findall(r'<article class="site" id="site-[^"]+"><header><h3>.*? <span class="muted">([^<]+)</span>', html)
    assert [order["site_id"].iloc[i] for i in data["cards"]] == card_ids
    crit = as_record(make_manifest(sites)).criteria
    assert data["rows"] == [c.name for c in crit]  # a card's rows, in order


def test_meaning_templates_fill_to_the_legends_words():
    for fav, rev in ((70, 40), (55, 35.5), (100, 0.5)):
        filled = {k: t.replace("{favorable}", str(fav)).replace("{review}", str(rev)) for k, t in MEANING_TEMPLATES.items()}
        assert filled == meanings(fav, rev)  # what the browser writes for its 0.5-step thresholds


def test_no_record_no_panel_and_no_script(result_sites):
    html = build_report(result_sites, None)
    assert "<script" not in html and reportreweight.DATA_ID not in html


def test_above_the_limit_the_report_says_there_is_no_panel(monkeypatch):
    sites = make_sites(50)
    monkeypatch.setattr(reportreweight, "REWEIGHT_LIMIT", len(sites) - 1)
    html = build_report(sites, make_manifest(sites))
    assert "<script" not in html
    assert (f"No re-weighting panel in this report: {len(sites)} sites is more than {len(sites) - 1}; "
            "the map re-weights every site.") in html


def test_a_truncated_ranking_is_said_in_the_what_if_banner(monkeypatch):
    sites = make_sites(50)
    monkeypatch.setattr(report_mod, "RANKED_LIMIT", 20)
    data = _data(build_report(sites, make_manifest(sites)))
    assert data["listed"] == 20 and data["n"] == len(sites)
    assert data["ranked_note"] == f"ranks are among the 20 sites the table lists (the run's best), not all {len(sites)}"
