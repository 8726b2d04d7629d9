"""Work beside the measuring, each in a thread of its own: scoring and writing a chunk while the
next one is measured (a run's result writer one chunk behind, :class:`WriterBehind`), and reading
the next chunk and beginning its measuring (:func:`ahead`, one chunk ahead).

Scoring and writing a chunk (GeoPackage, GeoParquet and CSV: mostly native code, which lets the
measuring go on) take a sixth of a large run; done in line, a core waits for them.
:class:`WriterBehind` hands each chunk's work to one thread, in order (:meth:`later`), and holds
at most one chunk waiting: memory stays bounded by the chunk size. A failed write is raised at the next append, at :meth:`flush` or at
:meth:`close`, never lost; :meth:`abort` waits for the thread before the files are closed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

_END = object()


def ahead(items: Iterable, start: Callable, stop: Callable = lambda started: None) -> Iterator:
    """``start(item)`` for each of ``items``, in order; the next item is taken from ``items`` and
    started in a thread of its own while the caller works on the current one (one ahead at most:
    memory stays bounded by two chunks). An error in reading or starting is raised where the
    caller asks for that item. Should the caller stop early, the item started ahead is given to
    ``stop`` (say, to drop the work it handed out)."""
    it = iter(items)

    def take():
        for item in it:
            return start(item)
        return _END

    with ThreadPoolExecutor(1, thread_name_prefix="sitescreen-reader") as pool:
        pending = pool.submit(take)
        try:
            while (got := pending.result()) is not _END:
                pending = pool.submit(take)
                yield got
        finally:
            if not pending.cancel() and pending.exception() is None and (left := pending.result()) is not _END:
                stop(left)


def timed(items: Iterable, timings: dict, key: str) -> Iterator:
    """``items``, the seconds spent getting each added to ``timings[key]``."""
    it = iter(items)
    while True:
        t = time.perf_counter()
        item = next(it, _END)
        timings[key] += time.perf_counter() - t
        if item is _END:
            return
        yield item


class WriterBehind:
    """``writer`` (``append(frame)``, ``close(manifest)``, ``abort()``) appended to in a thread of its
    own, by :meth:`append` or by a chunk's work given to :meth:`later`; :attr:`seconds` is the time
    that thread spent appending."""

    stage = "write"

    def __init__(self, writer):
        self.writer = writer
        self.seconds = 0.0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sitescreen-writer")
        self._last: Future | None = None

    def _append(self, frame) -> None:
        t = time.perf_counter()
        try:
            self.writer.append(frame)
        finally:
            self.seconds += time.perf_counter() - t

    def append(self, frame) -> None:
        self.later(self._append, frame)

    def later(self, work, *args) -> None:
        """``work(*args)`` in the thread, after the previous chunk's work; one chunk behind at most:
        the previous chunk's error, if any, is raised here."""
        self.flush()
        self._last = self._pool.submit(work, *args)

    def flush(self) -> None:
        """Wait for the chunk being written; raise its error, if it failed."""
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def close(self, manifest) -> None:
        self.flush()
        self.writer.close(manifest)

    def abort(self) -> None:
        try:
            last, self._last = self._last, None
            if last is not None:
                last.exception()  # wait for it; the run is already failing or done
        finally:
            self._pool.shutdown(wait=True)
            self.writer.abort()
