"""``sitescreen explain``: one site's breakdown in words and numbers."""

from __future__ import annotations

import math
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
    score = "—" if info["score"] is None else f"{info['score']:.1f}"
    click.echo(f"{info['site_id']} {info['name']}: {info['verdict']} (score {score} of 100)")
    click.echo(f"Reasons: {info['reasons']}")
    click.echo(f"{'criterion':<22} {'measurement':>22} {'score':>6} {'weight':>7}  rule")
    for c in info["criteria"]:
        s = "—" if c["score"] is None or (isinstance(c["score"], float) and math.isnan(c["score"])) else f"{c['score']:.2f}"
        click.echo(f"{c['name']:<22} {c['measurement_text']:>22} {s:>6} {c['effective_weight']:>7.3f}  {c['rule']}")
        click.echo(f"{'':<22}   safeguard: {c['safeguard']}")
    click.echo(f"Profile {info['profile']} (sha256 {info['profile_sha256'][:12]}…), CRS {info['crs']}")
