"""``sitescreen batch``: many screenings from one jobs file, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.run.batch import load_jobs, run_batch, summary_table
from sitescreen.values import strict_json


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
    finished = []

    def on_done(r):
        finished.append(r)
        if not quiet:
            detail = r.error if r.status == "failed" else f"{r.sites} sites"
            click.echo(f"[{len(finished)}/{n}] {r.name}: {r.status} ({detail}, {r.seconds:.1f} s)", err=True)

    results = run_batch(jobs, workers=workers, overwrite=overwrite, on_done=on_done)
    if as_json:
        click.echo(strict_json([r.as_dict() for r in results], indent=2, ensure_ascii=False))
    else:
        click.echo(summary_table(results))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        if not as_json:
            click.echo(f"{len(failed)} of {n} job(s) failed", err=True)
        ctx.exit(1)
