"""The length of line features inside each footprint (the ``length_within`` kind), vectorized.

Candidate pairs come from one bulk :class:`shapely.STRtree` query per chunk of sites; the pairs'
intersections are cut by vectorized shapely calls and summed per site with ``np.bincount``. Lengths
are planar, in the run CRS's metres (a run CRS that would make lengths wrong is refused before
measuring, :func:`sitescreen.inputs.crs.working_crs`). Only lines have length here: a feature with
an area (a polygon) would add its outline, so callers refuse polygonal layers (:func:`polygonal`).
"""

from __future__ import annotations

import numpy as np
import shapely

from sitescreen.measure.geomops import as_features, as_geom_array, in_threads, layer_of

LENGTH_CHUNK_SITES = 10_000


def polygonal(features: np.ndarray) -> np.ndarray:
    """Which features have an area (polygons, or collections holding one)."""
    arr = np.asarray(features, dtype=object)
    return ~np.equal(arr, None) & (shapely.area(arr) > 0)


def length_within(footprints: np.ndarray, features) -> np.ndarray:
    """Per footprint: the summed length (m) of the features' parts inside it (0 where none is).

    A missing or empty footprint gets NaN. Lines on the footprint's edge count once, as shapely's
    intersection gives them."""
    fps = as_geom_array(footprints, "footprints")
    out = np.zeros(fps.size, dtype=float)
    out[shapely.is_missing(fps) | shapely.is_empty(fps)] = np.nan
    if fps.size == 0:
        return out
    layer = layer_of(as_features(features), False)
    if layer.geoms.size == 0:
        return out

    def chunk(a: int, b: int) -> None:
        site, feat = layer.tree.query(fps[a:b], predicate="intersects")
        if site.size == 0:
            return
        inside = shapely.intersection(layer.geoms[feat], fps[a:b][site])
        total = np.bincount(site, weights=shapely.length(inside), minlength=b - a)
        out[a:b] = np.where(np.isnan(out[a:b]), np.nan, total)

    in_threads(chunk, fps.size, LENGTH_CHUNK_SITES)
    return out
