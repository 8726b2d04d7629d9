"""The sites input read and selected: canonical columns; records without a location, outside
``--sites-where`` or of another commodity dropped and counted; one point per deposit record."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.text import clean_text, text_in
from sitescreen.inputs.check import check_coordinates, check_finite, repair
from sitescreen.inputs.crs import to_crs
from sitescreen.inputs.read import read_table
from sitescreen.inputs.spec import LayerSpec
from sitescreen.sites.fields import SOURCE_PREFIX, id_candidates, name_source, source_attributes
from sitescreen.sites.options import SiteOptions, SiteStats

log = logging.getLogger(__name__)


WHERE_VALUES_SHOWN = 12


def read_sites(spec: LayerSpec, opts: SiteOptions) -> tuple[gpd.GeoDataFrame, SiteStats]:
    """The sites input in its source CRS, filtered and merged, with canonical columns.

    Returns point or polygon geometry (not yet buffered) and what the manifest records.
    """
    spec = replace(spec, skip_invalid=opts.skip_invalid)
    gdf, schema, src_crs = read_table(spec, all_columns=True)
    stats = SiteStats(path=str(spec.path), source_crs=src_crs, schema=schema.name)
    stats.extra.update(schema.provenance())
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
    attrs = _with_source_fields(gdf, schema, opts, stats, where)
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
        own = [c for c in attrs.columns if not c.startswith(("_", SOURCE_PREFIX))]
        col = fld if fld in own else SOURCE_PREFIX + fld  # a canonical field, or the file's own name for it
        if col not in attrs:
            raise LayerConfigError(f"{where}: filter field {fld!r} is not a field of the sites; fields: "
                                   f"{', '.join(own + [c for c in stats.source_fields if c not in own])}")
        values = clean_text(attrs[col].astype("string"))  # "FED " is "FED": the one text comparison
        seen = stats.where_values.setdefault(fld, {})  # value -> records with a location (for messages)
        for v, n in values[keep].dropna().value_counts().items():
            seen[str(v)] = seen.get(str(v), 0) + int(n)
        selected = text_in(values, [str(a) for a in allowed])
        stats.records_not_selected += int((keep & ~selected).sum())
        keep &= selected
    stats.located += int(keep.sum())
    if keep.any():
        geoms = _single_points(geoms, keep, attrs, where)
        csv = spec.path.suffix.lower() == ".csv"
        check_finite(np.where(keep, geoms, None), where, stats.records_read - len(gdf) + (2 if csv else 1),
                     "line" if csv else "record")
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


def _with_source_fields(gdf: gpd.GeoDataFrame, schema, opts: SiteOptions, stats: SiteStats, where: str) -> pd.DataFrame:
    """The canonical columns, the name from the user's name field, every source attribute as
    ``src_<field>`` and each record's row in the file (``_file_row``); the id candidates noted in ``stats``."""
    src = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    attrs = schema.canonical(src, where)
    columns = [str(c) for c in src.columns]
    name = name_source(columns, dict(schema.fields), opts.name_field, where)
    if name is not None:
        attrs["name"] = src[name]
    stats.id_candidates = id_candidates(columns, dict(schema.fields), opts.id_field, where)
    carried, nested = source_attributes(src, (schema.wkt, schema.lon, schema.lat))
    if nested and stats.fields_not_carried != nested:  # said once per run, not once per piece read
        log.warning("fields %s hold nested values (lists or structs) and are not carried to the results",
                    ", ".join(nested))
    stats.fields_not_carried = nested or None
    stats.name_field, stats.source_fields = name, tuple(c[len(SOURCE_PREFIX):] for c in carried.columns)
    out = pd.concat([attrs, carried], axis=1)
    out["_file_row"] = np.arange(stats.records_read - len(gdf), stats.records_read)
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
        shown = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:WHERE_VALUES_SHOWN]
        parts.append(f"the most common values of {fld} in the file: "
                     f"{', '.join(f'{v!r} ({n:,})' for v, n in shown) or 'none'}"
                     f"{f' … ({len(values):,} values)' if len(values) > WHERE_VALUES_SHOWN else ''}")
    fld = next(iter(seen), "FIELD")
    return "; ".join(parts) + f"; filter on one of them (--sites-where {fld}=VALUE, or where = {{ {fld} = [\"VALUE\"] }} in [sites])"
