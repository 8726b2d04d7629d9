"""A screening stopped by SIGTERM or SIGINT leaves no output folder and no temporary folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RESULT_FILES = ("sites.gpkg", "sites.parquet", "sites.csv", "manifest.json")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_screen_stopped_by_a_signal_leaves_nothing_half_written(demo_dir, tmp_path, sig):
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("sitescreen")
    proc = subprocess.Popen([str(exe), "screen", "--config", str(demo_dir / "sitescreen.toml"), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # inside the run (imports take about 1.5 s, the screening several more)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    partials = list(tmp_path.glob(".sitescreen-partial-*"))
    assert partials == []
    if out.exists():  # the folder is moved into place whole (even when the signal came just after)
        assert all((out / f).exists() for f in RESULT_FILES)
        assert proc.returncode in (0, 130, -sig), stderr  # -sig: it landed as the process was exiting
    elif proc.returncode == 130:  # stopped inside the run: reported in one line
        assert "Interrupted; no partial output was left." in stderr
        assert "Traceback" not in stderr
    else:  # stopped while Python was still importing (a loaded machine): killed before any work
        assert proc.returncode == -sig, stderr
