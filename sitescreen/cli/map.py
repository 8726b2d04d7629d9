"""``sitescreen map``: rebuild map.html from a finished run folder, without screening again."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from ..errors import OutputError
from ..mapping import BASEMAPS


def resolve_output(out_dir: Path, output: Path | None, default_name: str, overwrite: bool) -> Path:
    """The file to write: ``output`` or ``out_dir/default_name``; refuses to replace without --overwrite."""
    path = output if output is not None else out_dir / default_name
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: exists; pass --overwrite to replace it")
    if path.exists() and path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and os.replace: never a half-written page."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a map is meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


@click.command("map")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="HTML file to write.  [default: OUT_DIR/map.html]")
@click.option("--self-contained", is_flag=True,
              help="Inline Leaflet, styles and data: one HTML file that loads nothing from a CDN.")
@click.option("--offline", is_flag=True, help="Self-contained and no basemap (air-gapped offices).")
@click.option("--basemap", type=click.Choice(list(BASEMAPS)), default="osm", show_default=True,
              help="Background map (imagery is offered as an alternative in the layer control).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
@click.pass_context
def map_command(ctx: click.Context, out_dir: Path, output: Path | None, self_contained: bool, offline: bool,
                basemap: str, overwrite: bool) -> None:
    """Rebuild the interactive map of the results in OUT_DIR (no re-screening).

    Input layers are re-read from the paths in OUT_DIR/manifest.json and drawn around the sites;
    a layer whose file is gone is left off the map with a warning.
    """
    from ..outputs import read_results
    from ..pipeline import display_layers
    from ..mapping import render_map

    if offline and basemap != "none" and ctx.get_parameter_source("basemap") == click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"--offline draws no basemap; drop --basemap {basemap} or --offline",
                                 ctx=ctx, param_hint="'--basemap'")
    path = resolve_output(out_dir, output, "map.html", overwrite)
    sites, manifest = read_results(out_dir)
    layers = display_layers(manifest, sites)
    html = render_map(sites, layers, manifest, self_contained=self_contained or offline,
                      basemap="none" if offline else basemap)
    write_atomic(path, html)
    click.echo(str(path))
