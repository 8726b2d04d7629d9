"""``sitescreen check``: validate and summarise the inputs without scoring."""

from __future__ import annotations

import click

from sitescreen.run.pipeline import prepare, zone_records
from sitescreen.values import strict_json
from sitescreen.cli.options import build_config, inputs_options
from sitescreen.record.manifest import InputRecord, SitesRecord, to_data
from sitescreen.record.read import read_value
from sitescreen.rules.reviewwords import crs_phrase, site_chain


def check_records(prep) -> tuple[SitesRecord, list[InputRecord]]:
    """The sites and layers of a prepared run as the run record states them (without hashes)."""
    layers = [lyr.info() for lyr in prep.inputs.vectors] + [{k: v for k, v in i.items() if k != "_box"} for i in prep.raster_info]
    return (read_value(SitesRecord, prep.site_stats.info(), "sites"),
            [read_value(InputRecord, lyr, "inputs") for lyr in layers])


def check_report(prep) -> dict:
    sites, layers = check_records(prep)
    zones = zone_records(prep)
    return {"crs": prep.crs.to_string() if prep.crs.to_epsg() is None else f"EPSG:{prep.crs.to_epsg()}",
            **({"zones": [to_data(z) for z in zones]} if zones else {}),
            "profile": prep.profile.name, "sites": to_data(sites), "layers": [to_data(lyr) for lyr in layers],
            "roles_used_by_profile": sorted(prep.profile.roles),
            "roles_missing": sorted(prep.profile.roles - {lyr.spec.role for lyr in prep.inputs.vectors}
                                    - {r.role for r in prep.inputs.rasters})}


@click.command("check")
@inputs_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def check_command(ctx, sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where, grid_cell_m,
                  skip_invalid, id_field, name_field, merge_distance_m, as_json):
    """Validate the inputs of a screening and summarise them, without scoring.

    Reads every layer as a screening would (CRS, repairs, coverage, counts) and
    reports problems as errors. Same arguments as `sitescreen screen`.
    """
    config = build_config(sites, config_path, layers, profile, aoi, crs, radius_m, commodity, sites_where,
                          grid_cell_m, skip_invalid, id_field, name_field, merge_distance_m)
    prep = prepare(config)
    report = check_report(prep)
    if as_json:
        click.echo(strict_json(report, indent=2))
        return
    if ctx.obj.get("quiet"):
        return  # the exit code says it all
    s, layers = check_records(prep)
    click.echo(f"Run CRS: {crs_phrase(report['crs'], zone_records(prep))}; profile: {report['profile']}")
    click.echo(f"Sites: {s.sites} from {s.path}" + (f" ({site_chain(s.chain())})" if s.chain() else ""))
    for lyr in layers:
        extra = (f"{lyr.features_read} features read, {lyr.features_used} used, {lyr.repairs} repaired"
                 if lyr.kind == "vector" else f"{lyr.width}×{lyr.height} cells, covers {lyr.sites_covered} sites")
        click.echo(f"  {lyr.role:<13} {lyr.name:<28} {lyr.kind:<6} schema {lyr.schema:<13} "
                   f"CRS {lyr.source_crs}{' (override)' if lyr.crs_override else ''}; coverage {lyr.coverage}; {extra}")
    if report["roles_missing"]:
        click.echo(f"Roles the profile uses with no layer: {', '.join(report['roles_missing'])} (optional criteria are skipped)")
    click.echo("OK")
