"""Land by manager type on the map: a land layer (role ``federal_land``) whose features carry the
canonical ``manager_type`` (PAD-US ``Mang_Type``: FED, STAT, LOC, TRIB, PVT, …, or what a layer
definition maps to it) is drawn in one colour per class, and the legend lists the classes with
their counts. A layer without the field is drawn in its role's one colour, as before."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sitescreen.outputs.mapping import DisplayLayer

__all__ = ["LandClass", "LAND_CLASSES", "LAND_ROLES", "land_parts"]

#: The roles whose layers are drawn by manager type.
LAND_ROLES = ("federal_land",)


@dataclass(frozen=True)
class LandClass:
    key: str
    label: str
    codes: tuple[str, ...]  # manager_type codes of the class; () = every code no other class lists
    stroke: str
    fill: str


#: The classes in drawing and legend order.
LAND_CLASSES: tuple[LandClass, ...] = (
    LandClass("federal", "Federal", ("FED",), "#a8781c", "#f2d479"),
    LandClass("state", "State", ("STAT",), "#7b2d8e", "#c38fd6"),
    LandClass("other", "Other: local, tribal, private, joint or unknown", (), "#7a6a50", "#d6c9ae"),
)
_LISTED = tuple(c for cls in LAND_CLASSES for c in cls.codes)


def _class_of(codes: pd.Series) -> np.ndarray:
    """Each feature's class index in :data:`LAND_CLASSES`."""
    text = codes.astype("string").str.strip().str.upper()
    out = np.full(len(codes), next(i for i, c in enumerate(LAND_CLASSES) if not c.codes), dtype=int)
    for i, cls in enumerate(LAND_CLASSES):
        if cls.codes:
            out[text.isin(cls.codes).fillna(False).to_numpy(dtype=bool)] = i
    return out


def land_parts(layer: DisplayLayer) -> list[tuple[LandClass | None, DisplayLayer]]:
    """The layer split by manager class (classes with no feature left out); the layer whole, with
    no class, when it is no land layer or has no ``manager_type``."""
    gdf = layer.gdf
    if layer.role not in LAND_ROLES or "manager_type" not in gdf.columns:
        return [(None, layer)]
    cls = _class_of(gdf["manager_type"])
    return [(c, replace(layer, gdf=gdf[cls == i])) for i, c in enumerate(LAND_CLASSES) if (cls == i).any()]


def class_style(base: dict[str, Any], cls: LandClass) -> dict[str, Any]:
    """The role's style with the class's colours."""
    return {**{k: v for k, v in base.items() if k != "swatch"}, "stroke": cls.stroke, "fill": cls.fill}
