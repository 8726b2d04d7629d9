"""The diff as one self-contained HTML page: counts, an inline SVG map of the sites whose verdict
changed (filled with the new verdict's colour, ringed with the old one's; positions in the newer
run's CRS), and tables of every input, rule and site change. No script, no style sheet or image
from the network; the words are :mod:`sitescreen.review.diffshow`'s."""

from __future__ import annotations

import numpy as np

from sitescreen.outputs.htmlsafe import esc
from sitescreen.review.diff import RunDiff, SiteChange
from sitescreen.review.diffshow import cause_text, counts, input_text, ref_text, rule_text
from sitescreen.rules.verdicts import COLORS, LABELS, OTHER_COLOR, VERDICTS
from sitescreen.rules.wording import score_text

WIDTH, HEIGHT, PAD = 720, 440, 16

_CSS = """
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #1f2933; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 2px solid #1f2933; }
.muted { color: #616e7c; } table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d9dee4; vertical-align: top; font-size: 13px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { color: #fff; font-size: 11px; font-weight: 650; text-transform: uppercase; padding: 1px 7px; border-radius: 9px; }
svg.map { border: 1px solid #d9dee4; background: #f8fafc; max-width: 100%; height: auto; }
.legend span { margin-right: 14px; font-size: 12px; } ul.lines { font-size: 13px; }
"""


def _badge(verdict: str) -> str:
    return (f'<span class="badge" style="background:{COLORS.get(verdict, OTHER_COLOR)}">'
            f'{esc(LABELS.get(verdict, verdict))}</span>')


def svg_map(changes: tuple[SiteChange, ...]) -> str:
    """The sites of ``changes`` as circles on an inline SVG (north up, one scale for x and y)."""
    xy = np.array([(c.x, c.y) for c in changes], dtype=float).reshape(-1, 2)
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return '<p class="muted">No site whose verdict changed has a footprint to draw.</p>'
    lo, hi = xy[ok].min(axis=0), xy[ok].max(axis=0)
    span = max(float((hi - lo).max()), 1.0)
    k = min((WIDTH - 2 * PAD) / span, (HEIGHT - 2 * PAD) / span)
    off = (np.array([WIDTH, HEIGHT]) - (hi - lo) * k) / 2
    dots = []
    for c, (x, y), good in zip(changes, xy, ok):
        if not good:
            continue
        px, py = off[0] + (x - lo[0]) * k, HEIGHT - (off[1] + (y - lo[1]) * k)
        tip = f"{c.site_id} {c.name}: {c.verdict_a} → {c.verdict_b} — {cause_text(c)}"
        dots.append(f'<circle class="site" cx="{px:.1f}" cy="{py:.1f}" r="6" fill="{COLORS.get(c.verdict_b, OTHER_COLOR)}" '
                    f'stroke="{COLORS.get(c.verdict_a, OTHER_COLOR)}" stroke-width="3"><title>{esc(tip)}</title></circle>')
    legend = "".join(f'<span><svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="{COLORS[v]}"/></svg> '
                     f"{esc(LABELS[v])}</span>" for v in VERDICTS)
    return (f'<svg class="map" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="sites whose verdict changed">{"".join(dots)}</svg>'
            f'<div class="legend muted">Fill: new verdict; ring: old verdict. {legend}</div>')


def _site_rows(changes: tuple[SiteChange, ...]) -> str:
    rows = "".join(
        f"<tr><td>{esc(c.site_id)}</td><td>{esc(c.name)}</td><td>{_badge(c.verdict_a)} → {_badge(c.verdict_b)}</td>"
        f"<td class=num>{esc(score_text(c.score_a))} → {esc(score_text(c.score_b))}</td>"
        f"<td>{esc(cause_text(c))}</td></tr>" for c in changes)
    return ("<table><thead><tr><th>Site</th><th>Name</th><th>Verdict</th><th>Score</th><th>Cause</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _lines(items: list[str]) -> str:
    return f'<ul class="lines">{"".join(f"<li>{esc(t)}</li>" for t in items)}</ul>' if items else '<p class="muted">None.</p>'


def diff_page(d: RunDiff) -> str:
    """The HTML page of ``d`` (see the module doc)."""
    n = counts(d)
    head = (f"{n['sites_a']:,} → {n['sites_b']:,} sites ({n['sites_added']:,} added, {n['sites_removed']:,} removed); "
            f"{n['verdict_changes']:,} verdicts changed, {n['score_changes']:,} more scores changed; "
            f"{n['inputs_changed'] + n['inputs_added'] + n['inputs_removed']} input changes, {n['rule_changes']} rule changes")
    vc = d.verdict_changes
    body = (f"<main><h1>What changed between two screenings</h1><p class=muted>{esc(d.dir_a)} → {esc(d.dir_b)}"
            f" · positions in {esc(d.crs)}</p><p><b>{esc(head)}</b></p>"
            f"<h2>Sites whose verdict changed</h2>{svg_map(vc) if vc else '<p class=muted>No verdict changed.</p>'}"
            f"{_site_rows(vc) if vc else ''}"
            f"<h2>Inputs</h2>{_lines([input_text(i) for i in d.inputs])}"
            f"<h2>Profile rules</h2>{_lines([rule_text(r) for r in d.rules])}"
            f"<h2>Scores changed (same verdict)</h2>{_site_rows(d.score_changes) if d.score_changes else '<p class=muted>None.</p>'}"
            f"<h2>Sites added</h2>{_lines([ref_text(r) for r in d.added])}"
            f"<h2>Sites removed</h2>{_lines([ref_text(r) for r in d.removed])}"
            "<footer class=muted><p>Written by sitescreen diff.</p></footer></main>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1"><title>sitescreen diff</title>'
            f"<style>{_CSS}</style></head><body>{body}</body></html>\n")


__all__ = ["diff_page", "svg_map"]
