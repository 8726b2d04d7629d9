"""The PAD-US layer: land blocks given a manager by elevation (private valleys, national forest
uplands), the protected units, small parcels and three deliberately invalid polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from shapely.geometry import MultiPolygon, Polygon

from sitescreen.demo.dem import DEM_CELL
from sitescreen.demo.region import (ACRES_PER_M2, ALBERS, BLM_OFFICE_NAMES, DESCRIPTION, FOREST_NAMES, PARK_NAME,
                                    REFUGE_NAME, REGION, UTM11, WGS84, WILDERNESS_NAMES, Geom, blob, project, to_deg)


def _land_blocks(rng: np.random.Generator, nx: int = 18, ny: int = 13) -> tuple[list[Polygon], np.ndarray]:
    """An irregular quadrilateral tessellation of the region: jittered corners, wiggly shared edges."""
    x0, y0, x1, y1 = REGION
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    gx, gy = np.meshgrid(np.linspace(x0, x1, nx + 1), np.linspace(y0, y1, ny + 1))
    gx[1:-1, 1:-1] += rng.uniform(-0.22, 0.22, (ny - 1, nx - 1)) * dx
    gy[1:-1, 1:-1] += rng.uniform(-0.22, 0.22, (ny - 1, nx - 1)) * dy
    gx[[0, -1], 1:-1] += rng.uniform(-0.22, 0.22, (2, nx - 1)) * dx  # slide along the boundary
    gy[1:-1, [0, -1]] += rng.uniform(-0.22, 0.22, (ny - 1, 2)) * dy
    t = np.linspace(0.0, 1.0, 7)[1:-1]

    def edge(a: tuple[int, int], b: tuple[int, int], offset: np.ndarray) -> np.ndarray:
        (ja, ia), (jb, ib) = a, b
        px = gx[ja, ia] + t * (gx[jb, ib] - gx[ja, ia])
        py = gy[ja, ia] + t * (gy[jb, ib] - gy[ja, ia])
        if ja == jb:  # horizontal edge: wiggle in y
            return np.column_stack([px, py + offset * dy])
        return np.column_stack([px + offset * dx, py])

    def offsets(on_boundary: bool) -> np.ndarray:
        if on_boundary:
            return np.zeros(t.size)
        wiggle = rng.uniform(-0.07, 0.07, t.size)
        return wiggle * np.sin(np.pi * t) ** 0.5  # calmer near the corners

    h_edges = {
        (j, i): edge((j, i), (j, i + 1), offsets(j in (0, ny))) for j in range(ny + 1) for i in range(nx)
    }
    v_edges = {
        (j, i): edge((j, i), (j + 1, i), offsets(i in (0, nx))) for j in range(ny) for i in range(nx + 1)
    }
    blocks, centres = [], []
    for j in range(ny):
        for i in range(nx):
            ring = np.vstack(
                [
                    [[gx[j, i], gy[j, i]]],
                    h_edges[(j, i)],
                    [[gx[j, i + 1], gy[j, i + 1]]],
                    v_edges[(j, i + 1)],
                    [[gx[j + 1, i + 1], gy[j + 1, i + 1]]],
                    h_edges[(j + 1, i)][::-1],
                    [[gx[j + 1, i], gy[j + 1, i]]],
                    v_edges[(j, i)][::-1],
                ]
            )
            blocks.append(Polygon(ring))
            centres.append(ring.mean(axis=0))
    return blocks, np.array(centres)


def _bowtie(cx: float, cy: float, half_km: float) -> Polygon:
    """A self-intersecting 'figure of eight' quadrilateral (invalid; make_valid gives 2 triangles)."""
    hx, hy = to_deg(half_km, half_km * 0.8)
    return Polygon([(cx - hx, cy - hy), (cx + hx, cy + hy), (cx + hx, cy - hy), (cx - hx, cy + hy)])


def _self_touching(cx: float, cy: float, half_km: float) -> Polygon:
    """A square whose ring runs into a notch and touches itself at one point (an inverted hole)."""
    hx, hy = to_deg(half_km, half_km)
    pts = [(-1, -1), (1, -1), (1, 1), (0, 1), (0.5, 0.1), (0, -0.5), (-0.5, 0.1), (0, 1), (-1, 1)]
    return Polygon([(cx + px * hx, cy + py * hy) for px, py in pts])


def padus_layer(
    rng: np.random.Generator, areas: dict[str, Geom], dem: np.ndarray, dem_transform: rasterio.Affine
) -> gpd.GeoDataFrame:
    blocks, centres = _land_blocks(rng)
    tenure, elev, private = _tenure(rng, blocks, centres, areas, dem, dem_transform)
    records = _tenure_records(blocks, tenure, areas)
    records += _protected_records(areas)
    records += _parcel_records(rng, centres, elev, private)
    return _padus_frame(records)


def _tenure(
    rng: np.random.Generator, blocks: list[Polygon], centres: np.ndarray, areas: dict[str, Geom], dem: np.ndarray,
    dem_transform: rasterio.Affine,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each block's manager (tenure), the elevation at its centre, and the private blocks."""
    n = len(blocks)
    # Elevation at block centres decides tenure: private valley bottoms, national forest uplands.
    cx, cy = shapely.get_coordinates(project(shapely.points(centres), UTM11)).T
    cols = np.clip(((cx - dem_transform.c) / DEM_CELL).astype(int), 0, dem.shape[1] - 1)
    rows = np.clip(((dem_transform.f - cy) / DEM_CELL).astype(int), 0, dem.shape[0] - 1)
    elev = dem[rows, cols].astype(float)

    tenure = np.full(n, "", dtype=object)
    tree = shapely.STRtree(blocks)
    wilderness_agency = {"peaks_west": "USFS", "peaks_east": "USFS", "lakes": "USFS", "breaks": "BLM"}
    for key, agency in wilderness_agency.items():
        tenure[tree.query(areas[key], predicate="intersects")] = agency  # wilderness is federal land
    free = np.flatnonzero(tenure == "")
    n_private, n_state = round(0.27 * n), round(0.10 * n)
    private = free[np.argsort(elev[free], kind="stable")[:n_private]]
    tenure[private] = "PVT"
    free = np.flatnonzero(tenure == "")
    tenure[rng.choice(free, n_state, replace=False)] = "SDOL"
    free = np.flatnonzero(tenure == "")
    west = (REGION[2] - centres[free, 0]) / (REGION[2] - REGION[0])
    score = (elev[free] - elev[free].mean()) / elev[free].std() + 1.2 * west
    tenure[free] = np.where(score >= np.median(score), "USFS", "BLM")
    return tenure, elev, private


def _padus_record(geom: Geom, name: str, mang_type: str, mang_name: str, des_tp: str, gap: str, **extra) -> dict:
    """One PAD-US record (its attributes, then its geometry in lon/lat)."""
    return {
        "FeatClass": extra.get("feat_class", "Fee"),
        "Category": extra.get("feat_class", "Fee"),
        "Own_Type": extra.get("own_type", mang_type),
        "Own_Name": extra.get("own_name", mang_name),
        "Mang_Type": mang_type,
        "Mang_Name": mang_name,
        "Des_Tp": des_tp,
        "Loc_Ds": extra.get("loc_ds", ""),
        "Unit_Nm": name,
        "State_Nm": "ID",
        "GAP_Sts": gap,
        "IUCN_Cat": extra.get("iucn", "Unassigned"),
        "Pub_Access": extra.get("access", "OA"),
        "Comments": DESCRIPTION,
        "geometry": geom,
    }


def _components(geom: Geom) -> list[Polygon]:
    parts = [p for p in shapely.get_parts(geom) if p.area > 1e-6]
    return sorted(parts, key=lambda p: (round(p.centroid.x, 6), round(p.centroid.y, 6)))


def _tenure_records(blocks: list[Polygon], tenure: np.ndarray, areas: dict[str, Geom]) -> list[dict]:
    """The national forests, BLM field offices and state endowment land (GAP 3-4) of the blocks."""
    records: list[dict] = []

    def add(*args, **extra) -> None:
        records.append(_padus_record(*args, **extra))

    carve = shapely.union_all([areas["park"], areas["refuge"]])

    def tenure_land(agency: str) -> Geom:
        return shapely.union_all([blocks[k] for k in np.flatnonzero(tenure == agency)]).difference(carve)

    # National forests (split along the forest boundary): big components are records of their
    # own; each forest's small pieces go together into one MultiPolygon record.
    block_area = (REGION[2] - REGION[0]) * (REGION[3] - REGION[1]) / len(blocks)
    usfs = tenure_land("USFS")
    for forest, side in zip(FOREST_NAMES, (shapely.intersection, shapely.difference)):
        parts = _components(side(usfs, areas["forest_west"]))
        small = [p for p in parts if p.area < 3 * block_area]
        for p in parts:
            if p.area >= 3 * block_area:
                add(p, forest, "FED", "USFS", "NF", "3", iucn="VI")
        if small:
            add(MultiPolygon(small), forest, "FED", "USFS", "NF", "3", iucn="VI")
    for p in _components(tenure_land("BLM")):
        office = BLM_OFFICE_NAMES[0] if p.centroid.y >= 44.65 else BLM_OFFICE_NAMES[1]
        add(p, office, "FED", "BLM", "PUB", "3", iucn="VI")
    # State endowment land: scattered sections grouped by zone, as PAD-US state land often is.
    zones: dict[tuple[int, int], list[Polygon]] = {}
    for p in _components(tenure_land("SDOL")):
        zone = (int(p.centroid.x > -114.5), int(p.centroid.y > 44.65))
        zones.setdefault(zone, []).append(p)
    for zone, parts in sorted(zones.items()):
        name = f"Demo {('South', 'North')[zone[1]]}{('west', 'east')[zone[0]]} Endowment Lands (synthetic)"
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        if zone == (1, 0):
            add(geom, name, "STAT", "SDOL", "SRMA", "3", access="RA")
        else:
            add(geom, name, "STAT", "SDOL", "SOTH", "4", access="RA")
    return records


def _protected_records(areas: dict[str, Geom]) -> list[dict]:
    """Protected units (GAP 1-2): the park, the refuge, and the Peaks wilderness as one record."""
    peaks = shapely.union_all([areas["peaks_west"], areas["peaks_east"]])  # one record per wilderness
    return [
        _padus_record(areas["park"], PARK_NAME, "FED", "NPS", "NP", "2", iucn="II"),
        _padus_record(areas["refuge"], REFUGE_NAME, "FED", "FWS", "NWR", "2", iucn="IV", access="RA"),
        _padus_record(peaks, WILDERNESS_NAMES[0], "FED", "USFS", "WA", "1", feat_class="Designation", iucn="Ib"),
    ]


def _parcel_records(rng: np.random.Generator, centres: np.ndarray, elev: np.ndarray, private: np.ndarray) -> list[dict]:
    """Small other-manager parcels, and the three invalid polygons (they must stay the last three
    records), all placed on private blocks."""
    spots = [centres[k] for k in private[np.argsort(-elev[private], kind="stable")][::7][:6]]
    (sx, sy) = zip(*spots)
    return [
        _padus_record(blob(rng, sx[0], sy[0], 2.0, 1.4), "Demo Reservoir (synthetic)", "FED", "BOR", "RMA", "3", iucn="VI"),
        _padus_record(blob(rng, sx[1], sy[1], 0.8, 0.7), "Demo City Park (synthetic)", "LOC", "CITY", "LP", "4"),
        _padus_record(
            blob(rng, sx[2], sy[2], 1.5, 1.2), "Demo Ranch Conservation Easement (synthetic)", "PVT", "PVT",
            "CONE", "3", feat_class="Easement", access="XA",
        ),  # fmt: skip
        _padus_record(_bowtie(sx[3], sy[3], 1.6), "Demo Wetland Preserve (synthetic)", "NGO", "NGO", "PCON", "2"),
        _padus_record(_bowtie(sx[4], sy[4], 1.8), "Demo Creek Endowment Section (synthetic)", "STAT", "SDOL", "SOTH", "4"),
        _padus_record(_self_touching(sx[5], sy[5], 1.5), BLM_OFFICE_NAMES[1], "FED", "BLM", "PUB", "3", iucn="VI"),
    ]


def _padus_frame(records: list[dict]) -> gpd.GeoDataFrame:
    """The records in CONUS Albers, repaired except the three deliberate invalid ones, with acres."""
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=WGS84).to_crs(ALBERS)
    # Reprojection can turn a near-touch left by the overlay into a tiny self-intersection;
    # repair those, so that exactly the three deliberate ones (the last records) stay invalid.
    geoms = frame.geometry.values.copy()
    geoms[:-3] = shapely.make_valid(geoms[:-3], method="structure", keep_collapsed=False)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=ALBERS, index=frame.index))
    acres = shapely.area(shapely.make_valid(frame.geometry.values)) * ACRES_PER_M2
    frame.insert(frame.columns.get_loc("Comments"), "GIS_Acres", np.round(acres, 2))
    return frame
