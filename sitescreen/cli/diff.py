"""``sitescreen diff``: what changed between two finished runs, and why."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.errors import OutputError
from sitescreen.values import strict_json


def _check_html(path: Path | None) -> None:
    if path is None:
        return
    if path.exists():
        raise OutputError(f"{path}: exists; diff never replaces a file: remove it or choose another file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")


@click.command("diff")
@click.argument("dir_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dir_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML page (with a map of the sites whose verdict changed).")
@click.option("--carry-decisions", is_flag=True,
              help="Append DIR_A's review decisions to DIR_B/reviews.jsonl, marked carried; flags those whose site changed.")
def diff_command(dir_a: Path, dir_b: Path, as_json: bool, html_path: Path | None, carry_decisions: bool) -> None:
    """Compare the run in DIR_A with the newer run in DIR_B.

    Lists the inputs added, removed or changed (SHA-256), the profile rules that
    changed (criterion and number), the sites added and removed, and every site
    whose verdict or score changed, with the criterion that caused it (an
    exclusion that now holds or no longer does, data that appeared or went
    missing, or the criterion whose points moved most).
    """
    from sitescreen.outputs.staging import atomic_write_text
    from sitescreen.review.decisions import carry_decisions as carry
    from sitescreen.review.diff import diff_runs
    from sitescreen.review.diffpage import diff_page
    from sitescreen.review.diffshow import diff_data, diff_lines

    _check_html(html_path)
    d = diff_runs(dir_a, dir_b)
    carried = carry(dir_a, dir_b) if carry_decisions else ()
    if html_path is not None:
        atomic_write_text(html_path, diff_page(d))
    if as_json:
        data = diff_data(d)
        if carry_decisions:
            data["carried_decisions"] = [c.as_dict() for c in carried]
        click.echo(strict_json(data, indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(diff_lines(d)))
    if carry_decisions:
        changed = [c for c in carried if c.site_changed]
        click.echo(f"\nCarried {len(carried)} decision(s) from {dir_a} to {dir_b / 'reviews.jsonl'}"
                   f"{f'; {len(changed)} on sites that changed (review again): ' if changed else ''}"
                   f"{', '.join(c.site_id for c in changed)}")
    if html_path is not None:
        click.echo(f"\nWrote {html_path}")
