"""NWI wetlands in their published schemas: the geodatabase spelling (``WETLAND_TYPE``, in a
many-layer state file whose wetlands layer is chosen by the definition) and the shapefile's
truncated ``WETLAND_TY``; the coverage a download does not state is declared by the run config,
and without it every site has *no data* (never a silent zero)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from coverworld import screen, write_world
from sitescreen.inputs.schemas import detect_schema

SITES = [(-114.50, 44.50), (-114.40, 44.55)]
RADIUS = 600.0


def wetlands(type_field: str) -> gpd.GeoDataFrame:
    """Two synthetic NWI polygons: one under half of site 0, one far from both sites."""
    geoms = [shapely.box(-114.51, 44.49, -114.50, 44.51), shapely.box(-114.2, 44.3, -114.19, 44.31)]
    return gpd.GeoDataFrame({"ATTRIBUTE": ["PFO1A", "PEM1C"],
                             type_field: ["Freshwater Forested/Shrub Wetland", "Freshwater Emergent Wetland"],
                             "ACRES": [50.0, 20.0]}, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs("EPSG:5070"))


def write_state_file(root, type_field="WETLAND_TYPE"):
    """A state download as a GeoPackage: the wetlands layer beside its project metadata."""
    path = root / "ID_Wetlands.gpkg"
    wetlands(type_field).to_file(path, layer="ID_Wetlands", driver="GPKG")
    meta = gpd.GeoDataFrame({"PROJECT_NAME": ["Idaho (synthetic)"], "STATUS": ["Digital"], "SOURCE_TYPE": ["BW"]},
                            geometry=gpd.GeoSeries([shapely.box(-115, 44, -114, 45)], crs="EPSG:4326"))
    meta.to_file(path, layer="ID_Wetlands_Project_Metadata", driver="GPKG")
    return path


@pytest.mark.parametrize("type_field", ["WETLAND_TYPE", "WETLAND_TY", "wetland_type"])
def test_both_spellings_are_recognised(type_field):
    assert detect_schema(["ATTRIBUTE", type_field, "ACRES", "Shape_Length"], "f").name == "nwi"
    assert detect_schema(["ATTRIBUTE", "ACRES"], "f") is None


def test_the_wetlands_layer_is_chosen_and_measured_within_the_declared_coverage(tmp_path):
    write_state_file(tmp_path)
    # the project metadata polygon is the coverage: written as its own file, as the recipe reads it
    meta = gpd.read_file(tmp_path / "ID_Wetlands.gpkg", layer="ID_Wetlands_Project_Metadata")
    meta.to_file(tmp_path / "coverage.gpkg", driver="GPKG")
    config = write_world(tmp_path, SITES, "Idaho", RADIUS,
                         '[[layers]]\nrole = "wetlands"\npath = "ID_Wetlands.gpkg"\ncoverage = "coverage.gpkg"\n')
    sites = screen(config)
    wet = wetlands("WETLAND_TYPE").to_crs(sites.crs).geometry.to_numpy()
    expect = [shapely.intersection(shapely.union_all(wet), fp).area / fp.area for fp in sites.geometry]
    np.testing.assert_allclose(sites["m_wetland_overlap"], expect, rtol=0, atol=1e-9)
    assert 0.3 < expect[0] < 0.7 and expect[1] == 0
    assert sites["f_wetland_overlap"].iloc[0].startswith("Freshwater Forested/Shrub Wetland")


def test_without_a_declared_coverage_every_site_has_no_data_and_the_verdicts_stand(tmp_path):
    write_state_file(tmp_path, "WETLAND_TY")
    base = write_world(tmp_path / "base", SITES, "Idaho", RADIUS)
    config = write_world(tmp_path, SITES, "Idaho", RADIUS,
                         '[[layers]]\nrole = "wetlands"\npath = "ID_Wetlands.gpkg"\nlayer = "ID_Wetlands"\n')
    sites, without = screen(config), screen(base)
    assert sites["m_wetland_overlap"].isna().all()
    assert (sites["verdict"] == without["verdict"]).all() and np.array_equal(sites["score"], without["score"])
