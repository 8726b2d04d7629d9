"""Site ids and the canonical site columns: the ids the user's file gives (a flag, the layer
definition's record id, or a recognised unique ``*_id`` column: :mod:`sitescreen.sites.fields`),
otherwise ``S0001``… in file order."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from sitescreen.errors import LayerDataError
from sitescreen.inputs.text import clean_text
from sitescreen.sites.fields import SOURCE_PREFIX, IdCandidate

log = logging.getLogger(__name__)


def finish_sites(sites: gpd.GeoDataFrame, where: str,
                 candidates: Sequence[IdCandidate] = ()) -> tuple[gpd.GeoDataFrame, str | None]:
    """Every site with a stable id and a name, sorted by id; and the field the ids came from
    (None: generated in file order)."""
    values = {c.column: sites[c.column].to_numpy(dtype=object) for c in candidates if c.column in sites}
    rows = sites["_file_row"].to_numpy() if "_file_row" in sites else np.arange(len(sites))
    ids, field = site_ids(values, candidates, rows, where)
    return site_frame(sites, ids).sort_values("site_id", kind="stable").reset_index(drop=True), field


def qualify_record_ids(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Record ids unique only within their source database (the USGS deposit file's ``record_id``
    per ``source_id``: MRDS, REE, carbonatite) qualified by the source where two sources share one:
    ``carbonatite:59`` and ``ree:59``; every other id unchanged. The source is named by the last part
    of its URL (``https://mrdata.usgs.gov/ree`` → ``ree``)."""
    if "record_id" not in sites or "source" not in sites:
        return sites
    rid = sites["record_id"]
    text = rid.astype("string").str.strip()
    label = sites["source"].astype("string").str.strip().str.rstrip("/").str.rsplit("/", n=1).str[-1]
    sources = label.groupby(text).transform("nunique")  # an id repeated within one source stays a duplicate
    clash = (text.notna() & (sources > 1)).to_numpy(dtype=bool, na_value=False)
    if not clash.any():
        return sites
    out = sites.copy()
    out["record_id"] = rid.astype(object).where(~clash, (label + ":" + text).astype(object))
    log.info("%d record ids repeat across sources; qualified by source (e.g. %s)", int(clash.sum()),
             out["record_id"][clash].iloc[0])
    return out


def site_ids(values: Mapping[str, np.ndarray], candidates: Sequence[IdCandidate], rows: np.ndarray,
             where: str) -> tuple[np.ndarray, str | None]:
    """Every site's id from the first candidate column whose values are all present and unique
    (``values``: candidate column → its value per site), else generated (:func:`generated_ids`)."""
    usable = []
    for c in candidates:
        if c.column not in values:
            continue
        ids = _usable(pd.Series(values[c.column], dtype=object), c, where, rows)
        if ids is not None:
            usable.append((ids, c))
    if len(usable) > 1:  # only guessed columns are tried together: several could be the id
        names = ", ".join(repr(c.field) for _, c in usable)
        raise LayerDataError(f"{where}: fields {names} all look like site ids (each present and unique), so which "
                             f"one is the id cannot be told; name it with --id-field FIELD (id_field = \"FIELD\" in "
                             f"[sites] of a run config)")
    return (usable[0][0], usable[0][1].field) if usable else (generated_ids(rows), None)


def _id_texts(raw: pd.Series) -> pd.Series:
    """Each id value as text: text as it is, a whole float without its ".0", anything else as
    ``str`` writes it; missing values stay missing. A column of text alone is taken as it is."""
    if pd.api.types.infer_dtype(raw, skipna=True) == "string":
        return raw
    return raw.map(lambda v: v if isinstance(v, str) else (f"{v:.0f}" if isinstance(v, float) and v.is_integer() else str(v)),
                   na_action="ignore")


def _usable(raw: pd.Series, c: IdCandidate, where: str, rows: np.ndarray) -> np.ndarray | None:
    """``raw`` as text ids (stripped and composed: "1001 " is "1001", :mod:`sitescreen.inputs.text`),
    or None when the candidate cannot give ids (a flag or a definition: an error instead)."""
    ids = clean_text(_id_texts(raw))
    blank = (ids.isna() | (ids.astype(str).str.strip() == "")).to_numpy()
    flag = " (--id-field)" if c.how == "flag" else ""
    if blank.any():
        if c.how == "flag":
            raise LayerDataError(f"{where}: field {c.field!r}{flag} is empty for {int(blank.sum())} site(s); "
                                 f"site ids must be present for every site: fill them, or drop --id-field")
        if c.how == "guess":
            log.info("%s: field %r is not used as the site id: %d site(s) have none", where, c.field, int(blank.sum()))
        return None
    dup = ids[ids.duplicated()]
    if len(dup):
        if c.how == "guess":
            log.info("%s: field %r is not used as the site id: value %r is repeated", where, c.field, dup.iloc[0])
            return None
        raise LayerDataError(f"{where}: duplicate site ids {_duplicates(raw, ids, dup, rows)} in field "
                             f"{c.field!r}{flag}; site ids must be unique")
    return ids.astype(str).to_numpy(dtype=object)


def _duplicates(raw: pd.Series, ids: pd.Series, dup: pd.Series, rows: np.ndarray) -> str:
    """The first repeated ids, each with the records that give it (counted from 1 in file order) and
    how each wrote it where that differs: '1001' (records 1, 4: '1001 ')."""
    out = []
    for value in dup.unique()[:5]:
        at = np.flatnonzero((ids == value).to_numpy())
        at = at[np.argsort(rows[at], kind="stable")][:4]
        given = ", ".join(f"{int(rows[i]) + 1}" + (f": {raw.iloc[i]!r}" if raw.iloc[i] != value else "") for i in at)
        out.append(f"{value!r} (records {given})")
    return ", ".join(out)


def generated_ids(rows: np.ndarray) -> np.ndarray:
    """``S0001``… in the order of the sites' records in the file (``rows``: each site's file row);
    as many digits as the count needs, at least four."""
    n = len(rows)
    out = np.empty(n, dtype=object)
    width = max(4, len(str(n)))
    out[np.argsort(rows, kind="stable")] = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)
    return out


def site_frame(sites: gpd.GeoDataFrame, ids: np.ndarray) -> gpd.GeoDataFrame:
    """The canonical site columns (id, name, source record ids, extras, the source attributes
    ``src_*``) around the footprints."""
    out = gpd.GeoDataFrame({"site_id": ids}, geometry=sites.geometry.to_numpy(), crs=sites.crs)
    out["name"] = sites["name"].fillna("").astype(str).to_numpy() if "name" in sites else out["site_id"]
    out.loc[out["name"] == "", "name"] = out["site_id"]
    out["record_ids"] = sites["record_ids"].astype(str).to_numpy() if "record_ids" in sites else out["site_id"]
    for extra in ("other_names", "n_records", "commodity", "state"):  # state: for state-extract coverage
        if extra in sites:
            out[extra] = sites[extra].to_numpy()
    for col in sites.columns:
        if str(col).startswith(SOURCE_PREFIX):
            out[col] = sites[col].array
    return out
