"""``sitescreen verify``: confirm that a finished run reproduces."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.review.verify import verify
from sitescreen.values import strict_json


@click.command("verify")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify_command(ctx, out_dir, as_json):
    """Re-hash the inputs of the run in OUT_DIR, re-run it and compare every result.

    Checks the sha256 of the sites file, every layer and the profile against the
    manifest, the sha256 of every output file (sites.gpkg, sites.parquet,
    sites.csv, map.html, report.html) against the manifest's outputs, and the
    input paths the manifest records; repeats the screening from the manifest,
    and compares the new results with sites.parquet, sites.gpkg, sites.csv and
    manifest.json. Prints every
    difference (file, site, column) and exits 1 if there is any, 0 when the
    results reproduce.
    """
    report = verify(out_dir)
    if as_json:
        click.echo(strict_json(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for note in report.notes:
            click.echo(f"Note: {note}")
        for d in report.differences:
            click.echo(f"DIFFERENT {d}")
        if report.ok:
            click.echo(f"OK: {out_dir} reproduces ({report.inputs_checked} input files re-hashed, "
                       f"{report.outputs_checked} output files checked, "
                       f"{report.sites_compared} sites × {report.columns_compared} columns compared)")
        else:
            click.echo(f"FAILED: {out_dir} does not reproduce ({len(report.differences)} difference(s))")
    if not report.ok:
        ctx.exit(1)
