"""``check`` refuses exactly what ``screen`` refuses (issue 14, item 3): one validation of what the
profile's criteria need of the layers (:mod:`sitescreen.measure.requirements`), run by ``prepare``
for both commands, with advice in the user's own terms — the run config's ``[[layers]]`` table when
the run came from a config file, the ``--layer`` flag when it came from the command line.

Each refusal class is run four ways (check/screen × config/flags); both commands must give the same
one-line error, word for word, and exit 1, and ``screen`` must leave nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tinyworld as tw
from edgecases import assert_error, assert_nothing_left, run_cli
from sitescreen.inputs.schemas import known_schemas
from sitescreen.rules.profile import load_profile

PROFILE = load_profile("federal-safeguards")
WILDERNESS = known_schemas()["wilderness"]  # the definition the wilderness file is read with
WHO = f"profile {PROFILE.name} ({PROFILE.path})"
WATERSHED = '[[layers]]\nrole = "watershed"\npath = "{path}"\n'
DEM = '[[layers]]\nrole = "dem"\npath = "{path}"\n'


def _without_federal(w: tw.World):
    """No federal_land layer: the criterion federal_land (not optional) cannot be measured."""
    config = tw.CONFIG.split('[[layers]]\nrole = "federal_land"')[0]
    return config, [f"protected={w.protected}"], (
        f"{WHO}: criterion federal_land needs a layer with role federal_land; "
        ), ('add a [[layers]] table with role = "federal_land" and its path to {config}',
             "give one with --layer federal_land=PATH")


def _vector_as_dem(w: tw.World):
    """A vector file given for the dem role, which a raster criterion reads."""
    return tw.CONFIG + DEM.format(path="protected.geojson"), [*w.layers, f"dem={w.protected}"], (
        f"{w.protected}: criterion steep_terrain (raster) of profile {PROFILE.name} needs a raster (GeoTIFF) "
        f"for role dem, but this is a vector file; "
        ), ('change the path of the [[layers]] table with role = "dem" in {config}',
             "give the right file with --layer dem=PATH")


def _raster_as_watershed(w: tw.World):
    """A raster given for the watershed role, which vector criteria read."""
    dem = tw.write_dem(w.root / "dem.tif")
    return tw.CONFIG + WATERSHED.format(path="dem.tif"), [*w.layers, f"watershed={dem}"], (
        f"{dem}: criterion watershed (attribute) of profile {PROFILE.name} needs a vector layer for role "
        f"watershed, but this is a raster; "
        ), ('change the path of the [[layers]] table with role = "watershed" in {config}',
             "give the right file with --layer watershed=PATH")


def _watershed_without_huc(w: tw.World):
    """A watershed layer (the wilderness file: its definition maps no ``huc``) for the attribute
    criterion ``watershed``, which reads the field ``huc``; its fields are the definition's."""
    return tw.CONFIG + WATERSHED.format(path="protected.geojson"), [*w.layers, f"watershed={w.protected}"], (
        f"{w.protected}: criterion watershed of profile {PROFILE.name} reads field 'huc', which no watershed "
        f"layer has (fields: {', '.join(sorted([*WILDERNESS.fields, *WILDERNESS.values]))}); "
        ), ('map it in that [[layers]] table of {config} with definition = { fields = { huc = "COLUMN" } }',
             'give the layer in a run config with definition = { fields = { huc = "COLUMN" } }')


CLASSES = {"no-layer-for-a-required-role": _without_federal, "vector-for-a-raster-role": _vector_as_dem,
           "raster-for-a-vector-role": _raster_as_watershed, "attribute-field-missing": _watershed_without_huc}


def _args(cmd: str, w: tw.World, source: str, layers: list[str]) -> list[str]:
    if source == "config":
        base = [cmd, "--config", str(w.config)]
    else:
        base = [cmd, str(w.sites), *[a for lyr in layers for a in ("--layer", lyr)]]
    return base + (["--out", str(w.out), "--no-map", "--no-report"] if cmd == "screen" else [])


@pytest.mark.parametrize("source", ["config", "flags"])
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_check_refuses_what_screen_refuses(name, source, tmp_path):
    w = tw.build(tmp_path / "w")
    config, layers, stem, (in_config, by_flag) = CLASSES[name](w)
    w.write_config(config)
    want = stem + (in_config.replace("{config}", str(w.config)) if source == "config" else by_flag)
    messages = {}
    for cmd in ("check", "screen"):
        result = run_cli(_args(cmd, w, source, layers))
        messages[cmd] = assert_error(result, [want], 1)
        assert messages[cmd] == f"Error: {want}"
    assert messages["check"] == messages["screen"]
    assert_nothing_left(w.out)


def test_advice_names_the_config_key_or_the_flag():
    """The one place the advice is worded: the config's key for a config run, the flag otherwise."""
    from sitescreen.inputs.spec import field_advice, layer_advice
    assert layer_advice("federal_land", "run.toml") == 'add a [[layers]] table with role = "federal_land" and its path to run.toml'
    assert layer_advice("federal_land") == "give one with --layer federal_land=PATH"
    assert layer_advice("dem", "run.toml", replace=True) == 'change the path of the [[layers]] table with role = "dem" in run.toml'
    assert layer_advice("dem", replace=True) == "give the right file with --layer dem=PATH"
    assert field_advice("huc", "run.toml") == 'map it in that [[layers]] table of run.toml with definition = { fields = { huc = "COLUMN" } }'
    assert field_advice("huc") == 'give the layer in a run config with definition = { fields = { huc = "COLUMN" } }'


def test_check_passes_when_screen_does(tmp_path):
    """The tiny world itself: check says OK and screen screens every one of its 4 sites."""
    w = tw.build(tmp_path / "w")
    result = run_cli(_args("check", w, "flags", w.layers))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "OK"
    result = run_cli(w.args())
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Screened {len(tw.SITES)} sites")
