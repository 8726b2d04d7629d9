"""Layer definitions: how a known dataset's fields map onto sitescreen's canonical fields.

A definition is data (``layers/*.toml``, shipped with the package, or a table in a run config).
It names the fields that identify the dataset (``match``), maps source fields to canonical ones
(``fields``), recodes values (``values``), and says where the layer has data (``coverage``, one of
:data:`COVERAGES`; never a bounding box):

* ``global`` — the file covers every place a site can be (a national dataset);
* ``features`` — the layer tiles the land: where it has no polygon it has no data (WBD);
* ``states`` — a state extract: it covers the states named in its ``state_field`` (PAD-US);
* ``declared`` — only the user knows: a run config's ``coverage = "area.gpkg"`` gives the polygon,
  and without one no site is known to be covered (*no data*). Definitions that do not say are this.

Canonical fields (the names profiles select on): ``name``, ``agency``, ``manager_type``,
``gap_status``, ``designation``, ``huc``, ``unit_code``, ``record_id``, ``commodity``, plus any
field a definition maps.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Mapping

import numpy as np
import pandas as pd

from sitescreen.errors import LayerConfigError, LayerDataError
from sitescreen.inputs.text import clean_text, distinct
from sitescreen.inputs.tomlfile import check_keys

COVERAGES = ("global", "features", "states", "declared")
TYPES = {"int": "Int64", "float": "float64", "str": "string"}


@dataclass(frozen=True)
class ValueRule:
    """How one canonical field gets its value: recoded from a source field, or a constant."""

    source: str | None = None
    table: Mapping[str, Any] = field(default_factory=dict)
    default: Any = None
    value: Any = None
    when: tuple["NameRule", ...] = ()  # applied after the table, first match wins


@dataclass(frozen=True)
class NameRule:
    """A value a source field's text decides, where a code alone does not: for rows whose source
    code is one of ``codes`` (any code when empty), ``value`` where ``field`` matches ``pattern``
    (a regular expression, searched from the start, case-insensitive)."""

    field: str
    pattern: str
    value: Any
    codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    name: str
    title: str = ""
    label: str = ""   # what a map or report calls a layer of this definition ("Wilderness areas")
    source: str = ""
    match: tuple[tuple[str, ...], ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, ValueRule] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    coverage: str = "declared"
    state_field: tuple[str, ...] = ()  # for "states" coverage: the field naming each feature's state
    crs: str | None = None
    wkt: str | None = None
    lon: str | None = None
    lat: str | None = None
    #: Layer names it reads in a many-layer file (FileGDB, GeoPackage): alternatives in order of
    #: preference, each a tuple of patterns (regular expressions, whole name, any case); the first
    #: alternative naming a layer of the file is read, every layer it names together as one.
    layers: tuple[tuple[str, ...], ...] = ()
    roles: tuple[str, ...] = ()  # the roles its layers usually serve (preferred for them by choose_layer)
    optional: tuple[str, ...] = ()  # canonical fields mapped when the file has them (else no value)

    def named_layers(self, names: list[str]) -> list[str]:
        """The layers of ``names`` this definition reads: those of its first alternative naming any."""
        for alt in self.layers:
            hit = [n for n in names if any(re.fullmatch(p, n, re.IGNORECASE) for p in alt)]
            if hit:
                return hit
        return []

    def provenance(self) -> dict[str, str | None]:
        """What a file read with this definition is and who publishes it (the run record's
        ``product``/``publisher``); none for a generic layer, whose definition knows neither."""
        if self.name == "generic":
            return {"product": None, "publisher": None}
        return {"product": self.title or None, "publisher": self.source or None}

    def matches(self, columns: list[str]) -> bool:
        lower = {c.lower() for c in columns}
        return all(any(a.lower() in lower for a in alts) for alts in self.match)

    def source_columns(self, columns: list[str]) -> list[str]:
        """The file's columns this definition reads (actual spelling)."""
        by_lower = {c.lower(): c for c in columns}
        wanted = [a for alts in self.fields.values() for a in alts]
        wanted += [r.source for r in self.values.values() if r.source]
        wanted += [w.field for r in self.values.values() for w in r.when]
        return sorted({by_lower[w.lower()] for w in wanted if w.lower() in by_lower})

    def canonical(self, df: pd.DataFrame, where: str) -> pd.DataFrame:
        """Canonical attribute columns of ``df`` (same index); ``where`` names the file in errors."""
        by_lower = {c.lower(): c for c in df.columns}
        out = pd.DataFrame(index=df.index)
        for canon, alts in self.fields.items():
            col = next((by_lower[a.lower()] for a in alts if a.lower() in by_lower), None)
            if col is None and canon in self.optional:
                out[canon] = pd.Series(pd.NA, index=df.index, dtype="string")
                continue
            if col is None:
                raise LayerConfigError(
                    f"{where}: field {' or '.join(repr(a) for a in alts)} (mapped to {canon!r}) "
                    f"not found; fields present: {', '.join(map(str, df.columns)) or 'none'}"
                )
            out[canon] = _huc_codes(df[col], col, where) if canon == "huc" else clean_text(df[col])
        for canon, rule in self.values.items():
            if rule.value is not None:
                out[canon] = rule.value
                continue
            col = by_lower.get((rule.source or "").lower())
            if col is None:
                raise LayerConfigError(
                    f"{where}: field {rule.source!r} (recoded to {canon!r}) not found; "
                    f"fields present: {', '.join(map(str, df.columns))}"
                )
            src = clean_text(_codes(df[col]).astype("string"))
            out[canon] = _apply_when(_recoded(src, rule), src, rule, df, by_lower, canon, where)
        for canon, kind in self.types.items():
            if canon in out:
                out[canon] = _convert(out[canon], kind, canon, where)
        return out


def _recoded(src: pd.Series, rule: ValueRule) -> pd.Series:
    """``src``'s codes through ``rule.table`` (a code not in it: ``rule.default``, or itself when
    there is none; missing: the default), looked up once per distinct code."""
    codes, uniques = distinct(src)
    words = np.empty(len(uniques) + 1, dtype=object)  # the last one: missing codes (-1)
    words[:-1] = [rule.table.get(v, rule.default) if rule.default is not None else rule.table.get(v, v)
                  for v in uniques.tolist()]
    words[-1] = rule.default
    return pd.Series(words[codes], index=src.index, dtype=object)


def _apply_when(mapped: pd.Series, src: pd.Series, rule: ValueRule, df: pd.DataFrame,
                by_lower: dict, canon: str, where: str) -> pd.Series:
    """``mapped`` with ``rule.when`` applied: the first name rule matching a row sets its value."""
    done = pd.Series(False, index=mapped.index)
    for w in rule.when:
        col = by_lower.get(w.field.lower())
        if col is None:
            raise LayerConfigError(f"{where}: field {w.field!r} (deciding {canon!r}) not found; "
                                   f"fields present: {', '.join(map(str, df.columns))}")
        hit = df[col].astype("string").str.match(w.pattern, case=False).fillna(False).to_numpy(dtype=bool)
        if w.codes:
            hit &= src.isin(list(w.codes)).fillna(False).to_numpy(dtype=bool)
        hit &= ~done.to_numpy()
        mapped = mapped.where(~hit, w.value)
        done |= hit
    return mapped


def _when_rules(raw: Any, where: str) -> tuple[NameRule, ...]:
    """The ``when`` list of a values table: [{field, pattern, value, codes}]."""
    if not isinstance(raw, list) or not all(isinstance(r, Mapping) for r in raw):
        raise LayerConfigError(f"{where}.when must be a list of tables {{field, pattern, value, codes}}")
    out = []
    for i, r in enumerate(raw):
        extra = set(r) - {"field", "pattern", "value", "codes"}
        if extra or not all(k in r for k in ("field", "pattern", "value")):
            raise LayerConfigError(f"{where}.when[{i}] needs field, pattern and value (and optionally codes); "
                                   f"got keys {', '.join(sorted(r))}")
        try:
            re.compile(str(r["pattern"]))
        except re.error as exc:
            raise LayerConfigError(f"{where}.when[{i}].pattern {r['pattern']!r} is not a regular expression: {exc}") from None
        out.append(NameRule(str(r["field"]), str(r["pattern"]), r["value"], tuple(map(str, r.get("codes", ())))))
    return tuple(out)


def _huc_codes(s: pd.Series, col: str, where: str) -> pd.Series:
    """HUC codes are digit text of a fixed width (01010001): a numeric field has lost their leading
    zeros, which would put a site in another HUC-2/4/6 when codes are cut to a level. Padded back to the
    width the field's name gives (huc8: 8 digits), or refused where the name gives none."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s
    level = re.fullmatch(r"huc(\d+)", str(col), re.IGNORECASE)
    num = s.dropna().astype("float64")
    width = int(level.group(1)) if level else 0
    if not width or not (num == np.floor(num)).all() or (num < 0).any() or (num >= 10.0 ** width).any():
        raise LayerDataError(f"{where}: field {col!r} holds numbers, but HUC codes are text with leading zeros "
                             f"(e.g. 01010001){f' of {width} digits' if width else ''}; store the field as text")
    return s.astype("Int64").astype("string").str.zfill(width).astype(object).where(s.notna(), None)
def _codes(s: pd.Series) -> pd.Series:
    """A source column as the codes a values table is keyed by: whole numbers stored as reals
    (FCode 46006.0 in a file written with a Real field) read as written in the table ("46006")."""
    v = s.to_numpy(dtype=float, na_value=np.nan) if pd.api.types.is_float_dtype(s) else None
    if v is not None and bool(np.all(np.isnan(v) | (np.isfinite(v) & (v == np.round(v)) & (np.abs(v) < 2**53)))):
        return s.astype("Int64")
    return s


def _convert(s: pd.Series, kind: str, canon: str, where: str) -> pd.Series:
    if kind == "str":
        return s.astype("string")
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna() & (s.astype("string").str.strip() != "")
    if bad.any():
        vals = ", ".join(repr(v) for v in s[bad].unique()[:5])
        raise LayerConfigError(f"{where}: field {canon!r} has non-numeric values {vals}")
    return num.astype(TYPES[kind]) if kind == "int" else num.astype("float64")


def schema_from_dict(data: Mapping[str, Any], where: str) -> Schema:
    """Validate a definition table (from a layers/*.toml file or a run config)."""
    allowed = {"name", "title", "label", "source", "match", "fields", "values", "types", "coverage",
               "state_field", "crs", "geometry", "layers", "roles", "optional"}
    check_keys(data, sorted(allowed), where, LayerConfigError)
    coverage, state_field = _coverage(data, where)
    fields = {}
    for canon, src in dict(data.get("fields", {})).items():
        alts = (src,) if isinstance(src, str) else tuple(src)
        if not alts or not all(isinstance(a, str) for a in alts):
            raise LayerConfigError(f"{where}: fields.{canon} must be a field name or a list of names")
        fields[canon] = alts
    values = {}
    for canon, rule in dict(data.get("values", {})).items():
        if not isinstance(rule, Mapping):
            raise LayerConfigError(f"{where}: values.{canon} must be a table with 'from'/'table'/'default' or 'value'")
        extra = set(rule) - {"from", "table", "default", "value", "when"}
        if extra:
            raise LayerConfigError(f"{where}: values.{canon}: unknown key(s) {', '.join(sorted(extra))}")
        if "value" not in rule and "from" not in rule:
            raise LayerConfigError(f"{where}: values.{canon} needs 'from' (a source field) or 'value' (a constant)")
        values[canon] = ValueRule(source=rule.get("from"), table=dict(rule.get("table", {})),
                                  default=rule.get("default"), value=rule.get("value"),
                                  when=_when_rules(rule.get("when", []), f"{where}: values.{canon}"))
    types = dict(data.get("types", {}))
    for canon, kind in types.items():
        if kind not in TYPES:
            raise LayerConfigError(f"{where}: types.{canon} = {kind!r} is not one of {', '.join(TYPES)}")
    match = tuple((m,) if isinstance(m, str) else tuple(m) for m in data.get("match", ()))
    geom = dict(data.get("geometry", {}))
    extra = set(geom) - {"wkt", "lon", "lat"}
    if extra:
        raise LayerConfigError(f"{where}: geometry: unknown key(s) {', '.join(sorted(extra))}; allowed: wkt, lon, lat")
    if ("lon" in geom) != ("lat" in geom):
        raise LayerConfigError(f"{where}: geometry needs both 'lon' and 'lat' columns")
    return Schema(
        name=str(data.get("name", where)), title=str(data.get("title", "")), label=str(data.get("label", "")),
        source=str(data.get("source", "")), match=match, fields=fields, values=values,
        types=types, coverage=coverage, state_field=state_field, crs=data.get("crs"), wkt=geom.get("wkt"),
        lon=geom.get("lon"), lat=geom.get("lat"), layers=_layer_patterns(data, where),
        roles=_names(data, "roles", where), optional=_optional(data, fields, where),
    )


def _optional(data: Mapping[str, Any], fields: Mapping[str, tuple], where: str) -> tuple[str, ...]:
    names = _names(data, "optional", where)
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise LayerConfigError(f"{where}: optional names {', '.join(map(repr, unknown))}, not a canonical field of "
                               f"[fields]; fields: {', '.join(fields) or 'none'}")
    return names


def _names(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    raw = data.get(key, ())
    alts = (raw,) if isinstance(raw, str) else tuple(raw)
    if not all(isinstance(a, str) and a for a in alts):
        raise LayerConfigError(f"{where}: {key} must be a name or a list of names")
    return alts


def _layer_patterns(data: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], ...]:
    """``layers``: alternatives in order of preference, each a pattern or a list of patterns."""
    raw = data.get("layers", ())
    out = []
    for alt in (raw,) if isinstance(raw, str) else raw:
        pats = (alt,) if isinstance(alt, str) else tuple(alt) if isinstance(alt, (list, tuple)) else (alt,)
        for p in pats:
            try:
                re.compile(p)
            except (re.error, TypeError) as exc:
                raise LayerConfigError(f"{where}: layers: {p!r} is not a layer-name pattern (a regular "
                                       f"expression, e.g. 'PADUS\\d_\\dFee'): {exc}") from None
        out.append(pats)
    return tuple(out)


def _coverage(data: Mapping[str, Any], where: str) -> tuple[str, tuple[str, ...]]:
    """(coverage kind, state field alternatives) of a definition table."""
    coverage = data.get("coverage", "declared")
    if coverage == "extent":
        raise LayerConfigError(
            f"{where}: coverage 'extent' (the layer's bounding box) is not allowed: a box is not what a layer "
            f"covers; use one of {', '.join(COVERAGES)} (declared: give the polygon with coverage = \"area.gpkg\" "
            f"on the [[layers]] table)")
    if coverage not in COVERAGES:
        raise LayerConfigError(f"{where}: coverage {coverage!r} is not one of {', '.join(COVERAGES)}")
    raw = data.get("state_field", ())
    alts = (raw,) if isinstance(raw, str) else tuple(raw)
    if not all(isinstance(a, str) and a for a in alts):
        raise LayerConfigError(f"{where}: state_field must be a field name or a list of names")
    if (coverage == "states") != bool(alts):
        raise LayerConfigError(f"{where}: coverage = \"states\" needs state_field (the field naming each "
                               f"feature's state), and state_field is only for coverage = \"states\"")
    return coverage, alts


@cache
def known_schemas() -> dict[str, Schema]:
    """The ready-made definitions under ``layers/``, by name."""
    out = {}
    for entry in sorted(resources.files("sitescreen.builtin_layers").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            schema = schema_from_dict(data, f"layers/{entry.name}")
            out[schema.name] = schema
    return out


def detect_schema(columns: list[str], where: str) -> Schema | None:
    """The first known definition whose identifying fields are all present, or None."""
    for schema in known_schemas().values():
        if schema.matches(columns):
            return schema
    return None


GENERIC_NAME_FIELDS = ("name", "NAME", "Name", "site_name", "Unit_Nm", "NAME1", "UNIT_NAME")
GENERIC_ID_FIELDS = ("site_id", "id", "ID", "record_id")
WKT_COLUMNS = ("wkt", "WKT", "geometry", "geom", "the_geom", "location")
LON_LAT_COLUMNS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"),
                   ("LON", "LAT"), ("Longitude", "Latitude"), ("LONGITUDE", "LATITUDE"), ("X", "Y"))


def geometry_choices(columns: list[str]) -> list[str]:
    """Every geometry a CSV's columns offer by name: each WKT column, each lon/lat pair."""
    pairs = [f"{x!r}/{y!r}" for x, y in LON_LAT_COLUMNS if x in columns and y in columns]
    return [repr(c) for c in WKT_COLUMNS if c in columns] + pairs


def generic_schema(columns: list[str], role: str) -> Schema:
    """A definition for files with no known schema: keeps a name and id field when present."""
    fields = {}
    name = next((c for c in GENERIC_NAME_FIELDS if c in columns), None)
    if name:
        fields["name"] = (name,)
    ident = next((c for c in GENERIC_ID_FIELDS if c in columns), None)
    if ident:
        fields["record_id"] = (ident,)
    wkt = next((c for c in WKT_COLUMNS if c in columns), None)
    lon, lat = next(((x, y) for x, y in LON_LAT_COLUMNS if x in columns and y in columns), (None, None))
    return Schema(name="generic", title=f"generic {role} layer", fields=fields, wkt=wkt, lon=lon, lat=lat)


def describe_known() -> str:
    return "; ".join(f"{s.name} (fields {', '.join('/'.join(m) for m in s.match)})"
                     for s in known_schemas().values())


__all__ = ["Schema", "ValueRule", "known_schemas", "detect_schema", "generic_schema",
           "schema_from_dict", "describe_known", "COVERAGES"]
