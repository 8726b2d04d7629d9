"""The edge-case catalogue's machinery, shared by ``test_bad_inputs.py`` and the ``test_edges_*.py``
files (one per class of edge: outputs, CRS, numbers, layer choice, coverage, processes, writers).

A case is registered with :func:`case` in a file's own registry and run through the CLI by
:func:`run_case`, which asserts the exit code, that the error is one line ``Error: …`` naming what
the case expects (file, field or value, what is allowed), that no traceback is printed, and that
nothing is left in or next to the output folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from click.testing import CliRunner

import tinyworld as tw
from sitescreen.cli import main


class Catalogue(dict):
    """name → (setup function, expected substrings, exit code)."""

    def case(self, name: str, *expect: str, code: int = 1) -> Callable:
        """Register a case: ``expect`` are substrings the one-line error must contain."""
        def deco(fn):
            assert name not in self, f"duplicate case {name}"
            self[name] = (fn, expect, code)
            return fn
        return deco


def run_cli(args: list[str]):
    return CliRunner().invoke(main, args)


def error_lines(result) -> list[str]:
    """stderr without log records (WARNING/INFO lines)."""
    return [ln for ln in result.stderr.splitlines()
            if ln.strip() and not ln.startswith(("WARNING ", "INFO ", "DEBUG "))]


def assert_nothing_left(out: Path, existed_before: set[str] | None = None) -> None:
    parent = out.parent
    if parent.is_dir():
        partial = [p.name for p in parent.iterdir() if p.name.startswith(".sitescreen-partial-")]
        assert not partial, f"partial output left behind: {partial}"
    if existed_before is None:
        assert not out.is_dir(), f"output folder {out} was created"
    else:
        assert {p.name for p in out.iterdir()} == existed_before


def assert_error(result, expect, code: int) -> str:
    """The CLI result failed as a case says: exit code, one ``Error:`` line, the expected words."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = error_lines(result)
    if code == 1:
        assert len(lines) == 1, lines
        assert lines[0].startswith("Error: "), lines
    msg = "\n".join(lines)
    for text in expect:
        assert text in msg, f"{text!r} not in {msg!r}"
    return msg


def run_case(catalogue: Catalogue, name: str, tmp_path: Path, monkeypatch, request):
    """Build the tiny world, let the case change it, run ``screen`` (or the case's own args) and
    check the failure. A case may set ``w.command`` to run another command than ``screen``."""
    fn, expect, code = catalogue[name]
    w = tw.build(tmp_path / "w")
    fn(w, monkeypatch=monkeypatch, request=request)
    before = {p.name for p in w.out.iterdir()} if w.out.is_dir() else None
    result = run_cli(w.command if getattr(w, "command", None) else w.args())
    msg = assert_error(result, expect, code)
    if not w.out.is_file():
        assert_nothing_left(w.out, before)
    return msg
