"""Live re-weighting in the map: what assets/sitescreen-reweight.js needs to rescore every site.

The browser recomputes scores and verdicts from the per-criterion suitabilities (``s_*``) exactly
as :func:`sitescreen.rules.scoring.score` does: the weights renormalised over the evaluated
criteria (:func:`sitescreen.rules.profile.renormalised`), ``score = round(100 × Σ s·w, 4)`` with
a missing suitability counting 0, verdicts from the unrounded ``100 × Σ s·w``; excluded and
incomplete sites stay as the run computed them (the weighted criteria stay weighted, so neither
set can change); a site under a verdict cap is held no better than the cap's verdict
(:func:`sitescreen.rules.scoring.capped_codes`; the payload's ``cap``: each site's floor code). Suitabilities travel exactly (float64), so the browser's numbers are Python's.

The adjusted profile downloads as TOML: the run's profile file (checked against the SHA-256 the
run recorded) rewritten by :func:`sitescreen.rules.profilefile.profile_toml` with the weights
and thresholds left as tokens the browser fills in.
"""

from __future__ import annotations

import base64
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from sitescreen.errors import SitescreenError
from sitescreen.outputs import packing
from sitescreen.outputs.htmlsafe import script_json
from sitescreen.outputs.payload import _uvarint
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.caps import floor_codes, has_caps
from sitescreen.rules.profile import profile_from_dict
from sitescreen.rules.profilefile import Token, profile_toml
from sitescreen.rules.profilesource import read_profile
from sitescreen.rules.verdicts import VERDICTS, thresholds

#: The id of the ``<script type="application/json">`` element holding :func:`reweight_data`.
DATA_ID = "sitescreen-reweight-data"


def exact_column(values: Iterable[float]) -> dict[str, Any]:
    """Floats that decode to the same doubles: ``{"dict": [...], "idx": varints}`` (0 = missing)
    when values repeat, else ``{"f64": base64}`` of little-endian float64 (NaN = missing)."""
    v = np.asarray(values, dtype=float)
    codes, uniques = pd.factorize(v, use_na_sentinel=True)
    if (len(uniques) + 1) * 4 <= len(v):
        return {"dict": [float(u) for u in uniques], "idx": _uvarint(codes + 1)}
    return {"f64": base64.b64encode(v.astype("<f8").tobytes()).decode("ascii")}


def weighted(record: RunRecord) -> list:
    """The criteria whose weight the map can change: evaluated, weighted and scored."""
    return [c for c in record.criteria if c.evaluated and c.weight > 0 and c.score_column]


def profile_template(record: RunRecord, names: list[str]) -> tuple[str | None, str]:
    """The run's profile as TOML with tokens ``w:NAME``, ``favorable`` and ``review``, or None and why.

    Criteria weighted in the profile but not evaluated get weight 0 (their effective weight), so
    the weights written are the effective ones and still sum to 1."""
    prof = record.profile
    if not prof.path:
        return None, "the run does not record its profile file"
    try:  # the one reader of profiles: a byte-order mark, and the profiles it extends, as the run read them
        data, sha256, path = read_profile(prof.path)
    except SitescreenError as e:
        return None, f"the run's profile file {prof.path} cannot be read ({e})"
    if sha256 != prof.sha256:
        return None, f"the run's profile file {prof.path} has changed since the run (SHA-256 differs)"
    weights: dict[str, Any] = {c.name: 0 for c in record.criteria if c.weight > 0 and not c.evaluated}
    weights.update({n: Token(f"w:{n}") for n in names})
    header = (f"sitescreen profile re-weighted in the map, from {json.dumps(prof.name)} (sha256 {prof.sha256}).\n"
              "Weights are the effective weights chosen in the map; verdict thresholds as set there;\n"
              "every other rule is the run's profile. Screen with: sitescreen screen --profile THIS_FILE")
    text = profile_toml(data, weights, Token("favorable"), Token("review"), header)
    problem = _template_problem(text, record, names, path)
    return (None, problem) if problem else (text, "")


def fill(template: str, weights: dict[str, float], favorable: float, review: float) -> str:
    """The template with its tokens replaced (what the browser does; numbers as shortest repr)."""
    values = {**{f"w:{k}": repr(float(v)) for k, v in weights.items()},
              "favorable": repr(float(favorable)), "review": repr(float(review))}
    parts = template.split("\x00")
    return "".join(values[p] if i % 2 else p for i, p in enumerate(parts))


def _template_problem(text: str, record: RunRecord, names: list[str], path: Path) -> str:
    """Why the template, filled with the run's own numbers, does not read back as the run's rules ("" if it does)."""
    eff = {c.name: c.effective_weight for c in record.criteria if c.name in names}
    fav, rev = thresholds(record.profile.verdicts)
    try:
        back = profile_from_dict(tomllib.loads(fill(text, eff, fav, rev)), str(path))
    except (SitescreenError, tomllib.TOMLDecodeError) as e:
        return f"the run's profile cannot be rewritten ({e})"
    got = {c.name: c.weight for c in back.criteria}
    if [c.name for c in back.criteria] != [c.name for c in record.criteria] or \
            any(got[n] != eff[n] for n in names) or (back.favorable, back.review) != (fav, rev):
        return f"the profile file {path} does not match the run's record"
    return ""


def reweight_data(shown: pd.DataFrame, record: RunRecord | None) -> dict[str, Any] | None:
    """What the browser needs (sites in the map's order), or None without a record or s_* columns."""
    if record is None or not record.criteria:
        return None
    crit = weighted(record)
    if any(c.score_column not in shown.columns for c in crit):
        return None
    fav, rev = thresholds(record.profile.verdicts)
    names = [c.name for c in crit]
    template, note = profile_template(record, names)
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in record.profile.name) or "profile"
    data = {
        "n": len(shown), "verdicts": list(VERDICTS), "favorable": fav, "review": rev,
        "criteria": [{"name": c.name, "label": c.label, "w": c.effective_weight,
                      "s": exact_column(pd.to_numeric(shown[c.score_column], errors="coerce"))} for c in crit],
        "toml": template, "note": note, "file": f"{stem}-reweighted.toml",
    }
    if has_caps(record.criteria):  # per site, the best verdict code its caps allow (rules/caps.py)
        try:
            data["cap"] = _uvarint(floor_codes(record.criteria, shown).astype(np.int64))
        except ValueError:
            return None  # the caps cannot be applied: no re-weighting rather than a wrong verdict
    return data


def asset(name: str) -> str:
    """The text of one of the page assets (``sitescreen/outputs/assets``)."""
    return resources.files("sitescreen.outputs.assets").joinpath(name).read_text(encoding="utf-8")


def page_parts(data: dict[str, Any], map_name: str) -> tuple[str, str, str]:
    """The page's parts for :func:`reweight_data`: (head: style and script, body: the data element,
    script: the call that adds the panel once the sites layer exists)."""
    js = asset("sitescreen-reweight.js").replace("</script", "<\\/script")
    head = f"<style>{asset('sitescreen-reweight.css')}</style><script>{js}</script>"
    body = packing.data_element(DATA_ID, script_json(data))
    return head, body, f'sitescreen.reweightPanel({map_name}, "{DATA_ID}");'
