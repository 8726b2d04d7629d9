"""Reading the project's TOML files (run configs, profiles, jobs) with one set of messages."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sitescreen.errors import SitescreenError


def read_toml(path: Path, what: str, error: type[SitescreenError], hint: str = "") -> tuple[dict[str, Any], bytes]:
    """The parsed table and raw bytes of a TOML file; ``error`` names ``path`` and says what is wrong.

    TOML is data only: nothing in it is ever evaluated.
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} file not found{'; ' + hint if hint else ''}")
    if path.is_dir():
        raise error(f"{path}: {what} is a directory, expected a .toml file")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{path}: {what} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_DEPTH:
        raise error(f"{path}: arrays or tables nested more than {MAX_DEPTH} deep; a {what} file needs only a few levels")
    return data, raw


#: The deepest nesting of arrays and tables a project file may have (the deepest real one has 5).
MAX_DEPTH = 16


def _depth(data: Any) -> int:
    """How deep arrays and tables nest in ``data`` (a walk without recursion)."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        todo.extend((c, depth + 1) for c in children)
    return deepest
