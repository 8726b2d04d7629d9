"""Small files in the schemas the agencies publish, written by the tests (never copied from real
data): PAD-US 4.x layers (FileGDB through GDAL's OpenFileGDB driver, or GeoPackage) with curved
geometries, and the national WBD layers WBDHU2 … WBDHU12. Every name says "(synthetic)"."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import shapely
from pyogrio.raw import write

DRIVERS = {".gdb": "OpenFileGDB", ".gpkg": "GPKG"}

#: The PAD-US 4.0 fields the definition reads (published names and text types: GAP_Sts is '1'–'4').
PADUS_FIELDS = ("Category", "Own_Type", "Own_Name", "Mang_Type", "Mang_Name", "Des_Tp", "Unit_Nm",
                "State_Nm", "Pub_Access", "GAP_Sts", "GIS_Acres")


def ring_wkb(coords) -> bytes:
    return struct.pack("<I", len(coords)) + b"".join(struct.pack("<dd", *c) for c in coords)


def circle_wkb(cx: float, cy: float, r: float) -> bytes:
    """A CurvePolygon (ISO WKB 10) whose ring is one CircularString (8) through four points."""
    pts = [(cx - r, cy), (cx, cy + r), (cx + r, cy), (cx, cy - r), (cx - r, cy)]
    return struct.pack("<BII", 1, 10, 1) + struct.pack("<BI", 1, 8) + ring_wkb(pts)


def polygon_wkb(geom: shapely.Polygon) -> bytes:
    return shapely.to_wkb(geom, byte_order=1, flavor="iso", output_dimension=2)


def multisurface_wkb(*parts: bytes) -> bytes:
    """A MultiSurface (ISO WKB 12) of polygons and curve polygons."""
    return struct.pack("<BII", 1, 12, len(parts)) + b"".join(parts)


def padus_record(unit: str, gap: int, des: str, mang: str = "FED", name: str = "USFS", state: str = "ID") -> dict:
    return {"Category": "Fee" if des in ("NF", "SP") else "Designation", "Own_Type": mang, "Own_Name": name,
            "Mang_Type": mang, "Mang_Name": name, "Des_Tp": des, "Unit_Nm": f"{unit} (synthetic)",
            "State_Nm": state, "Pub_Access": "OA", "GAP_Sts": str(gap), "GIS_Acres": 1000.0}


def write_layer(path: Path, layer: str, wkbs: list[bytes], records: list[dict], crs: str = "EPSG:5070",
                geometry_type: str = "MultiPolygon") -> Path:
    """One layer of a FileGDB (``.gdb`` folder) or GeoPackage, geometries given as WKB (curves kept)."""
    names = list(records[0])
    fields = [np.array([r[n] for r in records], dtype=object if isinstance(records[0][n], str) else float)
              for n in names]
    import warnings
    with warnings.catch_warnings():  # GeoPackage notes a curve in a MultiPolygon layer: the fixture means it
        warnings.simplefilter("ignore", RuntimeWarning)
        write(str(path), np.array(wkbs, dtype=object), fields, names, driver=DRIVERS[path.suffix],
              geometry_type=geometry_type, crs=crs, layer=layer)
    return path


#: WBD fields as the national GDB spells them (lowercase) and as the NHDPlus HR files do.
WBD_LOWER = {"huc": "huc{n}", "name": "name", "tohuc": "tohuc", "states": "states", "hutype": "hutype"}
WBD_CAPITAL = {"huc": "HUC{n}", "name": "Name", "tohuc": "ToHUC", "states": "States", "hutype": "HUType"}


def write_wbd(path: Path, units: dict[int, list[tuple[str, str, str, shapely.Polygon]]], spelling=WBD_LOWER,
              crs: str = "EPSG:4269") -> Path:
    """Layers WBDHU<n> of ``units`` {level: [(huc, name, tohuc, polygon lon/lat)]}; tohuc only at HU-12."""
    for level, rows in units.items():
        records = []
        for huc, name, tohuc, _ in rows:
            rec = {spelling["huc"].format(n=level): huc, spelling["name"]: f"{name} (synthetic)",
                   spelling["states"]: "ID", "areasqkm": 100.0}
            if level >= 10:
                rec[spelling["hutype"]] = "S"
            if level == 12:
                rec[spelling["tohuc"]] = tohuc
            records.append(rec)
        write_layer(path, f"WBDHU{level}", [polygon_wkb(r[3]) for r in rows], records, crs=crs, geometry_type="Polygon")
    return path
