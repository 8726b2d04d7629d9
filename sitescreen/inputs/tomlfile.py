"""Reading the project's TOML files (run configs, profiles, jobs) with one set of messages."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Iterable

from sitescreen.errors import SitescreenError


def read_toml(path: Path, what: str, error: type[SitescreenError], hint: str = "") -> tuple[dict[str, Any], bytes]:
    """The parsed table and raw bytes of a TOML file; ``error`` names ``path`` and says what is wrong.
    ``what`` is the kind of file ("config", "profile", "jobs"): messages say "{what} file".

    TOML is data only: nothing in it is ever evaluated.
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} file not found{'; ' + hint if hint else ''}")
    if path.is_dir():
        raise error(f"{path}: {what} file is a directory, expected a .toml file")
    raw = path.read_bytes()
    return parse_toml(raw, path, what, error), raw


def parse_toml(raw: bytes, path: Path, what: str, error: type[SitescreenError]) -> dict[str, Any]:
    """The table the bytes ``raw`` of the TOML file ``path`` hold: the one decoding of project files
    (UTF-8, with or without a byte-order mark), with :func:`read_toml`'s messages."""
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a byte-order mark (Windows editors) is not TOML
    except UnicodeDecodeError:
        raise error(f"{path}: {what} file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_DEPTH:
        raise error(f"{path}: arrays or tables nested more than {MAX_DEPTH} deep; a {what} file needs only a few levels")
    return data


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


def check_keys(data, allowed: Iterable[str], where: str, error: type[SitescreenError], label: str = "") -> None:
    """Refuse keys of the table ``data`` that are not ``allowed`` (in the order given): the message
    names them, lists the allowed ones and suggests the nearest allowed key of a mistyped one
    ("unknown key(s) confg; allowed: name, config, out; did you mean 'config'?"). ``label`` goes
    after the names (e.g. " for kind 'distance'")."""
    allowed = list(allowed)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise error(f"{where}: unknown key(s) {', '.join(unknown)}{label}; allowed: {', '.join(allowed)}"
                    f"{did_you_mean(unknown, allowed)}")


def did_you_mean(unknown: Iterable[str], allowed: Iterable[str]) -> str:
    """"; did you mean 'config'?" for the unknown names close to an allowed one (difflib), or ""."""
    allowed = list(allowed)
    pairs = [(u, m[0]) for u in unknown if (m := difflib.get_close_matches(u, allowed, n=1, cutoff=0.6))]
    if not pairs:
        return ""
    if len(pairs) == 1:
        return f"; did you mean {pairs[0][1]!r}?"
    return "; did you mean " + ", ".join(f"{m!r} for {u!r}" for u, m in pairs) + "?"
