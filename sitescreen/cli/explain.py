"""``sitescreen explain``: one site's breakdown in words and numbers."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.review.explain import explain_site
from sitescreen.rules.wording import points_text
from sitescreen.values import strict_json


@click.command("explain")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.argument("site_id", metavar="SITE")
@click.option("--json", "as_json", is_flag=True, help="Print the breakdown as JSON.")
def explain_command(out_dir, site_id, as_json):
    """Explain SITE's verdict and score from the results in OUT_DIR.

    SITE is a site id, or a site's name (exact, ignoring case; quote it)."""
    info = explain_site(out_dir, site_id)
    if as_json:
        click.echo(strict_json(info, indent=2, ensure_ascii=False))
        return
    click.echo(f"{info['site_id']} {info['name']}: {info['verdict']} (score {info['score_text']} of 100)")
    click.echo(f"Reasons: {info['reasons']}")
    click.echo(f"{'criterion':<22} {'measurement':>30} {'suitability':>11} {'effective weight':>16} "
               f"{'points':>7}  rule")
    for c in info["criteria"]:
        click.echo(f"{c['name']:<22} {c['measurement_text']:>30} {c['suitability_text']:>11} "
                   f"{c['effective_weight_text']:>16} {c['points_text']:>7}  {c['rule']}")
        click.echo(f"{'':<22}   measured: {c['measured']}")
        click.echo(f"{'':<22}   safeguard: {c['safeguard']}")
        click.echo(f"{'':<22}   source: {c['source']}")
    click.echo(_total(info))
    click.echo("points = suitability × effective weight × 100; the effective weights are the profile's weights "
               "renormalised over the criteria this run evaluated")
    click.echo(f"Profile {info['profile']} (sha256 {info['profile_sha256'][:12]}…), CRS {info['crs']}")
    for m in info["merges"]:
        click.echo(f"Merged records: {m['text']}")


def _total(info: dict) -> str:
    """The line a reviewer checks the score with: the points added up, and what the score is."""
    total = points_text(info["points_total"] or 0.0)
    if info["verdict"] == "excluded":
        return f"Σ points = {total}, but a hard exclusion applies: score 0"
    if info["score"] is None:
        return f"Σ points = {total} of the criteria with data; a weighted criterion has no data: no score (—)"
    return f"Σ points = {total} = score {points_text(info['score'])} (shown as {info['score_text']})"
