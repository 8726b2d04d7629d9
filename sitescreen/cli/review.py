"""``sitescreen review``: record a reviewer's decision on one site of a finished run."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.record.decisions import DECISIONS, reviews_path
from sitescreen.review.decisions import record_decision
from sitescreen.values import strict_json


def _one_line(ctx, param, value):
    if value is not None and (not value.strip() or "\n" in value):
        raise click.BadParameter("give a name on one line", ctx=ctx, param=param)
    return value


def _some_text(ctx, param, value):
    if not value.strip():
        raise click.BadParameter("say why the decision was made (it cannot be empty)", ctx=ctx, param=param)
    return value


@click.command("review")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("site_id")
@click.option("--decision", required=True, type=click.Choice(DECISIONS),
              help="What the reviewer decided about the site's result.")
@click.option("--note", required=True, callback=_some_text, help="Why (one line or more; kept as written).")
@click.option("--by", default=None, metavar="NAME", callback=_one_line, help="The reviewer.  [default: $USER, else unknown]")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded decision as JSON.")
def review_command(out_dir: Path, site_id: str, decision: str, note: str, by: str | None, as_json: bool) -> None:
    """Record a decision on site SITE_ID of the run in OUT_DIR.

    Appends one line to OUT_DIR/reviews.jsonl (time in UTC, reviewer, the site's
    result hash, decision, note); nothing already there is rewritten. `verify` says
    which decisions no longer match their site's result; `diff A B
    --carry-decisions` carries them to a newer run; `report` shows them.
    """
    d = record_decision(out_dir, site_id, decision, note, by)
    if as_json:
        click.echo(strict_json(d.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"Recorded {d.decision} on site {d.site_id} by {d.reviewer} at {d.time} "
                   f"(result {d.result_hash[:12]}) in {reviews_path(out_dir)}")
