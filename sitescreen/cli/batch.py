"""``sitescreen batch``: many screenings from one jobs file, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sitescreen.cli.options import Progress
from sitescreen.run.batch import JobEvent, JobResult, load_jobs, run_batch, summary_table
from sitescreen.values import strict_json


class JobsProgress:
    """Which jobs are running and how far each is, on stderr: a live bar per running job on a
    terminal (sites counted, as ``screen`` shows them), else a line as each job starts and ends;
    nothing with -q or --json."""

    def __init__(self, n: int, enabled: bool, file=None):
        self.n, self.enabled, self.finished = n, enabled, 0
        self.file = file if file is not None else sys.stderr
        self.live = enabled and self.file.isatty()
        self.running: dict[str, Progress] = {}

    def _say(self, line: str) -> None:
        if self.live:
            from tqdm import tqdm
            tqdm.write(line, file=self.file)
        else:
            click.echo(line, file=self.file)

    def event(self, e: JobEvent) -> None:
        if not self.enabled:
            return
        if e.stage == "start":
            self.running[e.name] = Progress(self.live, file=self.file, label=e.name, position=len(self.running))
            if not self.live:
                self._say(f"[start] {e.name} (running: {', '.join(self.running)})")
        elif e.name in self.running:
            self.running[e.name](e.stage, e.done, e.total)

    def done(self, r: JobResult) -> None:
        self.finished += 1
        bar = self.running.pop(r.name, None)
        if bar is not None:
            bar.close()
        if self.enabled:
            detail = r.error if r.status == "failed" else f"{r.sites} sites"
            also = f"; running: {', '.join(self.running)}" if self.running else ""
            self._say(f"[{self.finished}/{self.n}] {r.name}: {r.status} ({detail}, {r.seconds:.1f} s){also}")

    def close(self) -> None:
        for bar in self.running.values():
            bar.close()


@click.command("batch")
@click.argument("jobs_file", type=click.Path(path_type=Path))
@click.option("-j", "--jobs", "workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run this many jobs at once, each in its own process.")
@click.option("--overwrite", is_flag=True, help="Replace output folders whose inputs or config changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of a table.")
@click.pass_context
def batch_command(ctx, jobs_file, workers, overwrite, as_json):
    """Run every screening listed in JOBS_FILE (TOML) and print a summary.

    \b
    JOBS_FILE, paths relative to it:
      [defaults]              # optional: profile, crs, map, report
      map = false
      [[jobs]]
      name = "idaho"
      config = "idaho.toml"   # a run config
      out = "out/idaho"

    Jobs whose output folder already holds a complete run of the same config
    and unchanged inputs (by the manifest's sha256) are skipped as "up to
    date", so re-running a killed batch completes it. Each job's outputs
    appear only when complete. Exit 1 if any job failed.
    """
    jobs = load_jobs(jobs_file)
    quiet = ctx.obj.get("quiet") or as_json
    n = len(jobs)
    shown = JobsProgress(n, enabled=not quiet)
    try:
        results = run_batch(jobs, workers=workers, overwrite=overwrite, on_done=shown.done, on_event=shown.event)
    finally:
        shown.close()
    if as_json:
        click.echo(strict_json([r.as_dict() for r in results], indent=2, ensure_ascii=False))
    else:
        click.echo(summary_table(results))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        if not as_json:
            click.echo(f"{len(failed)} of {n} job(s) failed", err=True)
        ctx.exit(1)
