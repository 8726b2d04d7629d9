"""The protected areas (park, refuge, wildernesses) shared by the PAD-US, NPS and wilderness layers,
and the NPS and National Atlas wilderness layers made of them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon

from sitescreen.demo.region import (ALBERS, BLM_OFFICE_NAMES, DESCRIPTION, FOREST_NAMES, MOUNTAIN_CENTRES, PARK_CODE,
                                    PARK_NAME, WGS84, WILDERNESS_NAMES, Geom, blob, largest_part, scale_to_area)


def protected_areas(rng: np.random.Generator) -> dict[str, Geom]:
    def jitter(lon: float, lat: float) -> tuple[float, float]:
        return lon + rng.uniform(-0.03, 0.03), lat + rng.uniform(-0.02, 0.02)

    park_c, peaks_c, breaks_c, lakes_c = MOUNTAIN_CENTRES
    park = scale_to_area(blob(rng, *jitter(*park_c), 9.0, 7.0), rng.uniform(180.0, 260.0))
    refuge = scale_to_area(blob(rng, *jitter(-114.72, 44.24), 7.0, 5.0), rng.uniform(90.0, 130.0))
    peaks = scale_to_area(blob(rng, *jitter(*peaks_c), 21.0, 15.0), rng.uniform(950.0, 1150.0))
    breaks = scale_to_area(blob(rng, *jitter(*breaks_c), 12.0, 9.0), rng.uniform(300.0, 380.0))
    lakes = scale_to_area(blob(rng, *jitter(*lakes_c), 7.0, 6.0), rng.uniform(120.0, 170.0))

    # Split the Demo Peaks Wilderness along the (jagged) boundary between the two forests.
    lats = np.arange(44.5, 45.5001, 0.02)
    lons = -115.0 + np.cumsum(rng.uniform(-0.006, 0.006, lats.size))
    west = Polygon([(-116.0, 44.5), *zip(lons, lats), (-116.0, 45.5)])
    return {
        "park": park,
        "refuge": refuge,
        "forest_west": west,  # west of the line: Demo Ridge NF; east: Demo River NF
        "peaks_west": largest_part(peaks.intersection(west)),
        "peaks_east": largest_part(peaks.difference(west)),
        "breaks": breaks,
        "lakes": lakes,
    }


def wilderness_geoms(areas: dict[str, Geom]) -> list[Geom]:
    return [areas["peaks_west"], areas["peaks_east"], areas["breaks"], areas["lakes"]]


def parks_frame(areas: dict[str, Geom]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "UNIT_CODE": [PARK_CODE],
            "UNIT_NAME": [PARK_NAME],
            "STATE": ["ID"],
            "REGION": ["PW"],
            "GNIS_ID": [""],
            "UNIT_TYPE": ["National Park"],
            "ESTBLSHD": [""],
            "PHONE": [""],
            "WEBSITE": [""],
            "DESCR": [f"A fictional national park: {DESCRIPTION}. Not real data."],
            "IMAGE": [""],
            "ACTIVITIES": [""],
        },
        geometry=[areas["park"]],
        crs=WGS84,
    )


def wilderness_frame(areas: dict[str, Geom]) -> gpd.GeoDataFrame:
    geoms = wilderness_geoms(areas)
    peaks, breaks, lakes = WILDERNESS_NAMES
    ridge_nf, river_nf = FOREST_NAMES
    rows = [
        (peaks, ridge_nf, "Wilderness FS", "National Forest FS", "FS"),
        (peaks, river_nf, "Wilderness FS", "National Forest FS", "FS"),
        (breaks, BLM_OFFICE_NAMES[0], "Wilderness BLM", "", "BLM"),
        (lakes, ridge_nf, "Wilderness FS", "National Forest FS", "FS"),
    ]
    frame = gpd.GeoDataFrame(
        {
            # National Atlas AREA / PERIMETER are in square degrees / degrees of the lon/lat data.
            "AREA": np.round(shapely.area(geoms), 6),
            "PERIMETER": np.round(shapely.length(geoms), 6),
            "FEDLANP020": np.arange(len(rows), dtype=float) + 9001.0,
            "FEDLANP021": np.arange(len(rows), dtype=float) + 9001.0,
            "FEATURE1": [r[2] for r in rows],
            "FEATURE2": [r[3] for r in rows],
            "FEATURE3": [""] * len(rows),
            "AGBUR": [r[4] for r in rows],
            "URL": [""] * len(rows),
            "NAME1": [r[0] for r in rows],
            "NAME2": [r[1] for r in rows],
            "NAME3": [""] * len(rows),
            "STATE": ["ID"] * len(rows),
            "STATE_FIPS": ["16"] * len(rows),
        },
        geometry=geoms,
        crs=WGS84,
    )
    return frame.to_crs(ALBERS)
