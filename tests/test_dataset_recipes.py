"""The run-config snippets of docs/datasets/*.md (issue 11 item 12) work as written: each is added
to a run config beside files named as in the snippet, written here in the published schemas
and the run evaluates the criterion it feeds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pytest

from edgecases import run_cli
from test_community_layers import BASE, write_world

DOCS = Path(__file__).resolve().parent.parent / "docs" / "datasets"
RECIPES = {  # recipe → (role, definition, criterion it feeds)
    "tribal-lands.md": ("tribal_lands", "census-aiannh", "tribal_lands"),
    "tiger-roads.md": ("roads", "tiger-roads", "road_distance"),
    "cejst.md": ("community", "cejst", "community_disadvantaged"),
    "aqueduct.md": ("water_stress", "aqueduct", "water_stress"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("recipes")
    write_world(d)
    gpd.read_file(d / "roads_area.gpkg").to_file(d / "idaho.gpkg")
    return d


def snippet(name: str) -> str:
    blocks = re.findall(r"^```toml\n(.*?)^```", (DOCS / name).read_text(encoding="utf-8"), flags=re.S | re.M)
    assert len(blocks) == 1, f"{name}: one run-config snippet"
    return blocks[0]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_snippet_runs_as_written(world, name):
    role, definition, criterion = RECIPES[name]
    cfg = world / f"{name}.toml"
    cfg.write_text(BASE + snippet(name), encoding="utf-8")
    res = run_cli(["screen", "--config", str(cfg), "--out", str(world / f"out-{name}"), "--no-map", "--no-report"])
    assert res.exit_code == 0, res.output
    m = json.loads((world / f"out-{name}" / "manifest.json").read_text(encoding="utf-8"))
    assert [e["schema"] for e in m["inputs"] if e["role"] == role] == [definition]
    assert {c["name"]: c["evaluated"] for c in m["criteria"]}[criterion] is True


def test_recipes_say_what_the_issue_asks():
    cejst, aqueduct = (DOCS / "cejst.md").read_text(), (DOCS / "aqueduct.md").read_text()
    assert "went offline in 2025" in cejst and "archived copies" in cejst and "EJScreen" in cejst
    assert "licence terms" in aqueduct
