"""Measure every criterion of a profile over all sites at once, in physical units.

One function per criterion kind (a registry), each vectorized over the sites through the kernels in
:mod:`sitescreen.measure.overlap`, :mod:`sitescreen.measure.nearest` and :mod:`sitescreen.measure.zonal`. A site outside a layer's coverage gets NaN
(*no data*), never a silent zero.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.measure import geomops, lengths, nearest, overlap, parts, watershed
from sitescreen.measure.coverage import MIN_COVERAGE, CoverageCache, site_states
from sitescreen.measure.rasterkinds import RASTER_KINDS, measure_raster
from sitescreen.measure.requirements import check_requirements
from sitescreen.errors import LayerDataError, SitescreenError
from sitescreen.rules.kinds import KINDS, check_measures
from sitescreen.inputs.load import LoadedLayer
from sitescreen.inputs.spec import LayerSpec
from sitescreen.rules.measurement import Measurement, joined
from sitescreen.rules.wording import part_labels, parts_texts
from sitescreen.rules.profile import Criterion, Profile

log = logging.getLogger(__name__)


@dataclass
class Inputs:
    """The loaded inputs of a run, by role; the features each criterion measures against are
    selected and prepared (trees, rings) once per run, not once per chunk (:meth:`prepared`).
    An engine measuring on concurrent threads gives each thread its own (:mod:`sitescreen.measure.engine`)."""

    vectors: list[LoadedLayer]
    rasters: list[LayerSpec]
    _prepared: dict = field(default_factory=dict, repr=False, compare=False)

    def prepared(self, key, build: Callable[[], Any]):
        """The value built under ``key``, once per run."""
        if key not in self._prepared:
            self._prepared[key] = build()
        return self._prepared[key]

    def vector_roles(self) -> set[str]:
        return {lyr.spec.role for lyr in self.vectors}

    def raster_roles(self) -> set[str]:
        return {r.role for r in self.rasters}


def prepared_features(criterion: Criterion, inputs: Inputs) -> tuple[gpd.GeoDataFrame | None, list[LoadedLayer], Any]:
    """:func:`features_for` and the features' :class:`~sitescreen.measure.geomops.FeatureLayer`, built once per run."""
    key = ("features", tuple(criterion.roles), criterion.selection.name if criterion.selection else None)

    def build():
        feats, layers = features_for(criterion, inputs)
        return feats, layers, geomops.FeatureLayer(feats.geometry.to_numpy()) if feats is not None else None
    return inputs.prepared(key, build)


def features_for(criterion: Criterion, inputs: Inputs) -> tuple[gpd.GeoDataFrame | None, list[LoadedLayer]]:
    """The features a vector criterion measures against (selection applied), and their layers."""
    layers = [lyr for lyr in inputs.vectors if lyr.spec.role in criterion.roles]
    if not layers:
        return None, []
    frames = []
    for lyr in layers:
        gdf = lyr.gdf
        if criterion.selection is not None:
            gdf = gdf.loc[criterion.selection.mask(gdf)]
        frames.append(gdf[["name", "layer", "geometry"] + [c for c in gdf.columns if c not in ("name", "layer", "geometry")]])
    feats = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return gpd.GeoDataFrame(feats, geometry="geometry", crs=layers[0].gdf.crs), layers



def _names(feats: gpd.GeoDataFrame, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    names = feats["name"].fillna("").astype(str).to_numpy(dtype=object)
    layers = feats["layer"].astype(str).to_numpy(dtype=object)
    ok = idx >= 0
    out_n = np.full(len(idx), "", dtype=object)
    out_l = np.full(len(idx), "", dtype=object)
    out_n[ok] = names[idx[ok]]
    out_l[ok] = layers[idx[ok]]
    return out_n, out_l


def _overlap(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    """The covered share, its largest feature, and its parts by name and agency (one pass over the pairs)."""
    frac, idx, _, p = parts.overlap_with_parts(fp, _geoms(feats, ctx), _part_labels(c, feats, ctx))
    name, layer = _names(feats, idx)
    return Measurement(frac, name, layer, parts=parts_texts(len(fp), p.site, p.label, p.share, p.more, p.more_share))


def _part_labels(c: Criterion, feats: gpd.GeoDataFrame, ctx: "Context | None") -> np.ndarray:
    """Each feature's part label (:func:`sitescreen.rules.wording.part_labels`), once per run."""
    def build():
        return part_labels(feats["name"], feats["agency"] if "agency" in feats else None)
    if ctx is None:
        return build()
    return ctx.inputs.prepared(("part_labels", tuple(c.roles), c.selection.name if c.selection else None), build)


def _distance(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    d, idx = nearest.nearest(fp, _geoms(feats, ctx), float(c.params["search_radius_m"]))
    name, layer = _names(feats, idx)
    return Measurement(d, name, layer)


def _count_within(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    n = nearest.count_within(fp, _geoms(feats, ctx), float(c.params["distance_m"]))
    return Measurement(n.astype(float))


def _geoms(feats: gpd.GeoDataFrame, ctx: "Context | None"):
    """The features' geometries: prepared once per run when measuring through :func:`measure`."""
    return ctx.geoms if ctx is not None and ctx.geoms is not None else feats.geometry.to_numpy()


def _attribute_values(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context | None" = None) -> tuple[np.ndarray, np.ndarray]:
    fld = c.params["field"]  # a field of its layers: see requirements.check_requirements
    method = c.params.get("method", "majority")
    vals = feats[fld].to_numpy(dtype=object) if method == "majority" else pd.to_numeric(feats[fld], errors="coerce").to_numpy(dtype=float)
    return overlap.area_weighted(fp, _geoms(feats, ctx), vals, method)


def _seed_coverage(c: Criterion, feats: gpd.GeoDataFrame, covered: np.ndarray, ctx: "Context") -> None:
    """The covered fraction by ALL the features of a single "features"-coverage layer is that
    layer's coverage: keep it, instead of measuring the same pairs again in CoverageCache."""
    if ctx is None or c.selection is not None:
        return
    layers = [lyr for lyr in ctx.inputs.vectors if lyr.spec.role in c.roles]
    if (len(layers) == 1 and layers[0].coverage_kind == "features" and layers[0].coverage is None
            and len(layers[0].gdf) == len(feats)):
        ctx.coverage.seed(layers[0], covered)


def _attribute(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    value, covered = _attribute_values(c, fp, feats, ctx)
    _seed_coverage(c, feats, covered, ctx)
    words = watershed.described(feats, c.params["field"], value) if c.params.get("method", "majority") == "majority" else None
    return Measurement(value) if words is None else Measurement(value, *words)


def _site_density(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    """The feature each site falls in (area-weighted majority); counted over all sites by finalize()."""
    value, covered = _attribute_values(c, fp, feats, ctx)
    _seed_coverage(c, feats, covered, ctx)
    words = watershed.described(feats, c.params["field"], value)  # one text per watershed: counted alike
    keys = pd.Series(value if words is None else np.where(words[0] != "", words[0], None), dtype=object)
    return Measurement(np.full(len(fp), np.nan), np.where(keys.isna(), "", keys.astype(str)).astype(object),
                       note=DENSITY_NOTE)


DENSITY_NOTE = ("counts the candidate sites of this run in the same feature: depends on which sites are "
                "screened together")


def density_keys(profile: Profile, measures: dict[str, Measurement]) -> dict[str, pd.Series]:
    """For each evaluated site_density criterion: how many sites (with data) fall in each feature.
    Counts of pieces of a run add up (``a.add(b, fill_value=0)``)."""
    out = {}
    for c in profile.criteria:
        m = measures[c.name]
        if KINDS[c.kind].across_sites and m.evaluated:
            keys = pd.Series(m.feature, dtype=object)
            has = (keys != "").to_numpy() & (m.nodata_reason == "")
            out[c.name] = keys[has].value_counts()
    return out


def finalize(profile: Profile, measures: dict[str, Measurement],
             counts: dict[str, pd.Series] | None = None) -> dict[str, Measurement]:
    """Complete the criteria that need every site at once (site_density counts), in place.

    ``counts`` are the counts over all the run's sites (:func:`density_keys`) when ``measures``
    hold only some of them (a streamed run); by default they are counted in ``measures``.
    """
    counts = density_keys(profile, measures) if counts is None else counts
    for c in profile.criteria:
        m = measures[c.name]
        if not KINDS[c.kind].across_sites or not m.evaluated:
            continue
        keys = pd.Series(m.feature, dtype=object)
        has = (keys != "").to_numpy() & (m.nodata_reason == "")
        vals = np.full(len(keys), np.nan)
        vals[has] = keys[has].map(counts[c.name]).astype(float).to_numpy()
        m.values = vals
    return measures


def _length_within(c: Criterion, fp: np.ndarray, feats: gpd.GeoDataFrame, ctx: "Context") -> Measurement:
    """Length of the selected lines inside each footprint, in the criterion's unit (km or m).
    A layer with polygons is refused: their outlines would be counted as lines."""
    has_area = lengths.polygonal(feats.geometry.to_numpy())
    if has_area.any():
        layer = feats["layer"].astype(str).to_numpy()[has_area][0]
        raise LayerDataError(f"{layer}: criterion {c.name} ({c.kind}) measures the length of lines, but the "
                             f"{'/'.join(c.roles)} layer holds {int(has_area.sum())} polygon feature(s); give a "
                             f"line layer (e.g. NHDFlowline), or use an overlap or distance criterion")
    metres = lengths.length_within(fp, _geoms(feats, ctx))
    return Measurement(metres / 1000.0 if c.params.get("unit", "km") == "km" else metres)


#: The measure function of every kind measured on vector layers (:data:`sitescreen.rules.kinds.KINDS`).
VECTOR_KINDS: dict[str, Callable[..., Measurement]] = {
    "overlap": _overlap, "distance": _distance, "count_within": _count_within,
    "attribute": _attribute, "site_density": _site_density, "length_within": _length_within,
}
check_measures(VECTOR_KINDS, vector=True)


@dataclass
class Context:
    sites: gpd.GeoDataFrame
    inputs: Inputs
    coverage: CoverageCache
    geoms: Any = None  # the current criterion's features, prepared (geomops.FeatureLayer)


def measure_function(kind: str) -> Callable[..., Measurement]:
    """The function measuring criteria of ``kind``."""
    return VECTOR_KINDS[kind] if KINDS[kind].vector else RASTER_KINDS[kind]


#: Raster criteria of at least this many sites run in a side process while the vector criteria run
#: here (exactextract holds the GIL; the vector kernels release it): both cores work. The
#: environment variable :data:`SIDE_PROCESS_ENV` overrides it (a whole number ≥ 1; the values are
#: the same either way, only where they are computed changes).
SIDE_PROCESS_MIN_SITES = 20_000
SIDE_PROCESS_ENV = "SITESCREEN_SIDE_PROCESS_MIN_SITES"


def side_process_min_sites() -> int:
    """Sites a piece needs for its raster criteria to run in the side process."""
    text = os.environ.get(SIDE_PROCESS_ENV, "").strip()
    if not text:
        return SIDE_PROCESS_MIN_SITES
    if not text.isdigit() or int(text) < 1:
        raise SitescreenError(f"environment variable {SIDE_PROCESS_ENV}={text!r}: expected a whole number of "
                              f"sites ≥ 1 (default {SIDE_PROCESS_MIN_SITES:,})")
    return int(text)


def side_wanted(n: int) -> bool:
    """Whether a piece of ``n`` sites has its raster criteria measured in the side process."""
    return n >= side_process_min_sites() and (os.cpu_count() or 1) > 1


#: A large piece's raster criteria go to the side process in this many parts; the parts it has not
#: started when the vector criteria here are done are measured here, from the last one back, while
#: it works from the first: neither core waits for the other.
SIDE_PARTS = 8


@dataclass
class _SidePart:
    criterion: Criterion
    rows: slice
    future: Any


def _start_rasters(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, side: Callable | None) -> list[_SidePart]:
    """Raster criteria handed to ``side`` in :data:`SIDE_PARTS` runs of consecutive sites each, when
    given and the piece is large. ``side(criterion, footprints as WKB, CRS as WKT, rasters)``
    returns a future of the Measurement: the engine's side process (:mod:`sitescreen.measure.engine`)."""
    todo = [c for c in profile.criteria if not KINDS[c.kind].vector and any(r.role in c.roles for r in inputs.rasters)]
    if not (side is not None and todo and side_wanted(len(sites))):
        return []
    import shapely
    wkb = shapely.to_wkb(sites.geometry.to_numpy())
    crs = sites.crs.to_wkt()
    cuts = np.linspace(0, len(sites), SIDE_PARTS + 1).round().astype(int)
    return [_SidePart(c, slice(lo, hi), side(c, wkb[lo:hi], crs, list(inputs.rasters)))
            for c in todo for lo, hi in zip(cuts[:-1], cuts[1:])]


def _finish_side(parts: list[_SidePart], sites: gpd.GeoDataFrame, inputs: Inputs) -> dict[str, Measurement]:
    """Each side criterion's Measurement: the parts the side process has not started are taken back
    and measured here (from the last), the others awaited; the same values wherever measured."""
    got: list[Measurement | None] = [None] * len(parts)
    for i in range(len(parts) - 1, -1, -1):
        if not parts[i].future.cancel():
            break  # this one and every one before it are the side process's
        got[i] = measure_raster(parts[i].criterion, sites.iloc[parts[i].rows], inputs)
    got = [m if m is not None else p.future.result() for m, p in zip(got, parts)]
    names = dict.fromkeys(p.criterion.name for p in parts)
    return {name: joined([m for m, p in zip(got, parts) if p.criterion.name == name]) for name in names}


@dataclass
class Begun:
    """A piece's measuring begun by :func:`begin` (its raster criteria, if any, handed to the side
    process); :meth:`finish` measures the rest here and returns every criterion's Measurement."""

    profile: Profile
    sites: gpd.GeoDataFrame
    inputs: Inputs
    parts: list[_SidePart]
    complete: bool = True

    def finish(self) -> dict[str, Measurement]:
        profile, sites, inputs = self.profile, self.sites, self.inputs
        try:
            check_requirements(profile, inputs)
            fp = sites.geometry.to_numpy()
            ctx = Context(sites, inputs, CoverageCache(fp, inputs, site_states(sites)))
            out: dict[str, Measurement] = {}
            _measure_here(profile, sites, inputs, fp, ctx, out, {p.criterion.name for p in self.parts})
            out.update(_finish_side(self.parts, sites, inputs) if self.parts else {})
        finally:
            self.cancel()
        out = {c.name: out[c.name] for c in profile.criteria}  # the profile's order
        return finalize(profile, out) if self.complete else out

    def cancel(self) -> None:
        """The side process's parts not started are dropped (a run that stops early)."""
        for p in self.parts:
            p.future.cancel()


def begin(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, *, complete: bool = True,
          side: Callable | None = None) -> Begun:
    """The measuring of ``sites`` begun: with ``side`` (see :func:`_start_rasters`), the raster
    criteria of a large piece are handed to it in parts at once. It reads only the piece's own
    footprints (no layer, nothing prepared), so another thread may begin the next piece while
    this one is finished."""
    return Begun(profile, sites, inputs, _start_rasters(profile, sites, inputs, side), complete)


def measure(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, *, complete: bool = True,
            side: Callable | None = None) -> dict[str, Measurement]:
    """Every criterion of ``profile`` over ``sites`` (footprints in the run CRS).

    With ``complete=False`` (one chunk of a larger run) criteria over all sites are left for
    :func:`finalize`. With ``side`` (see :func:`_start_rasters`), raster criteria of a large piece
    are measured elsewhere meanwhile, in parts, and here too once the rest is done
    (:data:`SIDE_PROCESS_MIN_SITES`, :data:`SIDE_PARTS`); the values are the same.
    """
    return begin(profile, sites, inputs, complete=complete, side=side).finish()


def _measure_here(profile: Profile, sites: gpd.GeoDataFrame, inputs: Inputs, fp: np.ndarray, ctx: "Context",
                  out: dict, pending: set[str]) -> None:
    for c in profile.criteria:
        if c.name in pending:
            continue
        present = [r for r in c.roles if r in inputs.vector_roles() | inputs.raster_roles()]
        if not present:  # an optional criterion (see requirements.check_requirements)
            out[c.name] = Measurement(np.full(len(sites), np.nan), evaluated=False,
                                      note=f"not evaluated: no {' or '.join(c.roles)} layer was given")
            continue
        if not KINDS[c.kind].vector:
            out[c.name] = measure_raster(c, sites, inputs)
            continue
        feats, layers, ctx.geoms = prepared_features(c, inputs)
        m = VECTOR_KINDS[c.kind](c, fp, feats, ctx)
        nodata, reason = ctx.coverage.nodata(layers)
        vals = m.values.astype(object) if m.values.dtype == object else m.values.astype(float)
        vals[nodata] = None if vals.dtype == object else np.nan
        m.values = vals
        if m.parts is not None:
            m.parts[nodata] = ""  # no value, nothing it is made of
        m.nodata_reason = reason
        m.layers = [lyr.spec.label for lyr in layers]
        missing_roles = [r for r in c.roles if r not in present]
        if missing_roles:
            m.note = (m.note + "; " if m.note else "") + f"no {' or '.join(missing_roles)} layer was given"
        log.info("measured %s (%s) over %d sites against %d features", c.name, c.kind, len(sites), len(feats))
        out[c.name] = m
