"""What a number is made of, on the real Idaho PAD-US management units (issue 11, item 10).

In ../shared/data/federal_lands/padus_ID.geojson the agency code OTHF ("other") holds the Idaho
Department of Lands and a dozen other state bodies besides the Department of Energy: no state body
may count as federal land. The state bodies are recognised here from the file's names, written out
in the test, not by sitescreen's definition.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import CRS

from sitescreen.inputs.load import load_vector
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.profile import load_profile

pytestmark = pytest.mark.realdata

PADUS = "federal_lands/padus_ID.geojson"


@pytest.fixture(scope="module")
def units(shared_data):
    """The file as published (its own fields) and as sitescreen loads it (canonical fields)."""
    raw = gpd.read_file(shared_data / PADUS)
    loaded = load_vector(LayerSpec(role="federal_land", path=shared_data / PADUS), CRS.from_epsg(5070)).gdf
    return raw, loaded


def test_no_state_body_counts_as_federal(units):
    raw, loaded = units
    federal = load_profile("federal-safeguards").selections["federal"]
    selected = set(loaded.loc[federal.mask(loaded), "name"])
    names = raw["name"].astype(str)
    state = names.str.startswith(("Idaho ", "State of ")) | (raw["agency"] == "STA")
    assert state.sum() >= 32 + 105  # 32 OTHF state bodies named so, 105 STA units (data README)
    assert not (set(names[state]) & selected)
    othf = raw["agency"] == "OTHF"
    othf_federal = loaded.loc[federal.mask(loaded), "agency"].eq("OTHF").sum()
    assert othf.sum() == 36 and othf_federal == 1  # only the Department of Energy
    assert "Department of Energy" in selected
    # every federal agency code of the file stays federal, with all its units
    for code in ("BLM", "USFS", "FWS", "BOR", "NPS"):
        mine = loaded["agency"] == code
        assert mine.sum() == (raw["agency"] == code).sum() and (loaded.loc[mine, "manager_type"] == "FED").all()
