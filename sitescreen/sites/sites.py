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
import shapely.affinity
from pyproj import CRS, Transformer

from sitescreen.inputs.crs import Extent, ExtentBuilder, choose_crs
from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.check import check_coordinates, polygonal_part, repair
from sitescreen.inputs.crs import crs_label, to_crs
from sitescreen.inputs.read import read_table
from sitescreen.inputs.spec import LayerSpec
from sitescreen.inputs.numbers import LATITUDE, LONGITUDE

log = logging.getLogger(__name__)

RARE_EARTHS = (
    "lanthanum", "cerium", "praseodymium", "neodymium", "neoymium", "promethium", "samarium", "europium",
    "gadolinium", "terbium", "dysprosium", "holmium", "erbium", "thulium", "ytterbium", "lutetium",
    "yttrium", "scandium", "rare earth", "rare earths", "rare-earth", "rare-earths", "ree", "reo",
    "monazite", "xenotime", "bastnaesite", "bastnasite", "euxenite", "allanite", "thorium-ree",
)
COMMODITIES = {"rare-earths": RARE_EARTHS, "any": ()}
NUMBER = re.compile(r"\d+")
WHERE_VALUES_SHOWN = 12
AOI_VERTEX_DEG = 0.1  # a lon/lat AOI box has a vertex at least this often, so it reprojects true
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
    with_location: int = field(default=0, repr=False)  # records with a location, before --sites-where (not recorded)
    where_values: dict = field(default_factory=dict, repr=False)  # a filter field -> some values seen (for messages)

    def info(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("extra", "located", "with_location", "where_values")}
        d.update(self.extra)
        return d


def parse_aoi(value: Any, where: str = "--aoi") -> Any:
    """An area of interest: ``west,south,east,north`` in degrees (text or four numbers), or a polygon file.

    ``west > east`` is a box crossing 180° (e.g. ``170,50,-170,55``), kept as given; a box that read
    so would span more than half the globe is refused as a swapped pair instead of being guessed.
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return _aoi_box(list(value), where)
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise LayerConfigError(f"{where}: expected four numbers west, south, east, north in degrees or a polygon file; got {value!r}")
    parts = value.split(",")
    if len(parts) == 1:
        return Path(value)
    numbers = []
    for p in parts:
        try:
            numbers.append(float(p))
        except ValueError:
            numbers.append(p.strip())
    return _aoi_box(numbers, where, repr(value))


def _aoi_box(values: list, where: str, shown: str = "") -> tuple[float, float, float, float]:
    shown = shown or "[" + ", ".join(map(str, values)) + "]"
    if len(values) != 4:
        raise LayerConfigError(f"{where}: {shown} has {len(values)} value(s); an area of interest is four numbers "
                               f"west, south, east, north in degrees (or a polygon file)")
    west, east = (LONGITUDE.check(values[i], k, where) for i, k in ((0, "west (min longitude)"), (2, "east (max longitude)")))
    south, north = (LATITUDE.check(values[i], k, where) for i, k in ((1, "south (min latitude)"), (3, "north (max latitude)")))
    if south >= north:
        raise LayerConfigError(f"{where}: {shown}: south {south:g} must be below north {north:g} "
                               f"(the order is west, south, east, north in degrees)")
    if west == east or (west > east and west - east < 180):
        raise LayerConfigError(
            f"{where}: {shown}: west {west:g} and east {east:g} "
            + ("are equal (the box has no width)" if west == east else
               f"read as a box crossing 180° would span {east + 360 - west:g}° of longitude; the order is west, "
               f"south, east, north: write [{east:g}, {south:g}, {west:g}, {north:g}] (a box crossing 180° has "
               f"west > east, e.g. [170, 50, -170, 55])"))
    return (west, south, east, north)


def aoi_geometry(aoi: Any) -> gpd.GeoSeries | None:
    """The AOI as a one-polygon GeoSeries (EPSG:4326 for a box, the file's CRS otherwise).

    A box crossing 180° (west > east) is one polygon with its east edge past 180° (east + 360), so
    it reprojects whole; :func:`apply_aoi` compares it with lon/lat sites on both sides of 180°.
    """
    if aoi is None:
        return None
    if isinstance(aoi, tuple):
        west, south, east, north = aoi
        box = shapely.box(west, south, east + 360 if west > east else east, north)
        return gpd.GeoSeries([shapely.segmentize(box, AOI_VERTEX_DEG)], crs="EPSG:4326")  # edges follow meridians and parallels
    spec = LayerSpec(role="aoi", path=Path(aoi))
    gdf, _, src = read_table(spec)
    geoms = gdf.geometry.to_numpy()
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    kinds = set(shapely.get_type_id(present).tolist())
    if not present.size or not kinds <= {3, 6, 7}:
        found = sorted(shapely.GeometryType(t).name for t in kinds) or ["no geometry"]
        raise LayerDataError(f"{spec.path}: the area of interest must be polygons (the area to screen); "
                             f"found {', '.join(found)}: give a polygon file or a box west,south,east,north")
    geoms, _ = repair(present, True)
    area = shapely.union_all(polygonal_part(geoms))
    if area.is_empty:
        raise LayerDataError(f"{spec.path}: the area of interest has no polygon area; give a polygon file or a box west,south,east,north")
    return gpd.GeoSeries([area], crs=src)


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
    stats.with_location += int(keep.sum())
    for fld, allowed in spec.where.items():
        if fld not in attrs:
            raise LayerConfigError(f"{where}: filter field {fld!r} is not a field of the sites; fields: {', '.join(attrs.columns)}")
        values = attrs[fld].astype("string")
        seen = stats.where_values.setdefault(fld, set())
        if len(seen) < WHERE_VALUES_SHOWN:
            seen.update(values[keep].dropna().unique()[:WHERE_VALUES_SHOWN].tolist())
        selected = values.isin([str(a) for a in allowed]).to_numpy(dtype=bool, na_value=False)
        stats.extra["records_not_selected"] = stats.extra.get("records_not_selected", 0) + int((keep & ~selected).sum())
        keep &= selected
    stats.located += int(keep.sum())
    if keep.any():
        geoms = _single_points(geoms, keep, attrs, where)
        bounds = shapely.total_bounds(geoms[keep])
        check_coordinates(bounds, src, where, int(keep.sum()))
        _check_longitudes(bounds, src, where)
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


def _single_points(geoms: np.ndarray, keep: np.ndarray, attrs: pd.DataFrame, where: str) -> np.ndarray:
    """MULTIPOINTs of one point (as shapefiles often store points) become that point; a MULTIPOINT of
    several points is refused: a deposit record is one site, and which point is meant is not known."""
    multi = keep & (shapely.get_type_id(geoms) == 4)
    if not multi.any():
        return geoms
    several = multi & (shapely.get_num_geometries(geoms) > 1)
    if several.any():
        rows = np.flatnonzero(several)
        ids = (attrs["record_id"].astype(str).to_numpy()[rows] if "record_id" in attrs else None)
        named = f"record_id {', '.join(ids[:5])}" if ids is not None else f"row {', '.join(map(str, rows[:5] + 1))}"
        raise LayerDataError(
            f"{where}: {len(rows)} site record(s) are MULTIPOINT with several points ({named}{' …' if len(rows) > 5 else ''}); "
            f"a site is one deposit point: write one POINT per record (a record for each point), "
            f"or give claims and lease areas as polygons")
    geoms = geoms.copy()
    geoms[multi] = shapely.get_geometry(geoms[multi], 0)
    return geoms


def _check_longitudes(bounds: np.ndarray, crs: CRS, where: str) -> None:
    """Refuse lon/lat sites with longitudes written 0–360 (east of 180 means west of Greenwich)."""
    if crs.is_geographic and bounds[2] > 180:
        raise LayerDataError(
            f"{where}: longitudes run up to {bounds[2]:g}, so they are written 0–360; sites need longitudes "
            f"-180 to 180: subtract 360 from every longitude above 180 (e.g. {bounds[2]:g} → {bounds[2] - 360:g})")


def check_selected(stats: SiteStats, spec: LayerSpec, opts: SiteOptions) -> None:
    """Refuse a sites input from which no record was kept, saying why."""
    where = str(spec.path)
    located = stats.located
    if not stats.with_location:
        raise LayerDataError(f"{where}: no site has a location ({stats.records_read} records read, all with a blank or empty geometry); check the geometry column")
    if not located:
        raise LayerDataError(f"{where}: no record matches the sites filter {_filter_text(spec.where)} "
                             f"({stats.with_location} records with a location); {_values_text(stats.where_values)}")
    if located - stats.records_filtered_out <= 0:
        raise LayerDataError(f"{where}: no record matches commodity {opts.commodity!r} ({stats.records_read} records read); "
                             f"use --commodity any, or a list of words in a run config")


def _filter_text(where: dict) -> str:
    return " and ".join(f"{k} = {' or '.join(repr(str(v)) for v in vals)}" for k, vals in where.items())


def _values_text(seen: dict) -> str:
    """The values each filter field has, and how to pick one (the advice is tested by following it)."""
    parts = []
    for fld, values in seen.items():
        shown = sorted(map(str, values))[:WHERE_VALUES_SHOWN]
        parts.append(f"values of {fld} in the file: {', '.join(repr(v) for v in shown) or 'none'}"
                     f"{' …' if len(values) > WHERE_VALUES_SHOWN else ''}")
    fld = next(iter(seen), "FIELD")
    return "; ".join(parts) + f"; filter on one of them (--sites-where {fld}=VALUE, or where = {{ {fld} = [\"VALUE\"] }} in [sites])"


def apply_aoi(sites: gpd.GeoDataFrame, aoi: gpd.GeoSeries | None, stats: SiteStats, *, require: bool = True) -> gpd.GeoDataFrame:
    """The sites that touch the area of interest (counting those outside, added to earlier pieces')."""
    if aoi is None:
        return sites
    area = aoi.to_crs(sites.crs).iloc[0]
    if CRS(sites.crs).is_geographic:  # an AOI crossing 180° reaches past it: lon/lat sites lie on either side
        area = shapely.union_all([area, shapely.affinity.translate(area, -360), shapely.affinity.translate(area, 360)])
    inside = shapely.intersects(sites.geometry.to_numpy(), area)
    stats.records_outside_aoi += int((~inside).sum())
    if require and not inside.any():
        raise_outside_aoi(aoi)
    return sites.loc[inside].reset_index(drop=True)


def raise_outside_aoi(aoi: gpd.GeoSeries):
    west, south, east, north = (float(v) for v in np.round(aoi.to_crs(4326).total_bounds, 4))
    east = east - 360 if east > 180 else east  # a box crossing 180°, as it was given
    raise LayerDataError(f"no site lies inside the area of interest (west {west:g}, south {south:g}, east {east:g}, north {north:g})")


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
