"""The screening flow's preparation: load + check the profile, the sites and the layers.

:func:`prepare` reads a run's site source (:mod:`sitescreen.run.sources`), chooses the run CRS from
where the sites are and loads the layers around them (``sitescreen check`` stops there);
:func:`screen` runs the whole screening in memory and returns a :class:`Result` (sites frame +
manifest) through the one loop of :mod:`sitescreen.run.stream`. Writing files is
:mod:`sitescreen.outputs.files`' job.
"""

from __future__ import annotations

import logging
import shlex
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from pyproj import CRS

from sitescreen import __version__
from sitescreen.run.config import RunConfig, config_to_dict
from sitescreen.measure.criteria import Inputs
from sitescreen.rules.measurement import Measurement
from sitescreen.measure.engine import DEFAULT_CHUNK
from sitescreen.measure.requirements import check_requirements
from sitescreen.errors import CRSError, LayerConfigError, LayerDataError
from sitescreen.rules.kinds import KINDS
from sitescreen.inputs.bands import choose_band
from sitescreen.inputs.check import check_coordinates, check_path, companion_files, file_modified, file_sha256
from sitescreen.inputs.crs import crs_label, to_crs
from sitescreen.inputs.load import LoadedLayer, load_vector
from sitescreen.inputs.spec import LayerSpec, check_layer_set
from sitescreen.rules.profile import VERDICTS, Profile, effective_weights, load_profile
from sitescreen.rules.scoring import without_data
from sitescreen.record.manifest import (COLUMNS, CapRecord, CriterionRecord, CriterionSelection, InputRecord, Mode, ProfileRecord, RunRecord,
                                   SelectionRecord, SitesRecord, Tally, Tool, Verdicts)
from sitescreen.record.read import read_value
from sitescreen.inputs.crs import Extent, lonlat_boxes, parse_run_crs, working_crs
from sitescreen.sites.options import SiteStats
from sitescreen.run.sources import FrameSource, SiteSource

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class RasterInfo:
    """A raster input as checked against the run: what the manifest records of it (:meth:`info`)
    and its footprint in the run CRS (not recorded: it tells which sites the raster covers)."""

    spec: LayerSpec
    width: int
    height: int
    res: list[float]
    nodata: float | None
    dtype: str | None
    bands: int
    source_crs: str | None
    footprint: Any  # a shapely polygon in the run CRS
    sites_covered: int = 0

    def info(self) -> dict:
        """The raster's entry in the manifest's inputs (without its hash and size)."""
        return {"width": self.width, "height": self.height, "res": list(self.res), "nodata": self.nodata,
                "dtype": self.dtype, "bands": self.bands, "band": self.spec.band, "name": self.spec.label, "role": self.spec.role,
                "path": str(self.spec.path), "layer": None, "kind": "raster", "schema": "raster",
                "source_crs": self.source_crs, "crs_override": self.spec.crs, "sites_covered": self.sites_covered,
                "coverage": "raster valid cells", "features_read": None, "repairs": 0}

    def covered(self, fp: np.ndarray) -> int:
        """How many of the footprints ``fp`` (run CRS) the raster's footprint meets."""
        return int(shapely.intersects(fp, self.footprint).sum())


@dataclass
class Prepared:
    """A run ready to measure: its profile, run CRS, placed site source and loaded layers."""

    config: RunConfig
    profile: Profile
    crs: CRS
    source: SiteSource
    inputs: Inputs
    rasters: list[RasterInfo]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def site_stats(self) -> SiteStats:
        return self.source.stats

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """The sites in the run CRS, when the source holds them in memory (:class:`FrameSource`)."""
        return self.source.frame

    @property
    def raster_info(self) -> list[dict]:
        """The rasters' manifest entries (:meth:`RasterInfo.info`)."""
        return [r.info() for r in self.rasters]


@dataclass
class Result:
    sites: gpd.GeoDataFrame
    manifest: RunRecord
    prepared: Prepared | None = None


@contextmanager
def _timed(timings: dict, stage: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(stage)
    t0 = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - t0, 4)


def _check_roles(config: RunConfig, profile: Profile) -> None:
    check_layer_set(config.layers, f" in {config.config_path}" if config.config_path else "")
    used = profile.roles
    for lyr in config.layers:
        if lyr.role not in used:
            raise LayerConfigError(
                f"{lyr.path}: unknown role {lyr.role!r}: profile {profile.name} uses roles "
                f"{', '.join(sorted(used))}")


def _role_margins(profile: Profile) -> dict[str, float]:
    """How far beyond the sites each role must be read (the largest distance a rule needs)."""
    margins: dict[str, float] = {}
    for c in profile.criteria:
        need = KINDS[c.kind].reach(c.params)
        for r in c.roles:
            margins[r] = max(margins.get(r, 0.0), need)
    return margins


def _polygon_roles(profile: Profile) -> set[str]:
    """Roles whose layers must be polygons (their kinds measure areas on them); others may be lines or points."""
    return {r for c in profile.criteria if KINDS[c.kind].measures_area for r in c.roles}


def decide_crs(config: RunConfig, profile: Profile, ext: Extent) -> CRS:
    """The run CRS for sites at ``ext``: the configured one or the chosen one, refused when it would
    make lengths (or the profile's areas) wrong (:func:`sitescreen.inputs.crs.working_crs`)."""
    return working_crs(config.crs, ext, tuple(c.name for c in profile.criteria if KINDS[c.kind].measures_area),
                       crs_where(config))


def crs_where(config: RunConfig) -> str:
    """Where the run CRS was given, for messages."""
    return f"{config.config_path}: [run] crs" if config.config_path else "--crs"


def _check_reach(config: RunConfig, fp: np.ndarray, crs: CRS, vectors: list[LoadedLayer], margins: dict) -> None:
    """Refuse a run in which no site lies within any layer's extent (plus the distance its rules look):
    the sign of swapped lon/lat columns, a wrong sites CRS, or layers for another region."""
    reach = [shapely.buffer(lyr.extent, margins[lyr.spec.role]) if margins.get(lyr.spec.role) else lyr.extent
             for lyr in vectors if lyr.extent is not None]
    if len(reach) < len(vectors) or not len(fp):
        return  # some extent unknown: cannot tell
    if any(shapely.intersects(fp, r).any() for r in reach):
        return
    s = np.round(gpd.GeoSeries(fp, crs=crs).to_crs(4326).total_bounds, 3)  # the sites', not their box's corners
    lyr = np.round(gpd.GeoSeries([v.extent for v in vectors], crs=crs).to_crs(4326).total_bounds, 3)
    spans = (f"span lon {s[0]:g} to {s[2]:g}, lat {s[1]:g} to {s[3]:g}; "
             f"layers span lon {lyr[0]:g} to {lyr[2]:g}, lat {lyr[1]:g} to {lyr[3]:g}")
    if config.sites is None:  # a grid has no columns or CRS to blame: its area of interest is elsewhere
        aoi = f"{config.config_path}: [run] aoi" if config.config_path else "--aoi"
        raise LayerDataError(f"{aoi}: no cell of the grid over the area of interest lies "
                             f"within any layer's extent (cells {spans}): give an area of interest the layers cover, "
                             f"or layers that cover it")
    raise LayerDataError(
        f"{config.sites.path}: no site lies within any layer's extent (sites {spans}): are the longitude/latitude "
        f"columns swapped or the sites' CRS wrong? Otherwise give layers that cover the sites")


def raster_info(spec: LayerSpec, fp: np.ndarray, run_crs: CRS) -> RasterInfo:
    """Open a raster, check its CRS against its coordinates and its overlap with the footprints ``fp``."""
    check_path(spec.path, f"{spec.role} raster")
    where = str(spec.path)
    try:
        with rasterio.open(spec.path) as src:
            spec = replace(spec, band=choose_band(spec, src), layer=None)  # never a guessed band
            _check_cells(src, spec, where)  # first: the bounds of a rotated grid are not its cells'
            tag, bounds, count = src.crs, tuple(src.bounds), src.count
            grid = {"width": src.width, "height": src.height, "res": list(src.res), "nodata": src.nodata,
                    "dtype": src.dtypes[spec.band - 1], "bands": count}
    except rasterio.errors.RasterioIOError as exc:
        raise LayerDataError(f"{where}: not a raster GDAL can open: {exc}") from None
    if spec.crs:
        crs = to_crs(spec.crs, where)
    elif tag is None:
        raise CRSError(f"{where}: the raster has no CRS; state it with crs = \"EPSG:…\" or --layer {spec.role}={spec.path}@EPSG:XXXX")
    else:
        crs = to_crs(tag.to_wkt(), where)
    check_coordinates(np.array(bounds), crs, where, 1)
    info = RasterInfo(spec=spec, **grid, source_crs=f"{crs_label(to_crs(tag.to_wkt(), where)) if tag else None}",
                      footprint=gpd.GeoSeries([shapely.box(*bounds)], crs=crs).to_crs(run_crs).iloc[0])
    info.sites_covered = info.covered(fp)
    if not info.sites_covered:
        raise LayerDataError(
            f"{where}: the raster's footprint {tuple(round(b, 1) for b in bounds)} ({crs_label(crs)}) does not overlap "
            f"any site; check the raster's CRS (override with crs = \"EPSG:…\") or leave the layer out")
    return info


def _check_cells(src, spec: LayerSpec, where: str) -> None:
    """Refuse a raster whose cells would be measured wrongly: a rotated or sheared grid (read as
    north-up, every cell would lie elsewhere) or a band storing scaled values (scale/offset: the cell
    values are not the quantity the rule measures)."""
    t = src.transform
    if t.b != 0 or t.d != 0:
        raise LayerDataError(f"{where}: the raster's grid is rotated or sheared (geotransform "
                             f"{', '.join(f'{v:.6g}' for v in tuple(t)[:6])}); "
                             f"only north-up grids are measured: warp it first (gdalwarp -r bilinear {shlex.quote(str(spec.path))} north-up.tif) "
                             f"and give the warped file")
    if spec.band <= src.count and (src.scales[spec.band - 1] != 1 or src.offsets[spec.band - 1] != 0):
        raise LayerDataError(f"{where}: band {spec.band} stores scaled values (scale {src.scales[spec.band - 1]:g}, "
                             f"offset {src.offsets[spec.band - 1]:g}); only unscaled values are measured: write the "
                             f"true values first (gdal_translate -unscale -ot Float32 {shlex.quote(str(spec.path))} unscaled.tif) and give that file")


def load_layers(config: RunConfig, profile: Profile, run_crs: CRS, bounds, fp: np.ndarray
                ) -> tuple[list[LoadedLayer], list[LayerSpec], list[RasterInfo]]:
    """The run's layers in the run CRS, vectors read only within the sites' ``bounds`` plus the
    distance their rules look; checked against the footprints ``fp`` (does any site reach them?)."""
    margins = _role_margins(profile)
    vectors: list[LoadedLayer] = []
    rasters: list[LayerSpec] = []
    for spec in config.layers:
        if spec.kind == "vector":
            vectors.append(load_vector(spec, run_crs, lonlat_boxes(bounds, run_crs, margins.get(spec.role, 0.0)),
                                       polygonal=spec.role in _polygon_roles(profile)))
        else:
            rasters.append(spec)
    if vectors and not rasters:
        _check_reach(config, fp, run_crs, vectors, margins)
    infos = [raster_info(spec, fp, run_crs) for spec in rasters]
    return vectors, [i.spec for i in infos], infos  # the rasters with the band each measures


def prepare(config: RunConfig, progress: Progress | None = None, *, source: SiteSource | None = None) -> Prepared:
    """Load and check every input: the sites of ``source`` (by default the sites held in memory,
    :class:`~sitescreen.run.sources.FrameSource`) placed in the run CRS, and the layers around them."""
    timings: dict[str, float] = {}
    with _timed(timings, "profile", progress):
        profile = load_profile(config.profile)
        _check_roles(config, profile)
        if config.crs:
            parse_run_crs(config.crs, crs_where(config))  # a CRS that cannot measure in metres: refused before any work
    source = source if source is not None else FrameSource(config, DEFAULT_CHUNK)
    with _timed(timings, "sites", progress):
        run_crs = decide_crs(config, profile, source.extent())
        source.place(run_crs)
    with _timed(timings, "layers", progress):
        vectors, rasters, infos = load_layers(config, profile, run_crs, *source.reach())
    inputs = Inputs(vectors=vectors, rasters=rasters)
    check_requirements(profile, inputs, config.config_path)  # one check: what screen refuses, check refuses
    return Prepared(config=config, profile=profile, crs=run_crs, source=source,
                    inputs=inputs, rasters=infos, timings=timings)


def screen(config: RunConfig, progress: Progress | None = None, *, engine: str = "local",
           chunk_size: int = DEFAULT_CHUNK, scheduler: str | None = None, workers: int | None = None) -> Result:
    """Run a whole screening in memory: every site measured, scored and given a verdict and reasons.

    The sites are measured in spatial chunks of ``chunk_size`` by ``engine``: "local" on this
    machine, "dask" on a Dask cluster (``scheduler`` address) or local threads (``workers``).
    """
    from sitescreen.run.stream import screen_frame
    return screen_frame(config, progress, engine=engine, chunk_size=chunk_size, scheduler=scheduler, workers=workers)


def tally(result: pd.DataFrame, profile: Profile, measures: dict[str, Measurement]) -> Tally:
    """What the manifest counts over the scored sites: verdicts, and sites without data per criterion.
    Tallies of pieces of a run add up (:func:`add_tallies`)."""
    return Tally(counts={v: int((result["verdict"] == v).sum()) for v in VERDICTS},
                 without_data={c.name: int(without_data(c, result).sum()) for c in profile.criteria
                               if measures[c.name].evaluated})


def add_tallies(a: Tally | None, b: Tally) -> Tally:
    return b if a is None else a.add(b)


def _input_entry(info: dict, path: Path) -> InputRecord:
    return read_value(InputRecord, {**info, **file_facts(path)}, "inputs")


def file_facts(path: Path) -> dict[str, Any]:
    """What the record keeps of an input file: its SHA-256, its bytes (with its companion files) and
    when it was last modified (UTC)."""
    mtime = datetime.fromtimestamp(file_modified(Path(path)), tz=timezone.utc)
    return {"sha256": file_sha256(path), "bytes": sum(p.stat().st_size for p in companion_files(path)),
            "modified": mtime.isoformat(timespec="seconds")}


def _criterion_record(c, m: Measurement, weight: float, counted: Tally) -> CriterionRecord:
    sel = c.selection
    return CriterionRecord(
        name=c.name, label=c.label, kind=c.kind, unit=c.unit, roles=tuple(c.roles),
        selection=(CriterionSelection(name=sel.name, description=sel.description,
                                      any=tuple({k: list(v) for k, v in cl.items()} for cl in sel.any)) if sel else None),
        params=dict(c.params), measure_column=c.measure_column, score_column=c.score_column if c.scored else None,
        weight=c.weight, effective_weight=weight, transform=c.transform, exclusion=c.exclude_text(),
        safeguard=c.safeguard, source=c.source, optional=c.optional, evaluated=m.evaluated, layers=tuple(m.layers),
        note=m.note, sites_without_data=counted.without_data[c.name] if m.evaluated else None,
        cap=CapRecord(verdict=c.cap[0], condition=c.cap_condition()) if c.cap is not None else None)


def _profile_record(p: Profile) -> ProfileRecord:
    return ProfileRecord(name=p.name, path=p.path, sha256=p.sha256, description=p.description,
                         verdicts=Verdicts(favorable=p.favorable, review=p.review,
                                           range={k: tuple(v) for k, v in p.verdict_ranges.items()} or None),
                         selections={k: SelectionRecord(roles=tuple(s.roles), description=s.description,
                                                        any=tuple({f: list(v) for f, v in cl.items()} for cl in s.any))
                                     for k, s in p.selections.items()})


def build_manifest(prep: Prepared, measures: dict[str, Measurement], counted: Tally,
                   mode: Mode | dict | None = None) -> RunRecord:
    """The run record of a screening (:mod:`sitescreen.record.manifest`); effective weights from
    :func:`sitescreen.rules.profile.effective_weights`, as the score used them."""
    p = prep.profile
    weights = effective_weights(p, [c.name for c in p.criteria if measures[c.name].evaluated])
    sites_info = prep.site_stats.info()
    if prep.config.sites is not None:
        facts = file_facts(prep.config.sites.path)
        sites_info.update({"sha256": facts["sha256"], "modified": facts["modified"], "role": "sites",
                           "layer": prep.config.sites.layer, "crs_override": prep.config.sites.crs})
    inputs = [_input_entry(lyr.info(), lyr.spec.path) for lyr in prep.inputs.vectors]
    inputs += [_input_entry({k: v for k, v in info.items() if k != "_box"}, Path(info["path"])) for info in prep.raster_info]
    return RunRecord(
        tool=Tool(name="sitescreen", version=__version__), title=prep.config.title,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), config=prep.config.config_path,
        crs=crs_label(prep.crs), profile=_profile_record(p), sites=read_value(SitesRecord, sites_info, "sites"),
        inputs=tuple(inputs),
        criteria=tuple(_criterion_record(c, measures[c.name], weights[c.name], counted) for c in p.criteria),
        counts=dict(counted.counts), mode=Mode(**mode) if isinstance(mode, dict) else (mode or Mode(flow="in memory")),
        columns=dict(COLUMNS), timings=dict(prep.timings),
        run=config_to_dict(prep.config),  # the run as data: `sitescreen verify` and `batch` repeat it from here
    )
