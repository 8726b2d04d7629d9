"""CRS discipline: every layer is reprojected into the run CRS, the manifest records each layer's
source CRS, and coordinates are checked against the declared CRS (its valid range and area of use)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from pyproj import CRS

import tinyworld as tw
from sitescreen.cli import main
from sitescreen.errors import CRSError
from sitescreen.inputs.check import check_coordinates
from sitescreen.record.manifest import to_data


def test_manifest_records_every_layers_source_crs(demo_result):
    m = to_data(demo_result.manifest)
    assert m["crs"] == "EPSG:5070"
    assert m["sites"]["source_crs"] == "EPSG:4326"
    assert {e["name"]: e["source_crs"] for e in m["inputs"]} == {
        "PAD-US land (synthetic)": "EPSG:5070", "Watersheds HUC-10 (synthetic)": "EPSG:4269",
        "National park (synthetic)": "EPSG:4326", "Wilderness (synthetic)": "EPSG:5070", "DEM (synthetic)": "EPSG:26911"}
    assert all(e["crs_override"] is None for e in m["inputs"])


def test_every_layer_is_in_the_run_crs(demo_result):
    prep = demo_result.prepared
    assert prep.sites.crs == prep.crs
    assert all(lyr.gdf.crs == prep.crs for lyr in prep.inputs.vectors)
    assert demo_result.sites.crs == prep.crs


def test_a_crs_override_is_recorded_beside_the_source_crs(tmp_path):
    w = tw.build(tmp_path / "w")
    shp = tw.write_vector(tw.wilderness_frame(crs="EPSG:32611"), w.root / "wild" / "wild.shp")
    shp.with_suffix(".prj").unlink()
    w.layers[0] = f"protected={shp}@EPSG:32611"
    r = CliRunner().invoke(main, w.args())
    assert r.exit_code == 0, r.output
    import json
    entry = json.loads((w.out / "manifest.json").read_text())["inputs"][0]
    assert (entry["source_crs"], entry["crs_override"]) == ("EPSG:32611", "EPSG:32611")


IDAHO_5070 = (-1.6e6, 2.4e6, -1.4e6, 2.6e6)
IDAHO_UTM11 = (5.0e5, 4.9e6, 6.0e5, 5.0e6)


@pytest.mark.parametrize("bounds, epsg", [
    ((-117.2, 41.9, -111.0, 49.0), 4326),
    ((-117.2, 41.9, -111.0, 49.0), 4269),
    (IDAHO_5070, 5070),
    (IDAHO_UTM11, 32611),
    (IDAHO_UTM11, 26911),
    ((-6.06e6, 2.97e5, 2.24e6, 6.15e6), 5070),  # the National Atlas wilderness: CONUS, Alaska and Hawaii
    ((0.0, 0.0, 359.0, 10.0), 4326),            # 0–360 longitudes are accepted
], ids=["lonlat", "nad83", "albers", "utm11", "utm11-nad83", "albers-with-alaska", "0-360"])
def test_coordinates_that_fit_their_crs_pass(bounds, epsg):
    check_coordinates(np.array(bounds), CRS.from_epsg(epsg), "f", 10)


@pytest.mark.parametrize("bounds, epsg, expect", [
    (IDAHO_UTM11, 4326, "outside the valid range of EPSG:4326"),
    ((44.0, -117.0, 49.0, -111.0), 4326, "longitude and latitude look swapped"),
    ((-117.2, 41.9, -111.0, 49.0), 5070, "look like longitude/latitude degrees, but EPSG:5070 is projected"),
    ((-115.0, 44.0, -115.0, 44.0), 32611, "look like longitude/latitude degrees"),
    (IDAHO_5070, 32611, "far outside the area of use of EPSG:32611"),
    (IDAHO_UTM11, 5070, "far outside the area of use of EPSG:5070"),
    (IDAHO_UTM11, 3035, "far outside the area of use of EPSG:3035"),
], ids=["metres-as-degrees", "swapped", "degrees-as-albers", "one-point-degrees-as-utm", "albers-as-utm",
        "utm-as-albers", "utm-as-europe"])
def test_coordinates_that_cannot_be_in_their_crs_are_refused(bounds, epsg, expect):
    with pytest.raises(CRSError, match=expect) as err:
        check_coordinates(np.array(bounds), CRS.from_epsg(epsg), "layer.gpkg", 10)
    assert str(err.value).startswith("layer.gpkg: ")
    assert "override" in str(err.value) or "swapped" in str(err.value)


def test_empty_or_non_finite_bounds_are_not_checked():
    check_coordinates(np.array([np.nan] * 4), CRS.from_epsg(4326), "f", 3)
    check_coordinates(np.array([1e9, 1e9, 1e9, 1e9]), CRS.from_epsg(4326), "f", 0)


def test_a_layer_whose_crs_tag_is_wrong_is_refused_even_far_from_the_sites(tmp_path):
    """The read is limited to the sites' reach; the check covers the whole file, so a mistagged
    layer is refused instead of silently contributing no features."""
    w = tw.build(tmp_path / "w")
    gdf = tw.padus_frame(crs="EPSG:32611").set_crs("EPSG:5070", allow_override=True)  # UTM metres tagged Albers
    tw.write_vector(gdf, w.federal, layer="padus")
    r = CliRunner().invoke(main, w.args())
    assert r.exit_code == 1
    assert f"Error: {w.federal} (layer 'padus'): coordinates" in r.stderr
    assert "far outside the area of use of EPSG:5070" in r.stderr
