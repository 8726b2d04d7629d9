"""A :class:`~sitescreen.review.diff.RunDiff` in words (text, one line per change), as data
(``--json``) and as counts. The HTML page (:mod:`sitescreen.review.diffpage`) uses the same words:
each change is put into words once, here."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sitescreen.review.diff import InputChange, RuleChange, RunDiff, SiteChange, SiteRef
from sitescreen.review.diffcause import CAP, CONTRIBUTION, EXCLUSION, NEW_DATA, NO_DATA
from sitescreen.rules.verdicts import VERDICTS
from sitescreen.rules.wording import cap_lead, number, score_text
from sitescreen.values import strict_json

#: Score changes listed in the text (all are in --json and the HTML page).
TEXT_SCORE_LIMIT = 50


def counts(d: RunDiff) -> dict[str, int]:
    """How many of each change, in the order the text lists them."""
    by = {k: sum(i.change == k for i in d.inputs) for k in ("added", "removed", "changed")}
    return {"inputs_added": by["added"], "inputs_removed": by["removed"], "inputs_changed": by["changed"],
            "rule_changes": len(d.rules), "sites_a": d.sites_a, "sites_b": d.sites_b, "sites_added": len(d.added),
            "sites_removed": len(d.removed), "verdict_changes": len(d.verdict_changes),
            "score_changes": len(d.score_changes)}


def _short(h: str | None) -> str:
    return h[:12] if h else "none"


def input_text(i: InputChange) -> str:
    what = i.what if i.what in ("sites", "profile") else f"layer {i.what}"
    if i.change == "added":
        return f"added    {what} {i.name}: {i.path_b} (sha256 {_short(i.sha256_b)})"
    if i.change == "removed":
        return f"removed  {what} {i.name}: {i.path_a} (sha256 {_short(i.sha256_a)})"
    moved = f"; {i.path_a} → {i.path_b}" if i.path_a != i.path_b else f"; {i.path_b}"
    return f"changed  {what} {i.name}: sha256 {_short(i.sha256_a)} → {_short(i.sha256_b)}{moved}"


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return number(v)
    return strict_json(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def rule_text(r: RuleChange) -> str:
    where = r.criterion if r.criterion is not None else "profile"
    if r.field == "(criterion)":
        return f"{where}: {'added to' if r.before is None else 'removed from'} the profile"
    return f"{where}: {r.field} {_value(r.before)} → {_value(r.after)}"


def cause_text(c: SiteChange) -> str:
    """Why the site moved, in words (one phrase for every surface)."""
    if c.cause_kind == EXCLUSION:
        return (f"now excluded by {c.cause}" if c.verdict_b == "excluded" else f"no longer excluded by {c.cause}")
    if c.cause_kind == CAP:
        worse = VERDICTS.index(c.verdict_b) > VERDICTS.index(c.verdict_a)
        return (f"{cap_lead(c.verdict_b)} by {c.cause} now (its verdict cap holds)" if worse
                else f"no longer {cap_lead(c.verdict_a)} by {c.cause} (its verdict cap no longer holds)")
    if c.cause_kind == NO_DATA:
        return f"no data for {c.cause} now"
    if c.cause_kind == NEW_DATA:
        return f"data for {c.cause} now (none before)"
    if c.cause_kind == CONTRIBUTION:
        pts = c.points or 0.0
        return f"{c.cause} {'+' if pts > 0 else '−'}{abs(pts):.1f} points"
    return "no criterion moved (the verdict thresholds changed)"


def site_text(c: SiteChange) -> str:
    name = f" {c.name}" if c.name else ""
    return (f"{c.site_id}{name}: {c.verdict_a} {score_text(c.score_a)} → {c.verdict_b} "
            f"{score_text(c.score_b)} — {cause_text(c)}")


def ref_text(r: SiteRef) -> str:
    return f"{r.site_id}{f' {r.name}' if r.name else ''}: {r.verdict} {score_text(r.score)}"


def diff_lines(d: RunDiff) -> list[str]:
    """The diff as text: counts first, then every input, rule and verdict change, the first
    :data:`TEXT_SCORE_LIMIT` score changes, and the sites added and removed."""
    n = counts(d)
    out = [f"Diff {d.dir_a} → {d.dir_b}",
           f"  inputs: {n['inputs_changed']} changed, {n['inputs_added']} added, {n['inputs_removed']} removed; "
           f"profile rules: {n['rule_changes']} changed",
           f"  sites: {n['sites_a']:,} → {n['sites_b']:,} ({n['sites_added']:,} added, {n['sites_removed']:,} removed); "
           f"{n['verdict_changes']:,} verdicts changed, {n['score_changes']:,} more scores changed"]
    sections = [("Inputs", [input_text(i) for i in d.inputs]), ("Profile rules", [rule_text(r) for r in d.rules]),
                ("Verdict changes", [site_text(c) for c in d.verdict_changes]),
                ("Score changes (same verdict)", [site_text(c) for c in d.score_changes[:TEXT_SCORE_LIMIT]]
                 + ([f"… and {n['score_changes'] - TEXT_SCORE_LIMIT:,} more (--json or --html lists every one)"]
                    if n["score_changes"] > TEXT_SCORE_LIMIT else [])),
                ("Sites added", [ref_text(r) for r in d.added]), ("Sites removed", [ref_text(r) for r in d.removed])]
    for title, lines in sections:
        if lines:
            out += ["", f"{title}:"] + [f"  {ln}" for ln in lines]
    return out


def _site(c: SiteChange) -> dict:
    data = {k: v for k, v in asdict(c).items() if k not in ("x", "y")}
    return {**data, "why": cause_text(c)}


def diff_data(d: RunDiff) -> dict:
    """The diff as JSON-ready data (``--json``)."""
    return {"a": d.dir_a, "b": d.dir_b, "counts": counts(d),
            "inputs": [asdict(i) for i in d.inputs],
            "rules": [asdict(r) for r in d.rules],
            "verdict_changes": [_site(c) for c in d.verdict_changes],
            "score_changes": [_site(c) for c in d.score_changes],
            "sites_added": [asdict(r) for r in d.added], "sites_removed": [asdict(r) for r in d.removed]}


__all__ = ["counts", "diff_lines", "diff_data", "cause_text", "site_text", "input_text", "rule_text", "ref_text",
           "TEXT_SCORE_LIMIT"]
