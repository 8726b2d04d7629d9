"""Options shared by several commands, defined once (as in rasterio's ``rio/options.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from sitescreen.run.config import OVERRIDE_FLAGS, SITE_FILE_FLAGS, Overrides, RunConfig, apply_overrides, load_config, site_options
from sitescreen.errors import ConfigError, LayerConfigError
from sitescreen.inputs.spec import parse_layer_arg
from sitescreen.inputs.numbers import RANGES, check_number
from sitescreen.sites.aoi import parse_aoi
from sitescreen.outputs.files import MapOptions

def _basemaps() -> tuple[str, ...]:
    from sitescreen.outputs.mapping import BASEMAPS
    return tuple(BASEMAPS)


BASEMAP_CHOICES = _basemaps()


def _layer_callback(ctx, param, values):
    try:
        return tuple(parse_layer_arg(v) for v in values)
    except LayerConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _sites_callback(ctx, param, value):
    """SITES takes the same PATH[:LAYER][@CRS] as --layer (e.g. points.csv@EPSG:26911)."""
    return None if value is None else parse_layer_arg(f"sites={value}")


def _aoi_callback(ctx, param, value):
    try:
        return parse_aoi(value, "--aoi")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _where_callback(ctx, param, values):
    out: dict[str, list[str]] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{v!r}: expected FIELD=VALUE (repeat for several values)", ctx=ctx, param=param)
        out.setdefault(key, []).append(val)
    return {k: tuple(v) for k, v in out.items()}


class Number(click.ParamType):
    """A number flag checked against its setting's range (:data:`sitescreen.inputs.numbers.RANGES`): exit 2."""

    name = "number"

    def __init__(self, setting: str):
        self.setting = setting

    def convert(self, value, param, ctx):
        flag = param.opts[0] if param is not None else self.setting
        try:
            number = value if isinstance(value, (int, float)) else float(value)
            return check_number(self.setting, number, key=flag)
        except ValueError:
            self.fail(f"{flag} must be a number, got {value!r}; allowed: {RANGES[self.setting].text()}", param, ctx)
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


def inputs_options(f: Callable) -> Callable:
    """SITES, --layer, --config and the site/run options shared by screen and check."""
    decorators = [
        click.argument("sites", required=False, callback=_sites_callback, metavar="[SITES[:LAYER][@CRS]]"),
        click.option("--config", "config_path", type=click.Path(path_type=Path),
                     help="Run config (TOML) with sites, layers and profile; paths relative to it. "
                          "The site and run flags below override its values (recorded in the manifest)."),
        click.option("--layer", "layers", multiple=True, callback=_layer_callback, metavar="ROLE=PATH[:LAYER][@CRS]",
                     help="An input layer (repeatable). ROLE e.g. federal_land, watershed, protected, dem; "
                          ":LAYER picks a GeoPackage layer (a raster's band: its number or description); "
                          "@CRS overrides a missing or wrong CRS."),
        click.option("--profile", default=None, metavar="NAME|FILE",
                     help="Scoring profile: a built-in name (federal-safeguards) or a TOML file."),
        click.option("--aoi", default=None, callback=_aoi_callback, metavar="BBOX|FILE",
                     help="Area of interest: west,south,east,north in degrees (west > east crosses 180°), "
                          "or a polygon file."),
        click.option("--crs", default=None, metavar="CRS",
                     help="Working CRS (default EPSG:5070 in CONUS, else chosen from the sites' location)."),
        click.option("--radius", "radius_m", type=Number("radius_m"), default=None, metavar="METRES",
                     help=f"Footprint radius around deposit points (default 1000; {RANGES['radius_m'].text()})."),
        click.option("--commodity", default=None, metavar="NAME",
                     help="Commodity filter for deposit records: rare-earths (default) or any."),
        click.option("--sites-where", "sites_where", multiple=True, callback=_where_callback, metavar="FIELD=VALUE",
                     help="Keep only sites whose FIELD equals VALUE (repeatable), e.g. state=Idaho."),
        click.option("--grid", "grid_cell_m", type=Number("grid_cell_m"), default=None, metavar="METRES",
                     help=f"Screen a regular grid of cells of this size over --aoi instead of a sites file "
                          f"({RANGES['grid_cell_m'].text()})."),
        click.option("--skip-invalid", is_flag=True, help="Skip site rows whose location does not parse (counted)."),
        click.option("--id-field", "id_field", default=None, metavar="FIELD",
                     help="The sites file's field holding the site ids (unique, non-empty). Default: the layer "
                          "definition's id, else a unique id/*_id column, else S0001… in file order."),
        click.option("--name-field", "name_field", default=None, metavar="FIELD",
                     help="The sites file's field holding the site names. Default: the definition's name, "
                          "else a name/*_name column."),
        click.option("--merge-distance", "merge_distance_m", type=Number("merge_distance_m"), default=None, metavar="METRES",
                     help=f"Duplicate deposit records this close with names alike are one site (default 500; "
                          f"{RANGES['merge_distance_m'].text()}; recorded in the manifest, each merge in merges.csv)."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def build_config(sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where, grid_cell_m,
                 skip_invalid, id_field=None, name_field=None, merge_distance_m=None) -> RunConfig:
    """One RunConfig from either --config (with the flags given beside it as overrides) or the
    quick-mode arguments. A flag is applied or refused, never dropped."""
    from dataclasses import replace

    given = Overrides(profile=profile, crs=crs, aoi=aoi, radius_m=radius_m, commodity=commodity,
                      sites_where=sites_where, grid_cell_m=grid_cell_m, skip_invalid=skip_invalid,
                      id_field=id_field, name_field=name_field, merge_distance_m=merge_distance_m)
    if config_path is not None:
        if sites is not None or layers:
            raise click.UsageError("give either --config FILE or SITES with --layer options, not both")
        return apply_overrides(load_config(config_path), given)
    if sites is None and grid_cell_m is None:
        raise click.UsageError("give SITES (a deposits or polygons file), --grid METRES with --aoi, or --config FILE")
    if sites is not None and grid_cell_m is not None:
        raise click.UsageError("give SITES or --grid METRES (a grid over --aoi), not both")
    misplaced = [OVERRIDE_FLAGS[k] for k in SITE_FILE_FLAGS if k in given.given()]
    if sites is None and misplaced:
        raise click.UsageError(f"{', '.join(misplaced)} apply to a sites file, not to a grid of cells (--grid)")
    opts = site_options(radius_m=radius_m, commodity=commodity, grid_cell_m=grid_cell_m, aoi=aoi, merge_distance_m=merge_distance_m,
                        skip_invalid=skip_invalid, id_field=id_field, name_field=name_field, where="command line")
    spec = replace(sites, where=sites_where) if sites is not None else None
    return RunConfig(sites=spec, layers=tuple(layers), site_options=opts,
                     profile=profile or "federal-safeguards", crs=crs,
                     title=f"sitescreen screening of {sites.path.name if sites else 'a grid'}")


#: The map page: self-contained by default (opens with no network); ``--cdn`` opts into the smaller page.
SELF_CONTAINED_OPTION = click.option(
    "--self-contained/--cdn", "self_contained", default=True,
    help="Self-contained map (the default): Leaflet, styles and data inlined, opens with no network. "
         "--cdn writes a smaller page that loads Leaflet from a CDN (needs the internet).")
OFFLINE_OPTION = click.option("--offline", is_flag=True,
                              help="No basemap either (air-gapped offices); the map is self-contained by default.")


def check_offline(self_contained: bool, offline: bool) -> None:
    """``--offline`` with ``--cdn`` asks for a page that needs and does not need the network."""
    if offline and not self_contained:
        raise click.BadParameter("--offline draws a self-contained map; --cdn loads Leaflet from the internet: "
                                 "drop one of them", param_hint="'--cdn'")


def map_options(f: Callable) -> Callable:
    for d in reversed([
        click.option("--no-map", is_flag=True, help="Do not write map.html."),
        click.option("--no-report", is_flag=True, help="Do not write report.html."),
        SELF_CONTAINED_OPTION,
        OFFLINE_OPTION,
        click.option("--basemap", type=click.Choice(BASEMAP_CHOICES), default="osm", show_default=True,
                     help="Background map."),
    ]):
        f = d(f)
    return f


def make_map_options(no_map, no_report, self_contained, offline, basemap) -> MapOptions:
    check_offline(self_contained, offline)
    return MapOptions(write_map=not no_map, write_report=not no_report, self_contained=self_contained or offline,
                      basemap="none" if offline else basemap)


class Progress:
    """The run's progress on stderr (tqdm): one bar counting sites ("site/s") against the run's
    number of sites, known before the first is measured (a counted stage starts the bar again at
    0 of the same total); the other stages show as its description. Silent with -q or when
    ``file`` (stderr) is not a terminal."""

    def __init__(self, enabled: bool, file=None, label: str = "", position: int | None = None):
        self.bar, self.stage, self.label = None, None, label
        file = file if file is not None else sys.stderr
        if enabled and file.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=None, unit="site", file=file, leave=False, desc=label or None, position=position)

    def __call__(self, stage: str, done: int | None = None, total: int | None = None) -> None:
        if self.bar is None:
            return
        if total is not None and (stage != self.stage or self.bar.total != total):
            self.bar.reset(total=total)
        self.stage = stage
        self.bar.set_description(f"{self.label}: {stage}" if self.label else stage, refresh=False)
        if done is not None:
            self.bar.update(done - self.bar.n)
        self.bar.refresh()  # once a stage or chunk: cheap, and the stage's name is always seen

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
