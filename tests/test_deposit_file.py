"""Issue 11 item 9: the whole national deposit file. Record ids unique only within a source
database are qualified by the source where two sources share one; duplicate records of one deposit
merge whatever their word order and punctuation; --sites-where takes any field of the file."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import CRS, Geod

from edgecases import run_cli
from sitescreen.inputs.spec import LayerSpec
from sitescreen.sites.dedup import name_similarity, normalised_name
from sitescreen.sites.footprints import make_footprints
from sitescreen.sites.options import SiteOptions
from sitescreen.sites.source import read_sites
import tinyworld as tw

ALBERS = CRS.from_epsg(5070)
HEADER = ["ms_uri", "source_id", "record_id", "country", "state_or_province", "location", "crs",
          "other_names", "site_name", "commodity", "deposit_type"]
MRDS, REE, CARB = ("https://mrdata.usgs.gov/mrds", "https://mrdata.usgs.gov/ree", "https://mrdata.usgs.gov/carbonatite")
LON, LAT = -113.4628, 44.9478
#: 72 m east of (LON, LAT), as the two "No. 69" records of the shared file are.
LON72 = Geod(ellps="WGS84").fwd(LON, LAT, 90.0, 72.0)[0]


def write(path: Path, rows) -> Path:
    """Rows of (source, record_id, country, state, location, name)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for src, rid, country, state, loc, name in rows:
            w.writerow([f"https://minmod/{rid}", src, rid, country, state, loc, "EPSG:4326", "", name, "Thorium,Cerium", ""])
    return path


ROWS = [(MRDS, "10072025", "United States", "Idaho", f"POINT ({LON} {LAT})", "No. 69 Thorium Deposit"),
        (MRDS, "10169324", "United States", "Idaho", f"POINT ({LON72} {LAT})", "Thorium Deposit No. 69"),
        (MRDS, "10072030", "United States", "Idaho", f"POINT ({LON} {LAT + 0.004})", "No. 58 Thorium Deposit"),
        (MRDS, "10072031", "United States", "Idaho", f"POINT ({LON72} {LAT + 0.004})", "No. 62 Thorium Deposit"),
        (CARB, "59", "United States", "Wyoming", "POINT (-104.44278 44.49139)", "Bear Lodge"),
        (REE, "59", "United States", "California", "POINT (-115.53218 35.4786)", "Mountain Pass"),
        (REE, "60", "Canada", "British Columbia", "POINT (-116.5 49.5)", "Rock Canyon Creek")]


def sites_of(path: Path, **where) -> gpd.GeoDataFrame:
    spec = LayerSpec(role="sites", path=path, where={k: tuple(v) for k, v in where.items()})
    raw, stats = read_sites(spec, SiteOptions())
    return make_footprints(raw, ALBERS, SiteOptions(), stats)


@pytest.mark.parametrize("a, b, alike", [
    ("No. 69 Thorium Deposit", "Thorium Deposit No. 69", True),    # word order
    ("Monumental Summit Rare-Earth Pr.", "Rare Earth, Monumental Summit", True),  # punctuation and order
    ("No. 58 Thorium Deposit", "No. 62 Thorium Deposit", False),   # numbered claims stay apart
    ("Bear Lodge", "Mountain Pass", False)])
def test_names_alike_whatever_their_word_order(a, b, alike):
    assert (name_similarity(normalised_name(a), normalised_name(b)) >= SiteOptions().merge_name_similarity) is alike


def test_word_order_duplicates_72_m_apart_merge_and_numbered_claims_do_not(tmp_path):
    sites = sites_of(write(tmp_path / "d.csv", ROWS[:4]))
    assert sorted(sites["record_ids"]) == ["10072025,10169324", "10072030", "10072031"]


def test_record_ids_shared_by_two_sources_are_qualified_by_source(tmp_path):
    sites = sites_of(write(tmp_path / "d.csv", ROWS))
    ids = set(sites["site_id"])
    assert {"carbonatite:59", "ree:59"} <= ids and "59" not in ids
    assert "60" in ids and "10072030" in ids                        # ids that do not clash are unchanged
    got = dict(zip(sites["site_id"], sites["name"]))
    assert (got["carbonatite:59"], got["ree:59"]) == ("Bear Lodge", "Mountain Pass")


def test_a_state_pair_with_a_shared_record_id_is_screened(tmp_path):
    sites = sites_of(write(tmp_path / "d.csv", ROWS), state=["Wyoming", "California"])
    assert sorted(sites["site_id"]) == ["carbonatite:59", "ree:59"]


def test_real_wyoming_california_pair_is_screened_with_qualified_ids(shared_data, tmp_path):
    path, out = shared_data / "mineral_deposits" / "lanthanum_datafile.csv", tmp_path / "out"
    res = run_cli(["screen", str(path), "--sites-where", "state=Wyoming", "--sites-where", "state=California",
                   "--layer", f"federal_land={shared_data / 'federal_lands' / 'padus_ID.geojson'}",
                   "--layer", f"watershed={shared_data / 'watersheds' / 'huc8_pnw.geojson'}",
                   "--layer", f"protected={shared_data / 'protected_areas' / 'nps_national_parks.geojson'}",
                   "--out", str(out), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    ids = gpd.read_file(out / "sites.gpkg", layer="sites")["site_id"]
    assert ids.is_unique and {"carbonatite:59", "ree:59"} & set(ids)


@pytest.mark.parametrize("field, value, expect", [
    ("country", "Canada", {"60"}), ("source_id", CARB, {"59"}),
    ("state_or_province", "Wyoming", {"59"})])
def test_sites_where_takes_any_field_of_the_file(tmp_path, field, value, expect):
    assert set(sites_of(write(tmp_path / "d.csv", ROWS), **{field: [value]})["site_id"]) == expect


def test_sites_where_on_a_missing_field_names_it_and_lists_the_fields(tmp_path):
    w = tw.build(tmp_path)
    w.sites = write(tmp_path / "d.csv", ROWS)
    w.extra = ["--sites-where", "county=Lemhi"]
    res = run_cli(w.args())
    assert res.exit_code == 1
    line = res.output.strip().splitlines()[-1]
    assert line.startswith(f"Error: {w.sites}: filter field 'county' is not a field of the sites; fields: ")
    assert all(f in line for f in ("country", "source_id", "record_id", "state_or_province"))


def test_idaho_no_69_records_are_one_site(shared_data):
    path = shared_data / "mineral_deposits" / "lanthanum_datafile.csv"
    sites = sites_of(path, state=["Idaho"])
    rows = sites[sites["record_ids"].str.contains("10072025|10169324")]
    assert list(rows["record_ids"]) == ["10072025,10169324"]


def cross_database_merges(sites, src) -> int:
    """Merged sites whose records come from more than one source database (``source_id``)."""
    src = src[src["country"].eq("United States") & src["location"].notna()]  # the ids the run qualified
    label = src["source_id"].str.rstrip("/").str.rsplit("/", n=1).str[-1]
    source_of = dict(zip(src["record_id"], label)) | dict(zip(label + ":" + src["record_id"], label))
    records = sites.loc[sites["n_records"].fillna(1) > 1, "record_ids"].astype(str).str.split(",")
    return int(sum(len({source_of[r] for r in rs}) > 1 for rs in records))


def test_whole_us_file_is_one_run_in_measuring_zones_equal_to_the_per_region_runs(shared_data, tmp_path):
    """No single CRS keeps lengths true over CONUS and Alaska (9 % off): the whole-US run is
    screened in measuring zones, as one command; every site gets the numbers of the run of its
    region alone, and the zones' sites add up to every located US record less the merged ones."""
    import pandas as pd
    from sitescreen.inputs.crs import REGIONS
    from sitescreen.record.manifest import read_record
    path = shared_data / "mineral_deposits" / "lanthanum_datafile.csv"
    layers = ["--layer", f"federal_land={shared_data / 'federal_lands' / 'padus_ID.geojson'}",
              "--layer", f"watershed={shared_data / 'watersheds' / 'huc8_pnw.geojson'}",
              "--layer", f"protected={shared_data / 'protected_areas' / 'nps_national_parks.geojson'}"]
    base = ["screen", str(path), "--sites-where", "country=United States", *layers, "--no-map", "--no-report"]
    res = run_cli(base + ["--out", str(tmp_path / "us")])
    assert res.exit_code == 0, res.output
    summary = res.output.splitlines()[0]
    whole = read_record(tmp_path / "us" / "manifest.json")
    assert whole.crs == "EPSG:4269" and [z.crs for z in whole.zones][:2] == ["EPSG:5070", "EPSG:3338"]
    assert f"in {len(whole.zones)} measuring zones: EPSG:5070 (CONUS Albers) {whole.zones[0].sites}, " \
           f"EPSG:3338 (Alaska Albers) {whole.zones[1].sites}" in res.output
    got = pd.read_csv(tmp_path / "us" / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    boxes = {f"EPSG:{epsg}": f"{w:g},{s:g},{e:g},{n:g}" for epsg, _, w, e, s, n in REGIONS}
    src = pd.read_csv(path, dtype=str)
    located = int((src["country"].eq("United States") & src["location"].notna()).sum())
    parts = []
    for k, z in enumerate(whole.zones):  # the national regions, then any cluster outside them
        box = boxes.get(z.crs) or ",".join(f"{v + d:g}" for v, d in zip(z.bounds, (-0.1, -0.1, 0.1, 0.1)))
        res = run_cli(base + ["--aoi", box, "--out", str(tmp_path / f"r{k}")])
        assert res.exit_code == 0, res.output
        rec = read_record(tmp_path / f"r{k}" / "manifest.json")
        assert rec.crs == z.crs and rec.zones is None and rec.sites.sites == z.sites
        parts.append(pd.read_csv(tmp_path / f"r{k}" / "sites.csv", dtype={"site_id": str}).set_index("site_id"))
        parts[-1].attrs["merged"] = rec.sites.duplicates_merged
    each = pd.concat(parts)
    assert whole.sites.sites == len(got) == len(each) and got.index.is_unique
    assert whole.sites.sites + whole.sites.duplicates_merged == located == len(each) + sum(p.attrs["merged"] for p in parts)
    numbers = [c for c in got.columns if c.startswith(("m_", "s_"))] + ["score"]
    pd.testing.assert_frame_equal(got.loc[each.index, numbers], each[numbers], check_exact=False, rtol=1e-9, atol=1e-9)
    assert got.loc[each.index, "verdict"].tolist() == each["verdict"].tolist()
    assert (got.loc[each.index, ["lon", "lat"]] - each[["lon", "lat"]]).abs().max().max() <= 2e-6
    merges = cross_database_merges(got.reset_index(), src)
    assert run_cli(["verify", str(tmp_path / "us")]).exit_code == 0
    print(f"\nwhole-US run: {summary}\n{whole.sites.duplicates_merged} duplicate records merged; "
          f"{merges} merged sites join records of more than one source database")
    assert merges > 0


def test_a_state_pair_across_zones_is_one_run(shared_data, tmp_path):
    """Idaho and Alaska: two measuring zones in one run, each site as in its state's run alone."""
    import pandas as pd
    from sitescreen.record.manifest import read_record
    path = shared_data / "mineral_deposits" / "lanthanum_datafile.csv"
    base = ["screen", str(path), "--layer", f"federal_land={shared_data / 'federal_lands' / 'padus_ID.geojson'}",
            "--layer", f"protected={shared_data / 'protected_areas' / 'nps_national_parks.geojson'}", "--no-map", "--no-report"]
    res = run_cli(base + ["--sites-where", "state=Idaho", "--sites-where", "state=Alaska", "--out", str(tmp_path / "pair")])
    assert res.exit_code == 0, res.output
    pair = read_record(tmp_path / "pair" / "manifest.json")
    got = pd.read_csv(tmp_path / "pair" / "sites.csv", dtype={"site_id": str}).set_index("site_id")
    assert [z.crs for z in pair.zones] == ["EPSG:5070", "EPSG:3338"]
    for state, zone in zip(("Idaho", "Alaska"), pair.zones):
        assert run_cli(base + ["--sites-where", f"state={state}", "--out", str(tmp_path / state)]).exit_code == 0
        one = pd.read_csv(tmp_path / state / "sites.csv", dtype={"site_id": str}).set_index("site_id")
        assert len(one) == zone.sites
        cols = [c for c in one.columns if c.startswith("m_")] + ["score"]
        pd.testing.assert_frame_equal(got.loc[one.index, cols], one[cols], check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.fixture
def no69(tmp_path):
    w = tw.build(tmp_path)
    w.sites = write(tmp_path / "d.csv", ROWS[:4])
    return w


def test_every_merge_is_explained_in_merges_csv_the_manifest_and_explain(no69):
    import json
    import pandas as pd
    res = run_cli(no69.args())
    assert res.exit_code == 0, res.output
    geod = Geod(ellps="WGS84")
    want = geod.inv(LON, LAT, LON72, LAT)[2]                                   # the two records' true distance
    merges = pd.read_csv(no69.out / "merges.csv", dtype={"site_id": str, "record_a": str, "record_b": str})
    assert merges[["site_id", "record_a", "record_b", "rule"]].values.tolist() == [["10072025", "10072025", "10169324", "alike"]]
    assert abs(merges["distance_m"].iloc[0] - want) < 0.5 and merges["name_similarity"].iloc[0] == 1.0
    man = json.loads((no69.out / "manifest.json").read_text())
    assert man["sites"]["merges"] == merges.to_dict("records") and "merges.csv" in man["outputs"]
    res = run_cli(["explain", str(no69.out), "10072025"])
    d = merges["distance_m"].iloc[0]
    assert (f'Merged records: 10072025 "No. 69 Thorium Deposit" + 10169324 "Thorium Deposit No. 69": {d:g} m apart, '
            f'name similarity 1.00 (close, with names alike)') in res.output
    info = json.loads(run_cli(["explain", str(no69.out), "10072025", "--json"]).output)
    assert [m["record_b"] for m in info["merges"]] == ["10169324"]
    assert json.loads(run_cli(["explain", str(no69.out), "10072030", "--json"]).output)["merges"] == []
    assert run_cli(["verify", str(no69.out)]).exit_code == 0
    (no69.out / "merges.csv").write_text(merges.assign(distance_m=1.0).to_csv(index=False))
    res = run_cli(["verify", str(no69.out)])
    assert res.exit_code != 0 and "merges.csv" in res.output                 # an edited merges table is found


def test_merge_distance_is_a_flag_recorded_in_the_manifest(no69):
    import json
    no69.extra = ["--merge-distance", "50"]
    res = run_cli(no69.args())
    assert res.exit_code == 0, res.output
    man = json.loads((no69.out / "manifest.json").read_text())
    assert man["run"]["site_options"]["merge_distance_m"] == 50 and man["sites"]["duplicates_merged"] == 0
    assert "merges" not in man["sites"] and not (no69.out / "merges.csv").exists()   # 72 m apart: two sites


@pytest.mark.parametrize("value", ["-1", "abc", "1e9"])
def test_merge_distance_out_of_range_is_a_bad_flag(no69, value):
    no69.extra = ["--merge-distance", value]
    res = run_cli(no69.args())
    assert res.exit_code == 2 and "--merge-distance" in res.output and "Traceback" not in res.output
    assert not no69.out.exists()


def test_merge_distance_beside_a_config_is_an_override(no69):
    import json
    cfg = no69.write_config(tw.CONFIG.replace('path = "deposits.csv"', 'path = "d.csv"'))
    no69.extra = ["--merge-distance", "50"]
    res = run_cli(no69.args())
    assert res.exit_code == 0, res.output
    man = json.loads((no69.out / "manifest.json").read_text())
    assert man["run"]["overrides"] == ["--merge-distance 50"] and man["sites"]["duplicates_merged"] == 0
    assert cfg.exists()


def test_only_ids_shared_by_two_sources_are_qualified():
    """An id repeated within one source is a duplicate (the id rule names it), not qualified away."""
    import geopandas as gpd
    from shapely.geometry import Point
    from sitescreen.sites.ids import qualify_record_ids
    src = {"m": "https://mrdata.usgs.gov/mrds", "r": "https://mrdata.usgs.gov/ree/"}
    frame = gpd.GeoDataFrame({"record_id": ["7", "7 ", "8", "8", "9"], "source": [src["m"], src["m"], src["m"], src["r"], src["r"]]},
                             geometry=[Point(0, i) for i in range(5)], crs="EPSG:4326")
    out = qualify_record_ids(frame)["record_id"].tolist()
    assert out == ["7", "7 ", "mrds:8", "ree:8", "9"]
