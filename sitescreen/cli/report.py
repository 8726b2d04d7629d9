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
@click.option("--overwrite", is_flag=True,
              help="Replace an existing file (OUT_DIR's own page is rebuilt without it while unchanged since the run).")
@click.option("--rollup", "rollups", multiple=True, metavar="watershed|hucN|FILE[:FIELD]",
              help="Add a roll-up section (as `sitescreen rollup --by`); may be repeated.")
def report_command(out_dir: Path, output: Path | None, overwrite: bool, rollups: tuple[str, ...] = ()) -> None:
    """Rebuild the review report of the results in OUT_DIR (self-contained HTML; prints to PDF)."""
    from sitescreen.outputs.files import read_results
    from sitescreen.outputs.report import build_report

    path = resolve_output(out_dir, output, "report.html", overwrite)
    sites, manifest = read_results(out_dir)
    sites = with_decisions(sites, out_dir)
    from sitescreen.outputs.reportsensitivity import read_sensitivity
    write_rebuilt(out_dir, path, build_report(sites, manifest, read_sensitivity(out_dir, manifest),
                                              sections=rollup_sections(out_dir, rollups)))
    click.echo(str(path))


def rollup_sections(out_dir: Path, rollups: tuple[str, ...]) -> tuple[str, ...]:
    """The report sections of the roll-ups ``rollups`` names (computed before anything is written)."""
    from sitescreen.outputs.rollupsection import rollup_section
    from sitescreen.review.rollup import rollup
    out = []
    for i, by in enumerate(rollups):
        r = rollup(out_dir, by)
        out.append(rollup_section(r.table, r.units.by, r.units.source, r.units.field, f"rollup-{i + 1}"))
    return tuple(out)
