"""``sitescreen sources``: every rule and every input of a finished run, for the permit file."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.outputs.sources import rows_csv, rows_text, source_rows
from sitescreen.values import strict_json


@click.command("sources")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV (to attach to a permit file).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def sources_command(out_dir: Path, as_csv: bool, as_json: bool) -> None:
    """List every rule (safeguard, legal source) and every file (publisher, SHA-256, features, date)
    of the run in OUT_DIR."""
    from dataclasses import asdict

    from sitescreen.outputs.files import written_manifest
    if as_csv and as_json:
        raise click.UsageError("give --csv or --json, not both")
    rows = source_rows(written_manifest(out_dir))
    if as_json:
        click.echo(strict_json([asdict(r) for r in rows], indent=2, ensure_ascii=False))
    else:
        click.echo(rows_csv(rows) if as_csv else rows_text(rows), nl=False)
