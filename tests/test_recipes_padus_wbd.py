"""The run-config snippets of docs/datasets/padus.md and wbd.md work as written, next to files in
the published schemas (written here: a PAD-US 4.0 state FileGDB, a WBD region FileGDB)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import tinyworld as tw
from edgecases import run_cli
from test_padus4 import padus_file
from test_wbd_published import national_gdb

DOCS = Path(__file__).resolve().parent.parent / "docs" / "datasets"


def toml_block(name: str) -> str:
    blocks = re.findall(r"^```toml\n(.*?)^```", (DOCS / name).read_text(encoding="utf-8"), flags=re.S | re.M)
    assert len(blocks) == 1, f"{name}: one run-config snippet expected"
    return blocks[0]


@pytest.mark.parametrize("doc, role, name", [
    ("padus.md", "federal_land", "PADUS4_0Fee + PADUS4_0Designation"),
    ("wbd.md", "watershed", "WBDHU12"),
])
def test_recipe_snippet_runs_as_written(tmp_path, doc, role, name):
    tw.write_csv(tmp_path / "lanthanum_datafile.csv", tw.deposit_rows())
    padus_file(tmp_path / "PADUS4_0_State_ID.gdb")
    national_gdb(tmp_path / "WBD_17_HU2_GDB.gdb")
    config = tmp_path / "run.toml"
    config.write_text(toml_block(doc), encoding="utf-8")
    r = run_cli(["screen", "--config", str(config), "--out", str(tmp_path / "out"), "--no-map", "--no-report"])
    assert r.exit_code == 0, r.output
    inputs = json.loads((tmp_path / "out" / "manifest.json").read_text())["inputs"]
    entry = next(e for e in inputs if e["role"] == role)
    assert name in (entry["name"], entry["layer"])
