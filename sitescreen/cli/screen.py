"""``sitescreen screen``: run a screening and write every output."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.errors import ConfigError
from sitescreen.measure.engine import DEFAULT_CHUNK, ENGINES, check_scheduler
from sitescreen.outputs.files import run_paths
from sitescreen.outputs.staging import check_out_dir
from sitescreen.run.stream import STREAM_MIN_SITES, screen_to_folder
from sitescreen.cli.options import Progress, build_config, inputs_options, make_map_options, map_options
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.reviewwords import crs_phrase, not_evaluated_line, shared_outlines_text, site_chain


def summary_lines(m: RunRecord, out_dir: Path) -> list[str]:
    s = m.sites
    counts = ", ".join(f"{v} {k}" for k, v in m.counts.items() if v)
    lines = [f"Screened {s.sites} sites ({counts}) in {crs_phrase(m.crs, m.zones)} with profile {m.profile.name}."]
    if s.chain():
        lines.append(f"Sites: {site_chain(s.chain())}.")
    shared = shared_outlines_text(s.sites_sharing_outlines, s.shared_outlines)
    if shared:
        lines.append(f"Sites: {shared}.")
    skipped = not_evaluated_line((c.name, c.note) for c in m.criteria if not c.evaluated)
    if skipped:
        lines.append(f"{skipped}.")
    lines.append(f"Results in {out_dir}/")
    pages = [f"{Path(out_dir) / name} ({what})" for name, what in (("map.html", "the map"), ("report.html", "the review report"))
             if name in (m.outputs or {})]
    if pages:
        lines.append("Open " + " and ".join(pages) + ".")
    return lines


def _scheduler(ctx, param, value):
    try:
        return check_scheduler(value) if value else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("screen")
@inputs_options
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@map_options
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="Where measurements run: this machine (in spatial chunks) or Dask (sitescreen[dask]).")
@click.option("--scheduler", default=None, metavar="ADDRESS", callback=_scheduler,
              help="Dask scheduler address (tcp://host:8786) for --engine dask; a local cluster of processes when omitted.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Processes of the local Dask cluster (--engine dask without --scheduler; default: one per core).")
@click.option("--chunk-size", type=click.IntRange(1), default=DEFAULT_CHUNK, show_default=True,
              help="Sites per spatial chunk: read, measured, scored and written together (bounds memory).")
@click.option("--stream/--no-stream", default=None,
              help=f"Read, measure and write the sites a chunk at a time, so memory does not grow with their number "
                   f"(polygon sites from GeoParquet/GeoPackage; output rows in spatial chunks). "
                   f"Default: when the sites file has more than {STREAM_MIN_SITES:,} records.")
@click.option("--json", "as_json", is_flag=True, help="Print the run manifest as JSON instead of a summary.")
@click.pass_context
def screen_command(ctx, sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where, grid_cell_m,
                   skip_invalid, id_field, name_field, merge_distance_m, out_dir, overwrite, no_map, no_report, self_contained, offline, basemap, engine,
                   scheduler, workers, chunk_size, stream, as_json):
    """Screen SITES (deposit points or polygons) against the layers and write results to --out.

    \b
    Outputs: sites.gpkg (QGIS-styled), sites.parquet, sites.csv, manifest.json,
    map.html and report.html.
    \b
    Example (the shared Idaho data):
      sitescreen screen lanthanum_datafile.csv --sites-where state=Idaho \\
        --layer federal_land=padus_ID.geojson --layer watershed=huc8_pnw.geojson \\
        --layer protected=nps_national_parks.geojson --layer protected=wilderness.shp --out idaho
    """
    if engine != "dask" and (scheduler or workers):
        raise click.UsageError("--scheduler and --workers go with --engine dask")
    if scheduler and workers:
        raise click.UsageError("--workers sizes the local Dask cluster; a --scheduler's cluster has its own workers")
    config = build_config(sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where,
                          grid_cell_m, skip_invalid, id_field, name_field, merge_distance_m)
    check_out_dir(out_dir, overwrite, run_paths(config))
    progress = Progress(not ctx.obj.get("quiet"))
    try:
        manifest = screen_to_folder(config, out_dir, overwrite=overwrite,
                                    options=make_map_options(no_map, no_report, self_contained, offline, basemap),
                                    chunk_size=chunk_size, engine=engine, scheduler=scheduler, workers=workers,
                                    stream=stream, progress=progress)
    finally:
        progress.close()
    if as_json:
        from sitescreen.record import manifest as record
        click.echo(record.to_json(manifest), nl=False)
    elif not ctx.obj.get("quiet"):
        for line in summary_lines(manifest, out_dir):
            click.echo(line)
