"""Issue 14 item 4: the counts add up. The records read, each step that dropped or merged records,
and the sites are one chain (``SitesRecord.chain``) rendered by one wording function in the CLI
summary, ``check`` and the report, and read − every step = sites."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import tinyworld as tw
from edgecases import run_cli
from sitescreen.outputs.report import build_report
from sitescreen.rules.reviewwords import site_chain
from sitescreen.record.manifest import CHAIN_STEPS, SitesRecord, read_record

#: (record id, name, lon, lat, state, commodity); every kind of record a step drops, near the tiny world.
ROWS = (
    ("1001", "Alpha Prospect (synthetic)", -114.50, 44.50, "Idaho", "Cerium,Lanthanum"),
    ("1002", "Alpha Prospect (synthetic)", -114.5001, 44.5001, "Idaho", "Cerium"),        # a duplicate of 1001
    ("1003", "Charlie Prospect (synthetic)", -114.30, 44.45, "Idaho", "Cerium"),
    ("1004", "Delta Prospect (synthetic)", -114.60, 44.60, "Idaho", "Gold,Silver"),       # not the commodity
    ("1005", "Echo Prospect (synthetic)", -114.40, 44.55, "Montana", "Cerium"),           # not selected
    ("1006", "Foxtrot Prospect (synthetic)", -114.45, 44.40, "Montana", "Gold"),          # not selected
    ("1007", "Golf Prospect (synthetic)", None, None, "Idaho", "Cerium"),                  # no location
    ("1008", "Hotel Prospect (synthetic)", -114.95, 44.95, "Idaho", "Cerium"),            # outside the AOI
    ("1009", "India Prospect (synthetic)", -114.20, 44.35, "Idaho", "Lanthanum"),
)
AOI = "-114.8,44.2,-114.1,44.8"


@pytest.fixture
def world(tmp_path):
    w = tw.build(tmp_path)
    rows = [{"record_id": r, "source_id": "https://mrdata.usgs.gov/ree", "site_name": n, "state_or_province": st,
             "location": "" if x is None else f"POINT ({x} {y})", "crs": "EPSG:4326", "commodity": c,
             "deposit_type": "Carbonatite"} for r, n, x, y, st, c in ROWS]
    tw.write_csv(w.sites, rows)
    return w


def expected_chain(csv_path) -> dict[str, int]:
    """The counts derived from the file with pandas (the merged pair is 1001/1002, 14 m apart)."""
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    located = df["location"] != ""
    selected = located & (df["state_or_province"] == "Idaho")
    ree = selected & df["commodity"].str.contains("Cerium|Lanthanum")
    lon = pd.to_numeric(df["location"].str.extract(r"POINT \((\S+) ")[0])
    inside = ree & (lon >= -114.8) & (lon <= -114.1)
    return {"records_read": len(df), "records_without_location": int((~located).sum()),
            "records_skipped_invalid": 0, "records_not_selected": int((located & ~selected).sum()),
            "records_filtered_out": int((selected & ~ree).sum()), "records_outside_aoi": int((ree & ~inside).sum()),
            "duplicates_merged": 1, "sites": int(inside.sum()) - 1}


def test_summary_manifest_report_and_check_give_one_chain(world, tmp_path):
    want = expected_chain(world.sites)
    assert want == {"records_read": 9, "records_without_location": 1, "records_skipped_invalid": 0,
                    "records_not_selected": 2, "records_filtered_out": 1, "records_outside_aoi": 1,
                    "duplicates_merged": 1, "sites": 3}
    res = run_cli(world.args() + ["--sites-where", "state=Idaho", "--aoi", AOI])
    assert res.exit_code == 0, res.output
    record = read_record(world.out / "manifest.json")
    chain = dict(record.sites.chain())
    assert chain == want
    assert want["records_read"] - sum(v for k, v in want.items() if k not in ("records_read", "sites")) == want["sites"]
    line = ("9 records read − 1 without location − 2 not selected by the sites filter − 1 not the commodity − "
            "1 outside the area of interest − 1 duplicates merged = 3 sites")
    assert site_chain(record.sites.chain()) == line
    assert f"Sites: {line}." in res.output.splitlines()
    assert "Screened 3 sites" in res.output
    html = build_report(pd.read_parquet(world.out / "sites.parquet"), record)
    assert line in html
    check = run_cli(["check", str(world.sites), *sum((["--layer", lyr] for lyr in world.layers), []),
                     "--sites-where", "state=Idaho", "--aoi", AOI])
    assert check.exit_code == 0, check.output
    assert f"Sites: 3 from {world.sites} ({line})" in check.output.splitlines()
    data = json.loads(run_cli(["check", str(world.sites), *sum((["--layer", lyr] for lyr in world.layers), []),
                               "--sites-where", "state=Idaho", "--aoi", AOI, "--json"]).output)
    assert {k: data["sites"][k] for k in CHAIN_STEPS} == want


def test_steps_with_nothing_dropped_are_left_out_but_the_core_steps_stay():
    rec = SitesRecord(path="d.csv", records_read=10, records_without_location=2, records_skipped_invalid=0,
                      records_not_selected=0, records_filtered_out=0, records_outside_aoi=0,
                      duplicates_merged=0, sites=8)
    assert site_chain(rec.chain()) == "10 records read − 2 without location − 0 not the commodity − 0 duplicates merged = 8 sites"
    rec = SitesRecord(path="d.csv", records_read=12_345, records_without_location=0, records_skipped_invalid=3,
                      records_not_selected=1_000, records_filtered_out=0, records_outside_aoi=0,
                      duplicates_merged=2, sites=11_340)
    assert site_chain(rec.chain()) == ("12,345 records read − 0 without location − 3 with a location that does not "
                                       "parse (skipped) − 1,000 not selected by the sites filter − 0 not the commodity"
                                       " − 2 duplicates merged = 11,340 sites")


def test_a_grid_or_an_old_record_has_no_chain():
    assert SitesRecord(path="grid", sites=40).chain() is None
    assert SitesRecord(path="grid", records_read=0, sites=40).chain() is None


def test_skipped_invalid_locations_are_a_step_of_the_chain(world):
    rows = pd.read_csv(world.sites, dtype=str, keep_default_na=False).to_dict("records")
    rows[2]["location"] = "POINT (abc def)"
    tw.write_csv(world.sites, rows)
    res = run_cli(world.args() + ["--skip-invalid"])
    assert res.exit_code == 0, res.output
    chain = dict(read_record(world.out / "manifest.json").sites.chain())
    assert chain["records_skipped_invalid"] == 1 and chain["records_without_location"] == 1
    assert chain["records_read"] - sum(v for k, v in chain.items() if k not in ("records_read", "sites")) == chain["sites"]
    assert "− 1 with a location that does not parse (skipped) −" in res.output


def test_the_criteria_not_evaluated_are_one_line_grouped_by_why():
    from sitescreen.rules.reviewwords import not_evaluated_line
    notes = [("steep_terrain", "not evaluated: no dem layer was given"),
             ("stream_buffer", "not evaluated: no streams layer was given"),
             ("perennial_stream_length", "not evaluated: no streams layer was given")]
    assert not_evaluated_line(notes) == ("Not evaluated: steep_terrain (no dem layer was given); "
                                         "stream_buffer, perennial_stream_length (no streams layer was given)")
    assert not_evaluated_line([]) == ""
