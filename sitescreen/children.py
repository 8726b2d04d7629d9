"""Child processes that die with their parent: no process outlives its run.

Every process sitescreen starts (batch workers, the raster side process) comes from
:func:`process_pool`. Each child, before any work:

- asks Linux to send it SIGKILL when its parent dies, even by SIGKILL (``prctl(PR_SET_PDEATHSIG)``,
  delivered by the kernel, so it works while the child is inside C code holding the GIL; it fires
  when the parent *thread* that started the child ends, so pools are started and used from the
  thread that owns them, the main thread here);
- runs a watchdog thread that compares ``os.getppid()`` with the parent's pid every
  :data:`WATCH_SECONDS` (portable, and it catches a parent that died before the child was set up)
  and kills the child when the parent is gone.

At this process's normal exit its pools are stopped (:func:`stop_pool`) before multiprocessing
joins its children, so a pool left open never blocks an exit.

Their children go the same way, so a whole tree dies with its root; the multiprocessing resource
tracker exits when the last of them is gone (its pipe closes). A killed batch worker's temporary
output folder is removed by the next run (:func:`sitescreen.outputs.staging.clean_stale`).

Scratch folders in the system temp folder (derived rasters, a re-run by ``verify``) come from
:func:`scratch_dir`: named ``sitescreen-<what>-pid<N>-…`` and locked by the process that made them,
removed when it is done, when a child is stopped by SIGTERM (:func:`stop_pool` gives it
:data:`STOP_SECONDS` to do so), and otherwise (a process killed outright) by the next one that
makes a scratch folder, once the owner is gone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)

#: Seconds between the watchdog's looks at the parent pid.
WATCH_SECONDS = 0.25
_PR_SET_PDEATHSIG = 1


def process_pool(max_workers: int, *, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A process pool (spawned, never forked: this process runs threads and holds GDAL state)
    whose workers die when this process dies (see the module text), then run ``initializer``."""
    import multiprocessing
    from multiprocessing import util
    _start_tracker()
    os.environ[PARENT_ENV] = str(os.getpid())  # read by the children as they start (early_die_with_parent)
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_child_init,
                               initargs=(os.getpid(), initializer, initargs))
    # at exit, before multiprocessing joins this process's children (a pool left open, e.g. the side
    # process of a batch worker, would otherwise be waited for forever)
    util.Finalize(pool, stop_pool, args=(pool,), exitpriority=100)  # before the queues' own (10)
    return pool


#: The resource tracker's warning when the process it serves is gone with semaphores still named
#: (a kill): it removes them, so nothing leaks, but the warning would land on the killed run's stderr.
TRACKER_QUIET = "ignore:resource_tracker:UserWarning"


def _start_tracker() -> None:
    """Start multiprocessing's resource tracker (once per process) with its cleanup-after-a-kill
    warning silenced (:data:`TRACKER_QUIET`, passed as ``-W`` on its command line)."""
    import sys
    from multiprocessing import resource_tracker
    added = TRACKER_QUIET not in sys.warnoptions
    if added:
        sys.warnoptions.append(TRACKER_QUIET)
    try:
        resource_tracker.ensure_running()
    finally:
        if added:
            sys.warnoptions.remove(TRACKER_QUIET)


#: Seconds :func:`stop_pool` waits for stopped processes to remove their scratch folders.
STOP_SECONDS = 2.0


def simple_queue():
    """A queue to a pool's workers (hand it to them as an ``initargs`` of :func:`process_pool`);
    made like the pools, so that a kill leaves no warning behind (:func:`_start_tracker`)."""
    import multiprocessing
    _start_tracker()
    return multiprocessing.get_context("spawn").SimpleQueue()


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: pending work cancelled, its processes sent SIGTERM and given
    :data:`STOP_SECONDS` to remove what they made."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        try:
            p.terminate()
        except Exception:  # already gone
            pass
    deadline = time.monotonic() + STOP_SECONDS
    for p in processes:
        try:
            p.join(max(0.0, deadline - time.monotonic()))
        except Exception:  # not started, or already reaped
            pass


def _child_init(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGTERM, _stopped)  # an initializer may set its own
    if initializer is not None:
        initializer(*initargs)
    die_with_parent(parent)


#: The environment variable naming the pid of a process that starts pool children (:func:`process_pool`).
PARENT_ENV = "SITESCREEN_POOL_PARENT"


def early_die_with_parent() -> None:
    """At a spawned child's first import of sitescreen, before its heavy imports (seconds on a busy
    machine): be killed when the parent named by :data:`PARENT_ENV` dies, so a parent killed while
    the child is still starting takes it along (:func:`die_with_parent` adds the watchdog later).
    Only a child being spawned by that process asks; any other process is left alone."""
    import sys
    parent = os.environ.get(PARENT_ENV, "")
    spawn = sys.modules.get("multiprocessing.process")
    starting = spawn is not None and getattr(spawn.current_process(), "_inheriting", False)  # spawn's bootstrap
    if not starting or not parent.isdigit():
        return
    if os.getppid() != int(parent):
        if not pid_alive(int(parent)):  # it spawned this child and died before the child got here
            _parent_gone()
        return  # spawned by another process (which inherited the variable): left alone
    _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != int(parent):  # the parent died before the request was in place
        _parent_gone()


def die_with_parent(parent: int) -> None:
    """In a child of ``parent``: be killed when the parent dies."""
    _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request was in place
        _parent_gone()
    threading.Thread(target=_watch, args=(parent,), name="sitescreen-parent-watch", daemon=True).start()


def _set_pdeathsig(sig: int) -> bool:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    _parent_gone()


def _parent_gone() -> None:
    log.debug("parent process gone; this child stops")
    os.kill(os.getpid(), signal.SIGKILL)


def _stopped(signum, frame) -> None:
    """SIGTERM in a child: its scratch folders removed, then it ends (no traceback)."""
    for folder in list(_SCRATCH):
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(128 + signum)


#: The scratch folders this process holds (removed by :func:`_stopped` too).
_SCRATCH: set[Path] = set()
SCRATCH_PREFIX = "sitescreen-"
_SCRATCH_NAME = re.compile(re.escape(SCRATCH_PREFIX) + r"[a-z]+-pid(\d+)-[A-Za-z0-9_]+")


@contextmanager
def scratch_dir(what: str) -> Iterator[Path]:
    """A private folder in the system temp folder for this process's scratch files
    (``sitescreen-<what>-pid<N>-…``), locked while it lives and removed at the end; scratch folders
    whose owner was killed are removed first."""
    clean_stale_scratch()
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{what}-pid{os.getpid()}-"))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _SCRATCH.add(folder)
    try:
        yield folder
    finally:
        _SCRATCH.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def clean_stale_scratch() -> list[Path]:
    """Remove the scratch folders (named by :func:`scratch_dir`) whose process is gone and whose
    lock is free; return them. Any other folder is left alone."""
    gone = []
    for p in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-pid*-*"):
        m = _SCRATCH_NAME.fullmatch(p.name)
        if m and p.is_dir() and not p.is_symlink() and not pid_alive(int(m.group(1))) and _unlocked(p):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust the signal


def folder_locked(folder: Path) -> bool | None:
    """Whether another process holds ``folder``'s ``flock`` (a run writing it); None when the folder
    cannot be opened. Probing takes and at once releases the lock."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here


def _unlocked(folder: Path) -> bool:
    return folder_locked(folder) is False


__all__ = ["folder_locked", "pid_alive", "process_pool", "simple_queue", "stop_pool", "die_with_parent", "scratch_dir", "clean_stale_scratch", "WATCH_SECONDS",
           "STOP_SECONDS"]
