"""What a profile's criteria need of a run's layers, checked once for ``check`` and ``screen`` alike.

:func:`check_requirements` is the one check, run by :func:`sitescreen.run.pipeline.prepare` once the
layers are loaded (so a missing or unreadable file is reported first, as before) and again by
:func:`sitescreen.measure.criteria.measure` for callers of the library. Its parts:
:func:`check_layer_kinds` needs only the layer specs (a criterion's role has a layer; a raster where
the kind reads rasters, a vector where it reads vectors); :func:`check_fields` needs the loaded layers (an ``attribute`` criterion's field is a column of its
layers). Both stop with one :class:`~sitescreen.errors.LayerConfigError` whose advice is in the
user's own terms: the run config's ``[[layers]]`` table when the run came from a config file
(``config_path``), the ``--layer`` flag otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from sitescreen.errors import LayerConfigError
from sitescreen.inputs.load import LoadedLayer
from sitescreen.inputs.spec import LayerSpec, field_advice, layer_advice
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.profile import Profile

if TYPE_CHECKING:
    from sitescreen.measure.criteria import Inputs


def check_requirements(profile: Profile, inputs: Inputs, config_path: str | None = None) -> None:
    """Refuse a run whose layers ``inputs`` cannot give every criterion of ``profile`` what it measures."""
    check_layer_kinds(profile, [lyr.spec for lyr in inputs.vectors] + list(inputs.rasters), config_path)
    check_fields(profile, inputs.vectors, config_path)
    check_selections(profile, inputs.vectors, config_path)


def check_layer_kinds(profile: Profile, specs: Sequence[LayerSpec], config_path: str | None = None) -> None:
    """Refuse a run whose layers cannot feed a criterion of ``profile`` (optional criteria without a
    layer are skipped, not refused)."""
    for c in profile.criteria:
        mine = [s for s in specs if s.role in c.roles]
        if not mine:
            if not c.optional:
                raise LayerConfigError(
                    f"profile {profile.name} ({profile.path}): criterion {c.name} needs a layer with role "
                    f"{' or '.join(c.roles)}; {layer_advice(c.roles[0], config_path)}")
            continue
        wants_raster = not KINDS[c.kind].vector
        wrong = next((s for s in mine if (s.kind == "raster") != wants_raster), None)
        if wrong is not None:
            want, got = ("a raster (GeoTIFF)", "a vector file") if wants_raster else ("a vector layer", "a raster")
            raise LayerConfigError(
                f"{wrong.path}: criterion {c.name} ({c.kind}) of profile {profile.name} needs {want} for role "
                f"{wrong.role}, but this is {got}; {layer_advice(wrong.role, config_path, replace=True)}")


def check_fields(profile: Profile, vectors: Sequence[LoadedLayer], config_path: str | None = None) -> None:
    """Refuse an ``attribute`` criterion whose field no layer of its roles has (after the definition)."""
    for c in profile.criteria:
        fld = c.params.get("field") if c.kind == "attribute" else None
        layers = [lyr for lyr in vectors if lyr.spec.role in c.roles]
        if fld is None or not layers or any(fld in lyr.gdf.columns for lyr in layers):
            continue
        fields = sorted({str(col) for lyr in layers for col in lyr.gdf.columns} - {"geometry", "layer"})
        raise LayerConfigError(
            f"{layers[0].spec.path}: criterion {c.name} of profile {profile.name} reads field {fld!r}, which no "
            f"{' or '.join(c.roles)} layer has (fields: {', '.join(fields)}); {field_advice(fld, config_path)}")



def check_selections(profile: Profile, vectors: Sequence[LoadedLayer], config_path: str | None = None) -> None:
    """Refuse a criterion whose selection says ``fields_required`` when no layer of its roles has every
    field of any of its clauses: nothing would be selected and the criterion would silently measure
    nothing (a streams file without flow permanence under the SMCRA stream buffer)."""
    for c in profile.criteria:
        layers = [lyr for lyr in vectors if lyr.spec.role in c.roles]
        if c.selection is None or not c.selection.fields_required or not c.selection.any or not layers:
            continue
        if any(all(f in lyr.gdf.columns for f in clause) for lyr in layers for clause in c.selection.any):
            continue
        wanted = sorted({f for clause in c.selection.any for f in clause})
        fields = sorted({str(col) for lyr in layers for col in lyr.gdf.columns} - {"geometry", "layer"})
        raise LayerConfigError(
            f"{layers[0].spec.path}: criterion {c.name} of profile {profile.name} selects {c.selection.name} "
            f"({c.selection.description or 'by ' + ', '.join(wanted)}) by field {' and '.join(map(repr, wanted))}, which no "
            f"{' or '.join(c.roles)} layer has (fields: {', '.join(fields)}); give a layer whose definition maps it "
            f"(e.g. NHD flowlines for flow) or {field_advice(wanted[0], config_path)}")
