"""The report's charts as inline SVG (no chart library): the verdict bar, the score distribution
and each criterion's mean contribution to the score."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from sitescreen.outputs.htmlsafe import esc
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.wording import number


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')


def verdict_bar(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    if not total:
        return ""
    x, parts = 0.0, []
    for v in VERDICT_ORDER:
        n = counts.get(v, 0)
        if not n:
            continue
        w = 720 * n / total
        parts.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="18" fill="{VERDICT_COLORS[v]}">'
                     f'<title>{esc(VERDICT_LABELS[v])}: {n:,}</title></rect>')
        x += w
    return (f'<svg class="chart vbar" viewBox="0 0 720 18" width="100%" height="18" preserveAspectRatio="none" '
            f'role="img" aria-label="share of sites by verdict" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def score_histogram(sites: pd.DataFrame, thresholds: Mapping[str, float]) -> str:
    score = pd.to_numeric(sites["score"], errors="coerce")
    scored = sites[score.notna() & (sites["verdict"] != "excluded")]
    if not len(scored):
        return '<p class="muted">No scored sites.</p>'
    W, H, L, B, T = 720, 240, 44, 34, 22
    bins = np.linspace(0, 100, 21)
    verdicts = [v for v in ("unfavorable", "review", "favorable", "incomplete") if (scored["verdict"] == v).any()]
    s = pd.to_numeric(scored["score"], errors="coerce").to_numpy()
    stacks = {v: np.histogram(s[(scored["verdict"] == v).to_numpy()], bins)[0] for v in verdicts}
    top = max(1, int(sum(stacks.values()).max()))
    step = _nice_step(top)
    ymax = step * math.ceil(top / step)
    pw, ph = W - L - 10, H - B - T
    y = lambda n: T + ph - ph * n / ymax  # noqa: E731
    out = []
    for k in range(0, int(ymax / step) + 1):
        yy = y(k * step)
        out.append(f'<line x1="{L}" x2="{W - 10}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                   f'<text x="{L - 6}" y="{yy + 4:.1f}" class="tick" text-anchor="end">{k * step:,}</text>')
    bw = pw / 20
    base = np.zeros(20)
    for v in verdicts:
        for i, n in enumerate(stacks[v]):
            if n:
                out.append(f'<rect x="{L + i * bw + 1:.1f}" y="{y(base[i] + n):.1f}" width="{bw - 2:.1f}" '
                           f'height="{y(base[i]) - y(base[i] + n):.1f}" fill="{VERDICT_COLORS[v]}">'
                           f'<title>{esc(VERDICT_LABELS[v])}, score {bins[i]:g}–{bins[i + 1]:g}: {n:,}</title></rect>')
        base += stacks[v]
    for key in ("review", "favorable"):
        t = thresholds.get(key)
        if isinstance(t, (int, float)):
            xx = L + pw * float(t) / 100
            out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{T}" y2="{T + ph}" class="threshold"/>'
                       f'<text x="{xx:.1f}" y="{T - 6}" class="tick" text-anchor="middle">{esc(key)} ≥ {number(t)}</text>')
    for k in range(0, 101, 10):
        xx = L + pw * k / 100
        out.append(f'<text x="{xx:.1f}" y="{T + ph + 16}" class="tick" text-anchor="middle">{k}</text>')
    out.append(f'<line x1="{L}" x2="{W - 10}" y1="{T + ph}" y2="{T + ph}" class="axis"/>')
    out.append(f'<text x="{L + pw / 2:.1f}" y="{H - 2}" class="label" text-anchor="middle">score (0–100)</text>')
    return _svg(W, H, "".join(out), "distribution of scores")


def contributions(sites: pd.DataFrame, criteria: list[dict[str, Any]]) -> tuple[str, list[tuple]]:
    """Mean points each weighted criterion adds to the score of scored sites, against its maximum."""
    score = pd.to_numeric(sites["score"], errors="coerce")
    scored = sites[score.notna() & (sites["verdict"] != "excluded")]
    rows = []
    for c in criteria:
        if c["effective"] <= 0 or c["score"] not in sites.columns:
            continue
        s = pd.to_numeric(scored[c["score"]], errors="coerce")
        mean = float((s * c["effective"] * 100).mean()) if s.notna().any() else float("nan")
        rows.append((c["label"], mean, c["effective"] * 100, _without_data(sites, c)))
    if not rows:
        return '<p class="muted">No weighted criteria.</p>', rows
    W, L, row_h, T = 720, 250, 28, 6
    H = T + row_h * len(rows) + 24
    pw = W - L - 70
    out = []
    for i, (label, mean, full, _) in enumerate(rows):
        yy = T + i * row_h
        text = label if len(label) <= 38 else label[:37] + "…"
        out.append(f'<text x="{L - 8}" y="{yy + 17}" class="label" text-anchor="end">{esc(text)}<title>{esc(label)}</title></text>')
        out.append(f'<rect x="{L}" y="{yy + 5}" width="{pw * full / 100:.1f}" height="16" class="possible"/>')
        if not math.isnan(mean):
            out.append(f'<rect x="{L}" y="{yy + 5}" width="{pw * mean / 100:.1f}" height="16" class="contrib">'
                       f'<title>{esc(label)}: {mean:.1f} of {full:.1f} points on average</title></rect>')
        out.append(f'<text x="{L + pw * full / 100 + 6:.1f}" y="{yy + 17}" class="tick">'
                   f'{"—" if math.isnan(mean) else f"{mean:.1f}"} / {full:.0f}</text>')
    axis_y = T + row_h * len(rows) + 4
    for k in range(0, 101, 20):
        xx = L + pw * k / 100
        out.append(f'<text x="{xx:.1f}" y="{axis_y + 14}" class="tick" text-anchor="middle">{k}</text>')
    return _svg(W, H, "".join(out), "mean contribution of each criterion to the score"), rows


def _without_data(sites: pd.DataFrame, c: Mapping[str, Any]) -> int:
    """Sites without data for a criterion: the manifest's count (over every site of the run), or the
    same count made from the sites when the manifest has none."""
    n = c.get("without_data")
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    return int(sites[c["measure"]].isna().sum()) if c["measure"] in sites.columns else len(sites)


#: The count of sites without data for a criterion that every report table shows.
without_data_count = _without_data


def _nice_step(top: int) -> int:
    raw = top / 5
    mag = 10 ** math.floor(math.log10(max(raw, 1)))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return max(1, int(m * mag))
    return max(1, int(10 * mag))


__all__ = ["verdict_bar", "score_histogram", "contributions", "without_data_count"]
