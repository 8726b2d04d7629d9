"""Options shared by several commands, defined once (as in rasterio's ``rio/options.py``)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

import click

from ..config import RunConfig, load_config, site_options
from ..errors import LayerConfigError
from ..layers import parse_layer_arg
from ..outputs import MapOptions

def _basemaps() -> tuple[str, ...]:
    from ..mapping import BASEMAPS
    return tuple(BASEMAPS)


BASEMAP_CHOICES = _basemaps()


def _layer_callback(ctx, param, values):
    try:
        return tuple(parse_layer_arg(v) for v in values)
    except LayerConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _where_callback(ctx, param, values):
    out: dict[str, list[str]] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{v!r}: expected FIELD=VALUE (repeat for several values)", ctx=ctx, param=param)
        out.setdefault(key, []).append(val)
    return {k: tuple(v) for k, v in out.items()}


def inputs_options(f: Callable) -> Callable:
    """SITES, --layer, --config and the site/run options shared by screen and check."""
    decorators = [
        click.argument("sites", required=False, type=click.Path(path_type=Path)),
        click.option("--config", "config_path", type=click.Path(path_type=Path),
                     help="Run config (TOML) with sites, layers and profile; paths relative to it."),
        click.option("--layer", "layers", multiple=True, callback=_layer_callback, metavar="ROLE=PATH[:LAYER][@CRS]",
                     help="An input layer (repeatable). ROLE e.g. federal_land, watershed, protected, dem; "
                          ":LAYER picks a GeoPackage layer; @CRS overrides a missing or wrong CRS."),
        click.option("--profile", default=None, metavar="NAME|FILE",
                     help="Scoring profile: a built-in name (federal-safeguards) or a TOML file."),
        click.option("--aoi", default=None, metavar="BBOX|FILE",
                     help="Area of interest: minx,miny,maxx,maxy in degrees, or a polygon file."),
        click.option("--crs", default=None, metavar="CRS",
                     help="Working CRS (default EPSG:5070 in CONUS, else chosen from the sites' location)."),
        click.option("--radius", "radius_m", type=float, default=None, metavar="METRES",
                     help="Footprint radius around deposit points (default 1000)."),
        click.option("--commodity", default=None, metavar="NAME",
                     help="Commodity filter for deposit records: rare-earths (default) or any."),
        click.option("--sites-where", "sites_where", multiple=True, callback=_where_callback, metavar="FIELD=VALUE",
                     help="Keep only sites whose FIELD equals VALUE (repeatable), e.g. state=Idaho."),
        click.option("--grid", "grid_cell_m", type=float, default=None, metavar="METRES",
                     help="Screen a regular grid of cells of this size over --aoi instead of a sites file."),
        click.option("--skip-invalid", is_flag=True, help="Skip site rows whose location does not parse (counted)."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def build_config(sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where, grid_cell_m,
                 skip_invalid) -> RunConfig:
    """One RunConfig from either --config or the quick-mode arguments (not both)."""
    from dataclasses import replace

    from ..layers import LayerSpec
    if config_path is not None:
        if sites is not None or layers:
            raise click.UsageError("give either --config FILE or SITES with --layer options, not both")
        cfg = load_config(config_path)
        overrides = {}
        if profile:
            overrides["profile"] = profile
        if crs:
            overrides["crs"] = crs
        if skip_invalid or aoi or radius_m or commodity:
            base = cfg.site_options
            overrides["site_options"] = replace(base, **{k: v for k, v in {
                "skip_invalid": skip_invalid or base.skip_invalid,
                "aoi": site_options(aoi=aoi).aoi if aoi else base.aoi,
                "radius_m": radius_m or base.radius_m, "commodity": commodity or base.commodity}.items()})
        return replace(cfg, **overrides) if overrides else cfg
    if sites is None and grid_cell_m is None:
        raise click.UsageError("give SITES (a deposits or polygons file), --grid METRES with --aoi, or --config FILE")
    opts = site_options(radius_m=radius_m, commodity=commodity, grid_cell_m=grid_cell_m, aoi=aoi,
                        skip_invalid=skip_invalid, where="command line")
    spec = LayerSpec(role="sites", path=sites, where=sites_where) if sites is not None else None
    return RunConfig(sites=spec, layers=tuple(layers), site_options=opts,
                     profile=profile or "federal-safeguards", crs=crs,
                     title=f"sitescreen screening of {sites.name if sites else 'a grid'}")


def map_options(f: Callable) -> Callable:
    for d in reversed([
        click.option("--no-map", is_flag=True, help="Do not write map.html."),
        click.option("--no-report", is_flag=True, help="Do not write report.html."),
        click.option("--self-contained", is_flag=True, help="Inline every script, style and data: one HTML file, no CDN."),
        click.option("--offline", is_flag=True, help="Self-contained and no basemap (air-gapped offices)."),
        click.option("--basemap", type=click.Choice(BASEMAP_CHOICES), default="osm", show_default=True,
                     help="Background map."),
    ]):
        f = d(f)
    return f


def make_map_options(no_map, no_report, self_contained, offline, basemap) -> MapOptions:
    return MapOptions(write_map=not no_map, write_report=not no_report, self_contained=self_contained or offline,
                      basemap="none" if offline else basemap)


class Progress:
    """Stage-by-stage progress on stderr (tqdm), silent with -q or when stderr is not a terminal."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="stage", file=sys.stderr, leave=False)

    def __call__(self, stage: str) -> None:
        if self.bar is not None:
            first = re.search(r"\b1/(\d+)$", stage)  # "chunk 1/20": the stage has 20 steps
            if first:
                self.bar.total += int(first.group(1)) - 1
            if self.bar.n or self.bar.desc:
                self.bar.update(1)
            self.bar.set_description(stage)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
