"""What changed between two runs, and why: inputs, profile rules and every site.

:func:`diff_runs` reads two finished run folders (their run records and sites.parquet) and
returns a :class:`RunDiff`: the inputs added, removed or changed (by SHA-256: the sites file, each
layer, the profile), the profile's rule changes (which criterion, which number: every field of
the two :class:`~sitescreen.record.manifest.CriterionRecord`s and of the profile's verdicts and
selections, compared value by value), the sites added and removed, and per site present in both
(joined on ``site_id``) a verdict or score change with its cause (:mod:`sitescreen.review.diffcause`).
The words and pages are made from the :class:`RunDiff` alone (:mod:`sitescreen.review.diffshow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from sitescreen.errors import OutputError
from sitescreen.record.manifest import RunRecord, to_data
from sitescreen.review.diffcause import causes, criterion_names
from sitescreen.values import plain, text_values

#: Score changes smaller than this are no change (scores are written to 4 decimals).
SCORE_TOLERANCE = 1e-9
#: Criterion fields that are the rule (the others are counts of the run: sites without data).
RULE_FIELDS = ("label", "kind", "unit", "roles", "selection", "params", "weight", "effective_weight", "transform",
               "exclusion", "optional", "evaluated", "layers", "safeguard", "source")


@dataclass(frozen=True)
class InputChange:
    """One input file of the runs: ``change`` is ``added``, ``removed`` or ``changed`` (its SHA-256)."""
    what: str             # "sites", "profile" or the layer's role
    name: str
    change: str
    path_a: str | None
    path_b: str | None
    sha256_a: str | None
    sha256_b: str | None


@dataclass(frozen=True)
class RuleChange:
    """One number or setting of the profile: ``criterion`` None for the profile's own (verdicts,
    selections); ``field`` the path to the value (``transform.points[0][0]``); ``before``/``after``
    None when the criterion (or key) is new or gone."""
    criterion: str | None
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class SiteRef:
    site_id: str
    name: str
    verdict: str
    score: float | None


@dataclass(frozen=True)
class SiteChange:
    """A site in both runs whose verdict or score changed; ``cause``: the criterion to name, with
    ``cause_kind`` (exclusion, cap, no data, new data, contribution) and ``points``, the change of that criterion's
    points in the score (None for a flip)."""
    site_id: str
    name: str
    verdict_a: str
    verdict_b: str
    score_a: float | None
    score_b: float | None
    cause: str | None
    cause_kind: str | None
    points: float | None
    x: float = field(default=math.nan, compare=False)  # centroid in the newer run's CRS (for the page's map)
    y: float = field(default=math.nan, compare=False)

    @property
    def verdict_changed(self) -> bool:
        return self.verdict_a != self.verdict_b


@dataclass(frozen=True)
class RunDiff:
    dir_a: str
    dir_b: str
    crs: str
    sites_a: int
    sites_b: int
    inputs: tuple[InputChange, ...]
    rules: tuple[RuleChange, ...]
    changed: tuple[SiteChange, ...]
    added: tuple[SiteRef, ...]
    removed: tuple[SiteRef, ...]

    @property
    def verdict_changes(self) -> tuple[SiteChange, ...]:
        return tuple(c for c in self.changed if c.verdict_changed)

    @property
    def score_changes(self) -> tuple[SiteChange, ...]:
        return tuple(c for c in self.changed if not c.verdict_changed)


def diff_runs(dir_a: str | Path, dir_b: str | Path) -> RunDiff:
    """Every change from the run in ``dir_a`` to the run in ``dir_b`` (see the module doc)."""
    from sitescreen.outputs.files import read_results
    sites_a, rec_a = read_results(dir_a)
    sites_b, rec_b = read_results(dir_b)
    for d, s in ((dir_a, sites_a), (dir_b, sites_b)):
        _check_ids(Path(d), s)
    changed, added, removed = site_changes(rec_a, rec_b, sites_a, sites_b)
    return RunDiff(dir_a=str(dir_a), dir_b=str(dir_b), crs=rec_b.crs, sites_a=len(sites_a), sites_b=len(sites_b),
                   inputs=input_changes(rec_a, rec_b), rules=rule_changes(rec_a, rec_b),
                   changed=changed, added=added, removed=removed)


def _check_ids(folder: Path, sites: pd.DataFrame) -> None:
    ids = pd.Series(text_values(sites["site_id"]))
    dup = ids[ids.duplicated()]
    if len(dup):
        raise OutputError(f"{folder / 'sites.parquet'}: site_id {dup.iloc[0]!r} is not unique; the runs cannot be "
                          f"joined site by site")


# ---------------------------------------------------------------------------------------------
# Inputs and rules


def _files(rec: RunRecord) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(what, name) → (path, sha256) of every file the run read."""
    out: dict[tuple[str, str], tuple[str | None, str | None]] = {
        ("sites", Path(rec.sites.path).name): (rec.sites.path, rec.sites.sha256),
        ("profile", rec.profile.name): (rec.profile.path, rec.profile.sha256)}
    for i in rec.inputs:
        key = (i.role, i.name)
        n = 2
        while key in out:
            key, n = (i.role, f"{i.name} ({n})"), n + 1
        out[key] = (i.path, i.sha256)
    return out


def input_changes(a: RunRecord, b: RunRecord) -> tuple[InputChange, ...]:
    """Inputs added, removed and changed (by SHA-256) from run ``a`` to run ``b``. The sites file
    and the profile are matched by kind (one of each per run), layers by role and name."""
    fa, fb = _files(a), _files(b)
    for what in ("sites", "profile"):  # one per run: matched whatever its name
        ka, kb = next(k for k in fa if k[0] == what), next(k for k in fb if k[0] == what)
        if ka != kb:
            fa[kb] = fa.pop(ka)
    out = []
    for key in list(fb) + [k for k in fa if k not in fb]:
        pa, ha = fa.get(key, (None, None))
        pb, hb = fb.get(key, (None, None))
        change = "added" if key not in fa else "removed" if key not in fb else "changed" if ha != hb else ""
        if change:
            out.append(InputChange(what=key[0], name=key[1], change=change, path_a=pa, path_b=pb,
                                   sha256_a=ha, sha256_b=hb))
    return tuple(out)


def value_changes(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(path, before, after) of every value that differs between two JSON-like values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in list(b) + [k for k in a if k not in b]
                for d in value_changes(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in value_changes(x, y, f"{path}[{i}]")]
    if isinstance(a, bool) or isinstance(b, bool):
        same = a is b
    else:
        same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    return [] if same else [(path, a, b)]


def rule_changes(a: RunRecord, b: RunRecord) -> tuple[RuleChange, ...]:
    """Every rule that differs: the verdict thresholds and selections of the profile, criteria
    added or removed, and each field of :data:`RULE_FIELDS` of a criterion in both."""
    out = [RuleChange(None, p, x, y) for p, x, y in value_changes(
        {"verdicts": to_data(a.profile.verdicts), "selections": to_data(a.profile.selections)},
        {"verdicts": to_data(b.profile.verdicts), "selections": to_data(b.profile.selections)})]
    rec_a, rec_b = {c.name: c for c in a.criteria}, {c.name: c for c in b.criteria}
    for name in criterion_names(a, b):
        ca, cb = rec_a.get(name), rec_b.get(name)
        if ca is None or cb is None:
            out.append(RuleChange(name, "(criterion)", None if ca is None else "in the profile",
                                  None if cb is None else "in the profile"))
            continue
        da, db = to_data(ca), to_data(cb)
        out += [RuleChange(name, p, x, y) for f in RULE_FIELDS for p, x, y in value_changes(da.get(f), db.get(f), f)]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Sites


def _score(v: Any) -> float | None:
    v = plain(v)
    return None if v is None else float(v)


def _refs(sites: pd.DataFrame, ids: pd.Index) -> tuple[SiteRef, ...]:
    part = sites.loc[ids]
    return tuple(SiteRef(site_id=str(i), name=str(n), verdict=str(v), score=_score(s)) for i, n, v, s in zip(
        ids, text_values(part["name"]), part["verdict"], part["score"]))


def _indexed(sites: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(sites.drop(columns=[sites.geometry.name]) if hasattr(sites, "geometry") else sites)
    out.index = pd.Index(text_values(sites["site_id"]), name="site_id")
    return out


def site_changes(a: RunRecord, b: RunRecord, sites_a: pd.DataFrame, sites_b: pd.DataFrame):
    """(changed, added, removed) sites from ``sites_a`` to ``sites_b`` (joined on site_id)."""
    ia, ib = _indexed(sites_a), _indexed(sites_b)
    common = ib.index.intersection(ia.index, sort=False)
    pa, pb = ia.loc[common], ib.loc[common]
    sa = pd.to_numeric(pa["score"], errors="coerce").to_numpy(dtype=float)
    sb = pd.to_numeric(pb["score"], errors="coerce").to_numpy(dtype=float)
    va, vb = pa["verdict"].astype(str).to_numpy(), pb["verdict"].astype(str).to_numpy()
    with np.errstate(invalid="ignore"):
        moved = (np.isnan(sa) != np.isnan(sb)) | (np.abs(sa - sb) > SCORE_TOLERANCE)
    hit = (va != vb) | moved
    why = causes(a, b, pa.iloc[hit], pb.iloc[hit])
    xy = _centroids(sites_b, common[hit])
    changed = tuple(
        SiteChange(site_id=str(i), name=str(n), verdict_a=str(x), verdict_b=str(y), score_a=_score(p), score_b=_score(q),
                   cause=c or None, cause_kind=k or None, points=None if math.isnan(pt) else float(pt), x=float(cx), y=float(cy))
        for i, n, x, y, p, q, c, k, pt, cx, cy in zip(
            common[hit], text_values(pb["name"].iloc[hit]), va[hit], vb[hit], sa[hit], sb[hit],
            why.criterion, why.kind, why.points, xy[:, 0], xy[:, 1]))
    return changed, _refs(ib, ib.index.difference(ia.index, sort=False)), _refs(ia, ia.index.difference(ib.index, sort=False))


def _centroids(sites: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    if not hasattr(sites, "geometry") or not len(ids):
        return np.full((len(ids), 2), np.nan)
    pos = pd.Index(text_values(sites["site_id"])).get_indexer(ids)
    c = shapely.centroid(sites.geometry.to_numpy()[pos])  # a zoned run's, in lon/lat: positions on a page
    return np.column_stack([shapely.get_x(c), shapely.get_y(c)])


__all__ = ["RunDiff", "InputChange", "RuleChange", "SiteRef", "SiteChange", "diff_runs", "input_changes",
           "rule_changes", "site_changes", "value_changes", "SCORE_TOLERANCE"]
