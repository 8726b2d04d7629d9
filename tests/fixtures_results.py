"""Small screening results built in code (the results contract), for map, report and style tests.

Import the fixtures into a test module with ``from fixtures_results import *  # noqa: F403``.
Site and layer names include hostile strings: they must show as text and never run.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sitescreen.outputs.mapping import DisplayLayer

RUN_CRS = "EPSG:5070"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "</script><script>alert(1)</script>"
TEMPLATE = "{{ 7*7 }} {% raw %}"
HOSTILE_NAMES = (XSS_IMG, XSS_SCRIPT, TEMPLATE)

CRITERIA = [
    {"name": "protected_overlap", "label": "Overlap with permanently protected land", "kind": "overlap",
     "unit": "fraction", "roles": ["protected"], "measure_column": "m_protected_overlap",
     "score_column": "s_protected_overlap", "weight": 0.0, "transform": None, "exclusion": "> 0",
     "safeguard": "No mining in permanently protected places (GAP 1–2)", "source": "PAD-US 4.0 GAP status",
     "evaluated": True, "note": ""},
    {"name": "park_distance", "label": "Distance to protected areas", "kind": "distance", "unit": "m",
     "roles": ["protected"], "measure_column": "m_park_distance", "score_column": "s_park_distance",
     "params": {"search_radius_m": 50_000},
     "weight": 0.4, "transform": {"kind": "linear", "points": [[300, 0], [1500, 1]]}, "exclusion": "< 300",
     "safeguard": "Setbacks from parks and wilderness", "source": "European siting practice, 300–1,500 m",
     "evaluated": True, "note": ""},
    {"name": "stream_count", "label": "Streams within 1 km", "kind": "count_within", "unit": "count",
     "roles": ["streams"], "measure_column": "m_stream_count", "score_column": "s_stream_count",
     "weight": 0.3, "transform": {"kind": "threshold", "threshold": 1, "below": 1, "above": 0.3},
     "exclusion": None, "safeguard": "Care for watersheds: toxic runoff", "source": "SMCRA stream buffer",
     "evaluated": True, "note": ""},
    {"name": "huc", "label": "Watershed (HUC-8)", "kind": "attribute", "unit": "", "roles": ["watershed"],
     "measure_column": "m_huc", "score_column": "s_huc", "weight": 0.3,
     "transform": {"kind": "categorical", "table": {"17040201": 1.0, "17040202": 0.5}, "default": 0.2},
     "exclusion": None, "safeguard": "Care for watersheds: water use", "source": "WBD HUC-8",
     "evaluated": True, "note": ""},
    {"name": "slope", "label": "Mean slope", "kind": "raster", "unit": "degrees", "roles": ["dem"],
     "measure_column": "m_slope", "score_column": "s_slope", "weight": 0.0, "transform": None,
     "exclusion": None, "safeguard": "Erosion control", "source": "3DEP 1 arc-second",
     "evaluated": False, "note": "no DEM given"},
]


def _lonlat_to_run(lon, lat):
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(RUN_CRS)


def make_sites(n_extra: int = 8) -> gpd.GeoDataFrame:
    """Sites in EPSG:5070: 1 km buffered points (circles) plus one irregular claim polygon."""
    rng = np.random.default_rng(42)
    names = ["Lemhi Pass", XSS_IMG, XSS_SCRIPT, TEMPLATE, "Diamond Creek \"North\" & 'South'"]
    names += [f"Prospect {i}" for i in range(n_extra)]
    n = len(names)
    lon = -114.0 + rng.uniform(-0.45, 0.45, n)
    lat = 45.0 + rng.uniform(-0.3, 0.3, n)
    pts = _lonlat_to_run(lon, lat)
    geoms = list(pts.buffer(1000.0).values)
    # the last site is a claim polygon (not a circle)
    c = pts.iloc[-1]
    geoms[-1] = shapely.Polygon([(c.x - 900, c.y - 600), (c.x + 1200, c.y - 500), (c.x + 800, c.y + 900),
                                 (c.x - 300, c.y + 400), (c.x - 1000, c.y + 800)])
    verdicts = ["favorable", "excluded", "review", "unfavorable", "incomplete"]
    verdict = [verdicts[i % 5] for i in range(n)]
    score = np.round(rng.uniform(0, 100, n), 2)
    score[np.array(verdict) == "excluded"] = 0.0
    score[np.array(verdict) == "favorable"] = np.maximum(score[np.array(verdict) == "favorable"], 71.5)
    score[np.array(verdict) == "incomplete"] = np.nan
    m_overlap = np.where(np.array(verdict) == "excluded", 0.35, 0.0)
    m_dist = rng.uniform(100, 20000, n)
    m_dist[2] = math.inf
    m_count = rng.integers(0, 4, n).astype(float)
    m_count[np.array(verdict) == "incomplete"] = np.nan
    huc = np.array(["17040201", "17040202", "17060203"], dtype=object)[rng.integers(0, 3, n)]
    reasons = []
    for v in verdict:
        if v == "excluded":
            reasons.append("Excluded: overlaps permanently protected land (35 % of the footprint); "
                           "within 300 m of a protected area")
        elif v == "incomplete":
            reasons.append("No data: Streams within 1 km (outside the streams layer's coverage)")
        elif v == "favorable":
            reasons.append("Clears every safeguard; far from protected areas")
        else:
            reasons.append("Near streams; " + XSS_IMG)
    sites = gpd.GeoDataFrame({
        "site_id": [f"S{i:04d}" for i in range(n)],
        "name": names,
        "verdict": verdict,
        "score": score,
        "reasons": reasons,
        "record_ids": [f"MRDS:{10000 + i}" for i in range(n)],
        "m_protected_overlap": m_overlap,
        "s_protected_overlap": np.full(n, np.nan),
        "m_park_distance": m_dist,
        "s_park_distance": np.clip((m_dist - 300) / 1200, 0, 1),
        "m_stream_count": m_count,
        "s_stream_count": np.where(np.isnan(m_count), np.nan, np.where(m_count < 1, 1.0, 0.3)),
        "m_huc": huc,
        "s_huc": np.where(huc == "17040201", 1.0, np.where(huc == "17040202", 0.5, 0.2)),
        "m_slope": np.full(n, np.nan),
        "s_slope": np.full(n, np.nan),
    }, geometry=geoms, crs=RUN_CRS)
    return sites


def make_manifest(sites: gpd.GeoDataFrame) -> dict:
    counts = {v: int((sites["verdict"] == v).sum()) for v in ("excluded", "unfavorable", "review", "favorable", "incomplete")}
    return {
        "tool": {"name": "sitescreen", "version": "0.1.0"},
        "title": "Salmon River test screening " + XSS_IMG,
        "created": "2025-01-15T10:00:00+00:00",
        "crs": RUN_CRS,
        "profile": {"name": "federal-safeguards", "path": "profiles/default.toml", "sha256": "ab" * 32,
                    "description": "Default safeguards " + XSS_SCRIPT, "verdicts": {"favorable": 70, "review": 40}},
        "sites": {"path": "deposits.csv", "sha256": "cd" * 32, "records_read": len(sites) + 3,
                  "records_without_location": 1, "records_filtered_out": 1, "duplicates_merged": 1,
                  "sites": len(sites), "radius_m": 1000.0},
        "inputs": [
            {"name": "Protected areas " + XSS_IMG, "role": "protected", "path": "padus.gpkg", "layer": "padus",
             "kind": "vector", "schema": "padus", "sha256": "ef" * 32, "source_crs": "EPSG:4269",
             "features_read": 3, "repairs": 1, "coverage": "full"},
            {"name": "Streams", "role": "streams", "path": "nhd.shp", "layer": None, "kind": "vector",
             "schema": "generic", "sha256": "01" * 32, "source_crs": "EPSG:4326", "features_read": 2,
             "repairs": 0, "coverage": {"fraction": 0.8}},
        ],
        "criteria": CRITERIA,
        "counts": counts,
        "timings": {"load": 0.5, "measure": 1.25, "score": 0.01},
    }


def make_layers(sites: gpd.GeoDataFrame) -> list[DisplayLayer]:
    """Input layers in different CRSs: protected (EPSG:4326), federal land and watersheds
    (run CRS), streams (lines, EPSG:4326), deposits (points, EPSG:4326)."""
    x0, y0, x1, y1 = sites.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    protected = gpd.GeoDataFrame(
        {"name": ["Frank Church Wilderness", XSS_SCRIPT, TEMPLATE]},
        geometry=[shapely.box(cx - 8000, cy - 6000, cx + 4000, cy + 9000),
                  shapely.Point(cx + 15000, cy - 12000).buffer(5000),
                  shapely.box(x0 - 20000, y1 - 3000, x0 - 5000, y1 + 10000).difference(
                      shapely.box(x0 - 15000, y1, x0 - 10000, y1 + 5000))],
        crs=RUN_CRS).to_crs("EPSG:4326")
    federal = gpd.GeoDataFrame({"name": ["BLM Salmon Field Office", "USFS Salmon-Challis"]},
                               geometry=[shapely.box(x0 - 5000, y0 - 5000, cx, y1 + 5000),
                                         shapely.box(cx + 2000, y0 - 8000, x1 + 6000, cy)], crs=RUN_CRS)
    watershed = gpd.GeoDataFrame({"name": ["17040201", "17040202"], "huc8": ["17040201", "17040202"]},
                                 geometry=[shapely.box(x0 - 30000, y0 - 30000, cx + 1000, y1 + 30000),
                                           shapely.box(cx + 1000, y0 - 30000, x1 + 30000, y1 + 30000)], crs=RUN_CRS)
    t = np.linspace(0, 1, 40)
    streams = gpd.GeoDataFrame(
        {"name": ["Salmon River", None]},
        geometry=[shapely.LineString(np.c_[x0 - 10000 + t * (x1 - x0 + 20000), cy + 6000 * np.sin(t * 6)]),
                  shapely.LineString(np.c_[cx + 3000 * np.sin(t * 5), y0 - 10000 + t * (y1 - y0 + 20000)])],
        crs=RUN_CRS).to_crs("EPSG:4326")
    dep_pts = sites.geometry.centroid.translate(300, -200)
    deposits = gpd.GeoDataFrame({"name": [f"MRDS {10000 + i}" for i in range(len(sites))]},
                                geometry=dep_pts.values, crs=RUN_CRS).to_crs("EPSG:4326")
    return [
        DisplayLayer("Protected areas " + XSS_IMG, "protected", protected),
        DisplayLayer("Federal land", "federal_land", federal),
        DisplayLayer("Watersheds (HUC-8)", "watershed", watershed),
        DisplayLayer("Streams", "streams", streams),
        DisplayLayer("Deposit records", "deposits", deposits),
    ]


@pytest.fixture(scope="session")
def result_sites() -> gpd.GeoDataFrame:
    return make_sites()


@pytest.fixture(scope="session")
def result_manifest(result_sites) -> dict:
    return make_manifest(result_sites)


@pytest.fixture(scope="session")
def display(result_sites) -> list[DisplayLayer]:
    return make_layers(result_sites)


__all__ = ["RUN_CRS", "XSS_IMG", "XSS_SCRIPT", "TEMPLATE", "HOSTILE_NAMES", "CRITERIA", "make_sites",
           "make_manifest", "make_layers", "result_sites", "result_manifest", "display", "pd"]


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory):
    """`sitescreen demo` run once per session through the CLI; returns its output folder."""
    from click.testing import CliRunner

    from sitescreen.cli import main
    base = tmp_path_factory.mktemp("demo-cli")
    res = CliRunner().invoke(main, ["-q", "demo", "--out", str(base / "out"), "--data", str(base / "data")])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return base / "out"


__all__ += ["demo_out"]
