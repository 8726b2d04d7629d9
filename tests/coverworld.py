"""A small screening world placed anywhere (sites, a synthetic federal-land unit, a far-away
synthetic wilderness), plus the run-config snippet of a dataset recipe (docs/datasets/*.md)
added as written: the recipes of wetlands, land cover and critical habitat are run by the tests
that use them. Nothing here is real data; the real files are linked in, never copied."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import geopandas as gpd
import shapely

from edgecases import run_cli
from tinyworld import deposit_rows, padus_frame, wilderness_frame, write_csv, write_vector

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "layers" / "profiles" / "federal-safeguards.toml"


def recipe(name: str) -> str:
    """The one ```toml block of docs/datasets/<name>.md."""
    blocks = re.findall(r"^```toml\n(.*?)^```", (REPO / "docs" / "datasets" / f"{name}.md").read_text(encoding="utf-8"),
                        flags=re.S | re.M)
    assert len(blocks) == 1, f"docs/datasets/{name}.md should hold one run-config snippet"
    tomllib.loads(blocks[0])  # valid TOML as written
    return blocks[0]


def link(root: Path, src: Path, name: str | None = None) -> Path:
    """Link a real file (and a shapefile's sidecars) into ``root`` under the name a recipe uses."""
    name = name or src.name
    stem = Path(name).stem
    sidecars = sorted(src.parent.glob(src.stem + ".*")) if src.suffix == ".shp" else [src]
    for part in sidecars:
        (root / (stem + part.name[len(src.stem):])).symlink_to(part)
    return root / name


BASE_LAYERS = """[[layers]]
role = "protected"
path = "protected.geojson"
[[layers]]
role = "federal_land"
path = "federal.gpkg"
layer = "padus"
"""


def write_world(root: Path, lonlat: list[tuple[float, float]], state: str, radius_m: float,
                extra: str = "", profile: str = "federal-safeguards", base: bool = True) -> Path:
    """Sites at ``lonlat`` on a synthetic federal unit, a synthetic wilderness 50 km east (without
    them when not ``base``: for a profile of other roles); the run config with ``extra`` (a
    recipe's tables) appended. Returns the config's path."""
    root.mkdir(parents=True, exist_ok=True)
    sites = [(str(5000 + i), f"Site {i} (synthetic)", x, y) for i, (x, y) in enumerate(lonlat)]
    rows = [dict(r, state_or_province=state) for r in deposit_rows(sites)]
    write_csv(root / "deposits.csv", rows)
    xs, ys = [p[0] for p in lonlat], [p[1] for p in lonlat]
    box = shapely.box(min(xs) - 0.2, min(ys) - 0.2, max(xs) + 0.2, max(ys) + 0.2)
    far = shapely.box(max(xs) + 0.6, min(ys), max(xs) + 0.65, min(ys) + 0.05)
    padus = padus_frame([box])
    padus["State_Nm"] = state
    write_vector(padus, root / "federal.gpkg", layer="padus")
    write_vector(wilderness_frame([far]), root / "protected.geojson")
    config = root / "run.toml"
    config.write_text(f"""title = "cover world (synthetic sites)"
[sites]
path = "deposits.csv"
radius_m = {radius_m}
[run]
profile = "{profile}"
{BASE_LAYERS if base else ""}
{extra}""", encoding="utf-8")
    return config


def screen(config: Path, *flags: str) -> gpd.GeoDataFrame:
    """Screen ``config`` into ``out/`` beside it; the sites with their measurements (sites.gpkg)."""
    out = config.parent / "out"
    result = run_cli(["-q", "screen", "--config", str(config), "--out", str(out), "--no-map", "--no-report", *flags])
    assert result.exit_code == 0, result.output
    return gpd.read_file(out / "sites.gpkg", layer="sites")


def profile_with(*names: str, weights: dict[str, float] | None = None) -> str:
    """A profile of the default profile's criteria ``names`` as written there (TOML text), the
    first one (or ``weights``) carrying the weight."""
    data = tomllib.loads(PROFILE.read_text(encoding="utf-8"))
    weights = weights or {names[0]: 1.0}
    lines = ['name = "cover-test"', ""]
    for n in names:
        rule = dict(data["criteria"][n], weight=weights.get(n, 0), optional=False)
        lines.append(f"[criteria.{n}]")
        lines += [f"{k} = {_toml(v)}" for k, v in rule.items()]
        lines.append("")
    return "\n".join(lines)


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)
