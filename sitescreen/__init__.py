"""sitescreen: screen candidate rare-earth mining sites against environmental safeguards."""

__version__ = "0.1.0"
