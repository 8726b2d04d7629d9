"""Whether a finished run's inputs are still the files it read: each re-hashed against the run record.

Used by ``verify`` (every difference is reported) and by ``batch`` (a job whose inputs still hash
the same is not run again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sitescreen.inputs.check import file_sha256
from sitescreen.errors import ProfileError
from sitescreen.rules.profilesource import read_profile
from sitescreen.record.manifest import RunRecord


@dataclass(frozen=True)
class Difference:
    """One way the run does not reproduce: the file it is in, and what differs."""

    file: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}: {self.detail}"


def check_inputs(manifest: RunRecord, config) -> list[Difference]:
    """Re-hash the sites file, every layer and the profile of a run against its manifest."""
    out: list[Difference] = []
    for what, path, recorded in recorded_inputs(manifest, config, out):
        if not path.exists():
            out.append(Difference(str(path), f"{what} file not found (it was an input of the run)"))
            continue
        try:  # a profile's hash covers the profiles it extends (rules/profilesource.py)
            now = read_profile(path)[1] if what == "profile" else file_sha256(path)
        except ProfileError as e:
            out.append(Difference(str(path), f"profile cannot be read now: {e}"))
            continue
        if now != recorded:
            out.append(Difference(
                str(path), f"{what} file has changed since the run (sha256 {short_hash(recorded)} in the manifest, {short_hash(now)} now)"))
    return out


def recorded_inputs(manifest: RunRecord, config, out: list[Difference]) -> list[tuple[str, Path, str | None]]:
    """(what, path, recorded sha256) of every input: the manifest lists vector layers, then rasters."""
    from sitescreen.rules.profile import builtin_profiles
    checks: list[tuple[str, Path, str | None]] = []
    if config.sites is not None:
        checks.append(("sites", Path(config.sites.path), manifest.sites.sha256))
    specs = [s for s in config.layers if s.kind == "vector"] + [s for s in config.layers if s.kind == "raster"]
    entries = manifest.inputs
    if len(entries) != len(specs):
        out.append(Difference("manifest.json", f"lists {len(entries)} inputs but the run has {len(specs)} layers"))
    for spec, entry in zip(specs, entries):
        checks.append((f"{spec.role} layer", Path(spec.path), entry.sha256))
    profile = str(config.profile)
    checks.append(("profile", Path(builtin_profiles().get(profile, profile)), manifest.profile.sha256))
    return checks


def short_hash(h: Any) -> str:
    return f"{h[:12]}…" if isinstance(h, str) else repr(h)
