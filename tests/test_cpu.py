"""The run record's CPU seconds count this process and the live processes it started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitescreen.run.cpu import _stat, cpu_seconds

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass\ntime.sleep(60)\n"


def test_a_live_childs_cpu_seconds_are_counted():
    before = cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        deadline = time.monotonic() + 30
        while (_stat(str(child.pid)) or (0, 0.0))[1] < 0.8 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = _stat(str(child.pid))[1]
        assert used >= 0.8
        assert cpu_seconds() - before >= used  # counted while alive, before it is waited for
    finally:
        child.kill()
        child.wait()


def test_the_run_record_says_cpu_seconds_of_measuring_and_of_the_run(demo_result):
    t = demo_result.manifest.timings
    assert 0 < t["cpu_measure"] <= t["cpu_total"]
