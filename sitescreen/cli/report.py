"""``sitescreen report``: rebuild report.html from a finished run folder, without screening again."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.outputs.files import write_rebuilt
from sitescreen.cli.map import resolve_output
from sitescreen.record.decisions import with_decisions


@click.command("report")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write.  [default: OUT_DIR/report.html]")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def report_command(out_dir: Path, output: Path | None, overwrite: bool) -> None:
    """Rebuild the review report of the results in OUT_DIR (self-contained HTML; prints to PDF)."""
    from sitescreen.outputs.files import read_results
    from sitescreen.outputs.report import build_report

    path = resolve_output(out_dir, output, "report.html", overwrite)
    sites, manifest = read_results(out_dir)
    sites = with_decisions(sites, out_dir)
    write_rebuilt(out_dir, path, build_report(sites, manifest))
    click.echo(str(path))
