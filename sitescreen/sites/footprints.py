"""Site footprints in the run CRS: deposit points merged and buffered to the footprint radius, or
the given polygons; and where the sites are (their lon/lat extent, for the run CRS)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from sitescreen.errors import ConfigError, LayerDataError
from sitescreen.inputs.crs import Extent, ExtentBuilder
from sitescreen.sites.dedup import merge_explained
from sitescreen.sites.ids import qualify_record_ids, site_frame, site_ids
from sitescreen.sites.options import SiteOptions, SiteStats
from sitescreen.sites.outlines import outline_keys, shared_outlines


def make_footprints(sites: gpd.GeoDataFrame, run_crs: CRS, opts: SiteOptions, stats: SiteStats) -> gpd.GeoDataFrame:
    """Sites in the run CRS with footprint polygons and ids: points are merged and buffered."""
    return make_zoned_footprints(sites, (run_crs,), np.zeros(len(sites), dtype=np.int64), opts, stats)[0]


def make_zoned_footprints(sites: gpd.GeoDataFrame, crss, zone_of: np.ndarray, opts: SiteOptions,
                          stats: SiteStats) -> list[gpd.GeoDataFrame]:
    """The sites of each measuring zone (``zone_of``: each record's index in ``crss``) in the zone's
    CRS, with footprints and ids. Record ids are qualified and site ids given once over every zone
    (so they are unique over the run); duplicate records are merged within their zone, in its CRS
    (a zone holds a whole region or a cluster degrees away from any other: a merge never spans two)."""
    sites = qualify_record_ids(sites)
    kind = sites["_kind"].iloc[0]
    if kind != "point":
        if "record_id" in sites:
            sites["record_ids"] = sites["record_id"].astype(str)
        stats.sites_sharing_outlines, stats.shared_outlines = shared_outlines(outline_keys(sites.geometry.to_numpy()))
        stats.radius_m = None
    elif opts.radius_m <= 0:
        raise ConfigError(f"radius_m must be > 0 (got {opts.radius_m})")
    parts, links = [], []
    stats.duplicates_merged = 0
    for z, crs in enumerate(crss):
        part = sites.iloc[np.flatnonzero(zone_of == z)].to_crs(crs)
        if kind == "point":
            part, n, link = merge_explained(part, opts)
            stats.duplicates_merged += n
            stats.radius_m = opts.radius_m
            part = part.set_geometry(part.geometry.buffer(opts.radius_m, quad_segs=16))
            links.append(link)
        parts.append(part)
    attrs = pd.concat([pd.DataFrame(p.drop(columns=p.geometry.name)) for p in parts], ignore_index=True)
    values = {c.column: attrs[c.column].to_numpy(dtype=object) for c in stats.id_candidates if c.column in attrs}
    rows = attrs["_file_row"].to_numpy() if "_file_row" in attrs else np.arange(len(attrs))
    ids, stats.id_field = site_ids(values, stats.id_candidates, rows, str(stats.path))
    cut = np.cumsum([len(p) for p in parts])[:-1]
    out = [site_frame(p, i).sort_values("site_id", kind="stable").reset_index(drop=True)
           for p, i in zip(parts, np.split(ids, cut))]
    if kind == "point" and stats.duplicates_merged:
        stats.merges = merge_records(pd.concat([pd.DataFrame(f[["site_id", "record_ids"]]) for f in out]),
                                     pd.concat(links, ignore_index=True))
    return out


def merge_records(sites: gpd.GeoDataFrame, links: pd.DataFrame) -> tuple[dict, ...]:
    """Each merge link with the id of the site it made (:class:`~sitescreen.record.manifest.MergeRecord`
    fields), by site id."""
    members = sites[["site_id", "record_ids"]].assign(record=sites["record_ids"].str.split(",")).explode("record")
    site_of = dict(zip(members["record"], members["site_id"]))
    out = links.assign(site_id=links["record_a"].map(site_of)).sort_values(["site_id", "record_a", "record_b"], kind="stable")
    cols = ["site_id", "record_a", "name_a", "record_b", "name_b", "distance_m", "name_similarity", "rule"]
    return tuple(out[cols].to_dict("records"))


def site_extent(gdf: gpd.GeoDataFrame) -> Extent:
    """Where the sites are: the smallest lon/lat arc holding them and their spherical mean."""
    if gdf.crs is None:
        raise LayerDataError("sites have no CRS")
    ext = ExtentBuilder().add_geometries(gdf.geometry.to_numpy(), CRS(gdf.crs)).extent()
    if ext is None:
        raise LayerDataError("sites have no location")
    return ext
