"""Issue 14 item 5: the user's own ids and fields survive. A sites file's id and name fields are
recognised (or named with --id-field / --name-field / [sites] id_field, name_field), ids are
generated in file order only when there is none, and every source attribute reaches
sites.gpkg / sites.parquet / sites.csv as ``src_<field>``, the same streamed and in memory."""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.record.manifest import read_record

#: Hand-drawn claims in a file order that is not their west-to-east order (lon of each box's corner).
CLAIMS = (("C-17", "Upper Bench (synthetic)", "Ada Mining LLC", 12.5, -114.30),
          ("C-03", "Creek Fork (synthetic)", "B. Jones", 7.25, -114.60),
          ("C-11", "Ridge Top (synthetic)", "Ada Mining LLC", 30.0, -114.45))


def claims_frame(ids=tuple(c[0] for c in CLAIMS)) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"claim_id": list(ids), "claim_name": [c[1] for c in CLAIMS], "owner": [c[2] for c in CLAIMS],
         "area_ha": [c[3] for c in CLAIMS]},
        geometry=[shapely.box(c[4], 44.5, c[4] + 0.02, 44.52) for c in CLAIMS], crs="EPSG:4326")


@pytest.fixture
def world(tmp_path):
    return tw.build(tmp_path)


def outputs(out):
    return {"gpkg": gpd.read_file(out / "sites.gpkg", layer="sites"), "parquet": gpd.read_parquet(out / "sites.parquet"),
            "csv": pd.read_csv(out / "sites.csv", dtype={"site_id": str, "src_claim_id": str})}


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("site_id").sort_index()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_claim_ids_names_and_owner_reach_every_result_file(world, suffix):
    world.sites = tw.write_vector(claims_frame(), world.root / f"claims{suffix}")
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    src = claims_frame().set_index("claim_id").sort_index()
    for kind, frame in outputs(world.out).items():
        got = by_id(frame)
        assert list(got.index) == ["C-03", "C-11", "C-17"], kind
        assert list(got["name"]) == list(src["claim_name"]), kind
        assert list(got["src_owner"]) == list(src["owner"]), kind
        assert list(got["src_claim_name"]) == list(src["claim_name"]), kind
        assert list(got["src_area_ha"]) == list(src["area_ha"]), kind
        assert {"site_id", "name", "score", "verdict"} <= set(frame.columns)
    assert str(outputs(world.out)["parquet"]["src_area_ha"].dtype) == "float64"  # types kept
    rec = read_record(world.out / "manifest.json").sites
    assert (rec.id_field, rec.name_field) == ("claim_id", "claim_name")
    assert rec.source_fields == ("claim_id", "claim_name", "owner", "area_ha")


def test_without_an_id_field_ids_follow_file_order(world):
    frame = claims_frame().drop(columns="claim_id")
    world.sites = tw.write_vector(frame, world.root / "claims.gpkg")
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    got = gpd.read_parquet(world.out / "sites.parquet")
    assert list(got["site_id"]) == ["S0001", "S0002", "S0003"]
    assert list(got["name"]) == [c[1] for c in CLAIMS]  # S0001 is the file's first claim, not the westernmost
    assert read_record(world.out / "manifest.json").sites.id_field is None


def test_a_guessed_id_field_with_repeated_values_is_skipped_with_a_note(world, caplog):
    world.sites = tw.write_vector(claims_frame(ids=("C-17", "C-03", "C-17")), world.root / "claims.gpkg")
    with caplog.at_level(logging.INFO, logger="sitescreen.sites.ids"):
        res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    got = gpd.read_parquet(world.out / "sites.parquet")
    assert list(got["site_id"]) == ["S0001", "S0002", "S0003"]
    assert list(got["src_claim_id"]) == ["C-17", "C-03", "C-17"]
    assert "field 'claim_id' is not used as the site id: value 'C-17' is repeated" in caplog.text


def test_id_field_flag_wins_and_a_repeated_value_is_an_error(world):
    world.sites = tw.write_vector(claims_frame(), world.root / "claims.gpkg")
    res = run_cli(world.args() + ["--id-field", "owner"])
    assert_error(res, [str(world.sites), "duplicate site ids 'Ada Mining LLC'", "field 'owner' (--id-field)",
                       "must be unique"], 1)
    assert_nothing_left(world.out)
    res = run_cli(world.args() + ["--id-field", "claim_name", "--name-field", "owner"])
    assert res.exit_code == 0, res.output
    got = by_id(gpd.read_parquet(world.out / "sites.parquet"))
    assert list(got.index) == sorted(c[1] for c in CLAIMS)
    assert list(got["name"]) == [c[2] for c in sorted(CLAIMS, key=lambda c: c[1])]


def test_id_field_that_is_not_a_field_names_the_fields(world):
    world.sites = tw.write_vector(claims_frame(), world.root / "claims.gpkg")
    res = run_cli(world.args() + ["--id-field", "lease"])
    assert_error(res, [str(world.sites), "--id-field 'lease' is not a field of the sites",
                       "claim_id, claim_name, owner, area_ha"], 1)
    assert_nothing_left(world.out)


def test_config_keys_id_field_and_name_field(world):
    tw.write_vector(claims_frame(), world.root / "claims.gpkg")
    text = tw.CONFIG.replace('path = "deposits.csv"', 'path = "claims.gpkg"\nid_field = "claim_name"\nname_field = "owner"')
    world.write_config(text)
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    got = gpd.read_parquet(world.out / "sites.parquet")
    assert sorted(got["site_id"]) == sorted(c[1] for c in CLAIMS)
    assert read_record(world.out / "manifest.json").run["site_options"]["id_field"] == "claim_name"


def test_streamed_and_in_memory_give_the_same_ids_and_fields(world):
    frame = claims_frame().drop(columns="claim_id")
    world.sites = tw.write_vector(frame, world.root / "claims.gpkg")
    got = {}
    for flag in ("--stream", "--no-stream"):
        world.out = world.root / f"out{flag}"
        res = run_cli(world.args() + [flag, "--chunk-size", "1"])
        assert res.exit_code == 0, res.output
        got[flag] = by_id(gpd.read_parquet(world.out / "sites.parquet"))[["name", "src_owner", "src_area_ha", "score"]]
    assert list(got["--stream"].index) == ["S0001", "S0002", "S0003"]
    pd.testing.assert_frame_equal(got["--stream"], got["--no-stream"])


def test_merged_deposit_records_keep_the_first_records_attributes(world):
    rows = tw.deposit_rows()
    rows.append({**rows[0], "record_id": "1000", "site_name": "Alpha Prospect (synthetic)"})  # same place
    for i, r in enumerate(rows):
        r["owner"] = f"owner {r['record_id']}"
    tw.write_csv(world.sites, rows)
    res = run_cli(world.args())
    assert res.exit_code == 0, res.output
    got = by_id(gpd.read_parquet(world.out / "sites.parquet"))
    assert list(got.index) == ["1000", "1002", "1003", "1004"]  # the merged site keeps its first record's id
    assert got.loc["1000", "record_ids"] == "1000,1001"
    assert list(got["src_owner"]) == ["owner 1000", "owner 1002", "owner 1003", "owner 1004"]
    assert "src_location" not in got  # the geometry column is the footprint, not an attribute
    assert read_record(world.out / "manifest.json").sites.id_field == "record_id"


@pytest.mark.parametrize("stream", [False, True])
def test_nested_fields_are_named_not_carried_and_the_run_writes(world, stream, caplog):
    """A GeoParquet file with a ``bbox`` covering (a struct per row, as GeoPandas writes with
    write_covering_bbox) and a list field: no GeoPackage or CSV column can hold them, so they are not
    carried, and the run record and the log name them; every other field is carried."""
    frame = claims_frame()
    frame["tags"] = [["a", "b"], ["c"], []]
    world.sites = world.root / "claims.parquet"
    frame.to_parquet(world.sites, write_covering_bbox=True)
    with caplog.at_level(logging.WARNING):
        res = run_cli(world.args() + (["--stream"] if stream else []))
    assert res.exit_code == 0, res.output
    rec = read_record(world.out / "manifest.json")
    # in file order; read whole, GeoPandas already drops the covering column (it is the geometry's)
    assert rec.sites.fields_not_carried == (("tags", "bbox") if stream else ("tags",))
    assert set(rec.sites.source_fields) == {"claim_id", "claim_name", "owner", "area_ha"}
    for kind, out in outputs(world.out).items():
        assert "src_bbox" not in out.columns and "src_tags" not in out.columns, kind
        assert list(by_id(out)["src_owner"]) == list(frame.set_index("claim_id").sort_index()["owner"]), kind
    assert ("tags, bbox" if stream else "tags hold") in caplog.text


def test_nested_fields_are_said_once_however_many_pieces_a_streamed_run_reads(world, caplog, monkeypatch):
    from sitescreen.run import sources
    monkeypatch.setattr(sources, "READ_ROWS", 1)  # 3 records: 3 pieces
    frame = claims_frame()
    frame["tags"] = [["a", "b"], ["c"], []]
    world.sites = world.root / "claims.parquet"
    frame.to_parquet(world.sites, write_covering_bbox=True)
    with caplog.at_level(logging.WARNING):
        res = run_cli(world.args() + ["--stream"])
    assert res.exit_code == 0, res.output
    assert caplog.text.count("hold nested values") == 1
