"""``sitescreen sensitivity``: how robust each verdict of a finished run is to its weights."""

from __future__ import annotations

from pathlib import Path

import click

from sitescreen.review.sensitivityrun import DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_SPREAD, write_sensitivity
from sitescreen.values import strict_json


@click.command("sensitivity")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--samples", type=click.IntRange(min=10), default=DEFAULT_SAMPLES, show_default=True,
              help="Monte Carlo samples (weightings) per site.")
@click.option("--spread", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=DEFAULT_SPREAD,
              show_default=True, help="Coefficient of variation of a weight of the mean size (0.2 = ±20 %).")
@click.option("--seed", type=click.IntRange(min=0), default=DEFAULT_SEED, show_default=True,
              help="Random seed (the same seed gives the same numbers).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest's sensitivity section as JSON.")
@click.option("--overwrite", is_flag=True, help="Replace the run's earlier sensitivity files.")
def sensitivity_command(out_dir: Path, samples: int, spread: float, seed: int, as_json: bool, overwrite: bool) -> None:
    """Rescore the run in OUT_DIR under sampled weights (and the thresholds and breakpoints
    its profile gives a range) and write sensitivity.parquet and sensitivity.csv there.

    Per site: the probability of each verdict, the score's 5–95 % interval, the rank
    interval and the parameter the verdict hinges on; per run: Sobol indices (SALib).
    Excluded and incomplete sites keep their verdict. Recorded in manifest.json, so
    `sitescreen verify` repeats it; `sitescreen report` then adds a stability section.
    """
    from sitescreen.record.manifest import to_data
    frame, sec = write_sensitivity(out_dir, samples=samples, spread=spread, seed=seed, overwrite=overwrite)
    if as_json:
        click.echo(strict_json(to_data(sec), indent=2, ensure_ascii=False))
        return
    flips = frame["p_flip"] > 0
    click.echo(f"{out_dir / 'sensitivity.parquet'}: {sec.sites_rescored:,} sites rescored × {samples:,} samples "
               f"(seed {seed}); {int(flips.sum()):,} can change verdict, {sec.sites_fixed:,} excluded or incomplete kept")
