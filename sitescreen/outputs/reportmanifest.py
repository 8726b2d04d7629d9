"""The report's run manifest section: the run's facts, its sites, its inputs with their hashes,
and its timings, from the run record."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from sitescreen.outputs.htmlsafe import esc
from sitescreen.outputs.layernames import input_name
from sitescreen.rules.reviewwords import crs_phrase
from sitescreen.rules.wording import number
from sitescreen.values import plain
from sitescreen.record.manifest import RunRecord, to_data


def _value(v: Any) -> str:
    v = plain(v) if np.ndim(v) == 0 else v
    if v is None or v == "":
        return '<span class="muted">—</span>'
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return esc(number(v, 6)) if isinstance(v, float) else f"{v:,}"
    if isinstance(v, Mapping):
        return "; ".join(f"{esc(k)}: {_value(x)}" for k, x in v.items()) or '<span class="muted">—</span>'
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v) or '<span class="muted">—</span>'
    return esc(v)


def manifest_section(manifest: RunRecord | None) -> str:
    if manifest is None:
        return '<section id="manifest"><h2>Run manifest</h2><p class="muted">No run record.</p></section>'
    tool = manifest.tool
    run = [("Tool", f"{tool.name} {tool.version}".strip()),
           ("Created", manifest.created), ("CRS", manifest.crs), ("Config", manifest.config),
           ("Measured in", crs_phrase(manifest.crs, manifest.zones) if manifest.zones else None)]
    kv = "".join(f"<tr><th>{esc(k)}</th><td>{_value(v)}</td></tr>" for k, v in run if v)
    kv += "".join(f"<tr><th>Zone {esc(z.label)}</th><td>{z.sites} sites; CRS <code>{esc(z.crs)}</code>; {esc(z.why)}; "
                  f"lon/lat bounds {_value(z.bounds)}</td></tr>" for z in manifest.zones or ())
    sinfo = to_data(manifest.sites)
    if sinfo:
        kv += "".join(f"<tr><th>Sites: {esc(k.replace('_', ' '))}</th><td>"
                      f"{'<code>' + esc(v) + '</code>' if k in ('sha256', 'path') else _value(v)}</td></tr>"
                      for k, v in sinfo.items())
    known = {"tool", "title", "created", "crs", "zones", "config", "profile", "sites", "inputs", "criteria", "counts", "timings"}
    for key, v in to_data(manifest).items():
        if key in known or v in (None, "", [], {}):
            continue
        if isinstance(v, Mapping):
            kv += "".join(f"<tr><th>{esc(key.replace('_', ' ').capitalize())}: {esc(k)}</th><td>{_value(x)}</td></tr>"
                          for k, x in v.items())
        else:
            kv += f"<tr><th>{esc(key.replace('_', ' ').capitalize())}</th><td>{_value(v)}</td></tr>"
    inputs = []
    for e in manifest.inputs:
        sha = str(e.sha256 or "")
        inputs.append(
            f"<tr><td><b>{esc(input_name(e).title)}</b><br><span class=small>{esc(e.role)} · {esc(e.kind)}"
            f"{' · ' + esc(e.schema) if e.schema else ''}</span></td>"
            f"<td class=small><code>{esc(e.path)}</code>{'<br>layer ' + esc(e.layer) if e.layer else ''}</td>"
            f"<td class=small><code class=hash>{esc(sha)}</code></td><td class=small>{_value(e.source_crs)}</td>"
            f"<td class=num>{_value(e.features_read)}</td><td class=num>{_value(e.repairs)}</td>"
            f"<td class=small>{_value(e.coverage)}</td></tr>")
    inputs_table = ('<table class="inputs"><thead><tr><th>Input</th><th>File</th><th>SHA-256</th><th>Source CRS</th>'
                    '<th>Features</th><th>Repairs</th><th>Coverage</th></tr></thead>'
                    f'<tbody>{"".join(inputs)}</tbody></table>') if inputs else '<p class="muted">No inputs recorded.</p>'
    timings = manifest.timings
    tline = ""
    if timings:
        tline = '<p class="small muted">Timings: ' + esc(", ".join(
            f"{k} {number(v, 3)} s" for k, v in timings.items() if isinstance(v, (int, float)))) + "</p>"
    return (f'<section id="manifest"><h2>Run manifest</h2><table class="kv">{kv}</table>'
            f"<h3>Inputs</h3>{inputs_table}{tline}</section>")


__all__ = ["manifest_section"]
