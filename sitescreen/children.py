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
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

log = logging.getLogger(__name__)

#: Seconds between the watchdog's looks at the parent pid.
WATCH_SECONDS = 0.25
_PR_SET_PDEATHSIG = 1


def process_pool(max_workers: int, *, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A process pool (spawned, never forked: this process runs threads and holds GDAL state)
    whose workers die when this process dies (see the module text), then run ``initializer``."""
    import multiprocessing
    from multiprocessing import util
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_child_init,
                               initargs=(os.getpid(), initializer, initargs))
    # at exit, before multiprocessing joins this process's children (a pool left open, e.g. the side
    # process of a batch worker, would otherwise be waited for forever)
    util.Finalize(pool, stop_pool, args=(pool,), exitpriority=100)  # before the queues' own (10)
    return pool


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: pending work cancelled, its processes sent SIGTERM."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        try:
            p.terminate()
        except Exception:  # already gone
            pass


def _child_init(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    if initializer is not None:
        initializer(*initargs)
    die_with_parent(parent)


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


__all__ = ["process_pool", "stop_pool", "die_with_parent", "WATCH_SECONDS"]
