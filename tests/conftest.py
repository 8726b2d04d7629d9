"""Shared fixtures. Real-data tests read ../shared/data (see SHARED_DATA); they skip with a reason
on a machine without it, and fail when SITESCREEN_REQUIRE_DATA=1 (CI)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# A test run started in the background by a non-interactive shell (`nohup make test &`) inherits
# SIGINT ignored, and so would every sitescreen process the tests start: the tests that stop a run
# with SIGINT would see it ignored. Ctrl-C is given its usual meaning back, for this process and
# (reset to the default at exec) its children.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SITESCREEN_SHARED_DATA", REPO.parent / "shared" / "data"))


def _require_data() -> bool:
    return os.environ.get("SITESCREEN_REQUIRE_DATA", "") not in ("", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (../shared/data), or skip/fail with a clear reason."""
    marker = SHARED_DATA / "mineral_deposits" / "lanthanum_datafile.csv"
    if not marker.exists():
        msg = (f"real data not found at {SHARED_DATA} (expected the shared Idaho data beside the repo, "
               f"or set SITESCREEN_SHARED_DATA)")
        if _require_data():
            pytest.fail(msg + "; SITESCREEN_REQUIRE_DATA=1 makes it mandatory", pytrace=False)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The demo region, generated once per test session; returns the folder (with sitescreen.toml)."""
    from sitescreen.demo.demo import generate_demo
    folder = tmp_path_factory.mktemp("demo-data")
    generate_demo(folder)
    return folder


@pytest.fixture(scope="session")
def demo_result(demo_dir):
    """The demo screened in-process with the default profile (a sitescreen.run.pipeline.Result)."""
    from sitescreen.run.config import load_config
    from sitescreen.run.pipeline import screen
    return screen(load_config(demo_dir / "sitescreen.toml"))


@pytest.fixture(scope="session")
def manifest_validator():
    """A validator of the committed manifest JSON Schema (sitescreen/record/manifest.schema.json)."""
    import json

    import jsonschema

    from sitescreen.record.manifest import SCHEMA_FILE
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright: one for the whole session, shared by every browser test
    module (a second sync Playwright in the same process fails)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium; run `make browser`",
                    pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# ---------------------------------------------------------------------------------------------
# The suite leaves no sitescreen-* folder in the temp folder (issue 14, item 8)
#
# Every test, and every sitescreen process a test starts (they inherit TMPDIR), uses a temp folder
# of this session alone, so other test runs sharing /tmp neither hide nor cause a leftover. At the
# end it must hold no sitescreen-* folder; it is removed when the session passed.

_SESSION_TMP: list[Path] = []


def pytest_sessionstart(session):
    import tempfile
    root = Path(tempfile.mkdtemp(prefix=f"suite-{os.getpid()}-", dir=tempfile.gettempdir()))
    os.environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    _SESSION_TMP.append(root)


def pytest_sessionfinish(session, exitstatus):
    import shutil
    import tempfile
    if not _SESSION_TMP:
        return
    root = _SESSION_TMP.pop()
    left = sorted(p.name for p in root.glob("sitescreen-*"))
    if left:
        session.config.get_terminal_writer().line(
            f"sitescreen left {len(left)} folder(s) in the temp folder {root}: {', '.join(left)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif exitstatus == 0:
        shutil.rmtree(root, ignore_errors=True)
    tempfile.tempdir = None


@pytest.fixture(autouse=True)
def sitescreen_log_level():
    """The CLI sets the ``sitescreen`` logger's level in-process (``-q`` → ERROR), also from
    module-scoped fixtures; every test starts with the level unset, so a test that reads the log
    does not depend on which CLI call ran before it."""
    import logging
    logger = logging.getLogger("sitescreen")
    logger.setLevel(logging.NOTSET)
    yield
    logger.setLevel(logging.NOTSET)
