"""Covered fraction of each footprint by each layer's coverage (:class:`CoverageCache`), and the
minimum coverage below which a site gets no value (*no data*).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np

from sitescreen.inputs.load import LoadedLayer
from sitescreen.measure import geomops, overlap

if TYPE_CHECKING:
    from sitescreen.measure.criteria import Inputs

MIN_COVERAGE = 0.5  # a site is measured where at least half its footprint lies in the layer's coverage


class CoverageCache:
    """Covered fraction of each footprint by each layer's coverage, computed once per layer.

    A layer covers what :func:`sitescreen.inputs.coverage.layer_coverage` says, never its bounding box: a
    declared polygon; its own polygons ("features"); the states a state extract names — a site
    whose record names one of them, and elsewhere its own polygons ("states"); everywhere
    ("global"); or nowhere known ("unknown"). ``states`` are the sites' USPS codes ("" unknown).
    """

    def __init__(self, footprints: np.ndarray, inputs: Inputs | None = None, states: np.ndarray | None = None):
        self.footprints = footprints
        self.inputs = inputs
        self.states = np.full(len(footprints), "", dtype=object) if states is None else np.asarray(states, dtype=object)
        self._cache: dict[int, np.ndarray] = {}

    def fraction(self, layer: LoadedLayer) -> np.ndarray:
        key = id(layer)
        if key not in self._cache:
            kind = layer.coverage_kind
            if layer.coverage is not None:  # a declared coverage polygon
                self._cache[key] = self._inside_fraction(layer.coverage)
            elif kind in ("features", "states"):
                frac = np.zeros(len(self.footprints))
                if kind == "states":  # recorded in a state the extract covers
                    frac[np.isin(self.states, list(layer.states))] = 1.0
                rest = np.flatnonzero(frac < 1.0)
                if rest.size:  # a tiling layer (WBD), or the extract's own polygons: covered where they are
                    frac[rest] = overlap.overlap_fraction(self.footprints[rest], self._features(layer))
                self._cache[key] = frac
            elif kind == "unknown":
                self._cache[key] = np.zeros(len(self.footprints))
            else:
                self._cache[key] = np.ones(len(self.footprints))
        return self._cache[key]

    def _features(self, layer: LoadedLayer):
        geoms = layer.gdf.geometry.to_numpy()
        if self.inputs is not None:
            return self.inputs.prepared(("coverage", id(layer)), lambda: geomops.FeatureLayer(geoms))
        return geoms

    def _inside_fraction(self, area) -> np.ndarray:
        """Covered fraction by one coverage polygon (a layer's extent): footprints lying wholly
        inside it are covered (1.0) without measuring them against its many edges."""
        frac = np.ones(len(self.footprints))
        if not len(self.footprints):
            return frac
        import shapely
        # a private copy, prepared here: the layer's extent is shared by the Dask engine's threads,
        # and GEOS builds a prepared geometry's indexes lazily, on first use, so two threads using
        # (or preparing) one shared geometry at once corrupt the heap
        area = shapely.from_wkb(shapely.to_wkb(area))
        shapely.prepare(area)
        inside = shapely.contains_properly(area, self.footprints)
        rest = np.flatnonzero(~inside)
        if rest.size:
            frac[rest] = overlap.overlap_fraction(self.footprints[rest], np.array([area], dtype=object))
        return frac

    def seed(self, layer: LoadedLayer, fraction: np.ndarray) -> None:
        """Record a layer's covered fraction measured on the way (area_weighted returns it)."""
        self._cache.setdefault(id(layer), fraction)

    def nodata(self, layers: list[LoadedLayer]) -> tuple[np.ndarray, np.ndarray]:
        """(mask of sites outside some layer's coverage, reason text per site)."""
        n = len(self.footprints)
        mask = np.zeros(n, dtype=bool)
        reason = np.full(n, "", dtype=object)
        for lyr in layers:
            out = self.fraction(lyr) < MIN_COVERAGE
            reason[out & ~mask] = f"outside the coverage of layer {lyr.spec.label} ({lyr.coverage_text()})"
            mask |= out
        return mask, reason


def site_states(sites: gpd.GeoDataFrame) -> np.ndarray | None:
    """The USPS code of the state each site's record names ("" none), or None without a state column."""
    if "state" not in sites:
        return None
    from sitescreen.inputs.usstates import state_codes
    return state_codes(sites["state"].to_numpy(dtype=object))
