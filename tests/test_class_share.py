"""Class shares of a categorical raster (``stat = "class_share"``): exact partial-cell coverage,
checked against a direct geometric computation (each cell's polygon intersected with the footprint
by shapely), never a mean of class codes; no-data cells count as no data with the minimum-coverage
rule of every criterion."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from sitescreen.errors import LayerConfigError, LayerDataError, ProfileError
from sitescreen.measure.coverage import MIN_COVERAGE
from sitescreen.measure.criteria import Inputs, measure
from sitescreen.measure.zonal import zonal_stats
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.profile import profile_from_dict

CRS = "EPSG:32612"
X0, Y0, CELL = 500_000.0, 4_100_000.0, 30.0
NODATA = 255
#: exactextract computes coverage fractions in single precision
TOL = 1e-7


def class_grid(seed: int = 7, shape=(24, 24), classes=(11, 41, 90, 95)) -> np.ndarray:
    """Class codes with a block of no-data cells in one corner."""
    rng = np.random.default_rng(seed)
    grid = rng.choice(np.array(classes, dtype=np.uint8), size=shape)
    grid[:5, -6:] = NODATA
    return grid


def write_classes(path: Path, grid: np.ndarray, palette: bool = False) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
                       dtype="uint8", crs=CRS, transform=Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), nodata=NODATA) as dst:
        dst.write(grid, 1)
        if palette:
            dst.write_colormap(1, {int(v): (int(v), 128, 255 - int(v), 255) for v in range(256)})
    return path


def cell_boxes(grid: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(grid.shape)
    return shapely.box(X0 + cols * CELL, Y0 - (rows + 1) * CELL, X0 + (cols + 1) * CELL, Y0 - rows * CELL)


def direct_share(grid: np.ndarray, footprint, classes) -> tuple[float, float]:
    """(share of the footprint on cells of ``classes``, share on valid cells), by intersecting every
    cell's square with the footprint (cells off the grid are no data)."""
    inter = shapely.area(shapely.intersection(cell_boxes(grid), footprint))
    area = shapely.area(footprint)
    in_classes = np.isin(grid, classes)
    return float(inter[in_classes].sum() / area), float(inter[grid != NODATA].sum() / area)


FOOTPRINTS = [
    shapely.Point(X0 + 200, Y0 - 300).buffer(140),                       # a circle over many cells
    shapely.box(X0 + 13, Y0 - 97, X0 + 211, Y0 - 15),                     # a box cutting cells
    shapely.Polygon([(X0 + 50, Y0 - 700), (X0 + 600, Y0 - 650), (X0 + 300, Y0 - 420)]),  # a triangle
    shapely.Point(X0 + 24 * CELL - 190, Y0 - 150).buffer(80),             # partly on no-data cells
    shapely.Point(X0 + 24 * CELL - 60, Y0 - 60).buffer(40),               # only on no-data cells
    shapely.box(X0 + 31, Y0 - 59, X0 + 58, Y0 - 32),                      # inside one cell
]


@pytest.fixture
def grid_path(tmp_path) -> tuple[np.ndarray, Path]:
    grid = class_grid()
    return grid, write_classes(tmp_path / "classes.tif", grid)


@pytest.mark.parametrize("classes", [[90, 95], [41], [11, 41, 90, 95]])
def test_class_share_equals_a_direct_geometric_computation(grid_path, classes):
    grid, path = grid_path
    got = zonal_stats(gpd.GeoSeries(FOOTPRINTS, crs=CRS), path, ["class_share"], classes=classes, covered=True)
    for i, fp in enumerate(FOOTPRINTS):
        share, covered = direct_share(grid, fp, classes)
        if covered == 0:  # no valid cell under it: no data, never 0
            assert np.isnan(got["class_share"].iloc[i]) and got["covered_fraction"].iloc[i] == 0
            continue
        assert 0 < covered < 1 or i != 3
        assert got["class_share"].iloc[i] == pytest.approx(share, abs=TOL)
        assert got["covered_fraction"].iloc[i] == pytest.approx(covered, abs=TOL)


def test_class_share_is_not_a_mean_of_codes(grid_path):
    """Half a footprint on class 11 and half on class 95: 50 % wetland, whatever the codes' mean is."""
    grid, path = grid_path
    grid = grid.copy()
    grid[10, 10], grid[10, 11] = 11, 95
    write_classes(path, grid)
    fp = shapely.box(X0 + 10 * CELL + 10, Y0 - 11 * CELL + 5, X0 + 12 * CELL - 10, Y0 - 10 * CELL - 5)
    got = zonal_stats(gpd.GeoSeries([fp], crs=CRS), path, ["class_share"], classes=[90, 95])
    assert got["class_share"].iloc[0] == pytest.approx(0.5, abs=TOL)


def test_a_categorical_raster_refuses_statistics_of_its_codes(tmp_path):
    path = write_classes(tmp_path / "nlcd.tif", class_grid(), palette=True)
    fp = gpd.GeoSeries([FOOTPRINTS[0]], crs=CRS)
    with pytest.raises(LayerDataError) as err:
        zonal_stats(fp, path, ["mean"])
    assert str(err.value) == (f"raster {path}: band 1 is categorical (it has a colour table: its values are class "
                              f"codes), so mean of it would mean nothing; measure it with stat = \"class_share\" "
                              f"and classes = [CODE, ...]")
    with pytest.raises(LayerDataError, match="so frac_above, derive = 'slope' of it"):
        zonal_stats(fp, path, ["frac_above"], threshold=50, derive="slope")
    share, _ = direct_share(class_grid(), FOOTPRINTS[0], [90])
    assert zonal_stats(fp, path, ["class_share"], classes=[90])["class_share"].iloc[0] == pytest.approx(share, abs=TOL)


def _profile(**extra):
    rule = {"kind": "raster", "role": "landcover", "stat": "class_share", "weight": 1.0,
            "transform": {"kind": "linear", "points": [[0.0, 1.0], [0.5, 0.0]]},
            "safeguard": "wetlands (test)", "source": "NLCD (test)", **extra}
    return profile_from_dict({"name": "t", "criteria": {"wetland_cover": rule}}, "p.toml")


@pytest.mark.parametrize("bad", [[], [90.5], [True], ["90"], [90, 90], 90, "90,95"])
def test_class_codes_are_checked_where_the_profile_is_read(bad):
    with pytest.raises(ProfileError) as err:
        _profile(classes=bad)
    assert str(err.value) == ("p.toml: criteria.wetland_cover.classes: expected a list of distinct whole-number "
                              f"class codes (e.g. [90, 95]), got {bad!r}")


def test_class_share_needs_its_classes():
    with pytest.raises(ProfileError) as err:
        _profile()
    assert str(err.value).startswith("p.toml: criteria.wetland_cover: raster needs classes = [CODE, ...]")
    assert _profile(classes=[90, 95]).criteria[0].unit == "fraction"


def test_a_footprint_mostly_on_no_data_cells_has_no_data(grid_path):
    """The minimum-coverage rule of every criterion: below MIN_COVERAGE of the footprint on valid
    cells, no value (with the reason); at or above it, the share of the whole footprint."""
    grid, path = grid_path
    edge_x = X0 + grid.shape[1] * CELL
    mostly_off = shapely.box(edge_x - 60, Y0 - 400, edge_x + 140, Y0 - 300)   # 30 % on the raster
    mostly_on = shapely.box(edge_x - 140, Y0 - 400, edge_x + 60, Y0 - 300)    # 70 % on the raster
    sites = gpd.GeoDataFrame({"site_id": ["off", "on"]}, geometry=[mostly_off, mostly_on], crs=CRS)
    inputs = Inputs(vectors=[], rasters=[LayerSpec(role="landcover", path=path)])
    m = measure(_profile(classes=[90, 95]), sites, inputs)["wetland_cover"]
    share_off, covered_off = direct_share(grid, mostly_off, [90, 95])
    share_on, covered_on = direct_share(grid, mostly_on, [90, 95])
    assert covered_off < MIN_COVERAGE <= covered_on
    assert np.isnan(m.values[0]) and m.values[1] == pytest.approx(share_on, abs=TOL)
    assert m.nodata_reason[0] == ("outside the coverage of raster classes (only 30 % of the footprint on valid "
                                  f"cells; at least {MIN_COVERAGE:.0%} needed)")
    assert m.nodata_reason[1] == ""


def test_cells_of_unknown_codes_are_no_data_when_the_known_codes_are_given(tmp_path):
    """Code 0 (e.g. NLCD's "unclassified") is not one of the ``known`` codes: such cells count as no
    data (outside the covered share, and under the minimum-coverage rule), not as another class."""
    grid = class_grid()
    grid[8:20, 6:14] = 0
    path = write_classes(tmp_path / "classes.tif", grid)
    known = [11, 41, 90, 95]
    as_nodata = np.where(grid == 0, NODATA, grid)
    fps = gpd.GeoSeries(FOOTPRINTS[:3] + [shapely.box(X0 + 6 * CELL + 20, Y0 - 18 * CELL, X0 + 13 * CELL, Y0 - 9 * CELL)],
                        crs=CRS)
    got = zonal_stats(fps, path, ["class_share"], classes=[90, 95], known=known, covered=True)
    plain = zonal_stats(fps, path, ["class_share"], classes=[90, 95], covered=True)
    for i, fp in enumerate(fps):
        share, covered = direct_share(as_nodata, fp, [90, 95])
        assert got["covered_fraction"].iloc[i] == pytest.approx(covered, abs=TOL)
        if covered == 0:
            assert np.isnan(got["class_share"].iloc[i])
            continue
        assert got["class_share"].iloc[i] == pytest.approx(share, abs=TOL)
    assert (got["covered_fraction"] < plain["covered_fraction"] - 0.05).sum() >= 2  # the unknown cells mattered
    assert got["covered_fraction"].iloc[3] == 0  # all unknown: no data, never a share of 0
    with pytest.raises(Exception, match="known class codes apply to stat 'class_share' alone"):
        zonal_stats(fps, path, ["class_share", "mean"], classes=[90], known=known)


def test_the_default_profile_counts_nlcd_wetland_classes_among_the_nlcd_legend():
    from sitescreen.rules.profile import load_profile
    c = next(c for c in load_profile("federal-safeguards").criteria if c.name == "wetland_cover")
    assert c.params["stat"] == "class_share" and c.params["classes"] == [90, 95]
    assert set(c.params["classes"]) < set(c.params["known"]) and 0 not in c.params["known"]
    assert c.optional and c.weight == 0 and c.unit == "fraction"


def _idaho_landcover(root: Path) -> Path:
    """A synthetic NLCD-like raster (colour table, UTM 11N, 30 m) under the sites of the world below."""
    from affine import Affine as _Affine
    b = gpd.GeoSeries([shapely.box(-114.6, 44.4, -114.3, 44.6)], crs="EPSG:4326").to_crs("EPSG:26911").total_bounds
    w, h = int((b[2] - b[0]) // 30), int((b[3] - b[1]) // 30)
    grid = np.random.default_rng(1).choice(np.array([41, 42, 90, 95], dtype=np.uint8), size=(h, w))
    path = root / "landcover.tif"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", crs="EPSG:26911",
                       transform=_Affine(30.0, 0.0, b[0], 0.0, -30.0, b[3]), nodata=NODATA) as dst:
        dst.write(grid, 1)
        dst.write_colormap(1, {int(v): (int(v), 96, 160, 255) for v in range(256)})
    return path


def test_the_class_share_reaches_the_report_and_the_map_in_the_words_of_explain(tmp_path):
    from coverworld import recipe, write_world
    from edgecases import run_cli
    from sitescreen.rules.wording import measure_text
    _idaho_landcover(tmp_path)
    config = write_world(tmp_path, [(-114.5, 44.5), (-114.45, 44.52)], "Idaho", 500,
                         recipe("nlcd").replace("nlcd2011_zion.tif", "landcover.tif"))
    out = tmp_path / "out"
    result = run_cli(["-q", "screen", "--config", str(config), "--out", str(out), "--offline"])
    assert result.exit_code == 0, result.output
    value = gpd.read_file(out / "sites.gpkg", layer="sites")["m_wetland_cover"].iloc[0]
    text = measure_text(value, "fraction")
    assert 0 < value < 1 and text.endswith(" %")
    explained = run_cli(["explain", str(out), "5000", "--json"])
    import json
    crit = next(c for c in json.loads(explained.stdout)["criteria"] if c["name"] == "wetland_cover")
    assert crit["measurement_text"] == text and crit["unit"] == "fraction"
    assert text in (out / "report.html").read_text(encoding="utf-8")
    assert text in (out / "map.html").read_text(encoding="utf-8")


def test_a_mean_of_a_categorical_raster_stops_the_run_naming_the_file(tmp_path):
    from coverworld import write_world
    from edgecases import assert_error, assert_nothing_left, run_cli
    path = _idaho_landcover(tmp_path)
    (tmp_path / "p.toml").write_text('''name = "codes"
[criteria.mean_code]
kind = "raster"
role = "landcover"
stat = "mean"
weight = 1
transform = { kind = "linear", points = [[0, 0.0], [100, 1.0]] }
safeguard = "s (test)"
source = "src (test)"
''', encoding="utf-8")
    config = write_world(tmp_path, [(-114.5, 44.5)], "Idaho", 500, '[[layers]]\nrole = "landcover"\npath = "landcover.tif"\n',
                         profile="p.toml", base=False)
    out = tmp_path / "out"
    result = run_cli(["screen", "--config", str(config), "--out", str(out), "--no-map", "--no-report"])
    assert_error(result, [f"Error: raster {path}: band 1 is categorical", 'stat = "class_share"'], 1)
    assert_nothing_left(out)


def test_class_codes_that_cannot_be_meant_are_refused(grid_path):
    _, path = grid_path
    fp = gpd.GeoSeries([FOOTPRINTS[0]], crs=CRS)
    with pytest.raises(LayerConfigError) as err:
        zonal_stats(fp, path, ["mean"], classes=[90, 95])
    assert str(err.value) == "class codes (classes, known) are for stat 'class_share', not mean"
    with pytest.raises(LayerConfigError) as err:
        zonal_stats(fp, path, ["class_share"], classes=[90, 95], known=[11, 41, 90])
    assert str(err.value) == "classes [95] are not among the known class codes [11, 41, 90]: they would never be counted"


def test_class_codes_that_cannot_be_meant_are_refused_where_the_profile_is_read():
    with pytest.raises(ProfileError) as err:
        _profile(stat="mean", classes=[90, 95])
    assert str(err.value) == ('p.toml: criteria.wetland_cover: classes are for stat = "class_share" (class shares '
                              "of a categorical raster), not stat = 'mean'")
    with pytest.raises(ProfileError) as err:
        _profile(classes=[90, 95], known=[11, 90])
    assert str(err.value) == ("p.toml: criteria.wetland_cover: classes [95] are not among the known codes [11, 90]: "
                              "they would never be counted")
