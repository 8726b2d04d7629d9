"""Many screenings from one jobs file, in parallel processes where asked, resumable.

Jobs file (TOML; paths relative to it)::

    [defaults]                 # optional; any job key but name/config/out
    profile = "federal-safeguards"
    map = false                # write map.html (default true)
    report = true              # write report.html (default true)
    cdn = false                # map.html loads Leaflet from a CDN (default false: self-contained)

    [[jobs]]
    name = "idaho"
    config = "idaho.toml"      # a run config (see sitescreen.run.config)
    out = "out/idaho"
    # profile = "strict.toml", crs = "EPSG:5070"   (override the config's [run] values)

Each job's outputs are written into a temporary sibling folder and moved into place when complete
(:func:`sitescreen.outputs.staging.staged_dir`), so a batch killed at any moment leaves no half-written
output folder; temporary folders a killed run left behind are removed by the next run. A job whose
output folder holds a manifest with the same run (config as data) and the same input hashes is
skipped as ``up to date``, so re-running a killed batch completes it. A failing job is reported
with its error and the other jobs still run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from sitescreen.children import process_pool, simple_queue, stop_pool
from sitescreen.errors import OutputError, SitescreenError
from sitescreen.inputs.tomlfile import check_keys, read_toml

log = logging.getLogger(__name__)

STATUSES = ("done", "up to date", "failed")
OVERRIDES = {"profile": str, "crs": str, "map": bool, "report": bool, "cdn": bool}
JOB_KEYS = ("name", "config", "out")


class JobsFileError(SitescreenError):
    """A jobs file is malformed."""


@dataclass(frozen=True)
class Job:
    name: str
    config: Path
    out: Path
    profile: str | None = None
    crs: str | None = None
    map: bool = True
    report: bool = True
    cdn: bool = False  # the map loads Leaflet from a CDN (a smaller page) instead of being self-contained
    # files of the batch no job's output may hold (jobs file, configs, inputs): see batch_paths
    protected: tuple[Path, ...] = field(default=(), compare=False, repr=False)


@dataclass
class JobResult:
    name: str
    status: str               # one of STATUSES
    out: str
    sites: int | None = None
    seconds: float = 0.0
    error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class JobEvent:
    """A step of a running job, as its process reports it: ``stage`` "start", then the screening's
    stages with their site counts (see :data:`sitescreen.run.stream.Progress`)."""
    name: str
    stage: str
    done: int | None = None
    total: int | None = None


def load_jobs(path: str | Path) -> list[Job]:
    """The jobs of a jobs file, validated; paths resolved against the file's folder."""
    path = Path(path)
    data, _ = read_toml(path, "jobs", JobsFileError, hint="check the path")
    check_keys(data, ("defaults", "jobs"), str(path), JobsFileError)
    base = path.parent.resolve()
    defaults = _overrides(data.get("defaults", {}), base, f"{path}: [defaults]")
    entries = data.get("jobs")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, Mapping) for e in entries):
        raise JobsFileError(f"{path}: needs at least one [[jobs]] table with name, config and out")
    jobs: list[Job] = []
    for i, e in enumerate(entries):
        where = f"{path}: jobs[{i}]"
        check_keys(e, JOB_KEYS + tuple(OVERRIDES), where, JobsFileError)  # a mistyped key first: named, not "required"
        for key in JOB_KEYS:
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise JobsFileError(f"{where}: '{key}' is required (a string)")
        extra = {k: v for k, v in e.items() if k not in JOB_KEYS}
        opts = {**defaults, **_overrides(extra, base, f"{where} ({e['name']})")}
        jobs.append(Job(name=e["name"], config=_resolve(base, e["config"]), out=_resolve(base, e["out"]), **opts))
    seen: dict[Any, str] = {}
    for j in jobs:
        if j.name in seen:
            raise JobsFileError(f"{path}: jobs {seen[j.name]!r} and {j.name!r} have the same name {j.name!r}; each job needs its own")
        seen[j.name] = j.name
    check_job_outputs(path, jobs)
    protected = batch_paths(path, jobs)
    from sitescreen.outputs.staging import guard_never
    for j in jobs:  # before any job runs: no job's output folder may hold a file of the batch
        try:
            guard_never(j.out, protected)
        except OutputError as exc:
            raise JobsFileError(f"{path}: job {j.name!r}: {exc}") from None
    return [replace(j, protected=protected) for j in jobs]


def check_job_outputs(path: Path, jobs: list[Job]) -> None:
    """Refuse two jobs whose output folders resolve to the same folder or one inside the other
    (symlinks and ``..`` resolved): one job's outputs would replace the other's."""
    real = [(j, Path(os.path.realpath(j.out))) for j in jobs]
    for i, (a, ra) in enumerate(real):
        for b, rb in real[i + 1:]:
            if ra == rb:
                raise JobsFileError(f"{path}: jobs {a.name!r} and {b.name!r} have the same output folder {str(ra)!r} "
                                    f"(out = {str(a.out)!r} and {str(b.out)!r}); each job needs its own")
            if ra in rb.parents or rb in ra.parents:
                outer, inner = (a, b) if ra in rb.parents else (b, a)
                raise JobsFileError(f"{path}: job {inner.name!r} writes into {str(inner.out)!r}, inside the output folder "
                                    f"{str(outer.out)!r} of job {outer.name!r}; give each job a folder of its own")


def batch_paths(path: Path, jobs: list[Job]) -> tuple[Path, ...]:
    """The jobs file, every job's config and profile, and every input of the configs that load
    (a config that does not load fails its own job later)."""
    from sitescreen.outputs.files import run_paths
    paths = [path] + [j.config for j in jobs] + [Path(j.profile) for j in jobs if j.profile and j.profile.endswith(".toml")]
    for j in jobs:
        try:
            paths += run_paths(job_config(j))
        except SitescreenError:
            pass
    return tuple(dict.fromkeys(Path(p) for p in paths))


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else base / q


def _overrides(data: Any, base: Path, where: str) -> dict:
    if not isinstance(data, Mapping):
        raise JobsFileError(f"{where} must be a table")
    check_keys(data, OVERRIDES, where, JobsFileError)
    out = {}
    for k, v in data.items():
        if not isinstance(v, OVERRIDES[k]):
            raise JobsFileError(f"{where}: {k} must be a {OVERRIDES[k].__name__}, got {v!r}")
        if k == "profile" and v.endswith(".toml"):
            v = str(_resolve(base, v))
        out[k] = v
    return out


def job_config(job: Job):
    """The job's RunConfig: its config file with the job's overrides."""
    from sitescreen.run.config import load_config
    config = load_config(job.config)
    over = {k: getattr(job, k) for k in ("profile", "crs") if getattr(job, k) is not None}
    return replace(config, **over) if over else config


def _wanted_files(job: Job) -> list[str]:
    from sitescreen.outputs.staging import RESULT_FILES
    return list(RESULT_FILES) + (["map.html"] if job.map else []) + (["report.html"] if job.report else [])


def up_to_date(job: Job, config=None) -> bool:
    """True when the job's output folder is complete and was made from the same run and inputs."""
    return stale_reason(job, config) is None


def stale_reason(job: Job, config=None) -> str | None:
    """What makes the job's output folder other than a complete run of the job as it is now (a
    missing output, an unreadable manifest, another sitescreen version, a changed config, an input
    file whose sha256 changed), or None when it is up to date."""
    from sitescreen import __version__
    from sitescreen.run.config import config_to_dict
    from sitescreen.outputs.files import manifest_text
    from sitescreen.run.inputcheck import check_inputs
    from sitescreen.record.manifest import read_record
    missing = [f for f in _wanted_files(job) if not (job.out / f).is_file()]
    if missing:
        return f"{missing[0]} is missing" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
    try:
        manifest = read_record(job.out / "manifest.json")
    except SitescreenError as exc:  # unreadable, or from another version: screened again
        return f"its manifest cannot be read ({exc})"
    config = config if config is not None else job_config(job)
    if manifest.tool.version != __version__:
        return f"it was made by sitescreen {manifest.tool.version}, this is sitescreen {__version__}"
    changed = _changed(manifest.run, json.loads(manifest_text(config_to_dict(config))))
    if changed:
        return f"the run config changed: {changed}"
    differences = check_inputs(manifest, config)
    return str(differences[0]) if differences else None


def _changed(before: Any, now: Any) -> str:
    """The keys that differ between two run configs: "sites.radius_m was 1000, now 1200"."""
    old, new = dict(_flat(before)), dict(_flat(now))
    keys = sorted(k for k in set(old) | set(new) if old.get(k, _NONE) != new.get(k, _NONE))
    words = [f"{k} was {_said(old.get(k, _NONE))}, now {_said(new.get(k, _NONE))}" for k in keys[:1]]
    return "; ".join(words) + (f" (and {len(keys) - 1} more)" if len(keys) > 1 else "")


_NONE = object()


def _said(v: Any) -> str:
    return "not set" if v is _NONE else json.dumps(v, ensure_ascii=False)


def _flat(value: Any, prefix: str = ""):
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from _flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def run_job(job: Job, overwrite: bool = False, on_event: Callable[[JobEvent], None] | None = None) -> JobResult:
    """One job, start to end; never raises for a job's own failure (the batch goes on). ``on_event``
    hears the job start and the screening's progress (:class:`JobEvent`)."""
    from sitescreen.outputs.files import MapOptions
    from sitescreen.outputs.staging import check_out_dir, clean_stale
    from sitescreen.run.stream import screen_to_folder
    global _BUSY
    t0 = time.perf_counter()
    res = JobResult(name=job.name, status="failed", out=str(job.out))
    _BUSY = True
    say = None if on_event is None else (lambda stage, done=None, total=None:
                                         on_event(JobEvent(job.name, stage, done, total)))
    try:
        if say:
            say("start")
        clean_stale(job.out)  # left by a killed run
        config = job_config(job)
        reason = stale_reason(job, config)
        if reason is None:
            from sitescreen.record.manifest import read_record
            res.status, res.sites = "up to date", read_record(job.out / "manifest.json").sites.sites
        else:
            _check_redo(job, reason, overwrite)
            check_out_dir(job.out, overwrite, job.protected)
            manifest = screen_to_folder(config, job.out, overwrite=overwrite, protected=job.protected,
                                        options=MapOptions(write_map=job.map, write_report=job.report,
                                                           self_contained=not job.cdn), progress=say)
            res.status, res.sites = "done", manifest.sites.sites
    except SitescreenError as exc:
        res.error = str(exc)
    except Exception as exc:  # a bug in one job must not stop the batch; reported, not hidden
        log.debug("job %s failed", job.name, exc_info=True)
        res.error = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        _BUSY = False
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


def _check_redo(job: Job, reason: str, overwrite: bool) -> None:
    """A job whose folder holds an earlier run that is not up to date (``reason``): redone with
    ``overwrite``, else stopped with what changed."""
    from sitescreen.outputs.staging import is_sitescreen_output
    if job.out.is_dir() and is_sitescreen_output(job.out):
        if not overwrite:
            raise OutputError(f"{job.out}: holds an earlier run that is not up to date ({reason}); "
                              f"pass --overwrite to replace it")
        log.info("%s: redone: %s", job.name, reason)


#: Seconds between the batch's looks at its workers' progress events.
POLL_SECONDS = 0.2


def run_batch(jobs: list[Job], workers: int = 1, overwrite: bool = False,
              on_done: Callable[[JobResult], None] | None = None,
              on_event: Callable[[JobEvent], None] | None = None) -> list[JobResult]:
    """Run every job (``workers`` > 1: that many processes); results in the jobs' order.
    ``on_event`` hears each job start and its progress (from the workers, through a queue),
    ``on_done`` each job's result."""
    results: dict[str, JobResult] = {}

    def done(r: JobResult) -> None:
        results[r.name] = r
        if on_done:
            on_done(r)

    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done(run_job(job, overwrite, on_event))
        return [results[j.name] for j in jobs]
    events = simple_queue() if on_event else None
    pool = process_pool(min(workers, len(jobs)), initializer=_worker_init,  # workers die with this process
                        initargs=(events,))
    futures: dict[Future, Job] = {}
    try:
        futures = {pool.submit(_worker_job, job, overwrite): job for job in jobs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            _drain(events, on_event)
            for f in finished:
                job = futures[f]
                try:
                    done(f.result())
                except BrokenProcessPool:
                    done(JobResult(job.name, "failed", str(job.out), error="its worker process died (killed or out of memory)"))
                except BaseException as exc:  # KeyboardInterrupt inside a worker
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    done(JobResult(job.name, "failed", str(job.out), error=f"internal error: {type(exc).__name__}: {exc}"))
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    if events is not None:
        events.close()
    return [results[j.name] for j in jobs]


def _drain(events, on_event) -> None:
    while events is not None and not events.empty():
        on_event(events.get())


_EVENTS = None  # in a worker: the queue its jobs' events go to (None: not wanted)


def _worker_job(job: Job, overwrite: bool) -> JobResult:
    return run_job(job, overwrite, None if _EVENTS is None else _EVENTS.put)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: each removes its temporary output folder on SIGTERM (see _worker_init)."""
    stop_pool(pool)


def _worker_init(events=None) -> None:
    """In each worker: SIGTERM and SIGINT unwind (temporary outputs are removed). A worker is killed
    when the batch process dies, even by SIGKILL (sitescreen.children); the next run removes its
    temporary folder. ``events``: the queue the worker's jobs report their progress to."""
    global _EVENTS
    _EVENTS = events
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)


_BUSY = False  # a worker is inside run_job (it must unwind to remove its temporary folder)


def _raise_interrupt(signum, frame):
    if not _BUSY:
        os._exit(128 + signum)  # idle worker: nothing to clean up, no traceback
    raise KeyboardInterrupt(f"signal {signum}")


def summary_table(results: list[JobResult]) -> str:
    """A plain text table: job, status, sites, seconds, error."""
    rows = [("job", "status", "sites", "seconds", "error")]
    rows += [(r.name, r.status, "" if r.sites is None else str(r.sites), f"{r.seconds:.1f}", r.error) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = ["Job", "JobResult", "JobEvent", "load_jobs", "run_job", "run_batch", "up_to_date", "summary_table", "JobsFileError"]
