"""Candidate sites: footprints from deposit points, given polygons, or a grid; the run CRS.

Deposit records are filtered by commodity, and duplicate records of one deposit (the same site in
several USGS databases) are merged into one site listing every source record id.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from .crs import Extent, ExtentBuilder, choose_crs
from .errors import LayerConfigError, LayerDataError
from .layers import LayerSpec, check_coordinates, crs_label, read_table, repair, to_crs

log = logging.getLogger(__name__)

RARE_EARTHS = (
    "lanthanum", "cerium", "praseodymium", "neodymium", "neoymium", "promethium", "samarium", "europium",
    "gadolinium", "terbium", "dysprosium", "holmium", "erbium", "thulium", "ytterbium", "lutetium",
    "yttrium", "scandium", "rare earth", "rare earths", "rare-earth", "rare-earths", "ree", "reo",
    "monazite", "xenotime", "bastnaesite", "bastnasite", "euxenite", "allanite", "thorium-ree",
)
COMMODITIES = {"rare-earths": RARE_EARTHS, "any": ()}
NUMBER = re.compile(r"\d+")
NAME_NOISE = re.compile(r"\b(prospect|mine|mines|deposit|deposits|occurrence|claims?|group|area|district|property|project|the|and|\(synthetic\))\b|[^a-z0-9 ]")


@dataclass(frozen=True)
class SiteOptions:
    """How candidate sites are made from the sites input."""

    radius_m: float = 1000.0           # footprint radius around points
    commodity: str | tuple[str, ...] = "rare-earths"
    merge_distance_m: float = 500.0    # records of one deposit: this close ...
    merge_name_similarity: float = 0.6  # ... with names at least this similar (0..1)
    merge_always_m: float = 50.0       # ... or this close whatever their names
    grid_cell_m: float | None = None   # a regular grid over the AOI instead of a sites file
    aoi: Any = None                    # (minx, miny, maxx, maxy) lon/lat, or a path to polygons
    skip_invalid: bool = False

    def commodity_terms(self) -> tuple[str, ...]:
        if isinstance(self.commodity, str):
            if self.commodity not in COMMODITIES:
                raise LayerConfigError(f"commodity {self.commodity!r} is not one of {', '.join(COMMODITIES)} (or a list of words)")
            return COMMODITIES[self.commodity]
        return tuple(t.lower() for t in self.commodity)


@dataclass
class SiteStats:
    path: str = ""
    records_read: int = 0
    records_without_location: int = 0
    records_skipped_invalid: int = 0
    records_filtered_out: int = 0
    records_outside_aoi: int = 0
    duplicates_merged: int = 0
    sites: int = 0
    radius_m: float | None = None
    source_crs: str = ""
    repairs: int = 0
    schema: str = ""
    extra: dict = field(default_factory=dict)

    located: int = field(default=0, repr=False)  # records with a location inside --sites-where (not recorded)

    def info(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("extra", "located")}
        d.update(self.extra)
        return d


def parse_aoi(value: Any) -> Any:
    """``minx,miny,maxx,maxy`` in degrees, or a polygon file path."""
    if value is None or isinstance(value, (tuple, list)):
        return tuple(float(v) for v in value) if value is not None else None
    text = str(value)
    parts = text.split(",")
    if len(parts) == 4:
        try:
            box = tuple(float(p) for p in parts)
        except ValueError:
            raise LayerConfigError(f"--aoi {text!r}: expected minx,miny,maxx,maxy in degrees or a polygon file") from None
        minx, miny, maxx, maxy = box
        if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
            raise LayerConfigError(f"--aoi {text!r}: need -180 ≤ minx < maxx ≤ 180 and -90 ≤ miny < maxy ≤ 90 (degrees)")
        return box
    return Path(text)


def aoi_geometry(aoi: Any) -> gpd.GeoSeries | None:
    """The AOI as a one-polygon GeoSeries (EPSG:4326 for a bbox, the file's CRS otherwise)."""
    if aoi is None:
        return None
    if isinstance(aoi, tuple):
        return gpd.GeoSeries([shapely.box(*aoi)], crs="EPSG:4326")
    spec = LayerSpec(role="aoi", path=Path(aoi))
    gdf, _, src = read_table(spec)
    geoms, _ = repair(gdf.geometry.to_numpy(), True)
    return gpd.GeoSeries([shapely.union_all(geoms)], crs=src)


def read_sites(spec: LayerSpec, opts: SiteOptions) -> tuple[gpd.GeoDataFrame, SiteStats]:
    """The sites input in its source CRS, filtered and merged, with canonical columns.

    Returns point or polygon geometry (not yet buffered) and what the manifest records.
    """
    spec = replace(spec, skip_invalid=opts.skip_invalid)
    gdf, schema, src_crs = read_table(spec)
    stats = SiteStats(path=str(spec.path), source_crs=src_crs, schema=schema.name)
    out = select_sites(gdf, schema, spec, opts, stats)
    check_selected(stats, spec, opts)
    return out, stats


def select_sites(gdf: gpd.GeoDataFrame, schema, spec: LayerSpec, opts: SiteOptions, stats: SiteStats) -> gpd.GeoDataFrame:
    """Canonical columns; records without location, outside ``--sites-where`` or of another
    commodity dropped (counted in ``stats``, added to what earlier pieces counted); polygons repaired.

    Works on a whole file or on one piece of it (streamed screening); :func:`check_selected` then
    refuses an input from which nothing was kept.
    """
    where = str(spec.path)
    src = to_crs(stats.source_crs, where)
    stats.records_read += len(gdf)
    attrs = schema.canonical(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), where)
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if spec.path.suffix.lower() == ".csv" and schema.wkt:
        blank = (gdf[schema.wkt].astype(str).str.strip() == "").to_numpy()
        unparsed = shapely.is_missing(geoms) & ~blank  # text that is not WKT (skipped with --skip-invalid)
        stats.records_without_location += int((missing & ~unparsed).sum())  # blank or EMPTY
        stats.records_skipped_invalid += int(unparsed.sum())
    else:
        stats.records_without_location += int(missing.sum())
    keep = ~missing
    for fld, allowed in spec.where.items():
        if fld not in attrs:
            raise LayerConfigError(f"{where}: filter field {fld!r} is not a field of the sites; fields: {', '.join(attrs.columns)}")
        selected = attrs[fld].astype("string").isin([str(a) for a in allowed]).to_numpy(dtype=bool, na_value=False)
        stats.extra["records_not_selected"] = stats.extra.get("records_not_selected", 0) + int((keep & ~selected).sum())
        keep &= selected
    stats.located += int(keep.sum())
    if keep.any():
        check_coordinates(shapely.total_bounds(geoms[keep]), src, where, int(keep.sum()))
    terms = opts.commodity_terms()
    if terms and "commodity" in attrs:
        com = attrs["commodity"].fillna("").astype(str).str.lower()
        pattern = r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\b"
        is_match = com.str.contains(pattern, regex=True).to_numpy(dtype=bool)
        stats.records_filtered_out += int((keep & ~is_match).sum())
        keep &= is_match
    out = gpd.GeoDataFrame(attrs.loc[keep].reset_index(drop=True),
                           geometry=gpd.GeoSeries(geoms[keep], crs=src))
    geoms = out.geometry.to_numpy()
    types = set(shapely.get_type_id(geoms).tolist())
    if types <= {0, 4}:
        out["_kind"] = "point"
    elif types <= {3, 6}:
        out["_kind"] = "polygon"
        fixed, repairs = repair(geoms, True)
        stats.repairs += repairs
        out = out.set_geometry(gpd.GeoSeries(fixed, crs=src))
    else:
        raise LayerDataError(f"{where}: sites must be all points (deposits, buffered to footprints) or all polygons (claims, lease areas); found geometry types {sorted(shapely.GeometryType(t).name for t in types)}")
    return out


def check_selected(stats: SiteStats, spec: LayerSpec, opts: SiteOptions) -> None:
    """Refuse a sites input from which no record was kept, saying why."""
    where = str(spec.path)
    located = stats.located
    if not located:
        raise LayerDataError(f"{where}: no site has a location ({stats.records_read} records read, all with a blank or empty geometry); check the geometry column")
    if located - stats.records_filtered_out <= 0:
        raise LayerDataError(f"{where}: no record matches commodity {opts.commodity!r} ({stats.records_read} records read); "
                             f"use --commodity any, or a list of words in a run config")


def apply_aoi(sites: gpd.GeoDataFrame, aoi: gpd.GeoSeries | None, stats: SiteStats, *, require: bool = True) -> gpd.GeoDataFrame:
    """The sites that touch the area of interest (counting those outside, added to earlier pieces')."""
    if aoi is None:
        return sites
    area = aoi.to_crs(sites.crs).iloc[0]
    inside = shapely.intersects(sites.geometry.to_numpy(), area)
    stats.records_outside_aoi += int((~inside).sum())
    if require and not inside.any():
        raise_outside_aoi(aoi)
    return sites.loc[inside].reset_index(drop=True)


def raise_outside_aoi(aoi: gpd.GeoSeries):
    raise LayerDataError(f"no site lies inside the area of interest {tuple(np.round(aoi.to_crs(4326).total_bounds, 4))}")


def _same_name(x: str, y: str, threshold: float) -> bool:
    if not x or not y:
        return False
    nx, ny = set(NUMBER.findall(x)), set(NUMBER.findall(y))
    if nx and ny and nx != ny:
        return False  # "No. 58 Thorium Deposit" and "No. 62 Thorium Deposit" are different claims
    return x == y or x in y or y in x or SequenceMatcher(None, x, y).ratio() >= threshold


def _similar(a: np.ndarray, b: np.ndarray, threshold: float) -> np.ndarray:
    """Name similarity of candidate duplicate pairs (only pairs close in space get here)."""
    def norm(s: Any) -> str:
        return " ".join(NAME_NOISE.sub(" ", str(s or "").lower()).split())
    return np.array([_same_name(norm(x), norm(y), threshold) for x, y in zip(a, b)], dtype=bool)


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
    n = len(points)
    if n == 0:
        return points, 0
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
    if len(i):
        d = shapely.distance(geoms[i], geoms[j])
        names = pts["name"].to_numpy() if "name" in pts else np.full(n, "")
        same = (d <= opts.merge_always_m) | _similar(names[i], names[j], opts.merge_name_similarity)
        i, j = i[same], j[same]
    labels = _components(n, i, j)
    pts["_group"] = labels
    merged = int(n - len(np.unique(labels)))
    if not merged:
        pts["record_ids"] = rid.iloc[order].to_numpy() if "record_id" in points else ""
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


def make_footprints(sites: gpd.GeoDataFrame, run_crs: CRS, opts: SiteOptions, stats: SiteStats) -> gpd.GeoDataFrame:
    """Sites in the run CRS with footprint polygons and ids: points are merged and buffered."""
    sites = sites.to_crs(run_crs)
    kind = sites["_kind"].iloc[0]
    if kind == "point":
        sites, stats.duplicates_merged = merge_duplicates(sites, opts)
        if opts.radius_m <= 0:
            raise LayerConfigError(f"radius_m must be > 0 (got {opts.radius_m})")
        stats.radius_m = opts.radius_m
        sites = sites.set_geometry(sites.geometry.buffer(opts.radius_m, quad_segs=16))
    else:
        if "record_id" in sites:
            sites["record_ids"] = sites["record_id"].astype(str)
        stats.radius_m = None
    return finish_sites(sites, str(stats.path))


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


def grid_sites(aoi: gpd.GeoSeries, run_crs: CRS, cell_m: float) -> gpd.GeoDataFrame:
    """Square cells of ``cell_m`` over the AOI (cells touching it), in the run CRS."""
    if cell_m <= 0:
        raise LayerConfigError(f"grid cell size must be > 0 m (got {cell_m})")
    area = aoi.to_crs(run_crs).iloc[0]
    minx, miny, maxx, maxy = area.bounds
    nx, ny = int(np.ceil((maxx - minx) / cell_m)), int(np.ceil((maxy - miny) / cell_m))
    if nx * ny > 20_000_000:
        raise LayerConfigError(f"grid of {nx}×{ny} cells is too large; use a larger cell size than {cell_m} m")
    gx, gy = np.meshgrid(minx + cell_m * np.arange(nx), miny + cell_m * np.arange(ny))
    cells = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
    cells = cells[shapely.intersects(cells, area)]
    ids = np.char.add("G", np.char.zfill(np.arange(1, len(cells) + 1).astype(str), 7))
    return gpd.GeoDataFrame({"site_id": ids, "name": ids, "record_ids": ids}, geometry=cells, crs=run_crs)


def lonlat_bounds(gdf: gpd.GeoDataFrame) -> tuple:
    """The sites' lon/lat box (``west > east`` when it crosses ±180°)."""
    return site_extent(gdf).bounds


def site_extent(gdf: gpd.GeoDataFrame) -> Extent:
    """Where the sites are: the smallest lon/lat arc holding them and their spherical mean."""
    if gdf.crs is None:
        raise LayerDataError("sites have no CRS")
    ext = ExtentBuilder().add_geometries(gdf.geometry.to_numpy(), CRS(gdf.crs)).extent()
    if ext is None:
        raise LayerDataError("sites have no location")
    return ext


def lonlat_box(bounds, crs: CRS) -> tuple:
    """``bounds`` (minx, miny, maxx, maxy in ``crs``) as a lon/lat box."""
    if crs.is_geographic:
        return tuple(bounds)
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return t.transform_bounds(*bounds, densify_pts=21)


__all__ = ["SiteOptions", "SiteStats", "read_sites", "make_footprints", "grid_sites", "choose_crs",
           "parse_aoi", "aoi_geometry", "apply_aoi", "merge_duplicates", "crs_label"]
