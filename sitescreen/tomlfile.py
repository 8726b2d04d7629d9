"""Reading the project's TOML files (run configs, profiles, jobs) with one set of messages."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import SitescreenError


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
        return tomllib.loads(raw.decode("utf-8")), raw
    except UnicodeDecodeError:
        raise error(f"{path}: {what} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
