"""Every command of the README works when typed as written (issue 14, item 2), and ``make demo``
ends by saying what to open (item 10).

The commands are taken from the README's ```sh blocks, in order (later ones read what earlier
ones wrote: ``explain idaho-out`` needs the Idaho run). They run as a user types them from the
repository's root, in a temporary copy of it: a folder ``repo/`` holding ``examples/`` beside
``shared/data`` (a link to the shared data), so ``D=../shared/data`` and the examples' paths
(``../../shared/data/…``) resolve as in a clone, and every output lands in the temporary folder.
``.venv/bin/sitescreen`` (or ``sitescreen``) is this environment's ``sitescreen`` with this
checkout first on ``PYTHONPATH``. A few commands are not run, each for the reason in
:data:`NOT_RUN`; every entry there must match a README command, so the list cannot go stale.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SITESCREEN = Path(sys.executable).parent / "sitescreen"

#: README commands the test does not run: a substring of the command → why not.
NOT_RUN = {
    "make demo": "creates .venv and installs the project (this suite already runs in it); the command it runs "
                 "is the README's `sitescreen demo` line, run here and by test_make_demo_says_what_to_open",
    "make test": "is this suite",
    "make bench-quick": "a benchmark of 100,000 sites (minutes); bench/ is tested on its own",
    "make qgis-check": "installs Debian's QGIS with apt (minutes) and checks the demo's files in it; run by hand, "
                       "not part of make test (its checks are unit-tested in test_qgis_files.py)",
    "--scheduler tcp://scheduler:8786": "needs a running Dask cluster at that address",
}


def sh_blocks(text: str) -> list[str]:
    """The ```sh code blocks of a Markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[str]:
    """The logical lines of a shell block: continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


def readme_commands() -> list[str]:
    return [c for block in sh_blocks(README.read_text(encoding="utf-8")) for c in commands(block)]


def _argv(command: str, env: dict) -> list[str] | None:
    """The argv of a README command with its variables expanded; None for an assignment (kept in ``env``)."""
    words = shlex.split(command)
    if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
        name, value = words[0].split("=", 1)
        env[name] = value
        return None
    words = [re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env[m.group(1) or m.group(2)], w) for w in words]
    if words[0] in (".venv/bin/sitescreen", "sitescreen"):
        words[0] = str(SITESCREEN)
    return words


def _not_run(command: str) -> str | None:
    return next((why for part, why in NOT_RUN.items() if part in command), None)


@pytest.fixture()
def user_root(tmp_path, shared_data) -> Path:
    """A temporary stand-in for a clone: repo/examples beside shared/data."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "examples", repo / "examples", ignore=shutil.ignore_patterns("out"))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    return repo


def _environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITESCREEN_SIDE")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def test_every_not_run_entry_names_a_readme_command():
    cmds = readme_commands()
    assert cmds, "no ```sh block found in the README"
    for part in NOT_RUN:
        assert any(part in c for c in cmds), f"NOT_RUN entry {part!r} matches no README command"


@pytest.mark.realdata
@pytest.mark.slow
def test_every_readme_command_works_as_written(user_root):
    shell_vars: dict[str, str] = {}
    env = _environment()
    ran = []
    for command in readme_commands():
        if _not_run(command):
            continue
        argv = _argv(command, shell_vars)
        if argv is None:
            continue
        res = subprocess.run(argv, cwd=user_root, env=env, capture_output=True, text=True, timeout=300,
                             stdin=subprocess.DEVNULL)
        assert res.returncode == 0, f"README command failed (exit {res.returncode}): {command}\n{res.stdout}\n{res.stderr}"
        assert "Traceback" not in res.stderr, command
        ran.append((command, res.stdout))
    assert len(ran) >= 10, [c for c, _ in ran]
    idaho = next(out for c, out in ran if "lanthanum_datafile.csv" in c)
    quoted = re.search(r"summary like `(Screened [^`]+)`", " ".join(README.read_text(encoding="utf-8").split()))
    assert quoted and quoted.group(1) in " ".join(idaho.split()), (quoted and quoted.group(1), idaho)


def test_make_demo_says_what_to_open(tmp_path):
    """`make demo`'s own recipe (from the Makefile, with this environment's sitescreen) ends by
    naming the map and the report to open."""
    make = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n\t(.+)$", make, flags=re.M).group(1)
    argv = shlex.split(recipe.replace("$(BIN)/sitescreen", str(SITESCREEN)))
    assert argv[0] == str(SITESCREEN), recipe
    readme = [c for c in readme_commands() if "sitescreen" in c and shlex.split(c)[1:2] == ["demo"]]
    assert readme == [shlex.join([".venv/bin/sitescreen", *argv[1:]])]  # the README says what make demo runs
    res = subprocess.run(argv, cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stdout + res.stderr
    out = Path(argv[argv.index("--out") + 1])
    assert res.stdout.splitlines()[-1] == f"Open {out / 'map.html'} (the map) and {out / 'report.html'} (the review report)."
    assert (tmp_path / out / "map.html").is_file() and (tmp_path / out / "report.html").is_file()
