"""Properties of the class-share statistic of a categorical raster (hypothesis): over generated
class grids (with no-data cells) and footprints, the shares of all classes add up to the share of
the footprint on valid cells, each share lies in [0, covered share], and a footprint inside one
cell of class c has share 1 for c and 0 for every other class."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sitescreen.measure.zonal import zonal_stats
from test_class_share import CELL, CRS, NODATA, TOL, X0, Y0, write_classes

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLASSES = (11, 41, 90, 95)
SHAPE = (16, 16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("classes")


def _raster(folder: Path, seed: int) -> tuple[np.ndarray, Path]:
    """A class grid with about 15 % no-data cells, written once per seed."""
    path = folder / f"classes-{seed}.tif"
    rng = np.random.default_rng(seed)
    grid = rng.choice(np.array(CLASSES, dtype=np.uint8), size=SHAPE)
    grid[rng.random(SHAPE) < 0.15] = NODATA
    if not path.exists():
        write_classes(path, grid)
    return grid, path


footprints = st.one_of(
    st.builds(lambda x, y, r: shapely.Point(X0 + x, Y0 - y).buffer(r),
              st.floats(0, SHAPE[1] * CELL), st.floats(0, SHAPE[0] * CELL), st.floats(5, 200)),
    st.builds(lambda x, y, w, h: shapely.box(X0 + x, Y0 - y - h, X0 + x + w, Y0 - y),
              st.floats(-50, SHAPE[1] * CELL), st.floats(-50, SHAPE[0] * CELL), st.floats(1, 300), st.floats(1, 300)),
)


@PROPS
@given(seed=st.integers(0, 5), fp=footprints)
def test_the_shares_of_all_classes_add_up_to_the_covered_share(folder, seed, fp):
    _, path = _raster(folder, seed)
    zones = gpd.GeoSeries([fp], crs=CRS)
    shares = [zonal_stats(zones, path, ["class_share"], classes=[c], covered=True) for c in CLASSES]
    covered = shares[0]["covered_fraction"].iloc[0]
    values = np.array([s["class_share"].iloc[0] for s in shares])
    if covered == 0:  # no valid cell under the footprint: no data for every class, never 0
        assert np.isnan(values).all()
        return
    assert abs(values.sum() - covered) <= TOL
    assert ((values >= 0) & (values <= covered + TOL)).all()
    both = zonal_stats(zones, path, ["class_share"], classes=[90, 95])["class_share"].iloc[0]
    assert abs(both - (values[2] + values[3])) <= TOL


@PROPS
@given(seed=st.integers(0, 5), row=st.integers(0, SHAPE[0] - 1), col=st.integers(0, SHAPE[1] - 1),
       fx=st.floats(0.05, 0.6), fy=st.floats(0.05, 0.6), fw=st.floats(0.01, 0.35), fh=st.floats(0.01, 0.35))
def test_a_footprint_inside_one_cell_has_share_one_for_its_class(folder, seed, row, col, fx, fy, fw, fh):
    grid, path = _raster(folder, seed)
    x, y = X0 + (col + fx) * CELL, Y0 - (row + fy) * CELL
    fp = shapely.box(x, y - fh * CELL, x + fw * CELL, y)
    zones = gpd.GeoSeries([fp], crs=CRS)
    code = int(grid[row, col])
    if code == NODATA:
        got = zonal_stats(zones, path, ["class_share"], classes=list(CLASSES))["class_share"].iloc[0]
        assert np.isnan(got)
        return
    own = zonal_stats(zones, path, ["class_share"], classes=[code])["class_share"].iloc[0]
    others = zonal_stats(zones, path, ["class_share"], classes=[c for c in CLASSES if c != code])["class_share"].iloc[0]
    assert abs(own - 1.0) <= TOL and others == 0.0
