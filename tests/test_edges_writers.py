"""Issue 9, class 10 (values): writers never crash on real values.

Every NaN, inf, None and pandas NA reaches the files and pages as an explicit empty or ``inf``
(sitescreen.values): CSV empty / ``inf``; JSON (manifest, map payload, ``explain --json``) strict,
missing → null, ±inf → ±1e999 (read back as ±infinity); HTML ``no data`` / ``(unnamed)`` /
``beyond search radius``; text escaped. Each case below writes every file and checks what the
value reads as in each of them.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import tinyworld as tw
from edgecases import assert_error, run_cli


# ---------------------------------------------------------------------------------------------
# Reading the files back, strictly


def _no_constants(name):
    raise AssertionError(f"non-strict JSON constant {name}")


def strict(text: str):
    return json.loads(text, parse_constant=_no_constants)


def map_blocks(html: str) -> dict[str, object]:
    """Every ``<script type="application/json">`` block of a map, parsed strictly."""
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, flags=re.S)
    assert blocks
    return {k: strict(v) for k, v in blocks}


def site_payload(html: str) -> dict:
    return next(b for b in map_blocks(html).values() if isinstance(b, dict) and "name" in b and "m" in b)


def uvarints(text: str) -> list[int]:
    out, cur, shift = [], 0, 0
    for ch in text:
        v = ord(ch) - 63
        cur |= (v & 31) << shift
        shift += 5
        if not v & 32:
            out.append(cur)
            cur, shift = 0, 0
    return out


def payload_column(payload: dict, k: int) -> list:
    """The k-th criterion's measurements per site, as the map's script decodes them."""
    col = payload["m"][k]
    if col is None:
        return [None] * payload["n"]
    if "num" in col:
        return col["num"]
    if "list" in col:
        return col["list"]
    return [None if i == 0 else col["dict"][i - 1] for i in uvarints(col["idx"])]


def beyond_words(manifest: dict, column: str) -> str:
    """What an infinite distance reads as: beyond that criterion's search radius, in km."""
    radius = manifest["criteria"][criterion_index(manifest, column)]["params"]["search_radius_m"]
    return f"beyond the {radius / 1000:g} km search radius"


def read_manifest(out: Path) -> dict:
    return strict((out / "manifest.json").read_text(encoding="utf-8"))


def csv_rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["site_id"]: r for r in csv.DictReader(f)}


def criterion_index(manifest: dict, column: str) -> int:
    return [c["measure_column"] for c in manifest["criteria"]].index(column)


# ---------------------------------------------------------------------------------------------
# The example: real Idaho records outside the watershed layer (NaN HUC text, pandas 3)


@pytest.mark.slow
def test_idaho_sites_outside_the_watershed_layer(shared_data, tmp_path):
    d = shared_data
    out = tmp_path / "idaho"
    res = run_cli(["screen", str(d / "mineral_deposits/lanthanum_datafile.csv"), "--sites-where", "state=Idaho",
                   "--layer", f"federal_land={d / 'federal_lands/padus_ID.geojson'}",
                   "--layer", f"watershed={d / 'watersheds/huc8_pnw.geojson'}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = run_cli(["map", str(out), "--offline", "--overwrite"])
    assert res.exit_code == 0, res.output
    manifest = strict((out / "manifest.json").read_text(encoding="utf-8"))
    # independently: footprints that touch no HUC-8 polygon cannot have a HUC
    sites = gpd.read_file(out / "sites.gpkg", layer="sites")
    huc = gpd.read_file(d / "watersheds/huc8_pnw.geojson").to_crs(sites.crs)
    touches = sites.geometry.intersects(huc.union_all())
    outside = set(sites.loc[~touches, "site_id"].astype(str))
    assert len(outside) >= 3  # south-east Idaho drains to regions 16 and 14
    rows = csv_rows(out / "sites.csv")
    assert all(rows[s]["m_watershed"] == "" for s in outside)
    assert all(rows[s]["m_watershed"] != "" for s in set(rows) - set(sites.loc[sites["verdict"] == "incomplete", "site_id"]))
    payload = site_payload((out / "map.html").read_text(encoding="utf-8"))
    hucs = dict(zip(payload["id"], payload_column(payload, criterion_index(manifest, "m_watershed"))))
    assert all(hucs[s] is None for s in outside)
    assert all(re.fullmatch(r"\d{8}", hucs[s]) for s in hucs if s not in outside and hucs[s] is not None)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert ">nan<" not in report.lower() and "no data" in report


# ---------------------------------------------------------------------------------------------
# Values a result can hold, through every writer


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """The tiny world with a DEM, screened: the folder and its sites (site_id as text)."""
    root = tmp_path_factory.mktemp("writers")
    w = tw.build(root / "w")
    tw.write_dem(w.root / "dem.tif")
    w.layers.append(f"dem={w.root / 'dem.tif'}")
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    return w.out


def rewrite(src: Path, dst: Path, change) -> tuple[gpd.GeoDataFrame, dict]:
    """A copy of a result folder whose sites (and manifest) ``change`` edits; every file rewritten
    by the writers (result files, then `map --offline` and `report` through the CLI)."""
    from sitescreen.outputs.files import read_results, write_result_files
    from sitescreen.record.manifest import to_json
    sites, manifest = read_results(src)
    sites, manifest = change(sites.copy(), json.loads(to_json(manifest)))
    dst.mkdir()
    write_result_files(sites, manifest, dst)
    for cmd in (["map", str(dst), "--offline"], ["report", str(dst)]):
        res = run_cli(cmd)
        assert res.exit_code == 0, res.output
        assert "Traceback" not in res.output
    return sites, manifest


def outputs(folder: Path):
    manifest = strict((folder / "manifest.json").read_text(encoding="utf-8"))
    html = (folder / "map.html").read_text(encoding="utf-8")
    return csv_rows(folder / "sites.csv"), site_payload(html), html, (folder / "report.html").read_text(encoding="utf-8"), manifest


def test_missing_and_hostile_names(screened, tmp_path):
    hostile = "</script><!--&amp; \u2028 \"quoted\""

    def change(sites, manifest):
        sites["name"] = sites["name"].astype(object)
        sites.loc[0, "name"], sites.loc[1, "name"], sites.loc[2, "name"], sites.loc[3, "name"] = None, np.nan, "", hostile
        return sites, manifest

    sites, _ = rewrite(screened, tmp_path / "o", change)
    rows, payload, html, report, _ = outputs(tmp_path / "o")
    ids = sites["site_id"].astype(str).tolist()
    assert [rows[i]["name"] for i in ids] == ["", "", "", hostile]
    names = dict(zip(payload["id"], payload["name"]))
    assert [names[i] for i in ids] == ["", "", "", hostile]
    assert hostile not in html and hostile not in report  # never raw in a page
    assert "&lt;/script&gt;&lt;!--&amp;amp;" in report
    assert report.count("(unnamed)") >= 3 and ">nan<" not in report.lower()


def test_infinite_and_float32_measurements(screened, tmp_path):
    def change(sites, manifest):
        col = sites["m_protected_setback"].astype("float32")
        col.iloc[0], col.iloc[1] = np.float32("inf"), np.float32("nan")
        sites["m_protected_setback"] = col
        return sites, manifest

    sites, _ = rewrite(screened, tmp_path / "o", change)
    rows, payload, _, report, manifest = outputs(tmp_path / "o")
    a, b, c = sites["site_id"].astype(str).tolist()[:3]
    assert rows[a]["m_protected_setback"] == "inf" and rows[b]["m_protected_setback"] == ""
    assert float(rows[c]["m_protected_setback"]) == pytest.approx(float(sites["m_protected_setback"].iloc[2]))
    values = dict(zip(payload["id"], payload_column(payload, criterion_index(manifest, "m_protected_setback"))))
    beyond = beyond_words(manifest, "m_protected_setback")
    assert values[a] == beyond and values[b] is None
    assert beyond in report and "no data" in report


def test_pandas_na_in_an_integer_column_and_all_missing_text(screened, tmp_path):
    def change(sites, manifest):
        sites["n_records"] = pd.array([1, None, 2, None][: len(sites)], dtype="Int64")
        sites["m_watershed"] = pd.Series([None] * len(sites), dtype=object)
        sites["commodity"] = pd.Series([np.nan] * len(sites), dtype="str")
        return sites, manifest

    sites, _ = rewrite(screened, tmp_path / "o", change)
    rows, payload, _, report, manifest = outputs(tmp_path / "o")
    ids = sites["site_id"].astype(str).tolist()
    assert [rows[i]["n_records"] for i in ids] == ["1", "", "2", ""]
    assert all(rows[i]["m_watershed"] == "" and rows[i]["commodity"] == "" for i in ids)
    assert set(payload_column(payload, criterion_index(manifest, "m_watershed"))) == {None}
    back = pd.read_parquet(tmp_path / "o" / "sites.parquet")
    assert back["n_records"].isna().tolist() == [False, True, False, True]


def test_missing_ids_scores_and_reasons(screened, tmp_path):
    def change(sites, manifest):
        sites["site_id"] = sites["site_id"].astype(object)
        sites.loc[0, "site_id"] = np.nan
        sites["reasons"] = pd.Series([None, "", np.nan, "a; b"], dtype=object)
        sites["score"] = [np.nan, np.inf, 50.0, 25.0]
        return sites, manifest

    rewrite(screened, tmp_path / "o", change)
    rows, payload, _, report, _ = outputs(tmp_path / "o")
    assert "" in rows and rows[""]["score"] == "" and rows[""]["reasons"] == ""
    assert "" in payload["id"] and ">nan<" not in report.lower()
    assert "(+1 more)" in report  # "a; b" is two reasons


def test_numpy_and_missing_values_in_the_manifest(screened, tmp_path):
    from sitescreen.outputs.files import manifest_text
    extra = {"count": np.int64(3), "share": np.float32(0.5), "limit": float("inf"), "low": -np.inf,
             "gap": float("nan"), "na": pd.NA, "nat": pd.NaT, "flag": np.bool_(True), "path": tmp_path,
             "list": [np.int32(1), np.float64("nan")]}

    def change(sites, manifest):
        manifest["extra"] = extra
        return sites, manifest

    with pytest.raises((TypeError, ValueError)):  # the standard encoder cannot write these at all
        json.dumps(extra, allow_nan=False)
    back = strict(manifest_text({"extra": extra}))["extra"]
    assert back == {"count": 3, "share": 0.5, "limit": math.inf, "low": -math.inf, "gap": None, "na": None,
                    "nat": None, "flag": True, "path": str(tmp_path), "list": [1, None]}
    _, manifest = rewrite(screened, tmp_path / "o", change)
    rows, payload, _, report, written = outputs(tmp_path / "o")
    assert written["extra"]["limit"] == math.inf and written["extra"]["gap"] is None
    assert "Extra: limit" in report and ">nan<" not in report.lower()


def test_infinite_value_in_a_profile_is_refused_cleanly(tmp_path):
    """A TOML profile may spell ``inf``; it used to crash the writers with a traceback. Profile
    numbers are finite (issue 9, class 6), so it is one clear error naming the key, and nothing is
    written."""
    from sitescreen.rules.profile import builtin_profiles
    text = builtin_profiles()["federal-safeguards"].read_text(encoding="utf-8")
    assert "[5000, 1.0]]" in text
    profile = tmp_path / "inf.toml"
    profile.write_text(text.replace("[5000, 1.0]]", "[5000, 1.0], [inf, 1.0]]"), encoding="utf-8")
    w = tw.build(tmp_path / "w")
    args = [a for a in w.args() if a not in ("--no-map", "--no-report")]
    res = run_cli([*args, "--profile", str(profile)])
    msg = assert_error(res, ("inf.toml", "criteria.protected_setback.transform", "finite", "inf"), 1)
    assert "Traceback" not in msg
    assert not w.out.exists()


def test_explain_json_is_strict(screened, tmp_path):
    def change(sites, manifest):
        sites["name"] = sites["name"].astype(object)
        sites.loc[0, "name"] = np.nan
        sites["m_protected_setback"] = sites["m_protected_setback"].astype(float)
        sites.loc[0, "m_protected_setback"] = np.inf
        sites.loc[0, "s_protected_setback"] = np.nan
        return sites, manifest

    sites, _ = rewrite(screened, tmp_path / "o", change)
    res = run_cli(["explain", str(tmp_path / "o"), str(sites["site_id"].iloc[0]), "--json"])
    assert res.exit_code == 0, res.output
    info = strict(res.stdout)
    crit = next(c for c in info["criteria"] if c["name"] == "protected_setback")
    assert info["name"] == "" and crit["measurement"] == math.inf and crit["score"] is None
    assert crit["measurement_text"] == beyond_words(read_manifest(tmp_path / "o"), "m_protected_setback")
