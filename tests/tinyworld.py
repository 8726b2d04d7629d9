"""A tiny, valid screening world written to a folder (used by the bad-input, reproducibility,
batch and safety tests). Every name says "(synthetic)"; nothing here is real data.

Sites: four REE deposit records near lon -114.5, lat 44.5 (central Idaho), as a MinMod-style CSV.
Layers: one wilderness polygon (National Atlas schema, GeoJSON, EPSG:4326) and one National
Forest polygon (PAD-US schema, GeoPackage layer ``padus``, EPSG:5070) covering every site.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

SITES = (
    ("1001", "Alpha Prospect (synthetic)", -114.50, 44.50),
    ("1002", "Bravo Prospect (synthetic)", -114.40, 44.55),
    ("1003", "Charlie Prospect (synthetic)", -114.30, 44.45),
    ("1004", "Delta Prospect (synthetic)", -114.60, 44.60),
)
DEPOSIT_COLUMNS = ("record_id", "source_id", "site_name", "state_or_province", "location", "crs",
                   "commodity", "deposit_type")
WILDERNESS_BOX = (-114.47, 44.47, -114.42, 44.52)
FOREST_BOX = (-115.0, 44.0, -114.0, 45.0)


def deposit_rows(sites=SITES, location=None) -> list[dict]:
    """MinMod-style deposit rows; ``location(x, y)`` gives the WKT (default ``POINT (x y)``)."""
    loc = location or (lambda x, y: f"POINT ({x} {y})")
    return [{"record_id": r, "source_id": "https://mrdata.usgs.gov/ree", "site_name": n,
             "state_or_province": "Idaho", "location": loc(x, y), "crs": "EPSG:4326",
             "commodity": "Cerium,Lanthanum", "deposit_type": "Carbonatite"} for r, n, x, y in sites]


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8", columns=None) -> Path:
    columns = list(columns or (rows[0].keys() if rows else DEPOSIT_COLUMNS))
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def wilderness_frame(geoms=None, crs="EPSG:4326") -> gpd.GeoDataFrame:
    geoms = [shapely.box(*WILDERNESS_BOX)] if geoms is None else list(geoms)
    n = len(geoms)
    return gpd.GeoDataFrame({"NAME1": [f"Test Wilderness {i} (synthetic)" for i in range(n)],
                             "FEATURE1": ["Wilderness FS"] * n, "AGBUR": ["FS"] * n,
                             "NAME2": ["Test National Forest (synthetic)"] * n},
                            geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(crs))


def padus_frame(geoms=None, crs="EPSG:5070", gap=3, des="NF", mang="FED") -> gpd.GeoDataFrame:
    geoms = [shapely.box(*FOREST_BOX)] if geoms is None else list(geoms)
    n = len(geoms)
    return gpd.GeoDataFrame({"Unit_Nm": [f"Test Unit {i} (synthetic)" for i in range(n)],
                             "Mang_Type": [mang] * n, "Mang_Name": ["USFS"] * n, "Des_Tp": [des] * n,
                             "GAP_Sts": [str(gap)] * n},
                            geometry=gpd.GeoSeries(geoms, crs="EPSG:4326").to_crs(crs))


def write_vector(gdf: gpd.GeoDataFrame, path: Path, layer: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    driver = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".shp": "ESRI Shapefile"}[path.suffix]
    gdf.to_file(path, driver=driver, **({"layer": layer} if layer else {}))
    return path


def write_dem(path: Path, bounds_lonlat=(-114.7, 44.35, -114.2, 44.7), cell_m=250.0, crs="EPSG:26911") -> Path:
    """A smooth synthetic DEM covering ``bounds_lonlat``, written in ``crs``."""
    import rasterio
    from affine import Affine
    b = gpd.GeoSeries([shapely.box(*bounds_lonlat)], crs="EPSG:4326").to_crs(crs).total_bounds
    w, h = int(np.ceil((b[2] - b[0]) / cell_m)), int(np.ceil((b[3] - b[1]) / cell_m))
    yy, xx = np.mgrid[0:h, 0:w]
    z = (1500 + 3.0 * xx + 2.0 * yy + 40 * np.sin(xx / 7.0)).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs=crs,
                       transform=Affine(cell_m, 0.0, b[0], 0.0, -cell_m, b[3]), nodata=-9999.0) as dst:
        dst.write(z, 1)
    return path


@dataclass
class World:
    """Paths of a tiny world and the `sitescreen screen` arguments that screen it."""

    root: Path
    sites: Path
    protected: Path
    federal: Path
    out: Path
    layers: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    config: Path | None = None

    def args(self) -> list[str]:
        if self.config is not None:
            base = ["screen", "--config", str(self.config)]
        else:
            base = ["screen", str(self.sites)]
            for lyr in self.layers:
                base += ["--layer", lyr]
        return base + ["--out", str(self.out), "--no-map", "--no-report", *self.extra]

    def write_config(self, text: str, name: str = "run.toml") -> Path:
        self.config = self.root / name
        self.config.write_text(text, encoding="utf-8")
        return self.config


CONFIG = """\
title = "tiny world (synthetic)"
[sites]
path = "deposits.csv"
radius_m = 1000
[run]
profile = "federal-safeguards"
[[layers]]
role = "protected"
path = "protected.geojson"
[[layers]]
role = "federal_land"
path = "federal.gpkg"
layer = "padus"
"""


def build(root: Path) -> World:
    root.mkdir(parents=True, exist_ok=True)
    sites = write_csv(root / "deposits.csv", deposit_rows())
    protected = write_vector(wilderness_frame(), root / "protected.geojson")
    federal = write_vector(padus_frame(), root / "federal.gpkg", layer="padus")
    return World(root=root, sites=sites, protected=protected, federal=federal, out=root / "out",
                 layers=[f"protected={protected}", f"federal_land={federal}:padus"])
