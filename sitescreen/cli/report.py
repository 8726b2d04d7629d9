"""``sitescreen report``: rebuild report.html from a finished run folder, without screening again."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.outputs.files import write_rebuilt
from sitescreen.cli.map import resolve_output


@click.command("report")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write.  [default: OUT_DIR/report.html]")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing file (OUT_DIR's own page is rebuilt without it while unchanged since the run).")
def report_command(out_dir: Path, output: Path | None, overwrite: bool) -> None:
    """Rebuild the review report of the results in OUT_DIR (self-contained HTML; prints to PDF)."""
    from sitescreen.outputs.files import read_results
    from sitescreen.outputs.report import build_report

    path = resolve_output(out_dir, output, "report.html", overwrite)
    sites, manifest = read_results(out_dir)
    from sitescreen.outputs.reportsensitivity import read_sensitivity
    write_rebuilt(out_dir, path, build_report(sites, manifest, read_sensitivity(out_dir, manifest)))
    click.echo(str(path))
