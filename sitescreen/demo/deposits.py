"""The deposit records, as the USGS/MinMod export writes them: districts and scattered deposits,
non-REE records, duplicates from a second source, and records without a location."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point, box
from shapely.ops import polylabel

from sitescreen.demo.protected import wilderness_geoms
from sitescreen.demo.region import NAME_WORDS, REGION, WGS84, Geom, largest_part, sample_in, to_deg, to_km


_USGS_SOURCES = (
    "https://mrdata.usgs.gov/mrds",
    "https://mrdata.usgs.gov/ree",
    "https://mrdata.usgs.gov/carbonatite",
)


DEPOSIT_COLUMNS = (
    "ms_uri",
    "source_id",
    "record_id",
    "country",
    "state_or_province",
    "location",
    "crs",
    "other_names",
    "site_name",
    "commodity",
    "deposit_type",
)


_REE = (
    "Cerium",
    "Lanthanum",
    "Neodymium",
    "Praseodymium",
    "Samarium",
    "Europium",
    "Gadolinium",
    "Terbium",
    "Dysprosium",
    "Holmium",
    "Erbium",
    "Thulium",
    "Ytterbium",
    "Lutetium",
    "Yttrium",
)


_REE_ACCESSORY = ("Thorium", "Uranium", "Titanium", "Zirconium", "Niobium", "Tantalum", "Gold", "Quartz")


_NON_REE = (
    ("Gold,Silver", "Polymetallic veins"),
    ("Copper,Molybdenum", "Porphyry Cu-Mo"),
    ("Lead,Zinc,Silver", "Polymetallic replacement"),
    ("Cobalt,Copper,Gold", "Sediment-hosted Co-Cu"),
    ("Tungsten", "W skarn"),
    ("Antimony,Gold", "Simple Sb deposits"),
    ("Gold", "Fluvial placer gold"),
    ("Silver,Lead", "Polymetallic veins"),
)


_NAME_KINDS = (
    "Ridge", "Creek", "Gulch", "Placer", "Lode", "Prospect", "Claims", "Hill", "Bar", "Basin",
    "Mountain", "Dike",
)  # fmt: skip


_DUPLICATE_SUFFIXES = ("Prospect", "Mine", "Occurrence", "Deposit", "Claims")


class _Placer:
    """Keeps distinct deposits at least `min_km` apart (so duplicates are unambiguous)."""

    def __init__(self, min_km: float) -> None:
        self.min_km = min_km
        self.km = np.empty((0, 2))
        self.inner = box(REGION[0] + 0.005, REGION[1] + 0.005, REGION[2] - 0.005, REGION[3] - 0.005)

    def add(self, lon: float, lat: float) -> bool:
        """Register (lon, lat) as a deposit if it is inside the region and far enough from the rest."""
        if not shapely.contains_xy(self.inner, lon, lat):
            return False
        if len(self.km) and np.min(np.hypot(*(self.km - to_km(lon, lat)).T)) < self.min_km:
            return False
        self.km = np.vstack([self.km, to_km(lon, lat)])
        return True


_PLACER_TYPES = ("Fluvial placer REE", "Fluvial placer niobium-tantalum", "Fluvial placer garnet")


_VEIN_TYPES = ("Unconformity- related REE", "Skarn uranium- REE", "Vein five-element")


_PEGMATITE_TYPES = ("Abyssal pegmatite REE", "NYF pegmatite", "Peralkaline igneous HFSE- REE")


_CARBONATITE_TYPES = ("Carbonatite REE", "Carbonatite niobium", "Apatite intrusion REE")


_ALL_TYPES = _PLACER_TYPES + _VEIN_TYPES + _PEGMATITE_TYPES + _CARBONATITE_TYPES + ("Ion adsorption REE",)


_N_DISTINCT = 230  # distinct REE deposits (before duplicates, non-REE and unlocated records)


def deposit_rows(
    rng: np.random.Generator, areas: dict[str, Geom], padus: gpd.GeoDataFrame, gap: Geom
) -> list[dict[str, str]]:
    placer = _Placer(min_km=0.6)
    region, state, private, federal = _land_classes(areas, padus)
    groups = _deposit_groups(rng, placer, areas, gap, state, private, federal)
    n_scattered = _N_DISTINCT - sum(len(pts) for pts, _ in groups)
    groups.append((sample_in(rng, region, n_scattered, placer.add), _ALL_TYPES))
    non_ree = sample_in(rng, region, 30, placer.add)
    records = _Records(rng)
    misspelled = set(rng.choice(_N_DISTINCT, 9, replace=False).tolist())
    rows: list[dict[str, str]] = []
    distinct: list[tuple[dict[str, str], tuple[float, float]]] = []
    for pts, types in groups:
        for pt in pts:
            commodity = _ree_commodity(rng, misspell=len(distinct) in misspelled)
            dtype = ",".join(sorted(rng.choice(types, int(rng.integers(1, 3)), replace=False)))
            row = records.record(records.source(), pt, records.new_name(), commodity, dtype)
            distinct.append((row, pt))
            rows.append(row)
    for pt in non_ree:
        commodity, dtype = _NON_REE[int(rng.integers(len(_NON_REE)))]
        rows.append(records.record(_USGS_SOURCES[0], pt, records.new_name(), commodity, dtype))
    rows += _duplicate_rows(rng, records, distinct)
    rows += _unlocated_rows(rng, records)
    return [rows[i] for i in rng.permutation(len(rows))]


def _land_classes(areas: dict[str, Geom], padus: gpd.GeoDataFrame) -> tuple[Geom, Geom, Geom, Geom]:
    """The region, and its state, private and (unprotected) federal land, in lon/lat."""
    region = box(*REGION)
    land = padus.to_crs(WGS84)
    land_geoms = shapely.make_valid(land.geometry.values)
    wilderness = shapely.union_all(wilderness_geoms(areas))
    protected = shapely.union_all([wilderness, areas["park"], areas["refuge"]])
    state = shapely.union_all(land_geoms[(land["Mang_Type"] == "STAT").to_numpy()]).difference(protected)
    private = region.difference(shapely.union_all(land_geoms)).difference(protected)
    federal = shapely.union_all(
        land_geoms[land["Mang_Name"].isin(["BLM", "USFS"]).to_numpy() & (land["Des_Tp"] != "WA").to_numpy()]
    ).difference(protected)
    return region, state, private, federal


def _cluster(rng: np.random.Generator, placer: _Placer, centre: Point, n: int, sigma_km: float) -> list[tuple[float, float]]:
    """``n`` deposits of a district, normally spread around ``centre``."""
    out: list[tuple[float, float]] = []
    while len(out) < n:
        dx, dy = to_deg(*rng.normal(0.0, sigma_km, 2))
        lon, lat = centre.x + float(dx), centre.y + float(dy)
        if placer.add(lon, lat):
            out.append((lon, lat))
    return out


def _edge_point(geom: Geom, side: str) -> Point:
    xy = shapely.get_coordinates(geom)
    k = {"east": np.argmax(xy[:, 0]), "west": np.argmin(xy[:, 0]), "south": np.argmin(xy[:, 1])}[side]
    return Point(xy[k])


def _deposit_groups(
    rng: np.random.Generator, placer: _Placer, areas: dict[str, Geom], gap: Geom, state: Geom, private: Geom,
    federal: Geom,
) -> list[tuple[list[tuple[float, float]], tuple[str, ...]]]:
    """The districts and the anchors (a few deposits in every land class), with their deposit types."""
    def cluster(centre: Point, n: int, sigma_km: float) -> list[tuple[float, float]]:
        return _cluster(rng, placer, centre, n, sigma_km)

    return [
        # districts: straddling the park edge, the Peaks and Breaks wilderness edges, in the
        # watershed gap, and one on mixed land in the south-centre
        (cluster(_edge_point(areas["park"], "east"), 36, 3.5), _VEIN_TYPES),
        (cluster(_edge_point(areas["peaks_east"], "south"), 34, 4.0), _PEGMATITE_TYPES),
        (cluster(polylabel(largest_part(gap), 0.001), 26, 4.0), _CARBONATITE_TYPES),
        (cluster(Point(-114.9 + rng.uniform(-0.05, 0.05), 44.5 + rng.uniform(-0.03, 0.03)), 30, 5.0),
         _PLACER_TYPES),
        (cluster(_edge_point(areas["breaks"], "west"), 28, 3.5), _VEIN_TYPES),
        # anchors: at least a few deposits in every land class
        (sample_in(rng, areas["refuge"], 4, placer.add), _PLACER_TYPES),
        (sample_in(rng, state, 6, placer.add), _ALL_TYPES),
        (sample_in(rng, private, 6, placer.add), _PLACER_TYPES),
        (sample_in(rng, federal, 6, placer.add), _ALL_TYPES),
        (sample_in(rng, areas["lakes"], 3, placer.add), _PEGMATITE_TYPES),
        (sample_in(rng, areas["park"], 3, placer.add), _VEIN_TYPES),
        (sample_in(rng, gap, 3, placer.add), _CARBONATITE_TYPES),
    ]


class _Records:
    """Deposit records as the USGS sources write them: record ids drawn per source, unique names."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.ids = {
            _USGS_SOURCES[0]: iter(rng.permutation(np.arange(10_400_000, 10_500_000))),
            _USGS_SOURCES[1]: iter(rng.permutation(np.arange(2_000, 3_000))),
            _USGS_SOURCES[2]: iter(rng.permutation(np.arange(700, 900))),
        }

    def record(
        self, source: str, lon_lat: tuple[float, float] | None, name: str, commodity: str, dtype: str, other: str = ""
    ) -> dict[str, str]:
        rid = str(next(self.ids[source]))
        slug = source.removeprefix("https://").replace(".", "-").replace("/", "-")
        return {
            "ms_uri": f"https://minmod.isi.edu/resource/site__{slug}__{rid}",
            "source_id": source,
            "record_id": rid,
            "country": "United States",
            "state_or_province": "Idaho",
            "location": "" if lon_lat is None else _wkt_point(self.rng, source, *lon_lat),
            "crs": "EPSG:4326",
            "other_names": other,
            "site_name": name,
            "commodity": commodity,
            "deposit_type": dtype,
        }

    def new_name(self) -> str:
        rng = self.rng
        while True:
            word, kind, number = rng.choice(NAME_WORDS), rng.choice(_NAME_KINDS), rng.integers(1, 40)
            name = f"Demo {word} {kind} {number} (synthetic)"
            if name not in self.names:
                self.names.add(name)
                return name

    def source(self) -> str:
        return _USGS_SOURCES[int(self.rng.choice(3, p=[0.6, 0.3, 0.1]))]


def _duplicate_rows(
    rng: np.random.Generator, records: _Records, distinct: list[tuple[dict[str, str], tuple[float, float]]]
) -> list[dict[str, str]]:
    """The same deposit reported again by another USGS database, 25-280 m away."""
    rows: list[dict[str, str]] = []
    for k in rng.choice(len(distinct), 25, replace=False):
        orig, (lon, lat) = distinct[int(k)]
        other_sources = [s for s in _USGS_SOURCES if s != orig["source_id"]]
        dist_km, theta = rng.uniform(0.025, 0.28), rng.uniform(0, 2 * np.pi)
        dlon, dlat = to_deg(dist_km * math.cos(theta), dist_km * math.sin(theta))
        items = orig["commodity"].split(",")
        commodity = ",".join(rng.permutation(items))
        rows.append(
            records.record(
                other_sources[int(rng.integers(2))], (lon + float(dlon), lat + float(dlat)),
                _name_variant(rng, orig["site_name"]), commodity, orig["deposit_type"],
                other=orig["site_name"],
            )
        )  # fmt: skip
    return rows


def _unlocated_rows(rng: np.random.Generator, records: _Records) -> list[dict[str, str]]:
    """Records without coordinates (as in the real file); half of them also lack the CRS."""
    rows: list[dict[str, str]] = []
    for j in range(6):
        row = records.record(records.source(), None, records.new_name(), _ree_commodity(rng, misspell=False),
                             str(rng.choice(_ALL_TYPES)))
        row["crs"] = "" if j % 2 else "EPSG:4326"
        rows.append(row)
    return rows


def _ree_commodity(rng: np.random.Generator, misspell: bool) -> str:
    core = ["Cerium", "Lanthanum"] if rng.random() < 0.8 else [str(rng.choice(["Cerium", "Lanthanum"]))]
    rest = [e for e in _REE if e not in core]
    items = core + list(rng.choice(rest, int(rng.integers(2, len(rest) + 1)), replace=False))
    if misspell:
        items = [e for e in items if e != "Neodymium"] + ["Neoymium"]
    items += list(rng.choice(_REE_ACCESSORY, int(rng.integers(0, 3)), replace=False))
    return ",".join(str(e) for e in rng.permutation(items))


def _name_variant(rng: np.random.Generator, name: str) -> str:
    base = name.removesuffix(" (synthetic)")
    options = [f"{base} {s}" for s in _DUPLICATE_SUFFIXES]
    options.append(re.sub(r" (\d+)$", r" No. \1", base))
    if " Creek " in base:
        options.append(base.replace(" Creek ", " Cr. "))
    if " Mountain " in base:
        options.append(base.replace(" Mountain ", " Mtn. "))
    return f"{options[int(rng.integers(len(options)))]} (synthetic)"


def _wkt_point(rng: np.random.Generator, source: str, lon: float, lat: float) -> str:
    digits = {_USGS_SOURCES[0]: 5, _USGS_SOURCES[1]: 6, _USGS_SOURCES[2]: 7}[source]

    def fmt(v: float) -> str:
        return f"{v:.{digits}f}".rstrip("0").rstrip(".")

    sep = "" if rng.random() < 0.15 else " "
    return f"POINT{sep}({fmt(lon)} {fmt(lat)})"
