"""A synthetic demo region in the schemas of the real national datasets.

:func:`generate_demo` writes a fictional region of central Idaho (lon -115.4 .. -113.6,
lat 44.0 .. 45.3) as the same kinds of files a user downloads for a real run, so that the
demo exercises schema detection, reprojection, geometry repair and coverage gaps:

=========================================  ==========  ==============================================
file (layer)                               CRS         schema
=========================================  ==========  ==============================================
``deposits.csv``                           EPSG:4326   USGS/MinMod deposit records (WKT ``location``)
``padus.gpkg`` (``padus``)                 EPSG:5070   PAD-US (``Unit_Nm``, ``Mang_Type``,
                                                       ``Mang_Name``, ``Des_Tp``, ``GAP_Sts`` ...)
``watersheds.gpkg`` (``wbdhu10``)          EPSG:4269   WBD HU-10 (``huc10``, ``name``, ``areasqkm`` ...)
``parks.geojson``                          EPSG:4326   NPS boundaries (``UNIT_CODE``, ``UNIT_NAME`` ...)
``wilderness/wilderness.shp``              EPSG:5070   National Atlas wilderness (``NAME1``, ``AGBUR``)
``dem.tif``                                EPSG:26911  float32 DEM, 90 m, tiled, DEFLATE, nodata -9999
``sitescreen.toml``                        --          the run config pointing at all of the above
=========================================  ==========  ==============================================

Everything is synthetic: names start with "Demo" and end with "(synthetic)", and every format
with a description slot carries :data:`DESCRIPTION`. The same seed gives the same coordinates
and attributes (GeoPackages carry a write timestamp in their metadata).

Built-in quirks, mirroring the real data: duplicate deposit records from a second USGS source a
few hundred metres apart, rows without a location, non-REE records, the misspelling "Neoymium",
``POINT(x y)`` without a space, three invalid PAD-US polygons (two bow-ties, one self-touching
ring), a wilderness split into two polygons with the same ``NAME1``, a watershed layer that
leaves out the south-east corner, and a ragged nodata band along the east edge of the DEM.

Each layer is made by its own module: :mod:`.region` (the box, names, CRSs, geometry helpers),
:mod:`.dem`, :mod:`.protected` (park, refuge, wildernesses), :mod:`.land` (PAD-US), :mod:`.water`
(watersheds), :mod:`.deposits`; :mod:`.write` writes them.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from sitescreen.demo.dem import dem_surface, write_dem
from sitescreen.demo.deposits import deposit_rows
from sitescreen.demo.land import padus_layer
from sitescreen.demo.protected import parks_frame, protected_areas, wilderness_frame
from sitescreen.demo.water import watershed_layer
from sitescreen.demo.write import write_csv, write_vector

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20261128

DEMO_FILES = (
    "deposits.csv",
    "padus.gpkg",
    "watersheds.gpkg",
    "parks.geojson",
    "wilderness/wilderness.shp",
    "wilderness/wilderness.shx",
    "wilderness/wilderness.dbf",
    "wilderness/wilderness.prj",
    "wilderness/wilderness.cpg",
    "dem.tif",
    "sitescreen.toml",
)


CONFIG_TEXT = """\
# sitescreen run config for the built-in demo. THE DEMO DATA IS SYNTHETIC.
title = "sitescreen demo — synthetic central-Idaho region (not real data)"

[sites]
path = "deposits.csv"       # USGS deposit records; detected schema "usgs-deposits"
radius_m = 1000             # footprint radius around each deposit point
commodity = "rare-earths"

[run]
profile = "federal-safeguards"

[[layers]]
role = "federal_land"
path = "padus.gpkg"
name = "PAD-US land (synthetic)"
layer = "padus"

[[layers]]
role = "watershed"
path = "watersheds.gpkg"
name = "Watersheds HUC-10 (synthetic)"
layer = "wbdhu10"

[[layers]]
role = "protected"
path = "parks.geojson"
name = "National park (synthetic)"

[[layers]]
role = "protected"
path = "wilderness/wilderness.shp"
name = "Wilderness (synthetic)"

[[layers]]
role = "dem"
path = "dem.tif"
name = "DEM (synthetic)"
"""


def generate_demo(directory: str | Path, seed: int = DEFAULT_SEED) -> Path:
    """Write the demo layers and a run config into `directory` (created if needed); return the config path (directory / "sitescreen.toml").

    The files are those of :data:`DEMO_FILES`; each is written under a temporary name inside
    `directory` and moved into place with :func:`os.replace`. Existing demo files are replaced.
    The same `seed` gives the same coordinates and attributes.
    """
    started = time.perf_counter()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # One independent stream per layer, so changing one layer's recipe leaves the others alone.
    rng_dem, rng_areas, rng_land, rng_sheds, rng_sites = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )

    dem, dem_transform = dem_surface(rng_dem)
    areas = protected_areas(rng_areas)
    padus = padus_layer(rng_land, areas, dem, dem_transform)
    sheds, gap = watershed_layer(rng_sheds)
    deposits = deposit_rows(rng_sites, areas, padus, gap)

    staging = Path(tempfile.mkdtemp(prefix=".sitescreen-demo-", dir=directory))
    try:
        write_csv(staging / "deposits.csv", deposits)
        write_vector(padus, staging / "padus.gpkg", driver="GPKG", layer="padus")
        write_vector(sheds, staging / "watersheds.gpkg", driver="GPKG", layer="wbdhu10")
        write_vector(
            parks_frame(areas), staging / "parks.geojson", driver="GeoJSON", layer="parks", rfc7946=True
        )
        (staging / "wilderness").mkdir()
        write_vector(
            wilderness_frame(areas),
            staging / "wilderness" / "wilderness.shp",
            driver="ESRI Shapefile",
            layer="wilderness",
        )
        write_dem(staging / "dem.tif", dem, dem_transform)
        (staging / "sitescreen.toml").write_text(CONFIG_TEXT, encoding="utf-8")
        for rel in DEMO_FILES:
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    logger.info(
        "wrote synthetic demo region (seed %d, %d deposit rows, %d PAD-US, %d watershed features) "
        "to %s in %.2f s",
        seed,
        len(deposits),
        len(padus),
        len(sheds),
        directory,
        time.perf_counter() - started,
    )
    return directory / "sitescreen.toml"
