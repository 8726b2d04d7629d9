"""The user's own fields of a sites file: which is the site id and which the name (a flag, the
layer definition, or a recognised column), and every source attribute carried to the results as
``src_<field>`` (never clobbering sitescreen's own columns, never silently dropped)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sitescreen.errors import LayerConfigError

log = logging.getLogger(__name__)

#: Source attributes are carried to every result file under this prefix.
SOURCE_PREFIX = "src_"
#: Column names recognised as a site id when no flag or definition names one (unique and non-empty only).
GUESS_ID = re.compile(r"^(?:id|.+_id|(?:site|claim|record|lease|parcel|feature|object|unit)id)$", re.IGNORECASE)
#: Column names recognised as a site name when no flag or definition names one.
GUESS_NAME = re.compile(r"^(?:name|.+_name|name_.+|.+_nm)$", re.IGNORECASE)


@dataclass(frozen=True)
class IdCandidate:
    """A column that may give the site ids: ``column`` in the sites frame, ``field`` in the file;
    ``how``: ``flag`` (--id-field: missing or repeated values are an error), ``definition`` (the
    layer definition's record_id: repeated values are an error) or ``guess`` (skipped, with a note,
    unless every value is present and unique)."""
    column: str
    field: str
    how: str


def check_field(flag: str, name: str | None, columns: list[str], where: str) -> None:
    if name is not None and name not in columns:
        raise LayerConfigError(f"{where}: {flag} {name!r} is not a field of the sites; fields: {', '.join(columns) or 'none'}")


def id_candidates(columns: list[str], mapped: dict, id_field: str | None, where: str) -> tuple[IdCandidate, ...]:
    """The columns that may give the site ids, best first. ``mapped``: the definition's fields
    (canonical → source alternatives); ``columns``: the file's attribute columns in file order."""
    check_field("--id-field", id_field, columns, where)
    if id_field is not None:
        return (IdCandidate(SOURCE_PREFIX + id_field, id_field, "flag"),)
    lower = {c.lower(): c for c in columns}
    source = next((lower[a.lower()] for a in mapped.get("record_id", ()) if a.lower() in lower), None)
    if source is not None:
        return (IdCandidate("record_id", source, "definition"),)
    return tuple(IdCandidate(SOURCE_PREFIX + c, c, "guess") for c in columns if GUESS_ID.match(c))


def name_source(columns: list[str], mapped: dict, name_field: str | None, where: str) -> str | None:
    """The file's field giving the site names: the flag, the definition's name, or a recognised column."""
    check_field("--name-field", name_field, columns, where)
    if name_field is not None:
        return name_field
    lower = {c.lower(): c for c in columns}
    mapped_name = next((lower[a.lower()] for a in mapped.get("name", ()) if a.lower() in lower), None)
    return mapped_name or next((c for c in columns if GUESS_NAME.match(c)), None)


def source_attributes(df: pd.DataFrame, skip: tuple[str | None, ...]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Every attribute of the file but its geometry columns, as ``src_<field>`` (types kept), and the
    fields that cannot be carried: nested values (a GeoParquet ``bbox`` covering, lists, structs)
    have no column type in a GeoPackage or CSV; they are named in the run record and, once per
    run, in the log (:func:`sitescreen.sites.source.select_sites`)."""
    keep = [c for c in df.columns if c not in skip]
    nested = tuple(str(c) for c in keep if _nested(df[c]))
    keep = [c for c in keep if str(c) not in nested]
    return df[keep].rename(columns={c: SOURCE_PREFIX + str(c) for c in keep}), nested


def _nested(s: pd.Series) -> bool:
    if s.dtype != object:
        return False
    first = s.first_valid_index()
    return first is not None and isinstance(s[first], (dict, list, tuple, np.ndarray))
