"""What an input layer is called where people read it: the map's legend and layer control, its
click popups and the review report all take the name from :func:`layer_name`.

The title says what the layer is: the name the user gave it (``name`` in a run config), or the
``label`` of its layer definition (``layers/*.toml``: "Federal and state land (PAD-US)",
"Wilderness areas", …) with the HUC level of watershed data; else the file's name. The file (and
the layer inside it) comes second, so a reviewer can still tell which file was drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["LayerName", "layer_name", "input_name", "display_names"]


@dataclass(frozen=True)
class LayerName:
    title: str  # what the layer is
    file: str   # the file (· layer) it was read from; "" when the title already is the file's name


@lru_cache(maxsize=1)
def _labels() -> dict[str, str]:
    from sitescreen.inputs.schemas import known_schemas
    return {name: s.label for name, s in known_schemas().items() if s.label}


def _huc_level(gdf: Any) -> str:
    """" (HUC-8)" when every feature of ``gdf`` has a HUC code of one length, else ""."""
    if gdf is None or "huc" not in getattr(gdf, "columns", ()):
        return ""
    codes = pd.Series(gdf["huc"]).dropna().astype(str).str.strip()
    lengths = set(codes.str.len()) if len(codes) else set()
    return f" (HUC-{lengths.pop()})" if len(lengths) == 1 and codes.str.isdigit().all() else ""


def layer_name(name: str, path: str | Path | None = None, layer: str | None = None, schema: str | None = None,
               gdf: Any = None) -> LayerName:
    """The title and file of the input ``name`` (its run label: the user's name, else the layer or file
    stem) read from ``path``/``layer`` with the definition ``schema``; ``gdf`` (its features, when at
    hand) adds the HUC level of watershed data."""
    if path is None:
        return LayerName(title=name, file="")
    p = Path(path)
    file = p.name + (f" · {layer}" if layer else "")
    if name not in (p.stem, layer):  # the user named it
        return LayerName(title=name, file=file)
    label = _labels().get(schema or "")
    if not label:
        return LayerName(title=name, file=file if file != name else "")
    return LayerName(title=label + _huc_level(gdf), file=file)


def input_name(entry: Any, gdf: Any = None) -> LayerName:
    """:func:`layer_name` of a run record's input entry."""
    return layer_name(entry.name, entry.path, entry.layer, entry.schema, gdf)


def display_names(layers: Any, manifest: Any) -> list[LayerName]:
    """The names of a map's display layers: each is the run's input of its name and role."""
    entries = {(e.name, e.role): e for e in reversed(manifest.inputs)} if manifest is not None else {}
    out = []
    for lyr in layers:
        entry = entries.get((lyr.name, lyr.role))
        out.append(input_name(entry, lyr.gdf) if entry is not None else layer_name(lyr.name))
    return out
