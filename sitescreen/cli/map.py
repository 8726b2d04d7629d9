"""``sitescreen map``: rebuild map.html from a finished run folder, without screening again."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.errors import OutputError
from sitescreen.outputs.files import rebuilt_output_path, write_rebuilt
from sitescreen.outputs.mapping import BASEMAPS
from sitescreen.cli.options import OFFLINE_OPTION, SELF_CONTAINED_OPTION, check_offline
from sitescreen.record.decisions import with_decisions
from sitescreen.outputs.reportsensitivity import with_stability


def resolve_output(out_dir: Path, output: Path | None, default_name: str, overwrite: bool) -> Path:
    """The file to write: ``output`` or ``out_dir/default_name``; without --overwrite it replaces only the
    run folder's own page unchanged since the run (and, with it, only the run's own file or an earlier
    sitescreen HTML file, never an input of the run)."""
    return rebuilt_output_path(out_dir, output, default_name, overwrite, recorded_inputs(out_dir))


def recorded_inputs(out_dir: Path) -> list[Path]:
    """The files the run in ``out_dir`` read (from its manifest; none when it cannot be read)."""
    from sitescreen.errors import SitescreenError
    from sitescreen.outputs.files import run_paths
    from sitescreen.record.manifest import read_record
    from sitescreen.run.config import config_from_manifest
    try:
        return run_paths(config_from_manifest(read_record(Path(out_dir) / "manifest.json")))
    except (OSError, ValueError, SitescreenError, KeyError, TypeError):
        return []


def read_region(out_dir: Path, aoi: str | None):
    """The sites and manifest of a run folder; only the sites touching ``aoi`` when given."""
    from sitescreen.outputs.files import read_results
    sites, manifest = read_results(out_dir)
    if aoi:
        from sitescreen.sites.aoi import aoi_geometry, parse_aoi
        area = aoi_geometry(parse_aoi(aoi)).to_crs(sites.crs).iloc[0]
        sites = sites.loc[sites.intersects(area)].reset_index(drop=True)
        if not len(sites):
            raise OutputError(f"{out_dir}: no site of the run touches the area {aoi}")
    return sites, manifest


@click.command("map")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write.  [default: OUT_DIR/map.html]")
@SELF_CONTAINED_OPTION
@OFFLINE_OPTION
@click.option("--basemap", type=click.Choice(list(BASEMAPS)), default="osm", show_default=True,
              help="Background map (imagery is offered as an alternative in the layer control).")
@click.option("--aoi", default=None, metavar="BBOX|FILE",
              help="Only the sites touching this area: minx,miny,maxx,maxy in degrees, or a polygon file "
                   "(a region of a large run).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing file (OUT_DIR's own page is rebuilt without it while unchanged since the run).")
@click.option("--rollup", "rollups", multiple=True, metavar="watershed|hucN|FILE[:FIELD]",
              help="Add a layer of roll-up units (as `sitescreen rollup --by`; a unit's popup has its verdict mix); "
                   "may be repeated.")
@click.pass_context
def map_command(ctx: click.Context, out_dir: Path, output: Path | None, self_contained: bool, offline: bool,
                basemap: str, aoi: str | None, overwrite: bool, rollups: tuple[str, ...] = ()) -> None:
    """Rebuild the interactive map of the results in OUT_DIR (no re-screening).

    Input layers are re-read from the paths in OUT_DIR/manifest.json and drawn around the sites;
    a layer whose file is gone is left off the map with a warning.
    """
    from sitescreen.outputs.maplayers import display_layers
    from sitescreen.outputs.mapping import render_map

    if offline and basemap != "none" and ctx.get_parameter_source("basemap") == click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"--offline draws no basemap; drop --basemap {basemap} or --offline",
                                 ctx=ctx, param_hint="'--basemap'")
    check_offline(self_contained, offline)
    path = resolve_output(out_dir, output, "map.html", overwrite)
    sites, manifest = read_region(out_dir, aoi)
    sites = with_decisions(sites, out_dir)
    sites = with_stability(sites, out_dir, manifest)
    layers = display_layers(manifest, sites) + rollup_layers(out_dir, rollups)
    html = render_map(sites, layers, manifest, self_contained=self_contained,
                      basemap="none" if offline else basemap)
    write_rebuilt(out_dir, path, html)
    click.echo(str(path))


def rollup_layers(out_dir: Path, rollups: tuple[str, ...]) -> list:
    """One map layer per roll-up (its units' polygons; a unit's popup is its roll-up line)."""
    from sitescreen.review.rollup import rollup
    from sitescreen.review.rollupfiles import rollup_display
    return [rollup_display(rollup(out_dir, by)) for by in rollups]
