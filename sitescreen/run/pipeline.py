"""The screening flow's preparation: load + check the profile, the sites and the layers.

:func:`prepare` reads a run's site source (:mod:`sitescreen.run.sources`), chooses the run CRS from
where the sites are — or, when no single CRS measures them truly, splits them into measuring zones
(:mod:`sitescreen.run.zonedsource`) — and loads the layers around them (:mod:`sitescreen.run.layers`;
``sitescreen check`` stops there);
:func:`screen` runs the whole screening in memory and returns a :class:`Result` (sites frame +
manifest) through the one loop of :mod:`sitescreen.run.stream`. Writing files is
:mod:`sitescreen.outputs.files`' job.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from sitescreen import __version__
from sitescreen.run.config import RunConfig, config_to_dict
from sitescreen.measure.criteria import Inputs
from sitescreen.rules.measurement import Measurement
from sitescreen.measure.engine import DEFAULT_CHUNK
from sitescreen.measure.requirements import check_requirements
from sitescreen.errors import LayerConfigError
from sitescreen.rules.kinds import KINDS
from sitescreen.inputs.check import companion_files, file_modified, file_sha256
from sitescreen.inputs.crs import crs_label
from sitescreen.inputs.spec import check_layer_set
from sitescreen.rules.profile import VERDICTS, Profile, effective_weights, load_profile
from sitescreen.rules.scoring import without_data
from sitescreen.record.manifest import (COLUMNS, CapRecord, CriterionRecord, CriterionSelection, InputRecord, Mode, ProfileRecord, RunRecord,
                                   SelectionRecord, SitesRecord, Tally, Tool, Verdicts)
from sitescreen.record.read import read_value
from sitescreen.record.zones import ZoneRecord
from sitescreen.inputs.crs import Extent, choose_crs, distortion_problem, parse_run_crs, working_crs
from sitescreen.sites.options import SiteStats
from sitescreen.run.layers import RasterInfo, ZoneRun, load_layers, load_zones
from sitescreen.run.sources import FrameSource, NotStreamable, SiteSource
from sitescreen.run.zonedsource import OUTPUT_CRS, ZonedSource, unwrapped, zone_summary

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


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
    zones: tuple[ZoneRun, ...] = ()  # a zoned run: each zone's layers in its CRS (``crs``: the output's)

    def chunk_inputs(self, k: int) -> tuple[Inputs, list[RasterInfo]]:
        """The layers and rasters chunk ``k`` of the source is measured with (its zone's, in a zoned run)."""
        if not self.zones:
            return self.inputs, self.rasters
        zone = self.zones[self.source.zone_of(k)]
        return zone.inputs, zone.rasters

    def output(self, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Scored sites as the run gives them out: a zoned run's in :data:`OUTPUT_CRS`."""
        return unwrapped(sites.to_crs(self.crs)) if self.zones else sites

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


def decide_crs(config: RunConfig, profile: Profile, ext: Extent) -> CRS:
    """The run CRS for sites at ``ext``: the configured one or the chosen one, refused when it would
    make lengths (or the profile's areas) wrong (:func:`sitescreen.inputs.crs.working_crs`)."""
    return working_crs(config.crs, ext, area_criteria(profile), crs_where(config))


def crs_where(config: RunConfig) -> str:
    """Where the run CRS was given, for messages."""
    return f"{config.config_path}: [run] crs" if config.config_path else "--crs"


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
        ext = source.extent()
        zoned = zoned_source(config, profile, source, ext)
        source = zoned or source
        run_crs = OUTPUT_CRS if zoned else decide_crs(config, profile, ext)
        source.place(run_crs)
    zones: tuple[ZoneRun, ...] = ()
    with _timed(timings, "layers", progress):
        if zoned:
            zones, inputs, infos = load_zones(config, profile, source, run_crs)
        else:
            vectors, rasters, infos = load_layers(config, profile, run_crs, *source.reach())
            inputs = Inputs(vectors=vectors, rasters=rasters)
    for measured_with in [z.inputs for z in zones] or [inputs]:  # one check: what screen refuses, check refuses
        check_requirements(profile, measured_with, config.config_path)
    return Prepared(config=config, profile=profile, crs=run_crs, source=source,
                    inputs=inputs, rasters=infos, timings=timings, zones=zones)


def area_criteria(profile: Profile) -> tuple[str, ...]:
    return tuple(c.name for c in profile.criteria if KINDS[c.kind].measures_area)


def zoned_source(config: RunConfig, profile: Profile, source: SiteSource, ext: Extent) -> ZonedSource | None:
    """The read ``source`` in measuring zones (:mod:`sitescreen.inputs.zones`) when the run CRS is
    not given and no single CRS measures the sites at ``ext`` truly; else None (one run CRS)."""
    areas = area_criteria(profile)
    if config.crs is not None or config.sites is None or distortion_problem(choose_crs(ext), ext, areas=bool(areas)) is None:
        return None  # a given CRS is refused or used as given; a grid over an area of interest is made in one CRS
    if not isinstance(source, FrameSource):
        raise NotStreamable(f"{config.sites.path}: the sites span {ext.describe()}, which no single CRS measures "
                            f"truly: they are screened in measuring zones, which holds them in memory (leave out "
                            f"--stream)")
    return ZonedSource(source, areas)


def screen(config: RunConfig, progress: Progress | None = None, *, engine: str = "local",
           chunk_size: int = DEFAULT_CHUNK, scheduler: str | None = None, workers: int | None = None) -> Result:
    """Run a whole screening in memory: every site measured, scored and given a verdict and reasons.

    The sites are measured in spatial chunks of ``chunk_size`` by ``engine``: "local" on this
    machine, "dask" on a Dask cluster (``scheduler`` address) or local threads (``workers``).
    """
    from sitescreen.run.stream import screen_frame
    return screen_frame(config, progress, engine=engine, chunk_size=chunk_size, scheduler=scheduler, workers=workers)


def tally(result: pd.DataFrame, profile: Profile, measures: dict[str, Measurement],
          held: Mapping[str, int] | None = None) -> Tally:
    """What the manifest counts over the scored sites: verdicts, sites without data per criterion and
    (``held``, from :func:`sitescreen.rules.scoring.scored`) the sites each verdict cap held.
    Tallies of pieces of a run add up (:func:`add_tallies`)."""
    return Tally(counts={v: int((result["verdict"] == v).sum()) for v in VERDICTS},
                 without_data={c.name: int(without_data(c, result).sum()) for c in profile.criteria
                               if measures[c.name].evaluated},
                 held={k: v for k, v in (held or {}).items() if measures[k].evaluated})


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
        cap=CapRecord(verdict=c.cap[0], condition=c.cap_condition()) if c.cap is not None else None,
        sites_held=counted.held.get(c.name) if c.cap is not None and m.evaluated else None)


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
        crs=crs_label(prep.crs), zones=zone_records(prep), profile=_profile_record(p), sites=read_value(SitesRecord, sites_info, "sites"),
        inputs=tuple(inputs),
        criteria=tuple(_criterion_record(c, measures[c.name], weights[c.name], counted) for c in p.criteria),
        counts=dict(counted.counts), mode=Mode(**mode) if isinstance(mode, dict) else (mode or Mode(flow="in memory")),
        columns=dict(COLUMNS), timings=dict(prep.timings),
        run=config_to_dict(prep.config),  # the run as data: `sitescreen verify` and `batch` repeat it from here
    )


def zone_records(prep: Prepared) -> tuple[ZoneRecord, ...] | None:
    """A zoned run's measuring zones as the run record keeps them (None: measured in one CRS)."""
    if not prep.zones:
        return None
    src = prep.source
    return tuple(ZoneRecord(**z) for z in zone_summary(src.zones, [src.zone_sites(k) for k in range(len(src.zones))]))
