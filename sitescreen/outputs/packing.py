"""The map's big data elements, packed: gzip-compressed, base64-coded, unpacked in the page.

A JSON data element of at least :data:`PACK_MIN_CHARS` characters (the sites of a national map,
its re-weighting data) is written as ``<script type="application/x-sitescreen-gzip">`` holding
the base64 of the gzip of the same JSON text; smaller ones stay plain JSON. The page's own script
is held in a ``<script type="text/x-sitescreen-start">`` element and started by
``sitescreen.unpack`` (assets/sitescreen-unpack.js) once every packed element is decompressed with
the browser's built-in ``DecompressionStream('gzip')`` (no library, no network); a browser without
it shows :data:`UNPACK_FAILED` instead of the map.
"""

from __future__ import annotations

import base64
import gzip

from jinja2 import Template

from sitescreen.outputs.htmlsafe import esc, script_json

__all__ = ["PACKED_TYPE", "START_TYPE", "START_ID", "PACK_MIN_CHARS", "UNPACK_FAILED", "data_element",
           "pack", "start_script", "page_template"]

PACKED_TYPE = "application/x-sitescreen-gzip"
START_TYPE = "text/x-sitescreen-start"
START_ID = "ss-start"
#: JSON texts this long or longer are packed (a 10,000-site map's sites are about 1 MB).
PACK_MIN_CHARS = 1_000_000
#: What a page says when its browser cannot decompress the packed data.
UNPACK_FAILED = ("This browser cannot unpack the map's data (it needs DecompressionStream: Chrome or Edge 80, "
                 "Firefox 113, Safari 16.4 or newer). Open the page in a current browser.")


def pack(json_text: str) -> str:
    """The base64 of the gzip of ``json_text`` (UTF-8; no time stamp, so the same text packs the same)."""
    return base64.b64encode(gzip.compress(json_text.encode("utf-8"), compresslevel=6, mtime=0)).decode("ascii")


def data_element(elem_id: str, json_text: str) -> str:
    """A data element for ``json_text`` (made safe by ``htmlsafe.script_json``): plain, or packed when big."""
    if len(json_text) < PACK_MIN_CHARS:
        return f'<script type="application/json" id="{esc(elem_id)}">{json_text}</script>'
    return f'<script type="{PACKED_TYPE}" id="{esc(elem_id)}">{pack(json_text)}</script>'


def start_script(code: str) -> str:
    """The page's script ``code``, held until the packed data is unpacked, and the line that starts it."""
    return (f'<script type="{START_TYPE}" id="{START_ID}">\n{code}\n</script>\n'
            f'<script>sitescreen.unpack("{START_ID}", {script_json(UNPACK_FAILED)});</script>\n')


def page_template() -> Template:
    """branca's page (``Figure``) with its script held in the start element (:func:`start_script`)."""
    return Template("<!DOCTYPE html>\n<html>\n<head>\n{% if this.title %}<title>{{this.title}}</title>{% endif %}"
                    "    {{this.header.render(**kwargs)}}\n</head>\n<body>\n    {{this.html.render(**kwargs)}}\n"
                    "</body>\n" + start_script("    {{this.script.render(**kwargs)}}") + "</html>\n")
