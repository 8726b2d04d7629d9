"""The reviewers' decisions in a site's breakdown of the report (the words:
:func:`sitescreen.record.decisions.decision_text`, in the frame's ``decisions`` column that
:func:`sitescreen.record.decisions.with_decisions` adds)."""

from __future__ import annotations

from typing import Any

from sitescreen.outputs.htmlsafe import esc
from sitescreen.record.decisions import DECISIONS_COLUMN
from sitescreen.values import is_missing


def decisions_html(value: Any) -> str:
    """A site's decisions (one per line of ``value``) as a list; ``""`` for none."""
    if is_missing(value) or not str(value).strip():
        return ""
    items = "".join(f"<li>{esc(line)}</li>" for line in str(value).split("\n") if line.strip())
    return f'<div class="decisions small"><b>Review decisions</b><ul>{items}</ul></div>'


__all__ = ["DECISIONS_COLUMN", "decisions_html"]
