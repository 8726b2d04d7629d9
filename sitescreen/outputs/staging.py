"""The output folder's guard, lock and staging: a run writes into a locked temporary sibling that
replaces the output folder whole at the end.

An output folder is written whole into a temporary sibling folder and moved into place at the
end, so a failed or killed run never leaves a half-written folder; an existing folder is replaced
only with ``overwrite``, and only when :func:`guard_replace` finds it is an earlier sitescreen
output (or empty) that holds no input of the run.

The temporary folder is locked (``flock``) by the run that writes it for as long as it lives, so
another run on the same output stops with an error and removes a temporary folder only when its
owner is gone. Just before the folder is moved into place, :func:`seal` records the SHA-256 of
every other file in the manifest's ``outputs`` section (``sitescreen verify`` checks them; the
manifest cannot hold its own hash: its facts are checked against a re-run and its recorded paths
against the files hashed). Any failure while writing is an :class:`OutputError` naming the output
folder, never the temporary one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyogrio

from sitescreen.children import folder_locked, pid_alive
from sitescreen.errors import OutputError, SitescreenError
from sitescreen.record import manifest as runrecord
from sitescreen.record.decisions import REVIEWS_FILE
from sitescreen.record.manifest import OutputFile

RESULT_FILES = ("sites.gpkg", "sites.parquet", "sites.csv", "sites.csvt", "manifest.json")
MERGES_FILE = "merges.csv"  # every merge of duplicate deposit records, when a run merged some
OPTIONAL_RESULT_FILES = (MERGES_FILE,)
SENSITIVITY_FILES = ("sensitivity.parquet", "sensitivity.csv")  # written by `sitescreen sensitivity`
OUTPUT_FILES = RESULT_FILES + OPTIONAL_RESULT_FILES + ("map.html", "report.html") + SENSITIVITY_FILES
#: what ``--overwrite`` may remove: the outputs, and the files SQLite keeps beside an open GeoPackage
REPLACEABLE = frozenset(OUTPUT_FILES + ("sites.gpkg-wal", "sites.gpkg-shm", "sites.gpkg-journal"))
PARTIAL_PREFIX = ".sitescreen-partial-"
#: user files a run folder may hold that no run ever replaces, with what they are
PRECIOUS = {REVIEWS_FILE: "the reviewers' decisions on this run (sitescreen review)"}


def check_out_dir(out_dir: Path, overwrite: bool, protected=()) -> None:
    """Refuse an output path that cannot be used, before any work is done (``protected``: the
    run's input, config, profile and jobs files, which the output folder must not hold)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: output path exists and is a file, not a folder; choose another output folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise OutputError(f"{out_dir}: output folder exists and is not empty; pass --overwrite to replace it")
    guard_replace(out_dir, protected)
    parent = existing_parent(out_dir)  # missing folders between it and out_dir are made by staged_dir
    if not parent.is_dir():
        raise OutputError(f"{out_dir}: {parent} is a file, not a folder; choose another output folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: parent folder {parent} is not writable; choose a writable output folder")
    check_not_busy(out_dir)


def existing_parent(out_dir: Path) -> Path:
    """The nearest existing folder (or file) above ``out_dir``, resolved: ``out_dir``'s parent when it exists."""
    return next(p for p in resolved(out_dir).parents if os.path.lexists(p))


@contextmanager
def parents_made(out_dir: Path) -> Iterator[None]:
    """The one rule for a missing parent of an output folder (``screen --out a/b`` and a batch job's
    ``out = "out/idaho"`` alike): the missing folders are made, and removed again (only those this
    run made, only while empty) when the run fails."""
    missing = [p for p in resolved(out_dir).parents if not os.path.lexists(p)]  # innermost first
    try:
        resolved(out_dir).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create its parent folder {resolved(out_dir).parent} "
                          f"({exc.strerror or exc}); choose a writable output folder") from None
    try:
        yield
    except BaseException:
        for p in missing:
            try:
                p.rmdir()
            except OSError:  # not empty: another run writes there now
                break
        raise


def resolved(p) -> Path:
    """``p`` with every symlink and ``..`` resolved (whether or not it exists)."""
    return Path(os.path.realpath(os.path.abspath(p)))


def places(p) -> set[Path]:
    """Where a path is: its target, and the entry itself (a symlink in a folder is in that folder)."""
    a = os.path.abspath(p)
    return {resolved(a), resolved(os.path.dirname(a)) / os.path.basename(a)}


def guard_replace(out_dir: Path, protected=()) -> None:
    """Refuse to let a run replace ``out_dir`` unless it is empty or an earlier sitescreen output
    holding only sitescreen's files, and is none of: a filesystem root, the current directory or
    one of its ancestors, a folder holding (at any depth) or being one of the ``protected`` paths.
    Every path is resolved (symlinks, ``..``) before it is compared."""
    real = guard_never(out_dir, protected)
    if not real.is_dir():
        return
    entries = sorted(e.name for e in real.iterdir())
    if not entries:
        return
    if not is_sitescreen_output(real):
        raise OutputError(f"{out_dir}: not an earlier sitescreen output (no sitescreen manifest.json); --overwrite "
                          f"replaces only such a folder or an empty one; choose another output folder")
    precious = [e for e in entries if e in PRECIOUS]
    if precious:
        raise OutputError(f"{out_dir}: holds {precious[0]}, {PRECIOUS[precious[0]]}; --overwrite never replaces it: "
                          f"screen into a new folder (sitescreen diff OLD NEW --carry-decisions carries the decisions)")
    foreign = [e for e in entries if e not in REPLACEABLE or not (real / e).is_file()]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise OutputError(f"{out_dir}: holds {foreign[0]}{more}, which sitescreen did not write; --overwrite replaces "
                          f"only sitescreen's own files ({', '.join(OUTPUT_FILES)}); move it or choose another output folder")


def guard_never(out_dir: Path, protected=()) -> Path:
    """The folders no run ever replaces, whatever they hold: a filesystem root, the current directory
    or one of its ancestors, a folder that is or holds one of ``protected``. Returns ``out_dir``
    resolved."""
    real = resolved(out_dir)
    if real.parent == real:
        raise OutputError(f"{out_dir}: is the root of a filesystem; write the results to a new folder in it")
    try:
        cwd = resolved(os.getcwd())
    except FileNotFoundError:  # the current directory was removed: nothing there to protect
        cwd = None
    if cwd is not None and (real == cwd or real in cwd.parents):
        raise OutputError(f"{out_dir}: is the current directory{' or holds it' if real != cwd else ''}; "
                          f"an output folder is replaced whole, so write the results to a new folder "
                          f"(e.g. {Path(out_dir) / 'results'})")
    for p in protected:
        if any(q == real or real in q.parents for q in places(p)):
            raise OutputError(f"{out_dir}: holds {p}, which the run reads; an output folder is replaced whole, "
                              f"so choose one that holds no input, config, profile or jobs file")
    return real


def is_sitescreen_output(folder: Path) -> bool:
    """True when ``folder`` holds a manifest.json written by sitescreen."""
    return runrecord.written_by_sitescreen(Path(folder) / "manifest.json")


WRITE_ERRORS = (OSError, sqlite3.Error, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError)


def _write_errors() -> tuple[type[BaseException], ...]:
    try:
        import pyarrow as pa
        return WRITE_ERRORS + (pa.ArrowException,)
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return WRITE_ERRORS


def write_error(out_dir: Path, exc: BaseException, staging: Path | None = None) -> OutputError:
    """A failure while writing ``out_dir`` as one line naming ``out_dir`` (never the staging folder)."""
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or re.search(r"no space left|disk is full|quota exceeded", text, re.I):
        return OutputError(f"{out_dir}: no space left on the device while writing results; nothing was written; "
                           f"free some space or choose another output folder")
    reason = getattr(exc, "strerror", None) or text or type(exc).__name__
    if staging is not None:
        reason = reason.replace(str(staging), str(out_dir))
    reason = " ".join(reason.split())
    return OutputError(f"{out_dir}: cannot write results ({reason}); nothing was written")


@contextmanager
def staged_dir(out_dir: Path, overwrite: bool, protected=()) -> Iterator[Path]:
    """A temporary folder beside ``out_dir``, locked by this process, that replaces it on success
    (after :func:`seal`) and vanishes on failure. A symlinked ``out_dir`` keeps its link: the folder
    it points to is replaced. Missing parent folders are made (:func:`parents_made`)."""
    out_dir = Path(out_dir)
    check_out_dir(out_dir, overwrite, protected)
    with parents_made(out_dir), _staged(out_dir, overwrite, protected) as tmp:
        yield tmp


@contextmanager
def _staged(out_dir: Path, overwrite: bool, protected=()) -> Iterator[Path]:
    real = resolved(out_dir)
    clean_stale(out_dir)
    tmp, lock = _claim(out_dir, real)
    try:
        check_not_busy(out_dir, mine=tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are shared like any folder
        yield tmp
        seal(tmp)
        guard_replace(out_dir, protected)  # again: nothing of the user's arrived there meanwhile
        _swap(tmp, real)
    except SitescreenError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if str(tmp) in str(exc):
            raise type(exc)(str(exc).replace(str(tmp), str(out_dir))) from None
        raise
    except _write_errors() as exc:  # a full disk, a failing device or a failed GDAL/SQLite/Arrow write
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out_dir, exc, tmp) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)


def _claim(out_dir: Path, real: Path) -> tuple[Path, int]:
    """A new temporary sibling of ``real`` named with this process's id (``….pid<N>``) and locked
    by it for the whole run (the lock dies with the process)."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{real.name}-", suffix=f".pid{os.getpid()}",
                                    dir=real.parent))
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create a folder in {real.parent} ({exc.strerror or exc}); "
                          f"choose a writable output folder") from None
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return tmp, fd


def _swap(tmp: Path, real: Path) -> None:
    old = None
    if real.exists():
        old = real.parent / f"{PARTIAL_PREFIX}{real.name}-old-{os.getpid()}"
        os.replace(real, old)
    os.replace(tmp, real)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _siblings(out_dir: Path) -> list[Path]:
    """The temporary siblings of ``out_dir`` (only its own: ".sitescreen-partial-idaho-2-…"
    belongs to "idaho-2", not to "idaho")."""
    real = resolved(out_dir)
    parent = real.parent
    mine = re.compile(re.escape(f"{PARTIAL_PREFIX}{real.name}-") + r"(old-\d+|[A-Za-z0-9_]{8}(\.pid\d+|\.new)?)")
    return sorted(p for p in parent.glob(f"{PARTIAL_PREFIX}*") if mine.fullmatch(p.name)) if parent.is_dir() else []


#: A folder younger than this whose named process is alive is being claimed (made, not yet locked).
CLAIM_SECONDS = 60.0


def _owner(folder: Path) -> int | None:
    """The pid of the live run that holds ``folder``, or None when its run is gone."""
    m = re.search(r"\.pid(\d+)$", folder.name)
    locked = folder_locked(folder)
    if locked is None:
        return None
    if locked:
        return int(m.group(1)) if m else -1
    if m and pid_alive(int(m.group(1))):
        try:
            young = time.time() - folder.stat().st_mtime < CLAIM_SECONDS
        except OSError:
            return None
        return int(m.group(1)) if young else None
    return None


def check_not_busy(out_dir: Path, mine: Path | None = None) -> None:
    """Stop when another live sitescreen run is writing ``out_dir``."""
    for p in _siblings(out_dir):
        if p != mine and not p.name.startswith(f"{PARTIAL_PREFIX}{resolved(out_dir).name}-old-"):
            pid = _owner(p)
            if pid is not None:
                raise OutputError(f"{out_dir}: is being written by another sitescreen run (pid {pid}); "
                                  f"wait for it to finish or choose another output folder")


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove temporary siblings of ``out_dir`` whose run is gone (killed); return what was removed.
    A folder locked by a live run is left alone."""
    stale = [p for p in _siblings(out_dir) if _owner(p) is None]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def output_record(path: Path) -> OutputFile:
    """What the manifest's ``outputs`` section records of one output file."""
    return OutputFile(sha256=sha256(path), bytes=Path(path).stat().st_size)


def seal(folder: Path) -> None:
    """Record the SHA-256 of every output file of ``folder`` but the manifest in its ``outputs``."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        return
    record = runrecord.read_record(path)
    write_manifest(path, runrecord.with_outputs(record, {
        p.name: output_record(p) for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "manifest.json" and not p.name.startswith(".")}))


def write_manifest(path: Path, record) -> None:
    """manifest.json, the one place it is written: the run record as strict JSON, atomically."""
    atomic_write_text(path, runrecord.to_json(record))


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None


__all__ = ["check_out_dir", "guard_replace", "guard_never", "staged_dir", "clean_stale", "check_not_busy", "seal",
           "write_manifest", "atomic_write_text", "RESULT_FILES", "OPTIONAL_RESULT_FILES", "MERGES_FILE", "OUTPUT_FILES", "PARTIAL_PREFIX"]
