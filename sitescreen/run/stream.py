"""The one screening flow: a site source's chunks measured, scored and appended, chunk by chunk.

:func:`screen_run` is the loop every screening goes through: prepare the run once (profile, run
CRS, layers: :func:`sitescreen.run.pipeline.prepare`), then for each chunk of the site source
(:mod:`sitescreen.run.sources`) measure it by the engine (:mod:`sitescreen.measure.engine`), score
it and append it to a writer; then finish the manifest. Criteria that count sites across the run
(``site_density``) are measured over every chunk first, counted, then scored chunk by chunk.

Streaming is a property of the source, not a second flow: an in-memory run (:func:`screen_frame`,
what :func:`sitescreen.run.pipeline.screen` returns) reads a :class:`FrameSource` and collects its
chunks in memory; a streamed run (:func:`screen_streamed`) reads a polygon file in pieces
(:class:`FileSource`) and appends every chunk to ``sites.gpkg``, ``sites.parquet`` and
``sites.csv`` (:class:`sitescreen.outputs.files.ResultWriter`), so memory is bounded by the
chunk size, not by the number of sites. Sites given as points are merged across the whole file
(duplicate deposit records) and are read whole, in memory (:func:`stream_refusal` says why).
One setting, ``chunk_size``, says how many sites are read, measured, scored and written together.

Zoning is a property of the source too: sites no single CRS measures truly are yielded zone by zone
(:class:`sitescreen.run.zonedsource.ZonedSource`), each chunk measured with its zone's layers
(:meth:`~sitescreen.run.pipeline.Prepared.chunk_inputs`) and given out in the run's output CRS
(:meth:`~sitescreen.run.pipeline.Prepared.output`); the counts of ``site_density`` are made over
every zone's chunks, so they count all the run's sites.
"""

from __future__ import annotations

import logging
import time
from contextlib import closing
from pathlib import Path
from typing import Callable

import numpy as np

from sitescreen.run.behind import WriterBehind, ahead, timed
from sitescreen.run.cpu import cpu_seconds
from sitescreen.run.config import RunConfig
from sitescreen.measure.criteria import density_keys, finalize
from sitescreen.measure.engine import DEFAULT_CHUNK, Engine, check_chunk_size, open_engine
from sitescreen.errors import LayerDataError
from sitescreen.rules.kinds import KINDS
from sitescreen.inputs.read import BATCH_SUFFIXES
from sitescreen.inputs.probe import feature_count
from sitescreen.outputs.files import (MapOptions, ResultWriter, read_results, run_paths, write_into, write_map, write_report,
                                      written_manifest)
from sitescreen.outputs.staging import staged_dir
from sitescreen.run.pipeline import Prepared, Result, add_tallies, build_manifest, prepare, tally
from sitescreen.run.sources import FileSource, FrameSource, NotStreamable, SiteSource
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.scoring import scored

log = logging.getLogger(__name__)

#: Runs with more site records than this are streamed when they can be (``stream=None``).
STREAM_MIN_SITES = 200_000
#: ``progress(stage)`` as a stage starts ("profile", "sites", "layers", "write"), and
#: ``progress(stage, done, total)`` for the stages that go through the sites ("measure": the first
#: pass of a run with criteria counting sites across the run; "screen": measured, scored and
#: written): ``done`` sites of ``total``, the run's number of sites, known before the first is
#: measured and the same for every call.
Progress = Callable[..., None]


def stream_refusal(config: RunConfig) -> str | None:
    """Why ``config`` cannot be streamed, or None when it can (points are found only on reading)."""
    if config.sites is None:
        return "a grid of sites is made whole"
    if config.sites.path.suffix.lower() not in BATCH_SUFFIXES:
        return f"{config.sites.path.suffix} files are read whole (streamed: {', '.join(BATCH_SUFFIXES)})"
    return None


def should_stream(config: RunConfig, stream: bool | None) -> bool:
    """``stream`` True: must (an error says why it can't); False: never; None: when large and possible."""
    if stream is False:
        return False
    why = stream_refusal(config)
    if stream:
        if why:
            raise NotStreamable(f"cannot stream this run: {why}; leave out --stream")
        return True
    if why:
        return False
    try:
        n = feature_count(config.sites, str(config.sites.path))
    except LayerDataError:
        return False  # reported by the in-memory flow, with its own message
    return n is not None and n > STREAM_MIN_SITES


def screen_run(config: RunConfig, source: SiteSource, writer, *, engine: str = "local", scheduler: str | None = None,
               workers: int | None = None, progress: Progress | None = None) -> tuple[Prepared, dict]:
    """The one flow: prepare ``config`` with ``source``, then measure, score and append every chunk
    to ``writer`` (``append(frame)``, ``close(manifest)``); return the prepared run and its manifest."""
    t0 = time.perf_counter()
    eng = open_engine(engine, scheduler=scheduler, workers=workers)
    try:
        prep = prepare(config, progress, source=source)
        template, counted = _chunk_loop(prep, eng, writer, progress)
        prep.timings["total"] = round(time.perf_counter() - t0, 4)
        if (cpu := cpu_seconds()) is not None:  # CPU seconds of the process since it started, children included
            prep.timings["cpu_total"] = round(cpu, 3)
        manifest = build_manifest(prep, template, counted, mode=source.mode)
        writer.close(manifest)
    finally:
        writer.abort()
        eng.close()
        source.close()
    return prep, manifest


def _measured(prep: Prepared, eng: Engine, progress: Progress | None, timings: dict):
    """(chunk, its complete measures) for every chunk of the run's source; with criteria counting
    sites across the run, every chunk is measured first, counted, and kept until its turn."""
    src, profile, total = prep.source, prep.profile, prep.source.stats.sites
    timings["read"] = 0.0

    def started(item):  # in the reading thread: chunk k's measuring begun
        k, sites = item
        return k, sites, eng.begin(profile, sites, prep.chunk_inputs(k)[0])

    def measured(begun, complete: bool):
        t, cpu = time.perf_counter(), cpu_seconds()
        m = begun.result()
        m = finalize(profile, m) if complete else m
        timings["measure"] += time.perf_counter() - t
        after = cpu_seconds()
        if cpu is not None and after is not None:
            timings["cpu_measure"] = timings.get("cpu_measure", 0.0) + after - cpu
        return m

    # chunk k+1 read and begun in a thread while chunk k is measured here (run/behind.py)
    eng.start(profile, min(total, src.chunk_size))
    with closing(ahead(timed(enumerate(src.chunks()), timings, "read"), started, lambda s: s[2].cancel())) as chunks:
        if not any(KINDS[c.kind].across_sites for c in profile.criteria):
            _count(progress, "screen", 0, total)
            for k, sites, begun in chunks:
                yield k, sites, measured(begun, complete=True)
            return
        yield from _counted(prep, chunks, measured, progress)


def _counted(prep: Prepared, chunks, measured, progress: Progress | None):
    """The chunks of a run with criteria counting sites across it: every chunk measured and kept,
    the counts added up, then each chunk's measures finalized with them, in turn."""
    src, profile, total = prep.source, prep.profile, prep.source.stats.sites
    template, counts, done = None, None, 0
    _count(progress, "measure", 0, total)
    for k, sites, begun in chunks:
        measures = measured(begun, complete=False)
        template = template or measures
        src.keep(k, measures)
        counts = {name: c if counts is None else counts[name].add(c, fill_value=0)
                  for name, c in density_keys(profile, measures).items()}
        done += len(sites)
        _count(progress, "measure", done, total)
    _count(progress, "screen", 0, total)
    for k, sites in enumerate(src.chunks()):
        yield k, sites, finalize(profile, src.kept(k, template), counts)


def _count(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress:
        progress(stage, done, total)


def _chunk_loop(prep: Prepared, eng: Engine, writer, progress: Progress | None) -> tuple[dict, dict]:
    """Every chunk measured, scored and appended to ``writer``; the rasters' covered sites counted.
    A :class:`~sitescreen.run.behind.WriterBehind` scores and writes each chunk in its own thread
    while the next is measured. Returns the measures' template (evaluated flags, notes) and the
    manifest's tallies."""
    timings, profile = prep.timings, prep.profile
    stages = ("measure", "score") + (("write",) if getattr(writer, "stage", "write") else ())
    for stage in stages:
        timings[stage] = 0.0
    template, counted = None, [None]
    covered = np.zeros(len(prep.rasters), dtype=np.int64)
    done, total = 0, prep.source.stats.sites

    def finish(sites, measures, append) -> None:  # one chunk scored, tallied and written, in order
        t1 = time.perf_counter()
        done_scoring = scored(sites, profile, measures)
        result = prep.output(done_scoring.frame)
        counted[0] = add_tallies(counted[0], tally(result, profile, measures, done_scoring.held))
        t2 = time.perf_counter()
        timings["score"] += t2 - t1
        append(result)
        if "write" in stages:
            timings["write"] += time.perf_counter() - t2

    later = writer.later if isinstance(writer, WriterBehind) else (lambda fn, *args: fn(*args))
    append = writer.writer.append if isinstance(writer, WriterBehind) else writer.append
    with closing(_measured(prep, eng, progress, timings)) as chunks:
        for k, sites, measures in chunks:
            template = template or measures
            fp = sites.geometry.to_numpy()
            covered += np.array([r.covered(fp) for r in prep.chunk_inputs(k)[1]], dtype=np.int64)
            later(finish, sites, measures, append)
            prep.source.done(k)
            done += len(sites)
            _count(progress, "screen", done, total)
            del sites, measures
    if isinstance(writer, WriterBehind):
        writer.flush()
    for r, n in zip(prep.rasters, covered):
        r.sites_covered = int(n)
    for stage in stages + tuple(k for k in ("read", "cpu_measure") if k in timings):
        timings[stage] = round(timings[stage], 4)
    return template, counted[0]


def screen_frame(config: RunConfig, progress: Progress | None = None, *, engine: str = "local",
                 chunk_size: int = DEFAULT_CHUNK, scheduler: str | None = None, workers: int | None = None) -> Result:
    """The flow over the sites held in memory, collected in memory: a :class:`Result`."""
    source = FrameSource(config, chunk_size)
    sink = source.collector()
    prep, manifest = screen_run(config, source, sink, engine=engine, scheduler=scheduler, workers=workers,
                                progress=progress)
    return Result(sites=sink.frame(), manifest=manifest, prepared=prep)


def screen_streamed(config: RunConfig, out_dir: str | Path, *, overwrite: bool = False,
                    options: MapOptions = MapOptions(write_map=False, write_report=False),
                    chunk_size: int = DEFAULT_CHUNK, engine: str = "local", scheduler: str | None = None,
                    workers: int | None = None, progress: Progress | None = None, protected=()) -> RunRecord:
    """Screen ``config`` chunk by chunk into ``out_dir`` (written atomically); return its record.
    ``protected``: files besides the run's own inputs that ``out_dir`` must not hold.

    A map or report asked for in ``options`` is drawn at the end from the written results (that
    step holds every site; for millions of sites leave them out and draw a region with
    ``sitescreen map``).
    """
    check_chunk_size(chunk_size)
    why = stream_refusal(config)
    if why:
        raise NotStreamable(f"cannot stream this run: {why}")
    with staged_dir(Path(out_dir), overwrite, [*protected, *run_paths(config)]) as folder:
        source = FileSource(config, chunk_size, folder)
        _, manifest = screen_run(config, source, WriterBehind(ResultWriter(folder)), engine=engine, scheduler=scheduler,
                                 workers=workers, progress=progress)
        if options.write_map or options.write_report:
            all_sites, _ = read_results(folder)
            if options.write_map:
                write_map(all_sites, manifest, folder / "map.html", options)
            if options.write_report:
                write_report(all_sites, manifest, folder / "report.html")
    return written_manifest(out_dir)


def screen_to_folder(config: RunConfig, out_dir: str | Path, *, overwrite: bool = False,
                     options: MapOptions = MapOptions(), chunk_size: int = DEFAULT_CHUNK, engine: str = "local",
                     scheduler: str | None = None, workers: int | None = None, stream: bool | None = None,
                     progress: Progress | None = None, protected=()) -> dict:
    """A whole screening into ``out_dir``: streamed when ``stream`` (or, by default, when the sites
    file is large and the run can be streamed), in memory otherwise. Returns the manifest.

    The output folder is claimed (staged and locked) before the screening starts, so a second
    run on it stops at once; it must hold none of the run's files nor ``protected`` (e.g. a
    jobs file)."""
    if should_stream(config, stream):
        try:
            return screen_streamed(config, out_dir, overwrite=overwrite, options=options, chunk_size=chunk_size,
                                   engine=engine, scheduler=scheduler, workers=workers, progress=progress,
                                   protected=protected)
        except NotStreamable as exc:
            if stream:
                raise
            log.info("screening in memory: %s", exc)
    with staged_dir(Path(out_dir), overwrite, [*protected, *run_paths(config)]) as folder:
        result = screen_frame(config, progress, engine=engine, chunk_size=chunk_size, scheduler=scheduler,
                              workers=workers)
        if progress:
            progress("write")
        write_into(result, folder, options)
    return written_manifest(out_dir)
