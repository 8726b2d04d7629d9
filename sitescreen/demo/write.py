"""Writing the demo layers: the deposit CSV quoted like the real export, and vector files with the
demo description in their metadata."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from sitescreen.demo.deposits import DEPOSIT_COLUMNS
from sitescreen.demo.region import DESCRIPTION


def _csv_field(value: str) -> str:
    # Quote like the real MinMod export: empty fields and fields with separators or quotes.
    if value == "" or any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    lines = [",".join(DEPOSIT_COLUMNS)]
    lines += [",".join(_csv_field(str(row[c])) for c in DEPOSIT_COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def write_vector(
    frame: gpd.GeoDataFrame, path: Path, *, driver: str, layer: str, rfc7946: bool = False
) -> None:
    layer_options: dict[str, str] = {}
    if driver in ("GPKG", "GeoJSON"):
        layer_options["DESCRIPTION"] = DESCRIPTION
    if rfc7946:
        layer_options["RFC7946"] = "YES"
    pyogrio.write_dataframe(
        frame, path, layer=layer, driver=driver, promote_to_multi=False, layer_options=layer_options
    )
