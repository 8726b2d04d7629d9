"""Sources for the permit file: one table of every rule a run applied (its safeguard and legal
source) and every file it read (what it is, who publishes it, its SHA-256, feature count and date).

Built from the run record alone, so ``sitescreen sources DIR``, its CSV and the report's
"Sources" section are the same rows; a reviewer can attach any of them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from sitescreen.outputs.htmlsafe import esc
from sitescreen.record.manifest import RunRecord
from sitescreen.rules.wording import NOTHING, not_evaluated_text, rule_text, weight_text


@dataclass(frozen=True)
class SourceRow:
    """One line of the sources table. ``kind``: rule, profile, sites or input."""

    kind: str
    name: str
    description: str
    safeguard: str
    source: str
    file: str
    sha256: str
    features: int | None
    modified: str


COLUMNS = tuple(f.name for f in fields(SourceRow))
HEADINGS = ("Kind", "Name", "What", "Safeguard", "Source / publisher", "File", "SHA-256", "Features", "Modified")


def source_rows(record: RunRecord) -> list[SourceRow]:
    """The rules, then the profile, the sites file and the input layers of a run."""
    return _rule_rows(record) + _file_rows(record)


def _rule_rows(record: RunRecord) -> list[SourceRow]:
    rows = []
    for c in record.criteria:
        what = rule_text(c.transform, c.exclusion, c.unit, c.cap)
        share = f"effective weight {weight_text(c.effective_weight)}" if c.effective_weight else "no weight"
        reads = f"reads {', '.join(c.roles)}" if c.roles else ""
        status = "" if c.evaluated else not_evaluated_text(c.note)
        rows.append(SourceRow(kind="rule", name=f"{c.label} ({c.name})",
                              description=" · ".join(x for x in (what, share, reads, status) if x),
                              safeguard=c.safeguard, source=c.source, file="", sha256="", features=None, modified=""))
    return rows


def _file_rows(record: RunRecord) -> list[SourceRow]:
    p, s = record.profile, record.sites
    rows = [SourceRow(kind="profile", name=p.name, description=" ".join(p.description.split()) or "scoring profile",
                      safeguard="", source="", file=_name(p.path), sha256=p.sha256 or "", features=None, modified="")]
    if s.sha256:  # a sites file (a grid of sites reads none)
        rows.append(SourceRow(kind="sites", name="candidate sites", description=s.product or f"{s.schema or 'sites'} records",
                              safeguard="", source=s.publisher or "", file=_name(s.path, s.layer), sha256=s.sha256,
                              features=s.records_read, modified=s.modified or ""))
    for e in record.inputs:
        features = e.features_in_file if e.features_in_file is not None else e.features_read
        rows.append(SourceRow(kind="input", name=e.name, description=e.product or f"{e.role} {e.kind}",
                              safeguard="", source=e.publisher or "", file=_name(e.path, e.layer), sha256=e.sha256 or "",
                              features=features, modified=e.modified or ""))
    return rows


def _name(path: str | None, layer: str | None = None) -> str:
    if not path:
        return ""
    return Path(path).name + (f" (layer {layer})" if layer else "")


def rows_csv(rows: list[SourceRow]) -> str:
    """The table as CSV (a header of :data:`COLUMNS`; an unknown feature count is empty)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(tuple("" if v is None else v for v in astuple(r)) for r in rows)
    return out.getvalue()


def rows_text(rows: list[SourceRow]) -> str:
    """The table for a terminal: a block per row, each fact on its own labelled line."""
    blocks = []
    for r in rows:
        lines = [f"[{r.kind}] {r.name}"]
        lines += [f"  {h.lower()}: {_shown(v)}" for h, v in zip(HEADINGS[2:], astuple(r)[2:]) if v not in ("", None)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def _shown(v) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)


def sources_section(record: RunRecord | None) -> str:
    """The report's "Sources" section: the same rows as ``sitescreen sources``."""
    if record is None:
        return '<section id="sources"><h2>Sources</h2><p class="muted">No run record.</p></section>'
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if isinstance(v, int) else ''}>"
                         f"{'<code class=hash>' + esc(v) + '</code>' if c == 'sha256' and v else esc(_shown(v)) if v not in ('', None) else NOTHING}</td>"
                         for c, v in zip(COLUMNS, astuple(r))) + "</tr>"
        for r in source_rows(record))
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADINGS)
    return ('<section id="sources"><h2>Sources</h2><p class="small muted">Every rule the run applied and every file '
            'it read, for the permit file (also <code>sitescreen sources DIR --csv</code>).</p>'
            f'<table class="sources"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>')


__all__ = ["SourceRow", "COLUMNS", "HEADINGS", "source_rows", "rows_csv", "rows_text", "sources_section"]
