"""Roll-ups: a finished run's sites added up per unit (a watershed, a HUC level, a county, any polygon).

Per unit: the sites by verdict, score statistics over the scored sites, the footprint area by verdict
and the share of the unit it takes — the cumulative view of a NEPA review.

* **Which unit a site belongs to.** The unit holding the largest part of its footprint, by the same
  area-weighted majority kernel the ``attribute`` criteria use (:func:`sitescreen.measure.overlap.area_weighted`),
  and only when at least half the footprint lies in the units (the rule by which a site outside a
  layer's coverage has no data, :data:`sitescreen.measure.coverage.MIN_COVERAGE`). Other sites are
  counted in the row ``outside every unit``. By ``watershed`` this is the site's ``m_watershed``.
* **Footprint area.** The area of the units covered by footprints, whichever unit their site is
  assigned to, by the union-area kernel (:func:`sitescreen.measure.overlap.overlap_fraction` with the
  units as the shapes measured): overlapping footprints count once. The outside row has the
  footprint area outside every unit. Areas are in km² of the run CRS, which must be equal-area.
* **A run in measuring zones** (:func:`rollup_zones`): each zone's sites are assigned and their
  areas measured in the zone's CRS, as a roll-up of that zone's run alone would; a unit holding
  sites of two zones (no one equal-area CRS for it) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from sitescreen.errors import CRSError
from sitescreen.inputs.crs import distortion_problem, extent_of_bounds, lonlat_boxes
from sitescreen.measure.coverage import MIN_COVERAGE
from sitescreen.measure.overlap import area_weighted, overlap_fraction
from sitescreen.outputs.files import read_results
from sitescreen.review.rollupunits import Units, read_units
from sitescreen.rules.reviewwords import crs_phrase
from sitescreen.rules.verdicts import VERDICTS

#: The row of the sites no unit holds (at least half of their footprint outside every unit).
OUTSIDE = "outside every unit"
STATS = ("min", "median", "mean", "max")

#: Every column of a roll-up table, documented once (the CLI's --help and the CSV header use it).
COLUMNS = {
    "unit": "the unit's name (its HUC code, or the FIELD value); 'outside every unit' for the sites no unit holds",
    "sites": "sites assigned to the unit (the unit holding most of the footprint, at least half of it)",
    **{f"n_{v}": f"{v} sites assigned to the unit" for v in VERDICTS},
    **{f"score_{s}": f"{s} score of the unit's scored sites (not excluded, not incomplete)" for s in STATS},
    "area_km2": "area of the unit covered by footprints (overlaps counted once), km²",
    **{f"area_km2_{v}": f"area of the unit covered by footprints of {v} sites, km²" for v in VERDICTS},
    "unit_km2": "the unit's area, km²",
    "share": "area_km2 / unit_km2",
    **{f"share_{v}": f"area_km2_{v} / unit_km2" for v in VERDICTS},
}


@dataclass(frozen=True)
class Rollup:
    """A roll-up: the table (one row per unit with sites or footprint area, then the outside row)
    and the same rows with the units' polygons (``units``; the outside row has no geometry)."""

    units: Units
    table: pd.DataFrame
    frame: gpd.GeoDataFrame


def rollup(out_dir: str | Path, by: str) -> Rollup:
    """The roll-up of the run in ``out_dir`` by ``by`` (``watershed``, ``huc<N>`` or ``FILE[:FIELD]``)."""
    sites, record = read_results(out_dir)
    if record.zones:
        return rollup_zones(sites, record, by, Path(out_dir))
    check_equal_area(sites, Path(out_dir))
    bbox = tuple(sites.to_crs(4326).total_bounds) if len(sites) else None
    units = read_units(by, record, sites.crs, bbox)
    return rollup_sites(sites, units)


def check_equal_area(sites: gpd.GeoDataFrame, out_dir: Path) -> None:
    """Areas and shares are true only in an equal-area CRS: refused otherwise."""
    if not len(sites):
        return
    problem = distortion_problem(sites.crs, extent_of_bounds(sites.to_crs(4326).total_bounds), areas=True)
    if problem:
        raise CRSError(f"{out_dir / 'sites.parquet'}: the run CRS cannot measure the roll-up's areas: {problem}")


def assign(footprints: np.ndarray, units: Units) -> np.ndarray:
    """Per site: the name of the unit holding most of its footprint, or None (see the module doc)."""
    geoms = units.gdf.geometry.to_numpy()
    key, covered = area_weighted(footprints, geoms, units.gdf["unit"].to_numpy(dtype=object), "majority")
    return np.where(np.nan_to_num(covered, nan=0.0) >= MIN_COVERAGE, key, None)


def rollup_sites(sites: gpd.GeoDataFrame, units: Units) -> Rollup:
    """The roll-up of result ``sites`` (with geometry, verdict and score) over ``units``."""
    fp = sites.geometry.to_numpy()
    unit = pd.Series(assign(fp, units), index=sites.index, dtype=object).fillna(OUTSIDE)
    return _assembled(sites, unit, _areas(fp, sites["verdict"].astype(str).to_numpy(), units), units, sites.crs)


def rollup_zones(sites: gpd.GeoDataFrame, record, by: str, out_dir: Path) -> Rollup:
    """The roll-up of a run in measuring zones (:mod:`sitescreen.inputs.zones`): each zone's sites
    assigned to the units and their areas measured in the zone's CRS (units read around them), the
    counts and score statistics made over all the sites; the units given out in the sites' lon/lat.
    A unit holding sites or footprints of two zones has no one equal-area CRS: refused, naming it."""
    unit = pd.Series(OUTSIDE, index=sites.index, dtype=object)
    areas, outs, shown, units = [], [], [], None
    for zone, rows in zone_rows(sites, record.zones, out_dir):
        crs = CRS.from_user_input(zone.crs)
        part = sites.iloc[rows].to_crs(crs)
        check_equal_area(part, out_dir)
        units = read_units(by, record, crs, lonlat_boxes(part.total_bounds, crs, 0.0))
        fp = part.geometry.to_numpy()
        unit.iloc[rows] = pd.Series(assign(fp, units), dtype=object).fillna(OUTSIDE).to_numpy()
        area = _areas(fp, part["verdict"].astype(str).to_numpy(), units)
        held = set(unit.iloc[rows]) | set(area.index[area["area_km2"] > 0])
        areas.append(area[area.index.isin(held - {OUTSIDE})])
        outs.append(area.loc[[OUTSIDE]])
        shown.append(units.gdf[units.gdf["unit"].isin(held)].to_crs(sites.crs))
    table = pd.concat(areas)
    twice = table.index[table.index.duplicated()]
    if len(twice):
        raise CRSError(f"{out_dir / 'manifest.json'}: unit {twice[0]!r} holds sites of more than one of the run's "
                       f"{crs_phrase(record.crs, record.zones)}; its area has no one equal-area CRS: roll up a run of "
                       f"each zone (--aoi around its sites)")
    outside = sum(outs[1:], outs[0])
    outside[[c for c in outside.columns if not c.startswith("area_km2")]] = np.nan
    gdf = pd.concat(shown, ignore_index=True) if shown else units.gdf.iloc[:0]
    every = Units(by=units.by, kind=units.kind, source=units.source, field=units.field,
                  gdf=gpd.GeoDataFrame(gdf, geometry=gdf.geometry.name, crs=sites.crs))
    return _assembled(sites, unit, pd.concat([table, outside]), every, sites.crs)


def zone_rows(sites: gpd.GeoDataFrame, zones, out_dir: Path) -> list[tuple]:
    """Each zone with the positions of its sites: the first zone whose lon/lat bounds (0.01° wider)
    hold the site's centre, as sites were given to zones."""
    c = shapely.centroid(sites.geometry.to_numpy())
    lon, lat = (shapely.get_x(c) + 180.0) % 360.0 - 180.0, shapely.get_y(c)
    left = np.ones(len(sites), bool)
    out = []
    for z in zones:
        w, so, e, n = z.bounds
        inside = left & ((lon - w + 0.01) % 360.0 <= (e - w) % 360.0 + 0.02) & (lat >= so - 0.01) & (lat <= n + 0.01)
        out.append((z, np.flatnonzero(inside)))
        left &= ~inside
    if left.any():
        raise CRSError(f"{out_dir / 'sites.parquet'}: {int(left.sum())} site(s) lie in none of the run's measuring "
                       f"zones (e.g. {sites['site_id'].iloc[int(np.argmax(left))]!r}): the results do not match "
                       f"their manifest")
    return out


def _assembled(sites, unit: pd.Series, areas: pd.DataFrame, units: Units, crs) -> Rollup:
    """The roll-up table from each site's unit and the units' areas; the rows with their polygons."""
    counts = _counts(unit, sites["verdict"].astype(str))
    stats = _score_stats(unit, sites)
    table = counts.join(stats, how="outer").join(areas, how="outer")
    table = table.fillna({c: 0 for c in counts.columns}).astype({c: "int64" for c in counts.columns})
    keep = (table["sites"] > 0) | (table["area_km2"] > 0)
    table = table[keep]
    order = sorted(i for i in table.index if i != OUTSIDE) + [OUTSIDE]
    table = table.reindex(order).fillna({c: 0 for c in counts.columns}).astype({c: "int64" for c in counts.columns})
    table = table.rename_axis("unit").reset_index()[list(COLUMNS)]
    geom = units.gdf.drop_duplicates("unit").set_index("unit").geometry.reindex(table["unit"]).to_numpy()
    frame = gpd.GeoDataFrame(table.copy(), geometry=gpd.GeoSeries(geom, crs=crs), crs=crs)
    return Rollup(units=units, table=table, frame=frame)


def _counts(unit: pd.Series, verdict: pd.Series) -> pd.DataFrame:
    tab = pd.crosstab(unit, pd.Categorical(verdict, categories=list(VERDICTS)), dropna=False)
    tab = tab.reindex(columns=list(VERDICTS), fill_value=0)
    tab.columns = [f"n_{v}" for v in VERDICTS]
    tab.insert(0, "sites", tab.sum(axis=1))
    tab.index = tab.index.astype(object)
    return tab


def _score_stats(unit: pd.Series, sites: pd.DataFrame) -> pd.DataFrame:
    """min, median, mean and max score of the scored sites per unit (the report's "scored": not
    excluded, with a score)."""
    score = pd.to_numeric(sites["score"], errors="coerce")
    scored = score.notna() & (sites["verdict"].astype(str) != "excluded")
    stats = score[scored].groupby(unit[scored]).agg(list(STATS))
    stats.columns = [f"score_{s}" for s in STATS]
    return stats


def _areas(fp: np.ndarray, verdict: np.ndarray, units: Units) -> pd.DataFrame:
    """Footprint area per unit and verdict (km²) and the shares of the units' areas; the outside row."""
    geoms = units.gdf.geometry.to_numpy()
    unit_m2 = shapely.area(geoms)
    every = shapely.union_all(geoms)
    cols: dict[str, np.ndarray] = {}
    outside: dict[str, float] = {}
    for name, mask in (("", np.ones(len(fp), bool)), *((f"_{v}", verdict == v) for v in VERDICTS)):
        part = fp[mask]
        cols[f"area_km2{name}"] = overlap_fraction(geoms, part) * unit_m2 / 1e6 if part.size else np.zeros(len(geoms))
        outside[f"area_km2{name}"] = float(shapely.area(shapely.difference(shapely.union_all(part), every))) / 1e6 if part.size else 0.0
    out = pd.DataFrame(cols, index=pd.Index(units.gdf["unit"].to_numpy(dtype=object)))
    out["unit_km2"] = unit_m2 / 1e6
    for name in ("", *(f"_{v}" for v in VERDICTS)):
        out[f"share{name}"] = out[f"area_km2{name}"] / out["unit_km2"]
    row = pd.DataFrame([{**outside, "unit_km2": np.nan, **{f"share{n}": np.nan for n in ("", *(f'_{v}' for v in VERDICTS))}}],
                       index=pd.Index([OUTSIDE], dtype=object))
    return pd.concat([out, row])


__all__ = ["Rollup", "rollup", "rollup_sites", "rollup_zones", "assign", "check_equal_area", "OUTSIDE", "COLUMNS"]
