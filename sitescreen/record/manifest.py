"""The run record: manifest.json as frozen dataclasses, written and read through this module only.

:class:`RunRecord` is every fact of a finished run (tool, profile, sites, inputs with SHA-256,
criteria with their effective weights, counts, mode, timings, the run as data, the output files).
:func:`to_json` writes it (strict JSON: missing → ``null``, ±inf → ``±1e999``, see
:mod:`sitescreen.values`), :func:`read_record` reads it back from a file or a mapping.

Versions: ``schema_version`` is :data:`SCHEMA_VERSION`. A manifest without one is schema 1 (the
layout before this module; the same keys): it is loaded, with what it lacks filled where it can
be derived (effective weights from the weights of the evaluated criteria, the in-memory flow) or
left unknown (``None``); a schema 1 manifest lacking a fact that cannot be derived, or one from a
newer sitescreen, stops with a message naming the version. The JSON Schema of the layout,
``manifest.schema.json`` beside this file, is generated from the dataclasses (:func:`sitescreen.record.schema.json_schema`).

Field rules: a field with a default may be missing from a schema 1 manifest; a field marked
``omit`` (``_opt``) is written only when set and may be missing from any manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from sitescreen.errors import OutputError
from sitescreen.record.columns import COLUMNS
from sitescreen.record.merges import MergeRecord
from sitescreen.record.read import Bad, build
from sitescreen.record.zones import ZoneRecord
from sitescreen.record.sensitivity import SensitivityParameter, SensitivityRecord, SobolIndex
from sitescreen.values import strict_json

SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")

def _opt(schema: dict | None = None) -> Any:
    """A field written only when set (None: left out of the file)."""
    return field(default=None, metadata={"omit": True, "schema": schema or {}})


def _v1(default: Any = None, factory: Any = None) -> Any:
    """A field every manifest now has, which a schema 1 manifest may lack (then: ``default``)."""
    return field(default_factory=factory) if factory is not None else field(default=default)


FROZEN = dict(frozen=True, kw_only=True)


@dataclass(**FROZEN)
class Tool:
    name: str
    version: str


@dataclass(**FROZEN)
class Verdicts:
    favorable: float
    review: float
    range: Mapping[str, tuple[float, ...]] | None = _opt()  # [lo, hi] a threshold may vary in (sitescreen.rules.ranges)


@dataclass(**FROZEN)
class SelectionRecord:
    """A profile selection: which features of which roles count (``any`` of the field clauses)."""
    roles: tuple[str, ...]
    description: str
    any: tuple[Mapping[str, Any], ...]


@dataclass(**FROZEN)
class CriterionSelection:
    name: str
    description: str
    any: tuple[Mapping[str, Any], ...]


@dataclass(**FROZEN)
class ProfileRecord:
    name: str
    path: str | None = _v1()
    sha256: str
    description: str = _v1("")
    verdicts: Verdicts
    selections: Mapping[str, SelectionRecord] = _v1(factory=dict)


@dataclass(**FROZEN)
class SitesRecord:
    """Where the sites came from and what was done to them (counts of records)."""
    path: str
    records_read: int | None = _v1()
    records_without_location: int | None = _v1()
    records_skipped_invalid: int | None = _v1()
    records_filtered_out: int | None = _v1()
    records_outside_aoi: int | None = _v1()
    duplicates_merged: int | None = _v1()
    sites: int
    radius_m: float | None = _v1()
    source_crs: str | None = _v1()
    repairs: int | None = _v1()
    schema: str | None = _v1()
    records_not_selected: int | None = _opt()
    grid_cell_m: float | None = _opt()
    sha256: str | None = _opt()
    role: str | None = _opt()
    layer: str | None = _opt()
    crs_override: str | None = _opt()
    id_field: str | None = _opt()
    name_field: str | None = _opt()
    source_fields: tuple[str, ...] | None = _opt()
    fields_not_carried: tuple[str, ...] | None = _opt()  # nested values (lists, structs): named, not carried
    merges: tuple[MergeRecord, ...] | None = _opt()  # every merge of duplicate records (also merges.csv)
    sites_sharing_outlines: int | None = _opt()  # polygon sites stacked on an outline another site has (kept, not merged)
    shared_outlines: int | None = _opt()         # ... the outlines they share
    product: str | None = _opt()
    publisher: str | None = _opt()
    modified: str | None = _opt()

    def chain(self) -> tuple[tuple[str, int], ...] | None:
        """How the records read became the sites, in the order of the flow: ``(step, records)`` for
        read, then each step that dropped or merged records, then sites (:data:`CHAIN_STEPS`); the
        steps add up (read − the others = sites). None for a grid or a record without the counts."""
        if not self.records_read:
            return None
        return tuple((k, int(getattr(self, k) or 0)) for k in CHAIN_STEPS)


#: The steps of :meth:`SitesRecord.chain`, in the order of the flow (words: :func:`sitescreen.rules.reviewwords.site_chain`).
CHAIN_STEPS = ("records_read", "records_without_location", "records_skipped_invalid", "records_not_selected",
               "records_filtered_out", "records_outside_aoi", "duplicates_merged", "sites")


@dataclass(**FROZEN)
class InputRecord:
    """One input layer (vector or raster) as read by the run."""
    name: str
    role: str
    path: str
    layer: str | None = _v1()
    kind: str
    schema: str | None = _v1()
    source_crs: str | None
    crs_override: str | None = _v1()
    features_read: int | None = _v1()
    features_in_file: int | None = _opt()
    features_used: int | None = _opt()
    repairs: int | None = _v1()
    dropped_empty: int | None = _opt()
    coverage: Any = _v1()
    filter: Mapping[str, Any] | None = _opt()
    sites_covered: int | None = _opt()
    width: int | None = _opt()
    height: int | None = _opt()
    res: tuple[float, ...] | None = _opt()
    nodata: float | None = _opt()
    dtype: str | None = _opt()
    bands: int | None = _opt()
    band: int | None = _opt()       # the band a raster layer measured
    sha256: str | None = _opt()
    bytes: int | None = _opt()
    product: str | None = _opt()    # what the file is, from its layer definition's title
    publisher: str | None = _opt()  # who publishes it, from its layer definition's source
    modified: str | None = _opt()   # the file's modification time (UTC, ISO 8601) when the run read it
    layers: tuple[str, ...] | None = _opt()  # several layers of one file read as one (PAD-US Fee + Designation)


WEIGHT = {"minimum": 0, "maximum": 1}


@dataclass(**FROZEN)
class CapRecord:
    """A rule's verdict cap: where ``condition`` (``"< 1000"``) holds, the verdict is no better than ``verdict``."""
    verdict: str = field(metadata={"schema": {"enum": ["review", "unfavorable"]}})
    condition: str


@dataclass(**FROZEN)
class CriterionRecord:
    """One criterion of the profile as the run applied it. ``effective_weight`` is its share of the
    score (the weights renormalised over the evaluated criteria; 0 when not evaluated): what every
    surface shows."""
    name: str
    label: str
    kind: str
    unit: str
    roles: tuple[str, ...]
    selection: CriterionSelection | None = _v1()
    params: Mapping[str, Any] = _v1(factory=dict)
    measure_column: str
    score_column: str | None
    weight: float = field(metadata={"schema": WEIGHT})
    effective_weight: float = field(metadata={"schema": WEIGHT})
    transform: Mapping[str, Any] | None
    exclusion: str | None
    safeguard: str
    source: str
    optional: bool = _v1(False)
    evaluated: bool
    layers: tuple[str, ...] = _v1(())
    note: str = _v1("")
    sites_without_data: int | None = _v1()
    cap: CapRecord | None = _opt()
    sites_held: int | None = _opt()  # with a cap: the sites it held below the verdict their score gives


@dataclass(**FROZEN)
class Mode:
    """How the run was made: ``in memory``, or ``streamed`` in chunks of ``chunk_size`` sites."""
    flow: str = field(metadata={"schema": {"enum": ["in memory", "streamed"]}})
    chunk_size: int | None = _opt()


@dataclass(**FROZEN)
class OutputFile:
    sha256: str
    bytes: int


@dataclass(**FROZEN)
class Tally:
    """What a run counts over its scored sites; tallies of pieces of a run add up (:meth:`add`)."""
    counts: Mapping[str, int]
    without_data: Mapping[str, int]
    held: Mapping[str, int] = field(default_factory=dict)  # per criterion with a verdict cap: the sites it held

    def add(self, other: Tally) -> Tally:
        return Tally(**{f: {k: getattr(self, f).get(k, 0) + n for k, n in getattr(other, f).items()}
                        for f in ("counts", "without_data", "held")})


RUN_SCHEMA = {"type": "object", "description": "the run config as data (sitescreen.run.config.config_to_dict)",
              "required": ["title", "config", "sites", "site_options", "layers", "profile", "crs"],
              "properties": {"layers": {"type": "array", "items": {"type": "object", "required": ["role", "path"]}},
                             "site_options": {"type": "object"}, "sites": {"type": ["object", "null"]},
                             "profile": {"type": "string"}, "crs": {"type": ["string", "null"]},
                             "overrides": {"type": "array", "items": {"type": "string"}}}}


@dataclass(**FROZEN)
class RunRecord:
    """Every fact of a finished run (manifest.json). ``extra``: top-level sections this version does
    not know (kept as they are, written back). ``read_schema``: the schema the file was written in
    (not written)."""
    schema_version: int = field(default=SCHEMA_VERSION, metadata={"schema": {"const": SCHEMA_VERSION}})
    tool: Tool
    title: str | None = _v1()
    created: str | None = _v1()
    config: str | None = _v1()
    crs: str  # the CRS of the output geometry (a zoned run: EPSG:4269, each zone measured in its own)
    zones: tuple[ZoneRecord, ...] | None = _opt()  # a zoned run's measuring zones
    profile: ProfileRecord
    sites: SitesRecord
    inputs: tuple[InputRecord, ...]
    criteria: tuple[CriterionRecord, ...]
    counts: Mapping[str, int]
    mode: Mode = _v1(Mode(flow="in memory"))
    columns: Mapping[str, str] = _v1(factory=lambda: dict(COLUMNS))
    timings: Mapping[str, float] = _v1(factory=dict)
    run: Mapping[str, Any] | None = _opt(RUN_SCHEMA)
    outputs: Mapping[str, OutputFile] | None = _opt()
    sensitivity: SensitivityRecord | None = _opt()
    extra: Mapping[str, Any] = field(default_factory=dict, metadata={"flatten": True})
    read_schema: int = field(default=SCHEMA_VERSION, compare=False, metadata={"skip": True})

    def criterion(self, name: str) -> CriterionRecord:
        return next(c for c in self.criteria if c.name == name)


# ---------------------------------------------------------------------------------------------
# Writing


def to_data(obj: Any) -> Any:
    """A record (or any part of one) as JSON-ready data, in the layout of manifest.json."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in fields(obj):
            v = getattr(obj, f.name)
            if f.metadata.get("skip") or (v is None and f.metadata.get("omit")):
                continue
            if f.metadata.get("flatten"):
                out.update({k: to_data(x) for k, x in v.items()})
            else:
                out[f.name] = to_data(v)
        return out
    if isinstance(obj, Mapping):
        return {k: to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    return obj


def to_json(record: RunRecord) -> str:
    """manifest.json's text for ``record`` (strict JSON, two-space indent, a final newline). Every
    text made here validates against the committed :data:`SCHEMA_FILE` before anything writes it: a
    record that does not is refused (a sitescreen bug, never a file a reviewer's tools cannot read)."""
    from sitescreen.record.schema import schema_problems
    text = strict_json(to_data(record), indent=2, ensure_ascii=False) + "\n"
    problems = schema_problems(json.loads(text))
    if problems:
        raise OutputError(f"the run record breaks {SCHEMA_FILE.name} at {problems[0]}"
                          f"{f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''}: a sitescreen bug, "
                          f"please report it; no manifest was written")
    return text


def with_outputs(record: RunRecord, outputs: Mapping[str, OutputFile]) -> RunRecord:
    return replace(record, outputs=dict(outputs))


# ---------------------------------------------------------------------------------------------
# Reading


def _version(data: Mapping[str, Any]) -> int:
    v = data.get("schema_version", 1)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise Bad("schema_version", f"expected a whole number 1–{SCHEMA_VERSION}, got {v!r}")
    return v


def _written_by(data: Mapping[str, Any]) -> str:
    tool = data.get("tool")
    version = tool.get("version") if isinstance(tool, Mapping) else None
    return f"sitescreen {version}" if isinstance(version, str) else "an unknown tool"


def _upgrade_v1(data: Mapping[str, Any]) -> dict:
    """A schema 1 manifest with the facts it lacks that can be derived: each criterion's effective
    weight (:func:`sitescreen.rules.profile.renormalised`)."""
    from sitescreen.rules.profile import renormalised
    out = dict(data)
    crits = data.get("criteria")
    if isinstance(crits, list) and all(isinstance(c, Mapping) for c in crits):
        try:
            eff = renormalised([(c.get("name"), float(c.get("weight") or 0.0), bool(c.get("evaluated", True)))
                                for c in crits])
        except (TypeError, ValueError):
            return out
        out["criteria"] = [c if "effective_weight" in c else {**c, "effective_weight": eff[c.get("name")]}
                           for c in crits]
    return out


def read_record(source: str | Path | Mapping[str, Any]) -> RunRecord:
    """The record in a manifest.json file (or its data as a mapping); schema 1 manifests are
    upgraded (see the module doc). Anything else: an :class:`OutputError` naming the file, the
    field and the version that wrote it."""
    where = str(source) if isinstance(source, (str, Path)) else "manifest.json"
    data = _load(source) if isinstance(source, (str, Path)) else source
    if not isinstance(data, Mapping):
        raise OutputError(f"{where}: not a sitescreen manifest (expected a JSON object)")
    try:
        version = _version(data)
    except Bad as exc:
        raise OutputError(f"{where}: {exc.args[0]}: {exc.args[1]}") from None
    by = _written_by(data)
    if version > SCHEMA_VERSION:
        raise OutputError(f"{where} was written by {by} (schema {version}); this sitescreen reads schema 1–"
                          f"{SCHEMA_VERSION}: upgrade sitescreen to read it")
    legacy = version < SCHEMA_VERSION
    try:
        record = build(RunRecord, _upgrade_v1(data) if legacy else data, "", legacy)
    except Bad as exc:
        raise OutputError(f"{where} was written by {by} (schema {version}); {exc.args[0]}: {exc.args[1]}; "
                          f"screen the run again to write a manifest this sitescreen reads") from None
    return replace(record, schema_version=SCHEMA_VERSION, read_schema=version)


def _load(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OutputError(f"{path}: not valid JSON: {exc}") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def as_record(manifest: RunRecord | Mapping[str, Any] | None) -> RunRecord | None:
    """``manifest`` as a record: a record as it is, manifest data through :func:`read_record`."""
    if manifest is None or isinstance(manifest, RunRecord):
        return manifest
    return read_record(manifest)


def written_by_sitescreen(path: str | Path) -> bool:
    """True when ``path`` is a manifest.json that names sitescreen as its tool (any version)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("tool"), dict) and data["tool"].get("name") == "sitescreen"


__all__ = ["SCHEMA_VERSION", "CHAIN_STEPS", "SCHEMA_FILE", "COLUMNS", "RunRecord", "Tool", "Verdicts", "SelectionRecord",
           "CriterionSelection", "ProfileRecord", "SitesRecord", "InputRecord", "CriterionRecord", "Mode",
           "OutputFile", "MergeRecord", "Tally", "SensitivityRecord", "SensitivityParameter", "SobolIndex", "to_data", "to_json",
           "with_outputs", "read_record", "as_record", "written_by_sitescreen"]
