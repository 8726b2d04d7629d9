"""The criterion kinds measured on rasters: a statistic over each footprint, read by
:mod:`sitescreen.measure.zonal` (no data below :data:`~sitescreen.measure.coverage.MIN_COVERAGE`).
Measured here or in the raster side process (:mod:`sitescreen.measure.engine`): the same values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import geopandas as gpd
import numpy as np

from sitescreen.measure.coverage import MIN_COVERAGE
from sitescreen.rules.kinds import check_measures
from sitescreen.rules.measurement import Measurement
from sitescreen.rules.profile import Criterion

if TYPE_CHECKING:
    from sitescreen.measure.criteria import Inputs


def measure_raster(c: Criterion, sites: gpd.GeoDataFrame, inputs: Inputs) -> Measurement:
    """A criterion of a kind measured on rasters, by its kind's measure function."""
    return RASTER_KINDS[c.kind](c, sites, inputs)


def _raster_stat(c: Criterion, sites: gpd.GeoDataFrame, inputs: Inputs) -> Measurement:
    """The ``raster`` kind: a statistic over each footprint (no data below :data:`MIN_COVERAGE`)."""
    from sitescreen.measure import zonal
    specs = [r for r in inputs.rasters if r.role in c.roles]
    spec = specs[0]
    stat = c.params["stat"]
    df = zonal.zonal_stats(sites.geometry, spec.path, [stat], band=spec.band, crs_override=spec.crs,
                           derive=c.params.get("derive"), threshold=c.params.get("threshold"), covered=True,
                           classes=c.params.get("classes"), known=c.params.get("known"))
    vals = np.array(df[stat].to_numpy(dtype=float))  # a copy: no-data is written into it
    frac = df["covered_fraction"].to_numpy(dtype=float)
    short = frac < MIN_COVERAGE  # the same minimum coverage as vector criteria: a value from 41 % is no value
    vals[short] = np.nan
    pct = np.char.mod("%.0f", np.round(100 * frac, 0)).astype(object)
    reason = np.where(short, f"outside the coverage of raster {spec.label} (only " + pct +
                      f" % of the footprint on valid cells; at least {MIN_COVERAGE:.0%} needed)", "").astype(object)
    reason[np.isnan(vals) & ~short] = f"outside the coverage of raster {spec.label} (no valid cells under the footprint)"
    return Measurement(vals, nodata_reason=reason, layers=[spec.label])


#: The measure function of every kind measured on rasters (:data:`sitescreen.rules.kinds.KINDS`).
RASTER_KINDS: dict[str, Callable[[Criterion, gpd.GeoDataFrame, Inputs], Measurement]] = {"raster": _raster_stat}
check_measures(RASTER_KINDS, vector=False)
