"""``sitescreen sensitivity`` as one library call: sample a finished run, write sensitivity.parquet and
sensitivity.csv into its folder and record the ``sensitivity`` section of its manifest; ``verify``
repeats it (:func:`repeat`).

Global indices (per run): Sobol first-order and total indices (SALib's Saltelli/Sobol design and
analysis, ``calc_second_order=False``) of the run's mean score and share of favorable sites over the
rescored sites. The weights enter through a normalised parameterisation: each weight ``w`` is drawn
uniform in ``[w (1 − √3 s), w (1 + √3 s)]`` (a coefficient of variation of ``spread`` ``s``, the lower
end at least 0) and the drawn weights are divided by their sum; a ranged number is uniform in its
range. The design's base size is the power of two at or below ``samples / (D + 2)`` (at least 64),
so it costs about as many rescorings as the Monte Carlo.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from sitescreen.errors import OutputError
from sitescreen.record.manifest import OutputFile, RunRecord, with_outputs
from sitescreen.record.sensitivity import SensitivityParameter, SensitivityRecord, SobolIndex
from sitescreen.review.sensitivity import CELLS, SCORED, Problem, chunks, draw, problem, rescore
from sitescreen.review.sensitivitystats import oat, rank_bins, rank_stats, site_stats
from sitescreen.rules.verdicts import VERDICTS

DEFAULT_SAMPLES = 10_000
DEFAULT_SPREAD = 0.2
DEFAULT_SEED = 12
FILES = ("sensitivity.parquet", "sensitivity.csv")
OUTPUTS = ("mean_score", "share_favorable")

COLUMNS = {
    "verdict": "the verdict of the run",
    "p_<verdict>": "share of samples giving that verdict (excluded and incomplete sites keep theirs: 1)",
    "p_flip": "share of samples whose verdict differs from the run's",
    "score, score_p05, score_p95": "the run's score and the 5 and 95 % quantiles of the sampled score",
    "rank, rank_p05, rank_p95": "1 + the number of rescored sites scoring higher, in the run and its 5–95 % interval",
    "hinge": "the parameter whose sampled values best separate flipped from kept samples (empty: never flips)",
    "oat_low_<p>, oat_high_<p>": "the score with parameter p alone at its low / high value",
}


def sensitivity(sites: pd.DataFrame, record: RunRecord, samples: int = DEFAULT_SAMPLES,
                spread: float = DEFAULT_SPREAD, seed: int = DEFAULT_SEED,
                where: str = "sites.parquet") -> tuple[pd.DataFrame, SensitivityRecord]:
    """The per-site table and the manifest section of a sampled rescoring of ``sites``."""
    p, rescored = problem(sites, record, spread, where)
    _check_run(p, sites, rescored, where)
    draws = draw(p, samples, seed)
    verdict = sites["verdict"].to_numpy(dtype=object)
    base = _codes(verdict[rescored])
    per = pd.concat([site_stats(p, draws, base), rank_stats(p, draws), oat(p)], axis=1)
    out = pd.DataFrame({"site_id": sites["site_id"].to_numpy() if "site_id" in sites else np.arange(len(sites)),
                        "verdict": verdict})
    for v in VERDICTS:
        out[f"p_{v}"] = (verdict == v).astype(float)
    out["p_flip"] = 0.0
    out["score"] = pd.to_numeric(sites["score"], errors="coerce").to_numpy(dtype=float)
    out["score_p05"] = out["score_p95"] = out["score"]
    for col in ("rank", "rank_p05", "rank_p95"):
        out[col] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["hinge"] = ""
    for col in per.columns:
        if col not in out:
            out[col] = np.nan
        out.loc[rescored, col] = per[col].to_numpy()
    n_sobol, sobol = sobol_indices(p, samples, spread, seed)
    sec = SensitivityRecord(
        samples=int(samples), spread=float(spread), seed=int(seed), concentration=p.concentration,
        sites_rescored=int(rescored.sum()), sites_fixed=int((~rescored).sum()), rank_bins=rank_bins(p.sites),
        parameters=tuple(SensitivityParameter(name=q.name, what=q.what, nominal=q.nominal, low=q.low, high=q.high)
                         for q in p.params),
        sobol_samples=n_sobol, sobol=sobol, files=FILES, columns=dict(COLUMNS))
    return out, sec


def _codes(verdicts: np.ndarray) -> np.ndarray:
    return np.select([verdicts == v for v in SCORED], range(len(SCORED)), -1)


def _check_run(p: Problem, sites: pd.DataFrame, rescored: np.ndarray, where: str) -> None:
    """Stop when the suitabilities and the manifest's weights and thresholds do not give the saved
    scores and verdicts (edited results, or a manifest of another run): never a sampling of wrong numbers."""
    from sitescreen.review.sensitivity import nominal
    if not p.sites:
        return
    total, codes = rescore(p, slice(None), nominal(p))
    saved = pd.to_numeric(sites["score"], errors="coerce").to_numpy(dtype=float)[rescored]
    verdict = sites["verdict"].to_numpy(dtype=object)[rescored]
    bad = (np.round(total[:, 0] * 100, 4) != saved) | (np.asarray(SCORED, dtype=object)[codes[:, 0]] != verdict)
    if bad.any():
        i = int(np.argmax(bad))
        site = sites["site_id"].to_numpy()[rescored][i] if "site_id" in sites else i
        raise OutputError(f"{where}: site {site}: score {saved[i]!r} and verdict {verdict[i]} do not follow from its "
                          f"s_* columns with the manifest's weights and thresholds; screen the run again")


def sobol_indices(p: Problem, samples: int, spread: float, seed: int) -> tuple[int, dict]:
    """(base size, ``{output: {parameter: SobolIndex}}``) of the run (module doc); ``{}`` when nothing varies."""
    if not p.params or not p.sites:
        return 0, {}
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample
    names = [q.name for q in p.params]
    k = len(p.weights) if p.concentration else 0
    bounds = [[w * max(0.0, 1 - 3 ** 0.5 * spread), w * (1 + 3 ** 0.5 * spread)] for w in p.weights[:k]]
    bounds += [[q.low, q.high] for q in p.params[k:]]
    prob = {"num_vars": len(names), "names": names, "bounds": bounds}
    n = 2 ** int(np.log2(max(64, samples // (len(names) + 2))))
    x = sample.sample(prob, n, calc_second_order=False, seed=seed)
    draws = {"weights": x[:, :k] / x[:, :k].sum(axis=1, keepdims=True) if k else np.broadcast_to(p.weights, (len(x), len(p.weights)))}
    draws.update({q.name: x[:, k + i] for i, q in enumerate(p.params[k:])})
    ys = {o: np.empty(len(x)) for o in OUTPUTS}
    for cols in chunks(len(x), CELLS // p.sites):
        total, codes = rescore(p, slice(None), {key: v[cols] for key, v in draws.items()})
        ys["mean_score"][cols] = (total * 100).mean(axis=0)
        ys["share_favorable"][cols] = (codes == 0).mean(axis=0)
    out = {}
    for o, y in ys.items():
        if np.ptp(y) == 0:
            out[o] = {q: SobolIndex(S1=None, S1_conf=None, ST=None, ST_conf=None) for q in names}
            continue
        res = analyze.analyze(prob, y, calc_second_order=False, seed=seed)
        out[o] = {q: SobolIndex(S1=float(res["S1"][i]), S1_conf=float(res["S1_conf"][i]), ST=float(res["ST"][i]),
                                ST_conf=float(res["ST_conf"][i])) for i, q in enumerate(names)}
    return n, out


def needed_columns(record: RunRecord) -> list[str]:
    """The columns of sites.parquet a rescoring reads: ids, verdicts, scores, the weighted criteria's
    suitabilities and measurements, and the measurements of the criteria that cap verdicts (never the
    footprints: memory grows by a few numbers per site)."""
    crits = [c for c in record.criteria if c.effective_weight > 0 and c.score_column]
    capping = [c.measure_column for c in record.criteria if getattr(c, "cap", None) is not None and c.evaluated]
    measured = dict.fromkeys([*(c.measure_column for c in crits), *capping])
    return ["site_id", "verdict", "score", *(c.score_column for c in crits), *measured]


def table_bytes(frame: pd.DataFrame) -> dict[str, bytes]:
    """The bytes of sensitivity.parquet and sensitivity.csv."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return {FILES[0]: buf.getvalue(), FILES[1]: frame.to_csv(index=False).encode("utf-8")}


def write_sensitivity(out_dir: Path, samples: int = DEFAULT_SAMPLES, spread: float = DEFAULT_SPREAD,
                      seed: int = DEFAULT_SEED, overwrite: bool = False) -> tuple[pd.DataFrame, SensitivityRecord]:
    """Sample the run in ``out_dir`` and write its sensitivity files and manifest section. An existing
    sensitivity file is replaced only with ``overwrite`` and only when the manifest records it as the
    run's (a file sitescreen did not write is never replaced); the record is written first, then each
    file atomically, so an interruption shows in ``verify``, never passes it."""
    from sitescreen.outputs.files import read_results
    from sitescreen.outputs.staging import write_manifest
    out_dir = Path(out_dir)
    sites, record = read_results(out_dir, columns=needed_columns)
    recorded = dict(record.outputs or {})
    for name in FILES:
        path = out_dir / name
        if path.exists() and not overwrite:
            raise OutputError(f"{path}: exists; pass --overwrite to replace it")
        if path.exists() and (name not in recorded or not path.is_file()):
            raise OutputError(f"{path}: not written by sitescreen (the manifest's outputs do not record it); "
                              f"move it away first")
    frame, sec = sensitivity(sites, record, samples, spread, seed, str(out_dir / "sites.parquet"))
    data = table_bytes(frame)
    temps = {}
    try:
        for name, b in data.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            temps[name] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(b)
            os.chmod(tmp, 0o644)
        import hashlib
        entries = {n: OutputFile(sha256=hashlib.sha256(b).hexdigest(), bytes=len(b)) for n, b in data.items()}
        write_manifest(out_dir / "manifest.json", replace(with_outputs(record, {**recorded, **entries}), sensitivity=sec))
        for name, tmp in temps.items():
            os.replace(tmp, out_dir / name)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write the sensitivity files ({exc.strerror or exc})") from None
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    return frame, sec


def repeat(out_dir: Path, saved: RunRecord, new_sites: pd.DataFrame, fresh: RunRecord):
    """``verify``'s check of a run with a ``sensitivity`` section: the sampling again on the re-run's
    results with the recorded samples, spread and seed. Returns (differences, ``fresh`` with the
    re-made section) for the manifest comparison."""
    from sitescreen.review.verify import compare_frames
    sec = saved.sensitivity
    frame, again = sensitivity(new_sites, fresh, sec.samples, sec.spread, sec.seed)
    path = Path(out_dir) / FILES[0]
    try:
        old = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        from sitescreen.run.inputcheck import Difference
        return [Difference(str(path), f"cannot be read: {exc}")], replace(fresh, sensitivity=again)
    new = pd.read_parquet(io.BytesIO(table_bytes(frame)[FILES[0]]))
    return compare_frames(old, new, str(path)), replace(fresh, sensitivity=again)
