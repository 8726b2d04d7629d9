"""The units a roll-up adds sites up in: the run's watershed layer at its own HUC level or at a coarser
one (``watershed``, ``huc4``, ``huc6``, …), or any polygon file (``FILE[:FIELD]``: counties, tracts).

Every kind of unit is read with sitescreen's own readers (:func:`sitescreen.inputs.load.load_vector`:
CRS checks, repairs, reprojection into the run CRS, polygons only) and comes out the same way: one
row per unit, its name in ``unit`` and its (dissolved) polygon, so one assignment and one set of sums
serve all of them (:mod:`sitescreen.review.rollup`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from sitescreen.errors import ConfigError, LayerConfigError, LayerDataError
from sitescreen.inputs.load import load_vector
from sitescreen.inputs.probe import field_names, layer_where
from sitescreen.inputs.schemas import GENERIC_NAME_FIELDS, Schema
from sitescreen.inputs.spec import LayerSpec
from sitescreen.record.manifest import RunRecord
from sitescreen.run.config import config_from_manifest

#: What ``--by`` accepts besides a polygon file.
WATERSHED = "watershed"
HUC_LEVEL = re.compile(r"huc(\d+)", re.IGNORECASE)
HUC_LEVELS = tuple(range(2, 17, 2))


@dataclass(frozen=True)
class Units:
    """The units of a roll-up in the run CRS: ``gdf`` has one row per unit (``unit``, geometry)."""

    by: str           # what --by said, for the record and the headings
    kind: str         # "watershed", "huc<N>" or "file"
    source: str       # the file the polygons come from
    field: str        # the field naming the units
    gdf: gpd.GeoDataFrame


def read_units(by: str, record: RunRecord, crs: CRS, bbox_lonlat: tuple | None = None) -> Units:
    """The units ``by`` names (see the module doc); ``bbox_lonlat`` limits the read to the sites' reach."""
    text = str(by).strip()
    level = HUC_LEVEL.fullmatch(text)
    if text.lower() == WATERSHED or level:
        return _watershed_units(text, record, crs, bbox_lonlat, int(level.group(1)) if level else None)
    return _file_units(text, crs, bbox_lonlat)


def _watershed_units(by: str, record: RunRecord, crs: CRS, bbox, level: int | None) -> Units:
    if level is not None and level not in HUC_LEVELS:
        raise ConfigError(f"--by {by}: HUC levels are {', '.join(f'huc{n}' for n in HUC_LEVELS)}")
    specs = [s for s in config_from_manifest(record).layers if s.role == WATERSHED]
    if not specs:
        raise ConfigError(f"--by {by}: the run has no watershed layer (layer roles: "
                          f"{', '.join(sorted({s.role for s in config_from_manifest(record).layers})) or 'none'}); "
                          "give a polygon file: --by FILE[:FIELD]")
    frames = [load_vector(s, crs, bbox).gdf for s in specs]
    feats = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    where = ", ".join(layer_where(s) for s in specs)
    if "huc" not in feats:
        raise LayerConfigError(f"{where}: the watershed layer has no HUC code field (huc2 … huc12)")
    codes = feats["huc"].astype("string").str.strip()
    if codes.isna().any() or (codes == "").any():
        raise LayerDataError(f"{where}: {int((codes.isna() | (codes == '')).sum())} watershed polygon(s) "
                             "have no HUC code; every unit needs one")
    if level is not None:
        short = codes.str.len() < level
        if short.any():
            digits = ", ".join(sorted({f"huc{n}" for n in codes[short].str.len().unique()}))
            finest = int(codes.str.len().min())
            raise ConfigError(f"--by {by}: {where} holds {digits} codes, too short for HUC-{level}; "
                              f"levels possible: {', '.join(f'huc{n}' for n in HUC_LEVELS if n <= finest)}")
        codes = codes.str[:level]
    kind = f"huc{level}" if level is not None else WATERSHED
    return Units(by=by, kind=kind, source=where, field="huc", gdf=_dissolved(feats, codes.to_numpy(dtype=object), crs))


def split_by_file(text: str) -> tuple[Path, str | None]:
    """``FILE[:FIELD]``: a path that exists as written is never cut at ``:``."""
    if Path(text).exists() or ":" not in text:
        return Path(text), None
    path, _, fld = text.rpartition(":")
    return Path(path), (fld or None)


def _file_units(text: str, crs: CRS, bbox) -> Units:
    path, fld = split_by_file(text)
    if not path.exists():
        raise ConfigError(f"--by {text}: {path} does not exist; give watershed, a HUC level "
                          f"({', '.join(f'huc{n}' for n in HUC_LEVELS)}) or a polygon file FILE[:FIELD]")
    probe = LayerSpec(role="units", path=path)
    if probe.kind == "raster":
        raise LayerDataError(f"--by {text}: {path} is a raster; give a polygon file FILE[:FIELD]")
    where = layer_where(probe)
    fields = field_names(probe, where)
    if fld is None:
        fld = next((c for c in GENERIC_NAME_FIELDS if c in fields), None)
        if fld is None:
            raise ConfigError(f"--by {text}: {path} has no name field ({', '.join(GENERIC_NAME_FIELDS)}); "
                              f"name the field of the units: --by {path}:FIELD; fields: {', '.join(fields) or 'none'}")
    elif fld not in fields:
        raise ConfigError(f"--by {text}: {fld!r} is not a field of {path}; fields: {', '.join(fields) or 'none'}")
    definition = Schema(name="units", title="roll-up units", fields={"unit": (fld,)}, coverage="global")
    spec = LayerSpec(role="units", path=path, definition=definition)
    feats = load_vector(spec, crs, bbox, polygonal=True).gdf
    _only_polygons(feats, where)
    names = feats["unit"].astype("string").str.strip()
    if names.isna().any() or (names == "").any():
        raise LayerDataError(f"{where}: field {fld!r} is empty for {int((names.isna() | (names == '')).sum())} "
                             "polygon(s); give a field that names every unit")
    return Units(by=text, kind="file", source=str(path), field=fld, gdf=_dissolved(feats, names.to_numpy(dtype=object), crs))


def _only_polygons(feats: gpd.GeoDataFrame, where: str) -> None:
    """Points or lines mixed in with polygons would count as units of no area: refused."""
    types = set(feats.geometry.geom_type.dropna().unique()) - {"Polygon", "MultiPolygon"}
    if types:
        raise LayerDataError(f"{where}: roll-up units must be polygons; the file also holds "
                             f"{', '.join(sorted(types))}")


def _dissolved(feats: gpd.GeoDataFrame, keys: np.ndarray, crs: CRS) -> gpd.GeoDataFrame:
    """One polygon per unit name (polygons that share a name are one unit), sorted by name."""
    frame = gpd.GeoDataFrame({"unit": keys}, geometry=feats.geometry.to_numpy(), crs=crs)
    out = frame.dissolve(by="unit", sort=True).reset_index()
    return out[["unit", "geometry"]]


__all__ = ["Units", "read_units", "split_by_file", "WATERSHED", "HUC_LEVELS"]
