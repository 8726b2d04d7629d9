"""The map's criteria, legend and title (HTML built here is escaped here)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import geopandas as gpd

from sitescreen.outputs.htmlsafe import esc
from sitescreen.outputs.payload import MAX_ZOOM, pixel
from sitescreen.rules.verdicts import COLORS as VERDICT_COLORS
from sitescreen.rules.verdicts import LABELS as VERDICT_LABELS
from sitescreen.rules.verdicts import VERDICTS as VERDICT_ORDER
from sitescreen.rules.verdicts import meanings, thresholds
from sitescreen.rules.wording import exclusion_text, limits_text, number, search_radius, transform_text, weight_text
from sitescreen.record.manifest import RunRecord


def criteria(manifest: RunRecord | None, sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    if manifest is None or not manifest.criteria:  # results without a record: derive from the columns
        return [{"name": c[2:], "label": c[2:].replace("_", " "), "unit": "", "measure_column": c,
                 "score_column": f"s_{c[2:]}", "weight": weight_text(0.0), "effective_weight": 0.0, "rule": "",
                 "exclusion": exclusion_text(None, ""), "radius": None, "safeguard": "", "source": "",
                 "evaluated": True, "note": ""}
                for c in sites.columns if c.startswith("m_")]
    out = []
    for c in manifest.criteria:
        out.append({
            "name": c.name,
            "label": c.label,
            "unit": c.unit,
            "measure_column": c.measure_column,
            "score_column": c.score_column or f"s_{c.name}",
            "weight": weight_text(c.effective_weight),
            "effective_weight": c.effective_weight,
            "rule": transform_text(c.transform, c.unit) if c.transform else "",
            "exclusion": limits_text(c.exclusion, c.unit, c.cap),
            "radius": search_radius(c.params),
            "safeguard": c.safeguard,
            "source": c.source,
            "evaluated": c.evaluated,
            "note": c.note,
        })
    return out


#: Site dots in pixels (radius): from ``small`` (score 0) to ``large`` (score 100), shrunk where sites
#: are dense but never under ``min``; the verdicts in ``UNSCORED`` (their score says no suitability:
#: 0 by exclusion, or none) are drawn at the mid-score size, so they are not the tiniest dots.
DOTS = {"min": 3.0, "small": 3.0, "large": 7.5}
UNSCORED = ("excluded", "incomplete")


def dot_radius(score: float | None, verdict: str) -> float:
    """The dot radius (px, before shrinking for density) of a site: what sitescreen-map.js draws."""
    if verdict in UNSCORED or score is None:
        t = 0.5 if verdict in UNSCORED else 0.0
    else:
        t = min(max(score / 100, 0.0), 1.0)
    return DOTS["small"] + (DOTS["large"] - DOTS["small"]) * t


def verdict_meaning(manifest: RunRecord | None) -> dict[str, str]:
    return meanings(*thresholds(manifest.profile.verdicts if manifest is not None else None))


def _scale_text(zoom: int, lat: float) -> str:
    """The map scale (1:N, rounded) at a zoom level and latitude, for 0.28 mm screen pixels."""
    denom = pixel(zoom) * math.cos(math.radians(lat)) / 0.00028
    digits = max(0, len(str(int(denom))) - 2)
    return f"1:{int(round(denom, -digits)):,}"


def _unscored_text(counts: Mapping[str, int]) -> str:
    shown = [VERDICT_LABELS[v] for v in UNSCORED if counts.get(v)]
    return " and ".join(shown) + " sites: mid size, whatever their score" if shown else ""


def legend_html(counts: Mapping[str, int], meaning: Mapping[str, str], layers: list[dict[str, Any]],
                 zf: int, lat: float, tolerance: float | None, hidden: int) -> str:
    rows = "".join(
        f'<div class="ss-row"><span class="ss-dot" style="background:{VERDICT_COLORS[v]}"></span>'
        f'<span><b>{esc(VERDICT_LABELS[v])}</b> <span class="ss-muted">{esc(meaning[v])}</span></span></div>'
        for v in VERDICT_ORDER if counts.get(v))
    sizes = "".join(f'<i style="width:{d:g}px;height:{d:g}px"></i>'
                    for d in (2 * dot_radius(sc, "review") for sc in (0, 50, 100)))
    html = f"<h2>Verdict</h2><div>{rows}</div>"
    html += (f'<h2>Score</h2><div><div class="ss-sizes">{sizes}<span>larger = higher score</span></div>'
             + (f'<div class="ss-muted">{esc(_unscored_text(counts))}</div>' if _unscored_text(counts) else "")
             + (f'<div class="ss-muted">Footprints, shaded by score, from about {_scale_text(zf, lat)}</div>'
                if zf <= MAX_ZOOM else "") + "</div>")
    if layers:
        lrows = "".join(
            f'<div class="ss-row"><span class="ss-swatch" style="{p["style"]["swatch"]}"></span>'
            f'<span>{layer_title_html(p, role=True)}</span></div>' + _classes_html(p)
            for p in layers)
        html += f"<h2>Layers</h2><div>{lrows}</div>"
    note = "Map geometry is simplified for display"
    if tolerance:
        note += f" (±{number(tolerance, 2)} m)"
    note += " and clipped to the area around the sites; scores use the full geometry."
    if hidden:
        note += f" {hidden} site(s) without geometry are not shown."
    return html + f'<div class="ss-note">{esc(note)}</div>'


def _classes_html(p: Mapping[str, Any]) -> str:
    """A land layer's manager classes (sitescreen.outputs.mapland), one row each, with counts."""
    return "".join(
        f'<div class="ss-row ss-class"><span class="ss-swatch" style="{c["swatch"]}"></span>'
        f'<span>{esc(c["label"])} <span class="ss-muted">{c["count"]:,}</span></span></div>'
        for c in p.get("classes") or ())


def layer_title_html(p: Mapping[str, Any], role: bool = False) -> str:
    """A display layer's title with its file second (smaller, and as the tooltip); with ``role``
    the role it plays in the rules too."""
    file = p.get("file") or ""
    second = " · ".join(x for x in (file, p["role"].replace("_", " ") if role else "") if x)
    tip = f' title="{esc(file)}"' if file else ""
    small = f' <span class="ss-file">{esc(second)}</span>' if second else ""
    return f'<span class="ss-ltitle"{tip}>{esc(p["name"])}</span>{small}'


def title_html(manifest: RunRecord | None, n: int, counts: Mapping[str, int]) -> str:
    title = map_title(manifest)
    profile = manifest.profile.name if manifest is not None else None
    created = str((manifest.created if manifest is not None else None) or "")[:10]
    sub = " · ".join(x for x in (f"{n:,} sites", f"profile {profile}" if profile else "", created) if x)
    chips = "".join(
        f'<span><span class="ss-dot" style="background:{VERDICT_COLORS[v]}"></span>'
        f'{counts[v]:,} {esc(VERDICT_LABELS[v].lower())}</span>' for v in VERDICT_ORDER if counts.get(v))
    return f'<h1>{esc(title)}</h1><div class="ss-sub">{esc(sub)}</div><div class="ss-counts">{chips}</div>'


def map_title(manifest: RunRecord | None) -> str:
    return (manifest.title if manifest is not None else None) or "Site screening"
