"""What a map page says when its scripts did not start (Leaflet from a CDN with no network, or
JavaScript turned off): plain HTML and CSS, shown until the map's script removes it, so the page
is never blank without a word."""

from __future__ import annotations

from sitescreen.outputs.htmlsafe import esc

__all__ = ["SCRIPTS_FAILED", "CDN_HINT", "OWN_HINT", "scripts_failed_html"]

#: What a page whose scripts did not start says (shown until ``sitescreen.init`` removes it).
SCRIPTS_FAILED = "The map's scripts could not be loaded, so this page cannot show the map."
CDN_HINT = ("This page was written with --cdn and loads Leaflet from the internet, which this computer "
            "cannot reach. Rebuild it as a self-contained map that opens with no network "
            "(the default; --offline also leaves out the basemap): sitescreen map RESULTS_FOLDER --overwrite")
OWN_HINT = "JavaScript may be turned off in this browser; the map needs it."


def scripts_failed_html(self_contained: bool) -> str:
    """Plain HTML and CSS, shown unless the map's script starts (it removes this element)."""
    hint = OWN_HINT if self_contained else CDN_HINT
    return ('<div id="ss-noscript" role="alert" style="position:fixed;inset:0;z-index:100000;display:flex;'
            'align-items:center;justify-content:center;background:#f3f1ec;font:15px/1.5 system-ui,sans-serif;'
            'color:#1f2933;padding:24px"><div style="max-width:620px;background:#fff;border:1px solid #cbd2d9;'
            f'border-radius:8px;padding:18px 22px"><p style="margin:0 0 8px"><b>{esc(SCRIPTS_FAILED)}</b></p>'
            f'<p style="margin:0">{esc(hint)}</p></div></div>')
