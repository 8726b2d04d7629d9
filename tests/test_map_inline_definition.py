"""`sitescreen map` of a run whose layer was defined inline in its run config (as bench/run.py's runs
are): the recorded "schema" is where the definition was written, not a schema name. The map is drawn
(the layer re-read with its fields detected, or left off with a warning), never a traceback."""

from __future__ import annotations

import json

import tinyworld as tw
from edgecases import run_cli

CONFIG = tw.CONFIG.replace('layer = "padus"\n', 'layer = "padus"\n'
                           'definition = { fields = { name = "Unit_Nm", agency = "Mang_Name" } }\n')


def test_map_of_a_run_with_an_inline_layer_definition(tmp_path):
    w = tw.build(tmp_path / "w")
    w.write_config(CONFIG)
    res = run_cli(w.args())
    assert res.exit_code == 0, res.output
    recorded = [i["schema"] for i in json.loads((w.out / "manifest.json").read_text())["inputs"]
                if i["role"] == "federal_land"]
    assert recorded and recorded[0].endswith("layers[1].definition")  # the case: no schema name recorded
    page = tmp_path / "map.html"
    res = run_cli(["map", str(w.out), "-o", str(page), "--offline"])
    assert res.exit_code == 0, res.output
    assert res.exception is None and "Traceback" not in res.output
    html = page.read_text(encoding="utf-8")
    assert "sitescreen.sitesLayer(" in html
    # the federal layer is drawn (its PAD-US fields detected) like the protected one
    assert html.count("sitescreen.featureLayer(") == 2
