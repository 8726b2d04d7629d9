"""CPU seconds of a run: this process and every process it started (the raster side process, a
local Dask cluster's workers), for the run record's timings (``cpu_measure``, ``cpu_total``): with
the wall seconds and the cores they say how busy the machine was (the bench's ``cpu_busy``).

Live child processes are read from ``/proc`` (Linux); children that have ended and been waited for
are in :func:`os.times`. Without ``/proc`` the live children cannot be counted, so the figure is
``None`` rather than too low.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of process ``pid``, or None when it is gone."""
    try:
        text = (_PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (name) ": state, ppid, ...
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def cpu_seconds() -> float | None:
    """CPU seconds (user + system) used so far by this process, its live descendants and the
    children it has waited for; None where live processes cannot be read (no ``/proc``)."""
    if not (_PROC / "self" / "stat").exists():
        return None
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (got := _stat(entry.name)) is not None:
            children.setdefault(got[0], []).append(int(entry.name))
            seconds[int(entry.name)] = got[1]
    todo, seen = list(children.get(os.getpid(), [])), set()
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    return total + sum(seconds[p] for p in seen)
