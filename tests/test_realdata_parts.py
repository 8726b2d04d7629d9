"""What a number is made of, on the real Idaho PAD-US management units (issue 11, item 10).

In ../shared/data/federal_lands/padus_ID.geojson the agency code OTHF ("other") holds the Idaho
Department of Lands and a dozen other state bodies besides the Department of Energy: no state body
may count as federal land. The state bodies are recognised here from the file's names, written out
in the test, not by sitescreen's definition.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
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


@pytest.fixture(scope="module")
def idaho(shared_data):
    from test_realdata_idaho import idaho_config

    from sitescreen.run.config import config_from_dict
    from sitescreen.run.pipeline import screen
    return screen(config_from_dict(idaho_config(shared_data), shared_data, "test_realdata_parts")).sites


def _shares(text: str) -> list[tuple[str, float]]:
    """(label, share 0–1) of each part of a parts text (``A (agency X) 12.3 % + B 4 %``)."""
    out = []
    for part in text.split(" + "):
        label, _, pct = part.rpartition(" ")[0].rpartition(" ")
        out.append((label, float(pct.replace(",", "")) / 100))
    return out


def test_idaho_federal_shares_name_their_federal_parts(idaho, units):
    raw, _ = units
    col = idaho["parts_federal_land"]
    has = col.notna().to_numpy()
    frac = idaho["m_federal_land"].to_numpy(dtype=float)
    assert has.sum() > 100 and (has == (frac > 0)).all()  # every site on federal land names its parts
    agencies = {f"{n} (agency {a})" for n, a in zip(raw["name"], raw["agency"])}
    for text, f in zip(col[has], frac[has]):
        parts = _shares(text)
        named = [label for label, _ in parts if not re.fullmatch(r"\d+ more", label)]
        assert all(label in agencies and not label.startswith(("Idaho ", "State of ")) for label in named)
        assert sum(s for _, s in parts) == pytest.approx(f, abs=0.0051 * len(parts))  # shown with 3 digits
    # the federal share is the share of the federal agencies' units and the Department of Energy,
    # computed here with shapely; the state bodies coded OTHF are not in it
    fed = raw["agency"].isin(["BLM", "USFS", "FWS", "BOR", "NPS"]) | (raw["name"] == "Department of Energy")
    state = raw["agency"].eq("OTHF") & raw["name"].str.startswith(("Idaho ", "State of "))
    fp = idaho.geometry.to_numpy()
    share = {}
    for key, sel in (("fed", fed), ("state", state)):
        land = shapely.union_all(shapely.make_valid(raw.loc[sel].to_crs(idaho.crs).geometry.to_numpy()))
        share[key] = shapely.area(shapely.intersection(fp, land)) / shapely.area(fp)
    ok = ~np.isnan(frac)
    assert frac[ok] == pytest.approx(share["fed"][ok], abs=1e-6)
    assert ((share["state"] > 0.5) & (frac < 0.5)).sum() >= 2  # e.g. Craig Black Sands: federal 99.5 % before
