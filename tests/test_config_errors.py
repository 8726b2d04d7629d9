"""A wrong run setting is a ConfigError; a wrong layer definition stays a LayerConfigError (issue 10, item 7).

Run settings are the flags and the run config's ``[run]`` / ``[sites]`` keys: the sites, the area of
interest, the grid, the footprint radius, the commodity, duplicate merging, the chunk size. Each is
tried where it is checked (library function or run config), and the class is asserted exactly, so
a run setting reported as a layer problem (or the reverse) fails.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

import tinyworld as tw
from sitescreen.errors import ConfigError, LayerConfigError, SitescreenError
from sitescreen.inputs.spec import layer_from_config
from sitescreen.run.config import config_from_dict, site_options
from sitescreen.run.stream import screen_streamed
from sitescreen.sites.aoi import parse_aoi
from sitescreen.sites.footprints import make_footprints
from sitescreen.sites.grid import grid_sites
from sitescreen.sites.options import SiteOptions, SiteStats

ALBERS = "EPSG:5070"


def _points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"_kind": ["point"]}, geometry=[shapely.Point(-1_500_000, 2_500_000)], crs=ALBERS)


def _aoi() -> gpd.GeoSeries:
    return gpd.GeoSeries([shapely.box(-115.0, 44.0, -114.9, 44.1)], crs="EPSG:4326")


RUN_SETTINGS = {
    "commodity name": (lambda tmp: SiteOptions(commodity="coal").commodity_terms(), "commodity 'coal'"),
    "commodity type": (lambda tmp: site_options(commodity=3, where="[sites]"), "commodity must be a name"),
    "radius on the footprints": (
        lambda tmp: make_footprints(_points(), ALBERS, SiteOptions(radius_m=0), SiteStats()), "radius_m must be > 0"),
    "radius range": (lambda tmp: site_options(radius_m=-5, where="[sites]"), "radius_m must be > 0"),
    "merge distance range": (lambda tmp: site_options(merge_distance_m=float("nan"), where="[sites]"), "merge_distance_m"),
    "grid cell size": (lambda tmp: grid_sites(_aoi(), ALBERS, 0), "grid cell size must be > 0"),
    "grid without an area": (lambda tmp: site_options(grid_cell_m=1000, where="[sites]"), "needs an area of interest"),
    "area of interest": (lambda tmp: parse_aoi("1,2,3"), "--aoi"),
    "area of interest latitudes": (lambda tmp: parse_aoi("-115,45,-114,44"), "south 45 must be below north 44"),
    "unknown [sites] key": (
        lambda tmp: config_from_dict({"sites": {"path": "s.csv", "radius": 5}}, tmp, "run.toml"), "unknown key(s) radius"),
    "[run] value type": (
        lambda tmp: config_from_dict({"sites": {"path": "s.csv"}, "run": {"crs": 5070}}, tmp, "run.toml"),
        "[run].crs must be a string"),
}


@pytest.mark.parametrize("name", sorted(RUN_SETTINGS))
def test_a_wrong_run_setting_is_a_config_error(name, tmp_path):
    make, words = RUN_SETTINGS[name]
    with pytest.raises(SitescreenError) as err:
        make(tmp_path)
    assert type(err.value) is ConfigError, f"{name}: {type(err.value).__name__}: {err.value}"
    assert words in str(err.value)


def test_a_wrong_chunk_size_is_a_config_error(tmp_path):
    w = tw.build(tmp_path / "w")
    config = config_from_dict({"sites": {"path": str(w.sites)}}, w.root, "run.toml")
    with pytest.raises(SitescreenError) as err:
        screen_streamed(config, w.out, chunk_size=0)
    assert type(err.value) is ConfigError
    assert str(err.value) == "chunk size must be a whole number of sites ≥ 1, got 0"
    assert not w.out.exists()


@pytest.mark.parametrize("table, words", [
    ({"role": "dem", "path": "dem.tif", "band": 0}, "band must be"),
    ({"role": "protected", "path": "w.shp", "colour": "red"}, "unknown key(s) colour"),
])
def test_a_wrong_layer_definition_stays_a_layer_config_error(table, words, tmp_path):
    with pytest.raises(SitescreenError) as err:
        layer_from_config(table, tmp_path, "run.toml: layers[0]")
    assert type(err.value) is LayerConfigError
    assert words in str(err.value)
