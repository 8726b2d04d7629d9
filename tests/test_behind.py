"""Chunks written in a thread of their own while the next is measured: in order, errors never lost."""

from __future__ import annotations

import threading
import time

import pytest

from sitescreen.run.behind import WriterBehind


class Recorder:
    def __init__(self, fail_at=None, delay=0.0):
        self.frames, self.closed, self.aborted, self.threads = [], None, 0, set()
        self.fail_at, self.delay = fail_at, delay

    def append(self, frame):
        time.sleep(self.delay)
        self.threads.add(threading.current_thread().name)
        if frame == self.fail_at:
            raise OSError(f"disk full writing chunk {frame}")
        self.frames.append(frame)

    def close(self, manifest):
        self.closed = manifest

    def abort(self):
        self.aborted += 1


def test_chunks_are_written_in_order_in_another_thread_and_timed():
    rec = Recorder(delay=0.02)
    w = WriterBehind(rec)
    for k in range(5):
        w.append(k)
    w.close({"run": 1})
    w.abort()
    assert rec.frames == [0, 1, 2, 3, 4] and rec.closed == {"run": 1} and rec.aborted == 1
    assert rec.threads and threading.current_thread().name not in rec.threads
    assert w.seconds >= 5 * 0.02


@pytest.mark.parametrize("then", ["append", "close"])
def test_a_failed_write_is_raised_at_the_next_call(then):
    rec = Recorder(fail_at=1)
    w = WriterBehind(rec)
    w.append(0)
    w.append(1)
    with pytest.raises(OSError, match="disk full writing chunk 1"):
        w.append(2) if then == "append" else w.close({})
    assert rec.closed is None
    w.abort()
    assert rec.frames == [0] and rec.aborted == 1


def test_abort_waits_for_the_chunk_being_written():
    rec = Recorder(delay=0.3)
    w = WriterBehind(rec)
    w.append(0)
    w.abort()  # the run failed while chunk 0 was being written: it is finished before the files close
    assert rec.frames == [0] and rec.aborted == 1
