"""Recording, carrying and checking the reviewers' decisions (the log: :mod:`sitescreen.record.decisions`).

- :func:`record_decision`: one decision on one site of a run folder, tied to the site's result hash;
- :func:`carry_decisions`: the decisions of an older run appended to a newer one, marked carried,
  each saying whether the site's result changed between the runs;
- :func:`stale_decisions`: for ``verify``, the decisions that no longer match their site's result.
"""

from __future__ import annotations

import difflib
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from sitescreen.errors import OutputError, SitescreenError
from sitescreen.record.decisions import (DECISIONS, Decision, append_decisions, latest_by_site, read_decisions,
                                         result_hashes, reviews_path)
from sitescreen.run.inputcheck import Difference, short_hash
from sitescreen.values import text_values


class DecisionError(SitescreenError):
    """A decision cannot be recorded: unknown site, decision or reviewer."""


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def default_reviewer() -> str:
    """The reviewer's name when ``--by`` is not given: ``$USER``, else ``unknown``."""
    return os.environ.get("USER", "").strip() or "unknown"


def read_sites(out_dir: Path) -> pd.DataFrame:
    """The result columns of sites.parquet that a result hash covers (no geometry)."""
    import pyarrow.parquet as pq
    from sitescreen.record.decisions import hashed_columns
    path = Path(out_dir) / "sites.parquet"
    if not path.is_file() or not (Path(out_dir) / "manifest.json").is_file():
        raise OutputError(f"{out_dir}: not a sitescreen output folder (sites.parquet or manifest.json missing)")
    try:
        names = pq.read_schema(path).names
        return pq.read_table(path, columns=hashed_columns(names) + (["name"] if "name" in names else [])).to_pandas()
    except Exception as exc:  # a damaged file: any Arrow failure
        raise OutputError(f"{path}: cannot read: {exc}") from None


def _unknown_site(out_dir: Path, site_id: str, ids: list[str]) -> DecisionError:
    close = difflib.get_close_matches(site_id, ids, n=5, cutoff=0.6)
    hint = f"; close ids: {', '.join(close)}" if close else f"; its ids run {min(ids)} … {max(ids)}" if ids else ""
    return DecisionError(f"{out_dir / 'sites.parquet'}: no site with site_id {site_id!r}{hint}")


def record_decision(out_dir: str | Path, site_id: str, decision: str, note: str, by: str | None = None) -> Decision:
    """Append one decision on site ``site_id`` of the run in ``out_dir`` to its reviews.jsonl."""
    out_dir = Path(out_dir)
    if decision not in DECISIONS:
        raise DecisionError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    reviewer = (by if by is not None else default_reviewer()).strip()
    if not reviewer or "\n" in reviewer:
        raise DecisionError(f"reviewer {by!r}: give a name on one line (--by NAME)")
    if not note.strip():
        raise DecisionError("the note is empty: say why (--note \"…\")")
    sites = read_sites(out_dir)
    ids = text_values(sites["site_id"])
    if (ids == site_id).sum() > 1:
        raise DecisionError(f"{out_dir / 'sites.parquet'}: site_id {site_id!r} names {(ids == site_id).sum()} sites; "
                            f"a decision must name one site")
    hashes = result_hashes(sites, [site_id])
    if site_id not in hashes:
        raise _unknown_site(out_dir, site_id, sorted(set(ids)))
    d = Decision(time=now_utc(), reviewer=reviewer, site_id=site_id, result_hash=hashes[site_id],
                 decision=decision, note=note)
    read_decisions(out_dir)  # a damaged log is reported before anything is added to it
    append_decisions(out_dir, [d])
    return d


def carry_decisions(dir_a: str | Path, dir_b: str | Path) -> tuple[Decision, ...]:
    """Append the decisions of the run in ``dir_a`` (made there, not carried into it) to ``dir_b``'s
    reviews.jsonl, marked carried with their original time and hash, each with ``site_changed``
    (its hash is not the site's result hash in ``dir_b``; a site that is gone has changed). A
    decision already carried into ``dir_b`` is not carried again. Returns what was appended."""
    dir_a, dir_b = Path(dir_a), Path(dir_b)
    if os.path.realpath(dir_a) == os.path.realpath(dir_b):
        raise DecisionError(f"{dir_b}: is the run the decisions were made on; carry them to another run folder")
    mine = [d for d in read_decisions(dir_a) if d.carried_from is None]
    if not mine:
        return ()
    there = read_decisions(dir_b)
    done = {(d.site_id, d.time, d.reviewer, d.result_hash, d.decision) for d in there if d.carried_from is not None}
    todo = [d for d in mine if (d.site_id, d.time, d.reviewer, d.result_hash, d.decision) not in done]
    if not todo:
        return ()
    now = result_hashes(read_sites(dir_b), {d.site_id for d in todo})
    at = now_utc()
    out = tuple(Decision(time=d.time, reviewer=d.reviewer, site_id=d.site_id, result_hash=d.result_hash,
                         decision=d.decision, note=d.note, carried_from=str(dir_a), carried_at=at,
                         site_changed=now.get(d.site_id) != d.result_hash) for d in todo)
    append_decisions(dir_b, out)
    return out


def stale_decisions(out_dir: str | Path, saved: pd.DataFrame, rerun: pd.DataFrame | None) -> tuple[list[Difference], list[str]]:
    """(differences, notes) for ``verify``: each site's latest decision against its result now (the
    re-run when there is one, else the saved sites.parquet). A decision that matched the result in
    the folder and no longer matches is a difference; a carried decision made on another result
    (the site changed between the runs) is a note: it awaits a new review on this run."""
    decisions = read_decisions(out_dir)
    if not decisions:
        return [], []
    where = str(reviews_path(out_dir))
    latest = latest_by_site(decisions)
    before = result_hashes(saved, latest)
    after = result_hashes(rerun, latest) if rerun is not None else before
    diffs: list[Difference] = []
    notes: list[str] = []
    for sid, d in latest.items():
        now = after.get(sid)
        if now == d.result_hash:
            continue
        who = f"the {d.decision} decision by {d.reviewer} at {d.time}"
        if d.carried_from is not None and before.get(sid) != d.result_hash:
            notes.append(f"site {sid}: {who}, carried from {d.carried_from}, was made on another result "
                         f"(the site changed between the runs); review it again on this run")
            continue
        state = f"result now {short_hash(now)}" if now is not None else "the site is no longer in the run"
        diffs.append(Difference(where, f"site {sid}: {who} no longer matches the site's result "
                                       f"(decided on {short_hash(d.result_hash)}, {state})"))
    return diffs, notes


__all__ = ["DecisionError", "record_decision", "carry_decisions", "stale_decisions", "default_reviewer", "read_sites"]
