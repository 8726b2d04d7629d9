"""Child processes that die with their parent: no process outlives its run.

Every process sitescreen starts (batch workers, the raster side process) comes from
:func:`process_pool`. Each child, before any work:

- asks Linux to send it ``on_parent_death`` when its parent dies, even by SIGKILL
  (``prctl(PR_SET_PDEATHSIG)``; it fires when the parent *thread* that started the child ends, so
  pools are started and used from the thread that owns them, the main thread here);
- runs a watchdog thread that compares ``os.getppid()`` with the parent's pid every
  :data:`WATCH_SECONDS` (portable, and it catches a parent that died before the child was set up);
  when the parent is gone it sends ``on_parent_death`` to itself and, ``grace`` seconds later,
  SIGKILL.

At this process's normal exit its pools are stopped (:func:`stop_pool`) before multiprocessing
joins its children, so a pool left open never blocks an exit.

A batch worker takes SIGTERM (it unwinds and removes its temporary output folder) with a short
grace; the side process takes SIGKILL at once. Their children go the same way, so a whole tree
dies with its root; the multiprocessing resource tracker exits when the last of them is gone (its
pipe closes).
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


def process_pool(max_workers: int, *, initializer: Callable | None = None, initargs: tuple = (),
                 on_parent_death: int = signal.SIGKILL, grace: float = 0.0) -> ProcessPoolExecutor:
    """A process pool (spawned, never forked: this process runs threads and holds GDAL state)
    whose workers die when this process dies (see the module text), then run ``initializer``."""
    import multiprocessing
    from multiprocessing import util
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_child_init,
                               initargs=(os.getpid(), int(on_parent_death), float(grace), initializer, initargs))
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


def _child_init(parent: int, sig: int, grace: float, initializer: Callable | None, initargs: tuple) -> None:
    if initializer is not None:
        initializer(*initargs)
    die_with_parent(parent, sig, grace)


def die_with_parent(parent: int, sig: int = signal.SIGKILL, grace: float = 0.0) -> None:
    """In a child of ``parent``: get ``sig`` when the parent dies, and SIGKILL ``grace`` s later."""
    _set_pdeathsig(sig)
    if os.getppid() != parent:  # the parent died before the request was in place
        _parent_gone(sig, grace)
        return
    threading.Thread(target=_watch, args=(parent, sig, grace), name="sitescreen-parent-watch", daemon=True).start()


def _set_pdeathsig(sig: int) -> bool:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        return False


def _watch(parent: int, sig: int, grace: float) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    _parent_gone(sig, grace)


def _parent_gone(sig: int, grace: float) -> None:
    if sig != signal.SIGKILL:
        os.kill(os.getpid(), sig)
        time.sleep(grace)
    os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["process_pool", "stop_pool", "die_with_parent", "WATCH_SECONDS"]
