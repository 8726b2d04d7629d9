"""Site ids and the canonical site columns: a record id when every site has one (unique), otherwise
ids in the order of the footprints' centroids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.errors import LayerDataError


def finish_sites(sites: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    """Give every site a stable id and a name; refuse duplicate ids."""
    c = sites.geometry.centroid
    record = sites["record_id"].to_numpy(dtype=object) if "record_id" in sites else None
    ids = site_ids(record, c.x.to_numpy(), c.y.to_numpy(), where)
    return site_frame(sites, ids).sort_values("site_id", kind="stable").reset_index(drop=True)


def site_ids(record_ids: np.ndarray | None, cx: np.ndarray, cy: np.ndarray, where: str) -> np.ndarray:
    """Every site's id: its record id when every site has one (refusing duplicates), otherwise
    ``S000001``… in the order of the footprints' centroids (x, then y) in the run CRS."""
    n = len(cx)
    rid = pd.Series(record_ids, dtype=object) if record_ids is not None else None
    if rid is not None and rid.notna().all() and (rid.astype(str) != "").all():
        ids = rid.astype(str)
        dup = ids[ids.duplicated()]
        if len(dup):
            raise LayerDataError(f"{where}: duplicate site ids {', '.join(map(repr, dup.unique()[:5]))} in field 'record_id'; site ids must be unique")
        return ids.to_numpy(dtype=object)
    order = np.lexsort((cy, cx))
    out = np.empty(n, dtype=object)
    out[order] = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 6)).astype(object)
    return out


def site_frame(sites: gpd.GeoDataFrame, ids: np.ndarray) -> gpd.GeoDataFrame:
    """The canonical site columns (id, name, source record ids, extras) around the footprints."""
    out = gpd.GeoDataFrame({"site_id": ids}, geometry=sites.geometry.to_numpy(), crs=sites.crs)
    out["name"] = sites["name"].fillna("").astype(str).to_numpy() if "name" in sites else out["site_id"]
    out.loc[out["name"] == "", "name"] = out["site_id"]
    out["record_ids"] = sites["record_ids"].astype(str).to_numpy() if "record_ids" in sites else out["site_id"]
    for extra in ("other_names", "n_records", "commodity", "state"):  # state: for state-extract coverage
        if extra in sites:
            out[extra] = sites[extra].to_numpy()
    return out
