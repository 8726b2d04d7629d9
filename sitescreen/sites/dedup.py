"""Duplicate records of one deposit (the same site in several USGS databases) merged into one site
listing every source record id: close in space and with similar names, or very close."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescreen.sites.options import SiteOptions


NUMBER = re.compile(r"\d+")


NAME_NOISE = re.compile(r"\b(prospect|mine|mines|deposit|deposits|occurrence|claims?|group|area|district|property|project|the|and|\(synthetic\))\b|[^a-z0-9 ]")


def name_similarity(x: str, y: str) -> float:
    """How alike two normalised names are, 0..1, whatever their word order ("no 69 thorium" and
    "thorium no 69": 1.0): 1 when one holds the other, 0 when they carry different numbers, else the
    better of the two names' and their sorted words' SequenceMatcher ratios."""
    if not x or not y:
        return 0.0
    nx, ny = set(NUMBER.findall(x)), set(NUMBER.findall(y))
    if nx and ny and nx != ny:
        return 0.0  # "No. 58 Thorium Deposit" and "No. 62 Thorium Deposit" are different claims
    sx, sy = " ".join(sorted(x.split())), " ".join(sorted(y.split()))
    if x == y or x in y or y in x or sx == sy:
        return 1.0
    return max(SequenceMatcher(None, x, y).ratio(), SequenceMatcher(None, sx, sy).ratio())


def normalised_name(s: Any) -> str:
    """A name without case, punctuation and the words every deposit name has (mine, deposit, …)."""
    return " ".join(NAME_NOISE.sub(" ", str(s or "").lower()).split())


def _similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Name similarity of candidate duplicate pairs (only pairs close in space get here)."""
    return np.array([name_similarity(normalised_name(x), normalised_name(y)) for x, y in zip(a, b)], dtype=float)


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component labels (smallest member index) of an undirected graph, vectorized."""
    labels = np.arange(n)
    if len(i) == 0:
        return labels
    while True:
        li, lj = labels[i], labels[j]
        m = np.minimum(li, lj)
        new = labels.copy()
        np.minimum.at(new, i, m)
        np.minimum.at(new, j, m)
        new = new[new]  # pointer jumping
        if np.array_equal(new, labels):
            return labels
        labels = new


def merge_duplicates(points: gpd.GeoDataFrame, opts: SiteOptions) -> tuple[gpd.GeoDataFrame, int]:
    """Merge records of one deposit: within merge_distance with similar names, or within merge_always.

    ``points`` must be in a projected CRS. Records are first put in a canonical order (by record id,
    then coordinates) so that the result does not depend on the input row order.
    """
    merged, n, _ = merge_explained(points, opts)
    return merged, n


def merge_explained(points: gpd.GeoDataFrame, opts: SiteOptions) -> tuple[gpd.GeoDataFrame, int, pd.DataFrame]:
    """:func:`merge_duplicates`, and each link that merged two records (``record_a``, ``name_a``,
    ``record_b``, ``name_b``, ``distance_m``, ``name_similarity``, ``rule``: see
    :class:`sitescreen.record.manifest.MergeRecord`; the site id is added once ids are given)."""
    n = len(points)
    if n == 0:
        return points, 0, _links_frame([], [], [], [], [], [], [])
    pts = points.copy()
    xy = shapely.get_coordinates(pts.geometry.to_numpy())
    rid = pts["record_id"].astype(str) if "record_id" in pts else pd.Series([""] * n)
    order = np.lexsort((xy[:, 1], xy[:, 0], rid.to_numpy()))
    pts = pts.iloc[order].reset_index(drop=True)
    geoms = pts.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="dwithin", distance=opts.merge_distance_m)
    upper = i < j
    i, j = i[upper], j[upper]
    names = pts["name"].to_numpy() if "name" in pts else np.full(n, "")
    d, sim = np.zeros(0), np.zeros(0)
    if len(i):
        d = shapely.distance(geoms[i], geoms[j])
        sim = _similarities(names[i], names[j])
        close = d <= opts.merge_always_m
        same = close | (sim >= opts.merge_name_similarity)
        i, j, d, sim = i[same], j[same], d[same], sim[same]
    ids_sorted = rid.iloc[order].to_numpy()
    links = _links_frame(ids_sorted[i], names[i], ids_sorted[j], names[j], d, sim,
                         np.where(d <= opts.merge_always_m, "close", "alike"))
    return (*_merge_groups(pts, geoms, rid.iloc[order], i, j), links)


def _links_frame(ra, na, rb, nb, d, sim, rule) -> pd.DataFrame:
    return pd.DataFrame({"record_a": pd.Series(ra, dtype=object).astype(str), "name_a": pd.Series(na, dtype=object).fillna("").astype(str),
                         "record_b": pd.Series(rb, dtype=object).astype(str), "name_b": pd.Series(nb, dtype=object).fillna("").astype(str),
                         "distance_m": np.round(np.asarray(d, dtype=float), 1),
                         "name_similarity": np.round(np.asarray(sim, dtype=float), 2), "rule": pd.Series(rule, dtype=object)})


def _merge_groups(pts: gpd.GeoDataFrame, geoms: np.ndarray, rid: pd.Series, i: np.ndarray, j: np.ndarray) -> tuple[gpd.GeoDataFrame, int]:
    """One site per connected group of linked records, at the mean of their points."""
    n = len(pts)
    labels = _components(n, i, j)
    pts["_group"] = labels
    merged = int(n - len(np.unique(labels)))
    if not merged:
        pts["record_ids"] = rid.to_numpy() if "record_id" in pts else ""
        return pts.drop(columns="_group"), 0
    ids = (pts["record_id"].astype(str) if "record_id" in pts else pd.Series([""] * n))
    groups = pts.groupby("_group", sort=True)
    first = groups.head(1).set_index("_group")
    xy = shapely.get_coordinates(geoms)
    cx = pd.Series(xy[:, 0]).groupby(labels).mean()
    cy = pd.Series(xy[:, 1]).groupby(labels).mean()
    out = first.copy()
    out["record_ids"] = ids.groupby(labels).agg(",".join).loc[first.index].to_numpy()
    out["n_records"] = pd.Series(1, index=range(n)).groupby(labels).sum().loc[first.index].to_numpy()
    if "name" in pts:
        out["other_names"] = pts["name"].astype(str).groupby(labels).agg(
            lambda s: "; ".join(sorted(set(s) - {s.iloc[0]}))).loc[first.index].to_numpy()
    out = out.set_geometry(gpd.GeoSeries(shapely.points(cx.loc[first.index].to_numpy(), cy.loc[first.index].to_numpy()), crs=pts.crs, index=first.index))
    return gpd.GeoDataFrame(out.reset_index(drop=True), crs=pts.crs), merged
