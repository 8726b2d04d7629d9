"""The reviewers' decisions on a run: ``reviews.jsonl`` in the run folder, one JSON object a line.

A :class:`Decision` ties what a reviewer decided about a site (``confirm``, ``override``,
``needs-data``: :data:`DECISIONS`) to the result they saw: the site's *result hash*
(:func:`result_hashes`), the SHA-256 of the site's row in sites.parquet — ``site_id``,
``verdict``, ``score`` and every ``m_``/``s_`` column, as canonical JSON (keys sorted, no spaces,
strict numbers: missing → ``null``, ±inf → ``±1e999``; :func:`sitescreen.values.strict_json`).
A later run, or the same run with a changed input, gives the site another hash: the decision is then
known to be about a result that is no longer the site's.

The file is a log: lines are only ever appended (:func:`append_decisions`: ``O_APPEND`` under an
exclusive ``flock``, each batch in one write), never rewritten or removed. It is a user file: no
``sitescreen screen --overwrite`` replaces a folder that holds it (:mod:`sitescreen.outputs.staging`).
A decision carried from another run (``sitescreen diff A B --carry-decisions``) keeps its original
time and hash and says where it came from (``carried_from``, ``carried_at``) and whether the site's
result changed between the runs (``site_changed``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from sitescreen.errors import OutputError
from sitescreen.record.read import Bad, build
from sitescreen.values import plain, strict_json, text_values

REVIEWS_FILE = "reviews.jsonl"
#: What a reviewer can decide about a site, in the order the help lists them.
DECISIONS = ("confirm", "override", "needs-data")


def _omit():
    """An optional field, left out of the line when not set."""
    return field(default=None, metadata={"omit": True})


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One line of reviews.jsonl."""
    time: str                      # when the reviewer decided (UTC, ISO 8601)
    reviewer: str
    site_id: str
    result_hash: str               # the site's result hash when the reviewer decided (see the module doc)
    decision: str                  # one of DECISIONS
    note: str
    carried_from: str | None = _omit()  # the run folder the decision was made on, when carried
    carried_at: str | None = _omit()    # when it was carried (UTC)
    site_changed: bool | None = _omit()  # carried: whether the site's result differs in this run

    def as_dict(self) -> dict:
        """The line's data (a field not set is left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def hashed_columns(columns: Iterable[str]) -> list[str]:
    """The columns a site's result hash covers, in a fixed order."""
    cols = list(columns)
    return ["site_id", "verdict", "score"] + sorted(c for c in cols if c.startswith(("m_", "s_")))


def result_hashes(sites: pd.DataFrame, site_ids: Iterable[str] | None = None) -> dict[str, str]:
    """site_id → result hash of the sites ``site_ids`` (every site when None) of a result frame
    (sites.parquet as read, or a re-run as sites.parquet would hold it)."""
    ids = text_values(sites["site_id"])
    keep = pd.Index(ids).isin(list(site_ids)) if site_ids is not None else slice(None)
    cols = hashed_columns(sites.columns)
    part = pd.DataFrame(sites[cols]).iloc[keep] if not isinstance(keep, slice) else pd.DataFrame(sites[cols])
    out: dict[str, str] = {}
    for sid, row in zip(text_values(part["site_id"]), part.itertuples(index=False, name=None)):
        data = {c: plain(v) for c, v in zip(cols, row)}
        data["site_id"] = sid
        text = strict_json(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        out[sid] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return out


def reviews_path(folder: str | Path) -> Path:
    return Path(folder) / REVIEWS_FILE


def read_decisions(folder: str | Path) -> tuple[Decision, ...]:
    """Every decision in ``folder``'s reviews.jsonl, in the order written (none without the file).
    A line that is not a decision stops with an :class:`OutputError` naming the file and line."""
    path = reviews_path(folder)
    if not path.is_file():
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{path}: cannot read ({exc})") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = build(Decision, json.loads(line), "", False)
        except (ValueError, Bad) as exc:
            why = f"{exc.args[0]}: {exc.args[1]}" if isinstance(exc, Bad) else str(exc)
            raise OutputError(f"{path}, line {n}: not a sitescreen decision ({why})") from None
        if d.decision not in DECISIONS:
            raise OutputError(f"{path}, line {n}: decision {d.decision!r} is not one of {', '.join(DECISIONS)}")
        out.append(d)
    return tuple(out)


def latest_by_site(decisions: Sequence[Decision]) -> dict[str, Decision]:
    """The last decision written for each site."""
    return {d.site_id: d for d in decisions}


def by_site(decisions: Sequence[Decision]) -> Mapping[str, list[Decision]]:
    """Every decision of each site, in the order written."""
    out: dict[str, list[Decision]] = {}
    for d in decisions:
        out.setdefault(d.site_id, []).append(d)
    return out


def append_decisions(folder: str | Path, decisions: Sequence[Decision]) -> Path:
    """Append ``decisions`` to ``folder``'s reviews.jsonl as one write (``O_APPEND`` under an
    exclusive ``flock``: concurrent reviewers never interleave or lose a line); nothing already in
    the file is touched. A file that does not end in a newline (a torn write) gets one first."""
    path = reviews_path(folder)
    data = "".join(strict_json(d.as_dict(), ensure_ascii=False) + "\n" for d in decisions).encode("utf-8")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the decision ({exc.strerror or exc}); nothing was written") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the decision ({exc.strerror or exc})") from None
    finally:
        os.close(fd)  # closing releases the lock
    return path


#: The column :func:`with_decisions` adds to a result frame for the report and the map (never written to a result file).
DECISIONS_COLUMN = "decisions"


def decision_text(d: Decision, now_hash: str | None) -> str:
    """One decision in words, as the report and the map show it; ``now_hash``: the site's result
    hash in the run shown (a decision made on another result says so)."""
    when = d.time[:16].replace("T", " ") + " UTC"
    carried = f", carried from {d.carried_from}" if d.carried_from is not None else ""
    other = "" if now_hash == d.result_hash else " (made on another result of this site; review it again)"
    return f"{d.decision} by {d.reviewer}, {when}{carried}: {d.note}{other}"


def with_decisions(sites: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """``sites`` with a :data:`DECISIONS_COLUMN` of each site's decisions in words (one line each,
    oldest first; ``""`` for none) when ``folder`` holds any; else ``sites`` as it is."""
    decisions = read_decisions(folder)
    if not decisions:
        return sites
    per_site = by_site(decisions)
    now = result_hashes(sites, per_site)
    words = pd.Series({sid: "\n".join(decision_text(d, now.get(sid)) for d in ds) for sid, ds in per_site.items()},
                      dtype=object)
    texts = pd.Series(text_values(sites["site_id"]), dtype=object).map(words).fillna("")
    out = sites.copy()
    out[DECISIONS_COLUMN] = texts.to_numpy(dtype=object)
    return out


__all__ = ["DECISIONS_COLUMN", "decision_text", "with_decisions", "REVIEWS_FILE", "DECISIONS", "Decision", "hashed_columns", "result_hashes", "reviews_path",
           "read_decisions", "latest_by_site", "by_site", "append_decisions"]
