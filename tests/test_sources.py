"""Sources for the permit file (issue 12, item 5): `sitescreen sources DIR [--csv|--json]` and the
report's Sources section list every rule (safeguard, legal source) and every file the run read
(product and publisher from its layer definition, file name, SHA-256, feature count, date), all
from the run record, so the three are the same rows."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pyogrio
import pytest

import tinyworld as tw
from edgecases import run_cli
from sitescreen.inputs.schemas import known_schemas as builtin_schemas
from sitescreen.outputs.sources import COLUMNS
from sitescreen.record.manifest import read_record


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    w = tw.build(tmp_path_factory.mktemp("sources") / "w")
    stamp = datetime(2024, 5, 17, 8, 30, tzinfo=timezone.utc).timestamp()
    os.utime(w.federal, (stamp, stamp))  # a known modification time
    res = run_cli([a for a in w.args() if a != "--no-report"])
    assert res.exit_code == 0, res.output
    return w


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _csv_rows(w) -> list[dict]:
    res = run_cli(["sources", str(w.out), "--csv"])
    assert res.exit_code == 0, res.output
    return list(csv.DictReader(io.StringIO(res.output)))


def test_every_rule_is_listed_with_its_safeguard_and_source(run):
    rec = read_record(run.out / "manifest.json")
    rules = [r for r in _csv_rows(run) if r["kind"] == "rule"]
    assert [r["name"] for r in rules] == [f"{c.label} ({c.name})" for c in rec.criteria]
    for r, c in zip(rules, rec.criteria):
        assert r["safeguard"] == c.safeguard and r["source"] == c.source and c.source
    setback = next(r for r, c in zip(rules, rec.criteria) if c.name == "protected_setback")
    assert "exclude if < " in setback["description"] and " m" in setback["description"]
    for r, c in zip(rules, rec.criteria):
        assert r["description"].count("not evaluated") == (0 if c.evaluated else 1)  # said once


def test_every_file_is_listed_with_publisher_hash_features_and_date(run):
    rows = {r["kind"] + ":" + r["file"]: r for r in _csv_rows(run)}
    schemas = builtin_schemas()
    sites = rows[f"sites:{run.sites.name}"]
    assert sites["sha256"] == _sha(run.sites) and int(sites["features"]) == len(tw.SITES)
    assert sites["description"] == schemas["usgs-deposits"].title and sites["source"] == schemas["usgs-deposits"].source
    fed = rows[f"input:{run.federal.name} (layer padus)"]
    assert fed["sha256"] == _sha(run.federal)
    assert int(fed["features"]) == pyogrio.read_info(run.federal, layer="padus")["features"]
    assert fed["modified"] == "2024-05-17T08:30:00+00:00"
    assert fed["description"] == schemas["padus"].title and fed["source"] == schemas["padus"].source
    wild = rows[f"input:{run.protected.name}"]
    assert wild["sha256"] == _sha(run.protected) and wild["source"] == schemas["wilderness"].source
    profile = next(r for r in rows.values() if r["kind"] == "profile")
    assert profile["sha256"] == read_record(run.out / "manifest.json").profile.sha256


def test_csv_json_text_and_report_show_the_same_rows(run):
    rows = _csv_rows(run)
    assert list(rows[0]) == list(COLUMNS)
    res = run_cli(["sources", str(run.out), "--json"])
    as_json = json.loads(res.output)
    assert [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in as_json] == rows
    text = run_cli(["sources", str(run.out)]).output
    report = (run.out / "report.html").read_text(encoding="utf-8")
    section = report[report.index('<section id="sources">'):]
    section = section[:section.index("</section>")]
    for r in rows:
        assert f"[{r['kind']}] {r['name']}" in text
        assert r["sha256"] in section and r["sha256"] in text
        assert r["source"] in html.unescape(section) and r["name"] in html.unescape(section)


def test_sources_of_a_folder_that_is_not_a_run(tmp_path):
    res = run_cli(["sources", str(tmp_path)])
    assert res.exit_code == 1 and str(tmp_path) in res.output and "manifest.json" in res.output
