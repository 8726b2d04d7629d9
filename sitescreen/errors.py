"""One exception root for everything sitescreen reports to a user.

The CLI turns any :class:`SitescreenError` into a one-line ``Error: …`` and exit code 1.
Messages name the file, the field or value, and what is allowed.
"""

from __future__ import annotations


class SitescreenError(Exception):
    """Root of every error sitescreen raises on purpose."""


class LayerConfigError(SitescreenError):
    """A layer definition or a --layer argument is wrong (role, path, field mapping)."""


class ConfigError(SitescreenError):
    """A run setting is wrong: a flag, or a run config's [run] / [sites] key (sites, area of interest,
    grid, footprint radius, commodity, duplicate merging, chunk size)."""


class LayerDataError(SitescreenError):
    """A layer file cannot be read or its content is unusable."""


class CRSError(SitescreenError):
    """A CRS is missing, unknown, or does not fit the coordinates."""


class ProfileError(SitescreenError):
    """A scoring profile is malformed."""


class OutputError(SitescreenError):
    """An output cannot be written (exists, not writable, disk full)."""


class VerifyError(SitescreenError):
    """A run does not reproduce."""
