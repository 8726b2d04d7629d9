"""Where a profile's rules come from: a built-in name or a TOML file, and the profile it extends.

A profile may start from another one (``extends = "federal-safeguards"``, a built-in name or a
path relative to the file) and state only what it changes: its tables are laid over the base's
(a table merges key by key, any other value replaces the base's), so a GIS office keeps its
changed numbers in a few lines instead of a copy that drifts from the built-in profile. The
profile's SHA-256 covers every file of the chain (this file's bytes, then its base's, and so on):
a run records one hash that changes when any of them does.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from sitescreen.errors import ProfileError
from sitescreen.inputs.tomlfile import read_toml

#: The longest chain of profiles extending one another.
MAX_EXTENDS = 8


def builtin_profiles() -> dict[str, Path]:
    folder = resources.files("sitescreen.builtin_layers.profiles")
    return {Path(e.name).stem: Path(str(e)) for e in folder.iterdir() if e.name.endswith(".toml")}


def profile_path(name_or_path: str | Path, builtins: Mapping[str, Path] | None = None) -> Path:
    """The file of a built-in profile name, or the path given."""
    builtins = builtin_profiles() if builtins is None else builtins
    text_path = str(name_or_path)
    if text_path in builtins:
        return builtins[text_path]
    path = Path(text_path)
    if path.suffix.lower() != ".toml" and not path.exists():
        raise ProfileError(f"unknown profile {text_path!r}; built-in profiles: {', '.join(sorted(builtins))} "
                           "(or give a .toml file)")
    return path


def _base_path(ext: Any, path: Path, builtins: Mapping[str, Path]) -> Path:
    if not isinstance(ext, str) or not ext.strip():
        raise ProfileError(f"{path}: extends must be a built-in profile name ({', '.join(sorted(builtins))}) "
                           f"or the path of a .toml profile, got {ext!r}")
    if ext in builtins:
        return builtins[ext]
    base = Path(ext) if Path(ext).is_absolute() else path.parent / ext
    if not base.is_file():
        raise ProfileError(f"{path}: extends = {ext!r}: no built-in profile of that name and no file {base}; "
                           f"built-in profiles: {', '.join(sorted(builtins))}")
    return base


def _over(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` laid over ``base``: tables merge key by key, any other value replaces the base's."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _over(out[key], value)
        else:
            out[key] = value
    return out


def read_profile(name_or_path: str | Path) -> tuple[dict[str, Any], str, Path]:
    """A profile's table with its ``extends`` chain resolved, the SHA-256 of the chain's files, and
    its path. Without ``extends`` the hash is the file's own SHA-256."""
    builtins = builtin_profiles()
    path = profile_path(name_or_path, builtins)
    hint = f"check the path, or use a built-in profile: {', '.join(sorted(builtins))}"
    data, raw = read_toml(path, "profile", ProfileError, hint=hint)
    digest, chain, here = hashlib.sha256(raw), [data], path
    seen = [path.resolve()]
    while "extends" in chain[-1]:
        base = _base_path(chain[-1]["extends"], here, builtins)
        if base.resolve() in seen:
            raise ProfileError(f"{here}: extends = {chain[-1]['extends']!r} leads back to {base}: "
                               "a profile cannot extend itself")
        if len(seen) >= MAX_EXTENDS:
            raise ProfileError(f"{path}: profiles extend one another more than {MAX_EXTENDS} deep")
        base_data, base_raw = read_toml(base, "profile", ProfileError, hint=hint)
        digest.update(base_raw)
        chain.append(base_data)
        seen.append(base.resolve())
        here = base
    merged: dict[str, Any] = {}
    for table in reversed(chain):
        merged = _over(merged, table)
    if len(chain) > 1:
        merged.pop("extends", None)
        merged["name"] = chain[0].get("name", path.stem)
    return merged, digest.hexdigest(), path
