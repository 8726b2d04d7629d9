"""The README documents the names the code accepts (commands, kinds, transforms, definitions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitescreen.cli import main
from sitescreen.rules.kinds import KINDS
from sitescreen.rules.profile import TRANSFORMS, builtin_profiles
from sitescreen.inputs.schemas import known_schemas

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_setup_commands():
    head = README[:600]
    assert "make demo" in head and "make test" in head


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_is_in_the_readme_and_has_help(name):
    assert f"sitescreen {name}" in README or f"sitescreen {name} " in README
    assert (main.commands[name].help or "").strip()


@pytest.mark.parametrize("kind", tuple(KINDS))
def test_every_criterion_kind_is_documented(kind):
    assert f"`{kind}`" in README


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_transform_is_documented(name):
    assert f"`{name}`" in README


@pytest.mark.parametrize("name", sorted(known_schemas()))
def test_every_layer_definition_is_documented(name):
    assert f"`{name}`" in README


def test_default_profile_is_documented():
    assert "federal-safeguards" in builtin_profiles()
    assert "`federal-safeguards`" in README


def _readme_kinds_table() -> list[tuple[str, str]]:
    """(kind, unit) of each row of the README's table of criterion kinds."""
    lines = README.splitlines()
    start = lines.index("| kind | measures | unit |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[-1]))
    return rows


def test_readme_kinds_table_lists_exactly_the_registry():
    rows = _readme_kinds_table()
    assert sorted(k for k, _ in rows) == sorted(KINDS)
    assert len(rows) == len(KINDS)
    for name, unit in rows:
        kind = KINDS[name]
        assert unit == (kind.unit or "—"), name
