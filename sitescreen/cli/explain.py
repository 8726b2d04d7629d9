"""``sitescreen explain``: one site's breakdown in words and numbers."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.review.explain import explain_site
from sitescreen.values import strict_json


@click.command("explain")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.argument("site_id")
@click.option("--json", "as_json", is_flag=True, help="Print the breakdown as JSON.")
def explain_command(out_dir, site_id, as_json):
    """Explain SITE_ID's verdict and score from the results in OUT_DIR."""
    info = explain_site(out_dir, site_id)
    if as_json:
        click.echo(strict_json(info, indent=2, ensure_ascii=False))
        return
    click.echo(f"{info['site_id']} {info['name']}: {info['verdict']} (score {info['score_text']} of 100)")
    click.echo(f"Reasons: {info['reasons']}")
    click.echo(f"{'criterion':<22} {'measurement':>30} {'suitability':>11} {'effective weight':>16}  rule")
    for c in info["criteria"]:
        click.echo(f"{c['name']:<22} {c['measurement_text']:>30} {c['suitability_text']:>11} "
                   f"{c['effective_weight_text']:>16}  {c['rule']}")
        click.echo(f"{'':<22}   safeguard: {c['safeguard']}")
        click.echo(f"{'':<22}   source: {c['source']}")
    click.echo("score = Σ suitability × effective weight (the profile's weights renormalised over the criteria "
               "this run evaluated); 0 if excluded, — if incomplete")
    click.echo(f"Profile {info['profile']} (sha256 {info['profile_sha256'][:12]}…), CRS {info['crs']}")
