"""Reading a CSV layer: its encoding and separator, rows checked against the header, and geometry
from a WKT column or lon/lat columns."""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.probe import empty_message, schema_for, source_crs
from sitescreen.inputs.schemas import Schema, generic_schema, geometry_choices
from sitescreen.inputs.spec import LayerSpec

log = logging.getLogger(__name__)


CSV_SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars"}


def csv_dialect(path: Path) -> tuple[str, str]:
    """(encoding, separator) of a CSV: UTF-8, or UTF-16/UTF-8 as its byte-order mark says; the separator
    is a comma unless the header has none and has semicolons, tabs or bars (spreadsheet exports)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    encoding = ("utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff"))
                else "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8")
    lines = head.decode(encoding, errors="ignore").splitlines()
    header = re.sub(r'"[^"]*"', "", lines[0] if lines else "")
    counts = {sep: header.count(sep) for sep in CSV_SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return encoding, ("," if counts[","] or not counts[best] else best)


def _csv_frame(spec: LayerSpec, where: str) -> pd.DataFrame:
    encoding, sep = csv_dialect(spec.path)
    if sep != ",":
        log.info("%s: fields separated by %s", where, CSV_SEPARATORS[sep])
    if encoding == "utf-8" and b"\x00" in spec.path.read_bytes()[: 1 << 16]:
        raise LayerDataError(f"{where}: text is not UTF-8 (it has NUL bytes: UTF-16 without a byte-order mark, "
                             f"or not text); re-save the file as UTF-8")
    try:
        with warnings.catch_warnings():  # rows longer than the header: pandas would shift them silently
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(spec.path, dtype=str, keep_default_na=False, encoding=encoding, sep=sep, index_col=False)
    except UnicodeError as exc:
        at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        raise LayerDataError(f"{where}: text is not {encoding.upper().removesuffix('-SIG')} "
                             f"({getattr(exc, 'reason', exc)}{at}); re-save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise LayerDataError(empty_message(spec, where)) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        bad = _ragged_line(spec.path, encoding, sep)
        if bad:
            line, n, header = bad
            raise LayerDataError(
                f"{where}: line {line} has {n} fields but the header has {header} "
                f"(fields separated by {CSV_SEPARATORS[sep]}); put quotes around values that contain "
                f"{CSV_SEPARATORS[sep]}") from None
        raise LayerDataError(f"{where}: not a readable CSV: {exc}") from None


def _ragged_line(path: Path, encoding: str, sep: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row whose length differs from the header's."""
    import csv
    with open(path, newline="", encoding=encoding) as f:
        rows = csv.reader(f, delimiter=sep)
        header = len(next(rows, []))
        for row in rows:
            if row and len(row) != header:
                return rows.line_num, len(row), header
    return None


def _one_geometry(columns: list[str], spec: LayerSpec, where: str) -> None:
    """Refuse a CSV whose columns offer several geometries (a WKT column and lon/lat, two lon/lat
    pairs) when no definition names one: each would place the sites elsewhere."""
    choices = geometry_choices(columns)
    if len(choices) > 1:
        table = "[sites] table" if spec.role == "sites" else f"[[layers]] table with role = \"{spec.role}\""
        raise LayerConfigError(
            f"{where}: the CSV has {len(choices)} geometries ({', '.join(choices)}) and no layer definition names "
            f"one, so which to use cannot be told: name it in the {table} of a run config with "
            f"definition = {{ geometry = {{ wkt = \"COLUMN\" }} }} or definition = {{ geometry = {{ lon = \"X\", lat = \"Y\" }} }}")


def read_csv(spec: LayerSpec, where: str) -> tuple[gpd.GeoDataFrame, Schema, str]:
    df = _csv_frame(spec, where)
    if len(df) == 0:
        raise LayerDataError(empty_message(spec, where))
    schema = schema_for(spec, list(df.columns), where)
    named = schema.wkt or (schema.lon and schema.lat)
    if not named or (schema.name == "generic" and spec.definition is None):
        _one_geometry(list(df.columns), spec, where)  # never a guess between two
    if not schema.wkt and not (schema.lon and schema.lat):
        # a known definition that does not name geometry columns (e.g. wilderness exported as CSV)
        geo = generic_schema(list(df.columns), spec.role)
        schema = replace(schema, wkt=geo.wkt, lon=geo.lon, lat=geo.lat)
    if schema.wkt:
        text = df[schema.wkt].str.strip()
        present = text != ""
        wkt = text.to_numpy(dtype=object)
        wkt[~present.to_numpy()] = None
        with np.errstate(over="ignore"):  # 1e400 overflows: refused by check_finite, with its line
            geoms = shapely.from_wkt(wkt, on_invalid="ignore")
        bad = present.to_numpy() & shapely.is_missing(geoms)
        if bad.any():
            rows = (np.flatnonzero(bad) + 2).tolist()  # +1 header, +1 one-based
            shown = ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else "")
            err = LayerDataError(
                f"{where}: column {schema.wkt!r} has WKT that does not parse on {len(rows)} row(s) "
                f"(line {shown}), e.g. {text[bad].iloc[0]!r}; fix them or pass --skip-invalid")
            err.bad_rows = np.flatnonzero(bad)  # type: ignore[attr-defined]
            if not spec.skip_invalid:
                raise err
            geoms[bad] = None
    elif schema.lon and schema.lat:
        lon = pd.to_numeric(df[schema.lon].replace("", None), errors="coerce")
        lat = pd.to_numeric(df[schema.lat].replace("", None), errors="coerce")
        bad = (lon.isna() & (df[schema.lon] != "")) | (lat.isna() & (df[schema.lat] != ""))
        if bad.any():
            rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()
            raise LayerDataError(f"{where}: columns {schema.lon!r}/{schema.lat!r} are not numbers on line(s) {', '.join(map(str, rows[:10]))}")
        geoms = shapely.points(lon.to_numpy(), lat.to_numpy())
        geoms[lon.isna().to_numpy() | lat.isna().to_numpy()] = None
    else:
        raise LayerConfigError(
            f"{where}: CSV without a geometry: expected a WKT column ({', '.join(('wkt', 'geometry'))}) "
            f"or lon/lat columns (lon,lat / longitude,latitude / x,y); columns present: {', '.join(df.columns)}")
    file_crs = schema.crs or (df["crs"].replace("", np.nan).dropna().iloc[0] if "crs" in df and (df["crs"] != "").any() else None)
    if file_crs is None and schema.lon and schema.lon.lower() in ("lon", "longitude", "lng"):
        file_crs = "EPSG:4326"
    src_crs = source_crs(spec, file_crs, where)
    return gpd.GeoDataFrame(df, geometry=geoms, crs=src_crs), schema, src_crs
