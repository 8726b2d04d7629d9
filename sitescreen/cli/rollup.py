"""``sitescreen rollup``: a finished run's sites added up per watershed, HUC level or polygon of a file."""

from __future__ import annotations

from pathlib import Path

import click


def _out_path(ctx, param, value: Path | None) -> Path | None:
    from sitescreen.review.rollupfiles import SUFFIXES
    if value is not None and value.suffix.lower() not in SUFFIXES:
        raise click.BadParameter(f"{value}: give a {' or '.join(SUFFIXES)} file", ctx=ctx, param=param)
    return value


@click.command("rollup")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--by", "by", required=True, metavar="watershed|hucN|FILE[:FIELD]",
              help="The units: the run's watershed layer (watershed), a HUC level of it (huc2, huc4, … huc16), "
                   "or any polygon file with the field naming its units (default: a name field).")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=_out_path,
              help="Write the roll-up as FILE.gpkg (the units' polygons with the columns) or FILE.csv.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help="Print the roll-up as JSON.")
def rollup_command(out_dir: Path, by: str, out: Path | None, overwrite: bool, as_json: bool) -> None:
    """Add up the sites of the run in OUT_DIR per unit: sites by verdict, score min/median/mean/max,
    footprint area by verdict (km², overlaps counted once) and the share of the unit it takes.

    A site belongs to the unit holding most of its footprint (at least half of it); the others are
    counted as "outside every unit"."""
    from sitescreen.review.rollup import rollup
    from sitescreen.review.rollupfiles import rollup_json, rollup_text, write_rollup

    result = rollup(out_dir, by)
    if out is not None:
        write_rollup(result, out, overwrite)
    if as_json:
        click.echo(rollup_json(result))
    elif out is not None:
        click.echo(str(out))
    else:
        click.echo(rollup_text(result), nl=False)
