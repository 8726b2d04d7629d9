"""The typed run record (sitescreen.record.manifest) and effective weights computed once (issue 10,
items 3 and 5): every manifest validates against the committed JSON Schema, old manifests load
(or fail naming their version), and score, manifest, map popup, report and explain show the
same effective weights."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

import tinyworld as tw
from edgecases import assert_error, run_cli
from fixtures_results import demo_out  # noqa: F401  (the demo run through the CLI)
from sitescreen.errors import OutputError
from sitescreen.rules.wording import weight_text as format_weight
from sitescreen.rules.profile import effective_weights, load_profile
from sitescreen.record import manifest as record
from sitescreen.record.manifest import SCHEMA_FILE, SCHEMA_VERSION, read_record, to_data, to_json
from sitescreen.record.schema import schema_text

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny world (no DEM, no watershed layer: weighted criteria are dropped) screened through
    the CLI with its map and report."""
    w = tw.build(tmp_path_factory.mktemp("record") / "w")
    res = run_cli([a for a in w.args() if a not in ("--no-map", "--no-report")] + ["--offline"])
    assert res.exit_code == 0, res.output
    return w.out


def _data(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ the schema


def test_committed_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), \
        "regenerate it: python -m sitescreen.record.schema"


def test_schema_is_shipped_as_package_data():
    import tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setup = project["tool"]["setuptools"]
    assert "sitescreen.record" in setup["packages"]
    assert setup["package-data"]["sitescreen.record"] == ["manifest.schema.json"]
    assert any(d.startswith("jsonschema") for d in project["project"]["dependencies"])  # to_json validates


def test_every_manifest_written_is_checked_against_the_committed_schema(tiny_run, monkeypatch):
    """The one writer (to_json) validates every record against the committed file before anything
    writes it, so a manifest written in a subprocess, a batch job or verify validates too; a record
    that breaks the schema is refused with the place it breaks, and nothing is written."""
    from dataclasses import replace

    from sitescreen.record.schema import validator
    assert validator().schema == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    rec = read_record(tiny_run / "manifest.json")
    bad = replace(rec, criteria=(replace(rec.criteria[0], effective_weight=1.5),) + rec.criteria[1:])
    with pytest.raises(OutputError, match=r"breaks manifest.schema.json at criteria/0/effective_weight: 1.5 is "
                                          r"greater than the maximum of 1.*no manifest was written"):
        to_json(bad)
    # the CLI writes through it: a broken record stops the run with that error and leaves no folder
    w = tw.build(tiny_run.parent / "w2")
    real = record.to_data
    monkeypatch.setattr(record, "to_data",
                        lambda r: {**real(r), "schema_version": 99} if isinstance(r, record.RunRecord) else real(r))
    res = run_cli(w.args())
    assert res.exit_code == 1 and "breaks manifest.schema.json at schema_version" in res.output
    assert not w.out.exists()


def test_the_demo_manifest_validates(demo_out, manifest_validator):
    data = _data(demo_out)
    assert data["schema_version"] == SCHEMA_VERSION
    manifest_validator.validate(data)


def test_the_tiny_runs_manifest_validates_and_reads_back(tiny_run, manifest_validator):
    data = _data(tiny_run)
    manifest_validator.validate(data)
    rec = read_record(tiny_run / "manifest.json")
    assert rec.read_schema == SCHEMA_VERSION
    assert json.loads(to_json(rec)) == data  # read → write gives the same file contents


def test_schema_refuses_what_the_reader_refuses(tiny_run, manifest_validator):
    data = _data(tiny_run)
    data["criteria"][0]["effective_weight"] = 1.5
    assert not manifest_validator.is_valid(data)
    data = _data(tiny_run)
    data["counts"]["excluded"] = "many"
    assert not manifest_validator.is_valid(data)
    with pytest.raises(OutputError, match=r"counts\.excluded: expected a whole number, got 'many'"):
        read_record(data)


def test_in_memory_record_round_trips(demo_result):
    rec = demo_result.manifest
    assert read_record(json.loads(to_json(rec))) == rec


# ------------------------------------------------------------------ versions


def _as_schema_1(data: dict) -> dict:
    """The layout before schema_version: no version, no effective weights, no mode or columns."""
    old = {k: v for k, v in data.items() if k not in ("schema_version", "mode", "columns")}
    old["criteria"] = [{k: v for k, v in c.items() if k != "effective_weight"} for c in data["criteria"]]
    return old


def test_a_schema_1_manifest_loads_with_its_effective_weights_derived(tiny_run):
    data = _data(tiny_run)
    rec = read_record(_as_schema_1(data))
    assert rec.read_schema == 1 and rec.schema_version == SCHEMA_VERSION
    evaluated = sum(c["weight"] for c in data["criteria"] if c["evaluated"])
    for c, got in zip(data["criteria"], rec.criteria):
        assert got.effective_weight == pytest.approx(c["weight"] / evaluated if c["evaluated"] else 0.0)
        assert got.effective_weight == c["effective_weight"]  # what the run itself recorded
    assert rec.mode.flow == "in memory"


def test_a_schema_1_folder_still_maps_reports_and_verifies(tiny_run, tmp_path):
    import shutil
    out = tmp_path / "old"
    shutil.copytree(tiny_run, out)
    (out / "manifest.json").write_text(json.dumps(_as_schema_1(_data(tiny_run))), encoding="utf-8")
    res = run_cli(["verify", str(out)])
    assert res.exit_code == 0, res.output  # what it lacked was derived as the run made it
    assert "the manifest is in schema 1" in res.output
    for cmd in (["report", str(out), "--overwrite"], ["map", str(out), "--offline", "--overwrite"]):
        res = run_cli(cmd)
        assert res.exit_code == 0, res.output
    assert read_record(out / "manifest.json").read_schema == SCHEMA_VERSION  # rewritten in this schema


def test_a_schema_1_manifest_missing_a_fact_names_the_version(tiny_run):
    old = _as_schema_1(_data(tiny_run))
    del old["criteria"][0]["measure_column"]
    with pytest.raises(OutputError) as exc:
        read_record(old)
    assert str(exc.value).startswith("manifest.json was written by sitescreen 0.1.0 (schema 1); "
                                     "criteria[0].measure_column: is missing")


def test_a_manifest_from_a_newer_sitescreen_is_refused_clearly(tiny_run, tmp_path):
    import shutil
    out = tmp_path / "new"
    shutil.copytree(tiny_run, out)
    data = _data(tiny_run)
    data["schema_version"] = SCHEMA_VERSION + 1
    data["tool"]["version"] = "9.9"
    (out / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    for cmd in (["report", str(out), "--overwrite"], ["explain", str(out), "1001"], ["verify", str(out)]):
        res = run_cli(cmd)
        assert_error(res, (f"{out / 'manifest.json'} was written by sitescreen 9.9 (schema {SCHEMA_VERSION + 1})",
                           "upgrade sitescreen"), 1)


@pytest.mark.parametrize("version", ["2", 0, True, 1.5])
def test_a_bad_schema_version_is_refused(tiny_run, version):
    data = _data(tiny_run)
    data["schema_version"] = version
    with pytest.raises(OutputError, match=r"schema_version: expected a whole number 1–2, got"):
        read_record(data)


def test_an_unknown_key_in_a_criterion_is_refused(tiny_run):
    data = _data(tiny_run)
    data["criteria"][1]["weigth"] = 0.5
    with pytest.raises(OutputError, match=r"criteria\[1\]\.weigth: is not a key of this record; allowed: "):
        read_record(data)


# ------------------------------------------------------------------ readers use the record only

READERS = ["outputs/report.py", "outputs/mapping.py", "review/explain.py", "review/verify.py", "run/batch.py",
           "cli/screen.py", "cli/check.py", "cli/map.py", "outputs/files.py"]


@pytest.mark.parametrize("module", READERS)
def test_readers_read_no_manifest_keys(module):
    text = (REPO / "sitescreen" / module).read_text(encoding="utf-8")
    assert not re.findall(r'manifest\[|manifest\.get\(|\.get\("(?:tool|profile|sites|inputs|criteria|outputs|mode|run)"\)',
                          text), module


# ------------------------------------------------------------------ effective weights, once


def test_effective_weights_renormalise_over_the_evaluated_criteria():
    p = load_profile("federal-safeguards")
    weighted = [c.name for c in p.criteria if c.weight > 0]
    dropped = "steep_terrain"
    kept = [c for c in p.criteria if c.name != dropped]
    w = effective_weights(p, [c.name for c in kept])
    total = sum(c.weight for c in kept)
    assert w[dropped] == 0.0
    assert {n: w[n] for n in weighted if n != dropped} == {c.name: c.weight / total for c in kept if c.weight > 0}
    assert sum(w.values()) == pytest.approx(1.0)
    assert effective_weights(p, []) == {c.name: 0.0 for c in p.criteria}


def test_score_uses_the_recorded_effective_weights(tiny_run):
    rec = read_record(tiny_run / "manifest.json")
    sites = gpd.read_parquet(tiny_run / "sites.parquet")
    scored = sites["verdict"].isin(["favorable", "review", "unfavorable"]).to_numpy()
    assert scored.any()
    weighted = [c for c in rec.criteria if c.effective_weight > 0]
    assert any(not c.evaluated and c.weight > 0 for c in rec.criteria)  # a weighted criterion was dropped
    expected = sum(sites[c.score_column].to_numpy(dtype=float) * c.effective_weight for c in weighted) * 100
    np.testing.assert_allclose(sites["score"].to_numpy(dtype=float)[scored], expected[scored], atol=1e-3)


def _map_criteria(html: str) -> list[dict]:
    blocks = [json.loads(m.group(1)) for m in
              re.finditer(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)]
    return next(b for b in blocks if isinstance(b, dict) and "criteria" in b and "zf" in b)["criteria"]


def test_the_popup_shows_the_effective_weights(tiny_run):
    """The issue: with no DEM the popup listed the profile's weights (35/25/20/20 %) while the score
    used the renormalised ones."""
    rec = read_record(tiny_run / "manifest.json")
    crits = _map_criteria((tiny_run / "map.html").read_text(encoding="utf-8"))
    by_name = {c.name: c for c in rec.criteria}
    assert [c["name"] for c in crits] == list(by_name)
    weighted = [c for c in crits if c["evaluated"] and by_name[c["name"]].weight > 0]
    assert sum(c["effective_weight"] for c in weighted) == pytest.approx(1.0)
    for c in crits:
        eff = by_name[c["name"]].effective_weight
        assert c["effective_weight"] == eff
        assert c["weight"] == (format_weight(eff) if eff else "—")
    raw = sum(by_name[c["name"]].weight for c in weighted)
    assert raw < 1.0  # the profile's weights of these criteria do not add up to the score


def test_report_and_explain_show_the_effective_weights(tiny_run):
    rec = read_record(tiny_run / "manifest.json")
    res = run_cli(["explain", str(tiny_run), "1002", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert {c["name"]: c["effective_weight"] for c in info["criteria"]} == {c.name: c.effective_weight for c in rec.criteria}
    report = (tiny_run / "report.html").read_text(encoding="utf-8")
    for c in rec.criteria:
        if c.effective_weight and c.effective_weight != c.weight:
            assert format_weight(c.effective_weight) in report


def test_check_json_states_layers_as_the_record_does(tiny_run, tmp_path):
    w = tw.build(tmp_path / "w")  # the same world in another folder
    res = run_cli(["check", str(w.sites), *[a for lyr in w.layers for a in ("--layer", lyr)], "--json"])
    assert res.exit_code == 0, res.output
    checked = {e["role"]: e for e in json.loads(res.stdout)["layers"]}
    recorded = {e["role"]: e for e in to_data(read_record(tiny_run / "manifest.json"))["inputs"]}
    assert set(checked) == set(recorded)
    for role, e in checked.items():
        assert set(e) <= set(record.InputRecord.__dataclass_fields__)
        for key in ("kind", "schema", "source_crs", "features_read", "repairs", "coverage"):
            assert e[key] == recorded[role][key], (role, key)
