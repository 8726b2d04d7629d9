"""Which band of a raster a layer measures: never a guess.

A layer names its band with ``band = N`` in a run config's ``[[layers]]`` table, or after the path
like a GeoPackage layer: ``--layer dem=PATH:N`` (or ``PATH:DESCRIPTION``, the band's description as
GDAL reports it). A single-band raster needs no name; a raster of several bands with none named is
refused with its bands listed, never read as band 1.
"""

from __future__ import annotations

from sitescreen.errors import LayerConfigError


def band_names(src) -> list[str]:
    """Each band as ``N (description, colour interpretation)``, for messages."""
    out = []
    for i in range(1, src.count + 1):
        facts = [d for d in (src.descriptions[i - 1], src.colorinterp[i - 1].name) if d]
        out.append(f"{i} ({', '.join(facts)})" if facts else str(i))
    return out


def band_advice(spec) -> str:
    """How to name a band, in the forms the parsers read (tested by following it)."""
    return (f"name one with --layer {spec.role}={spec.path}:N or band = N in the layer's [[layers]] table "
            f"of a run config")


def choose_band(spec, src) -> int:
    """The band ``spec`` measures in the open raster ``src`` (1-based), or a :class:`LayerConfigError`."""
    where = str(spec.path)
    named = _band_from_layer(spec, src) if spec.layer is not None else None
    if named is not None and spec.band is not None and named != spec.band:
        raise LayerConfigError(f"{where}: band {spec.band} and layer {spec.layer!r} (band {named}) name different "
                               f"bands; give one of them")
    band = spec.band if spec.band is not None else named
    if band is None:
        if src.count == 1:
            return 1
        raise LayerConfigError(f"{where}: the raster has {src.count} bands and the {spec.role} layer names none "
                               f"(bands: {'; '.join(band_names(src))}); {band_advice(spec)}")
    if not 1 <= band <= src.count:
        raise LayerConfigError(f"{where}: band {band} does not exist; the raster has {src.count} band(s) "
                               f"(bands: {'; '.join(band_names(src))})")
    return band


def _band_from_layer(spec, src) -> int:
    """The band a raster's ``:LAYER`` part names: its number, or its description (exactly one band)."""
    text = spec.layer.strip()
    if text.isdigit():
        return int(text)
    hits = [i for i, d in enumerate(src.descriptions, start=1) if d and d.strip().casefold() == text.casefold()]
    if len(hits) == 1:
        return hits[0]
    what = "several bands are" if hits else "no band is"
    raise LayerConfigError(f"{spec.path}: {what} described as {spec.layer!r} (bands: {'; '.join(band_names(src))}); "
                           f"{band_advice(spec)}")
