"""A run's inputs in one object (:class:`RunConfig`), from a TOML file or from CLI arguments.

Run config format (paths relative to the file)::

    title = "..."
    [sites]
    path = "deposits.csv"      # points (buffered), or polygons (claims, lease areas)
    radius_m = 1000
    commodity = "rare-earths"  # or "any", or a list of words
    # grid_cell_m = 2000       # instead of path: a grid over [run].aoi
    [run]
    profile = "federal-safeguards"   # a built-in name or a .toml path
    crs = "EPSG:5070"                # optional; chosen from the sites' location otherwise
    aoi = [-115.0, 44.0, -114.0, 45.0]   # optional; or a polygon file
    [[layers]]
    role = "protected"
    path = "wilderness.shp"
    # layer = "..." (GeoPackage layer), crs = "EPSG:…" (override), schema = "wbd",
    # definition = { fields = { name = "NAME" }, coverage = "global" }, where = { agency = ["BLM"] },
    # coverage = "area.gpkg" (the polygon the layer covers; or "global" / "features")

``[sites]`` may also name the file's own ``id_field`` and ``name_field`` (as ``--id-field`` / ``--name-field``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from sitescreen.errors import ConfigError, LayerConfigError
from sitescreen.inputs.tomlfile import check_keys, read_toml
from sitescreen.inputs.spec import LayerSpec, layer_from_config
from sitescreen.inputs.numbers import check_number
from sitescreen.sites.aoi import parse_aoi
from sitescreen.sites.options import COMMODITIES, SiteOptions

DEFAULT_PROFILE = "federal-safeguards"


@dataclass(frozen=True)
class RunConfig:
    sites: LayerSpec | None
    layers: tuple[LayerSpec, ...]
    site_options: SiteOptions = field(default_factory=SiteOptions)
    profile: str = DEFAULT_PROFILE
    crs: str | None = None
    title: str = "sitescreen screening"
    config_path: str | None = None
    overrides: tuple[str, ...] = ()   # flags given beside --config, e.g. "--radius 500"

    def all_paths(self) -> list[Path]:
        return ([self.sites.path] if self.sites else []) + [lyr.path for lyr in self.layers]


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    data, _ = read_toml(path, "config", ConfigError)
    return config_from_dict(data, path.parent.resolve(), str(path))


def config_from_dict(data: Mapping[str, Any], base: Path, where: str) -> RunConfig:
    check_keys(data, ("title", "sites", "run", "layers"), where, ConfigError)
    run = _table(data.get("run", {}), where, "[run]")
    check_keys(run, ("profile", "crs", "aoi"), f"{where}: [run]", ConfigError)
    s = _table(data.get("sites", {}), where, "[sites]")
    site_keys = {"path", "layer", "crs", "schema", "definition", "where", "radius_m", "commodity", "merge_distance_m",
                 "grid_cell_m", "skip_invalid", "id_field", "name_field"}
    check_keys(s, sorted(site_keys), f"{where}: [sites]", ConfigError)
    for key in ("profile", "crs"):
        if key in run and not isinstance(run[key], str):
            raise ConfigError(f"{where}: [run].{key} must be a string, got {run[key]!r}")
    aoi = run.get("aoi")
    if isinstance(aoi, str) and "," not in aoi:
        aoi = str(base / aoi)
    sites = None
    if "path" in s:
        if "grid_cell_m" in s:
            raise ConfigError(f"{where}: [sites] has both path (a sites file) and grid_cell_m (a grid over [run].aoi); keep one")
        sites = layer_from_config({"role": "sites", **{k: s[k] for k in ("path", "layer", "crs", "schema", "definition", "where") if k in s}},
                                  base, f"{where}: [sites]")
    elif "grid_cell_m" not in s:
        raise ConfigError(f"{where}: [sites] needs path = \"...\" (a sites file) or grid_cell_m (a grid over [run].aoi)")
    skip = s.get("skip_invalid", False)
    if not isinstance(skip, bool):
        raise ConfigError(f"{where}: [sites].skip_invalid must be true or false, got {skip!r}")
    opts = site_options(radius_m=s.get("radius_m"), commodity=s.get("commodity"), merge_distance_m=s.get("merge_distance_m"),
                        grid_cell_m=s.get("grid_cell_m"), aoi=aoi, skip_invalid=skip, where=f"{where}: [sites]",
                        id_field=s.get("id_field"), name_field=s.get("name_field"),
                        aoi_where=f"{where}: [run].aoi")
    layers_data = data.get("layers", [])
    if not isinstance(layers_data, list):
        raise LayerConfigError(f"{where}: layers must be an array of tables ([[layers]])")
    layers = tuple(layer_from_config(d, base, f"{where}: layers[{i}]") for i, d in enumerate(layers_data))
    profile = run.get("profile", DEFAULT_PROFILE)
    if profile.endswith(".toml") and not Path(profile).is_absolute():
        profile = str(base / profile)
    return RunConfig(sites=sites, layers=layers, site_options=opts, profile=profile, crs=run.get("crs"),
                     title=str(data.get("title", "sitescreen screening")), config_path=where)


def _table(value: Any, where: str, name: str) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {name} must be a table, got {value!r}")
    return dict(value)


def site_options(*, radius_m=None, commodity=None, merge_distance_m=None, grid_cell_m=None, aoi=None,
                 skip_invalid=False, id_field=None, name_field=None, where: str = "options",
                 aoi_where: str = "--aoi") -> SiteOptions:
    """Checked site options: every number in its range (:mod:`sitescreen.inputs.numbers`), ``where`` names the source."""
    kw: dict[str, Any] = {"aoi": parse_aoi(aoi, aoi_where), "skip_invalid": skip_invalid,
                          "id_field": _field_name("id_field", id_field, where),
                          "name_field": _field_name("name_field", name_field, where)}
    for name, value in (("radius_m", radius_m), ("merge_distance_m", merge_distance_m), ("grid_cell_m", grid_cell_m)):
        if value is not None:
            kw[name] = check_number(name, value, where=where)
    if commodity is not None:
        kw["commodity"] = _commodity(commodity, where)
    opts = SiteOptions(**kw)
    opts.commodity_terms()  # validates
    if opts.grid_cell_m is not None and opts.aoi is None:
        raise ConfigError(f"{where}: a grid of sites needs an area of interest (--aoi / [run].aoi)")
    return opts


def _field_name(key: str, value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ConfigError(f"{where}: {key} must be the name of a field of the sites file, got {value!r}")


def _commodity(value: Any, where: str) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: commodity must be a name ({', '.join(COMMODITIES)}) or a list of words, got {value!r}")


@dataclass(frozen=True)
class Overrides:
    """Flags given beside ``--config``: each one replaces the config's value, and the run records it
    (``RunConfig.overrides``, the manifest's ``run.overrides``), so ``verify`` repeats the run as it was."""

    profile: str | None = None
    crs: str | None = None
    aoi: Any = None                       # a parsed box or a path
    radius_m: float | None = None
    commodity: str | None = None
    sites_where: Mapping[str, tuple] = field(default_factory=dict)  # per field: replaces the config's filter
    grid_cell_m: float | None = None
    skip_invalid: bool = False
    id_field: str | None = None
    name_field: str | None = None
    merge_distance_m: float | None = None

    def given(self) -> dict[str, Any]:
        """The flags given, by field name."""
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, {})}


#: The flag of each override, as the manifest records it.
OVERRIDE_FLAGS = {"profile": "--profile", "crs": "--crs", "aoi": "--aoi", "radius_m": "--radius",
                  "commodity": "--commodity", "sites_where": "--sites-where", "grid_cell_m": "--grid",
                  "skip_invalid": "--skip-invalid", "id_field": "--id-field", "name_field": "--name-field",
                  "merge_distance_m": "--merge-distance"}
#: Flags that only mean something for a sites file (refused with a grid of sites).
SITE_FILE_FLAGS = ("radius_m", "commodity", "sites_where", "skip_invalid", "id_field", "name_field", "merge_distance_m")


def apply_overrides(config: RunConfig, over: Overrides) -> RunConfig:
    """``config`` with every given flag in place of the config's value; a flag the config cannot
    take (``--grid`` beside a sites file, a sites-file flag beside a grid) is refused, never dropped."""
    given = over.given()
    if not given:
        return config
    where = config.config_path or "run config"
    if "grid_cell_m" in given and config.sites is not None:
        raise ConfigError(f"--grid: {where} screens the sites file {config.sites.path}; a grid replaces a sites "
                               f"file: drop --grid, or use a run config with [sites] grid_cell_m and no path")
    misplaced = [OVERRIDE_FLAGS[k] for k in SITE_FILE_FLAGS if k in given and config.sites is None]
    if misplaced:
        raise ConfigError(f"{', '.join(misplaced)}: {where} screens a grid of cells (no sites file); "
                               f"these flags apply to a sites file only: drop them")
    opts = config.site_options
    changes = {k: given[k] for k in ("radius_m", "commodity", "grid_cell_m", "skip_invalid", "aoi", "id_field", "name_field",
                                     "merge_distance_m")
               if k in given}
    new_opts = site_options(**{**{"radius_m": opts.radius_m, "commodity": opts.commodity, "merge_distance_m": opts.merge_distance_m,
                                  "grid_cell_m": opts.grid_cell_m, "aoi": opts.aoi, "skip_invalid": opts.skip_invalid,
                                  "id_field": opts.id_field, "name_field": opts.name_field},
                               **changes}, where="command line")
    new_opts = replace(new_opts, merge_name_similarity=opts.merge_name_similarity, merge_always_m=opts.merge_always_m)
    sites = config.sites
    if "sites_where" in given:
        sites = replace(sites, where={**sites.where, **{k: tuple(v) for k, v in given["sites_where"].items()}})
    recorded = tuple(f"{OVERRIDE_FLAGS[k]} {_flag_text(v)}".strip() for k, v in given.items())
    return replace(config, sites=sites, site_options=new_opts, profile=given.get("profile", config.profile),
                   crs=given.get("crs", config.crs), overrides=config.overrides + recorded)


def _flag_text(value: Any) -> str:
    if value is True:
        return ""
    if isinstance(value, Mapping):
        return " ".join(f"{k}={v}" for k, vals in value.items() for v in vals)
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------------------------
# A run config as plain data (the manifest's ``run`` section), and back: what `sitescreen verify`
# and `sitescreen batch` use to re-run a screening exactly as it was run.


def config_to_dict(config: RunConfig) -> dict:
    """The RunConfig as JSON-able data; paths absolute, so the run can be repeated from anywhere."""
    opts = config.site_options
    aoi = opts.aoi
    if isinstance(aoi, Path):
        aoi = str(aoi.resolve())
    elif aoi is not None:
        aoi = [float(v) for v in aoi]
    from sitescreen.rules.profile import builtin_profiles
    profile = str(config.profile)
    if profile not in builtin_profiles():
        profile = str(Path(profile).resolve())
    return {
        "title": config.title,
        "config": config.config_path,
        "sites": _spec_to_dict(config.sites) if config.sites is not None else None,
        "site_options": {
            "radius_m": opts.radius_m,
            "commodity": opts.commodity if isinstance(opts.commodity, str) else list(opts.commodity),
            "merge_distance_m": opts.merge_distance_m, "merge_name_similarity": opts.merge_name_similarity,
            "merge_always_m": opts.merge_always_m, "grid_cell_m": opts.grid_cell_m, "aoi": aoi,
            "skip_invalid": opts.skip_invalid, "id_field": opts.id_field, "name_field": opts.name_field,
        },
        "layers": [_spec_to_dict(s) for s in config.layers],
        "profile": profile,
        "crs": config.crs,
        "overrides": list(config.overrides),
    }


def config_from_run(run: Mapping[str, Any], where: str = "manifest.json: run") -> RunConfig:
    """The RunConfig that :func:`config_to_dict` wrote."""
    if not isinstance(run, Mapping) or "layers" not in run or "site_options" not in run:
        raise LayerConfigError(f"{where}: not a recorded run (needs sites, site_options, layers, profile)")
    o = dict(run["site_options"])
    aoi = o.get("aoi")
    aoi = parse_aoi(aoi, f"{where}.site_options.aoi") if isinstance(aoi, list) else (Path(aoi) if aoi else None)
    commodity = o.get("commodity", "rare-earths")
    w = f"{where}.site_options"
    opts = SiteOptions(radius_m=check_number("radius_m", o.get("radius_m"), where=w),
                       commodity=_commodity(commodity, w),
                       merge_distance_m=check_number("merge_distance_m", o.get("merge_distance_m"), where=w),
                       merge_name_similarity=check_number("merge_name_similarity", o.get("merge_name_similarity"), where=w),
                       merge_always_m=check_number("merge_always_m", o.get("merge_always_m"), where=w),
                       grid_cell_m=None if o.get("grid_cell_m") is None else check_number("grid_cell_m", o["grid_cell_m"], where=w),
                       aoi=aoi, skip_invalid=bool(o.get("skip_invalid", False)),
                       id_field=o.get("id_field"), name_field=o.get("name_field"))
    sites = _spec_from_dict(run["sites"], f"{where}.sites") if run.get("sites") else None
    layers = tuple(_spec_from_dict(d, f"{where}.layers[{i}]") for i, d in enumerate(run["layers"]))
    return RunConfig(sites=sites, layers=layers, site_options=opts, profile=run.get("profile", DEFAULT_PROFILE),
                     crs=run.get("crs"), title=str(run.get("title", "sitescreen screening")),
                     config_path=run.get("config"), overrides=tuple(run.get("overrides") or ()))


def config_from_manifest(manifest) -> RunConfig:
    """The RunConfig of a finished run, from its record's ``run`` section
    (a :class:`sitescreen.record.manifest.RunRecord`)."""
    if manifest.run is None:
        raise LayerConfigError("manifest.json has no 'run' section (written by an older sitescreen); "
                               "run the screening again to record it")
    return config_from_run(manifest.run)


def _spec_to_dict(spec: LayerSpec) -> dict:
    return {"role": spec.role, "path": str(Path(spec.path).resolve()), "layer": list(spec.layers) or spec.layer, "name": spec.name,
            "schema": spec.schema, "definition": schema_to_dict(spec.definition) if spec.definition else None,
            "crs": spec.crs, "where": {k: list(v) for k, v in spec.where.items()}, "band": spec.band,
            "skip_invalid": spec.skip_invalid, "coverage": _coverage_to_dict(spec.coverage)}


def _coverage_to_dict(coverage: str | None) -> str | None:
    from sitescreen.inputs.spec import SPEC_COVERAGES
    return coverage if coverage in (None, *SPEC_COVERAGES) else str(Path(coverage).resolve())


def _spec_from_dict(d: Mapping[str, Any], where: str) -> LayerSpec:
    from sitescreen.inputs.schemas import schema_from_dict
    definition = schema_from_dict(d["definition"], f"{where}.definition") if d.get("definition") else None
    layer = d.get("layer")
    return LayerSpec(role=d["role"], path=Path(d["path"]), layer=None if isinstance(layer, list) else layer,
                     layers=tuple(layer) if isinstance(layer, list) else (), name=d.get("name"),
                     schema=d.get("schema"), definition=definition, crs=d.get("crs"),
                     where={k: tuple(v) for k, v in dict(d.get("where") or {}).items()},
                     band=None if d.get("band") is None else int(d["band"]), skip_invalid=bool(d.get("skip_invalid", False)),
                     coverage=d.get("coverage"))


def schema_to_dict(schema) -> dict:
    """A layer definition as the table :func:`sitescreen.inputs.schemas.schema_from_dict` reads."""
    values = {}
    for canon, r in schema.values.items():
        rule = {"from": r.source, "table": dict(r.table) or None, "default": r.default, "value": r.value}
        values[canon] = {k: v for k, v in rule.items() if v is not None}
    geometry = {k: v for k, v in (("wkt", schema.wkt), ("lon", schema.lon), ("lat", schema.lat)) if v}
    out = {"name": schema.name, "title": schema.title, "source": schema.source,
           "match": [list(m) for m in schema.match], "fields": {k: list(v) for k, v in schema.fields.items()},
           "values": values, "types": dict(schema.types), "coverage": schema.coverage}
    if schema.label:
        out["label"] = schema.label
    if schema.state_field:
        out["state_field"] = list(schema.state_field)
    if schema.crs:
        out["crs"] = schema.crs
    if geometry:
        out["geometry"] = geometry
    for key in ("layers", "roles", "optional"):  # only when said: a record without them reads as before
        if getattr(schema, key):
            out[key] = [list(v) if isinstance(v, tuple) else v for v in getattr(schema, key)]
    return out
