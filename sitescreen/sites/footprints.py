"""Site footprints in the run CRS: deposit points merged and buffered to the footprint radius, or
the given polygons; and where the sites are (their lon/lat extent, for the run CRS)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from sitescreen.errors import ConfigError, LayerDataError
from sitescreen.inputs.crs import Extent, ExtentBuilder
from sitescreen.sites.dedup import merge_explained
from sitescreen.sites.ids import finish_sites, qualify_record_ids
from sitescreen.sites.options import SiteOptions, SiteStats
from sitescreen.sites.outlines import outline_keys, shared_outlines


def make_footprints(sites: gpd.GeoDataFrame, run_crs: CRS, opts: SiteOptions, stats: SiteStats) -> gpd.GeoDataFrame:
    """Sites in the run CRS with footprint polygons and ids: points are merged and buffered."""
    sites = qualify_record_ids(sites.to_crs(run_crs))
    kind = sites["_kind"].iloc[0]
    if kind == "point":
        sites, stats.duplicates_merged, links = merge_explained(sites, opts)
        if opts.radius_m <= 0:
            raise ConfigError(f"radius_m must be > 0 (got {opts.radius_m})")
        stats.radius_m = opts.radius_m
        sites = sites.set_geometry(sites.geometry.buffer(opts.radius_m, quad_segs=16))
    else:
        if "record_id" in sites:
            sites["record_ids"] = sites["record_id"].astype(str)
        stats.sites_sharing_outlines, stats.shared_outlines = shared_outlines(outline_keys(sites.geometry.to_numpy()))
        stats.radius_m = None
    sites, stats.id_field = finish_sites(sites, str(stats.path), stats.id_candidates)
    if kind == "point" and stats.duplicates_merged:
        stats.merges = merge_records(sites, links)
    return sites


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
